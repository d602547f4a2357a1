// vf/messages/orchestrator_actor.hpp

#pragma once

#include "caf/replies_to.hpp"
#include "caf/typed_actor.hpp"

#include "vf/messages/type_ids.hpp"

#include <string>

namespace vf::messages {

/// Runs each job's state machine: AWAITING_UPLOAD → SUBMITTED → PROCESSING →
/// SUCCEEDED | FAILED | CANCELLED, one pipeline step (task) at a time.
///
/// - `(created, object_event)` → `true` when the event started new work,
///   `false` for a duplicate or a job already past that object. The reply is
///   sent only after the new state is durable, so an event source may ack
///   its event on any reply and must redeliver on an error.
///   Errors: `errc::invalid_argument` (key not of the form
///   `<prefix>/<job_id>/<filename>`), `errc::not_found` (unknown job),
///   `errc::storage_unavailable` (retry the event).
/// - `(cancel, job_id)` → the job after cancellation; `errc::conflict` if it
///   is terminal already, `errc::not_found`.
/// - `(compose, job_id)` → the job in SUBMITTED: starts a composition (a
///   job `POST /compositions` made, recipe `{"composition": ...}`, waiting
///   in AWAITING_UPLOAD). It has no upload: this stands for the upload
///   event, once (`errc::conflict` if the job is not a composition or no
///   longer waits), durable before the answer; `errc::not_found`.
/// - `(recover)` → number of jobs resumed from the store (after a restart):
///   each resumes after its last step recorded `ok` in the attempt ledger.
/// - `(redrive, job_id)` → the job, back in SUBMITTED with a new attempt
///   series; only a FAILED job with an open dead letter can be redriven, and
///   the record is marked first, so redriving twice runs once
///   (`errc::conflict` the second time); `errc::not_found`.
/// - `(report, outcome)` → `true` if recorded: an outcome that reached us
///   late, outside its lease (a worker node that lost its coordinator). A
///   successful outcome of the step the job is at now, for the same upload
///   and attempt series, is recorded and supersedes the running attempt;
///   anything else (failures, steps already recorded, other runs) is
///   dropped, so each step is recorded once.
///
/// Its timers (backoff, expiry of uploads that never came) are private:
/// see `orchestrator_private_actor` in `vf/actors/orchestrator.hpp`.
///
/// Sent by: event sources, the HTTP adapter (`cancel`, `redrive`), the DLQ
/// analyzer (`redrive`), runtime (`recover`).
using orchestrator_actor = caf::typed_actor<
  caf::replies_to<atoms::created, object_event>::with<bool>,
  caf::replies_to<atoms::cancel, std::string>::with<job>,
  caf::replies_to<atoms::compose, std::string>::with<job>,
  caf::replies_to<atoms::recover>::with<uint64_t>,
  caf::replies_to<atoms::redrive, std::string>::with<job>,
  caf::replies_to<atoms::report, task_outcome>::with<bool>>;

} // namespace vf::messages
