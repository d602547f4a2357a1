// vf/adapters/objectstore/object_paths.hpp
//
// Where the built-in store keeps things on disk, and which bucket names and
// object keys may become file names at all. Everything that turns network
// input into a path goes through `check_key` first.

#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace vf::adapters::objectstore {

/// Longest accepted object key in bytes (S3's limit).
constexpr size_t max_key_bytes = 1024;

/// Longest accepted key segment in bytes (the file system's NAME_MAX).
constexpr size_t max_segment_bytes = 255;

/// Returns whether `name` follows S3's bucket naming rules: 3 to 63
/// characters from `a-z`, `0-9`, `.` and `-`, starting and ending with a
/// letter or digit, without `..`. Such a name can never start with a dot, so
/// it never clashes with the store's own `.partial` and `.meta` folders.
bool is_valid_bucket_name(std::string_view name);

/// Returns why the decoded object key `key` cannot be stored, or nullopt if
/// it can: it must be valid UTF-8 without control characters, at most
/// `max_key_bytes` long, and split by `/` into non-empty segments other than
/// `.` and `..`, each at most `max_segment_bytes` long.
std::optional<std::string> check_key(std::string_view key);

/// Folder holding every bucket: `<data_dir>/objects`.
std::string objects_dir(const std::string& data_dir);

/// Folder for uploads in progress: `<data_dir>/objects/.partial`.
std::string partial_dir(const std::string& data_dir);

/// Folder mirroring the object tree with metadata: `<data_dir>/objects/.meta`.
std::string meta_dir(const std::string& data_dir);

/// File holding an object: `<data_dir>/objects/<bucket>/<key>`. Expects a
/// valid bucket name and a key that passed `check_key`.
std::string object_file(const std::string& data_dir, std::string_view bucket,
                        std::string_view key);

/// File holding an object's metadata:
/// `<data_dir>/objects/.meta/<bucket>/<key>`. A mirror tree rather than a
/// `<key>.meta.json` sibling, so that no key can ever name another key's
/// metadata.
std::string meta_file(const std::string& data_dir, std::string_view bucket,
                      std::string_view key);

} // namespace vf::adapters::objectstore
