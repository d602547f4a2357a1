// vf/messages/dead_letter_store_actor.hpp

#pragma once

#include "caf/replies_to.hpp"
#include "caf/typed_actor.hpp"

#include "vf/messages/type_ids.hpp"

#include <string>
#include <vector>

namespace vf::messages {

/// Port: dead letters, the durable record of each failed run of a job with
/// its attempts. Every write is durable before its reply.
///
/// - `(bury, dead_letter, job)` → `true`: stores the dead letter (replacing
///   one of the same job and series) and the job's new state in ONE
///   transaction, so a FAILED job always has its record. A backend serving
///   this port therefore writes jobs too: it is the same database as the
///   `job_store_actor`'s, or the two ports are one backend.
/// - `(dlq_list, since_ms, limit)` → dead letters created at or after
///   `since_ms`, newest first, open and redriven alike.
/// - `(dlq_get, job_id)` → the job's latest dead letter; `errc::not_found`.
/// - `(redriven, job_id, series, at_ms)` → `true` if the record of that
///   series was open and is now marked redriven, `false` if it was redriven
///   already (so a redrive runs once); `errc::not_found`.
/// - `(dlq_remove, job_id)` → `true` if records were removed.
///
/// Errors: `errc::storage_unavailable` when the database cannot be written.
/// Served by: the SQLite store (`store_actor`).
/// Sent by: orchestrator (bury, redriven), job_registry (the `/dlq`
/// routes), dlq_analyzer (dlq_list).
using dead_letter_store_actor = caf::typed_actor<
  caf::replies_to<atoms::bury, dead_letter, job>::with<bool>,
  caf::replies_to<atoms::dlq_list, int64_t, uint32_t>::with<
    std::vector<dead_letter>>,
  caf::replies_to<atoms::dlq_get, std::string>::with<dead_letter>,
  caf::replies_to<atoms::redriven, std::string, uint32_t, int64_t>::with<bool>,
  caf::replies_to<atoms::dlq_remove, std::string>::with<bool>>;

} // namespace vf::messages
