// bench/request_timeouts_bench.cpp — what an answered `request(...)` holds
// in CAF 0.17.6, by the timeout it was made with, next to the same requests
// timed by the actor itself (`vf::actors::ask`, request_timeouts.hpp). One
// long-lived actor (like the orchestrator) sends rounds of requests to an
// echo actor and waits for every answer; after each round the bench prints
// the heap in use beyond the start, per request sent so far. (No times:
// with one malloc arena, which the count needs, every thread contends for
// its lock; bench/cpu_budget.py measures the CPU.)
//
//   vf-bench-request-timeouts [--requests N] [--rounds R]
//
// Measured here (2026-12-07): ~190 bytes per answered request stay in the
// actor clock until the request's timeout elapses (a multimap entry with
// the actor's strong reference); none with `caf::infinite`, none after a
// 1 s timeout has elapsed. 2026-12-08: `ask` with a 30 s or 1 h timeout
// holds 0.0 bytes per answered request, as `caf::infinite`. Numbers only,
// no verdicts.

#include <malloc.h>

#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "caf/event_based_actor.hpp"
#include "caf/exec_main.hpp"
#include "caf/send.hpp"
#include "caf/stateful_actor.hpp"

#include "vf/actors/request_timeouts.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

namespace {

using namespace std::chrono_literals;

std::atomic<int> answered{0};

size_t heap_in_use() {
  return mallinfo2().uordblks;
}

caf::behavior echo(caf::event_based_actor*) {
  return {[](int x) { return x; }};
}

/// A requester that times its requests itself.
struct asker_state {
  vf::actors::request_timeouts timeouts;
};

/// Rounds of `n` requests from one long-lived actor with timeout `timeout`
/// (`infinite` when not valid), by CAF's clock or, with `own`, by the
/// actor's `request_timeouts`; prints the retained bytes per request after
/// each round.
void measure(caf::actor_system& sys, const char* label, caf::duration timeout,
             bool own, std::chrono::milliseconds settle, int n, int rounds) {
  auto target = sys.spawn(echo);
  caf::actor requester;
  if (own)
    requester
      = sys.spawn([=](caf::stateful_actor<asker_state>* self) -> caf::behavior {
          return {[=](int) {
            for (int i = 0; i < n; ++i)
              vf::actors::ask(self, self->state.timeouts, target, timeout, i)
                .then([](int) { ++answered; }, [](caf::error&) {});
          }};
        });
  else
    requester = sys.spawn([=](caf::event_based_actor* self) -> caf::behavior {
      return {[=](int) {
        for (int i = 0; i < n; ++i)
          self->request(target, timeout, i).then([](int) { ++answered; });
      }};
    });
  // A first round warms CAF's caches and the allocator; measured from its
  // end.
  auto run_round = [&] {
    answered = 0;
    caf::anon_send(requester, 1);
    while (answered.load() < n)
      std::this_thread::sleep_for(5ms);
    std::this_thread::sleep_for(settle);
  };
  run_round();
  auto base = heap_in_use();
  std::printf("%-34s", label);
  for (int r = 1; r <= rounds; ++r) {
    run_round();
    auto grown = static_cast<double>(heap_in_use()) - static_cast<double>(base);
    std::printf(" %8.1f", grown / (static_cast<double>(n) * r));
  }
  std::printf("   bytes/request after each round\n");
  caf::anon_send_exit(requester, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(target, caf::exit_reason::user_shutdown);
}

int requests = 50000;
int rounds = 4;

void caf_main(caf::actor_system& sys) {
  std::printf("Request timeouts: %d answered requests per round, one "
              "long-lived requester\n",
              requests);
  auto secs = [](int n) {
    return caf::duration{std::chrono::seconds{n}};
  };
  measure(sys, "CAF clock, timeout 1 h", secs(3600), false, 100ms, requests,
          rounds);
  measure(sys, "CAF clock, timeout 30 s", secs(30), false, 100ms, requests,
          rounds);
  measure(sys, "CAF clock, 1 s, read after 1.5 s", secs(1), false, 1500ms,
          requests, rounds);
  measure(sys, "own (ask), timeout 1 h", secs(3600), true, 100ms, requests,
          rounds);
  measure(sys, "own (ask), timeout 30 s", secs(30), true, 100ms, requests,
          rounds);
  measure(sys, "caf::infinite", caf::duration{caf::infinite}, false, 100ms,
          requests, rounds);
}

} // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&](int& out) {
      if (i + 1 >= argc || (out = std::atoi(argv[++i])) <= 0) {
        std::fprintf(stderr, "%s needs a positive number\n", a.c_str());
        std::exit(2);
      }
    };
    if (a == "--requests")
      next(requests);
    else if (a == "--rounds")
      next(rounds);
    else {
      std::printf("usage: vf-bench-request-timeouts [--requests N] "
                  "[--rounds R]\n\nWhat an answered request still holds (heap "
                  "bytes per request), by its timeout, on CAF's clock and "
                  "timed by the actor itself.\n");
      return a == "--help" || a == "-h" ? 0 : 2;
    }
  }
  // One malloc arena, so that mallinfo2 (main arena only) sees every
  // allocation of every thread.
  mallopt(M_ARENA_MAX, 1);
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  caf_main(sys);
  return 0;
}
