// vf/messages/dead_letter.hpp

#pragma once

#include "caf/meta/type_name.hpp"

#include "vf/messages/job.hpp"
#include "vf/messages/task.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace vf::messages {

/// One entry of a job's attempt ledger: what one lease came to. The ledger
/// is append-only; it is how effects are counted (a step's effect happened
/// once when exactly one `ok` entry exists for it) and how a restarted node
/// resumes after the last finished step (`output` is durable).
struct attempt_record {
  std::string job_id;
  uint64_t lease_id = 0;
  /// The object version the attempt worked on.
  std::string object_version;
  /// Attempt series: 0 for the first run, +1 for each redrive.
  uint32_t series = 0;
  task_kind kind = task_kind::probe;
  /// 1-based attempt number of this step within the series.
  uint32_t attempt = 1;
  bool ok = false;
  /// The step's output on success (input of the next step).
  std::string output;
  /// `errc::none` for an ok attempt.
  errc error_code = errc::none;
  std::string error_message;
  /// Which worker ran it (`node/name`).
  std::string worker;
  /// Unix ms when the outcome was recorded.
  int64_t finished_at = 0;
  uint64_t duration_us = 0;
  /// Unix ms when the dispatcher leased the attempt to its worker (0: it
  /// never left the queue, e.g. cancelled before it started).
  int64_t leased_at = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, attempt_record& x) {
  return f(caf::meta::type_name("attempt_record"), x.job_id, x.lease_id,
           x.object_version, x.series, x.kind, x.attempt, x.ok, x.output,
           x.error_code, x.error_message, x.worker, x.finished_at,
           x.duration_us, x.leased_at);
}

/// The durable evidence of a job that failed for good. Kept until an
/// operator removes it; analysis reads it, never drains it.
struct dead_letter {
  std::string job_id;
  object_ref object;
  std::string filename;
  /// The attempt series that failed.
  uint32_t series = 0;
  /// The step that failed.
  task_kind kind = task_kind::probe;
  /// Error of the last attempt.
  errc error_code = errc::none;
  std::string error_message;
  /// Every attempt of the failed series, oldest first.
  std::vector<attempt_record> attempts;
  /// Output of the probe step, if it ran.
  std::string probe_output;
  /// Unix ms of the failure.
  int64_t created_at = 0;
  /// Unix ms of the redrive; 0 while the record is open.
  int64_t redriven_at = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, dead_letter& x) {
  return f(caf::meta::type_name("dead_letter"), x.job_id, x.object,
           x.filename, x.series, x.kind, x.error_code, x.error_message,
           x.attempts, x.probe_output, x.created_at, x.redriven_at);
}

/// One category of an incident report.
struct incident_category {
  /// `bad_media`, `timeout`, `provider_error`, `dependency_unavailable`,
  /// `unexpected_exception`, `crash`, `cancelled`.
  std::string name;
  uint64_t count = 0;
  int64_t first_seen = 0;
  int64_t last_seen = 0;
  std::string recommendation;
  /// Up to a few job ids with their last error, `job_id: code: message`.
  std::vector<std::string> samples;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, incident_category& x) {
  return f(caf::meta::type_name("incident_category"), x.name, x.count,
           x.first_seen, x.last_seen, x.recommendation, x.samples);
}

/// What the DLQ analyzer concluded about the dead letters in a window.
struct incident_report {
  int64_t generated_at = 0;
  /// Window `[window_start, window_end]` in Unix ms.
  int64_t window_start = 0;
  int64_t window_end = 0;
  uint64_t total = 0;
  std::vector<incident_category> categories;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, incident_report& x) {
  return f(caf::meta::type_name("incident_report"), x.generated_at,
           x.window_start, x.window_end, x.total, x.categories);
}

} // namespace vf::messages
