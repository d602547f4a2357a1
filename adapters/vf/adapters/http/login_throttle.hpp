// vf/adapters/http/login_throttle.hpp
//
// Slows password guessing down. Failed logins are counted per user name
// (whoever sends them: guessing one account from many addresses) and per
// client address (whatever names it tries: spraying one password over many
// accounts). After `free_failures` failures, each further failure makes the
// next attempt wait 1 s, 2 s, 4 s, ... up to `max_delay_s`; an attempt that
// comes earlier gets 429 without its password being checked. A successful
// login clears the name's count (not the client's: owning one account must
// not buy more guesses at others). Counts are forgotten after `quiet_s`
// seconds without a failure. The table is bounded: the least recently
// touched entry goes first.

#pragma once

#include "vf/adapters/http/exchange.hpp"

#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace vf::adapters::http {

/// Failed-login counters per name and per client; thread-safe.
class login_throttle {
public:
  /// How hard the throttle bites.
  struct policy {
    /// Failures allowed without any wait.
    uint32_t free_failures = 5;
    /// Longest wait between attempts, in seconds.
    int64_t max_delay_s = 300;
    /// A count is forgotten this long after its last failure.
    int64_t quiet_s = 900;
    /// Most entries kept (names and clients together).
    size_t max_entries = 100'000;
  };

  /// Creates an empty throttle.
  explicit login_throttle(policy p);

  /// Creates an empty throttle with the default policy.
  login_throttle();

  /// Returns 0 if a login for `name` from `client` may be checked at `now`
  /// (Unix seconds), else the whole seconds (at least 1) to wait.
  [[nodiscard]] uint32_t check(std::string_view name,
                               const client_address& client, int64_t now);

  /// Records a failed login.
  void failed(std::string_view name, const client_address& client,
              int64_t now);

  /// Records a successful login: clears `name`'s count.
  void succeeded(std::string_view name);

  /// Returns the number of entries held.
  size_t size() const;

private:
  struct entry {
    uint32_t failures = 0;
    int64_t last_failure = 0;
    int64_t blocked_until = 0;
    std::list<std::string>::iterator lru;
  };

  static std::string name_key(std::string_view name);
  static std::string client_key(const client_address& client);

  uint32_t wait_of(const std::string& key, int64_t now);
  void count(const std::string& key, int64_t now);

  policy policy_;
  mutable std::mutex mtx_;
  std::unordered_map<std::string, entry> entries_;
  /// Keys, most recently touched first.
  std::list<std::string> lru_;
};

} // namespace vf::adapters::http
