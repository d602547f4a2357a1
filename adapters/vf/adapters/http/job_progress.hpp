// vf/adapters/http/job_progress.hpp
//
// The `progress` of `GET /jobs/{id}`: one step per thing the job makes
// (probe, summary, each thumbnail and rendition), from the job's pipeline,
// its attempt ledger and what the dispatcher says of its tasks right now.

#pragma once

#include "vf/messages/dead_letter.hpp"
#include "vf/messages/job.hpp"
#include "vf/messages/task.hpp"

#include <nlohmann/json.hpp>

#include <vector>

namespace vf::adapters::http {

/// Builds `{"percent", "steps": [...]}` for `j`.
///
/// - `pipeline`: the configured steps (`pipeline.steps`); a job with
///   outputs also gets the render step, as the orchestrator gives it.
/// - `ledger`: the job's attempt records; only those of its current upload
///   and attempt series count (a redrive runs every step again).
/// - `live`: its queued and leased tasks (`lease_of`).
///
/// Step names: `probe`, `summary`, `sleep`, `thumbnail:<name>` and
/// `rendition:<name>` (the render step makes all of these from one decode,
/// so they share its times, node and percent). Each step is `{name, state,
/// percent, node, worker, started_at, finished_at}` plus `reason` when it is
/// `failed` or `skipped`; state is `queued`, `running`, `done`, `failed` or
/// `skipped` (not made: never upscaled, no video, or the job failed or was
/// cancelled before it). The job's percent weighs a rendition as ten other
/// steps (it costs that much more) and is 100 only once the job SUCCEEDED.
nlohmann::json
job_progress(const messages::job& j,
             const std::vector<messages::task_kind>& pipeline,
             const std::vector<messages::attempt_record>& ledger,
             const std::vector<messages::task_progress>& live);

} // namespace vf::adapters::http
