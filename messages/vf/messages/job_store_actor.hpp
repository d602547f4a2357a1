// vf/messages/job_store_actor.hpp

#pragma once

#include "caf/replies_to.hpp"
#include "caf/typed_actor.hpp"

#include "vf/messages/type_ids.hpp"

#include <string>
#include <vector>

namespace vf::messages {

/// Port: the durable job store (SQLite by default). Every write is durable
/// (committed and synced) before its reply goes out. Implementations may
/// batch writes from many requests into one transaction (group commit).
///
/// - `(create, job)` → `true`; `errc::duplicate` if the id exists.
/// - `(get, id)` → the job; `errc::not_found`.
/// - `(history, limit)` → up to `limit` jobs, newest first.
/// - `(put, job)` → `true`: replaces the stored state of an existing job;
///   `errc::not_found` if it was never created.
/// - `(put_result, result)` → `true` if written now, `false` if a result for
///   that job existed already (the first write wins; writing twice changes
///   nothing).
/// - `(get_result, id)` → the result; `errc::not_found`.
/// - `(active)` → every job in `SUBMITTED` or `PROCESSING`, for recovery.
/// - `(counts)` → job counts indexed by `job_status`.
/// - `(claim, key, job_id)` → `true` the first time `key` is claimed, `false`
///   ever after. Durable: a claim survives restarts.
///
/// Errors: `errc::storage_unavailable` when the database cannot be written.
/// Sent by: job_registry, orchestrator, idempotency_guard.
using job_store_actor = caf::typed_actor<
  caf::replies_to<atoms::create, job>::with<bool>,
  caf::replies_to<atoms::get, std::string>::with<job>,
  caf::replies_to<atoms::history, uint32_t>::with<std::vector<job>>,
  caf::replies_to<atoms::put, job>::with<bool>,
  caf::replies_to<atoms::put_result, job_result>::with<bool>,
  caf::replies_to<atoms::get_result, std::string>::with<job_result>,
  caf::replies_to<atoms::active>::with<std::vector<job>>,
  caf::replies_to<atoms::counts>::with<status_counts>,
  caf::replies_to<atoms::claim, std::string, std::string>::with<bool>>;

} // namespace vf::messages
