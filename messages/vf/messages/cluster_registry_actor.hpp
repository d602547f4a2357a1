// vf/messages/cluster_registry_actor.hpp

#pragma once

#include "caf/replies_to.hpp"
#include "caf/typed_actor.hpp"

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

/// The coordinator's door for worker nodes, published on the cluster port
/// (TLS with the cluster CA: a peer without a valid certificate never gets
/// a handle to it).
///
/// - `(hello, node, name)` → `true`: a node (re)announces itself before it
///   registers its workers; a name that is in use by a live agent is
///   refused (`errc::conflict`).
/// - `(join, worker, info)` → `true`: registers one worker of a node that
///   said hello; `info.node` must be that node. The dispatcher leases to it
///   like to a local worker.
/// - `(report, outcomes)` → how many were recorded: outcomes a node
///   finished while it could not reach the coordinator (or whose answer may
///   have been lost); each is recorded at most once (the attempt ledger).
/// - `(drain, name)` → leases the node still holds: it gets no new tasks.
/// - `(leave, name)` → `true`: tells a drained node to stop.
/// - `(nodes)` → the registered nodes.
///
/// Sent by: worker node agents (`vidflow worker`), the admin CLI.
using cluster_registry_actor = caf::typed_actor<
  caf::replies_to<atoms::hello, node_actor, std::string>::with<bool>,
  caf::replies_to<atoms::join, worker_actor, worker_info>::with<bool>,
  caf::replies_to<atoms::report, std::vector<task_outcome>>::with<uint64_t>,
  caf::replies_to<atoms::drain, std::string>::with<uint64_t>,
  caf::replies_to<atoms::leave, std::string>::with<bool>,
  caf::replies_to<atoms::nodes>::with<std::vector<cluster_node>>>;

} // namespace vf::messages
