// vf/messages/dispatcher_actor.hpp

#pragma once

#include "caf/replies_to.hpp"
#include "caf/typed_actor.hpp"

#include "vf/messages/type_ids.hpp"
#include "vf/messages/worker_actor.hpp"

namespace vf::messages {

/// The worker pool: queues tasks, leases them to workers with free slots
/// (highest priority first, then oldest), and answers with the outcome.
///
/// - `(submit, task)` → `task_outcome` once a worker finished the lease. A
///   lease whose deadline passes, or whose worker goes down, ends in a
///   transient outcome (`timeout` / `worker_lost`) so the orchestrator can
///   retry; the dispatcher never retries on its own.
/// - `(join, worker, info)` → `true`: adds a worker with `info.slots` slots;
///   the dispatcher monitors it and forgets it when it goes down.
/// - `(stats)` → queue depth, leases, workers, free slots.
/// - `(drain, node)` → leases the workers of `node` still hold; from now on
///   they get no new tasks (a worker that joins again is not draining).
/// - `(cancel, lease_id)`: a queued task is dropped and answered with a
///   `cancelled` outcome; a leased one is interrupted through its worker,
///   whose outcome then ends the lease.
///
/// Sent by: the orchestrator (`submit`), runtime and cluster registry
/// (`join`, `drain`), metrics and admin console (`stats`).
using dispatcher_actor = caf::typed_actor<
  caf::replies_to<atoms::submit, task>::with<task_outcome>,
  caf::replies_to<atoms::join, worker_actor, worker_info>::with<bool>,
  caf::replies_to<atoms::stats>::with<dispatcher_stats>,
  caf::replies_to<atoms::drain, std::string>::with<uint64_t>,
  caf::reacts_to<atoms::cancel, uint64_t>>;

} // namespace vf::messages
