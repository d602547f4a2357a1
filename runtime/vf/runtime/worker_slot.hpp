// vf/runtime/worker_slot.hpp

#pragma once

#include "vf/actors/worker.hpp"
#include "vf/messages/metrics_actor.hpp"
#include "vf/adapters/common/effects_log.hpp"
#include "vf/adapters/media/libav_media.hpp"
#include "vf/messages/summarizer_actor.hpp"
#include "vf/messages/dispatcher_actor.hpp"
#include "vf/messages/task.hpp"
#include "vf/runtime/node.hpp"
#include "vf/runtime/node_config.hpp"

#include "caf/actor.hpp"
#include "caf/actor_system.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace vf::runtime {

/// What one worker slot runs with (`serve`'s local workers and a worker
/// node's slots alike).
struct slot_spec {
  /// Unique within the cluster, e.g. `node-a/worker-1`.
  std::string name;
  /// The node it runs on.
  std::string node;
  std::vector<messages::task_kind> kinds;
  std::vector<std::string> labels;
  /// How its media port opens an upload (from `ports.hpp`).
  adapters::media::object_resolver resolve;
  messages::summarizer_actor summarizer;
  /// Test only: share of probes that fail with `fault_code` (0: off).
  double fault_rate = 0;
  std::string fault_code;
  uint64_t seed = 0;
  /// Test only: the process aborts when a probe of an object whose key
  /// contains this starts (a poison upload); empty: off.
  std::string crash_on;
  /// Test only (null: off): gets an "exec" line for every task it finished.
  std::shared_ptr<adapters::common::effects_log> effects;
  /// Where renders make and store outputs (no store: no `render` kind).
  adapters::media::render_setup render;
  /// What its node admits (`worker_info::cores`, `memory_mb`; 0: no limit).
  uint32_t cores = 0;
  uint64_t memory_mb = 0;
  /// Where its worker traces its tasks (with their request ids); none when
  /// null.
  logger* log = nullptr;
  /// Told of every outcome its worker answers (a worker node's own
  /// `/metrics`); none: not observed here (the coordinator's dispatcher
  /// observes every outcome anyway).
  messages::metrics_actor metrics = {};
};

/// A spawned slot: its worker, what it registers with, and every actor of
/// the slot (media, media control, fault injector, worker).
struct worker_slot {
  actors::worker_impl_actor worker;
  messages::worker_info info;
  std::vector<caf::actor> actors;
};

/// Spawns one worker with its own media actor (one slot: one task at a
/// time).
worker_slot spawn_worker_slot(caf::actor_system& sys, const slot_spec& spec);

/// `serve`'s `workers.count` local slots on `host`, joined to `dispatcher`;
/// kept by `n` as restartable groups: a slot that dies is spawned again and
/// joins anew (the dispatcher handed its lease back when it went down).
void keep_local_slots(
  node& n, const node_config& cfg,
  const messages::dispatcher_actor& dispatcher, const std::string& host,
  uint64_t seed,
  std::shared_ptr<adapters::common::effects_log> effects = nullptr);

} // namespace vf::runtime
