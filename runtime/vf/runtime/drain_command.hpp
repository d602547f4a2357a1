// vf/runtime/drain_command.hpp
//
// `vidflow worker --drain --name NODE`: an operator's tool, not a node role.

#pragma once

#include "vf/runtime/node_config.hpp"

#include "caf/actor_system.hpp"

#include <csignal>
#include <string>

namespace vf::runtime {

/// `host:port` of the coordinator a worker node joins.
std::string coordinator_address(const worker_node_config& cfg);

/// Drains another node through the coordinator: asks until it holds no
/// lease (or `worker.drain_timeout_s` passed, or a signal in `sigs`
/// arrived), then tells it to leave. Returns the exit code (0 drained).
int drain_remote(caf::actor_system& sys, const worker_node_config& cfg,
                 const sigset_t& sigs);

} // namespace vf::runtime
