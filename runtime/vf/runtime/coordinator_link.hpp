// vf/runtime/coordinator_link.hpp

#pragma once

#include "vf/runtime/node.hpp"
#include "vf/runtime/node_config.hpp"
#include "vf/runtime/worker_slot.hpp"

#include <vector>

namespace vf::runtime {

/// A worker node's link to its coordinator, until the node leaves: connects
/// (backoff with jitter), says hello, re-reports results its `slots` kept,
/// registers them; reconnects when the coordinator goes away; leaves when
/// the coordinator drains it; on SIGINT/SIGTERM drains itself (no new
/// tasks, leased ones finish, at most `worker.drain_timeout_s`). Returns
/// early when a kept actor of `n` failed.
void run_coordinator_link(node& n, const worker_node_config& cfg,
                          const std::vector<worker_slot>& slots);

} // namespace vf::runtime
