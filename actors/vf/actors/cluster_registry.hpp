// vf/actors/cluster_registry.hpp

#pragma once

#include "caf/stateful_actor.hpp"
#include "caf/typed_event_based_actor.hpp"

#include "vf/actors/admin_signatures.hpp"
#include "vf/actors/wall_clock.hpp"
#include "vf/messages/cluster_registry_actor.hpp"
#include "vf/messages/dispatcher_actor.hpp"
#include "vf/messages/orchestrator_actor.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <map>
#include <string>

namespace vf::actors {

/// What the registry runs with.
struct cluster_registry_config {
  /// Unix ms at spawn (runtime: system clock; tests: a fixed value).
  int64_t wall_ms = 0;
  /// Called with one line per membership change (empty: silent).
  std::function<void(const std::string&)> log;
  /// Returns the hex HMAC-SHA256 of a text under the cluster admin key
  /// (empty: no key; commands for other nodes are then refused).
  std::function<std::string(const std::string&)> admin_mac;
  /// The operators' gate to the admin console (`admin_gate`), filled in
  /// by the runtime once it runs (the console needs the registry first);
  /// `(console, ...)` answers `errc::storage_unavailable` while empty.
  std::shared_ptr<messages::admin_console_actor> console;
  /// Returns the hex HMAC-SHA256 of a text under the cluster ingest key
  /// (empty: no key; ingestion nodes are refused).
  std::function<std::string(const std::string&)> ingest_mac;
  /// The ingestion nodes' gate (`intake_gate`), filled in like `console`.
  std::shared_ptr<messages::intake_gate_actor> intake;
  /// A random secret of this process that `(drain, name, on, token)` must
  /// carry: only the admin console, spawned with it, steers nodes that way.
  /// Never sent over the network. Empty: that message is refused.
  std::string steer_token;
};

/// A node that said hello.
struct node_entry {
  messages::node_actor agent;
  messages::cluster_node info;
};

/// State of the registry: the nodes it knows, by name.
struct cluster_registry_state {
  static inline const char* name = "vf.cluster_registry";

  cluster_registry_config cfg;
  wall_clock clock;
  std::map<std::string, node_entry> nodes;
  /// Registrations per node name since start; outlives a node's entry, so
  /// a node that comes back shows how often it (re)joined.
  std::map<std::string, uint32_t> registrations;
  /// Admin MACs seen recently, with their time: each is accepted once.
  admin_signatures signatures;
};

using cluster_registry_impl
  = messages::cluster_registry_actor::stateful_base<cluster_registry_state>;

/// Spawn with `sys.spawn(cluster_registry, cfg, dispatcher, orchestrator)`;
/// the runtime publishes it on the cluster port. It keeps the membership
/// (nodes come and go; a node whose agent goes down is forgotten, and the
/// dispatcher hands back its workers' leases on their own down messages),
/// forwards workers to the dispatcher and late outcomes to the orchestrator.
/// It never delegates: every answer a node gets comes from the registry, so
/// no node learns the dispatcher's or the orchestrator's handle.
messages::cluster_registry_actor::behavior_type
cluster_registry(cluster_registry_impl* self, cluster_registry_config cfg,
                 messages::dispatcher_actor dispatcher,
                 messages::orchestrator_actor orchestrator);

} // namespace vf::actors
