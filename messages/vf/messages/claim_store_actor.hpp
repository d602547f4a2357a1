// vf/messages/claim_store_actor.hpp

#pragma once

#include "caf/replies_to.hpp"
#include "caf/typed_actor.hpp"

#include "vf/messages/type_ids.hpp"

#include <string>

namespace vf::messages {

/// Port: durable claims, the part of a store the idempotency guard needs.
///
/// - `(claim, key, job_id)` → `true` the first time `key` (see `claim_key`)
///   is claimed, `false` ever after. Durable: a claim survives restarts.
///   Errors: `errc::storage_unavailable` if the claim could not be recorded.
///
/// Served by: the SQLite store (`store_actor` in `stores.hpp`).
/// Sent by: the idempotency guard.
using claim_store_actor = caf::typed_actor<
  caf::replies_to<atoms::claim, std::string, std::string>::with<bool>>;

} // namespace vf::messages
