#define CAF_SUITE actors.request_timeouts

#include "vf/actors/request_timeouts.hpp"

#include "vf_test.hpp"

#include "caf/sec.hpp"

#include <string>
#include <vector>

using namespace caf;
using namespace std::chrono_literals;

namespace {

/// Answers `x >= 0` at once with `x`; keeps the promise of `x < 0` and
/// never answers it.
struct server_state {
  static inline const char* name = "server";
  std::vector<response_promise> kept;
};

behavior server(stateful_actor<server_state>* self) {
  return {
    [=](int32_t x) -> result<int32_t> {
      if (x >= 0)
        return x;
      self->state.kept.push_back(self->make_response_promise());
      return self->state.kept.back();
    },
  };
}

/// Asks the server `x` with a timeout of `ms` when told `(tag, x, ms)` and
/// writes what came back into `log`: `tag=value` or `tag:timeout`.
struct client_state {
  static inline const char* name = "client";
  vf::actors::request_timeouts timeouts;
  std::vector<std::string> log;
};

behavior client(stateful_actor<client_state>* self, actor srv) {
  return {
    [=](const std::string& tag, int32_t x, int64_t ms) {
      auto timeout
        = ms < 0 ? duration{infinite} : duration{std::chrono::milliseconds{ms}};
      vf::actors::ask(self, self->state.timeouts, srv, timeout, x)
        .then(
          [=](int32_t y) {
            self->state.log.push_back(tag + "=" + std::to_string(y));
          },
          [=](error& err) {
            self->state.log.push_back(
              tag + (err == sec::request_timeout ? ":timeout" : ":error"));
          });
    },
  };
}

struct fixture : vf::testing::fixture_base {
  fixture() {
    srv = sys.spawn(server);
    cl = sys.spawn(client, srv);
    consume_messages();
  }

  ~fixture() {
    // The server's kept promises and the client's handle of the server
    // keep each other alive: stop both, or the system waits for them.
    anon_send_exit(cl, exit_reason::user_shutdown);
    anon_send_exit(srv, exit_reason::user_shutdown);
    consume_messages();
  }

  void ask(std::string tag, int32_t x, int64_t ms) {
    self->send(cl, std::move(tag), x, ms);
    consume_messages();
  }

  client_state& st() {
    return deref<stateful_actor<client_state>>(cl).state;
  }

  /// Entries on CAF's clock right now.
  size_t clock_entries() {
    return sched.clock().schedule().size();
  }

  actor srv;
  actor cl;
};

using log_type = std::vector<std::string>;

} // namespace

CAF_TEST_FIXTURE_SCOPE(request_timeouts_tests, fixture)

CAF_TEST(an answer settles its request and nothing fires later) {
  ask("a", 7, 1000);
  CAF_CHECK_EQUAL(st().log, log_type({"a=7"}));
  CAF_CHECK_EQUAL(st().timeouts.outstanding(), 0u);
  advance_time(2s);
  consume_messages();
  CAF_CHECK_EQUAL(st().log, log_type({"a=7"}));
}

CAF_TEST(an unanswered request fails with request_timeout at its deadline) {
  ask("a", -1, 1000);
  CAF_CHECK_EQUAL(st().timeouts.outstanding(), 1u);
  advance_time(999ms);
  consume_messages();
  CAF_CHECK_EQUAL(st().log, log_type{});
  advance_time(1ms);
  consume_messages();
  CAF_CHECK_EQUAL(st().log, log_type({"a:timeout"}));
  CAF_CHECK_EQUAL(st().timeouts.outstanding(), 0u);
}

CAF_TEST(many requests share one alarm on the clock) {
  for (int32_t i = 0; i < 100; ++i)
    ask("r" + std::to_string(i), i, 30000);
  CAF_CHECK_EQUAL(st().log.size(), 100u);
  CAF_CHECK_EQUAL(st().timeouts.outstanding(), 0u);
  // CAF's own timeouts would be 100 entries until they elapse.
  CAF_CHECK_EQUAL(st().timeouts.alarms(), 1u);
  CAF_CHECK_EQUAL(clock_entries(), 1u);
  // The alarm fires for a settled deadline and sets no new one.
  advance_time(30s);
  consume_messages();
  CAF_CHECK_EQUAL(clock_entries(), 0u);
  CAF_CHECK_EQUAL(st().log.size(), 100u);
  // The next request sets a new alarm.
  ask("late", -1, 1000);
  CAF_CHECK_EQUAL(st().timeouts.alarms(), 2u);
  advance_time(1s);
  consume_messages();
  CAF_CHECK_EQUAL(st().log.back(), "late:timeout");
}

CAF_TEST(an earlier deadline behind a later one still fires on time) {
  ask("long", -1, 10000);
  ask("short", -2, 1000);
  ask("answered", 3, 500);
  advance_time(1s);
  consume_messages();
  CAF_CHECK_EQUAL(st().log, log_type({"answered=3", "short:timeout"}));
  advance_time(8999ms);
  consume_messages();
  CAF_CHECK_EQUAL(st().log.size(), 2u);
  advance_time(1ms);
  consume_messages();
  CAF_CHECK_EQUAL(st().log,
                  log_type({"answered=3", "short:timeout", "long:timeout"}));
  CAF_CHECK_EQUAL(st().timeouts.outstanding(), 0u);
}

CAF_TEST(an overdue request among answered ones fails alone) {
  ask("a", 1, 2000);
  ask("b", -1, 2000);
  ask("c", 2, 2000);
  advance_time(2s);
  consume_messages();
  CAF_CHECK_EQUAL(st().log, log_type({"a=1", "c=2", "b:timeout"}));
}

CAF_TEST(an infinite timeout is not tracked) {
  ask("forever", -1, -1);
  CAF_CHECK_EQUAL(st().timeouts.outstanding(), 0u);
  CAF_CHECK_EQUAL(clock_entries(), 0u);
  advance_time(24h);
  consume_messages();
  CAF_CHECK_EQUAL(st().log, log_type{});
}

CAF_TEST_FIXTURE_SCOPE_END()
