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

#include "vf/adapters/aws/dynamodb_store.hpp"
#include "vf/messages/errc.hpp"
#include "vf/messages/register_types.hpp"

#include <atomic>
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
  CAF_CHECK_EQUAL((*doc)["Table"]["GlobalSecondaryIndexes"].size(), 2u);
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

CAF_TEST(errors say what went wrong) {
  CAF_REQUIRE(start_error.empty());
  CAF_REQUIRE(!aws::ensure_table(cfg, true));
  // Our request is wrong: invalid_argument, not retried.
  CHECK_ERRC(aws::ddb_call(
               cfg, "PutItem",
               {{"TableName", cfg.table}, {"Item", {{"pk", aws::ddb_s("x")}}}}),
             errc::invalid_argument);
  CHECK_ERRC(aws::ddb_call(
               cfg, "GetItem",
               {{"TableName", "nope-table"},
                {"Key", {{"pk", aws::ddb_s("x")}, {"sk", aws::ddb_s("y")}}}}),
             errc::not_found);
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
