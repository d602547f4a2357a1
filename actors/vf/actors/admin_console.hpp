// vf/actors/admin_console.hpp

#pragma once

#include "caf/stateful_actor.hpp"
#include "caf/typed_event_based_actor.hpp"

#include "vf/actors/wall_clock.hpp"
#include "vf/messages/admin_console_actor.hpp"
#include "vf/messages/cluster_registry_actor.hpp"
#include "vf/messages/dispatcher_actor.hpp"
#include "vf/messages/dlq_analyzer_actor.hpp"
#include "vf/messages/job_registry_actor.hpp"
#include "vf/messages/job_store_actor.hpp"
#include "vf/messages/orchestrator_actor.hpp"

#include "caf/node_id.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <string>

namespace vf::actors {

/// What the console reports and talks to.
struct admin_console_config {
  /// The build (`vidflow version`).
  std::string version;
  /// Unix ms at spawn (runtime: system clock; tests: a fixed value); also
  /// reported as the coordinator's start.
  int64_t wall_ms = 0;
  messages::job_registry_actor registry;
  messages::job_store_actor jobs;
  messages::dispatcher_actor dispatcher;
  /// Optional: without it, `overview` lists no worker nodes and `drain`
  /// finds none.
  messages::cluster_registry_actor cluster;
  /// Redrives and cancels jobs.
  messages::orchestrator_actor orchestrator;
  /// Optional: the incident report and redrive by category.
  messages::dlq_analyzer_actor analyzer;
  /// The cluster registry's `steer_token`: lets the console drain and
  /// undrain nodes (see `cluster_registry_config`).
  std::string steer_token;
};

/// State of the admin console.
struct admin_console_state {
  static inline const char* name = "vf.admin-console";

  admin_console_config cfg;
  wall_clock clock;
  bool paused = false;
};

using admin_console_impl
  = messages::admin_console_actor::stateful_base<admin_console_state>;

/// Spawn with `sys.spawn(admin_console, cfg)`.
messages::admin_console_actor::behavior_type
admin_console(admin_console_impl* self, admin_console_config cfg);

} // namespace vf::actors
