// vf/actors/dispatcher.hpp

#pragma once

#include "caf/node_id.hpp"
#include "caf/stateful_actor.hpp"
#include "caf/typed_event_based_actor.hpp"
#include "caf/typed_response_promise.hpp"

#include "vf/actors/request_timeouts.hpp"
#include "vf/actors/wall_clock.hpp"
#include "vf/messages/dispatcher_actor.hpp"
#include "vf/messages/metrics_actor.hpp"
#include "vf/messages/presigner_actor.hpp"

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace vf::actors {

/// Tuning of the dispatcher.
struct dispatcher_config {
  /// Added to a task's own timeout before the lease counts as expired: the
  /// worker enforces the deadline itself and needs a moment to report it.
  std::chrono::milliseconds lease_grace{2000};
  /// Whether leases expire at all. Only tests of the network layer turn
  /// this off: their simulated network runs every pending timer whenever
  /// it is idle, which would expire every lease at once.
  bool expire_leases = true;
  /// Optional sink for observations (invalid handle: none).
  messages::metrics_actor metrics;
  /// Presigns the download of a probe leased to a worker on another node
  /// (invalid handle: remote leases go without a URL). Asked by the lease's
  /// relay, so local leases never pay for it.
  messages::presigner_actor presigner;
  /// How many remote leases the dispatcher remembers after they end, so a
  /// node that lost its answers can report them (`report`); older ones are
  /// forgotten (their reports are then dropped and the work is redone).
  size_t recent_leases = 65536;
  /// Starvation guard: every `fair_every`-th lease goes to the task that
  /// has waited longest among those a worker can run now, whatever its
  /// priority (0 or 1: strict priority). With the default 8, low-priority
  /// work gets at least 1/8 of the leases while high-priority work keeps
  /// arriving.
  uint32_t fair_every = 8;
  /// Unix ms at spawn: anchors the wall clock that stamps `leased_at`
  /// (tests leave 0 and read times relative to it).
  int64_t wall_ms = 0;
  /// Called when a worker takes a task, before the task is sent to it; the
  /// runtime journals the attempt there, so that after a crash of this node
  /// an attempt that had begun counts and one still queued does not (see
  /// adapters/common/lease_journal.hpp). Empty: nothing is called.
  std::function<void(const messages::task&)> on_begin;
  /// Called once when a lease ends, whatever its outcome.
  std::function<void(const messages::task&)> on_end;
  /// A task that no joined worker offers to run (its kind, its labels;
  /// workers leaving do not count) fails with a permanent `no_worker`
  /// outcome after waiting this long for one to join, instead of waiting
  /// for ever (0: it waits). A task some worker offers waits its turn.
  std::chrono::milliseconds unrunnable_after{300000};
  /// Room for large tasks: a costly task (a render) that no node admits
  /// next to what it runs, after waiting this long, keeps the least loaded
  /// node that could hold it: no other costly task starts there until it
  /// fits (tasks without a cost, like probes, still do). Before that,
  /// smaller renders that fit may pass it. 0: at once.
  std::chrono::milliseconds reserve_after{30000};
  /// Spreads one render over nodes: when a render is next to run and more
  /// than one node has a free worker for it, `split_render(render, nodes)`
  /// may cut it into at most that many parts (each a render task of its
  /// own, with a share of the outputs and its own cost); the dispatcher
  /// leases the parts like any task, each on a node of its own when one is
  /// free, and answers the render with one outcome: `merge_render(render,
  /// inputs, outputs, workers)` of the parts' inputs and outputs when all
  /// succeed, else the first failure (the other parts are cancelled). A
  /// part whose worker was lost or did not answer in time is leased again
  /// alone (`part_retries` times at most; the other parts keep running).
  /// Fewer than two parts: not split. Empty (tests, runtime without
  /// media): renders are never split.
  std::function<std::vector<messages::task>(const messages::task&, size_t)>
    split_render;
  std::function<std::string(const messages::task&,
                            const std::vector<std::string>&,
                            const std::vector<std::string>&,
                            const std::vector<std::string>&)>
    merge_render;
  /// How often one part of a split render is leased again after its worker
  /// was lost or its lease expired, before that fails the render.
  uint32_t part_retries = 2;
};

/// A worker as the dispatcher sees it.
struct worker_entry {
  messages::worker_actor handle;
  messages::worker_info info;
  uint32_t busy = 0;
  /// Takes no new tasks (its node is leaving).
  bool draining = false;
};

/// A task waiting for a worker.
struct queued_task {
  messages::task job_task;
  caf::typed_response_promise<messages::task_outcome> promise;
  /// When it was submitted (the actor clock), for the oldest-age metric.
  caf::actor_clock::time_point since;
};

/// A task a worker holds.
struct lease {
  messages::task job_task;
  caf::typed_response_promise<messages::task_outcome> promise;
  caf::actor_addr worker;
  /// The relay that talks to a remote worker (invalid for a local one).
  messages::lease_relay_actor relay;
  /// The node of its worker (`worker_info::node`).
  std::string node;
  /// How far the worker got, 0..100 (its `progress` reports; never falls).
  uint8_t percent = 0;
  /// Its entry in `dispatcher_state::loads` (empty: it costs nothing).
  std::string load_key;
  /// Cancelled (or its split render answered) while its worker still runs
  /// it: no longer the job's, so `lease_of` leaves it out and the upload
  /// gate refuses its output PUTs.
  bool revoked = false;
};

/// What the dispatcher remembers of a lease it gave to a remote worker:
/// enough to tell whether a late report answers it, and who may report it.
struct lease_record {
  std::string job_id;
  messages::task_kind kind = messages::task_kind::probe;
  std::string object_version;
  uint32_t series = 0;
  /// When it was leased (Unix ms), stamped on a late report of it: a
  /// worker's own copy of the task is not trusted for the ledger.
  int64_t leased_at = 0;
  /// The CAF node of the worker that got it.
  caf::node_id node;
};

/// State of the dispatcher.
struct dispatcher_state {
  static inline const char* name = "vf.dispatcher";

  dispatcher_config cfg;
  /// Stamps `leased_at`.
  wall_clock clock;
  std::map<caf::actor_addr, worker_entry> workers;
  using queue_type = std::map<std::pair<int64_t, uint64_t>, queued_task>;
  /// Ordered by (-priority, arrival): `begin()` runs next (see
  /// `dispatcher_config::fair_every` for the exception).
  queue_type queue;
  uint64_t arrivals = 0;
  /// Leases handed out since spawn.
  uint64_t leased_total = 0;
  std::unordered_map<uint64_t, lease> leases;
  /// Remote leases by lease id, the oldest first out of `recent_order`.
  std::unordered_map<uint64_t, lease_record> recent;
  std::deque<uint64_t> recent_order;
  /// Answered with 0 when the last lease ends (`(drain)`).
  std::vector<caf::typed_response_promise<uint64_t>> drain_waiters;
  /// Answered with 0 when the last lease of their node ends (`(drained,
  /// node)`).
  std::unordered_map<std::string,
                     std::vector<caf::typed_response_promise<uint64_t>>>
    node_waiters;

  /// What the leases on a node cost together (admission, see
  /// `messages::task::threads`).
  struct node_load {
    uint32_t threads = 0;
    uint64_t memory_mb = 0;
  };
  /// Cost of the leases on each node (by CAF node and `worker_info::node`),
  /// nodes with costly leases only.
  std::unordered_map<std::string, node_load> loads;
  /// A render spread over parts: the requester's promise, waiting for
  /// every part (by the render's lease id).
  struct split_render {
    messages::task job_task;
    caf::typed_response_promise<messages::task_outcome> promise;
    std::vector<uint64_t> parts;
    /// Each part as it was queued, with its queue key: a part lost with
    /// its worker goes back there under a new lease id.
    std::vector<messages::task> tasks;
    std::vector<queue_type::key_type> keys;
    caf::actor_clock::time_point since;
    uint32_t retries = 0;
    std::vector<std::string> inputs;
    std::vector<std::string> outputs;
    std::vector<std::string> workers;
    size_t done = 0;
    bool answered = false;
    uint64_t duration_us = 0;
    int64_t leased_at = 0;
  };
  std::unordered_map<uint64_t, split_render> splits;
  /// Lease ids of parts (never split again), mapped to their render's.
  std::unordered_map<uint64_t, uint64_t> part_of;
  /// Leases held by the workers of `node`.
  uint64_t held_by(const std::string& node) const;
  /// Deadlines of the requests it sent (`ask`).
  request_timeouts timeouts;
};

using dispatcher_impl
  = messages::dispatcher_node_actor::stateful_base<dispatcher_state>;

/// Spawn with `sys.spawn(dispatcher, cfg)`; the handle converts to a
/// `messages::dispatcher_actor` for everyone but the node.
messages::dispatcher_node_actor::behavior_type
dispatcher(dispatcher_impl* self, dispatcher_config cfg);

} // namespace vf::actors
