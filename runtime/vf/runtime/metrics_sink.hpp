// vf/runtime/metrics_sink.hpp

#pragma once

#include "vf/messages/metrics_actor.hpp"

#include "caf/actor_system.hpp"

#include <memory>

namespace prometheus {
class Registry;
} // namespace prometheus

namespace vf::runtime {

/// Spawns the actor that turns task outcomes into Prometheus metrics: on a
/// coordinator (the dispatcher's observations, every node's tasks)
/// `vidflow_task_duration_seconds{kind,outcome}` (histogram) and
/// `vidflow_tasks_total{kind,outcome}` (counter); with `node_local` (a
/// worker node's own tasks) `vidflow_node_task_duration_seconds` and
/// `vidflow_node_tasks_total`, so that a sum over all targets never
/// counts a task twice.
messages::metrics_actor
spawn_metrics_sink(caf::actor_system& sys,
                   std::shared_ptr<prometheus::Registry> registry,
                   bool node_local = false);

} // namespace vf::runtime
