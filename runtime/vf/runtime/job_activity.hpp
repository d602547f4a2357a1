// vf/runtime/job_activity.hpp
//
// The last hour of ended jobs, minute by minute, for the admin console's
// charts (`GET /admin/activity`): how many ended in each status and the
// 95th percentile of upload → end. Kept in memory by the coordinator from
// the moment it starts (a restart begins a new hour); Prometheus keeps the
// long history (`vidflow_jobs_ended_total`, `vidflow_job_duration_seconds`).

#pragma once

#include "vf/messages/job.hpp"

#include <array>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

namespace vf::runtime {

class job_activity {
public:
  /// Minutes kept.
  static constexpr size_t minutes = 60;

  /// `now_ms`: Unix milliseconds (tests inject); the system clock when
  /// empty.
  explicit job_activity(std::function<int64_t()> now_ms = {});

  /// Counts a job that ended with `j.status`, `ms` after its upload was
  /// taken (< 0: unknown, e.g. it never got one).
  void ended(const messages::job& j, int64_t ms);

  /// `{"now": ms, "minutes": [{"start", "succeeded", "failed",
  /// "cancelled", "expired", "p95_ms"}, ...]}`: the last `minutes` whole
  /// and current minute, oldest first; `p95_ms` is null in a minute
  /// without timed jobs and exact to 5 %.
  std::string json() const;

  /// The upper bound in ms of the histogram bucket `ms` falls in (what
  /// `p95_ms` reports); for tests.
  static int64_t bucket_bound(int64_t ms);

private:
  /// Buckets of upload → end: 5 % wide from 1 ms to over an hour.
  static constexpr size_t buckets = 320;

  struct minute {
    int64_t start = -1;
    std::array<uint32_t, 4> ended{};
    std::array<uint32_t, buckets> latency{};
  };

  minute& slot(int64_t start);

  std::function<int64_t()> now_ms_;
  mutable std::mutex mtx_;
  std::vector<minute> ring_;
};

} // namespace vf::runtime
