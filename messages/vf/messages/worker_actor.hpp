// vf/messages/worker_actor.hpp

#pragma once

#include "caf/replies_to.hpp"
#include "caf/typed_actor.hpp"

#include "vf/messages/type_ids.hpp"

#include <vector>

namespace vf::messages {

/// Receives how far a running lease got: `(progress, lease_id, percent)`,
/// percent 0..100. A worker sends it to whoever sent it `run` (the
/// dispatcher, or a lease relay, which passes it on); a media actor sends it
/// to the worker that asked for the render. Receivers ignore reports from
/// anyone but the lease's holder and reports of leases they do not know.
using progress_sink_actor
  = caf::typed_actor<caf::reacts_to<atoms::progress, uint64_t, uint8_t>>;

/// A worker runs one task at a time and always answers with an outcome:
/// failures are outcomes too (`ok == false`, classified error code), so a
/// caf::error reply means the worker itself is gone or broke.
///
/// - `(run, task)` → `task_outcome` for that task's lease.
/// - `(cancel, lease_id)`: interrupts that lease at its next check; its
///   outcome is then `cancelled`.
/// - `(flush)` → the outcomes it answered since the last flush (at most the
///   last 1024): a node re-reports them after losing its coordinator,
///   because an answer sent into a dead connection is silently lost.
/// - `(progress, lease_id, percent)`: from its own media actor only; passed
///   on to the sender of that lease's `run` when the percent grew.
///
/// Sent by: a dispatcher (local or, in a cluster, remote).
using worker_actor
  = caf::typed_actor<caf::replies_to<atoms::run, task>::with<task_outcome>,
                     caf::reacts_to<atoms::cancel, uint64_t>,
                     caf::replies_to<atoms::flush>::with<
                       std::vector<task_outcome>>,
                     caf::reacts_to<atoms::progress, uint64_t, uint8_t>>;

} // namespace vf::messages
