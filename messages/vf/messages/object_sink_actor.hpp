// vf/messages/object_sink_actor.hpp

#pragma once

#include "caf/replies_to.hpp"
#include "caf/typed_actor.hpp"

#include "vf/messages/type_ids.hpp"

namespace vf::messages {

/// Port: where an event source hands its object events.
///
/// - `(created, object_event)` → a bool once the event is durable with the
///   receiver: the source may then forget (acknowledge) it. On an error
///   the source keeps it and delivers again later.
///
/// Served by: the orchestrator (events go straight to the state machine;
/// `true` means new work, `false` a duplicate) or the Redis event publisher
/// (`true` once the event is in the stream; the coordinator's stream
/// consumer hands it to the orchestrator). Sent by: the built-in store, the
/// MinIO webhook route.
using object_sink_actor = caf::typed_actor<
  caf::replies_to<atoms::created, object_event>::with<bool>>;

} // namespace vf::messages
