// vf/messages/upload_gate_actor.hpp

#pragma once

#include "caf/replies_to.hpp"
#include "caf/typed_actor.hpp"

#include "vf/messages/type_ids.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace vf::messages {

/// Tells an object store whether an upload may be stored at all, before it
/// reads a single body byte: a job takes one upload, and only while it waits
/// for it.
///
/// - `(admit, bucket, key, lease_id)` → an empty `object_ref` if a job waits
///   for exactly this object (its key is `<prefix>/<job_id>/<filename>` and
///   the job is `AWAITING_UPLOAD`): store it. If the job already has its upload
///   (a retried PUT whose first answer was lost, e.g. to a crash after the
///   commit), the job's object: the store may only acknowledge a retry with
///   the very same bytes (size and MD5 ETag), and stores nothing.
///   For a key `outputs/<job_id>/<file>` (a render on a worker node storing
///   an output by presigned PUT), an empty `object_ref` while the job is
///   `PROCESSING` its render step under lease `lease_id` (the URL's signed
///   `x-vf-lease`; 0 for uploads): `errc::forbidden` without a lease,
///   `errc::conflict` once the job or the lease has moved on.
///
/// Errors: `errc::conflict` (the job exists but no longer waits and has no
/// upload: failed, was cancelled or expired; the message names the state),
/// `errc::not_found` (no such job, or the key is not one of ours),
/// `errc::storage_unavailable` (the job store did not answer; retry).
/// Sent by: the built-in object store. Implemented by: `actors::upload_gate`.
using upload_gate_actor = caf::typed_actor<
  caf::replies_to<atoms::admit, std::string, std::string,
                  uint64_t>::with<object_ref>>;

/// Query parameter of a presigned PUT of a render's output that names its
/// lease (signed with the URL by the coordinator's presigner, read by the
/// built-in store and passed to the gate).
inline constexpr std::string_view output_lease_parameter = "x-vf-lease";

} // namespace vf::messages
