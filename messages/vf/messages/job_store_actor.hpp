// vf/messages/job_store_actor.hpp

#pragma once

#include "caf/replies_to.hpp"
#include "caf/typed_actor.hpp"

#include "vf/messages/type_ids.hpp"

#include <string>
#include <vector>

namespace vf::messages {

/// Port: durable jobs and their results (SQLite by default). Every write is
/// durable (committed and synced) before its reply goes out.
/// Implementations may batch writes from many requests into one
/// transaction (group commit). The other stores are separate ports
/// (`claim_store_actor`, `ledger_actor`, `dead_letter_store_actor`); one
/// backend may serve several of them (`store_actor` in `stores.hpp`).
///
/// - `(create, job)` → `true`; `errc::duplicate` if the id exists.
/// - `(create_keyed, job, key, request_hash, since_ms)` → `{job_id,
///   request_hash}` of the job the owner's Idempotency-Key `key` names
///   afterwards: `job` itself (created, with the key) if no key of that
///   owner and name was made at or after `since_ms`, else the earlier job
///   (and nothing is created). Keys older than `since_ms` are dropped.
/// - `(find_key, owner, key, since_ms)` → `{job_id, request_hash}` of the
///   job that key names if it was made at or after `since_ms`, else `{}`.
/// - `(find_reuse, owner, sha256, recipe, job_id)` → `{job_id, outputs}`
///   of the newest SUCCEEDED job of `owner`, other than `job_id`, whose
///   upload had SHA-256 `sha256` and whose recipe is `recipe`, with its
///   render output (content reuse); `{}` if there is none.
/// - `(get, id)` → the job; `errc::not_found`.
/// - `(events, id, after_seq)` → the status changes of job `id` journaled
///   after `after_seq` (0: all), oldest first, at most 100; `{}` for an
///   unknown job. Journaled with the change itself (creation counts).
/// - `(deliveries_due, now_ms, limit)` → up to `limit` pending callback
///   deliveries due at `now_ms`, oldest due first. A job with a
///   `callback_url` gets its delivery in the transaction that makes it
///   SUCCEEDED, FAILED, CANCELLED or EXPIRED (one per terminal status
///   change; a redriven job that ends again gets another).
/// - `(record_delivery, delivery)` → `true` once the attempt (state,
///   attempts, next_at, last_status, last_error, delivered_at) is written;
///   `false` if there is no such delivery (its job was deleted).
/// - `(deliveries, job_id)` → the job's deliveries, oldest first.
/// - `(history, owner, limit, kind)` → up to `limit` of `owner`'s jobs
///   (every owner's if empty), newest first; the filter runs in the query, so
///   other owners' jobs never crowd a user's page. `kind` (`is_job_kind`)
///   narrows it to compositions or assets, also in the query, so a user's
///   uploads never crowd out their compositions; a kind needs an owner
///   (`errc::invalid_argument` otherwise, or for an unknown kind).
/// - `(put, job)` → `true`: replaces the stored state of an existing job;
///   `errc::not_found` if it was never created.
/// - `(put_result, result)` → `true` if written now, `false` if a result for
///   that job existed already (the first write wins; writing twice changes
///   nothing).
/// - `(put_result, result, job)` → as `(put_result, result)`, then writes
///   `job` (the job that result ends) as `put` does: one request where the
///   orchestrator made two in a row. SQLite: one transaction, and
///   `errc::not_found` if the job was never created writes neither.
///   DynamoDB: the result, then the job (a retry completes a failure
///   between them). `errc::invalid_argument` if they name different jobs.
/// - `(put_result, result, job, attempt)` → as `(put_result, result, job)`
///   with the ledger's record of the job's last step (`ledger_actor`'s
///   `record`) written first: the orchestrator's three writes at a job's
///   end in one request. Only a backend that serves the ledger too serves
///   this (every backend does: `store_actor`). SQLite: one transaction.
///   DynamoDB: the attempt, the result, then the job; a retry writes the
///   same attempt item again (its key is its time and lease).
/// - `(get_result, id)` → the result; `errc::not_found`.
/// - `(find_jobs, query)` → up to `query.limit` jobs matching every term of
///   `query` (`messages::matches`), the most recently changed first;
///   `errc::invalid_argument` when `job_query_problem` finds one.
/// - `(active)` → every job in `SUBMITTED` or `PROCESSING`, for recovery.
/// - `(counts)` → job counts indexed by `job_status`.
/// - `(expire_old, before_ms, limit)` → up to `limit` jobs still
///   AWAITING_UPLOAD created before `before_ms`, oldest first: candidates
///   for expiry (the orchestrator's job lifecycle decides). Changes nothing.
/// - `(expire, jobs)` → how many of `jobs` (each EXPIRED by the lifecycle)
///   were written: a job is written only over a row still AWAITING_UPLOAD,
///   so an upload or cancel that landed meanwhile wins.
/// - `(usage, owner)` → `owner`'s jobs in flight (AWAITING_UPLOAD,
///   SUBMITTED, PROCESSING) and the bytes of their stored objects, for the
///   registry's per-user limits.
/// - `(purgeable, before_ms, limit)` → up to `limit` FAILED, CANCELLED or
///   EXPIRED jobs that ended (`updated_at`) before `before_ms` and whose
///   object is not purged yet, oldest first (the retention sweep).
/// - `(purged, job_id, at_ms)` → `true` if the purge of the job's object is
///   recorded now, `false` if it was before (or the job is not in one of
///   those states). The job record and its dead letter stay.
/// - `(erase, job_id)` → `true` once the job and every record of it (result,
///   claims, attempts, dead letters, Idempotency-Keys) are gone, `false` if there was no such
///   job (`DELETE /jobs/{id}`; its objects are deleted before).
///
/// Errors: `errc::storage_unavailable` when the database cannot be written.
/// Sent by: job_registry, orchestrator, upload_gate, retention.
using job_store_actor = caf::typed_actor<
  caf::replies_to<atoms::create, job>::with<bool>,
  caf::replies_to<atoms::create_keyed, job, std::string, std::string,
                  int64_t>::with<std::vector<std::string>>,
  caf::replies_to<atoms::find_key, std::string, std::string,
                  int64_t>::with<std::vector<std::string>>,
  caf::replies_to<atoms::find_reuse, std::string, std::string, std::string,
                  std::string>::with<std::vector<std::string>>,
  caf::replies_to<atoms::get, std::string>::with<job>,
  caf::replies_to<atoms::history, std::string, uint32_t,
                  std::string>::with<std::vector<job>>,
  caf::replies_to<atoms::events, std::string, uint64_t>::with<
    std::vector<job_event>>,
  caf::replies_to<atoms::deliveries_due, int64_t, uint32_t>::with<
    std::vector<delivery>>,
  caf::replies_to<atoms::record_delivery, delivery>::with<bool>,
  caf::replies_to<atoms::deliveries, std::string>::with<
    std::vector<delivery>>,
  caf::replies_to<atoms::put, job>::with<bool>,
  caf::replies_to<atoms::put_result, job_result>::with<bool>,
  caf::replies_to<atoms::put_result, job_result, job>::with<bool>,
  caf::replies_to<atoms::put_result, job_result, job,
                  attempt_record>::with<bool>,
  caf::replies_to<atoms::get_result, std::string>::with<job_result>,
  caf::replies_to<atoms::active>::with<std::vector<job>>,
  caf::replies_to<atoms::find_jobs, job_query>::with<std::vector<job>>,
  caf::replies_to<atoms::counts>::with<status_counts>,
  caf::replies_to<atoms::expire_old, int64_t, uint32_t>::with<std::vector<job>>,
  caf::replies_to<atoms::expire, std::vector<job>>::with<uint64_t>,
  caf::replies_to<atoms::usage, std::string>::with<user_usage>,
  caf::replies_to<atoms::purgeable, int64_t, uint32_t>::with<std::vector<job>>,
  caf::replies_to<atoms::purged, std::string, int64_t>::with<bool>,
  caf::replies_to<atoms::erase, std::string>::with<bool>>;

} // namespace vf::messages
