// vf/adapters/sqlite/checkpointer.cpp

#include "vf/adapters/sqlite/checkpointer.hpp"

#include <sqlite3.h>

#include "vf/adapters/common/thread_name.hpp"
#include "vf/adapters/sqlite/schema.hpp"

namespace vf::adapters::sqlite {

caf::expected<std::unique_ptr<checkpointer>>
checkpointer::start(database& writer, int pages) {
  auto own = database::open(writer.path());
  if (!own)
    return std::move(own.error());
  if (auto err = configure(**own))
    return err;
  std::unique_ptr<checkpointer> result{
    new checkpointer(writer, std::move(*own), pages)};
  // From here on the hook runs on every commit of the writer.
  sqlite3_wal_hook(writer.native(), &checkpointer::on_commit,
                   result.get());
  return result;
}

checkpointer::checkpointer(database& writer, std::unique_ptr<database> own,
                           int pages)
  : writer_(writer), own_(std::move(own)), pages_(pages) {
  thread_ = std::thread{[this] { loop(); }};
}

checkpointer::~checkpointer() {
  // Back to SQLite's automatic checkpoint for whatever the writer commits
  // before it closes (closing checkpoints the rest).
  sqlite3_wal_autocheckpoint(writer_.native(), default_pages);
  {
    std::lock_guard<std::mutex> guard{mtx_};
    stop_ = true;
  }
  cv_.notify_one();
  thread_.join();
}

int checkpointer::on_commit(void* ptr, sqlite3* db, const char* name,
                            int pages) {
  auto self = static_cast<checkpointer*>(ptr);
  if (pages >= 8 * self->pages_) {
    // The thread cannot keep up: checkpoint here, between transactions,
    // where nothing else writes, so the log starts over with the next one.
    sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, nullptr,
                              nullptr);
    return SQLITE_OK;
  }
  if (pages >= self->pages_) {
    {
      std::lock_guard<std::mutex> guard{self->mtx_};
      if (self->due_)
        return SQLITE_OK;
      self->due_ = true;
    }
    self->cv_.notify_one();
  }
  return SQLITE_OK;
}

void checkpointer::loop() {
  common::name_this_thread("vf.sqlite.ckpt");
  std::unique_lock<std::mutex> guard{mtx_};
  for (;;) {
    cv_.wait(guard, [this] { return due_ || stop_; });
    if (stop_)
      return;
    guard.unlock();
    // PASSIVE: copies what no reader still needs and never waits; a busy
    // or failed checkpoint is simply tried again at the next trigger (the
    // log is still there, and the writer's own checkpoint bounds it).
    sqlite3_wal_checkpoint_v2(own_->native(), "main",
                              SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    ++runs_;
    guard.lock();
    due_ = false;
  }
}

} // namespace vf::adapters::sqlite
