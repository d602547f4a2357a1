#define CAF_SUITE actors.orchestrator

#include "vf/actors/orchestrator.hpp"

#include "vf/messages/object_checker_actor.hpp"

#include "vf_test.hpp"

#include "fakes.hpp"

#include <chrono>
#include <random>
#include <string>
#include <tuple>
#include <vector>

using namespace caf;
using namespace vf;
using namespace std::chrono_literals;
using messages::errc;
using messages::job_status;
using messages::task_kind;

namespace {

constexpr int64_t t0 = 1'800'000'000'000; // Unix ms the test clock starts at.

struct fixture : testing::fixture_base {
  fixture() {
    store = sys.spawn(testing::fake_store);
    disp = sys.spawn(testing::fake_dispatcher);
    guard = sys.spawn(actors::idempotency_guard,
                      messages::claim_store_actor{store}, size_t{1000});
    cfg.wall_ms = t0;
    cfg.seed = 42;
    cfg.lease_ids = [n = uint64_t{0}]() mutable { return ++n; };
    cfg.max_attempts = 3;
    cfg.expire_interval = std::chrono::milliseconds{0};
    cfg.on_job_end = [this](const messages::job& j, int64_t ms) {
      auto st = j.status;
      ended.emplace_back(st, ms);
    };
    // A stand-in for the media adapter's estimate, easy to predict.
    cfg.render_cost = [](const std::string& recipe, const std::string& meta) {
      return std::make_pair(uint32_t{2},
                            static_cast<uint64_t>(recipe.size() + meta.size()));
    };
    orch = sys.spawn(actors::orchestrator, cfg, messages::stores_of(store), guard,
                     messages::dispatcher_actor{disp});
    consume_messages();
    add_job(id);
  }

  ~fixture() {
    // Promises held by fakes keep actors alive: stop them explicitly.
    for (auto hdl : {actor_cast<actor>(orch), actor_cast<actor>(guard),
                     actor_cast<actor>(disp), actor_cast<actor>(store)})
      anon_send_exit(hdl, exit_reason::user_shutdown);
    run();
  }

  /// Replaces the orchestrator with one whose journal answers `began`
  /// (a restart of the node).
  void respawn(decltype(actors::orchestrator_config::began_before) began) {
    anon_send_exit(orch, exit_reason::kill);
    run();
    cfg.began_before = std::move(began);
    orch = sys.spawn(actors::orchestrator, cfg, messages::stores_of(store),
                     guard, messages::dispatcher_actor{disp});
    consume_messages();
  }

  /// For the content reuse tests: an earlier SUCCEEDED job "old" of alice
  /// whose upload had digest `sha`, with `recipe` and render outputs
  /// `made`; j1 and a new j2 are alice's with the same recipe.
  void reuse_setup(const std::string& recipe, const std::string& sha,
                   const std::string& made) {
    auto old = job();
    old.id = "old";
    old.owner = "alice";
    old.status = job_status::succeeded;
    old.outputs = recipe;
    old.object.sha256 = sha;
    st().jobs["old"] = old;
    st().results["old"] = messages::job_result{"old", "{}", "s", t0, made};
    add_job("j2");
    for (auto jid : {"j1", "j2"}) {
      job(jid).owner = "alice";
      job(jid).outputs = recipe;
    }
  }

  void add_job(const std::string& job_id) {
    messages::job j;
    j.id = job_id;
    j.filename = "clip.mp4";
    j.bucket = "uploads";
    j.key = "uploads/" + job_id + "/clip.mp4";
    j.status = job_status::awaiting_upload;
    j.created_at = j.updated_at = t0;
    st().jobs[job_id] = j;
  }

  testing::fake_store_state& st() {
    return deref<testing::fake_store_impl>(store).state;
  }

  std::vector<std::pair<messages::task,
                        typed_response_promise<messages::task_outcome>>>&
  pending() {
    return deref<testing::fake_dispatcher_impl>(disp).state.pending;
  }

  messages::job& job(const std::string& job_id = "j1") {
    return st().jobs[job_id];
  }

  /// Puts failed probe attempts `first`..`last` of object version v1 into
  /// the ledger, as a previous run of the node recorded them.
  void failed_probes(uint32_t first, uint32_t last, errc code) {
    for (uint32_t n = first; n <= last; ++n) {
      messages::attempt_record r;
      r.job_id = id;
      r.object_version = "v1";
      r.kind = task_kind::probe;
      r.attempt = n;
      r.error_code = code;
      st().ledger.push_back(r);
    }
  }

  messages::object_event event(std::string version,
                               const std::string& job_id = "j1") {
    messages::object_event ev;
    ev.name = "s3:ObjectCreated:Put";
    ev.source = "test";
    ev.object.bucket = "uploads";
    ev.object.key = "uploads/" + job_id + "/clip.mp4";
    ev.object.version = std::move(version);
    ev.object.etag = "e";
    ev.object.size = 10;
    return ev;
  }

  /// Sends an event, lets everything settle, returns the reply.
  expected<bool> deliver(const messages::object_event& ev) {
    self->send(orch, atoms::created_v, ev);
    consume_messages();
    return receive_one<bool>();
  }

  template <class T>
  expected<T> receive_one() {
    expected<T> result = make_error(errc::internal, "no reply");
    self->receive([&](T& x) { result = std::move(x); },
                  [&](error& err) { result = std::move(err); },
                  after(std::chrono::seconds(0)) >> [] {});
    return result;
  }

  /// Asks the orchestrator to cancel job `id`; its answer.
  expected<messages::job> cancel() {
    self->send(orch, atoms::cancel_v, id);
    consume_messages();
    return receive_one<messages::job>();
  }

  /// Runs job `id` through both steps with the store refusing the end
  /// write (the last step's record, the result and SUCCEEDED).
  void fail_end_write() {
    CAF_CHECK_EQUAL(deliver(event("v1")), true);
    answer(0, testing::ok_outcome(pending()[0].first, "{}"));
    st().fail_writes = true;
    answer(0, testing::ok_outcome(pending()[0].first, "a summary"));
    st().fail_writes = false;
  }

  /// Answers the dispatcher's n-th pending task.
  void answer(size_t n, messages::task_outcome out) {
    CAF_REQUIRE_GREATER(pending().size(), n);
    out.lease_id = pending()[n].first.lease_id;
    self->send(disp, atoms::dispatch_v, std::move(out));
    consume_messages();
  }

  actors::orchestrator_config cfg;
  /// What `on_job_end` was told.
  std::vector<std::pair<job_status, int64_t>> ended;
  messages::store_actor store;
  testing::fake_dispatcher_actor disp;
  messages::idempotency_guard_actor guard;
  messages::orchestrator_actor orch;
  std::string id = "j1";
};

} // namespace

CAF_TEST(render is never a configured step) {
  auto why = actors::check_pipeline({task_kind::probe, task_kind::render});
  CAF_REQUIRE(why);
  CAF_CHECK(why->find("asks for media outputs") != std::string::npos);
}

CAF_TEST(pipelines whose steps do not fit are refused) {
  using k = task_kind;
  using steps = std::vector<task_kind>;
  for (auto ok : {steps{k::probe, k::summarize}, steps{k::probe},
                  steps{k::sleep}, steps{k::sleep, k::probe, k::summarize},
                  steps{k::probe, k::summarize, k::sleep}})
    CAF_CHECK(!actors::check_pipeline(ok));
  // summarize would get the sleep step's output (the review's example),
  // or nothing at all.
  for (auto bad : {steps{k::probe, k::sleep, k::summarize},
                   steps{k::summarize}, steps{k::summarize, k::probe},
                   steps{k::probe, k::probe, k::summarize}, steps{}}) {
    auto why = actors::check_pipeline(bad);
    CAF_CHECK(why);
    if (why)
      CAF_MESSAGE(*why);
  }
}

CAF_TEST(backoff grows exponentially under a cap with full jitter) {
  actors::orchestrator_config c;
  c.backoff_base = 500ms;
  c.backoff_cap = 4000ms;
  CAF_CHECK_EQUAL(actors::backoff_delay(c, 1, 0.999).count(), 499);
  CAF_CHECK_EQUAL(actors::backoff_delay(c, 2, 0.5).count(), 500);
  CAF_CHECK_EQUAL(actors::backoff_delay(c, 3, 0.5).count(), 1000);
  CAF_CHECK_EQUAL(actors::backoff_delay(c, 10, 0.5).count(), 2000);
  CAF_CHECK_EQUAL(actors::backoff_delay(c, 1, 0.0).count(), 0);
}

CAF_TEST_FIXTURE_SCOPE(orchestrator_tests, fixture)

CAF_TEST(an upload runs the pipeline to SUCCEEDED) {
  CAF_CHECK_EQUAL(deliver(event("v1")), true);
  // SUBMITTED was written before the reply, PROCESSING before dispatch.
  CAF_REQUIRE_GREATER_OR_EQUAL(st().puts.size(), 2u);
  CAF_CHECK_EQUAL(st().puts[0].status, job_status::submitted);
  CAF_CHECK_EQUAL(st().puts[0].object.version, "v1");
  CAF_CHECK_EQUAL(st().puts[1].status, job_status::processing);
  CAF_REQUIRE_EQUAL(pending().size(), 1u);
  auto probe = pending()[0].first;
  CAF_CHECK_EQUAL(probe.kind, task_kind::probe);
  CAF_CHECK_EQUAL(probe.object.version, "v1");
  CAF_CHECK_EQUAL(probe.attempt, 1u);
  CAF_CHECK_EQUAL(job().step, "probe");
  answer(0, testing::ok_outcome(probe, R"({"format":{}})"));
  CAF_REQUIRE_EQUAL(pending().size(), 1u);
  auto sum = pending()[0].first;
  CAF_CHECK_EQUAL(sum.kind, task_kind::summarize);
  CAF_CHECK_EQUAL(sum.input, R"({"format":{}})");
  CAF_CHECK_EQUAL(job().step, "summarize");
  CAF_CHECK(ended.empty());
  advance_time(std::chrono::milliseconds{2500});
  consume_messages();
  answer(0, testing::ok_outcome(sum, "a summary"));
  CAF_CHECK_EQUAL(job().status, job_status::succeeded);
  CAF_CHECK_EQUAL(st().results[id].metadata, R"({"format":{}})");
  CAF_CHECK_EQUAL(st().results[id].summary, "a summary");
  CAF_CHECK_EQUAL(st().result_writes, 1u);
  CAF_CHECK(pending().empty());
  // Metrics hear of the end once, timed from the upload taken.
  CAF_REQUIRE_EQUAL(ended.size(), 1u);
  CAF_CHECK_EQUAL(ended[0].first, job_status::succeeded);
  CAF_CHECK_EQUAL(ended[0].second, 2500);
}

CAF_TEST(a job with outputs renders last with its recipe and priority) {
  const std::string recipe
    = R"({"thumbnails":[{"name":"small","width":320,"height":180}],)"
      R"("renditions":[]})";
  job().outputs = recipe;
  job().priority = messages::priority_low;
  CAF_CHECK_EQUAL(deliver(event("v1")), true);
  CAF_REQUIRE_EQUAL(pending().size(), 1u);
  auto probe = pending()[0].first;
  CAF_CHECK_EQUAL(probe.priority, messages::priority_low);
  // Only a render costs more than a slot.
  CAF_CHECK_EQUAL(probe.threads, 0u);
  CAF_CHECK_EQUAL(probe.memory_mb, 0u);
  answer(0, testing::ok_outcome(probe, R"({"format":{}})"));
  CAF_REQUIRE_EQUAL(pending().size(), 1u);
  auto sum = pending()[0].first;
  CAF_CHECK_EQUAL(sum.priority, messages::priority_low);
  answer(0, testing::ok_outcome(sum, "a summary"));
  CAF_CHECK_EQUAL(job().status, job_status::processing);
  CAF_REQUIRE_EQUAL(pending().size(), 1u);
  auto render = pending()[0].first;
  CAF_CHECK_EQUAL(render.kind, task_kind::render);
  CAF_CHECK_EQUAL(render.priority, messages::priority_low);
  CAF_CHECK_EQUAL(render.timeout_ms, cfg.render_timeout_ms);
  CAF_CHECK_EQUAL(render.threads, 2u);
  CAF_CHECK_EQUAL(render.memory_mb,
                  recipe.size() + std::string{R"({"format":{}})"}.size());
  CAF_CHECK_EQUAL(render.input, R"({"recipe":)" + recipe
                                  + R"(,"metadata":{"format":{}}})");
  CAF_CHECK_EQUAL(job().step, "render");
  answer(0, testing::ok_outcome(render, R"({"thumbnails":[]})"));
  CAF_CHECK_EQUAL(job().status, job_status::succeeded);
  CAF_CHECK_EQUAL(st().results[id].outputs, R"({"thumbnails":[]})");
  CAF_CHECK_EQUAL(st().results[id].summary, "a summary");
}

CAF_TEST(a render is told the outputs of the same bytes and recipe of its owner) {
  // The runtime builds the input with the media adapter; this stand-in
  // shows what the orchestrator passed.
  cfg.render_input = [](const std::string& recipe, const std::string& meta,
                        const std::string& from, const std::string& outs) {
    return recipe + "|" + meta + "|" + from + "|" + outs;
  };
  cfg.output_keys = [](const std::string& jid, const std::string&) {
    return std::vector<std::string>{"outputs/" + jid + "/small.jpg"};
  };
  respawn({});
  const std::string recipe = R"({"thumbnails":[{"name":"small"}]})";
  const std::string sha(64, 'a');
  const std::string made = R"({"thumbnails":[{"name":"small","key":"k"}]})";
  reuse_setup(recipe, sha, made);
  std::vector<messages::object_ref> sources;
  auto render_input_of = [&](const std::string& jid, std::string digest) {
    auto ev = event("v1", jid);
    ev.object.sha256 = std::move(digest);
    CAF_CHECK_EQUAL(deliver(ev), true);
    answer(0, testing::ok_outcome(pending()[0].first, R"({"format":{}})"));
    answer(0, testing::ok_outcome(pending()[0].first, "a summary"));
    CAF_REQUIRE_EQUAL(pending().size(), 1u);
    auto t = pending()[0].first;
    CAF_CHECK_EQUAL(t.kind, task_kind::render);
    answer(0, testing::ok_outcome(t, made));
    sources = t.sources;
    return t.input;
  };
  CAF_CHECK_EQUAL(render_input_of("j1", sha),
                  recipe + R"(|{"format":{}}|old|)" + made);
  // What it may copy, by name (a lease relay presigns a GET of each for a
  // worker on another node).
  CAF_REQUIRE_EQUAL(sources.size(), 1u);
  auto src = sources[0];
  CAF_CHECK_EQUAL(src.bucket, "uploads");
  CAF_CHECK_EQUAL(src.key, "outputs/old/small.jpg");
  // Other bytes: nothing to copy.
  CAF_CHECK_EQUAL(render_input_of("j2", std::string(64, 'b')),
                  recipe + R"(|{"format":{}}||)");
  CAF_CHECK(sources.empty());
}

CAF_TEST(
  an upload without a digest gets the one its probe made and is reused by it) {
  // S3 and MinIO uploads do not pass through vidflow: the probe hashes the
  // bytes it fetched (the media adapter's content_digest_of reads it back;
  // this stand-in takes "digest:<hex>").
  cfg.render_input = [](const std::string& recipe, const std::string& meta,
                        const std::string& from, const std::string& outs) {
    return recipe + "|" + meta + "|" + from + "|" + outs;
  };
  cfg.content_digest = [](const std::string& probe_output) {
    return probe_output.rfind("digest:", 0) == 0 ? probe_output.substr(7)
                                                 : std::string{};
  };
  respawn({});
  const std::string recipe = R"({"thumbnails":[{"name":"small"}]})";
  const std::string sha(64, 'c');
  const std::string made = R"({"thumbnails":[{"name":"small","key":"k"}]})";
  reuse_setup(recipe, sha, made);
  auto run = [&](const std::string& jid, const std::string& event_digest) {
    auto ev = event("v1", jid);
    ev.object.sha256 = event_digest;
    CAF_CHECK_EQUAL(deliver(ev), true);
    answer(0, testing::ok_outcome(pending()[0].first, "digest:" + sha));
    answer(0, testing::ok_outcome(pending()[0].first, "a summary"));
    CAF_REQUIRE_EQUAL(pending().size(), 1u);
    auto t = pending()[0].first;
    CAF_CHECK_EQUAL(t.kind, task_kind::render);
    CAF_CHECK_EQUAL(t.object.sha256, event_digest.empty() ? sha : event_digest);
    answer(0, testing::ok_outcome(t, made));
    return t.input;
  };
  // No digest on the way in: the probe's is kept and finds the old job.
  CAF_CHECK_EQUAL(run("j1", ""), recipe + "|digest:" + sha + "|old|" + made);
  CAF_CHECK_EQUAL(job("j1").object.sha256, sha);
  CAF_CHECK_EQUAL(job("j1").status, job_status::succeeded);
  // A digest from the built-in store is never replaced by a worker's word.
  const std::string other(64, 'd');
  CAF_CHECK_EQUAL(run("j2", other), recipe + "|digest:" + sha + "||");
  CAF_CHECK_EQUAL(job("j2").object.sha256, other);
}

CAF_TEST(a render lists its output keys and a foreign outcome is refused) {
  // Stand-ins for the media adapter: one key per output name; an outcome
  // is fine unless it says "foreign".
  cfg.output_keys = [](const std::string& jid, const std::string&) {
    return std::vector<std::string>{"outputs/" + jid + "/small.jpg"};
  };
  std::vector<std::string> checked;
  cfg.check_render_output = [&](const std::string& jid,
                                const std::string& bucket,
                                const std::string& reuse,
                                const std::string& recipe,
                                const std::string& out) -> std::string {
    checked.push_back(jid + "|" + bucket + "|" + reuse + "|" + recipe + "|"
                      + out);
    return out == "foreign" ? "it names another job" : "";
  };
  respawn({});
  job().outputs = R"({"thumbnails":[{"name":"small"}]})";
  CAF_CHECK_EQUAL(deliver(event("v1")), true);
  answer(0, testing::ok_outcome(pending()[0].first, R"({"format":{}})"));
  answer(0, testing::ok_outcome(pending()[0].first, "s"));
  CAF_REQUIRE_EQUAL(pending().size(), 1u);
  auto render = pending()[0].first;
  CAF_REQUIRE_EQUAL(render.outputs.size(), 1u);
  auto out_ref = render.outputs[0];
  CAF_CHECK_EQUAL(out_ref.bucket, "uploads");
  CAF_CHECK_EQUAL(out_ref.key, "outputs/j1/small.jpg");
  CAF_CHECK_EQUAL(out_ref.url, ""); // Signed by a relay, for remote leases.
  answer(0, testing::ok_outcome(render, "foreign"));
  // Recorded as a failed attempt, then retried: never the job's outputs.
  CAF_CHECK_EQUAL(job().status, job_status::processing);
  CAF_CHECK(st().results.count(id) == 0);
  size_t refused = 0;
  for (auto& rec : st().ledger)
    if (rec.kind == task_kind::render && !rec.ok
        && rec.error_code == errc::forbidden
        && rec.error_message.find("render outcome refused: it names another "
                                  "job")
             != std::string::npos)
      ++refused;
  CAF_CHECK_EQUAL(refused, 1u);
  advance_time(std::chrono::hours{1});
  consume_messages();
  CAF_REQUIRE_EQUAL(pending().size(), 1u);
  auto again = pending()[0].first;
  CAF_CHECK_EQUAL(again.kind, task_kind::render);
  CAF_CHECK_EQUAL(again.attempt, 2u);
  answer(0, testing::ok_outcome(again, R"({"thumbnails":[]})"));
  CAF_CHECK_EQUAL(job().status, job_status::succeeded);
  CAF_CHECK_EQUAL(st().results[id].outputs, R"({"thumbnails":[]})");
  CAF_REQUIRE_EQUAL(checked.size(), 2u);
  auto first = checked[0];
  CAF_CHECK_EQUAL(first,
                  R"(j1|uploads||{"thumbnails":[{"name":"small"}]}|foreign)");
}

CAF_TEST(a composition starts without an upload and runs one compose step) {
  // Stand-ins for the media adapter.
  cfg.compose_sources = [](const std::string&) {
    return std::vector<messages::object_ref>{
      {"uploads", "uploads/a1/clip.mp4", "va", "", 10, "", ""},
      {"uploads", "uploads/a2/song.m4a", "vb", "", 20, "", ""}};
  };
  cfg.output_keys = [](const std::string& jid, const std::string&) {
    return std::vector<std::string>{"outputs/" + jid + "/composition.mp4"};
  };
  std::vector<std::string> checked;
  cfg.check_render_output = [&](const std::string& jid, const std::string&,
                                const std::string&, const std::string&,
                                const std::string& out) -> std::string {
    checked.push_back(jid + "|" + out);
    return {};
  };
  respawn({});
  const std::string recipe = R"({"composition":{"title":"t"}})";
  CAF_CHECK_EQUAL(actors::pipeline_of(cfg, job()).size(), 2u);
  job().outputs = recipe;
  job().priority = messages::priority_high;
  CAF_CHECK_EQUAL(actors::pipeline_of(cfg, job()),
                  std::vector<task_kind>{task_kind::compose});
  auto asset = job();
  asset.outputs = R"({"asset":"video"})";
  CAF_CHECK_EQUAL(actors::pipeline_of(cfg, asset),
                  std::vector<task_kind>{task_kind::probe});
  self->send(orch, atoms::compose_v, id);
  consume_messages();
  auto started = receive_one<messages::job>();
  CAF_REQUIRE(started);
  CAF_CHECK_EQUAL(started->status, job_status::submitted);
  CAF_CHECK_EQUAL(started->object.version, "composition");
  CAF_REQUIRE_EQUAL(pending().size(), 1u);
  auto t = pending()[0].first;
  CAF_CHECK_EQUAL(t.kind, task_kind::compose);
  CAF_CHECK_EQUAL(t.input, recipe);
  CAF_CHECK_EQUAL(t.priority, messages::priority_high);
  CAF_CHECK_EQUAL(t.timeout_ms, cfg.render_timeout_ms);
  CAF_CHECK_EQUAL(t.threads, 2u); // The render cost stand-in.
  CAF_REQUIRE_EQUAL(t.sources.size(), 2u);
  CAF_CHECK_EQUAL(t.sources[1].key, "uploads/a2/song.m4a");
  CAF_REQUIRE_EQUAL(t.outputs.size(), 1u);
  CAF_CHECK_EQUAL(t.outputs[0].key, "outputs/j1/composition.mp4");
  CAF_CHECK_EQUAL(job().step, "compose");
  // Started once: a second start is refused and queues nothing.
  self->send(orch, atoms::compose_v, id);
  consume_messages();
  auto again = receive_one<messages::job>();
  CAF_REQUIRE(!again);
  CAF_CHECK_EQUAL(messages::errc_of(again.error()), errc::conflict);
  CAF_CHECK_EQUAL(pending().size(), 1u);
  answer(0, testing::ok_outcome(t, R"({"composition":{}})"));
  CAF_CHECK_EQUAL(job().status, job_status::succeeded);
  CAF_CHECK_EQUAL(st().results[id].outputs, R"({"composition":{}})");
  CAF_CHECK_EQUAL(checked, std::vector<std::string>{R"(j1|{"composition":{}})"});
  // A job that is no composition never starts this way.
  add_job("j2");
  self->send(orch, atoms::compose_v, std::string{"j2"});
  consume_messages();
  auto plain = receive_one<messages::job>();
  CAF_REQUIRE(!plain);
  CAF_CHECK_EQUAL(messages::errc_of(plain.error()), errc::conflict);
  CAF_CHECK_EQUAL(job("j2").status, job_status::awaiting_upload);
  self->send(orch, atoms::compose_v, std::string{"nope"});
  consume_messages();
  auto unknown = receive_one<messages::job>();
  CAF_REQUIRE(!unknown);
  CAF_CHECK_EQUAL(messages::errc_of(unknown.error()), errc::not_found);
}

CAF_TEST(a failed render retries only the render) {
  job().outputs = R"({"thumbnails":[],"renditions":[{"name":"360p"}]})";
  CAF_CHECK_EQUAL(deliver(event("v1")), true);
  answer(0, testing::ok_outcome(pending()[0].first, R"({"format":{}})"));
  answer(0, testing::ok_outcome(pending()[0].first, "s"));
  CAF_REQUIRE_EQUAL(pending().size(), 1u);
  auto render = pending()[0].first;
  auto out = testing::ok_outcome(render, "");
  out.ok = false;
  out.error_code = errc::internal;
  out.transient = true;
  answer(0, out);
  advance_time(std::chrono::hours{1});
  consume_messages();
  CAF_REQUIRE_EQUAL(pending().size(), 1u);
  CAF_CHECK_EQUAL(pending()[0].first.kind, task_kind::render);
  CAF_CHECK_EQUAL(pending()[0].first.attempt, 2u);
}

CAF_TEST(recover resumes a job at its render step) {
  job().status = job_status::processing;
  job().step = "render";
  job().attempts = 1;
  job().object.version = "v1";
  job().outputs = R"({"thumbnails":[],"renditions":[{"name":"360p"}]})";
  for (auto kind : {task_kind::probe, task_kind::summarize}) {
    messages::attempt_record r;
    r.job_id = id;
    r.object_version = "v1";
    r.kind = kind;
    r.ok = true;
    r.output = to_string(kind) + "-out";
    st().ledger.push_back(r);
  }
  self->send(orch, atoms::recover_v);
  consume_messages();
  CAF_REQUIRE_EQUAL(pending().size(), 1u);
  CAF_CHECK_EQUAL(pending()[0].first.kind, task_kind::render);
  // The attempt the node died in counts.
  CAF_CHECK_EQUAL(pending()[0].first.attempt, 2u);
  answer(0, testing::ok_outcome(pending()[0].first, R"({"renditions":[]})"));
  CAF_CHECK_EQUAL(job().status, job_status::succeeded);
  CAF_CHECK_EQUAL(st().results[id].outputs, R"({"renditions":[]})");
}

CAF_TEST(a duplicate event is a no-op in flight and after the end) {
  CAF_CHECK_EQUAL(deliver(event("v1")), true);
  CAF_CHECK_EQUAL(deliver(event("v1")), false);
  CAF_CHECK_EQUAL(pending().size(), 1u);
  auto probe = pending()[0].first;
  answer(0, testing::ok_outcome(probe, "{}"));
  answer(0, testing::ok_outcome(pending()[0].first, "s"));
  CAF_CHECK_EQUAL(job().status, job_status::succeeded);
  auto writes = st().puts.size();
  CAF_CHECK_EQUAL(deliver(event("v1")), false);
  CAF_CHECK_EQUAL(deliver(event("v1")), false);
  CAF_CHECK(pending().empty());
  CAF_CHECK_EQUAL(st().puts.size(), writes);
  CAF_CHECK_EQUAL(st().result_writes, 1u);
}

CAF_TEST(racing duplicates start one run) {
  for (int i = 0; i < 3; ++i)
    self->send(orch, atoms::created_v, event("v1"));
  consume_messages();
  int accepted = 0;
  int duplicates = 0;
  for (int i = 0; i < 3; ++i) {
    auto r = receive_one<bool>();
    CAF_REQUIRE(r);
    (*r ? accepted : duplicates) += 1;
  }
  CAF_CHECK_EQUAL(accepted, 1);
  CAF_CHECK_EQUAL(duplicates, 2);
  CAF_CHECK_EQUAL(pending().size(), 1u);
}

CAF_TEST(a racing duplicate learns the failure of the first delivery) {
  // The first delivery cannot be recorded: a duplicate that raced it must
  // hear that too (not "duplicate"), or its source would forget an event
  // that was never recorded.
  st().fail_writes = true;
  for (int i = 0; i < 2; ++i)
    self->send(orch, atoms::created_v, event("v1"));
  consume_messages();
  for (int i = 0; i < 2; ++i) {
    auto r = receive_one<bool>();
    CAF_REQUIRE(!r);
    CAF_CHECK_EQUAL(messages::errc_of(r.error()), errc::storage_unavailable);
  }
  // Redelivered once the store is back: it starts the run.
  st().fail_writes = false;
  CAF_CHECK_EQUAL(deliver(event("v1")), true);
  CAF_CHECK_EQUAL(pending().size(), 1u);
}

CAF_TEST(events for unknown jobs and foreign keys are rejected) {
  auto r = deliver(event("v1", "nope"));
  CAF_REQUIRE(!r);
  CAF_CHECK_EQUAL(messages::errc_of(r.error()), errc::not_found);
  auto ev = event("v1");
  ev.object.key = "elsewhere/x";
  r = deliver(ev);
  CAF_REQUIRE(!r);
  CAF_CHECK_EQUAL(messages::errc_of(r.error()), errc::invalid_argument);
  ev = event("v1");
  ev.object.bucket = "other";
  r = deliver(ev);
  CAF_REQUIRE(!r);
  CAF_CHECK_EQUAL(messages::errc_of(r.error()), errc::invalid_argument);
  CAF_CHECK(pending().empty());
  CAF_CHECK_EQUAL(job().status, job_status::awaiting_upload);
}

CAF_TEST(a permanent failure fails fast) {
  CAF_CHECK_EQUAL(deliver(event("v1")), true);
  answer(0, testing::failed_outcome(pending()[0].first, errc::bad_media));
  CAF_CHECK_EQUAL(job().status, job_status::failed);
  CAF_CHECK_EQUAL(job().error_code, vf::messages::errc::bad_media);
  CAF_CHECK_EQUAL(job().error_message, "injected bad_media");
  CAF_CHECK_EQUAL(job().attempts, 1u);
  CAF_CHECK(pending().empty());
  advance_time(1h);
  consume_messages();
  CAF_CHECK(pending().empty());
}

CAF_TEST(transient failures retry with backoff on the actor clock) {
  CAF_CHECK_EQUAL(deliver(event("v1")), true);
  // Replays the orchestrator's jitter draws (same seed, same distribution).
  std::mt19937_64 rng{cfg.seed};
  std::uniform_real_distribution<double> uniform{0.0, 1.0};
  int64_t elapsed = 0;
  for (uint32_t attempt = 1; attempt < cfg.max_attempts; ++attempt) {
    auto t = pending().at(0).first;
    CAF_CHECK_EQUAL(t.attempt, attempt);
    answer(0, testing::failed_outcome(t, errc::timeout));
    auto delay = actors::backoff_delay(cfg, attempt, uniform(rng));
    CAF_MESSAGE("attempt " << attempt << " retries after " << delay.count()
                           << " ms");
    CAF_CHECK_EQUAL(job().status, job_status::processing);
    CAF_CHECK_EQUAL(job().error_code, vf::messages::errc::timeout);
    CAF_CHECK_EQUAL(job().next_attempt_at, t0 + elapsed + delay.count());
    elapsed += delay.count();
    CAF_CHECK(pending().empty());
    if (delay > 0ms) {
      advance_time(delay - 1ms);
      consume_messages();
      CAF_CHECK(pending().empty()); // Not a millisecond early.
      advance_time(1ms);
    } else {
      advance_time(0ms);
    }
    consume_messages();
    CAF_REQUIRE_EQUAL(pending().size(), 1u);
    CAF_CHECK_EQUAL(job().next_attempt_at, 0);
  }
  // The last allowed attempt fails too: the job fails for good.
  answer(0, testing::failed_outcome(pending()[0].first, errc::throttled));
  CAF_CHECK_EQUAL(job().status, job_status::failed);
  CAF_CHECK_EQUAL(job().error_code, vf::messages::errc::throttled);
  CAF_CHECK_EQUAL(job().attempts, cfg.max_attempts);
}

CAF_TEST(outcomes of stale leases are ignored) {
  CAF_CHECK_EQUAL(deliver(event("v1")), true);
  auto first = pending()[0].first;
  answer(0, testing::failed_outcome(first, errc::worker_lost));
  advance_time(1min);
  consume_messages();
  CAF_REQUIRE_EQUAL(pending().size(), 1u);
  // The stale timer of the first lease fires after the retry started (the
  // timer is private: only the orchestrator's own handle type can send it).
  self->send(actor_cast<actors::orchestrator_private_actor>(orch),
             atoms::retry_v, id, first.lease_id);
  consume_messages();
  CAF_CHECK_EQUAL(pending().size(), 1u);
  auto second = pending()[0].first;
  CAF_CHECK_NOT_EQUAL(second.lease_id, first.lease_id);
  answer(0, testing::ok_outcome(second, "{}"));
  CAF_CHECK_EQUAL(pending().size(), 1u); // summarize, once
}

CAF_TEST(an answer carrying another jobs ids fails its own lease) {
  add_job("j2");
  CAF_CHECK_EQUAL(deliver(event("v1")), true);
  CAF_CHECK_EQUAL(deliver(event("v1", "j2")), true);
  CAF_REQUIRE_EQUAL(pending().size(), 2u);
  auto mine = pending()[0].first;
  auto other = pending()[1].first;
  CAF_REQUIRE_EQUAL(other.job_id, "j2");
  // Lease `mine` is answered with j2's probe result (ids and all); the
  // dispatcher stamped the time it leased `mine`.
  auto stolen = testing::ok_outcome(other, R"({"stolen":1})");
  stolen.leased_at = 1'800'000'000'123;
  self->send(disp, atoms::dispatch_v, mine.lease_id, stolen);
  consume_messages();
  for (auto& rec : st().ledger) {
    CAF_CHECK(!(rec.job_id == "j2" && rec.ok));
    if (rec.job_id == mine.job_id) {
      CAF_CHECK(!rec.ok);
      CAF_CHECK_EQUAL(rec.lease_id, mine.lease_id);
      CAF_CHECK_EQUAL(rec.error_code, vf::messages::errc::forbidden);
      CAF_CHECK_EQUAL(rec.leased_at, 1'800'000'000'123);
    }
  }
  CAF_CHECK_EQUAL(st().ledger.size(), 1u);
  CAF_CHECK_EQUAL(job("j2").step, "probe");
  CAF_CHECK_EQUAL(job("j2").status, job_status::processing);
  // j1 retries (the next worker may be honest); j2's lease still stands.
  CAF_CHECK_EQUAL(job("j1").status, job_status::processing);
  CAF_CHECK_EQUAL(job("j1").error_code, vf::messages::errc::forbidden);
}

CAF_TEST(a finished job is never revived by an event) {
  // Security review: a forged event sent a SUCCEEDED job back through
  // processing with a replaced object, and one naming another file turned
  // it FAILED. A job takes one upload.
  CAF_CHECK_EQUAL(deliver(event("v1")), true);
  answer(0, testing::ok_outcome(pending()[0].first, "{}"));
  answer(0, testing::ok_outcome(pending()[0].first, "s"));
  CAF_REQUIRE_EQUAL(job().status, job_status::succeeded);
  auto before = job();
  auto claims = st().claims.size();
  CHECK_ERRC(deliver(event("forged-1")), errc::conflict);
  auto other = event("v9");
  other.object.key = "uploads/j1/nope.mp4";
  CHECK_ERRC(deliver(other), errc::not_found);
  CAF_CHECK_EQUAL(job().status, job_status::succeeded);
  CAF_CHECK_EQUAL(job().object, before.object);
  CAF_CHECK_EQUAL(job().updated_at, before.updated_at);
  CAF_CHECK(pending().empty());
  // Nothing was claimed for them: no permanent rows from a flood.
  CAF_CHECK_EQUAL(st().claims.size(), claims);
}

CAF_TEST(only the own key of a job is its upload) {
  auto other = event("v1");
  other.object.key = "uploads/j1/other.mp4";
  CHECK_ERRC(deliver(other), errc::not_found);
  CAF_CHECK_EQUAL(job().status, job_status::awaiting_upload);
  CAF_CHECK(pending().empty());
  CAF_CHECK(st().claims.empty());
}

CAF_TEST(failed cancelled and expired jobs are never revived by an event) {
  for (auto status : {job_status::failed, job_status::cancelled,
                      job_status::expired}) {
    add_job("t");
    job("t").status = status;
    CHECK_ERRC(deliver(event("v1", "t")), errc::conflict);
    CAF_CHECK_EQUAL(job("t").status, status);
    CAF_CHECK(pending().empty());
  }
}

CAF_TEST(a new version does not replace the object of a running job) {
  CAF_CHECK_EQUAL(deliver(event("v1")), true);
  auto run = pending()[0].first;
  CHECK_ERRC(deliver(event("v2")), errc::conflict);
  CAF_REQUIRE_EQUAL(pending().size(), 1u);
  CAF_CHECK_EQUAL(job().object.version, "v1");
  answer(0, testing::ok_outcome(run, "{}"));
  CAF_REQUIRE_EQUAL(pending().size(), 1u);
  CAF_CHECK_EQUAL(pending()[0].first.object.version, "v1");
  CAF_CHECK_EQUAL(pending()[0].first.kind, task_kind::summarize);
}

CAF_TEST(outside events are checked against the store before a claim) {
  // The checker stands in for a HEAD on MinIO/S3: it knows one object.
  auto checker = sys.spawn([]() -> messages::object_checker_actor::behavior_type {
    return {
      [](atoms::head, messages::object_ref obj)
        -> caf::result<messages::object_ref> {
        if (obj.key != "uploads/j1/clip.mp4" && obj.key != "uploads/j2/clip.mp4")
          return make_error(errc::not_found, "no such key");
        obj.size = 10;
        obj.etag = "e";
        return obj;
      },
    };
  });
  auto c = cfg;
  c.checker = checker;
  auto o = sys.spawn(actors::orchestrator, c, messages::stores_of(store), guard,
                     messages::dispatcher_actor{disp});
  consume_messages();
  auto send = [&](messages::object_event ev) {
    self->send(o, atoms::created_v, ev);
    consume_messages();
    return receive_one<bool>();
  };
  add_job("j2");
  add_job("j3");
  auto wrong_size = event("v1");
  wrong_size.object.size = 11;
  CHECK_ERRC(send(wrong_size), errc::invalid_argument);
  auto wrong_etag = event("v1");
  wrong_etag.object.etag = "forged";
  CHECK_ERRC(send(wrong_etag), errc::invalid_argument);
  auto no_etag = event("v1");
  no_etag.object.etag.clear();
  CHECK_ERRC(send(no_etag), errc::invalid_argument);
  CHECK_ERRC(send(event("v1", "j3")), errc::not_found);
  CAF_CHECK(st().claims.empty());
  CAF_CHECK_EQUAL(job().status, job_status::awaiting_upload);
  CAF_CHECK_EQUAL(send(event("v1")), true);
  CAF_CHECK_EQUAL(job().status, job_status::processing);
  // The built-in store's own events are not checked (it is this node).
  auto builtin = event("v1", "j2");
  builtin.source = "builtin";
  builtin.object.size = 999;
  CAF_CHECK_EQUAL(send(builtin), true);
  anon_send_exit(o, exit_reason::user_shutdown);
  anon_send_exit(checker, exit_reason::user_shutdown);
}

CAF_TEST(cancel stops a running job and refuses a finished one) {
  CAF_CHECK_EQUAL(deliver(event("v1")), true);
  auto t = pending()[0].first;
  auto r = cancel();
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->status, job_status::cancelled);
  CAF_CHECK_EQUAL(job().status, job_status::cancelled);
  answer(0, testing::ok_outcome(t, "{}"));
  CAF_CHECK(pending().empty());
  CAF_CHECK_EQUAL(job().status, job_status::cancelled);
  r = cancel();
  CAF_REQUIRE(!r);
  CAF_CHECK_EQUAL(messages::errc_of(r.error()), errc::conflict);
  // An upload for a cancelled job does not revive it.
  CHECK_ERRC(deliver(event("v9")), errc::conflict);
  CAF_CHECK_EQUAL(job().status, job_status::cancelled);
}

CAF_TEST(a cancel while the result is written waits for it and is refused) {
  CAF_CHECK_EQUAL(deliver(event("v1")), true);
  answer(0, testing::ok_outcome(pending()[0].first, "{}"));
  // The last step's outcome, one message at a time until the result and
  // SUCCEEDED are on their way to the store (one write): the cancel lands
  // behind it.
  auto out = testing::ok_outcome(pending()[0].first, "a summary");
  out.lease_id = pending()[0].first.lease_id;
  self->send(disp, atoms::dispatch_v, std::move(out));
  auto& runs = deref<actors::orchestrator_impl>(orch).state.runs;
  auto finishing = [&] {
    auto i = runs.find(id);
    return i != runs.end() && i->second.finishing;
  };
  while (!finishing() && sched.try_run_once())
    ; // One message.
  CAF_REQUIRE(finishing());
  CAF_CHECK_EQUAL(job().status, job_status::processing);
  auto r = cancel();
  CAF_REQUIRE(!r);
  CAF_CHECK_EQUAL(messages::errc_of(r.error()), errc::conflict);
  CAF_CHECK_EQUAL(job().status, job_status::succeeded);
  // One end in the journal, and the metrics heard of one.
  size_t ends = 0;
  for (auto& [job_id, ev] : st().events)
    if (job_id == id && messages::is_terminal(ev.status))
      ++ends;
  CAF_CHECK_EQUAL(ends, 1u);
  CAF_REQUIRE_EQUAL(ended.size(), 1u);
  CAF_CHECK_EQUAL(ended[0].first, job_status::succeeded);
}

CAF_TEST(the last step is recorded by the end write itself) {
  CAF_CHECK_EQUAL(deliver(event("v1")), true);
  answer(0, testing::ok_outcome(pending()[0].first, "{}"));
  CAF_CHECK_EQUAL(st().record_calls, 1u);
  answer(0, testing::ok_outcome(pending()[0].first, "a summary"));
  CAF_CHECK_EQUAL(job().status, job_status::succeeded);
  // Both steps are in the ledger, the last one without a request of its
  // own: it came with the result and SUCCEEDED.
  CAF_CHECK_EQUAL(st().record_calls, 1u);
  CAF_CHECK_EQUAL(st().result_writes, 1u);
  auto& ledger = st().ledger;
  CAF_REQUIRE_EQUAL(ledger.size(), 2u);
  CAF_CHECK_EQUAL(ledger[1].kind, task_kind::summarize);
  CAF_CHECK(ledger[1].ok);
  CAF_CHECK_EQUAL(ledger[1].output, "a summary");
  CAF_CHECK_EQUAL(ledger[1].attempt, 1u);
}

CAF_TEST(a failed end write is retried with the last record and no rerun) {
  fail_end_write();
  // Neither the attempt nor the result is stored; the step is not redone,
  // only the write is.
  CAF_CHECK_EQUAL(job().status, job_status::processing);
  CAF_CHECK_EQUAL(st().ledger.size(), 1u);
  CAF_CHECK(pending().empty());
  advance_time(std::chrono::minutes{5});
  consume_messages();
  CAF_CHECK_EQUAL(job().status, job_status::succeeded);
  CAF_CHECK_EQUAL(st().results[id].summary, "a summary");
  auto& ledger = st().ledger;
  CAF_REQUIRE_EQUAL(ledger.size(), 2u);
  CAF_CHECK_EQUAL(ledger[1].kind, task_kind::summarize);
  CAF_CHECK_EQUAL(ledger[1].output, "a summary");
  CAF_CHECK(pending().empty());
}

CAF_TEST(an answer and a report of the last step end the job once) {
  CAF_CHECK_EQUAL(deliver(event("v1")), true);
  answer(0, testing::ok_outcome(pending()[0].first, "{}"));
  auto t = pending()[0].first;
  self->send(disp, atoms::dispatch_v, testing::ok_outcome(t, "s"));
  self->send(orch, atoms::report_v, testing::ok_outcome(t, "s"));
  consume_messages();
  static_cast<void>(receive_one<bool>());
  CAF_CHECK_EQUAL(job().status, job_status::succeeded);
  CAF_CHECK_EQUAL(st().result_writes, 1u);
  auto oks = std::count_if(st().ledger.begin(), st().ledger.end(),
                           [](const messages::attempt_record& r) {
                             return r.ok && r.kind == task_kind::summarize;
                           });
  CAF_CHECK_EQUAL(oks, 1);
  CAF_REQUIRE_EQUAL(ended.size(), 1u);
}

CAF_TEST(a cancel after a failed result write cancels the job) {
  fail_end_write();
  CAF_CHECK_EQUAL(job().status, job_status::processing);
  auto r = cancel();
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->status, job_status::cancelled);
  CAF_CHECK_EQUAL(job().status, job_status::cancelled);
  // The result's retry finds nothing to do.
  advance_time(std::chrono::minutes{5});
  consume_messages();
  CAF_CHECK_EQUAL(job().status, job_status::cancelled);
}

CAF_TEST(a store failure is reported so the source redelivers) {
  st().fail_writes = true;
  auto r = deliver(event("v1"));
  CAF_REQUIRE(!r);
  CAF_CHECK_EQUAL(messages::errc_of(r.error()), errc::storage_unavailable);
  CAF_CHECK_EQUAL(job().status, job_status::awaiting_upload);
  st().fail_writes = false;
  CAF_CHECK_EQUAL(deliver(event("v1")), true);
  CAF_CHECK_EQUAL(pending().size(), 1u);
}

CAF_TEST(a claim whose transition was lost is taken up again) {
  // As after a crash between the claim and the SUBMITTED write.
  st().claims.insert(messages::claim_key(event("v1").object));
  CAF_CHECK_EQUAL(deliver(event("v1")), true);
  CAF_CHECK_EQUAL(job().status, job_status::processing);
}

CAF_TEST(recover resumes submitted and processing jobs) {
  add_job("j2");
  add_job("j3");
  job("j1").status = job_status::submitted;
  job("j2").status = job_status::processing;
  job("j2").step = "summarize";
  job("j2").attempts = 2;
  job("j3").status = job_status::succeeded;
  self->send(orch, atoms::recover_v);
  consume_messages();
  CAF_CHECK_EQUAL(receive_one<uint64_t>(), uint64_t{2});
  CAF_REQUIRE_EQUAL(pending().size(), 2u);
  for (auto& [t, rp] : pending())
    CAF_CHECK_EQUAL(t.kind, task_kind::probe);
  CAF_CHECK_EQUAL(job("j3").status, job_status::succeeded);
}

CAF_TEST(recover fails a job whose ledger used up its attempts) {
  job().status = job_status::processing;
  job().step = "probe";
  job().object.version = "v1";
  failed_probes(1, cfg.max_attempts, errc::timeout);
  self->send(orch, atoms::recover_v);
  consume_messages();
  CAF_CHECK_EQUAL(receive_one<uint64_t>(), uint64_t{1});
  CAF_CHECK(pending().empty());
  CAF_CHECK_EQUAL(job().status, job_status::failed);
  CAF_CHECK_EQUAL(job().error_code, vf::messages::errc::worker_lost);
  CAF_CHECK_EQUAL(st().dead.size(), 1u);
}

CAF_TEST(recover counts an attempt the node died in) {
  // A poison upload: the node crashed during the last allowed attempt, so
  // that attempt has no ledger record. It must not be retried for ever.
  job().status = job_status::processing;
  job().step = "probe";
  job().object.version = "v1";
  job().attempts = cfg.max_attempts;
  failed_probes(1, cfg.max_attempts - 1, errc::worker_lost);
  self->send(orch, atoms::recover_v);
  consume_messages();
  CAF_CHECK_EQUAL(receive_one<uint64_t>(), uint64_t{1});
  CAF_CHECK(pending().empty());
  CAF_CHECK_EQUAL(job().status, job_status::failed);
  CAF_CHECK_EQUAL(job().error_code, vf::messages::errc::worker_lost);
  CAF_CHECK_NOT_EQUAL(job().error_message.find("during the last allowed"),
                      std::string::npos);
  CAF_CHECK_EQUAL(st().dead.size(), 1u);
}

CAF_TEST(recover after a crash mid-attempt goes on with the next attempt) {
  job().status = job_status::processing;
  job().step = "probe";
  job().object.version = "v1";
  job().attempts = 1; // started, then the node died: no record
  self->send(orch, atoms::recover_v);
  consume_messages();
  CAF_CHECK_EQUAL(receive_one<uint64_t>(), uint64_t{1});
  CAF_REQUIRE_EQUAL(pending().size(), 1u);
  CAF_CHECK_EQUAL(pending()[0].first.kind, task_kind::probe);
  CAF_CHECK_EQUAL(pending()[0].first.attempt, 2u);
}

CAF_TEST(recover starts again an attempt that was still queued) {
  // The node died with the last allowed attempt persisted but still in the
  // dispatcher's queue: no worker began it, so it did not use an attempt.
  job().status = job_status::processing;
  job().step = "probe";
  job().object.version = "v1";
  job().attempts = cfg.max_attempts;
  failed_probes(1, cfg.max_attempts - 1, errc::timeout);
  std::vector<std::tuple<std::string, uint32_t, task_kind, uint32_t>> asked;
  respawn([&asked](const std::string& job_id, uint32_t series, task_kind kind,
                   uint32_t attempt) {
    asked.emplace_back(job_id, series, kind, attempt);
    return false;
  });
  self->send(orch, atoms::recover_v);
  consume_messages();
  CAF_CHECK_EQUAL(receive_one<uint64_t>(), uint64_t{1});
  CAF_REQUIRE_EQUAL(asked.size(), 1u);
  CAF_CHECK_EQUAL(std::get<0>(asked[0]), id);
  CAF_CHECK_EQUAL(std::get<1>(asked[0]), 0u);
  CAF_CHECK_EQUAL(std::get<2>(asked[0]), task_kind::probe);
  CAF_CHECK_EQUAL(std::get<3>(asked[0]), cfg.max_attempts);
  CAF_REQUIRE_EQUAL(pending().size(), 1u);
  CAF_CHECK_EQUAL(pending()[0].first.kind, task_kind::probe);
  CAF_CHECK_EQUAL(pending()[0].first.attempt, cfg.max_attempts);
  CAF_CHECK_EQUAL(job().status, job_status::processing);
}

CAF_TEST(recover counts an attempt the journal says had begun) {
  job().status = job_status::processing;
  job().step = "probe";
  job().object.version = "v1";
  job().attempts = cfg.max_attempts;
  failed_probes(1, cfg.max_attempts - 1, errc::timeout);
  respawn([](const std::string&, uint32_t, task_kind, uint32_t) {
    return true;
  });
  self->send(orch, atoms::recover_v);
  consume_messages();
  CAF_CHECK_EQUAL(receive_one<uint64_t>(), uint64_t{1});
  CAF_CHECK(pending().empty());
  CAF_CHECK_EQUAL(job().status, job_status::failed);
  CAF_CHECK_NOT_EQUAL(job().error_message.find("during the last allowed"),
                      std::string::npos);
}

CAF_TEST(recover does not ask the journal about a recorded attempt) {
  // The last attempt failed and was recorded before the crash: the ledger
  // alone says it was used.
  job().status = job_status::processing;
  job().step = "probe";
  job().object.version = "v1";
  job().attempts = 2;
  failed_probes(1, 2, errc::timeout);
  size_t asked = 0;
  respawn([&asked](const std::string&, uint32_t, task_kind, uint32_t) {
    ++asked;
    return false;
  });
  self->send(orch, atoms::recover_v);
  consume_messages();
  CAF_CHECK_EQUAL(receive_one<uint64_t>(), uint64_t{1});
  CAF_CHECK_EQUAL(asked, 0u);
  CAF_REQUIRE_EQUAL(pending().size(), 1u);
  CAF_CHECK_EQUAL(pending()[0].first.attempt, 3u);
}

CAF_TEST(every outcome lands in the ledger with its output) {
  CAF_CHECK_EQUAL(deliver(event("v1")), true);
  auto timed_out = testing::failed_outcome(pending()[0].first, errc::timeout);
  timed_out.leased_at = 1'800'000'000'001;
  answer(0, timed_out);
  advance_time(1min);
  consume_messages();
  auto probed = testing::ok_outcome(pending()[0].first, "{meta}");
  probed.leased_at = 1'800'000'060'002;
  answer(0, probed);
  answer(0, testing::ok_outcome(pending()[0].first, "summary"));
  auto& ledger = st().ledger;
  CAF_REQUIRE_EQUAL(ledger.size(), 3u);
  CAF_CHECK(!ledger[0].ok);
  CAF_CHECK_EQUAL(ledger[0].error_code, vf::messages::errc::timeout);
  CAF_CHECK_EQUAL(ledger[0].attempt, 1u);
  CAF_CHECK(ledger[1].ok);
  CAF_CHECK_EQUAL(ledger[1].kind, task_kind::probe);
  CAF_CHECK_EQUAL(ledger[1].attempt, 2u);
  CAF_CHECK_EQUAL(ledger[1].output, "{meta}");
  CAF_CHECK_EQUAL(ledger[1].object_version, "v1");
  // The time each lease was given, as the dispatcher stamped it.
  CAF_CHECK_EQUAL(ledger[0].leased_at, 1'800'000'000'001);
  CAF_CHECK_EQUAL(ledger[1].leased_at, 1'800'000'060'002);
  CAF_CHECK_EQUAL(ledger[2].kind, task_kind::summarize);
  CAF_CHECK_EQUAL(job().status, job_status::succeeded);
}

CAF_TEST(recover resumes after the last recorded step) {
  job().status = job_status::processing;
  job().step = "summarize";
  job().object.version = "v1";
  messages::attempt_record r;
  r.job_id = id;
  r.object_version = "v1";
  r.kind = task_kind::probe;
  r.ok = true;
  r.output = "{recorded}";
  st().ledger.push_back(r);
  // A record of an older object version does not count.
  r.object_version = "v0";
  r.kind = task_kind::summarize;
  st().ledger.push_back(r);
  self->send(orch, atoms::recover_v);
  consume_messages();
  CAF_CHECK_EQUAL(receive_one<uint64_t>(), uint64_t{1});
  CAF_REQUIRE_EQUAL(pending().size(), 1u);
  CAF_CHECK_EQUAL(pending()[0].first.kind, task_kind::summarize);
  CAF_CHECK_EQUAL(pending()[0].first.input, "{recorded}");
  answer(0, testing::ok_outcome(pending()[0].first, "s"));
  CAF_CHECK_EQUAL(job().status, job_status::succeeded);
  CAF_CHECK_EQUAL(st().results[id].metadata, "{recorded}");
}

CAF_TEST(recover with every step recorded only writes the result) {
  job().status = job_status::processing;
  job().object.version = "v1";
  for (auto kind : {task_kind::probe, task_kind::summarize}) {
    messages::attempt_record r;
    r.job_id = id;
    r.object_version = "v1";
    r.kind = kind;
    r.ok = true;
    r.output = to_string(kind) + "-out";
    st().ledger.push_back(r);
  }
  self->send(orch, atoms::recover_v);
  consume_messages();
  CAF_CHECK(pending().empty());
  CAF_CHECK_EQUAL(job().status, job_status::succeeded);
  CAF_CHECK_EQUAL(st().results[id].summary, "summarize-out");
}

CAF_TEST(a failed job leaves a dead letter with its attempts) {
  CAF_CHECK_EQUAL(deliver(event("v1")), true);
  answer(0, testing::ok_outcome(pending()[0].first, "{meta}"));
  for (uint32_t n = 1; n <= cfg.max_attempts; ++n) {
    answer(0, testing::failed_outcome(pending()[0].first, errc::throttled));
    advance_time(1min);
    consume_messages();
  }
  CAF_CHECK_EQUAL(job().status, job_status::failed);
  CAF_REQUIRE_EQUAL(st().dead.size(), 1u);
  auto& dl = st().dead.begin()->second;
  CAF_CHECK_EQUAL(dl.job_id, id);
  CAF_CHECK_EQUAL(dl.kind, task_kind::summarize);
  CAF_CHECK_EQUAL(dl.error_code, vf::messages::errc::throttled);
  CAF_CHECK_EQUAL(dl.probe_output, "{meta}");
  CAF_CHECK_EQUAL(dl.attempts.size(), 1u + cfg.max_attempts);
  CAF_CHECK_EQUAL(dl.redriven_at, 0);
}

CAF_TEST(a refused dead letter is written again and never reruns the step) {
  CAF_CHECK_EQUAL(deliver(event("v1")), true);
  CAF_REQUIRE_EQUAL(pending().size(), 1u);
  // The store refuses the ledger record and the burial of a permanent
  // failure: the job must stay failed, not go back to running its step.
  st().fail_writes = true;
  answer(0, testing::failed_outcome(pending()[0].first, errc::bad_media));
  CAF_CHECK(pending().empty());
  CAF_CHECK(st().dead.empty());
  CAF_CHECK_EQUAL(job().status, job_status::processing); // nothing written
  st().fail_writes = false;
  advance_time(std::chrono::seconds{5});
  consume_messages();
  CAF_CHECK_EQUAL(job().status, job_status::failed);
  CAF_CHECK_EQUAL(job().error_code, vf::messages::errc::bad_media);
  CAF_REQUIRE_EQUAL(st().dead.size(), 1u);
  CAF_CHECK_EQUAL(st().dead.begin()->second.error_code, vf::messages::errc::bad_media);
  advance_time(1min);
  consume_messages();
  CAF_CHECK(pending().empty()); // no attempt beyond the failure
  CAF_CHECK_EQUAL(st().dead.size(), 1u);
}

CAF_TEST(a redrive runs once with a new attempt series) {
  CAF_CHECK_EQUAL(deliver(event("v1")), true);
  answer(0, testing::failed_outcome(pending()[0].first, errc::bad_media));
  CAF_CHECK_EQUAL(job().status, job_status::failed);
  self->send(orch, atoms::redrive_v, id);
  self->send(orch, atoms::redrive_v, id);
  consume_messages();
  auto first = receive_one<messages::job>();
  auto second = receive_one<messages::job>();
  if (!first)
    std::swap(first, second); // Replies may arrive in either order.
  CAF_REQUIRE(first);
  CAF_CHECK_EQUAL(first->series, 1u);
  CAF_CHECK_EQUAL(first->status, job_status::submitted);
  CAF_REQUIRE(!second);
  CAF_CHECK_EQUAL(messages::errc_of(second.error()), errc::conflict);
  CAF_REQUIRE_EQUAL(pending().size(), 1u);
  CAF_CHECK_EQUAL(pending()[0].first.kind, task_kind::probe);
  CAF_CHECK_EQUAL(job().series, 1u);
  CAF_CHECK_NOT_EQUAL(st().dead.begin()->second.redriven_at, 0);
  answer(0, testing::ok_outcome(pending()[0].first, "{}"));
  answer(0, testing::ok_outcome(pending()[0].first, "s"));
  CAF_CHECK_EQUAL(job().status, job_status::succeeded);
  // The evidence stays.
  CAF_CHECK_EQUAL(st().dead.size(), 1u);
}

CAF_TEST(only failed jobs can be redriven) {
  self->send(orch, atoms::redrive_v, id);
  consume_messages();
  auto r = receive_one<messages::job>();
  CAF_REQUIRE(!r);
  CAF_CHECK_EQUAL(messages::errc_of(r.error()), errc::conflict);
}

CAF_TEST(cancel interrupts the running lease) {
  CAF_CHECK_EQUAL(deliver(event("v1")), true);
  auto lease = pending()[0].first.lease_id;
  self->send(orch, atoms::cancel_v, id);
  consume_messages();
  auto& cancels = deref<testing::fake_dispatcher_impl>(disp).state.cancels;
  CAF_REQUIRE_EQUAL(cancels.size(), 1u);
  CAF_CHECK_EQUAL(cancels[0], lease);
}

CAF_TEST(uploads that never came expire on schedule) {
  add_job("old");
  job("old").created_at = t0 - 2 * cfg.upload_ttl.count();
  auto c = cfg;
  c.expire_interval = std::chrono::seconds{60};
  auto o = sys.spawn(actors::orchestrator, c, messages::stores_of(store), guard,
                     messages::dispatcher_actor{disp});
  consume_messages();
  advance_time(std::chrono::seconds{59});
  consume_messages();
  CAF_CHECK_EQUAL(job("old").status, job_status::awaiting_upload);
  advance_time(std::chrono::seconds{1});
  consume_messages();
  CAF_CHECK_EQUAL(job("old").status, job_status::expired);
  CAF_CHECK_EQUAL(job().status, job_status::awaiting_upload); // too young
  anon_send_exit(o, exit_reason::user_shutdown);
}

// -- late outcomes reported by worker nodes ----------------------------------

CAF_TEST(a late ok outcome of the current step is recorded once) {
  CAF_CHECK_EQUAL(deliver(event("v1")), true);
  auto first = pending()[0].first;
  // The node holding the first lease was declared lost; a retry runs.
  answer(0, testing::failed_outcome(first, errc::worker_lost));
  advance_time(1min);
  consume_messages();
  CAF_REQUIRE_EQUAL(pending().size(), 1u);
  auto second = pending()[0].first;
  // The lost node comes back with the result of the first lease.
  auto late = testing::ok_outcome(first, "{late}");
  self->send(orch, atoms::report_v, late);
  consume_messages();
  CAF_CHECK_EQUAL(receive_one<bool>(), true);
  // The running retry is cancelled and the pipeline moved on.
  auto& cancels = deref<testing::fake_dispatcher_impl>(disp).state.cancels;
  CAF_CHECK_EQUAL(std::count(cancels.begin(), cancels.end(), second.lease_id),
                  1);
  CAF_REQUIRE_EQUAL(pending().size(), 2u);
  CAF_CHECK_EQUAL(pending()[1].first.kind, task_kind::summarize);
  CAF_CHECK_EQUAL(pending()[1].first.input, "{late}");
  // The same report again, and the retry's own answer, are dropped.
  self->send(orch, atoms::report_v, late);
  consume_messages();
  CAF_CHECK_EQUAL(receive_one<bool>(), false);
  answer(0, testing::ok_outcome(second, "{retry}"));
  auto oks = std::count_if(st().ledger.begin(), st().ledger.end(),
                           [](const messages::attempt_record& r) {
                             return r.ok && r.kind == task_kind::probe;
                           });
  CAF_CHECK_EQUAL(oks, 1);
  answer(0, testing::ok_outcome(pending()[0].first, "s"));
  CAF_CHECK_EQUAL(job().status, job_status::succeeded);
  CAF_CHECK_EQUAL(st().results[id].metadata, "{late}");
}

CAF_TEST(an answer and a report of one lease record it once) {
  CAF_CHECK_EQUAL(deliver(event("v1")), true);
  auto t = pending()[0].first;
  // The normal answer and the node's report of it arrive together.
  self->send(disp, atoms::dispatch_v, testing::ok_outcome(t, "{a}"));
  self->send(orch, atoms::report_v, testing::ok_outcome(t, "{a}"));
  consume_messages();
  // Whichever came first was recorded; the other found it being recorded.
  static_cast<void>(receive_one<bool>());
  auto oks = std::count_if(st().ledger.begin(), st().ledger.end(),
                           [](const messages::attempt_record& r) {
                             return r.ok && r.kind == task_kind::probe;
                           });
  CAF_CHECK_EQUAL(oks, 1);
  CAF_REQUIRE_EQUAL(pending().size(), 1u);
  CAF_CHECK_EQUAL(pending()[0].first.kind, task_kind::summarize);
}

CAF_TEST(reports of other steps uploads series and failures are dropped) {
  CAF_CHECK_EQUAL(deliver(event("v1")), true);
  auto probe = pending()[0].first;
  auto send_report = [&](messages::task_outcome out) {
    self->send(orch, atoms::report_v, std::move(out));
    consume_messages();
    return receive_one<bool>();
  };
  // A failure nobody waits for.
  CAF_CHECK_EQUAL(send_report(testing::failed_outcome(probe, errc::timeout)),
                  false);
  // Another upload of the same job.
  auto other = testing::ok_outcome(probe, "{}");
  other.object_version = "v0";
  CAF_CHECK_EQUAL(send_report(other), false);
  // Another attempt series (before a redrive).
  other = testing::ok_outcome(probe, "{}");
  other.series = 7;
  CAF_CHECK_EQUAL(send_report(other), false);
  // A step the job is not at.
  other = testing::ok_outcome(probe, "{}");
  other.kind = task_kind::summarize;
  CAF_CHECK_EQUAL(send_report(other), false);
  // An unknown job.
  other = testing::ok_outcome(probe, "{}");
  other.job_id = "nope";
  CAF_CHECK_EQUAL(send_report(other), false);
  CAF_CHECK(st().ledger.empty());
  CAF_CHECK_EQUAL(pending().size(), 1u);
}

CAF_TEST(a result finished during a coordinator restart is adopted) {
  // Before the restart, lease 5 of the probe was running on a worker node.
  job().status = job_status::processing;
  job().step = "probe";
  job().object.version = "v1";
  job().attempts = 1;
  self->send(orch, atoms::recover_v);
  consume_messages();
  CAF_CHECK_EQUAL(receive_one<uint64_t>(), uint64_t{1});
  CAF_REQUIRE_EQUAL(pending().size(), 1u);
  messages::task old;
  old.job_id = id;
  old.kind = task_kind::probe;
  old.lease_id = 5;
  old.object.version = "v1";
  self->send(orch, atoms::report_v, testing::ok_outcome(old, "{from node}"));
  consume_messages();
  CAF_CHECK_EQUAL(receive_one<bool>(), true);
  CAF_REQUIRE_EQUAL(pending().size(), 2u);
  CAF_CHECK_EQUAL(pending()[1].first.kind, task_kind::summarize);
  answer(1, testing::ok_outcome(pending()[1].first, "s"));
  CAF_CHECK_EQUAL(job().status, job_status::succeeded);
  CAF_CHECK_EQUAL(st().results[id].metadata, "{from node}");
  CAF_REQUIRE_EQUAL(st().ledger.size(), 2u);
  CAF_CHECK_EQUAL(st().ledger[0].lease_id, 5u);
}

CAF_TEST_FIXTURE_SCOPE_END()
