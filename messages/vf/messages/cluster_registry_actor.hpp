// vf/messages/cluster_registry_actor.hpp

#pragma once

#include "caf/replies_to.hpp"
#include "caf/typed_actor.hpp"

#include "vf/messages/admin_console_actor.hpp"
#include "vf/messages/intake_gate_actor.hpp"
#include "vf/messages/type_ids.hpp"
#include "vf/messages/worker_actor.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace vf::messages {

/// A worker node's agent, as the coordinator reaches it.
///
/// - `(leave)`: the node was drained; it stops its workers and exits.
///
/// Sent by: the cluster registry.
using node_actor = caf::typed_actor<caf::reacts_to<atoms::leave>>;

/// The text an operator's admin key signs (HMAC-SHA256, hex) to run
/// `command` (`drain` or `leave`) on node `name` at Unix ms `at_ms`.
inline std::string admin_payload(const std::string& command,
                                 const std::string& name, int64_t at_ms) {
  return "vidflow-cluster-admin\n" + command + "\n" + name + "\n"
         + std::to_string(at_ms);
}

/// The coordinator's door for worker nodes, published on the cluster port
/// (TLS with the cluster CA: a peer without a valid certificate never gets
/// a handle to it). A cluster certificate lets a node run itself, nothing
/// more: it cannot act for another node, and another node's actors are out
/// of its reach. The registry never hands out the dispatcher's or the
/// orchestrator's handle (it answers and forwards itself).
///
/// - `(hello, node, name)` → `true`: a node (re)announces itself before it
///   registers its workers; a name that is in use by a live agent is
///   refused (`errc::conflict`).
/// - `(join, worker, info)` → `true`: registers one worker of a node that
///   said hello; `info.node` must be that node and the worker must live on
///   the sender's node (`errc::forbidden`). The dispatcher leases to it
///   like to a local worker.
/// - `(report, outcomes)` → how many were recorded: outcomes a node
///   finished while it could not reach the coordinator (or whose answer may
///   have been lost). Only outcomes of leases the dispatcher gave to this
///   node's workers are passed on (others are dropped uncounted); each is
///   recorded at most once (the attempt ledger). A sender that did not say
///   hello gets `errc::forbidden`.
/// - `(drain, name)` → leases the node still holds: it gets no new tasks.
///   Only node `name` itself may ask (`errc::forbidden` otherwise).
/// - `(drained, name)` → `0` once node `name` holds no lease any more
///   (each ended with its result passed on, or handed back): a draining
///   node waits on this instead of asking again and again. Only node
///   `name` itself may ask.
/// - `(leave, name)` → `true`: tells a drained node to stop; only node
///   `name` itself may ask.
/// - `(drain, name, at_ms, mac)`, `(leave, name, at_ms, mac)`: the same for
///   any node, by an operator: `mac` is the hex HMAC-SHA256 of
///   `admin_payload(command, name, at_ms)` under the cluster admin key;
///   `at_ms` within 60 s of the coordinator's clock, each `mac` once
///   (`errc::unauthorized` otherwise, or if the coordinator has no key).
/// - `(nodes)` → the registered nodes.
/// - `(drain, name, on, token)` → leases node `name` holds; `on` marks it
///   draining (no new tasks), `!on` lets it take tasks again. `token` must
///   be the registry's `steer_token`, a secret of the coordinator process
///   only the admin console holds; `errc::forbidden` otherwise.
/// - `(console, at_ms, mac)` → the operators' gate to the admin console
///   (`admin_gate`), for an operator: `mac` signs `admin_payload("console",
///   node, at_ms)` where `node` is the sender's CAF node (`to_string`),
///   like `drain` above. The gate answers a remote sender only after its
///   own `(admit, ...)`; the console's own handle never leaves the
///   coordinator.
/// - `(intake, at_ms, mac)` → the ingestion nodes' gate (`intake_gate`):
///   `mac` signs `admin_payload("intake", node, at_ms)` under the cluster
///   ingest key (not the admin key: an ingestion node is no operator),
///   where `node` is the sender's CAF node; the gate again wants its own
///   `(admit, ...)`.
///
/// Sent by: worker node agents (`vidflow worker`), the admin CLI
/// (`vidflow worker --drain` with `cluster.admin_key`, `vidflow admin
/// --cluster`), the admin console (`(drain, name, on)`, `(nodes)`).
using cluster_registry_actor = caf::typed_actor<
  caf::replies_to<atoms::hello, node_actor, std::string>::with<bool>,
  caf::replies_to<atoms::join, worker_actor, worker_info>::with<bool>,
  caf::replies_to<atoms::report, std::vector<task_outcome>>::with<uint64_t>,
  caf::replies_to<atoms::drain, std::string>::with<uint64_t>,
  caf::replies_to<atoms::drained, std::string>::with<uint64_t>,
  caf::replies_to<atoms::leave, std::string>::with<bool>,
  caf::replies_to<atoms::drain, std::string, int64_t, std::string>::with<
    uint64_t>,
  caf::replies_to<atoms::leave, std::string, int64_t, std::string>::with<
    bool>,
  caf::replies_to<atoms::nodes>::with<std::vector<cluster_node>>,
  caf::replies_to<atoms::drain, std::string, bool, std::string>::with<
    uint64_t>,
  caf::replies_to<atoms::console, int64_t, std::string>::with<
    admin_console_actor>,
  caf::replies_to<atoms::intake, int64_t, std::string>::with<
    intake_gate_actor>>;

} // namespace vf::messages
