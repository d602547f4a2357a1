// vf/actors/job_lifecycle.hpp

#pragma once

#include "vf/messages/errc.hpp"
#include "vf/messages/job.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace vf::actors {

/// Something that happens to a job; the orchestrator feeds each one to
/// `next` (or `apply`) and does only what the answer says.
enum class job_event : uint8_t {
  /// The job's upload arrived and was claimed.
  upload_arrived,
  /// An attempt of the current step is about to be leased to a worker.
  attempt_started,
  /// The lease's outcome arrived; it goes to the attempt ledger first.
  outcome_arrived,
  /// A late ok outcome of the current step (a worker node's report)
  /// replaces the running attempt.
  report_adopted,
  /// A step other than the last one succeeded (and is recorded).
  step_succeeded,
  /// The last step succeeded (and is recorded): the result is due.
  last_step_succeeded,
  /// The result is durable.
  result_stored,
  /// The result could not be written; write it again after a backoff.
  result_failed,
  /// The result's backoff elapsed.
  result_due,
  /// An attempt failed, may succeed when tried again, and attempts are left.
  transient_failure,
  /// The retry's backoff elapsed.
  attempt_due,
  /// An attempt failed for good, or the last allowed attempt failed.
  permanent_failure,
  /// The dead letter (and FAILED) could not be written.
  burial_failed,
  /// The burial's backoff elapsed.
  burial_due,
  /// A user or operator cancels the job.
  cancel,
  /// An operator runs a failed job again with a new attempt series.
  redrive,
  /// The upload never came before its URL (plus grace) expired.
  expire,
  /// The node restarted: resume from the attempt ledger.
  recover,
};

/// Number of `job_event` values, for tables indexed by event.
constexpr size_t job_event_count = 18;

static_assert(static_cast<size_t>(job_event::recover) + 1 == job_event_count,
              "job_event_count must count every job_event");

/// Returns the event's name, e.g. `upload_arrived`.
std::string to_string(job_event x);

/// What the orchestrator must do after a transition, as a set of bits.
/// Writes come first, then the rest, in the order they are declared.
enum class job_effect : uint16_t {
  none = 0,
  /// Void the lease of the running attempt at the dispatcher.
  cancel_lease = 1u << 0,
  /// Mark the dead letter redriven (first of two redrives wins).
  mark_redriven = 1u << 1,
  /// Write the job record.
  persist = 1u << 2,
  /// Append the outcome to the attempt ledger.
  record_outcome = 1u << 3,
  /// Lease the current step to the dispatcher (after `persist` landed).
  dispatch = 1u << 4,
  /// Start an attempt of the current (or next) step: `attempt_started`.
  start_attempt = 1u << 5,
  /// Write the result (first write wins), then `result_stored`.
  store_result = 1u << 6,
  /// Write the dead letter and FAILED in one transaction.
  bury = 1u << 7,
  /// Arm the backoff timer; `attempt_due` when it fires.
  retry_attempt_later = 1u << 8,
  /// Arm the backoff timer; `result_due` when it fires.
  retry_result_later = 1u << 9,
  /// Arm the backoff timer; `burial_due` when it fires.
  retry_burial_later = 1u << 10,
  /// Read the attempt ledger and resume after the last recorded step.
  read_ledger = 1u << 11,
  /// Stop driving the job (drop its run).
  forget = 1u << 12,
};

constexpr job_effect operator|(job_effect x, job_effect y) {
  return static_cast<job_effect>(static_cast<uint16_t>(x)
                                 | static_cast<uint16_t>(y));
}

/// Returns whether `set` contains every bit of `x`.
constexpr bool has(job_effect set, job_effect x) {
  return (static_cast<uint16_t>(set) & static_cast<uint16_t>(x))
         == static_cast<uint16_t>(x);
}

/// Returns the names of the bits in `x`, e.g. `persist+dispatch`.
std::string to_string(job_effect x);

/// A legal transition: where the job goes and what has to happen.
struct job_transition {
  messages::job_status to;
  job_effect effects;
};

constexpr bool operator==(const job_transition& x, const job_transition& y) {
  return x.to == y.to && x.effects == y.effects;
}

/// The job lifecycle: returns the transition for `event` in state `from`,
/// or nullopt if the pair is illegal (nothing may be written then). Pure:
/// no I/O, no clock, no actor; the table in job_lifecycle.cpp is the whole
/// state machine of a job, drawn in docs/architecture.md.
[[nodiscard]] std::optional<job_transition> next(messages::job_status from,
                                                 job_event event);

/// What an event carries into the job record, where it carries anything.
struct job_event_data {
  /// Unix ms of the event (`updated_at`).
  int64_t now = 0;
  /// The error of a failure (`transient_failure`, `result_failed`,
  /// `permanent_failure`).
  messages::errc code = messages::errc::internal;
  std::string message;
  /// Unix ms of the next attempt (`transient_failure`).
  int64_t next_attempt_at = 0;
};

/// Applies `event` to `j`: moves `j.status` by `next` and sets the fields
/// the lifecycle owns (error code and message, `next_attempt_at`,
/// `updated_at`; `step`, `attempts` and `series` where the event restarts
/// the job). Returns the effects, or nullopt (and leaves `j` untouched) if
/// the pair is illegal. The orchestrator changes a job's status only
/// through this function.
[[nodiscard]] std::optional<job_effect>
apply(messages::job& j, job_event event, const job_event_data& data);

} // namespace vf::actors
