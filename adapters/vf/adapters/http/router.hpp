// vf/adapters/http/router.hpp
//
// Answers requests by the route table (routes.hpp): matches the path, rate
// limits, answers 404 and 405, checks the bearer, then runs the handler,
// catching what it throws. Knows nothing of Beast.

#pragma once

#include "vf/adapters/common/asio_bridge.hpp"
#include "vf/adapters/http/api_state.hpp"
#include "vf/adapters/http/call.hpp"
#include "vf/adapters/http/exchange.hpp"
#include "vf/adapters/http/route_table.hpp"

#include <memory>
#include <optional>

namespace vf::adapters::http {

/// Answers requests for one I/O thread. Not thread-safe: each thread has its
/// own router, bridge and token codec.
class router {
public:
  /// Creates a router that sends through `bridge`, which runs on `ioc`.
  /// Throws `std::invalid_argument` if the route table is not valid.
  router(const api_state& state, common::asio_bridge& bridge,
         boost::asio::io_context& ioc);

  router(const router&) = delete;
  router& operator=(const router&) = delete;

  /// Stops the password checker.
  ~router();

  /// Answers `ex`, now or once the actors replied.
  void handle(const std::shared_ptr<exchange>& ex);

private:
  /// Answers 429 and returns false when the client is over its rate.
  bool admit(exchange& ex);

  /// Returns the bearer's claims, or answers 401 and returns nothing. The
  /// account must still exist with the epoch the token carries; the role
  /// returned is the account's current one, not the token's.
  std::optional<jwt_claims> authenticate(call& c);

  /// Returns the bearer's claims if the role is `admin`; answers 401 or 403
  /// and returns nothing otherwise.
  std::optional<jwt_claims> authorize_admin(call& c);

  thread_services io_;
  route_table routes_;
};

} // namespace vf::adapters::http
