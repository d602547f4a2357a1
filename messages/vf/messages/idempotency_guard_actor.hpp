// vf/messages/idempotency_guard_actor.hpp

#pragma once

#include "caf/replies_to.hpp"
#include "caf/typed_actor.hpp"

#include "vf/messages/type_ids.hpp"

#include <string>

namespace vf::messages {

/// Decides whether an object event is new work.
///
/// - `(claim, object_ref, job_id)` → `true` for the first claim of this
///   object version (bucket/key + version), `false` for every later one,
///   including claims racing the first. Durable through the job store.
///
/// Errors: `errc::invalid_argument` for an object without bucket or key;
/// `errc::storage_unavailable` if the claim could not be recorded (the event
/// must then be retried, never dropped). Sent by: orchestrator.
using idempotency_guard_actor = caf::typed_actor<
  caf::replies_to<atoms::claim, object_ref, std::string>::with<bool>>;

/// Returns the deduplication key of an object version.
inline std::string claim_key(const object_ref& x) {
  return x.bucket + '/' + x.key + '@' + x.version;
}

} // namespace vf::messages
