// vf/messages/metrics_actor.hpp

#pragma once

#include "caf/replies_to.hpp"
#include "caf/typed_actor.hpp"

#include "vf/messages/type_ids.hpp"

namespace vf::messages {

/// Port: receives observations for metrics; never answers.
///
/// - `(observe, outcome)`: one finished lease (kind, ok, duration).
///
/// Sent by: the dispatcher.
using metrics_actor
  = caf::typed_actor<caf::reacts_to<atoms::observe, task_outcome>>;

} // namespace vf::messages
