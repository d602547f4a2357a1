// vf/actors/job_registry.hpp

#pragma once

#include "caf/stateful_actor.hpp"
#include "caf/typed_event_based_actor.hpp"
#include "caf/typed_response_promise.hpp"

#include "vf/actors/request_timeouts.hpp"
#include "vf/actors/wall_clock.hpp"
#include "vf/messages/job_registry_actor.hpp"
#include "vf/messages/retention_actor.hpp"
#include "vf/messages/stores.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace vf::actors {

/// How the registry names and places new jobs.
struct job_registry_config {
  /// Bucket uploads go to.
  std::string bucket = "uploads";
  /// First path segment of every object key: `<prefix>/<job_id>/<filename>`.
  std::string key_prefix = "uploads";
  /// Unix ms at spawn (runtime: system clock; tests: a fixed value).
  int64_t wall_ms = 0;
  /// Most jobs one owner may have in AWAITING_UPLOAD, SUBMITTED or
  /// PROCESSING; a new one beyond is `errc::quota_exceeded`. 0: no limit.
  uint64_t jobs_in_flight_per_user = 0;
  /// Most bytes of stored objects one owner may hold; at or over it a new
  /// job is `errc::storage_quota_exceeded`. 0: no limit.
  uint64_t bytes_per_user = 0;
  /// Deletes a job's upload and outputs on `(erase, id)`; invalid (an S3
  /// server, where we hold no delete rights): only the records go.
  messages::object_deleter_actor deleter;
  /// How long an Idempotency-Key of `POST /jobs` names the job it made: the
  /// same owner sending it again within this time gets that job back.
  std::chrono::hours idempotency_window{24};
  /// Most `(await_end, ...)` requests held at once; one more is answered
  /// `false` at once (the client gets the job as it stands and asks
  /// again). Each holds a response promise and a timer.
  size_t max_waiters = 10'000;
};

/// A request waiting for its job's end (`await_end`).
struct end_waiter {
  uint64_t token = 0;
  caf::typed_response_promise<bool> rp;
};

/// Returns why `filename` is not acceptable as the last segment of an object
/// key, or nullopt if it is fine.
std::optional<std::string> check_filename(const std::string& filename);

/// State of the job registry.
struct job_registry_state {
  static inline const char* name = "vf.job-registry";

  job_registry_config cfg;
  wall_clock clock;
  /// Creates per owner between their usage check and the store's reply:
  /// counted against the in-flight limit, so a burst of concurrent creates
  /// cannot all pass one check.
  std::map<std::string, uint64_t> creating;
  /// Intake paused by an operator: creates refused (`errc::intake_paused`).
  bool paused = false;
  /// Requests waiting for a job's end, by job id; `waiting` counts them.
  std::unordered_map<std::string, std::vector<end_waiter>> waiters;
  size_t waiting = 0;
  uint64_t next_waiter = 0;
  /// Deadlines of the requests it sent (`ask`).
  request_timeouts timeouts;
};

using job_registry_impl
  = messages::job_registry_actor::stateful_base<job_registry_state>;

/// Spawn with `sys.spawn(job_registry, stores, cfg)`; it uses the jobs, the
/// ledger and the dead letters.
messages::job_registry_actor::behavior_type
job_registry(job_registry_impl* self, messages::stores stores,
             job_registry_config cfg);

} // namespace vf::actors
