// vf/messages/task.hpp

#pragma once

#include "caf/meta/type_name.hpp"

#include "vf/messages/errc.hpp"
#include "vf/messages/job.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace vf::messages {

/// One unit of work a worker can run. Adding a kind: extend this enum, its
/// names in task.cpp, the pipeline in the orchestrator, and a worker port.
enum class task_kind : uint8_t {
  /// Reads container and stream metadata (ffprobe's fields).
  probe,
  /// Writes a text summary from the metadata.
  summarize,
  /// Synthetic: sleeps a fixed time; for benchmarks and tests only.
  sleep,
  /// Makes the job's media outputs (thumbnails, renditions) from one decode
  /// and stores them under `outputs/<job_id>/`; input `{"recipe",
  /// "metadata"}`, output the list of what was made (JSON).
  render,
  /// Renders a composition (`POST /compositions`): input the job's
  /// recipe `{"composition": {...}}`, whose clips and audio name entries of
  /// `task::sources` by index; stores the one output (`task::outputs`, a
  /// presigned PUT when remote) and answers what was made (JSON).
  compose,
};

/// Returns the stable name, e.g. `probe`.
std::string to_string(task_kind x);

/// Parses a name produced by `to_string`.
bool from_string(const std::string& str, task_kind& x);

/// Whether `x` may name a cluster node or a worker label: 1 to 64 letters,
/// digits, `-`, `_` or `.` (names appear in logs, metrics and `node/worker`).
bool is_valid_name(const std::string& x);

/// A lease on one step of one job, handed to one worker.
struct task {
  std::string job_id;
  task_kind kind = task_kind::probe;
  object_ref object;
  std::string filename;
  /// Output of the previous step (JSON text), e.g. metadata for summarize.
  std::string input;
  /// Unique per lease; a result carrying an old lease id is ignored.
  uint64_t lease_id = 0;
  /// 1-based attempt number within the job's current attempt series.
  uint32_t attempt = 1;
  /// How long the worker may take, in milliseconds.
  uint32_t timeout_ms = 30000;
  /// Higher runs first.
  int32_t priority = 0;
  /// Attempt series of the job (0, then +1 per redrive).
  uint32_t series = 0;
  /// Labels a worker must have all of to run it (e.g. `gpu`).
  std::vector<std::string> labels;
  /// Unix ms when the dispatcher leased it to a worker (the coordinator's
  /// clock); 0 while queued.
  int64_t leased_at = 0;
  /// Cost, for admission on the worker's node: cores it keeps busy (0:
  /// negligible, e.g. a probe) and an estimate of its peak memory in MiB
  /// (0: negligible). A render's comes from the probed resolution.
  uint32_t threads = 0;
  uint64_t memory_mb = 0;
  /// Render and compose: every object the task may store (`bucket`, `key` under
  /// `outputs/<job_id>/`), set by the orchestrator from the recipe. A
  /// lease relay adds a presigned PUT `url` to each, so that a worker on
  /// another node stores its outputs without store credentials; local
  /// workers store them directly and get no URLs.
  std::vector<object_ref> outputs;
  /// Render: an earlier job's outputs the task may copy instead of
  /// encoding (content reuse), set by the orchestrator. Compose: the
  /// uploads its clips and audio are cut from. A lease relay adds
  /// a presigned GET `url` to each, so that a worker on another node reads
  /// them without store credentials; local workers read them directly.
  std::vector<object_ref> sources;
  /// The job's correlation id (`job::request_id`), for log lines.
  std::string request_id;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, task& x) {
  return f(caf::meta::type_name("task"), x.job_id, x.kind, x.object, x.filename,
           x.input, x.lease_id, x.attempt, x.timeout_ms, x.priority, x.series,
           x.labels, x.leased_at, x.threads, x.memory_mb, x.outputs, x.sources,
           x.request_id);
}

/// What came of one lease: output on success, a classified error otherwise.
struct task_outcome {
  std::string job_id;
  uint64_t lease_id = 0;
  task_kind kind = task_kind::probe;
  bool ok = false;
  /// JSON text (probe) or plain text (summarize) on success.
  std::string output;
  /// Why it failed (meaningless when `ok`). Travels as an `errc`; only the
  /// edges (ledger rows, JSON, metrics labels) turn it into its name.
  errc error_code = errc::internal;
  std::string error_message;
  /// Whether trying again may succeed.
  bool transient = false;
  /// Wall time the worker spent, in microseconds.
  uint64_t duration_us = 0;
  /// Which worker ran it (`node/name`).
  std::string worker;
  /// Copied from the task: which upload and attempt series it belongs to,
  /// so that a late outcome is never applied to another run of the job.
  std::string object_version;
  uint32_t series = 0;
  /// Unix ms when the dispatcher leased the attempt (stamped by the
  /// dispatcher on every outcome it passes on; 0: never leased).
  int64_t leased_at = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, task_outcome& x) {
  return f(caf::meta::type_name("task_outcome"), x.job_id, x.lease_id, x.kind,
           x.ok, x.output, x.error_code, x.error_message, x.transient,
           x.duration_us, x.worker, x.object_version, x.series,
           x.leased_at);
}

/// Where one task of a job stands in the dispatcher: queued, or leased to a
/// worker and how far it got (`GET /jobs/{id}` progress).
struct task_progress {
  std::string job_id;
  uint64_t lease_id = 0;
  task_kind kind = task_kind::probe;
  uint32_t series = 0;
  std::string object_version;
  /// Held by a worker (false: waiting in the queue).
  bool leased = false;
  /// Holder (`node/name`) and its node; empty while queued.
  std::string worker;
  std::string node;
  /// Unix ms when it was leased (0 while queued).
  int64_t leased_at = 0;
  /// 0..100 as last reported by the worker (renders report it by output
  /// time; other kinds stay at 0 until they finish).
  uint8_t percent = 0;
  /// Render only: keys of the outputs this task makes (a job's renditions
  /// may be spread over several tasks, see `dispatcher_config`).
  std::vector<std::string> outputs;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, task_progress& x) {
  return f(caf::meta::type_name("task_progress"), x.job_id, x.lease_id,
           x.kind, x.series, x.object_version, x.leased, x.worker, x.node,
           x.leased_at, x.percent, x.outputs);
}

/// How `t` stands while it waits in a queue: its job, lease, kind, series
/// and upload, not leased, 0 percent.
task_progress progress_of(const task& t);

/// What a worker offers when it registers with a dispatcher.
struct worker_info {
  /// Unique within the cluster, e.g. `node-a/worker-3`.
  std::string name;
  std::string node;
  std::vector<task_kind> kinds;
  /// Tasks it runs at once.
  uint32_t slots = 1;
  std::vector<std::string> labels;
  /// What its node admits, shared by all workers of the node: cores and a
  /// memory budget in MiB (`workers.memory_budget`); 0: no limit.
  uint32_t cores = 0;
  uint64_t memory_mb = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, worker_info& x) {
  return f(caf::meta::type_name("worker_info"), x.name, x.node, x.kinds,
           x.slots, x.labels, x.cores, x.memory_mb);
}

/// A dispatcher's view of its pool, for metrics and the admin console.
struct dispatcher_stats {
  uint64_t queued = 0;
  uint64_t leased = 0;
  uint64_t workers = 0;
  uint64_t free_slots = 0;
  /// Queued tasks by priority class: [0] high (> 0), [1] default (0),
  /// [2] low (< 0).
  std::vector<uint64_t> queued_by_priority = std::vector<uint64_t>(3, 0);
  /// Milliseconds the oldest queued task of each class has waited (0: none).
  std::vector<uint64_t> oldest_ms_by_priority = std::vector<uint64_t>(3, 0);
  /// Slots in use by node name (the coordinator's own workers under its
  /// node name too).
  std::map<std::string, uint64_t> busy_by_node = {};
};

/// Index of `priority`'s class in `dispatcher_stats`: 0 high, 1 default,
/// 2 low.
constexpr size_t priority_class(int32_t priority) {
  return priority > 0 ? 0 : priority == 0 ? 1 : 2;
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, dispatcher_stats& x) {
  return f(caf::meta::type_name("dispatcher_stats"), x.queued, x.leased,
           x.workers, x.free_slots, x.queued_by_priority,
           x.oldest_ms_by_priority, x.busy_by_node);
}

} // namespace vf::messages

namespace vf::messages {

/// A worker node as the cluster registry sees it (admin console, tests).
struct cluster_node {
  std::string name;
  /// Workers it registered and their total slots.
  uint32_t workers = 0;
  uint32_t slots = 0;
  std::vector<std::string> labels;
  /// Taking no new tasks; leaves once its leases are done.
  bool draining = false;
  /// Unix ms of its (latest) registration.
  int64_t joined_at = 0;
  /// How many times it registered since the coordinator started.
  uint32_t registrations = 0;
  /// Task kinds its workers run (`probe`, `render`, ...).
  std::vector<std::string> kinds;
  /// Slots in use (filled in by the admin console from the dispatcher; 0
  /// in the registry's own answers).
  uint32_t busy = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cluster_node& x) {
  return f(caf::meta::type_name("cluster_node"), x.name, x.workers, x.slots,
           x.labels, x.draining, x.joined_at, x.registrations, x.kinds,
           x.busy);
}

} // namespace vf::messages
