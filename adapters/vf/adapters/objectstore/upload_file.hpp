// vf/adapters/objectstore/upload_file.hpp
//
// One upload on its way to disk: a partial file in `.partial/` that grows
// chunk by chunk (hashing as it goes) and is either committed (fsync, atomic
// rename into place, directory fsync, metadata) or removed. Readers never
// see a half-written object.

#pragma once

#include "vf/adapters/objectstore/md5_hasher.hpp"
#include "vf/adapters/objectstore/object_meta.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <system_error>

namespace vf::adapters::objectstore {

/// A failed file system step: the OS error and a text naming the path.
struct fs_error {
  /// The OS error (`std::generic_category`).
  std::error_code code;
  /// What failed, e.g. `cannot create /data/objects/.partial/x.part`.
  std::string what;
};

/// Returns whether `err` means the disk (or quota) is full.
bool is_out_of_space(const fs_error& err);

/// Returns whether `err` means the key clashes with the existing tree, e.g.
/// `a/b` uploaded where the object `a` is a file (or `a` where `a/` is a
/// folder of other objects).
bool is_path_conflict(const fs_error& err);

/// The partial file of one upload. Not thread-safe; `commit` may run on
/// another thread than the appends, but never concurrently with them.
class upload_file {
public:
  /// Prepares (does not create) the partial file at `path`.
  explicit upload_file(std::string path);

  upload_file(const upload_file&) = delete;
  upload_file& operator=(const upload_file&) = delete;

  /// Removes the partial file unless it was committed.
  ~upload_file();

  /// Creates the partial file exclusively.
  [[nodiscard]] std::optional<fs_error> open();

  /// Appends `size` bytes to the file and the MD5.
  [[nodiscard]] std::optional<fs_error> append(const char* data, size_t size);

  /// Instead of `open` and `append`: hard-links the existing regular file
  /// `source` as the partial file, opens it and hashes its bytes, so that
  /// `commit` moves it into place without copying. `source` itself is left
  /// as it is. Fails with `EXDEV` if `source` is on another file system
  /// (the caller copies then), and if `source` is not a regular file.
  [[nodiscard]] std::optional<fs_error> link_from(const std::string& source);

  /// Bytes appended so far.
  uint64_t size() const {
    return size_;
  }

  /// Lower-case hex MD5 of all bytes; call after the last `append`.
  const std::string& etag() {
    return md5_.hex_digest();
  }

  /// Lower-case hex SHA-256 of the bytes appended (not of a `link_from`
  /// source: installs of outputs need none); call after the last `append`.
  const std::string& sha256() {
    return sha256_.hex_digest();
  }

  /// Makes the upload durable and visible (blocking): stores `meta` (with
  /// inode, size and, unless it has one, the ETag filled in) in the file's
  /// extended attribute, fsyncs the file, renames it to `object_path`
  /// (creating parent folders) and fsyncs the folder. Where the file system
  /// refuses the attribute, `meta` goes to `meta_path` after the object, the
  /// same way; a crash in between then leaves metadata that no longer
  /// matches the object's inode, which readers detect, and a failure there
  /// does not undo the object: it is reported through `meta_warning`.
  ///
  /// `before_rename`, if set, runs after the file is durable and before it
  /// becomes visible, with the inode the object will have (the store writes
  /// its announcement marker there); an error from it fails the commit and
  /// leaves the partial file to be discarded.
  [[nodiscard]] std::optional<fs_error>
  commit(const std::string& object_path, const std::string& meta_path,
         object_meta meta, std::string& meta_warning,
         const std::function<std::optional<fs_error>(uint64_t inode)>&
           before_rename
         = {});

  /// Closes and removes the partial file (idempotent).
  void discard();

  /// Path of the partial file.
  const std::string& path() const {
    return path_;
  }

private:
  /// Where the partial file lives.
  std::string path_;
  /// Its descriptor while open, -1 otherwise.
  int fd_ = -1;
  /// Bytes appended.
  uint64_t size_ = 0;
  /// Digests of the bytes appended.
  md5_hasher md5_;
  sha256_hasher sha256_;
  /// True once the partial file no longer exists under `path_`.
  bool gone_ = false;
};

/// Creates `dir` and its missing parents, fsyncing the parent of each folder
/// it creates so the new entries survive a crash.
[[nodiscard]] std::optional<fs_error> make_dirs(const std::string& dir);

/// Creates `path` (fails if it exists when `exclusive`, truncates it
/// otherwise), writes `text`, fsyncs and closes it. The caller fsyncs the
/// folder if the new entry must survive a crash.
[[nodiscard]] std::optional<fs_error>
write_file_synced(const std::string& path, const std::string& text,
                  bool exclusive);

/// fsyncs the folder `dir` (makes renames and creations in it durable).
[[nodiscard]] std::optional<fs_error> sync_dir(const std::string& dir);

/// Returns the folder part of `path` (everything before the last `/`).
std::string parent_of(const std::string& path);

} // namespace vf::adapters::objectstore
