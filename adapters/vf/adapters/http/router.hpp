// vf/adapters/http/router.hpp
//
// Maps requests to routes and answers them: authentication, body parsing,
// requests to the actors, and the error table. Knows nothing of Beast.

#pragma once

#include "vf/adapters/common/asio_bridge.hpp"
#include "vf/adapters/http/api_server.hpp"
#include "vf/adapters/http/exchange.hpp"
#include "vf/adapters/http/http_metrics.hpp"
#include "vf/adapters/http/jwt.hpp"
#include "vf/adapters/http/login_throttle.hpp"
#include "vf/adapters/http/rate_limiter.hpp"
#include "vf/adapters/http/request_deadlines.hpp"
#include "vf/adapters/http/user_table.hpp"

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <vector>

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
};

/// Answers requests for one I/O thread. Not thread-safe: each thread has its
/// own router, bridge and token codec.
class router {
public:
  /// Creates a router that sends through `bridge`, which runs on `ioc`.
  router(const api_state& state, common::asio_bridge& bridge,
         boost::asio::io_context& ioc);

  router(const router&) = delete;
  router& operator=(const router&) = delete;

  /// Stops the password checker.
  ~router();

  /// Answers `ex`, now or once the actors replied.
  void handle(const std::shared_ptr<exchange>& ex);

private:
  void login(const std::shared_ptr<exchange>& ex);
  void create_job(const std::shared_ptr<exchange>& ex);
  void get_job(const std::shared_ptr<exchange>& ex, std::string_view id);
  void get_result(const std::shared_ptr<exchange>& ex, std::string_view id);
  void cancel_job(const std::shared_ptr<exchange>& ex, std::string_view id);
  void get_attempts(const std::shared_ptr<exchange>& ex, std::string_view id);
  void history(const std::shared_ptr<exchange>& ex);
  void webhook(const std::shared_ptr<exchange>& ex);
  void metrics(const std::shared_ptr<exchange>& ex);
  void readyz(const std::shared_ptr<exchange>& ex);
  void dlq_list(const std::shared_ptr<exchange>& ex);
  void dlq_get(const std::shared_ptr<exchange>& ex, std::string_view id);
  void dlq_remove(const std::shared_ptr<exchange>& ex, std::string_view id);
  void dlq_report(const std::shared_ptr<exchange>& ex);
  void dlq_redrive(const std::shared_ptr<exchange>& ex);
  void cluster_nodes(const std::shared_ptr<exchange>& ex);

  /// Answers 429 and returns false when the client is over its rate.
  bool admit(exchange& ex);

  /// Returns the bearer's claims, or answers 401 and returns nothing. The
  /// account must still exist with the epoch the token carries; the role
  /// returned is the account's current one, not the token's.
  std::optional<jwt_claims> authenticate(exchange& ex);

  /// Returns the bearer's claims if the role is `admin`; answers 401 or 403
  /// and returns nothing otherwise.
  std::optional<jwt_claims> authorize_admin(exchange& ex);

  /// Sends a request whose timeout `deadlines_` keeps; every handler of it
  /// must call `deadlines_.settle(handle.id())` first.
  template <class Handle, class... Ts>
  auto ask(const Handle& dest, Ts&&... xs);

  /// Authenticates, looks up job `id` and checks the caller may see it;
  /// answers 401/404/503 itself, else calls `then(ex, job)`.
  template <class Then>
  void with_visible_job(const std::shared_ptr<exchange>& ex,
                        std::string_view id, Then then);

  const api_state& state_;
  common::asio_bridge& bridge_;
  jwt_codec jwt_;
  request_deadlines deadlines_;
  /// A detached actor that runs the password KDF (tens of milliseconds of
  /// CPU), so logins never stall the other requests of this I/O thread.
  caf::actor kdf_;
  /// Password checks sent to `kdf_` and not answered yet: bounded, so a
  /// flood of logins queues neither memory nor minutes of CPU.
  size_t kdf_pending_ = 0;
};

} // namespace vf::adapters::http
