// Integration test of vf::adapters::aws's DynamoDB client and store against
// dynalite (npm), a DynamoDB emulator: DynamoDB cannot run here. dynalite
// implements DynamoDB's API, conditions, queries and errors, but not
// signature checks; our signer is checked by AWS's vectors and by botocore
// in e2e_bedrock and e2e_s3_aws.

#define CAF_SUITE integration.dynamodb

#include "vf/adapters/aws/dynamodb.hpp"

#include "node_process.hpp"
#include "vf_test.hpp"

#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "caf/scoped_actor.hpp"

#include "vf/adapters/aws/dynamodb_jobs.hpp"
#include "vf/adapters/aws/dynamodb_store.hpp"
#include "vf/adapters/sigv4/sigv4.hpp"
#include "vf/messages/errc.hpp"
#include "vf/messages/register_types.hpp"

#include <atomic>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

using namespace vf::adapters;
using vf::messages::errc;

namespace {

constexpr const char* node_executable = VF_NODE_EXECUTABLE;
constexpr const char* dynalite_module = VF_DYNALITE_MODULE;
constexpr const char* launcher_script = VF_DYNALITE_LAUNCHER;

struct fixture {
  vf_test::node_process server{"dynalite", node_executable, launcher_script,
                               dynalite_module, "DYNALITE_EXIT_ON_EOF"};
  aws::dynamodb_config cfg;
  std::string start_error;

  fixture() {
    start_error = server.start();
    if (!start_error.empty()) {
      CAF_ERROR("cannot start dynalite: " << start_error);
      return;
    }
    cfg.endpoint = "http://127.0.0.1:" + std::to_string(server.port());
    cfg.region = "eu-west-1";
    cfg.table = "vidflow-test";
    aws::chain_config chain;
    chain.env = [](const char* name) -> std::optional<std::string> {
      if (std::string{name} == "AWS_ACCESS_KEY_ID")
        return std::string{"AKIDDYNALITE"};
      if (std::string{name} == "AWS_SECRET_ACCESS_KEY")
        return std::string{"dynalite-secret"};
      return std::nullopt;
    };
    cfg.creds = std::make_shared<aws::credential_chain>(chain);
    CAF_REQUIRE(!aws::complete(cfg));
  }
};

vf::messages::attempt_record attempt(const std::string& job, uint64_t lease,
                                     int64_t finished, bool ok) {
  vf::messages::attempt_record x;
  x.job_id = job;
  x.lease_id = lease;
  x.object_version = "v1";
  x.series = 1;
  x.kind = vf::messages::task_kind::render;
  x.attempt = static_cast<uint32_t>(lease % 7 + 1);
  x.ok = ok;
  x.output = ok ? R"({"made":["small"]})" : "";
  x.error_code = ok ? errc::none : errc::bad_media;
  x.error_message = ok ? "" : "broken stream at 3.2 s";
  x.worker = "node-a/worker-1";
  x.finished_at = finished;
  x.duration_us = 1234567;
  x.leased_at = finished - 1000;
  return x;
}

} // namespace

CAF_TEST_FIXTURE_SCOPE(dynamodb_tests, fixture)

CAF_TEST(the table is checked and made on request) {
  CAF_REQUIRE(start_error.empty());
  auto err = aws::ensure_table(cfg, false);
  CAF_CHECK_EQUAL(vf::messages::errc_of(err), errc::not_found);
  CAF_CHECK(vf::messages::message_of(err).find("dynamodb.create_table")
            != std::string::npos);
  CAF_CHECK(!aws::ensure_table(cfg, true));
  // Again, and with create: it is there.
  CAF_CHECK(!aws::ensure_table(cfg, false));
  CAF_CHECK(!aws::ensure_table(cfg, true));
  auto doc = aws::ddb_call(cfg, "DescribeTable", {{"TableName", cfg.table}});
  CAF_REQUIRE(doc);
  CAF_CHECK_EQUAL((*doc)["Table"]["BillingModeSummary"]["BillingMode"],
                  "PAY_PER_REQUEST");
  CAF_CHECK_EQUAL((*doc)["Table"]["GlobalSecondaryIndexes"].size(), 5u);
}

CAF_TEST(a claim is made once however many ask) {
  CAF_REQUIRE(start_error.empty());
  CAF_REQUIRE(!aws::ensure_table(cfg, true));
  auto first = aws::ddb_claim(cfg, "uploads/a.mp4#v1", "job-1", 1);
  CAF_REQUIRE(first);
  CAF_CHECK(*first);
  auto again = aws::ddb_claim(cfg, "uploads/a.mp4#v1", "job-1", 2);
  CAF_REQUIRE(again);
  CAF_CHECK(!*again);
  auto other = aws::ddb_claim(cfg, "uploads/a.mp4#v2", "job-1", 3);
  CAF_REQUIRE(other);
  CAF_CHECK(*other);
  // Eight threads race for one key: exactly one wins.
  std::atomic<int> won{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> racers;
  for (int i = 0; i < 8; ++i)
    racers.emplace_back([&, i] {
      auto res = aws::ddb_claim(cfg, "uploads/race.mp4#v1",
                                "job-" + std::to_string(i), 10 + i);
      if (!res)
        ++failed;
      else if (*res)
        ++won;
    });
  for (auto& t : racers)
    t.join();
  CAF_CHECK_EQUAL(failed.load(), 0);
  CAF_CHECK_EQUAL(won.load(), 1);
}

CAF_TEST(the ledger keeps every attempt once in order) {
  CAF_REQUIRE(start_error.empty());
  CAF_REQUIRE(!aws::ensure_table(cfg, true));
  // Written out of order, one of them twice (a retried write).
  auto a = attempt("job-7", 11, 1764950400000, false);
  auto b = attempt("job-7", 12, 1764950401000, false);
  auto c = attempt("job-7", 13, 1764950402000, true);
  for (auto* x : {&c, &a, &b, &a})
    CAF_REQUIRE(!aws::ddb_record(cfg, *x));
  CAF_REQUIRE(!aws::ddb_record(cfg, attempt("job-70", 14, 1, true)));
  auto got = aws::ddb_attempts(cfg, "job-7");
  CAF_REQUIRE(got);
  CAF_REQUIRE_EQUAL(got->size(), 3u);
  CAF_CHECK_EQUAL((*got)[0].lease_id, 11u);
  CAF_CHECK_EQUAL((*got)[1].lease_id, 12u);
  CAF_CHECK_EQUAL((*got)[2].lease_id, 13u);
  // Every field comes back.
  auto& x = (*got)[0];
  CAF_CHECK_EQUAL(x.job_id, "job-7");
  CAF_CHECK_EQUAL(x.object_version, "v1");
  CAF_CHECK_EQUAL(x.series, 1u);
  CAF_CHECK(x.kind == vf::messages::task_kind::render);
  CAF_CHECK_EQUAL(x.attempt, a.attempt);
  CAF_CHECK(!x.ok);
  CAF_CHECK_EQUAL(x.error_code, errc::bad_media);
  CAF_CHECK_EQUAL(x.error_message, "broken stream at 3.2 s");
  CAF_CHECK_EQUAL(x.worker, "node-a/worker-1");
  CAF_CHECK_EQUAL(x.finished_at, 1764950400000);
  CAF_CHECK_EQUAL(x.duration_us, 1234567u);
  CAF_CHECK_EQUAL(x.leased_at, 1764950399000);
  CAF_CHECK_EQUAL((*got)[2].output, R"({"made":["small"]})");
  auto none = aws::ddb_attempts(cfg, "job-404");
  CAF_REQUIRE(none);
  CAF_CHECK(none->empty());
  // More than one page (dynalite pages at 1 MB like DynamoDB; a small
  // Limit forces pages here).
  for (uint64_t i = 0; i < 30; ++i)
    CAF_REQUIRE(!aws::ddb_record(
      cfg, attempt("job-8", 100 + i, 1764950400000 + i, true)));
  nlohmann::json body{
    {"TableName", cfg.table},
    {"KeyConditionExpression", "pk = :pk"},
    {"ExpressionAttributeValues", {{":pk", aws::ddb_s("job#job-8")}}},
    {"Limit", 7}};
  auto items = aws::ddb_query(cfg, body, 1000);
  CAF_REQUIRE(items);
  CAF_CHECK_EQUAL(items->size(), 30u);
  items = aws::ddb_query(cfg, body, 10);
  CAF_REQUIRE(items);
  CAF_CHECK_EQUAL(items->size(), 10u);
}

CAF_TEST(the store actor serves claims and the ledger) {
  CAF_REQUIRE(start_error.empty());
  CAF_REQUIRE(!aws::ensure_table(cfg, true));
  caf::actor_system_config sys_cfg;
  vf::messages::register_types(sys_cfg);
  caf::actor_system sys{sys_cfg};
  auto store = aws::spawn_dynamodb_store(sys, cfg, 4);
  caf::scoped_actor self{sys};
  auto claim = [&](const std::string& key) {
    bool out = false;
    self
      ->request(store, std::chrono::seconds{10}, vf::atoms::claim_v, key,
                std::string{"job-9"})
      .receive([&](bool x) { out = x; },
               [&](caf::error& err) { CAF_FAIL("claim: " << err); });
    return out;
  };
  CAF_CHECK(claim("k1"));
  CAF_CHECK(!claim("k1"));
  for (uint64_t i = 0; i < 5; ++i)
    self
      ->request(store, std::chrono::seconds{10}, vf::atoms::record_v,
                attempt("job-9", i + 1, 1000 + static_cast<int64_t>(i), true))
      .receive([](bool ok) { CAF_CHECK(ok); },
               [&](caf::error& err) { CAF_FAIL("record: " << err); });
  self
    ->request(store, std::chrono::seconds{10}, vf::atoms::attempts_v,
              std::string{"job-9"})
    .receive(
      [](const std::vector<vf::messages::attempt_record>& xs) {
        CAF_CHECK_EQUAL(xs.size(), 5u);
      },
      [&](caf::error& err) { CAF_FAIL("attempts: " << err); });
  // A table that is not there: storage_unavailable, as the ports promise.
  auto missing = cfg;
  missing.table = "no-such-table";
  auto lost = aws::spawn_dynamodb_store(sys, missing, 1);
  self
    ->request(lost, std::chrono::seconds{10}, vf::atoms::claim_v,
              std::string{"k"}, std::string{"j"})
    .receive([](bool) { CAF_FAIL("a claim in a missing table"); },
             [](caf::error& err) {
               CAF_CHECK_EQUAL(vf::messages::errc_of(err),
                               errc::storage_unavailable);
             });
  self->send_exit(store, caf::exit_reason::user_shutdown);
  self->send_exit(lost, caf::exit_reason::user_shutdown);
}

namespace {

vf::messages::job a_job(const std::string& id, const std::string& owner,
                        int64_t created) {
  vf::messages::job x;
  x.id = id;
  x.owner = owner;
  x.filename = "clip \"one\".mp4";
  x.content_type = "video/mp4";
  x.bucket = "uploads";
  x.key = "uploads/" + id + "/clip.mp4";
  x.created_at = created;
  x.updated_at = created;
  x.priority = -1;
  x.outputs = R"({"thumbnails":["small"]})";
  x.request_id = "req-" + id;
  return x;
}

} // namespace

CAF_TEST(jobs are stored whole and journaled with their changes) {
  CAF_REQUIRE(start_error.empty());
  CAF_REQUIRE(!aws::ensure_table(cfg, true));
  using vf::messages::job_status;
  auto x = a_job("j1", "alice", 1000);
  x.callback_url = "https://hooks.example.com/vf";
  CAF_REQUIRE(aws::ddb_create_job(cfg, x));
  CHECK_ERRC(aws::ddb_create_job(cfg, x), errc::duplicate);
  auto got = aws::ddb_get_job(cfg, "j1");
  CAF_REQUIRE(got);
  CAF_CHECK_EQUAL(got->filename, x.filename);
  CAF_CHECK_EQUAL(got->priority, -1);
  CAF_CHECK_EQUAL(got->outputs, x.outputs);
  CAF_CHECK_EQUAL(got->request_id, "req-j1");
  CAF_CHECK(got->status == job_status::awaiting_upload);
  CHECK_ERRC(aws::ddb_get_job(cfg, "nope"), errc::not_found);
  // The upload arrives; then a field changes without a new status.
  x.status = job_status::submitted;
  x.updated_at = 2000;
  x.object = {"uploads", x.key, "v1", "etag1", 24305, "", "ab12"};
  CAF_REQUIRE(aws::ddb_put_job(cfg, x));
  x.attempts = 1;
  x.step = "probe";
  CAF_REQUIRE(aws::ddb_put_job(cfg, x));
  got = aws::ddb_get_job(cfg, "j1");
  CAF_REQUIRE(got);
  CAF_CHECK_EQUAL(got->object.size, 24305u);
  CAF_CHECK_EQUAL(got->object.sha256, "ab12");
  CAF_CHECK_EQUAL(got->step, "probe");
  auto events = aws::ddb_events(cfg, "j1", 0);
  CAF_REQUIRE(events);
  CAF_REQUIRE_EQUAL(events->size(), 2u);
  CAF_CHECK_EQUAL((*events)[0].seq, 1u);
  CAF_CHECK((*events)[1].status == job_status::submitted);
  CAF_CHECK_EQUAL((*events)[1].at, 2000);
  // It fails: the journal line and the callback's delivery come with it.
  x.status = job_status::failed;
  x.updated_at = 3000;
  x.error_code = errc::bad_media;
  x.error_message = "not a media file";
  CAF_REQUIRE(aws::ddb_put_job(cfg, x));
  events = aws::ddb_events(cfg, "j1", 2);
  CAF_REQUIRE(events);
  CAF_REQUIRE_EQUAL(events->size(), 1u);
  CAF_CHECK_EQUAL((*events)[0].seq, 3u);
  CAF_CHECK_EQUAL((*events)[0].error_code, errc::bad_media);
  auto dl = aws::ddb_deliveries(cfg, "j1");
  CAF_REQUIRE(dl);
  CAF_REQUIRE_EQUAL(dl->size(), 1u);
  CAF_CHECK_EQUAL((*dl)[0].id, "dlv_j1_3");
  CAF_CHECK_EQUAL((*dl)[0].state, "pending");
  CAF_CHECK_EQUAL((*dl)[0].url, x.callback_url);
  CAF_CHECK_EQUAL((*dl)[0].next_at, 3000);
  CAF_CHECK_EQUAL((*dl)[0].body,
                  R"({"id":"dlv_j1_3","type":"job.failed","job_id":"j1",)"
                  R"("status":"FAILED","series":0,"error_code":"bad_media",)"
                  R"("error_message":"not a media file","result":null,)"
                  R"("at":"1970-01-01T00:00:03.000Z"})");
  // Redriven and ended again: a second delivery.
  x.status = job_status::submitted;
  x.series = 1;
  x.updated_at = 4000;
  CAF_REQUIRE(aws::ddb_put_job(cfg, x));
  x.status = job_status::succeeded;
  x.updated_at = 5000;
  x.error_code = errc::none;
  x.error_message.clear();
  CAF_REQUIRE(aws::ddb_put_job(cfg, x));
  dl = aws::ddb_deliveries(cfg, "j1");
  CAF_REQUIRE(dl);
  CAF_REQUIRE_EQUAL(dl->size(), 2u);
  CAF_CHECK((*dl)[1].body.find(R"("result":"/jobs/j1/result")")
            != std::string::npos);
  CAF_CHECK((*dl)[1].body.find(R"("error_code":null)") != std::string::npos);
  events = aws::ddb_events(cfg, "j1", 0);
  CAF_REQUIRE(events);
  CAF_CHECK_EQUAL(events->size(), 5u);
  CAF_CHECK(aws::ddb_events(cfg, "unknown", 0)->empty());
  // Never created: not_found, nothing written.
  CHECK_ERRC(aws::ddb_put_job(cfg, a_job("ghost", "alice", 1)),
             errc::not_found);
  CHECK_ERRC(aws::ddb_get_job(cfg, "ghost"), errc::not_found);
}

CAF_TEST(listings are index queries in the promised order) {
  CAF_REQUIRE(start_error.empty());
  CAF_REQUIRE(!aws::ensure_table(cfg, true));
  using vf::messages::job_status;
  // Five jobs of alice, two of bob, in various states.
  for (int i = 0; i < 5; ++i)
    CAF_REQUIRE(aws::ddb_create_job(
      cfg, a_job("a" + std::to_string(i), "alice", 100 + i)));
  for (int i = 0; i < 2; ++i)
    CAF_REQUIRE(
      aws::ddb_create_job(cfg, a_job("b" + std::to_string(i), "bob", 200 + i)));
  auto move = [&](const std::string& id, job_status s, int64_t at) {
    auto x = aws::ddb_get_job(cfg, id);
    CAF_REQUIRE(x);
    x->status = s;
    x->updated_at = at;
    CAF_REQUIRE(aws::ddb_put_job(cfg, *x));
  };
  move("a1", job_status::processing, 1005);
  move("a3", job_status::submitted, 1001);
  move("b1", job_status::processing, 1003);
  move("a0", job_status::succeeded, 1010);
  auto hist = aws::ddb_history(cfg, "alice", 3);
  CAF_REQUIRE(hist);
  CAF_REQUIRE_EQUAL(hist->size(), 3u);
  CAF_CHECK_EQUAL((*hist)[0].id, "a4");
  CAF_CHECK_EQUAL((*hist)[2].id, "a2");
  hist = aws::ddb_history(cfg, "bob", 10);
  CAF_REQUIRE(hist);
  CAF_CHECK_EQUAL(hist->size(), 2u);
  hist = aws::ddb_history(cfg, "", 4);
  CAF_REQUIRE(hist);
  CAF_REQUIRE_EQUAL(hist->size(), 4u);
  CAF_CHECK_EQUAL((*hist)[0].id, "b1");
  CAF_CHECK_EQUAL((*hist)[1].id, "b0");
  CAF_CHECK_EQUAL((*hist)[2].id, "a4");
  // By kind: alice's oldest job as a composition, one as an asset; then
  // the newest of hers by kind are those, whatever came after.
  for (auto [id, outputs] :
       {std::pair<const char*, const char*>{"a0", R"({"composition":{}})"},
        std::pair<const char*, const char*>{"a2", R"({"asset":"audio"})"}}) {
    auto x = aws::ddb_get_job(cfg, id);
    CAF_REQUIRE(x);
    x->outputs = outputs;
    CAF_REQUIRE(aws::ddb_put_job(cfg, *x));
  }
  hist = aws::ddb_history(cfg, "alice", 1, "composition");
  CAF_REQUIRE(hist);
  CAF_REQUIRE_EQUAL(hist->size(), 1u);
  CAF_CHECK_EQUAL((*hist)[0].id, "a0");
  hist = aws::ddb_history(cfg, "alice", 10, "asset");
  CAF_REQUIRE(hist);
  CAF_REQUIRE_EQUAL(hist->size(), 1u);
  CAF_CHECK_EQUAL((*hist)[0].id, "a2");
  hist = aws::ddb_history(cfg, "bob", 10, "composition");
  CAF_REQUIRE(hist);
  CAF_CHECK(hist->empty());
  CHECK_ERRC(aws::ddb_history(cfg, "", 10, "composition"),
             errc::invalid_argument);
  CHECK_ERRC(aws::ddb_history(cfg, "alice", 10, "video"),
             errc::invalid_argument);
  auto active = aws::ddb_active(cfg);
  CAF_REQUIRE(active);
  CAF_REQUIRE_EQUAL(active->size(), 3u);
  CAF_CHECK_EQUAL((*active)[0].id, "a3");
  CAF_CHECK_EQUAL((*active)[1].id, "b1");
  CAF_CHECK_EQUAL((*active)[2].id, "a1");
  // The operators' search: by status (its index, newest change first), by
  // owner (every item of the owner, sorted), by part of a name alone (each
  // status's index, merged); every term given must match.
  auto search = [&](std::string status, std::string owner, std::string name,
                    uint32_t limit) {
    auto xs = aws::ddb_find_jobs(
      cfg, vf::messages::job_query{std::move(status), std::move(owner),
                                   std::move(name), limit});
    std::vector<std::string> ids;
    CAF_REQUIRE(xs);
    for (auto& x : *xs)
      ids.push_back(x.id);
    return ids;
  };
  using ids = std::vector<std::string>;
  CAF_CHECK_EQUAL(search("PROCESSING", "", "", 10), (ids{"a1", "b1"}));
  CAF_CHECK_EQUAL(search("PROCESSING", "bob", "", 10), (ids{"b1"}));
  CAF_CHECK_EQUAL(search("", "alice", "", 2), (ids{"a0", "a1"}));
  CAF_CHECK_EQUAL(search("", "alice", "\"one\"", 10),
                  (ids{"a0", "a1", "a3", "a4", "a2"}));
  for (auto [id, name] : {std::pair{"a4", "Talk.mov"}, std::pair{"b0", "talk.mov"}}) {
    auto x = aws::ddb_get_job(cfg, id);
    CAF_REQUIRE(x);
    x->filename = name;
    CAF_REQUIRE(aws::ddb_put_job(cfg, *x));
  }
  CAF_CHECK_EQUAL(search("", "", "alk.mov", 10), (ids{"b0", "a4"}));
  CAF_CHECK_EQUAL(search("", "", "Talk", 10), (ids{"a4"}));
  CAF_CHECK_EQUAL(search("", "", "alk.mov", 1), (ids{"b0"}));
  CAF_CHECK_EQUAL(search("AWAITING_UPLOAD", "", "mp4", 10), (ids{"a2"}));
  CAF_CHECK_EQUAL(search("", "carol", "", 10), ids{});
  CHECK_ERRC(aws::ddb_find_jobs(cfg, vf::messages::job_query{"NOPE", "", "",
                                                             5}),
             errc::invalid_argument);
  CHECK_ERRC(aws::ddb_find_jobs(cfg, vf::messages::job_query{}),
             errc::invalid_argument);
  auto counts = aws::ddb_counts(cfg);
  CAF_REQUIRE(counts);
  CAF_CHECK_EQUAL((*counts)[static_cast<size_t>(job_status::awaiting_upload)],
                  3u);
  CAF_CHECK_EQUAL((*counts)[static_cast<size_t>(job_status::processing)], 2u);
  CAF_CHECK_EQUAL((*counts)[static_cast<size_t>(job_status::submitted)], 1u);
  CAF_CHECK_EQUAL((*counts)[static_cast<size_t>(job_status::succeeded)], 1u);
  // Results: the first write wins.
  vf::messages::job_result r{"a0", R"({"format":{}})", "a summary", 1011, "[]"};
  auto put = aws::ddb_put_result(cfg, r);
  CAF_REQUIRE(put);
  CAF_CHECK(*put);
  r.summary = "another";
  put = aws::ddb_put_result(cfg, r);
  CAF_REQUIRE(put);
  CAF_CHECK(!*put);
  auto back = aws::ddb_get_result(cfg, "a0");
  CAF_REQUIRE(back);
  CAF_CHECK_EQUAL(back->summary, "a summary");
  CAF_CHECK_EQUAL(back->metadata, R"({"format":{}})");
  CHECK_ERRC(aws::ddb_get_result(cfg, "a1"), errc::not_found);
}

CAF_TEST(a failed job and its dead letter) {
  CAF_REQUIRE(start_error.empty());
  CAF_REQUIRE(!aws::ensure_table(cfg, true));
  using vf::messages::job_status;
  auto x = a_job("d1", "alice", 100);
  CAF_REQUIRE(aws::ddb_create_job(cfg, x));
  vf::messages::dead_letter dl;
  dl.job_id = "d1";
  dl.object = {"uploads", x.key, "v1", "e1", 10, "", ""};
  dl.filename = x.filename;
  dl.series = 0;
  dl.kind = vf::messages::task_kind::probe;
  dl.error_code = errc::bad_media;
  dl.error_message = "not a media file";
  dl.attempts = {attempt("d1", 1, 150, false), attempt("d1", 2, 160, false)};
  dl.probe_output = "";
  dl.created_at = 170;
  x.status = job_status::failed;
  x.updated_at = 170;
  x.error_code = errc::bad_media;
  // Another job's letter, an unknown job: refused, nothing written.
  auto other = dl;
  other.job_id = "d2";
  CHECK_ERRC(aws::ddb_bury(cfg, other, x), errc::invalid_argument);
  auto ghost = a_job("ghost-dl", "alice", 1);
  other.job_id = "ghost-dl";
  CHECK_ERRC(aws::ddb_bury(cfg, other, ghost), errc::not_found);
  CHECK_ERRC(aws::ddb_dlq_get(cfg, "ghost-dl"), errc::not_found);
  CAF_REQUIRE(aws::ddb_bury(cfg, dl, x));
  auto job = aws::ddb_get_job(cfg, "d1");
  CAF_REQUIRE(job);
  CAF_CHECK(job->status == job_status::failed);
  auto got = aws::ddb_dlq_get(cfg, "d1");
  CAF_REQUIRE(got);
  CAF_CHECK_EQUAL(got->error_message, "not a media file");
  CAF_CHECK_EQUAL(got->object.etag, "e1");
  CAF_REQUIRE_EQUAL(got->attempts.size(), 2u);
  CAF_CHECK_EQUAL(got->attempts[1].lease_id, 2u);
  CAF_CHECK_EQUAL(got->redriven_at, 0);
  // Redriven once.
  auto r = aws::ddb_redriven(cfg, "d1", 0, 200);
  CAF_REQUIRE(r);
  CAF_CHECK(*r);
  r = aws::ddb_redriven(cfg, "d1", 0, 300);
  CAF_REQUIRE(r);
  CAF_CHECK(!*r);
  CHECK_ERRC(aws::ddb_redriven(cfg, "d1", 7, 300), errc::not_found);
  CHECK_ERRC(aws::ddb_redriven(cfg, "d1", 0, 0), errc::invalid_argument);
  // It fails again in series 1: the newest record is that one.
  dl.series = 1;
  dl.created_at = 400;
  dl.error_message = "still not media";
  x.series = 1;
  x.updated_at = 400;
  CAF_REQUIRE(aws::ddb_bury(cfg, dl, x));
  got = aws::ddb_dlq_get(cfg, "d1");
  CAF_REQUIRE(got);
  CAF_CHECK_EQUAL(got->series, 1u);
  CAF_CHECK_EQUAL(got->error_message, "still not media");
  // The list: newest first, from a time on.
  auto list = aws::ddb_dlq_list(cfg, 0, 10);
  CAF_REQUIRE(list);
  CAF_REQUIRE_EQUAL(list->size(), 2u);
  CAF_CHECK_EQUAL((*list)[0].series, 1u);
  CAF_CHECK_EQUAL((*list)[1].redriven_at, 200);
  list = aws::ddb_dlq_list(cfg, 300, 10);
  CAF_REQUIRE(list);
  CAF_CHECK_EQUAL(list->size(), 1u);
  auto removed = aws::ddb_dlq_remove(cfg, "d1");
  CAF_REQUIRE(removed);
  CAF_CHECK(*removed);
  removed = aws::ddb_dlq_remove(cfg, "d1");
  CAF_REQUIRE(removed);
  CAF_CHECK(!*removed);
  CHECK_ERRC(aws::ddb_dlq_get(cfg, "d1"), errc::not_found);
}

namespace {

using vf::messages::job;
using vf::messages::job_status;
using names = std::vector<std::string>;

/// The store actor over the fixture's table, and `ask`.
struct store_fixture : fixture {
  caf::actor_system_config sys_cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::unique_ptr<caf::scoped_actor> self;
  aws::dynamodb_store_actor store;

  store_fixture() {
    if (!start_error.empty())
      return;
    CAF_REQUIRE(!aws::ensure_table(cfg, true));
    vf::messages::register_types(sys_cfg);
    sys = std::make_unique<caf::actor_system>(sys_cfg);
    self = std::make_unique<caf::scoped_actor>(*sys);
    store = aws::spawn_dynamodb_store(*sys, cfg, 4);
  }

  ~store_fixture() {
    if (self)
      (*self)->send_exit(store, caf::exit_reason::user_shutdown);
  }

  template <class T, class... Ts>
  caf::expected<T> ask(Ts&&... xs) {
    caf::expected<T> result{caf::make_error(caf::sec::request_timeout)};
    (*self)
      ->request(store, std::chrono::seconds{20}, std::forward<Ts>(xs)...)
      .receive([&](T& x) { result = std::move(x); },
               [&](caf::error& err) { result = std::move(err); });
    return result;
  }

  job add(const std::string& id, const std::string& owner, int64_t at,
          job_status status, uint64_t size = 0) {
    auto x = a_job(id, owner, at);
    x.status = status;
    x.object.size = size;
    CAF_CHECK_EQUAL(ask<bool>(vf::atoms::create_v, x), true);
    return x;
  }
};

std::vector<std::string> ids_of(const std::vector<job>& xs) {
  std::vector<std::string> out;
  for (auto& x : xs)
    out.push_back(x.id);
  return out;
}

} // namespace

CAF_TEST_FIXTURE_SCOPE_END()

// The port's promises, as the SQLite store's tests check them
// (tests/adapters/sqlite.test.cpp), kept by the DynamoDB store.
CAF_TEST_FIXTURE_SCOPE(dynamodb_store_tests, dynamodb_tests::store_fixture)

using namespace dynamodb_tests;

CAF_TEST(an idempotency key makes its job once) {
  CAF_REQUIRE(start_error.empty());
  using vf::atoms::create_keyed_v;
  auto keyed = [&](job j, std::string key, std::string hash, int64_t since) {
    return ask<names>(create_keyed_v, std::move(j), std::move(key),
                      std::move(hash), since);
  };
  auto find = [&](std::string owner, std::string key, int64_t since) {
    return ask<names>(vf::atoms::find_key_v, std::move(owner), std::move(key),
                      since);
  };
  CAF_CHECK_EQUAL(find("alice", "k", 0), names{});
  CAF_CHECK_EQUAL(keyed(a_job("a", "alice", 1000), "k", "h1", 0),
                  (names{"a", "h1"}));
  CAF_CHECK(ask<job>(vf::atoms::get_v, std::string{"a"}));
  // The key names "a" now: "b" is not created, whatever its hash.
  CAF_CHECK_EQUAL(keyed(a_job("b", "alice", 2000), "k", "h2", 0),
                  (names{"a", "h1"}));
  CHECK_ERRC(ask<job>(vf::atoms::get_v, std::string{"b"}), errc::not_found);
  CAF_CHECK_EQUAL(find("alice", "k", 0), (names{"a", "h1"}));
  CAF_CHECK_EQUAL(find("alice", "k", 1001), names{});
  // Keys are per owner; any bytes make a key.
  CAF_CHECK_EQUAL(keyed(a_job("c", "bob", 4500), "k", "h1", 0),
                  (names{"c", "h1"}));
  CAF_CHECK_EQUAL(keyed(a_job("c2", "bob", 4500), "k\n#\xff", "h9", 0),
                  (names{"c2", "h9"}));
  // A key older than the window is made again.
  CAF_CHECK_EQUAL(keyed(a_job("d", "alice", 5000), "k", "h3", 4000),
                  (names{"d", "h3"}));
  CAF_CHECK_EQUAL(find("alice", "k", 0), (names{"d", "h3"}));
  // A duplicate job id fails: no key is left behind.
  CHECK_ERRC(keyed(a_job("d", "alice", 6000), "k2", "h", 0), errc::duplicate);
  CAF_CHECK_EQUAL(find("alice", "k2", 0), names{});
  // A key whose job was never written (a crash between the two puts)
  // names nothing, and is taken over.
  auto orphan
    = aws::ddb_create_keyed_job(cfg, a_job("e", "alice", 7000), "k3", "h", 0);
  CAF_REQUIRE(orphan);
  CAF_REQUIRE(aws::ddb_erase_job(cfg, "e")); // takes the key with it
  CAF_CHECK_EQUAL(find("alice", "k3", 0), names{});
  CAF_REQUIRE(aws::ddb_call(
    cfg, "PutItem",
    {{"TableName", cfg.table},
     {"Item",
      {{"pk",
        aws::ddb_s("idem#" + vf::adapters::sigv4::sha256_hex("alice\nk3"))},
       {"sk", aws::ddb_s("idem")},
       {"job_id", aws::ddb_s("never-written")},
       {"request_hash", aws::ddb_s("h")},
       {"created_at", aws::ddb_n(int64_t{7000})}}}}));
  CAF_CHECK_EQUAL(find("alice", "k3", 0), names{});
  CAF_CHECK_EQUAL(keyed(a_job("f", "alice", 8000), "k3", "h4", 0),
                  (names{"f", "h4"}));
  // Many at once with one key: one job.
  std::vector<caf::expected<names>> got(8, names{});
  std::vector<std::thread> threads;
  for (size_t i = 0; i < got.size(); ++i)
    threads.emplace_back([&, i] {
      got[i] = aws::ddb_create_keyed_job(
        cfg, a_job("race-" + std::to_string(i), "carol", 9000), "same",
        "h" + std::to_string(i), 0);
    });
  for (auto& t : threads)
    t.join();
  for (auto& x : got) {
    CAF_REQUIRE(x);
    CAF_CHECK_EQUAL(*x, *got[0]);
  }
  auto carol = ask<std::vector<job>>(vf::atoms::history_v, std::string{"carol"},
                                     uint32_t{50}, std::string{});
  CAF_REQUIRE(carol);
  CAF_CHECK_EQUAL(carol->size(), 1u);
  // Erasing the job frees its key.
  CAF_CHECK_EQUAL(ask<bool>(vf::atoms::erase_v, std::string{"d"}), true);
  CAF_CHECK_EQUAL(find("alice", "k", 0), names{});
  CAF_CHECK_EQUAL(find("bob", "k", 0), (names{"c", "h1"}));
}

CAF_TEST(usage counts the jobs in flight and stored bytes of one owner) {
  CAF_REQUIRE(start_error.empty());
  add("a", "alice", 1, job_status::awaiting_upload, 0);
  add("b", "alice", 1, job_status::submitted, 100);
  add("c", "alice", 1, job_status::processing, 200);
  add("d", "alice", 1, job_status::succeeded, 400);
  add("e", "alice", 1, job_status::failed, 800);
  add("f", "mallory", 1, job_status::processing, 5000);
  auto u
    = ask<vf::messages::user_usage>(vf::atoms::usage_v, std::string{"alice"});
  CAF_REQUIRE(u);
  CAF_CHECK_EQUAL(u->jobs_in_flight, 3u);
  CAF_CHECK_EQUAL(u->bytes_stored, 1500u);
  u = ask<vf::messages::user_usage>(vf::atoms::usage_v, std::string{"nobody"});
  CAF_REQUIRE(u);
  CAF_CHECK_EQUAL(u->jobs_in_flight, 0u);
  CAF_CHECK_EQUAL(u->bytes_stored, 0u);
}

CAF_TEST(purgeable lists ended unpurged jobs and purged records once) {
  CAF_REQUIRE(start_error.empty());
  add("f-old", "alice", 100, job_status::failed, 10);
  add("c-old", "alice", 200, job_status::cancelled, 20);
  add("e-old", "alice", 300, job_status::expired, 0);
  add("f-new", "alice", 5000, job_status::failed, 40);
  add("s-old", "alice", 100, job_status::succeeded, 80);
  add("p-old", "alice", 100, job_status::processing, 160);
  auto purgeable = [&](uint32_t limit) {
    return ask<std::vector<job>>(vf::atoms::purgeable_v, int64_t{1000}, limit);
  };
  auto xs = purgeable(10);
  CAF_REQUIRE(xs);
  CAF_CHECK_EQUAL(ids_of(*xs), (names{"f-old", "c-old", "e-old"}));
  xs = purgeable(2);
  CAF_REQUIRE(xs);
  CAF_CHECK_EQUAL(xs->size(), 2u);
  auto purged = [&](const char* id, int64_t at) {
    return ask<bool>(vf::atoms::purged_v, std::string{id}, at);
  };
  CAF_CHECK_EQUAL(purged("f-old", 7000), true);
  CAF_CHECK_EQUAL(purged("f-old", 8000), false);
  // Only ended jobs are purged; unknown ones are not.
  CAF_CHECK_EQUAL(purged("p-old", 8000), false);
  CAF_CHECK_EQUAL(purged("ghost", 8000), false);
  xs = purgeable(10);
  CAF_REQUIRE(xs);
  CAF_CHECK_EQUAL(ids_of(*xs), (names{"c-old", "e-old"}));
  // The record stays; its bytes no longer count; a later write of the job
  // (a redrive's first step, say) keeps the purge.
  auto j = ask<job>(vf::atoms::get_v, std::string{"f-old"});
  CAF_REQUIRE(j);
  CAF_CHECK(j->status == job_status::failed);
  j->step = "noted";
  CAF_CHECK_EQUAL(ask<bool>(vf::atoms::put_v, *j), true);
  auto u
    = ask<vf::messages::user_usage>(vf::atoms::usage_v, std::string{"alice"});
  CAF_REQUIRE(u);
  CAF_CHECK_EQUAL(u->bytes_stored, 20u + 40u + 80u + 160u);
  xs = purgeable(10);
  CAF_REQUIRE(xs);
  CAF_CHECK_EQUAL(ids_of(*xs), (names{"c-old", "e-old"}));
}

CAF_TEST(expiry lists only old jobs awaiting upload and persists them) {
  CAF_REQUIRE(start_error.empty());
  add("old-1", "alice", 100, job_status::awaiting_upload);
  add("old-2", "alice", 999, job_status::awaiting_upload);
  add("edge", "alice", 1000, job_status::awaiting_upload);
  add("young", "alice", 2000, job_status::awaiting_upload);
  auto sub = add("old-submitted", "alice", 100, job_status::submitted);
  add("old-failed", "alice", 100, job_status::failed);
  auto expire
    = [&](int64_t before, int64_t at, std::optional<job> stale = std::nullopt) {
        auto xs = ask<std::vector<job>>(vf::atoms::expire_old_v, before,
                                        uint32_t{100});
        CAF_REQUIRE(xs);
        if (stale)
          xs->push_back(*stale);
        for (auto& x : *xs) {
          x.status = job_status::expired;
          x.updated_at = at;
          x.error_code = errc::expired;
          x.error_message = "no upload arrived before the upload URL expired";
        }
        return ask<uint64_t>(vf::atoms::expire_v, *xs);
      };
  auto xs = ask<std::vector<job>>(vf::atoms::expire_old_v, int64_t{1000},
                                  uint32_t{100});
  CAF_REQUIRE(xs);
  CAF_CHECK_EQUAL(ids_of(*xs), (names{"old-1", "old-2"}));
  CAF_CHECK_EQUAL(expire(1000, 5000), 2u);
  auto x = ask<job>(vf::atoms::get_v, std::string{"old-2"});
  CAF_REQUIRE(x);
  CAF_CHECK(x->status == job_status::expired);
  CAF_CHECK_EQUAL(x->updated_at, 5000);
  CAF_CHECK_EQUAL(x->error_code, errc::expired);
  // A job that got its upload meanwhile is not overwritten.
  CAF_CHECK_EQUAL(expire(1000, 6000, sub), 0u);
  x = ask<job>(vf::atoms::get_v, std::string{"old-submitted"});
  CAF_REQUIRE(x);
  CAF_CHECK(x->status == job_status::submitted);
  auto counts = ask<vf::messages::status_counts>(vf::atoms::counts_v);
  CAF_REQUIRE(counts);
  CAF_CHECK_EQUAL(*counts, (vf::messages::status_counts{2, 1, 0, 0, 1, 0, 2}));
  // Expired: the journal has it, and it is purgeable.
  auto events = ask<std::vector<vf::messages::job_event>>(
    vf::atoms::events_v, std::string{"old-1"}, uint64_t{0});
  CAF_REQUIRE(events);
  CAF_REQUIRE_EQUAL(events->size(), 2u);
  CAF_CHECK(events->back().status == job_status::expired);
  auto purge = ask<std::vector<job>>(vf::atoms::purgeable_v, int64_t{9000},
                                     uint32_t{10});
  CAF_REQUIRE(purge);
  CAF_CHECK_EQUAL(ids_of(*purge), (names{"old-failed", "old-1", "old-2"}));
}

CAF_TEST(reuse finds the newest succeeded job of the owner with the same
           bytes and recipe) {
  CAF_REQUIRE(start_error.empty());
  const std::string recipe = R"({"renditions":[{"name":"360p","height":360}]})";
  const std::string sha(64, 'a');
  auto put
    = [&](std::string id, int64_t at, std::string owner, std::string digest,
          std::string r, job_status status, bool with_outputs) {
        auto j = a_job(id, owner, at);
        j.outputs = std::move(r);
        j.object = {"raw", "uploads/" + id + "/a.mp4", "v1", "e", 5,
                    {},    std::move(digest)};
        CAF_REQUIRE_EQUAL(ask<bool>(vf::atoms::create_v, j), true);
        vf::messages::job_result res{
          id, "{}", "sum", at,
          with_outputs ? R"({"renditions":[{"name":"360p"}]})" : ""};
        // Succeeding is a change like any other: the index follows it. The
        // result and the job in one request, as the orchestrator writes
        // them.
        j.status = status;
        j.updated_at = at + 1;
        CAF_REQUIRE_EQUAL(ask<bool>(vf::atoms::put_result_v, res, j), true);
        auto back = ask<vf::messages::job>(vf::atoms::get_v, id);
        CAF_REQUIRE(back);
        CAF_CHECK_EQUAL(back->status, status);
      };
  auto find = [&](std::string owner, std::string digest, std::string r,
                  std::string asking) {
    auto x = ask<names>(vf::atoms::find_reuse_v, std::move(owner),
                        std::move(digest), std::move(r), std::move(asking));
    CAF_REQUIRE(x);
    return *x;
  };
  put("old", 10, "alice", sha, recipe, job_status::succeeded, true);
  put("new", 20, "alice", sha, recipe, job_status::succeeded, true);
  put("failed", 30, "alice", sha, recipe, job_status::failed, true);
  put("bob", 40, "bob", sha, recipe, job_status::succeeded, true);
  put("other", 50, "alice", std::string(64, 'b'), recipe, job_status::succeeded,
      true);
  put("bare", 60, "alice", sha, "", job_status::succeeded, false);
  put("nooutputs", 70, "alice", sha, recipe, job_status::succeeded, false);
  auto hit = find("alice", sha, recipe, "me");
  CAF_REQUIRE_EQUAL(hit.size(), 2u);
  CAF_CHECK_EQUAL(hit[0], "new");
  CAF_CHECK_EQUAL(hit[1], R"({"renditions":[{"name":"360p"}]})");
  auto older = find("alice", sha, recipe, "new");
  CAF_REQUIRE_EQUAL(older.size(), 2u);
  CAF_CHECK_EQUAL(older[0], "old");
  CAF_CHECK(find("carol", sha, recipe, "me").empty());
  CAF_CHECK(find("alice", sha, R"({"thumbnails":[]})", "me").empty());
  CAF_CHECK(find("alice", "", "", "me").empty());
  CAF_CHECK_EQUAL(ask<bool>(vf::atoms::erase_v, std::string{"new"}), true);
  auto left = find("alice", sha, recipe, "me");
  CAF_REQUIRE_EQUAL(left.size(), 2u);
  CAF_CHECK_EQUAL(left[0], "old");
}

CAF_TEST(deliveries come due and record their attempts) {
  CAF_REQUIRE(start_error.empty());
  auto x = a_job("cb", "alice", 1000);
  x.callback_url = "https://hooks.example.com/vf";
  CAF_REQUIRE_EQUAL(ask<bool>(vf::atoms::create_v, x), true);
  auto y = a_job("cb2", "alice", 1000);
  y.callback_url = x.callback_url;
  CAF_REQUIRE_EQUAL(ask<bool>(vf::atoms::create_v, y), true);
  using deliveries = std::vector<vf::messages::delivery>;
  auto due = [&](int64_t now) {
    auto xs = ask<deliveries>(vf::atoms::deliveries_due_v, now, uint32_t{10});
    CAF_REQUIRE(xs);
    return *xs;
  };
  CAF_CHECK(due(100000).empty());
  x.status = job_status::succeeded;
  x.updated_at = 3000;
  CAF_REQUIRE_EQUAL(ask<bool>(vf::atoms::put_v, x), true);
  y.status = job_status::cancelled;
  y.updated_at = 2000;
  CAF_REQUIRE_EQUAL(ask<bool>(vf::atoms::put_v, y), true);
  CAF_CHECK(due(1999).empty());
  auto now = due(3000);
  CAF_REQUIRE_EQUAL(now.size(), 2u);
  CAF_CHECK_EQUAL(now[0].id, "dlv_cb2_2");
  CAF_CHECK_EQUAL(now[1].id, "dlv_cb_2");
  // A failed attempt: due again later.
  auto d = now[1];
  d.attempts = 1;
  d.next_at = 60000;
  d.last_status = 503;
  d.last_error = "HTTP 503";
  CAF_CHECK_EQUAL(ask<bool>(vf::atoms::record_delivery_v, d), true);
  CAF_REQUIRE_EQUAL(due(3000).size(), 1u);
  auto later = due(60000); // the macros keep references: no temporaries
  CAF_REQUIRE_EQUAL(later.size(), 2u);
  CAF_CHECK_EQUAL(later[1].last_error, "HTTP 503");
  // Delivered: never due again, and recorded.
  auto e = due(3000)[0];
  e.state = "delivered";
  e.attempts = 1;
  e.delivered_at = 3100;
  CAF_CHECK_EQUAL(ask<bool>(vf::atoms::record_delivery_v, e), true);
  CAF_REQUIRE_EQUAL(due(100000).size(), 1u);
  auto all = ask<deliveries>(vf::atoms::deliveries_v, std::string{"cb2"});
  CAF_REQUIRE(all);
  CAF_REQUIRE_EQUAL(all->size(), 1u);
  CAF_CHECK_EQUAL((*all)[0].state, "delivered");
  CAF_CHECK_EQUAL((*all)[0].delivered_at, 3100);
  // No such delivery (its job was erased): false.
  CAF_CHECK_EQUAL(ask<bool>(vf::atoms::erase_v, std::string{"cb"}), true);
  CAF_CHECK_EQUAL(ask<bool>(vf::atoms::record_delivery_v, d), false);
  CAF_CHECK(due(100000).empty());
}

CAF_TEST(the end write puts the last attempt the result and the job) {
  CAF_REQUIRE(start_error.empty());
  using attempts = std::vector<vf::messages::attempt_record>;
  auto j = add("end", "alice", 7, job_status::processing);
  auto a = attempt("end", 21, 1764950409000, true);
  vf::messages::job_result res{"end", "{}", "s", 9, ""};
  j.status = job_status::succeeded;
  j.updated_at = 8;
  CAF_CHECK_EQUAL(ask<bool>(vf::atoms::put_result_v, res, j, a), true);
  auto xs = ask<attempts>(vf::atoms::attempts_v, std::string{"end"});
  CAF_REQUIRE(xs);
  CAF_REQUIRE_EQUAL(xs->size(), 1u);
  CAF_CHECK_EQUAL(xs->front().lease_id, 21u);
  CAF_CHECK(xs->front().ok);
  auto back = ask<job>(vf::atoms::get_v, std::string{"end"});
  CAF_REQUIRE(back);
  CAF_CHECK_EQUAL(back->status, job_status::succeeded);
  auto stored = ask<vf::messages::job_result>(vf::atoms::get_result_v,
                                              std::string{"end"});
  CAF_REQUIRE(stored);
  CAF_CHECK_EQUAL(stored->summary, "s");
  // Again, as the orchestrator's retry after a lost answer: the same
  // attempt item, the first result.
  CAF_CHECK_EQUAL(ask<bool>(vf::atoms::put_result_v, res, j, a), false);
  xs = ask<attempts>(vf::atoms::attempts_v, std::string{"end"});
  CAF_REQUIRE(xs);
  CAF_CHECK_EQUAL(xs->size(), 1u);
  // Another job's attempt: refused before anything is written.
  auto other = attempt("other", 22, 1764950410000, true);
  CHECK_ERRC(ask<bool>(vf::atoms::put_result_v, res, j, other),
             errc::invalid_argument);
  xs = ask<attempts>(vf::atoms::attempts_v, std::string{"other"});
  CAF_REQUIRE(xs);
  CAF_CHECK(xs->empty());
}

CAF_TEST(erase removes a job and every record of it) {
  CAF_REQUIRE(start_error.empty());
  auto j = add("gone", "alice", 7, job_status::failed);
  CAF_CHECK_EQUAL(ask<bool>(vf::atoms::put_result_v,
                            vf::messages::job_result{"gone", "{}", "s", 9, ""}),
                  true);
  CAF_CHECK_EQUAL(
    ask<bool>(vf::atoms::claim_v, std::string{"b/k@v"}, std::string{"gone"}),
    true);
  CAF_CHECK_EQUAL(ask<bool>(vf::atoms::record_v, attempt("gone", 1, 5, false)),
                  true);
  vf::messages::dead_letter dl;
  dl.job_id = "gone";
  dl.created_at = 50;
  CAF_CHECK_EQUAL(ask<bool>(vf::atoms::bury_v, dl, j), true);
  add("kept", "alice", 8, job_status::awaiting_upload);
  CAF_CHECK_EQUAL(ask<bool>(vf::atoms::erase_v, std::string{"gone"}), true);
  CAF_CHECK(!ask<job>(vf::atoms::get_v, std::string{"gone"}));
  CAF_CHECK(!ask<vf::messages::job_result>(vf::atoms::get_result_v,
                                           std::string{"gone"}));
  CAF_CHECK(
    !ask<vf::messages::dead_letter>(vf::atoms::dlq_get_v, std::string{"gone"}));
  auto ledger = ask<std::vector<vf::messages::attempt_record>>(
    vf::atoms::attempts_v, std::string{"gone"});
  CAF_REQUIRE(ledger);
  CAF_CHECK(ledger->empty());
  // The claim went too: the key may be claimed again.
  CAF_CHECK_EQUAL(
    ask<bool>(vf::atoms::claim_v, std::string{"b/k@v"}, std::string{"other"}),
    true);
  CAF_CHECK(ask<job>(vf::atoms::get_v, std::string{"kept"}));
  CAF_CHECK_EQUAL(ask<bool>(vf::atoms::erase_v, std::string{"gone"}), false);
  // Errors keep their meaning through the actor.
  CHECK_ERRC(ask<bool>(vf::atoms::create_v, a_job("kept", "alice", 8)),
             errc::duplicate);
  CHECK_ERRC(ask<bool>(vf::atoms::put_v, a_job("ghost", "alice", 8)),
             errc::not_found);
  CHECK_ERRC(ask<std::vector<job>>(vf::atoms::find_jobs_v,
                                   vf::messages::job_query{"NOPE", "", "", 5}),
             errc::invalid_argument);
  CHECK_ERRC(ask<std::vector<job>>(vf::atoms::history_v, std::string{},
                                   uint32_t{5}, std::string{"asset"}),
             errc::invalid_argument);
}

CAF_TEST_FIXTURE_SCOPE_END()

CAF_TEST_FIXTURE_SCOPE(dynamodb_errors, fixture)

CAF_TEST(errors say what went wrong) {
  CAF_REQUIRE(start_error.empty());
  CAF_REQUIRE(!aws::ensure_table(cfg, true));
  // Our request is wrong: invalid_argument, not retried. A missing table
  // is news to DescribeTable only (ensure_table, above); to any other call
  // the state is out of reach.
  CHECK_ERRC(aws::ddb_call(
               cfg, "PutItem",
               {{"TableName", cfg.table}, {"Item", {{"pk", aws::ddb_s("x")}}}}),
             errc::invalid_argument);
  CHECK_ERRC(aws::ddb_call(
               cfg, "GetItem",
               {{"TableName", "nope-table"},
                {"Key", {{"pk", aws::ddb_s("x")}, {"sk", aws::ddb_s("y")}}}}),
             errc::storage_unavailable);
  // Nobody listens: storage_unavailable after the tries.
  auto gone = cfg;
  gone.endpoint = "http://127.0.0.1:9";
  gone.tries = 2;
  gone.timeout = std::chrono::milliseconds{500};
  CHECK_ERRC(aws::ddb_claim(gone, "k", "j", 1), errc::storage_unavailable);
  // Bad settings never reach the network.
  auto bad = cfg;
  bad.table = "a b";
  CAF_CHECK_EQUAL(vf::messages::errc_of(aws::complete(bad)),
                  errc::invalid_argument);
  bad = aws::dynamodb_config{};
  bad.endpoint = "ftp://x";
  CAF_CHECK_EQUAL(vf::messages::errc_of(aws::complete(bad)),
                  errc::invalid_argument);
  bad = aws::dynamodb_config{};
  bad.region = "ap-south-2";
  CAF_CHECK(!aws::complete(bad));
  CAF_CHECK_EQUAL(bad.endpoint, "https://dynamodb.ap-south-2.amazonaws.com");
}

CAF_TEST_FIXTURE_SCOPE_END()
