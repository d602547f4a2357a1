// vf/adapters/objectstore/pending_journal.hpp
//
// The announcement journal of the built-in store: an append-only log,
// `<data_dir>/objects/.pending/journal`, with a marker line per stored
// object version whose ObjectCreated event the orchestrator has not
// acknowledged yet (`+` and the object's metadata as JSON) and a line per
// acknowledgement (`-` and the version). A marker is appended and fsynced
// before the object's atomic rename (uploads committing at the same time
// share one fsync); its acknowledgement is appended only once the
// orchestrator answered, and not fsynced (a crash that loses it brings one
// more, harmless, announcement). So after a crash every object that may
// never have been announced has a marker, and the store can announce it
// again (at least once; the orchestrator drops duplicates).
//
// It replaces a marker file per upload (created, fsynced with its folder,
// removed, folder fsynced again): two files and four fsyncs less per upload.
// Marker files of that layout found at start-up are read like marker lines
// and folded into the log. The log is rewritten with only its open markers
// at start-up and whenever it grows past 1 MiB (`compact_bytes`) and twice
// their length. Internal to the object store.

#pragma once

#include "vf/adapters/objectstore/object_meta.hpp"
#include "vf/adapters/objectstore/upload_file.hpp"

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace vf::adapters::objectstore {

/// Folder of announcement markers: `<data_dir>/objects/.pending`.
std::string pending_dir(const std::string& data_dir);

/// Returns whether `name` looks like a version id (20 decimal digits), i.e.
/// can be the file name of a marker.
bool is_version_id(const std::string& name);

/// The journal. File operations block (fsync); call them on the blocking
/// pool or at start-up. Every member is thread-safe.
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

  /// By default the log is rewritten once it is this long (checked when a
  /// marker is acknowledged and no fsync runs).
  static constexpr uint64_t compact_bytes = uint64_t{1} << 20;

  /// A journal under `pending_dir(data_dir)`, rewritten from `compact_at`
  /// bytes on.
  explicit pending_journal(std::string data_dir,
                           uint64_t compact_at = compact_bytes);

  ~pending_journal();

  pending_journal(const pending_journal&) = delete;
  pending_journal& operator=(const pending_journal&) = delete;

  /// Appends the marker of `meta` (bucket, key, version, etag, size,
  /// content type and the inode the object file will have) and makes it
  /// durable (fsync of the log; callers at the same time share one). On an
  /// error the marker counts as not written.
  [[nodiscard]] std::optional<fs_error> record(const object_meta& meta);

  /// Appends the acknowledgement of `version` (no fsync). A version
  /// without an open marker is not an error and writes nothing.
  [[nodiscard]] std::optional<fs_error> erase(const std::string& version);

  /// Returns whether the object file of `meta` is still the version the
  /// marker describes (same inode and size).
  bool is_current(const object_meta& meta) const;

  /// Start-up: reads every marker (log lines and marker files of the old
  /// layout), keeps those whose object is still that version (`buckets` are
  /// the configured ones), drops the others, rewrites object metadata that
  /// does not match a live marker, and rewrites the log with the live
  /// markers only (old marker files and leftovers are removed).
  scan_result scan(const std::vector<std::string>& buckets);

  /// Number of open markers (recorded or found by `scan`, not yet erased).
  size_t count() const;

  /// Path of the log.
  std::string log_path() const;

private:
  /// Opens the log for appending if it is not open; needs `mtx_`.
  std::optional<fs_error> open_locked();

  /// Appends `line` in one write; on a short write, cuts the log back to
  /// where it was. Needs `mtx_` and an open log.
  std::optional<fs_error> append_locked(const std::string& line);

  /// Writes the open markers to a new log, fsyncs it, renames it over the
  /// log and fsyncs the folder. Needs `mtx_` and no fsync running.
  std::optional<fs_error> compact_locked();

  /// Drops the open marker of `version`; returns whether there was one.
  /// Needs `mtx_`.
  bool forget_locked(const std::string& version);

  /// Root of the store.
  std::string data_dir_;
  /// See `pending_dir`.
  std::string dir_;
  /// See the constructor.
  uint64_t compact_at_;
  /// Guards everything below.
  mutable std::mutex mtx_;
  /// Signalled when an fsync of the log ends.
  std::condition_variable synced_cv_;
  /// The log, open for appending; -1 until the first append or after an
  /// error.
  int fd_ = -1;
  /// Its length in bytes as far as this journal wrote it.
  uint64_t bytes_ = 0;
  /// Marker lines appended (their sequence numbers count from 1).
  uint64_t written_ = 0;
  /// Marker lines up to this one are durable.
  uint64_t synced_ = 0;
  /// Ranges of marker lines that failed: an fsync reported an error after
  /// they were written (their pages may be gone). One per failed fsync.
  std::vector<std::pair<uint64_t, uint64_t>> failed_;
  /// The error of the last failed fsync.
  std::optional<fs_error> sync_error_;
  /// Whether a caller is in fsync (outside the lock).
  bool syncing_ = false;
  /// Open markers: version → its line.
  std::map<std::string, std::string> open_;
  /// Their lines' length in bytes.
  uint64_t open_bytes_ = 0;
};

} // namespace vf::adapters::objectstore
