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
  // a malloc_trim() a minute instead did not help. POST /jobs under wrk
  // (50 connections) moved within this machine's noise either way. One
  // arena per core, 2 to 8, set before any thread exists;
  // MALLOC_ARENA_MAX in the environment still decides.
  if (std::getenv("MALLOC_ARENA_MAX") == nullptr) {
    auto cores = std::thread::hardware_concurrency();
    mallopt(M_ARENA_MAX, static_cast<int>(std::clamp(cores, 2u, 8u)));
  }
  return vf::runtime::run(argc, argv);
}
