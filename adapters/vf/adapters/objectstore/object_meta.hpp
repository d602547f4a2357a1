// vf/adapters/objectstore/object_meta.hpp
//
// What the store remembers about an object besides its bytes: version id,
// ETag, size and content type, in a small JSON file per object (see
// `meta_file`). The metadata also records the object file's inode, so a
// reader can tell whether it still describes the file next to it (a crash
// between the two renames of a commit leaves them apart).

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

} // namespace vf::adapters::objectstore
