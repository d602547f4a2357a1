// vf/actors/webhook_sender.hpp

#pragma once

#include "caf/stateful_actor.hpp"
#include "caf/typed_event_based_actor.hpp"

#include "vf/actors/wall_clock.hpp"
#include "vf/messages/callback_actor.hpp"
#include "vf/messages/job_store_actor.hpp"
#include "vf/messages/webhook_sender_actor.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace vf::actors {

/// When callbacks are tried and given up.
struct webhook_sender_config {
  /// Time between looks for due deliveries.
  std::chrono::milliseconds interval{1000};
  /// Wait after the first failed attempt; doubles with each further one
  /// (`webhooks.retry_base_ms`).
  std::chrono::milliseconds retry_base{5000};
  /// Longest wait between two attempts.
  std::chrono::milliseconds retry_cap{3'600'000};
  /// A delivery not done this long after it was made is given up
  /// (`failed`).
  std::chrono::milliseconds give_up_after{24 * 3'600'000LL};
  /// Most deliveries in flight at once: the sender keeps this many
  /// callback clients (each sends one at a time), so a receiver that hangs
  /// holds one of them, never the others' queue.
  uint32_t batch = 8;
  /// How long one attempt may take before it counts as failed (the
  /// callback port's own timeout plus a margin).
  std::chrono::milliseconds attempt_timeout{20'000};
  /// Unix ms at spawn (runtime: system clock; tests: a fixed value).
  int64_t wall_ms = 0;
  /// Called with `delivered`, `retry` or `failed` after each attempt
  /// (metrics); optional.
  std::function<void(const std::string&)> on_outcome;
  /// Receives a line per delivery given up; optional.
  std::function<void(const std::string&)> log;
};

/// What the next state of `d` is after `attempt` at `now_ms` (pure, for
/// tests): delivered, failed (permanent, or too old), or pending with
/// `next_at` after an exponential backoff.
messages::delivery after_attempt(messages::delivery d,
                                 const messages::delivery_attempt& attempt,
                                 int64_t now_ms,
                                 const webhook_sender_config& cfg);

/// State of the webhook sender.
struct webhook_sender_state {
  static inline const char* name = "vf.webhook-sender";

  webhook_sender_config cfg;
  wall_clock clock;
  /// A look for due deliveries is under way.
  bool looking = false;
  /// Deliveries being attempted (never twice at once).
  std::set<std::string> in_flight;
  /// The callback clients, and which of them are idle.
  std::shared_ptr<std::vector<messages::callback_actor>> clients;
  std::vector<size_t> idle;
  /// Makes a callback client (one more, or one for a client that did not
  /// answer in time and was retired).
  std::function<messages::callback_actor()> make_client;
};

using webhook_sender_impl
  = messages::webhook_sender_actor::stateful_base<webhook_sender_state>;

/// Spawn with `sys.spawn(webhook_sender, store, make_client, cfg)`; it
/// makes `cfg.batch` callback clients with `make_client` and stops them
/// when it stops.
messages::webhook_sender_actor::behavior_type
webhook_sender(webhook_sender_impl* self, messages::job_store_actor store,
               std::function<messages::callback_actor()> make_client,
               webhook_sender_config cfg);

} // namespace vf::actors
