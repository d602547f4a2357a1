// vf/runtime/command.cpp

#include "vf/runtime/command.hpp"

#include <pthread.h>
#include <sys/stat.h>

#include "vf/messages/errc.hpp"
#include "vf/messages/register_types.hpp"

#include <algorithm>
#include <cerrno>
#include <iostream>
#include <thread>

namespace vf::runtime {

bool command_line::has(const std::string& name) const {
  return std::find(switches.begin(), switches.end(), name) != switches.end();
}

command_line parse_command_line(const std::vector<std::string>& raw,
                                const std::vector<std::string>& switches) {
  command_line cmd;
  for (auto& a : raw) {
    if (a == "-h" || a == "--help")
      cmd.help = true;
    else if (a == "--print-config")
      cmd.print_config = true;
    else if (std::find(switches.begin(), switches.end(), a) != switches.end())
      cmd.switches.push_back(a);
    else
      cmd.args.push_back(a);
  }
  return cmd;
}

std::optional<settings> load_settings(const std::string& name,
                                      const std::vector<setting_spec>& specs,
                                      const command_line& cmd, int& exit_code) {
  auto xs = settings::load(specs, cmd.args);
  if (!xs) {
    std::cerr << "vidflow " << name << ": " << messages::message_of(xs.error())
              << "\n";
    exit_code = 2;
    return std::nullopt;
  }
  if (cmd.print_config) {
    std::cout << xs->dump(specs);
    exit_code = 0;
    return std::nullopt;
  }
  return std::move(*xs);
}

void configure_actor_system(caf::actor_system_config& sys_cfg,
                            scheduler_policy policy, size_t threads) {
  messages::register_types(sys_cfg);
  sys_cfg.set("scheduler.policy", policy == scheduler_policy::stealing
                                    ? caf::atom("stealing")
                                    : caf::atom("sharing"));
  sys_cfg.set("scheduler.max-threads",
              threads > 0 ? threads : default_scheduler_threads());
}

size_t default_scheduler_threads() {
  // CAF's own default is max(4, cores). Here the scheduler runs only the
  // light actors (orchestrator, dispatcher, registry, the HTTP bridges):
  // probes, media, SQLite and every blocking call have threads of their own
  // (detached actors, the Asio I/O threads). Idle scheduler threads cost a
  // wake-up per message; on 2 cores one thread did 4-24 % more jobs/s than
  // CAF's four end to end, and a lower POST /jobs p99 in 5 of 6 pairs
  // (docs/performance.md).
  auto cores = static_cast<size_t>(std::thread::hardware_concurrency());
  return std::max<size_t>(1, cores / 2);
}

bool make_dirs(const std::string& path) {
  std::string cur;
  for (size_t i = 0; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/')
      if (!cur.empty() && ::mkdir(cur.c_str(), 0700) != 0 && errno != EEXIST)
        return false;
    if (i < path.size())
      cur += path[i];
  }
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

sigset_t block_stop_signals() {
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  return sigs;
}

} // namespace vf::runtime
