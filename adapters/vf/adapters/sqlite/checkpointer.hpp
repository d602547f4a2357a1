// vf/adapters/sqlite/checkpointer.hpp
//
// Copies the write-ahead log into the database file on a thread of its
// own. SQLite does this in the committing thread by default, once the log
// holds 1,000 pages: the job store's only thread then stopped for a
// checkpoint (page writes and an fsync of the database file) every few
// hundred commits, and every request waiting on the store waited with it
// (perf under POST /jobs: a tenth of the store thread's time).
//
// Durability does not change: a commit is on disk when its log frames are
// (synchronous=FULL); the checkpoint only moves them into the database file
// later, with an fsync of its own, as SQLite's would.

#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>

#include <caf/expected.hpp>

#include "vf/adapters/sqlite/database.hpp"

namespace vf::adapters::sqlite {

/// Runs PASSIVE checkpoints of one database on a thread, through a second
/// connection, whenever a commit of the writer leaves its log holding at
/// least `pages` frames: under steady writes, one run after another.
/// (Waiting instead until `pages` more frames than the last run copied
/// cost the thread 40 % less CPU but raised POST /jobs p99 from 9–12 to
/// 14–16 ms: bigger runs, bigger fsyncs of the database file.)
class checkpointer {
public:
  /// Default for `pages`: SQLite's own automatic checkpoint threshold.
  static constexpr int default_pages = 1000;

  /// Opens a second connection to `writer`'s file, starts the thread and
  /// takes over `writer`'s WAL hook (which also ends SQLite's automatic
  /// checkpoint). The log starts over only once a checkpoint has copied all
  /// of it before the next write; under steady writes the thread never
  /// quite gets there, so at 8 times `pages` (32 MiB by default) the writer
  /// checkpoints by itself: small, as the thread has copied nearly all,
  /// and the log then starts over. It stays bounded either way.
  static caf::expected<std::unique_ptr<checkpointer>>
  start(database& writer, int pages = default_pages);

  checkpointer(const checkpointer&) = delete;
  checkpointer& operator=(const checkpointer&) = delete;

  /// Gives the writer its hook back, stops the thread and closes the
  /// connection. Must run before the writer's connection closes.
  ~checkpointer();

  /// Checkpoints the thread has tried so far (a busy one counts too).
  uint64_t runs() const {
    return runs_.load();
  }

private:
  checkpointer(database& writer, std::unique_ptr<database> own, int pages);

  static int on_commit(void* self, sqlite3* db, const char* name, int pages);

  void loop();

  database& writer_;
  std::unique_ptr<database> own_;
  int pages_;
  std::mutex mtx_;
  std::condition_variable cv_;
  bool due_ = false;
  bool stop_ = false;
  std::atomic<uint64_t> runs_{0};
  std::thread thread_;
};

} // namespace vf::adapters::sqlite
