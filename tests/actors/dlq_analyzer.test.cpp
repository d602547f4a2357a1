#define CAF_SUITE actors.dlq_analyzer

#include "vf/actors/dlq_analyzer.hpp"

#include "vf_test.hpp"

#include "fakes.hpp"

using namespace caf;
using namespace vf;
using messages::errc;

namespace {

constexpr int64_t t0 = 1'800'000'000'000;

messages::dead_letter record(std::string id, std::string code, int64_t at) {
  messages::dead_letter x;
  x.job_id = std::move(id);
  x.error_code = messages::errc_from_string(code); // As a store reads it.
  x.error_message = "because";
  x.created_at = at;
  return x;
}

/// An orchestrator that only answers redrives, by marking the record.
struct fake_orch_state {
  std::vector<std::string> redriven;
};

messages::orchestrator_actor::behavior_type
fake_orchestrator(messages::orchestrator_actor::stateful_pointer<fake_orch_state> self,
                  messages::dead_letter_store_actor store) {
  return {
    [](atoms::created, const messages::object_event&) { return true; },
    [](atoms::cancel, const std::string&) { return messages::job{}; },
    [](atoms::compose, const std::string&) { return messages::job{}; },
    [](atoms::recover) { return uint64_t{0}; },
    [=](atoms::redrive,
        const std::string& id) -> result<messages::job> {
      auto rp = self->make_response_promise<messages::job>();
      self->request(store, infinite, atoms::redriven_v, id, uint32_t{0}, t0)
        .then(
          [=](bool first) mutable {
            if (!first) {
              rp.deliver(messages::make_error(errc::conflict, "again"));
              return;
            }
            self->state.redriven.push_back(id);
            rp.deliver(messages::job{});
          },
          [=](error& err) mutable { rp.deliver(err); });
      return rp;
    },
    [](atoms::report, messages::task_outcome&) { return false; },
  };
}

struct fixture : testing::fixture_base {
  fixture() {
    store = sys.spawn(testing::fake_store);
    orch = sys.spawn(fake_orchestrator, store);
    actors::dlq_analyzer_config cfg;
    cfg.interval = std::chrono::minutes{5};
    cfg.window = std::chrono::hours{1};
    cfg.wall_ms = t0;
    analyzer = sys.spawn(actors::dlq_analyzer, cfg, store, orch);
    consume_messages();
    auto& dead = deref<testing::fake_store_impl>(store).state.dead;
    for (auto& r : {record("a", "bad_media", t0 - 1000),
                    record("b", "truncated", t0 - 500),
                    record("c", "timeout", t0 - 400),
                    record("d", "worker_lost", t0 - 300),
                    record("e", "storage_unavailable", t0 - 200),
                    record("f", "internal", t0 - 100),
                    record("old", "timeout", t0 - 7'200'000)})
      dead[{r.job_id, 0}] = r;
  }

  ~fixture() {
    for (auto hdl : {actor_cast<actor>(analyzer), actor_cast<actor>(orch),
                     actor_cast<actor>(store)})
      anon_send_exit(hdl, exit_reason::user_shutdown);
    run();
  }

  template <class T, class... Ts>
  expected<T> ask(Ts... xs) {
    self->send(analyzer, xs...);
    consume_messages();
    expected<T> result = messages::make_error(errc::internal, "no reply");
    self->receive([&](T& x) { result = std::move(x); },
                  [&](error& x) { result = std::move(x); },
                  after(std::chrono::seconds(0)) >> [] {});
    return result;
  }

  const messages::incident_category*
  find(const messages::incident_report& rep, const std::string& name) {
    for (auto& c : rep.categories)
      if (c.name == name)
        return &c;
    return nullptr;
  }

  messages::store_actor store;
  messages::orchestrator_actor orch;
  messages::dlq_analyzer_actor analyzer;
};

} // namespace

CAF_TEST(classification uses error codes only) {
  auto c = [](std::string code, std::string msg = "") {
    auto x = record("j", std::move(code), 0);
    x.error_message = std::move(msg);
    return actors::classify(x);
  };
  CAF_CHECK_EQUAL(c("bad_media"), "bad_media");
  CAF_CHECK_EQUAL(c("truncated"), "bad_media");
  CAF_CHECK_EQUAL(c("unsupported_codec"), "bad_media");
  CAF_CHECK_EQUAL(c("timeout"), "timeout");
  CAF_CHECK_EQUAL(c("throttled"), "provider_error");
  CAF_CHECK_EQUAL(c("provider_error"), "provider_error");
  CAF_CHECK_EQUAL(c("storage_unavailable"), "dependency_unavailable");
  CAF_CHECK_EQUAL(c("worker_lost"), "crash");
  CAF_CHECK_EQUAL(c("cancelled"), "cancelled");
  CAF_CHECK_EQUAL(c("no_worker"), "no_worker");
  CAF_CHECK_EQUAL(c("internal"), "unexpected_exception");
  CAF_CHECK_EQUAL(c("something new"), "unexpected_exception");
  // A message that reads like a timeout does not make it one.
  CAF_CHECK_EQUAL(c("internal", "timeout while decoding"),
                  "unexpected_exception");
}

CAF_TEST_FIXTURE_SCOPE(dlq_analyzer_tests, fixture)

CAF_TEST(a report over all records groups them by category) {
  auto rep = ask<messages::incident_report>(atoms::analyze_v, int64_t{0});
  CAF_REQUIRE(rep);
  CAF_CHECK_EQUAL(rep->total, 7u);
  CAF_CHECK_EQUAL(rep->generated_at, t0);
  auto bad = find(*rep, "bad_media");
  CAF_REQUIRE(bad != nullptr);
  CAF_CHECK_EQUAL(bad->count, 2u);
  CAF_CHECK_EQUAL(bad->first_seen, t0 - 1000);
  CAF_CHECK_EQUAL(bad->last_seen, t0 - 500);
  CAF_CHECK_EQUAL(bad->samples.size(), 2u);
  CAF_CHECK(!bad->recommendation.empty());
  CAF_REQUIRE(find(*rep, "timeout") != nullptr);
  CAF_CHECK_EQUAL(find(*rep, "timeout")->count, 2u);
  CAF_CHECK(find(*rep, "crash") != nullptr);
  CAF_CHECK(find(*rep, "dependency_unavailable") != nullptr);
  CAF_CHECK(find(*rep, "unexpected_exception") != nullptr);
  CAF_CHECK(find(*rep, "provider_error") == nullptr);
  // Analysis never drains the records.
  CAF_CHECK_EQUAL(deref<testing::fake_store_impl>(store).state.dead.size(), 7u);
}

CAF_TEST(a window leaves older records out) {
  auto rep = ask<messages::incident_report>(atoms::analyze_v,
                                            int64_t{3'600'000});
  CAF_REQUIRE(rep);
  CAF_CHECK_EQUAL(rep->total, 6u);
  CAF_CHECK_EQUAL(rep->window_start, t0 - 3'600'000);
  CAF_CHECK_EQUAL(find(*rep, "timeout")->count, 1u);
}

CAF_TEST(the scheduled report runs on the actor clock) {
  auto before = ask<messages::incident_report>(atoms::get_v);
  CAF_REQUIRE(before);
  CAF_CHECK_EQUAL(before->total, 0u);
  advance_time(std::chrono::minutes{5});
  consume_messages();
  auto after = ask<messages::incident_report>(atoms::get_v);
  CAF_REQUIRE(after);
  CAF_CHECK_EQUAL(after->total, 6u); // window: 1 h
}

CAF_TEST(redriving a category redrives its open records once) {
  auto n = ask<uint64_t>(atoms::redrive_v, std::string{"bad_media"});
  CAF_CHECK_EQUAL(n, uint64_t{2});
  auto& redriven
    = deref<messages::orchestrator_actor::stateful_base<fake_orch_state>>(orch)
        .state.redriven;
  CAF_CHECK_EQUAL(redriven.size(), 2u);
  n = ask<uint64_t>(atoms::redrive_v, std::string{"bad_media"});
  CAF_CHECK_EQUAL(n, uint64_t{0});
  CAF_CHECK_EQUAL(redriven.size(), 2u);
  auto bad = ask<uint64_t>(atoms::redrive_v, std::string{"nonsense"});
  CAF_REQUIRE(!bad);
  CAF_CHECK_EQUAL(messages::errc_of(bad.error()), errc::invalid_argument);
}

CAF_TEST_FIXTURE_SCOPE_END()
