// The vidflow binary: everything lives in vf::runtime.

#include "vf/runtime/cli.hpp"

#include <malloc.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

int main(int argc, char** argv) {
  // glibc gives threads that contend their own malloc arena, up to 8 per
  // core, and memory freed stays with its arena: a node's ~25 threads
  // (CAF, Asio, the blocking pool) slowly fragment many arenas while the
  // live heap stays small (heaptrack). 5-minute soaks at 80 jobs/s after
  // the first two minutes: RSS +3.2 MiB a minute with glibc's default,
  // +1.0 with two arenas (the idempotency guard filling its bounded cache);
  // a malloc_trim() a minute instead did not help then, while the live heap
  // itself grew (CAF's clock held day-long request timeouts, found later).
  // With the cap, `serve` now also trims every minute
  // (memory.trim_interval_s, node::wait). POST /jobs under wrk (50
  // connections) moved within this machine's noise either way. One arena
  // per core, 2 to 8, set before any thread exists; MALLOC_ARENA_MAX in the
  // environment still decides.
  if (std::getenv("MALLOC_ARENA_MAX") == nullptr) {
    auto cores = std::thread::hardware_concurrency();
    mallopt(M_ARENA_MAX, static_cast<int>(std::clamp(cores, 2u, 8u)));
  }
  // glibc gives memory back as soon as more than 128 KiB is free at the top
  // of a heap (until a large mmap'ed block is freed, which never happens
  // here). The job store's thread crossed that line on nearly every SQLite
  // statement: brk shrinks and grows the heap again, each time a TLB
  // shootdown across cores and fresh page faults (perf: a quarter of the
  // store thread's time under POST /jobs). Keep up to 16 MiB free per
  // heap; blocks from 4 MiB (glibc's own limit would grow to 32) come
  // from mmap. POST /jobs under wrk, 50 connections, A/B alternating:
  // 5.0-6.4k -> 6.7-8.4k req/s. MALLOC_TRIM_THRESHOLD_, MALLOC_MMAP_
  // THRESHOLD_ or GLIBC_TUNABLES in the environment still decide.
  if (std::getenv("MALLOC_TRIM_THRESHOLD_") == nullptr
      && std::getenv("MALLOC_MMAP_THRESHOLD_") == nullptr
      && std::getenv("GLIBC_TUNABLES") == nullptr) {
    mallopt(M_MMAP_THRESHOLD, 4 << 20);
    mallopt(M_TRIM_THRESHOLD, 16 << 20);
  }
  return vf::runtime::run(argc, argv);
}
