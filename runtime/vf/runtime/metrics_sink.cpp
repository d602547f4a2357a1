// vf/runtime/metrics_sink.cpp

#include "vf/runtime/metrics_sink.hpp"

#include "caf/typed_event_based_actor.hpp"

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

namespace vf::runtime {

messages::metrics_actor
spawn_metrics_sink(caf::actor_system& sys,
                   std::shared_ptr<prometheus::Registry> registry,
                   bool node_local) {
  auto& durations
    = prometheus::BuildHistogram()
        .Name(node_local ? "vidflow_node_task_duration_seconds"
                         : "vidflow_task_duration_seconds")
        .Help(node_local ? "Time this node's workers spent on one task attempt"
                         : "Time workers spent on one task attempt")
        .Register(*registry);
  auto& totals = prometheus::BuildCounter()
                   .Name(node_local ? "vidflow_node_tasks_total"
                                    : "vidflow_tasks_total")
                   .Help(node_local
                           ? "Task attempts this node's workers ran, by kind "
                             "and outcome"
                           : "Task attempts by kind and outcome")
                   .Register(*registry);
  auto fun = [registry, &durations,
              &totals]() -> messages::metrics_actor::behavior_type {
    return {
      [registry, &durations, &totals](atoms::observe,
                                      const messages::task_outcome& out) {
        auto outcome = out.ok ? std::string{"ok"} : to_string(out.error_code);
        std::map<std::string, std::string> labels{
          {"kind", to_string(out.kind)}, {"outcome", outcome}};
        static const prometheus::Histogram::BucketBoundaries buckets{
          0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
          0.5,   1,      2.5,   5,    10,    30,   60,  300};
        durations.Add(labels, buckets)
          .Observe(static_cast<double>(out.duration_us) / 1e6);
        totals.Add(labels).Increment();
      },
    };
  };
  return sys.spawn(fun);
}

} // namespace vf::runtime
