// vf/adapters/objectstore/object_meta.hpp
//
// What the store remembers about an object besides its bytes: version id,
// ETag, size and content type, as one line of JSON. It lives in an extended
// attribute of the object file itself (`meta_attribute`), written before the
// file's fsync, so one fsync makes both durable and they can never come
// apart. Where the file system refuses user attributes it lives in a small
// file per object instead (see `meta_file`), which also records the object
// file's inode, so a reader can tell whether it still describes the file
// next to it (a crash between the two renames of a commit leaves them apart).

#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace vf::adapters::objectstore {

/// Metadata of one stored object version.
struct object_meta {
  /// Bucket and key, for whoever rebuilds state from the files alone.
  std::string bucket;
  /// Object key, decoded.
  std::string key;
  /// Version id: 20 decimal digits, increasing (see `version_clock`).
  std::string version;
  /// Lower-case hex MD5 of the bytes, without quotes.
  std::string etag;
  /// Size in bytes.
  uint64_t size = 0;
  /// Content type the uploader sent, empty if none.
  std::string content_type;
  /// Inode number of the object file this describes.
  uint64_t inode = 0;
  /// Lower-case hex SHA-256 of the bytes of an upload (empty for outputs
  /// and for metadata written before it was recorded).
  std::string sha256;
};

/// Renders `meta` as a one-line JSON object.
std::string to_json(const object_meta& meta);

/// Parses what `to_json` produced; nullopt if it is malformed.
std::optional<object_meta> object_meta_from_json(const std::string& text);

/// Reads and parses a metadata file; nullopt if it is absent or malformed.
std::optional<object_meta> read_object_meta(const std::string& path);

/// Extended attribute of an object file that holds its metadata.
inline constexpr const char* meta_attribute = "user.vidflow.meta";

/// Stores `meta` in the extended attribute of the open file `fd`. Returns
/// false if it is longer than 3 KiB or the file system refuses it (no user
/// attributes, no permission); the caller then writes a metadata file.
bool write_meta_attribute(int fd, const object_meta& meta);

/// Metadata of the object file `object_path`: its extended attribute if it
/// has one (`inode` is then the file's own: the attribute cannot describe
/// another file), else what the metadata file `meta_path` says. nullopt if
/// neither is there or readable. Callers still compare `inode` and `size`
/// with the file they read.
std::optional<object_meta> find_object_meta(const std::string& object_path,
                                            const std::string& meta_path);

/// The same for an object file open as `fd`.
std::optional<object_meta> find_object_meta(int fd,
                                            const std::string& meta_path);

} // namespace vf::adapters::objectstore
