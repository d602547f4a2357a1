// vf/actors/admin_gate.hpp

#pragma once

#include "caf/node_id.hpp"
#include "caf/stateful_actor.hpp"
#include "caf/typed_event_based_actor.hpp"

#include "vf/actors/gate_admissions.hpp"
#include "vf/actors/wall_clock.hpp"
#include "vf/messages/admin_console_actor.hpp"

#include <cstdint>
#include <functional>
#include <string>

namespace vf::actors {

/// What the operators' gate checks and passes on to.
struct admin_gate_config {
  /// Unix ms at spawn (runtime: system clock; tests: a fixed value).
  int64_t wall_ms = 0;
  /// Returns the hex HMAC-SHA256 of a text under the cluster admin key
  /// (empty: no key; nobody is ever admitted).
  std::function<std::string(const std::string&)> admin_mac;
  /// The coordinator's admin console. Its handle never leaves this
  /// process: the gate asks it and answers itself.
  messages::admin_console_actor console;
};

/// State of the gate: which CAF nodes operators admitted, until when.
struct admin_gate_state {
  static inline const char* name = "vf.admin-gate";

  admin_gate_config cfg;
  wall_clock clock;
  gate_admissions admissions;
};

using admin_gate_impl
  = messages::admin_console_actor::stateful_base<admin_gate_state>;

/// The admin console as remote operators reach it (`vidflow admin
/// --cluster`): the only console handle that crosses the wire. Every
/// message but `admit` is refused (`errc::unauthorized`) unless its
/// sender's CAF node is admitted; nobody is exempt, not even a sender that
/// claims to be on the coordinator's own node (CAF 0.17's BASP takes a
/// routed message's source node on the peer's word). `(admit, at_ms,
/// mac)` admits the sender's node until its connection ends (at most an
/// hour) when `mac` signs `messages::console_payload(node, at_ms)`.
/// Everything else is asked of the console and its answer passed on.
messages::admin_console_actor::behavior_type
admin_gate(admin_gate_impl* self, admin_gate_config cfg);

} // namespace vf::actors
