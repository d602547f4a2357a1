// vf/adapters/http/api_state.hpp
//
// What every I/O thread of the API server shares: settings, actor handles,
// metrics, accounts and the limiters.

#pragma once

#include "vf/adapters/http/api_server.hpp"
#include "vf/adapters/http/http_metrics.hpp"
#include "vf/adapters/http/login_throttle.hpp"
#include "vf/adapters/http/rate_limiter.hpp"
#include "vf/adapters/http/stream_limits.hpp"
#include "vf/adapters/http/web_app.hpp"
#include "vf/adapters/http/user_table.hpp"

#include <cstdint>
#include <memory>

namespace vf::adapters::http {

/// What all I/O threads share; read-only once the server runs (the metric
/// families and the rate limiter are thread-safe).
struct api_state {
  /// Builds the shared state; throws on a metric family clash.
  api_state(api_config cfg, api_handles hdl,
            std::shared_ptr<prometheus::Registry> registry);

  /// Returns the current Unix time in seconds.
  int64_t now() const;

  /// Settings as given.
  api_config config;
  /// Actors to talk to.
  api_handles handles;
  /// Metric families; mutable because they are thread-safe counters.
  mutable http_metrics metrics;
  /// The accounts: `config.accounts`, or one built from `config.users`.
  std::shared_ptr<const user_table> users;
  /// Failed-login counters; mutable because it locks internally.
  mutable login_throttle throttle;
  /// Token buckets per client; mutable because it locks internally.
  mutable rate_limiter limiter;
  /// Live event streams open, per node and per user; locks internally.
  mutable stream_limits streams;
  /// The web app's pages and files.
  web_app web;
};

} // namespace vf::adapters::http
