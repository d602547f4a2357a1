// bench/child_cost.hpp
//
// What a piece of work costs when it runs alone in a child process: wall
// time, CPU seconds (user + system, from wait4) and peak RSS. Used by the
// media benches to put the ffmpeg CLI and our in-process code side by side.

#pragma once

#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

extern char** environ;

namespace vf::bench {

using clock_type = std::chrono::steady_clock;

/// What one child process cost.
struct cost {
  bool ok = false;
  double wall_s = 0;
  double cpu_s = 0;
  double rss_mib = 0;
};

inline double seconds_of(const timeval& tv) {
  return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
}

inline cost wait_child(pid_t pid, clock_type::time_point start) {
  cost out;
  int status = 0;
  struct rusage ru {};
  if (::wait4(pid, &status, 0, &ru) != pid)
    return out;
  out.wall_s = std::chrono::duration<double>(clock_type::now() - start).count();
  out.cpu_s = seconds_of(ru.ru_utime) + seconds_of(ru.ru_stime);
  out.rss_mib = static_cast<double>(ru.ru_maxrss) / 1024.0;
  out.ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  return out;
}

/// Runs `ffmpeg ARGS` (no shell), output and errors to /dev/null.
inline cost run_ffmpeg(std::vector<std::string> args) {
  args.insert(args.begin(),
              {"ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-y"});
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (auto& arg : args)
    argv.push_back(arg.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null",
                                   O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null",
                                   O_WRONLY, 0);
  auto start = clock_type::now();
  pid_t pid = 0;
  int err
    = posix_spawnp(&pid, "ffmpeg", &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (err != 0)
    return {};
  return wait_child(pid, start);
}

/// Runs `fn` in a forked child (exit status 0 iff it returns true).
inline cost run_forked(const std::function<bool()>& fn) {
  std::fflush(nullptr);
  auto start = clock_type::now();
  pid_t pid = ::fork();
  if (pid < 0)
    return {};
  if (pid == 0)
    ::_exit(fn() ? 0 : 1);
  return wait_child(pid, start);
}

} // namespace vf::bench
