// vf/runtime/domain.hpp

#pragma once

#include "vf/messages/admin_console_actor.hpp"
#include "vf/messages/cluster_registry_actor.hpp"
#include "vf/messages/dispatcher_actor.hpp"
#include "vf/messages/dlq_analyzer_actor.hpp"
#include "vf/messages/job_registry_actor.hpp"
#include "vf/messages/orchestrator_actor.hpp"
#include "vf/runtime/node.hpp"
#include "vf/runtime/node_config.hpp"
#include "vf/runtime/ports.hpp"

#include <cstdint>
#include <functional>

namespace vf::runtime {

/// The coordinator's domain actors, as the edges and workers address them.
struct domain_actors {
  messages::dispatcher_node_actor dispatcher;
  messages::orchestrator_actor orchestrator;
  messages::job_registry_actor registry;
  messages::dlq_analyzer_actor analyzer;
  messages::cluster_registry_actor cluster;
  messages::admin_console_actor admin;
};

/// Spawns and keeps (in `n`) the domain of a `serve` node over `stores`:
/// idempotency guard, metrics sink, dispatcher, orchestrator, job registry,
/// retention sweep (restartable), DLQ analyzer, cluster registry, webhook
/// sender (restartable) and admin console.
/// `on_job_end`, if set, also hears of every job that ended (and its time
/// from upload to end, in ms): the Redis completion stream.
domain_actors spawn_domain(
  node& n, const node_config& cfg, const messages::stores& stores,
  uint64_t seed,
  std::function<void(const messages::job&, int64_t)> on_job_end = {});

} // namespace vf::runtime
