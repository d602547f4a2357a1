// vf/adapters/common/effects_log.hpp
//
// TEST ONLY (`testing.effects_log`; off unless a path is set): a file outside
// the system's own stores that gets one JSON line for every task a worker
// finished ("exec") and one for every ok step the job store committed to
// the attempt ledger ("record"). The chaos and cluster tests count effects
// from it, independently of the ledger they also read through the API: a
// step recorded twice shows as two "record" lines even if the ledger or the
// orchestrator later hid one, and work that ran but was never recorded
// shows as an "exec" line without its "record".
//
// Lines are appended with one write(2) on an O_APPEND descriptor, so the
// lines of several processes (a coordinator and its worker nodes) sharing
// one file never interleave. A line is written after the fact it reports:
// an "exec" before the worker answers, a "record" after the COMMIT; a kill
// between the two loses the line, never invents one.

#pragma once

#include "vf/messages/dead_letter.hpp"
#include "vf/messages/task.hpp"

#include "caf/expected.hpp"

#include <memory>
#include <string>

namespace vf::adapters::common {

/// An open effects log; share it with `std::shared_ptr`.
class effects_log {
public:
  /// Opens `path` for appending, creating it (0600) if needed. Fails with
  /// `invalid_argument` naming the path and the reason.
  static caf::expected<std::shared_ptr<effects_log>>
  open(const std::string& path);

  ~effects_log();
  effects_log(const effects_log&) = delete;
  effects_log& operator=(const effects_log&) = delete;

  /// Appends that a worker finished `out` (ok or not).
  void exec(const messages::task_outcome& out);

  /// Appends that the ledger committed the ok attempt `rec`.
  void record(const messages::attempt_record& rec);

  /// Appends `line` (one JSON object, no newline) and a newline.
  void append(std::string line);

private:
  explicit effects_log(int fd) : fd_(fd) {
  }

  int fd_;
};

} // namespace vf::adapters::common
