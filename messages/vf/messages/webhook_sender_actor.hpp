// vf/messages/webhook_sender_actor.hpp

#pragma once

#include "caf/replies_to.hpp"
#include "caf/typed_actor.hpp"

#include "vf/messages/type_ids.hpp"

namespace vf::messages {

/// Sends the callbacks the job store made when jobs ended: looks for due
/// deliveries on each `tick` (it ticks itself), hands each to the callback
/// port, records the outcome and when to try again.
using webhook_sender_actor = caf::typed_actor<caf::reacts_to<atoms::tick>>;

} // namespace vf::messages
