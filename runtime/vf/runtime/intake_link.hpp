// vf/runtime/intake_link.hpp — an ingestion node's link to its
// coordinator: the actor the node's JSON API asks (a proxy that passes
// every request to the coordinator's intake gate over CAF's network layer)
// and the loop that keeps that gate reachable (connect with mutual TLS,
// admit with the ingest key, copy the accounts, reconnect).

#pragma once

#include "vf/messages/intake_gate_actor.hpp"
#include "vf/runtime/node.hpp"
#include "vf/runtime/node_config.hpp"

#include <chrono>
#include <memory>
#include <string>

namespace vf::runtime {

/// The proxy's interface: what the API asks, and `(put, gate)` from the
/// link (a null gate while the coordinator is away).
using coordinator_proxy_actor = messages::api_domain_actor::extend<
  caf::reacts_to<atoms::put, messages::intake_gate_actor>>;

/// Spawns the proxy: every request goes to the current gate (errors of the
/// coordinator's actors pass unchanged, a gate that does not answer or
/// refuses this node becomes `storage_unavailable`, i.e. 503 +
/// Retry-After); with no gate it answers `storage_unavailable` at once.
coordinator_proxy_actor spawn_coordinator_proxy(caf::actor_system& sys);

/// What the link needs.
struct intake_link_config {
  /// The coordinator's cluster port, this node's TLS files, the ingest key.
  cluster_config coordinator;
  /// Where the coordinator's accounts are copied (this node's
  /// `<data.dir>/users.json`, which its API's user table reads).
  std::string users_path;
  /// Longest wait between attempts to reach the coordinator.
  std::chrono::milliseconds reconnect_max{5000};
  /// Time between two copies of the accounts.
  std::chrono::milliseconds accounts_every{2000};
};

/// The link itself. Admits this node from its own (long-lived) actor: the
/// gate ends an admission when the actor that asked for it goes away.
class intake_link {
public:
  intake_link(caf::actor_system& sys, intake_link_config cfg,
              coordinator_proxy_actor proxy);

  intake_link(const intake_link&) = delete;
  intake_link& operator=(const intake_link&) = delete;

  ~intake_link();

  /// One attempt, blocking: gets the gate, admits this node, copies the
  /// accounts and hands the gate to the proxy. Empty on success, else
  /// what failed in words.
  std::string connect();

  /// Keeps the proxy supplied with a gate until SIGINT/SIGTERM (returns
  /// it) or a kept actor of `n` failed (returns 0): reconnects with
  /// jittered backoff when the coordinator goes away, admits again before
  /// an admission runs out, copies the accounts every `accounts_every`.
  int run(node& n);

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace vf::runtime
