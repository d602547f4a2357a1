// vf/messages/dispatcher_actor.hpp

#pragma once

#include "caf/node_id.hpp"
#include "caf/replies_to.hpp"
#include "caf/typed_actor.hpp"

#include "vf/messages/type_ids.hpp"
#include "vf/messages/worker_actor.hpp"

#include <vector>

namespace vf::messages {

/// The worker pool: queues tasks, leases them to workers with free slots
/// (highest priority first, then oldest) whose node admits the task's cost
/// (`task::threads`, `task::memory_mb` against `worker_info::cores`,
/// `memory_mb`, shared by a node's workers), and answers with the outcome.
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
/// - `(undrain, node)` → leases the workers of `node` hold; they get new
///   tasks again.
/// - `(drained, node)` → `uint64_t{0}` once the workers of `node` hold no
///   lease any more (at once if they hold none): every lease of theirs
///   ended, with its outcome passed on or handed back. Ask after `(drain,
///   node)`, or new leases may keep it waiting.
/// - `(cancel, lease_id)`: a queued task is dropped and answered with a
///   `cancelled` outcome; a leased one is interrupted through its worker,
///   whose outcome then ends the lease.
/// - `(report, node, outcomes)` → the outcomes that answer a lease the
///   dispatcher gave to a worker on CAF node `node` (same lease id, job,
///   step, upload and attempt series), from a bounded record of recent
///   remote leases; everything else is left out. The cluster registry asks
///   this before it passes a node's late results to the orchestrator.
/// - `(lease_of, job_id)` → where the job's tasks stand: one entry per
///   queued or leased task (empty when none is), with the percent its
///   worker last reported.
///
/// A lease binds the outcome to its holder: the answer to lease L must
/// carry L's lease id, job id, step, upload and series, or it ends L as a
/// `forbidden` failure. Never reachable from the network: remote workers
/// get `run` from a one-lease relay (`lease_relay_actor`), and `cancel`
/// anonymously, so no remote node ever holds the dispatcher's handle.
///
/// Sent by: the orchestrator (`submit`), runtime and cluster registry
/// (`join`, `drain`, `report`), metrics and admin console (`stats`).
using dispatcher_actor = caf::typed_actor<
  caf::replies_to<atoms::submit, task>::with<task_outcome>,
  caf::replies_to<atoms::join, worker_actor, worker_info>::with<bool>,
  caf::replies_to<atoms::stats>::with<dispatcher_stats>,
  caf::replies_to<atoms::drain, std::string>::with<uint64_t>,
  caf::replies_to<atoms::drained, std::string>::with<uint64_t>,
  caf::replies_to<atoms::undrain, std::string>::with<uint64_t>,
  caf::reacts_to<atoms::cancel, uint64_t>,
  caf::replies_to<atoms::report, caf::node_id, std::vector<task_outcome>>::
    with<std::vector<task_outcome>>,
  caf::replies_to<atoms::lease_of, std::string>::with<
    std::vector<task_progress>>>;

/// The dispatcher as the node that owns it sees it: the worker pool plus
///
/// - `(drain)` → `uint64_t{0}` once no lease is held any more (at once if
///   none is). Tasks keep being leased meanwhile; the node asks this while
///   it stops, after its edges closed, so that leased tasks finish and
///   their results are recorded before the domain stops.
/// - `(unrunnable, lease_id)`: the dispatcher's own timer for a queued task
///   that no joined worker offers to run: if still none does, the task ends
///   with a permanent `no_worker` outcome instead of waiting for ever.
/// - `(progress, lease_id, percent)`: a local worker's report (see
///   `progress_sink_actor`); only the lease's worker is listened to.
///
/// Sent by: the runtime's node only (fakes of `dispatcher_actor` need not
/// implement it; a `dispatcher_node_actor` converts to one).
using dispatcher_node_actor = dispatcher_actor::extend<
  caf::replies_to<atoms::drain>::with<uint64_t>,
  caf::reacts_to<atoms::unrunnable, uint64_t>,
  caf::reacts_to<atoms::progress, uint64_t, uint8_t>>;

/// What the dispatcher puts between itself and a remote worker: one actor
/// per remote lease, the only coordinator actor besides the cluster
/// registry that a worker node can address (it is the sender of `run`).
///
/// - `(run, task)` → the worker's outcome. Accepted once, from the
///   dispatcher that spawned it, before any remote node knows it; every
///   later `run` is refused (`errc::forbidden`). It quits after answering.
/// - `(progress, lease_id, percent)`: its worker's report on its lease,
///   passed on to the dispatcher; from anyone else, or for another lease,
///   ignored.
///
/// Sent by: the dispatcher (`run`), its worker (`progress`).
using lease_relay_actor
  = caf::typed_actor<caf::replies_to<atoms::run, task>::with<task_outcome>,
                     caf::reacts_to<atoms::progress, uint64_t, uint8_t>>;

} // namespace vf::messages
