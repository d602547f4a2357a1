// vf/adapters/objectstore/object_install.hpp
//
// Puts a file produced on this machine (a worker's thumbnail or rendition)
// into the built-in store as an object, without going through HTTP. The
// file lands exactly like an upload ends (partial file, fsync, rename,
// folder fsync, metadata), so readers never see half of it, but nothing is
// announced: an installed output is not an upload and starts no job.

#pragma once

#include "caf/expected.hpp"

#include "vf/adapters/objectstore/object_meta.hpp"

#include <string>
#include <string_view>

namespace vf::adapters::objectstore {

/// Moves `local_file` into the store under `<data_dir>` as `bucket`/`key`
/// with `content_type`, replacing any object already there, and returns
/// the metadata written (fresh version id, ETag = hex MD5 of the bytes,
/// size, content type, inode). Blocking: call from a detached actor or a
/// worker thread, never from the cooperative scheduler.
///
/// The file is hard-linked into `.partial/` when it is a regular file with
/// no other links on the store's file system, and copied otherwise. On
/// success `local_file` is gone (like `mv`); on failure it is untouched and
/// no partial file remains, so a retry is always safe and a task that ran
/// twice leaves exactly one object. The object's Last-Modified is the time
/// of the install.
///
/// Errors (`messages::errc`): `invalid_argument` for a bad bucket name or
/// key (see `check_key`), a `local_file` that is not a regular file or that
/// lies inside the store's object tree;
/// `not_found` if `local_file` does not exist; `conflict` if the key clashes
/// with the object tree (a prefix of it is an object, or it names a folder
/// of objects); `storage_unavailable` for any other file system failure,
/// including a full disk and metadata that could not be written.
caf::expected<object_meta> install_object(const std::string& data_dir,
                                          std::string_view bucket,
                                          std::string_view key,
                                          const std::string& local_file,
                                          const std::string& content_type);

} // namespace vf::adapters::objectstore
