// vf/messages/register_types.hpp

#pragma once

#include "caf/actor_system_config.hpp"

namespace vf::messages {

/// Registers every message type, actor handle type and the error category
/// with `cfg`. Every node calls this, as do the tests.
void register_types(caf::actor_system_config& cfg);

} // namespace vf::messages
