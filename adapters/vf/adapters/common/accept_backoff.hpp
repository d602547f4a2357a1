// vf/adapters/common/accept_backoff.hpp
//
// What a listener does when `accept` fails (typically EMFILE/ENFILE: out of
// file descriptors): wait before the next try, longer while failures go on,
// and log at most one line per interval instead of one per try.

#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

namespace vf::adapters::common {

/// Backoff and log throttling for a failing `accept`. Not thread-safe: use
/// it from the acceptor's own thread.
class accept_backoff {
public:
  using clock = std::chrono::steady_clock;

  /// First wait, longest wait and the shortest interval between two logs.
  accept_backoff(std::chrono::milliseconds first = std::chrono::milliseconds{50},
                 std::chrono::milliseconds longest = std::chrono::seconds{1},
                 std::chrono::milliseconds log_interval = std::chrono::seconds{5})
    : first_(first), longest_(longest), log_interval_(log_interval) {
  }

  /// Records a failure at `now`; returns how long to wait before the next
  /// accept. `log_line` receives a warning to log, or stays empty when one
  /// was logged less than `log_interval` ago (the next one counts those).
  std::chrono::milliseconds failed(const std::string& what, clock::time_point now,
                                   std::string& log_line) {
    delay_ = delay_.count() == 0 ? first_ : std::min(delay_ * 2, longest_);
    ++suppressed_;
    if (!last_log_ || now - *last_log_ >= log_interval_) {
      log_line = "accept failed: " + what + " (" + std::to_string(suppressed_)
                 + " failure(s) since the last report); retrying in "
                 + std::to_string(delay_.count()) + " ms";
      suppressed_ = 0;
      last_log_ = now;
    } else {
      log_line.clear();
    }
    return delay_;
  }

  /// Records a successful accept: the next failure waits `first` again.
  void succeeded() {
    delay_ = std::chrono::milliseconds{0};
  }

private:
  std::chrono::milliseconds first_;
  std::chrono::milliseconds longest_;
  std::chrono::milliseconds log_interval_;
  std::chrono::milliseconds delay_{0};
  size_t suppressed_ = 0;
  std::optional<clock::time_point> last_log_;
};

} // namespace vf::adapters::common
