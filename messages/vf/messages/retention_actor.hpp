// vf/messages/retention_actor.hpp

#pragma once

#include "caf/replies_to.hpp"
#include "caf/typed_actor.hpp"

#include "vf/messages/type_ids.hpp"

#include <string>

namespace vf::messages {

/// Port: deletes stored objects (the built-in store's files and their
/// metadata). Blocking file I/O: implementations are detached actors.
///
/// - `(erase, bucket, key)` → `true` once the object and its metadata are
///   gone, whether they existed or not (idempotent); `errc::invalid_argument`
///   for a bucket or key that cannot name an object; `errc::
///   storage_unavailable` if a file could not be removed.
/// - `(erase_prefix, bucket, prefix)` → how many objects under `prefix`
///   (which ends in `/`, e.g. `outputs/<job_id>/`) were deleted;
///   `errc::invalid_argument` for a prefix that cannot name a folder.
using object_deleter_actor = caf::typed_actor<
  caf::replies_to<atoms::erase, std::string, std::string>::with<bool>,
  caf::replies_to<atoms::erase_prefix, std::string, std::string>::with<
    uint64_t>>;

/// The retention sweep: deletes the uploads of FAILED, CANCELLED and
/// EXPIRED jobs a while after they ended, keeping the job records and dead
/// letters (evidence stays, the bytes go).
///
/// - `(tick)`: its own schedule; each tick purges one bounded batch.
using retention_actor = caf::typed_actor<caf::reacts_to<atoms::tick>>;

} // namespace vf::messages
