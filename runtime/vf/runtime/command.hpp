// vf/runtime/command.hpp
//
// What the long-running commands (`serve`, `worker`) share: their command
// line, their settings, their directories and their stop signals.

#pragma once

#include "vf/runtime/settings.hpp"

#include "caf/actor_system_config.hpp"

#include <csignal>
#include <optional>
#include <string>
#include <vector>

namespace vf::runtime {

/// A command line split into settings flags and bare switches.
struct command_line {
  /// Flags for `settings::load`.
  std::vector<std::string> args;
  bool help = false;
  bool print_config = false;
  /// The command's own bare switches that were given (e.g. `--drain`).
  std::vector<std::string> switches;

  bool has(const std::string& name) const;
};

/// Splits `raw`: `-h`/`--help`, `--print-config` and the names in
/// `switches` are taken out, everything else is left for the settings.
command_line parse_command_line(const std::vector<std::string>& raw,
                                const std::vector<std::string>& switches = {});

/// Loads `specs` from file, environment and `cmd.args`. On a bad setting
/// prints `vidflow <name>: <what is wrong>` and sets `exit_code` to 2; with
/// `--print-config` prints the settings and sets `exit_code` to 0. Returns
/// the settings only when the command should go on.
std::optional<settings> load_settings(const std::string& name,
                                      const std::vector<setting_spec>& specs,
                                      const command_line& cmd, int& exit_code);

/// Registers our message types and sets CAF's scheduler: `policy` and
/// `threads` (0: `default_scheduler_threads()`).
void configure_actor_system(caf::actor_system_config& sys_cfg,
                            scheduler_policy policy, size_t threads);

/// Scheduler threads when none are configured: half the cores, at least one.
size_t default_scheduler_threads();

/// Creates `path` and its parents; false if that is impossible.
bool make_dirs(const std::string& path);

/// Blocks SIGINT and SIGTERM in this thread and every thread started later
/// (call it before any thread starts; wait for them with `sigwait` or poll
/// with `sigtimedwait`), and ignores SIGPIPE. Returns the blocked set.
sigset_t block_stop_signals();

} // namespace vf::runtime
