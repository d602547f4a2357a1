// vf/adapters/http/rate_limiter.hpp
//
// Per-client token buckets for the API. One instance serves every I/O
// thread: a client's connections land on different threads (round robin),
// so per-thread tables would multiply its allowance by the thread count.
// The table is split into stripes, each with its own small lock, so threads
// rarely meet; memory stays bounded by evicting buckets that are full again
// (a full bucket is the same as no bucket).

#pragma once

#include "vf/adapters/http/exchange.hpp"

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace vf::adapters::http {

/// Token buckets keyed by client address; thread-safe.
class rate_limiter {
public:
  /// The clock buckets refill on.
  using clock = std::chrono::steady_clock;

  /// Number of independently locked parts of the table.
  static constexpr size_t stripes = 16;

  /// Limits each client to `rate` requests per second on average and
  /// `burst` at once (`burst` 0: `max(1, ceil(rate))`). `rate` 0 disables
  /// limiting. The table holds at most about `max_clients` buckets.
  rate_limiter(double rate, uint32_t burst, size_t max_clients = 65'536);

  rate_limiter(const rate_limiter&) = delete;
  rate_limiter& operator=(const rate_limiter&) = delete;

  /// Frees the table.
  ~rate_limiter();

  /// Returns whether limiting is on.
  bool enabled() const {
    return rate_ > 0;
  }

  /// Takes one token of `client`'s bucket at `now`. Returns 0 if the
  /// request may proceed, else the whole seconds (at least 1) after which
  /// it would. Refused requests take no token, so a client that waits that
  /// long is served again however hard it pushed before.
  [[nodiscard]] uint32_t acquire(const client_address& client,
                                 clock::time_point now);

  /// Returns the number of buckets held (for tests and status pages).
  size_t size() const;

  /// Returns the bucket size in effect.
  uint32_t burst() const {
    return burst_;
  }

private:
  struct stripe;

  double rate_;
  uint32_t burst_;
  size_t max_per_stripe_;
  std::unique_ptr<stripe[]> stripes_;
};

} // namespace vf::adapters::http
