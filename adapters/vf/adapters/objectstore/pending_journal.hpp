// vf/adapters/objectstore/pending_journal.hpp
//
// The announcement journal of the built-in store: one small marker file per
// stored object version whose ObjectCreated event the orchestrator has not
// acknowledged yet, `<data_dir>/objects/.pending/<version>`. A marker is
// written (and fsynced, file and folder) before the object's atomic rename,
// and removed only once the orchestrator answered; so after a crash every
// object that may never have been announced has a marker, and the store can
// announce it again (at least once; the orchestrator drops duplicates).
// Internal to the object store.

#pragma once

#include "vf/adapters/objectstore/object_meta.hpp"
#include "vf/adapters/objectstore/upload_file.hpp"

#include <cstddef>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace vf::adapters::objectstore {

/// Folder of announcement markers: `<data_dir>/objects/.pending`.
std::string pending_dir(const std::string& data_dir);

/// Returns whether `name` looks like a version id (20 decimal digits), i.e.
/// can be the file name of a marker.
bool is_version_id(const std::string& name);

/// The markers on disk. File operations block (fsync); call them on the
/// blocking pool or at start-up. `count` is thread-safe.
class pending_journal {
public:
  /// What `scan` found.
  struct scan_result {
    /// Markers of objects still stored as that version, oldest first.
    std::vector<object_meta> live;
    /// Markers discarded: unreadable, or their object is gone or replaced.
    size_t stale = 0;
    /// Object metadata files rewritten from a marker (the crash happened
    /// between the object's and the metadata's rename).
    size_t repaired = 0;
    /// Problems worth a log line (a marker that could not be removed, ...).
    std::vector<std::string> problems;
  };

  /// A journal under `pending_dir(data_dir)`.
  explicit pending_journal(std::string data_dir);

  pending_journal(const pending_journal&) = delete;
  pending_journal& operator=(const pending_journal&) = delete;

  /// Writes the marker of `meta` (bucket, key, version, etag, size, content
  /// type and the inode the object file will have) and makes it durable:
  /// fsyncs the file and the folder.
  [[nodiscard]] std::optional<fs_error> record(const object_meta& meta);

  /// Removes the marker of `version` and fsyncs the folder. A marker that
  /// is already gone is not an error.
  [[nodiscard]] std::optional<fs_error> erase(const std::string& version);

  /// Returns whether the object file of `meta` is still the version the
  /// marker describes (same inode and size).
  bool is_current(const object_meta& meta) const;

  /// Start-up: reads every marker, keeps those whose object is still that
  /// version (`buckets` are the configured ones), removes the others and
  /// leftovers, and rewrites object metadata that does not match a live
  /// marker.
  scan_result scan(const std::vector<std::string>& buckets);

  /// Number of markers on disk as far as this journal knows (recorded or
  /// found by `scan`, not yet erased).
  size_t count() const;

  /// Path of the marker of `version`.
  std::string marker_path(const std::string& version) const;

private:
  /// Root of the store.
  std::string data_dir_;
  /// See `pending_dir`.
  std::string dir_;
  /// Guards `versions_`.
  mutable std::mutex mtx_;
  /// Versions whose marker is on disk.
  std::set<std::string> versions_;
};

} // namespace vf::adapters::objectstore
