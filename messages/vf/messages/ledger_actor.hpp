// vf/messages/ledger_actor.hpp

#pragma once

#include "caf/replies_to.hpp"
#include "caf/typed_actor.hpp"

#include "vf/messages/type_ids.hpp"

#include <string>
#include <vector>

namespace vf::messages {

/// Port: the attempt ledger, one durable record per finished attempt of a
/// job's step (ok or not). Every write is durable before its reply.
///
/// - `(record, attempt)` → `true`: appends to the job's ledger.
/// - `(attempts, job_id)` → the job's ledger, oldest first (empty if none).
///
/// Errors: `errc::storage_unavailable` when the ledger cannot be written.
/// Served by: the SQLite store (`store_actor`).
/// Sent by: orchestrator (record, and attempts for recovery and dead
/// letters), job_registry (`GET /jobs/{id}/attempts`).
using ledger_actor = caf::typed_actor<
  caf::replies_to<atoms::record, attempt_record>::with<bool>,
  caf::replies_to<atoms::attempts, std::string>::with<
    std::vector<attempt_record>>>;

} // namespace vf::messages
