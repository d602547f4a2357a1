// bench/request_timeouts_bench.cpp — what an answered `request(...)` still
// holds in CAF 0.17.6, by the timeout it was made with. One long-lived
// actor (like the orchestrator) sends rounds of requests to an echo actor
// and waits for every answer; after each round the bench prints the heap in
// use beyond the start, per request sent so far.
//
//   vf-bench-request-timeouts [--requests N] [--rounds R]
//
// Measured here (2026-12-07): ~190 bytes per answered request stay in the
// actor clock until the request's timeout elapses (a multimap entry with
// the actor's strong reference); none with `caf::infinite`, none after a
// 1 s timeout has elapsed. Why the orchestrator's dispatch has no timeout
// (actors/vf/actors/orchestrator.cpp). Numbers only, no verdicts.

#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "caf/event_based_actor.hpp"
#include "caf/exec_main.hpp"
#include "caf/send.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include <malloc.h>

namespace {

using namespace std::chrono_literals;

std::atomic<int> answered{0};

size_t heap_in_use() {
  return mallinfo2().uordblks;
}

caf::behavior echo(caf::event_based_actor*) {
  return {[](int x) { return x; }};
}

/// Rounds of `n` requests from one long-lived actor with timeout `timeout`
/// (`infinite` when not valid); prints the retained bytes per request.
void measure(caf::actor_system& sys, const char* label, caf::duration timeout,
             std::chrono::milliseconds settle, int n, int rounds) {
  auto target = sys.spawn(echo);
  auto requester = sys.spawn([=](caf::event_based_actor* self) -> caf::behavior {
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
  std::printf("CAF request timeouts: %d answered requests per round, one "
              "long-lived requester\n",
              requests);
  measure(sys, "timeout 1 h",
          caf::duration{std::chrono::seconds{3600}}, 100ms, requests, rounds);
  measure(sys, "timeout 30 s (store asks)",
          caf::duration{std::chrono::seconds{30}}, 100ms, requests, rounds);
  measure(sys, "timeout 1 s, read after 1.5 s",
          caf::duration{std::chrono::seconds{1}}, 1500ms, requests, rounds);
  measure(sys, "caf::infinite", caf::duration{caf::infinite}, 100ms, requests,
          rounds);
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
                  "[--rounds R]\n\nWhat an answered CAF request still holds, "
                  "by its timeout (heap bytes per request).\n");
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
