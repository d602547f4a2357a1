// vf/messages/job_registry_actor.hpp

#pragma once

#include "caf/replies_to.hpp"
#include "caf/typed_actor.hpp"

#include "vf/messages/type_ids.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace vf::messages {

/// The front door for clients: creates jobs and answers look-ups.
///
/// - `(create, job_request)` → the stored job in `AWAITING_UPLOAD`, with its
///   id, bucket and key (`<prefix>/<id>/<filename>`); `errc::invalid_argument`
///   for a filename that is empty, too long, has a path separator, `..`, or
///   control characters.
/// - `(create_keyed, job_request)` → as `create`, for a request with an
///   `Idempotency-Key`: `(job, true)` when it made the job, `(job, false)`
///   when the same owner sent the same key within the idempotency window
///   (24 h) and the earlier job is answered instead; `errc::invalid_argument`
///   if that earlier request differed (another `request_hash`).
/// - `(get, id)` → the job; `errc::not_found`.
/// - `(events, id, after_seq)` → the job's status changes after
///   `after_seq`, oldest first (see the job store's `events`).
/// - `(deliveries, id)` → the job's callback deliveries, oldest first.
/// - `(intake, open)` → `open`: while not open (an operator paused intake),
///   `create` and `create_keyed` answer `errc::intake_paused`; nothing else
///   changes (uploads of jobs made before still process).
/// - `(history, owner, limit, kind)` → up to `limit` (1..1000) of
///   `owner`'s jobs (every owner's if `owner` is empty: admins), newest
///   first, only those of `kind` unless it is empty (see the job store's
///   `history`); `errc::invalid_argument` outside that range, for an
///   unknown kind or for a kind without an owner.
/// - `(get_result, id)` → the result; `errc::not_found` for an unknown job,
///   `errc::conflict` while the job has not succeeded.
/// - `(counts)` → job counts indexed by `job_status`.
/// - `(attempts, id)` → the job's attempt ledger, oldest first.
/// - `(dlq_list, since_ms, limit)` → dead letters, newest first (1..200).
/// - `(dlq_get, id)` → the job's latest dead letter; `errc::not_found`.
/// - `(dlq_remove, id)` → `true` if records were removed (operator action).
/// - `(await_end, id, wait_ms)` → `true` once job `id` is in a terminal
///   status (at once if it is already, or if it cannot be read: the caller
///   reads it again and reports what it finds), `false` after `wait_ms`
///   (1 to `max_end_wait_ms`) without an end, or at once when
///   `job_registry_config::max_waiters` requests wait already;
///   `errc::invalid_argument` for a `wait_ms` out of range. For
///   `GET /jobs/{id}?wait=`: one request instead of a poll loop.
/// - `(job_ended, id)`: job `id` reached a terminal status, durably (the
///   orchestrator's job-end hook); wakes its waiters.
/// - `(wait_over, id, token)`: the registry's own timer for waiter `token`.
/// - `(erase, id)` → how many objects were deleted: the job's upload and
///   its outputs (`outputs/<id>/`) first, then every record of the job;
///   `errc::not_found` if there is no such job. The caller cancels a
///   running job first (the orchestrator's `cancel`).
///
/// Sent by: the HTTP adapter, the admin console.
using job_registry_actor = caf::typed_actor<
  caf::replies_to<atoms::create, job_request>::with<job>,
  caf::replies_to<atoms::create_keyed, job_request>::with<job, bool>,
  caf::replies_to<atoms::get, std::string>::with<job>,
  caf::replies_to<atoms::history, std::string, uint32_t,
                  std::string>::with<std::vector<job>>,
  caf::replies_to<atoms::events, std::string, uint64_t>::with<
    std::vector<job_event>>,
  caf::replies_to<atoms::deliveries, std::string>::with<
    std::vector<delivery>>,
  caf::replies_to<atoms::intake, bool>::with<bool>,
  caf::replies_to<atoms::get_result, std::string>::with<job_result>,
  caf::replies_to<atoms::counts>::with<status_counts>,
  caf::replies_to<atoms::attempts, std::string>::with<
    std::vector<attempt_record>>,
  caf::replies_to<atoms::dlq_list, int64_t, uint32_t>::with<
    std::vector<dead_letter>>,
  caf::replies_to<atoms::dlq_get, std::string>::with<dead_letter>,
  caf::replies_to<atoms::dlq_remove, std::string>::with<bool>,
  caf::replies_to<atoms::erase, std::string>::with<uint64_t>,
  caf::replies_to<atoms::await_end, std::string, uint32_t>::with<bool>,
  caf::reacts_to<atoms::job_ended, std::string>,
  caf::reacts_to<atoms::wait_over, std::string, uint64_t>>;

/// The longest `(await_end, id, wait_ms)` a registry accepts: 30 s, well
/// inside the idle timeouts of common proxies and load balancers.
constexpr uint32_t max_end_wait_ms = 30'000;

/// `wait_ms` rounded up to whole seconds: what a relay of `await_end` adds
/// to its own timeout, so the registry's `false` comes before the relay's.
inline std::chrono::seconds end_wait_seconds(uint32_t wait_ms) {
  return std::chrono::seconds{(wait_ms + 999) / 1000};
}

} // namespace vf::messages
