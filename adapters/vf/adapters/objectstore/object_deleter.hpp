// vf/adapters/objectstore/object_deleter.hpp
//
// Implements the `object_deleter_actor` port for the built-in store: removes
// `<data_dir>/objects/<bucket>/<key>` and its metadata file, in a detached
// actor (file I/O blocks). `delete_prefix` removes a whole folder of objects
// (a job's outputs) the same way.

#pragma once

#include "caf/expected.hpp"
#include "caf/fwd.hpp"

#include "vf/messages/retention_actor.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace vf::adapters::objectstore {

/// Spawns the deleter for the store under `data_dir`. A bucket or key that
/// cannot name an object answers `true` (nothing can be stored there); a
/// missing file counts as deleted.
messages::object_deleter_actor spawn_object_deleter(caf::actor_system& sys,
                                                    std::string data_dir);

/// Removes the object `bucket`/`key` and its metadata from the store under
/// `data_dir`; returns whether there was an object file to remove. Expects a
/// valid bucket name and a key that passed `check_key`. Blocking. Fails with
/// `storage_unavailable` if a file cannot be removed.
caf::expected<bool> delete_object(const std::string& data_dir,
                                  std::string_view bucket,
                                  std::string_view key);

/// Removes every object whose key starts with `prefix` from `bucket`, with
/// its metadata (and stray metadata without an object), plus the folders
/// this empties below and including the prefix's own; returns how many
/// objects went. `prefix` names a folder: it must end in `/` (e.g.
/// `outputs/<job_id>/`, so that `outputs/job1` can never take
/// `outputs/job10/...` along) and, without that slash, pass `check_key`
/// (no `.`, `..` or empty segments: nothing outside the bucket is reached).
/// Symbolic links are never followed. A prefix with no objects removes
/// nothing and answers 0. Blocking: call from a detached actor or a worker
/// thread.
///
/// Errors (`messages::errc`): `invalid_argument` for a bad bucket name or
/// prefix; `storage_unavailable` if the tree cannot be read or a file
/// cannot be removed (objects removed before that stay removed).
caf::expected<uint64_t> delete_prefix(const std::string& data_dir,
                                      std::string_view bucket,
                                      std::string_view prefix);

} // namespace vf::adapters::objectstore
