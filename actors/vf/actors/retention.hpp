// vf/actors/retention.hpp

#pragma once

#include "caf/stateful_actor.hpp"
#include "caf/typed_event_based_actor.hpp"

#include "vf/actors/wall_clock.hpp"
#include "vf/messages/job_store_actor.hpp"
#include "vf/messages/retention_actor.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace vf::actors {

/// When and how much the retention sweep purges.
struct retention_config {
  /// Time after a job ended (FAILED, CANCELLED, EXPIRED) until its upload
  /// is deleted (`retention.failed_s`).
  std::chrono::milliseconds keep{7 * 24 * 3600 * 1000LL};
  /// Time between sweeps when the last one found less than a full batch.
  std::chrono::milliseconds interval{60'000};
  /// Most jobs purged per sweep; a full batch sweeps again at once.
  uint32_t batch = 100;
  /// Unix ms at spawn (runtime: system clock; tests: a fixed value).
  int64_t wall_ms = 0;
  /// Receives a line per sweep that purged something; optional.
  std::function<void(const std::string&)> log;
};

/// State of the retention sweep.
struct retention_state {
  static inline const char* name = "vf.retention";

  retention_config cfg;
  wall_clock clock;
  /// A sweep is running; ticks meanwhile are dropped.
  bool busy = false;
  /// Objects deleted since spawn.
  uint64_t purged = 0;
};

using retention_impl = messages::retention_actor::stateful_base<retention_state>;

/// Spawn with `sys.spawn(retention, store, deleter, cfg)`. File deletes go
/// to `deleter` (a detached actor), never run here.
messages::retention_actor::behavior_type
retention(retention_impl* self, messages::job_store_actor store,
          messages::object_deleter_actor deleter, retention_config cfg);

} // namespace vf::actors
