// vf/actors/worker.hpp

#pragma once

#include "caf/stateful_actor.hpp"
#include "caf/typed_event_based_actor.hpp"
#include "caf/typed_response_promise.hpp"

#include "vf/actors/request_timeouts.hpp"
#include "vf/messages/media_actor.hpp"
#include "vf/messages/summarizer_actor.hpp"
#include "vf/messages/worker_actor.hpp"

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <unordered_map>

namespace vf::actors {

/// The worker's full interface: its public protocol plus its own timer
/// (the synthetic `sleep` task), which typed actors must list.
using worker_impl_actor = messages::worker_actor::extend<
  caf::reacts_to<atoms::expire, uint64_t>>;

/// What a worker runs with.
struct worker_config {
  /// Unique within the cluster, e.g. `node-a/worker-1`.
  std::string name;
  messages::media_actor media;
  /// Cancels the media actor's probe while it blocks (optional).
  messages::media_control_actor media_control;
  messages::summarizer_actor summarizer;
  /// Optional: told of every outcome the worker answers, right before it
  /// goes out (a worker node's metrics; `testing.effects_log`).
  std::function<void(const messages::task_outcome&)> on_finished;
  /// Receives a line when a task starts and when it ends, with the task
  /// (its job and request id go into the log line's fields); optional.
  std::function<void(const std::string& text, const messages::task& t)>
    trace;
};

/// State of a worker: the ports it uses and the lease it runs.
struct worker_state {
  static inline const char* name = "vf.worker";

  worker_config cfg;
  /// A synthetic sleep waiting for its timer.
  struct sleeper {
    messages::task job_task;
    caf::typed_response_promise<messages::task_outcome> promise;
    caf::actor_clock::time_point started;
  };
  /// Synthetic sleeps waiting for their timer, by lease id.
  std::unordered_map<uint64_t, sleeper> sleeping;
  /// A lease running through a port.
  struct run_entry {
    messages::task_kind kind = messages::task_kind::probe;
    /// The sender of its `run` (dispatcher or lease relay): where progress
    /// goes.
    caf::strong_actor_ptr requester;
    /// The last percent passed on.
    uint8_t percent = 0;
  };
  /// Leases running through a port, by lease id.
  std::unordered_map<uint64_t, run_entry> running;
  /// Outcomes answered since the last `flush`, oldest first.
  std::deque<messages::task_outcome> recent;

  /// Keeps a copy of `out` for `flush`, dropping the oldest beyond 1024;
  /// tells `cfg.on_finished` first. Called for every outcome answered.
  void remember(const messages::task_outcome& out);
  /// Deadlines of the requests it sent (`ask`).
  request_timeouts timeouts;
};

using worker_impl = worker_impl_actor::stateful_base<worker_state>;

/// Spawn with `sys.spawn(worker, cfg)`. Runs tasks through the media and
/// summarizer ports (which do the blocking work on detached actors) and
/// always answers with an outcome, classifying failures by error code.
worker_impl_actor::behavior_type worker(worker_impl* self, worker_config cfg);

} // namespace vf::actors
