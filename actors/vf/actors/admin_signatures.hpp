// vf/actors/admin_signatures.hpp

#pragma once

#include <cstdint>
#include <functional>
#include <iterator>
#include <map>
#include <string>

namespace vf::actors {

/// Checks operators' signed requests (the cluster registry's and the admin
/// console's): a hex HMAC-SHA256 of a payload under the cluster admin key,
/// made within a minute of this clock, each accepted once.
class admin_signatures {
public:
  /// How far a signature's time may be from the checker's clock.
  static constexpr int64_t window_ms = 60'000;

  /// True if `mac` is `sign(payload)`, `at` is within `window_ms` of `now`
  /// (both Unix ms) and `mac` was not accepted before; records it then.
  bool accept(const std::function<std::string(const std::string&)>& sign,
              const std::string& payload, int64_t at, const std::string& mac,
              int64_t now) {
    // A used signature can only come back within its window: forget it
    // after two.
    for (auto i = used_.begin(); i != used_.end();)
      i = now - i->second > 2 * window_ms ? used_.erase(i) : std::next(i);
    if (!sign || at < now - window_ms || at > now + window_ms
        || mac.size() != 64 || !same(sign(payload), mac)
        || used_.count(mac) > 0)
      return false;
    used_.emplace(mac, at);
    return true;
  }

  /// Compares without an early exit, so timing does not leak a secret.
  static bool same(const std::string& x, const std::string& y) {
    if (x.size() != y.size())
      return false;
    unsigned char diff = 0;
    for (size_t i = 0; i < x.size(); ++i)
      diff |= static_cast<unsigned char>(x[i] ^ y[i]);
    return diff == 0;
  }

private:
  /// Accepted signatures with their times.
  std::map<std::string, int64_t> used_;
};

} // namespace vf::actors
