// vf/messages/object_checker_actor.hpp

#pragma once

#include "caf/replies_to.hpp"
#include "caf/typed_actor.hpp"

#include "vf/messages/type_ids.hpp"

namespace vf::messages {

/// Asks the object store what it holds under a key, so that an event from an
/// outside source (a MinIO/S3 webhook) is believed only when the object it
/// names really exists with the size and ETag it claims.
///
/// - `(head, object_ref)` → the object as the store describes it now:
///   `bucket`, `key` and `version` as given, `size` and `etag` (without
///   quotes) from the store.
///
/// Errors: `errc::not_found` when the store has no such object;
/// `errc::storage_unavailable` when it could not be asked (the event must then
/// be redelivered, never dropped). Sent by: orchestrator. Implemented by:
/// `adapters/s3` (HEAD with a SigV4-signed request, in a detached actor).
using object_checker_actor = caf::typed_actor<
  caf::replies_to<atoms::head, object_ref>::with<object_ref>>;

} // namespace vf::messages
