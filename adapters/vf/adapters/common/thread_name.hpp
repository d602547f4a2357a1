// vf/adapters/common/thread_name.hpp
//
// Names the calling thread, so that `top -H`, `perf` and `/proc/PID/task`
// tell which part of a node a thread works for (CAF names its own threads
// `caf.*`; ours would otherwise all be called `vidflow`).

#pragma once

#include <cstring>

#include <pthread.h>

namespace vf::adapters::common {

/// Names the calling thread `name`, cut to the 15 bytes Linux keeps.
inline void name_this_thread(const char* name) {
  char buf[16] = {};
  std::strncpy(buf, name, sizeof(buf) - 1);
  ::pthread_setname_np(::pthread_self(), buf);
}

} // namespace vf::adapters::common
