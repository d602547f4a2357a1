// vf/adapters/webhooks/callback_client.hpp
//
// The callback port over libcurl: POSTs a delivery's body, signed for its
// owner, to its URL after checking where the URL's host resolves to.

#pragma once

#include "caf/fwd.hpp"

#include "vf/adapters/webhooks/callback_policy.hpp"
#include "vf/messages/callback_actor.hpp"

#include <chrono>
#include <functional>
#include <string>

namespace vf::adapters::webhooks {

/// Settings of the callback client.
struct callback_client_config {
  /// The node's secret; each owner signs with `owner_secret(secret, owner)`.
  std::string secret;
  /// Where callbacks may go.
  callback_policy policy;
  /// Time to connect.
  std::chrono::milliseconds connect_timeout{5'000};
  /// Time for the whole request, answer included.
  std::chrono::milliseconds timeout{10'000};
  /// Returns Unix seconds for the signature's `t` (tests inject); the
  /// system clock when empty.
  std::function<int64_t()> now;
};

/// Sends one delivery (blocking: runs on its own thread). A failure is
/// part of the answer, never an exception.
messages::delivery_attempt send_callback(const callback_client_config& cfg,
                                         const messages::delivery& d);

/// Spawns the callback port as a detached actor.
messages::callback_actor spawn_callback_client(caf::actor_system& sys,
                                               callback_client_config cfg);

} // namespace vf::adapters::webhooks
