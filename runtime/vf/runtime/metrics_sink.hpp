// vf/runtime/metrics_sink.hpp

#pragma once

#include "vf/messages/metrics_actor.hpp"

#include "caf/actor_system.hpp"

#include <memory>

namespace prometheus {
class Registry;
} // namespace prometheus

namespace vf::runtime {

/// Spawns the actor that turns dispatcher observations into Prometheus
/// metrics: `vidflow_task_duration_seconds{kind,outcome}` (histogram) and
/// `vidflow_tasks_total{kind,outcome}` (counter).
messages::metrics_actor
spawn_metrics_sink(caf::actor_system& sys,
                   std::shared_ptr<prometheus::Registry> registry);

} // namespace vf::runtime
