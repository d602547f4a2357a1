// vf/messages/presigner_actor.hpp

#pragma once

#include "caf/replies_to.hpp"
#include "caf/typed_actor.hpp"

#include "vf/messages/type_ids.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace vf::messages {

/// Presigns downloads for workers on other nodes: they hold no store
/// credentials, so each remote lease of a task that reads an upload carries
/// a GET URL valid for the lease (`object_ref::url`).
///
/// - `(presign, object_ref)` → the presigned GET URL of `bucket`/`key`.
/// - `(presign_put, objects, lease_id)` → one presigned PUT URL per object,
///   in order: where a render on another node stores each output
///   (`task::outputs`). Each URL carries the lease as a signed query
///   parameter, `x-vf-lease`, so that the built-in store takes the PUT only
///   while that lease is the job's current render.
///
/// Errors: `errc::internal` when the URL cannot be made. Sent by: the
/// dispatcher's lease relay, only for remote leases (local workers read the
/// store directly and never cost a presign). Implemented by: `adapters/s3`
/// (SigV4 query signing, valid for the built-in store and any S3-compatible
/// server); chosen in `runtime/ports.cpp`.
using presigner_actor = caf::typed_actor<
  caf::replies_to<atoms::presign, object_ref>::with<std::string>,
  caf::replies_to<atoms::presign_put, std::vector<object_ref>,
                  uint64_t>::with<std::vector<std::string>>>;

} // namespace vf::messages
