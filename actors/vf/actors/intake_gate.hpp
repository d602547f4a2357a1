// vf/actors/intake_gate.hpp

#pragma once

#include "caf/expected.hpp"
#include "caf/node_id.hpp"
#include "caf/stateful_actor.hpp"
#include "caf/typed_event_based_actor.hpp"

#include "vf/actors/gate_admissions.hpp"
#include "vf/actors/wall_clock.hpp"
#include "vf/messages/intake_gate_actor.hpp"
#include "vf/messages/orchestrator_actor.hpp"

#include <cstdint>
#include <functional>
#include <string>

namespace vf::actors {

/// What the ingestion nodes' gate checks and passes on to.
struct intake_gate_config {
  /// Unix ms at spawn (runtime: system clock; tests: a fixed value).
  int64_t wall_ms = 0;
  /// Returns the hex HMAC-SHA256 of a text under the cluster ingest key
  /// (empty: no key; nobody is ever admitted).
  std::function<std::string(const std::string&)> ingest_mac;
  /// Returns the accounts file's text (`users.json`) for ingestion nodes,
  /// or why not.
  std::function<caf::expected<std::string>()> accounts;
  /// Checks (and may normalise) a job request from an ingestion node as
  /// the coordinator's own API would have: an ingestion node may act for
  /// any user, never beyond what a user may ask. Empty: no check.
  std::function<caf::error(messages::job_request&)> check_request;
  /// The coordinator's actors. Their handles never leave this process:
  /// the gate asks them and answers itself.
  messages::api_registry_actor registry;
  messages::api_orchestrator_actor orchestrator;
  messages::api_dispatcher_actor dispatcher;
};

/// State of the gate: which CAF nodes are admitted, until when.
struct intake_gate_state {
  static inline const char* name = "vf.intake-gate";

  intake_gate_config cfg;
  wall_clock clock;
  gate_admissions admissions;
};

using intake_gate_impl
  = messages::intake_gate_actor::stateful_base<intake_gate_state>;

/// The JSON API's domain as ingestion nodes reach it (`vidflow serve
/// --role ingest --join`): see `messages::intake_gate_actor`. Every message
/// but `admit` is refused (`errc::unauthorized`) unless its sender's CAF
/// node is admitted, nobody exempt (CAF 0.17's BASP takes a routed
/// message's source node on the peer's word, so "local" proves nothing).
/// An admission lasts until the node's connection ends, at most an hour;
/// ingestion nodes admit themselves again after every reconnect and
/// before it runs out. Errors of the actors behind it pass unchanged;
/// CAF's (an actor did not answer in time) become `storage_unavailable`.
messages::intake_gate_actor::behavior_type intake_gate(intake_gate_impl* self,
                                                       intake_gate_config cfg);

} // namespace vf::actors
