// vf/actors/orchestrator.hpp

#pragma once

#include "caf/stateful_actor.hpp"
#include "caf/typed_event_based_actor.hpp"

#include "vf/actors/idempotency_guard.hpp"
#include "vf/actors/job_lifecycle.hpp"
#include "vf/actors/request_timeouts.hpp"
#include "vf/actors/wall_clock.hpp"
#include "vf/messages/dispatcher_actor.hpp"
#include "vf/messages/idempotency_guard_actor.hpp"
#include "vf/messages/object_checker_actor.hpp"
#include "vf/messages/orchestrator_actor.hpp"
#include "vf/messages/stores.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace vf::actors {

/// How the orchestrator runs jobs.
struct orchestrator_config {
  /// The bucket our uploads go to; events for other buckets are rejected.
  std::string bucket = "uploads";
  /// First segment of object keys: `<prefix>/<job_id>/<filename>`.
  std::string key_prefix = "uploads";
  /// The steps every job runs, in order. The output of a step is the input
  /// of the next; `probe`'s output is the result's metadata, `summarize`'s
  /// its summary.
  std::vector<messages::task_kind> pipeline{messages::task_kind::probe,
                                            messages::task_kind::summarize};
  /// Labels a worker must have to run a step of that kind (e.g. `gpu`).
  std::map<messages::task_kind, std::vector<std::string>> labels;
  /// Input of a `sleep` step (milliseconds, as text); benchmarks only.
  std::string sleep_input = "10";
  /// Attempts per step, the first included, before a job fails for good.
  uint32_t max_attempts = 3;
  /// Full-jitter exponential backoff: the n-th retry waits a uniformly
  /// random time in [0, min(cap, base * 2^(n-1))].
  std::chrono::milliseconds backoff_base{500};
  std::chrono::milliseconds backoff_cap{30000};
  /// Deadline of one task attempt.
  uint32_t task_timeout_ms = 60000;
  /// Deadline of one attempt of a render step (thumbnails and renditions
  /// of a whole source).
  uint32_t render_timeout_ms = 1800000;
  /// Unix ms at spawn (runtime: system clock; tests: a fixed value).
  int64_t wall_ms = 0;
  /// Seeds backoff jitter (runtime: random_device; tests: fixed).
  uint64_t seed = 0;
  /// Asked before an event from an outside source (anything but the
  /// built-in store) is claimed: the object must exist with the event's
  /// size and ETag. Null (single node, built-in store): no check.
  messages::object_checker_actor checker;
  /// Makes lease ids. Empty (the runtime): 64 random bits from the OS
  /// CSPRNG, so a lease can be neither guessed nor repeated across
  /// restarts. Tests set a counter to get predictable ids.
  std::function<uint64_t()> lease_ids;
  /// How often uploads that never came are expired; 0 disables the sweep.
  std::chrono::milliseconds expire_interval{60000};
  /// A job still AWAITING_UPLOAD this long after creation is EXPIRED (its
  /// upload URL expired; the runtime adds a grace period).
  std::chrono::milliseconds upload_ttl{960000};
  /// Whether a worker had begun this attempt (job, series, step, attempt)
  /// when the node last stopped: on recovery, an interrupted attempt counts
  /// against `max_attempts` only if it had (it may have crashed the node);
  /// one still queued did not run and is started again under its number.
  /// Empty: every interrupted attempt counts.
  std::function<bool(const std::string&, uint32_t, messages::task_kind,
                     uint32_t)>
    began_before;
  /// Whether a render looks for an earlier job of the same owner with the
  /// same upload bytes (SHA-256) and recipe and copies its outputs
  /// (`outputs.reuse`).
  bool reuse_outputs = true;
  /// Builds a render task's input from the job's recipe, the probe's
  /// metadata and, for content reuse, an earlier job's id and stored
  /// outputs (both empty: none), as one JSON object, so that no part (a
  /// probe's output comes from a worker) can add keys of its own (runtime:
  /// the media adapter's `make_render_input`). Empty: the orchestrator
  /// splices the texts itself and never reuses.
  std::function<std::string(const std::string& recipe,
                            const std::string& metadata,
                            const std::string& reuse_job,
                            const std::string& reuse_outputs)>
    render_input;
  /// The upload's SHA-256 found in a probe's output (runtime: the media
  /// adapter's `content_digest_of`; the probe adds it for uploads that
  /// reached S3 or MinIO without passing through vidflow), or empty. Kept
  /// with a job that has none, so that content reuse finds and serves it.
  /// Empty: only the built-in store's digests count.
  std::function<std::string(const std::string& probe_output)> content_digest;
  /// Cost of a render task (`task::threads`, `task::memory_mb`) from the
  /// job's recipe and the probe's metadata (runtime: the media adapter's
  /// estimate). Empty: renders cost nothing and only slots bound them.
  std::function<std::pair<uint32_t, uint64_t>(const std::string& recipe,
                                              const std::string& metadata)>
    render_cost;
  /// Keys of every object a render of `recipe` for job `job_id` may store
  /// (under `outputs/<job_id>/`), put on the task (`task::outputs`, in the
  /// upload's bucket) so that a worker on another node gets a presigned PUT
  /// for each (runtime: the media adapter's `render_output_keys`). Empty:
  /// no list, and only local workers can store a render's outputs.
  std::function<std::vector<std::string>(const std::string& job_id,
                                         const std::string& recipe)>
    output_keys;
  /// The uploads a composition's recipe cuts its clips and audio from, in
  /// the order its indexes name them (`task::sources`; runtime: the media
  /// adapter's `composition_sources`). Empty: none, and compose tasks fail.
  std::function<std::vector<messages::object_ref>(const std::string& recipe)>
    compose_sources;
  /// Checks a render's output before it is recorded: exactly the outputs
  /// of the job's `recipe`, every stored object in `bucket` under
  /// `outputs/<job_id>/`, and `reused_from` only the job the orchestrator
  /// offered for reuse (`reuse_job`, empty: none). Returns
  /// why it is refused, or empty. A worker on another node wrote it, and
  /// the API presigns downloads of the keys it names, so a node must not
  /// make a job point at another job's objects (runtime: the media
  /// adapter's `check_render_output`). Empty: outputs are taken as they are.
  std::function<std::string(const std::string& job_id,
                            const std::string& bucket,
                            const std::string& reuse_job,
                            const std::string& recipe,
                            const std::string& output)>
    check_render_output;
  /// Called once a job's terminal status is durable (metrics): the job
  /// (its status and, if FAILED, its error), and the milliseconds since
  /// its upload was taken (SUBMITTED), or -1 when that is not known (a run
  /// resumed after a restart). Optional.
  std::function<void(const messages::job& j, int64_t ms)> on_job_end;
  /// Called when a step's attempt after the first is handed out (metrics:
  /// retries by task kind). Optional.
  std::function<void(messages::task_kind kind)> on_retry;
  /// Receives a line per step of a job worth following (upload taken, a
  /// step's attempt handed out, the end) with the job; its id and request
  /// id go into the log line's fields. Optional.
  std::function<void(const std::string& text, const messages::job& j)> trace;
};

/// Returns why the steps `pipeline` cannot run together, or nullopt if they
/// can. A step's input is the output of the step before it: `summarize`
/// reads the probe's metadata, so it must follow `probe` directly; `probe`
/// reads the object and `sleep` its own setting, so they fit anywhere. A
/// kind appears at most once (outputs are kept by kind).
std::optional<std::string>
check_pipeline(const std::vector<messages::task_kind>& pipeline);

/// The steps job `j` runs: `cfg.pipeline`, then `render` when the job asks
/// for media outputs (it reads the probe's metadata, recorded by then);
/// `compose` alone for a composition, `probe` alone for an asset.
std::vector<messages::task_kind> pipeline_of(const orchestrator_config& cfg,
                                             const messages::job& j);

/// Returns the backoff before retry number `retry` (1-based) given a
/// uniform random number `u` in [0, 1).
std::chrono::milliseconds backoff_delay(const orchestrator_config& cfg,
                                        uint32_t retry, double u);

/// One job the orchestrator is driving.
struct job_run {
  /// The job as last written to the store.
  messages::job snapshot;
  /// The steps of this job (`pipeline_of`).
  std::vector<messages::task_kind> pipeline;
  /// Index into `pipeline` of the current step.
  size_t step = 0;
  /// Lease of the running or scheduled attempt; results of other leases
  /// are stale and ignored.
  uint64_t lease = 0;
  /// Outputs of finished steps, by kind.
  std::map<messages::task_kind, std::string> outputs;
  /// The earlier job whose outputs the current render attempt was offered
  /// to copy (content reuse); empty: none.
  std::string reuse_job;
  /// An outcome of the current step is being written to the ledger: any
  /// other outcome for the step (a duplicate report, a late lease) waits
  /// for none and is dropped, so a step is recorded once.
  bool recording = false;
  /// What the run's backoff timer feeds to the lifecycle when it fires for
  /// the current lease: `attempt_due`, `result_due` or `burial_due`.
  job_event timer = job_event::attempt_due;
  /// The dead letter of a FAILED run, kept until the store has it.
  std::optional<messages::dead_letter> burial;
  /// Unix ms when this run's upload was taken (SUBMITTED); 0 if unknown.
  int64_t submitted_at = 0;
  /// The result and the job's SUCCEEDED are being written (one store
  /// request): a cancel reads the job from the store, behind that write,
  /// instead of taking this snapshot, and an outcome is stale.
  bool finishing = false;
  /// The ledger record of the last step's successful attempt: written with
  /// the result and SUCCEEDED in that same request (and again if it fails
  /// and is retried), not in one of its own before them.
  std::optional<messages::attempt_record> last_record;
};

/// State of the orchestrator.
struct orchestrator_state {
  static inline const char* name = "vf.orchestrator";

  orchestrator_config cfg;
  wall_clock clock;
  std::mt19937_64 rng;
  /// Returns a fresh lease id (never 0) from `cfg.lease_ids`.
  uint64_t next_lease();
  /// Jobs in SUBMITTED or PROCESSING, driven by this orchestrator.
  std::unordered_map<std::string, job_run> runs;
  /// Claim keys of events being handled right now, each with the requests
  /// for the same event that arrived meanwhile: they are answered with its
  /// outcome (`false` once it is recorded, its error if it failed), never
  /// before, so no source forgets an event that is not recorded yet.
  std::unordered_map<std::string,
                     std::vector<caf::typed_response_promise<bool>>>
    claiming;
  /// Deadlines of the requests it sent (`ask`).
  request_timeouts timeouts;
};

/// The orchestrator's own interface: the public one plus the timers it
/// sends only to itself (`(retry, job_id, lease_id)`: a run's backoff
/// elapsed; `(expire_old)`: the expiry sweep). Handles given to others are
/// `messages::orchestrator_actor`, which converts from this one, so no other
/// actor (or test fake) knows or implements the timers.
using orchestrator_private_actor = messages::orchestrator_actor::extend<
  caf::reacts_to<atoms::retry, std::string, uint64_t>,
  caf::reacts_to<atoms::expire_old>>;

using orchestrator_impl
  = orchestrator_private_actor::stateful_base<orchestrator_state>;

/// Spawn with `sys.spawn(orchestrator, cfg, stores, guard, dispatcher)`
/// (it uses the jobs, the ledger and the dead letters; claims go through
/// the guard); hand out the result as a `messages::orchestrator_actor`.
orchestrator_private_actor::behavior_type
orchestrator(orchestrator_impl* self, orchestrator_config cfg,
             messages::stores stores,
             messages::idempotency_guard_actor guard,
             messages::dispatcher_actor dispatcher);

} // namespace vf::actors
