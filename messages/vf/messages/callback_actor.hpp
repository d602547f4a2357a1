// vf/messages/callback_actor.hpp

#pragma once

#include "caf/replies_to.hpp"
#include "caf/typed_actor.hpp"

#include "vf/messages/type_ids.hpp"

namespace vf::messages {

/// Port: sends one callback (`POST` of `delivery::body` to `delivery::url`,
/// signed for `delivery::owner`) and tells what happened. Never retries by
/// itself: the webhook sender decides when to try again.
///
/// - `(deliver, delivery)` → the attempt's outcome (a failure is a value,
///   not an error: it is recorded like a success).
///
/// Sent by: the webhook sender. Implemented by: adapters/webhooks (libcurl;
/// targets checked against `webhooks.allow` after DNS resolution).
using callback_actor = caf::typed_actor<
  caf::replies_to<atoms::deliver, delivery>::with<delivery_attempt>>;

} // namespace vf::messages
