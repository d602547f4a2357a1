// vf/messages/admin_overview.hpp

#pragma once

#include "vf/messages/job.hpp"
#include "vf/messages/task.hpp"

#include "caf/meta/type_name.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace vf::messages {

/// What `vidflow admin status` shows: one look at a coordinator.
struct admin_overview {
  /// The coordinator's build.
  std::string version;
  /// Unix ms the coordinator started.
  int64_t started_at = 0;
  /// Unix ms of this look.
  int64_t now = 0;
  /// Intake paused by an operator (`POST /jobs` answers 503).
  bool paused = false;
  /// Jobs by status (indexed by `job_status`).
  status_counts jobs;
  /// The dispatcher: queues, leases, workers, slots.
  dispatcher_stats queue;
  /// Worker nodes that joined (the coordinator's own workers are in
  /// `queue`).
  std::vector<cluster_node> nodes;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, admin_overview& x) {
  return f(caf::meta::type_name("admin_overview"), x.version, x.started_at,
           x.now, x.paused, x.jobs, x.queue, x.nodes);
}

} // namespace vf::messages
