// vf/adapters/objectstore/pending_journal.cpp

#include "vf/adapters/objectstore/pending_journal.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vf/adapters/objectstore/object_paths.hpp"

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace vf::adapters::objectstore {

namespace {

/// File name of the log inside the journal folder.
constexpr const char* log_name = "journal";

fs_error make_fs_error(int err, std::string what) {
  return {std::error_code{err, std::generic_category()}, std::move(what)};
}

std::string describe(const fs_error& err) {
  return err.what + ": " + err.code.message();
}

} // namespace

std::string pending_dir(const std::string& data_dir) {
  return objects_dir(data_dir) + "/.pending";
}

bool is_version_id(const std::string& name) {
  return name.size() == 20
         && std::all_of(name.begin(), name.end(),
                        [](char c) { return c >= '0' && c <= '9'; });
}

pending_journal::pending_journal(std::string data_dir, uint64_t compact_at)
  : data_dir_(std::move(data_dir)),
    dir_(pending_dir(data_dir_)),
    compact_at_(compact_at) {
  // nop
}

pending_journal::~pending_journal() {
  if (fd_ >= 0)
    ::close(fd_);
}

std::string pending_journal::log_path() const {
  return dir_ + "/" + log_name;
}

std::optional<fs_error> pending_journal::open_locked() {
  if (fd_ >= 0)
    return std::nullopt;
  auto path = log_path();
  struct stat st;
  bool existed = ::stat(path.c_str(), &st) == 0;
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
                  0600);
  if (fd < 0)
    return make_fs_error(errno, "cannot open " + path);
  if (::fstat(fd, &st) != 0) {
    auto err = make_fs_error(errno, "cannot stat " + path);
    ::close(fd);
    return err;
  }
  if (!existed)
    // The log's own entry must survive a crash with the first marker.
    if (auto err = sync_dir(dir_)) {
      ::close(fd);
      return err;
    }
  fd_ = fd;
  bytes_ = static_cast<uint64_t>(st.st_size);
  return std::nullopt;
}

std::optional<fs_error>
pending_journal::append_locked(const std::string& line) {
  size_t done = 0;
  while (done < line.size()) {
    auto n = ::write(fd_, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      auto err = make_fs_error(n < 0 ? errno : EIO,
                               "cannot append to " + log_path());
      // A torn line would glue itself to the next one: cut it off. If even
      // that fails, reopen (and find the length again) before the next
      // append; `scan` skips a torn line at start-up.
      if (done > 0 && ::ftruncate(fd_, static_cast<off_t>(bytes_)) != 0) {
        ::close(fd_);
        fd_ = -1;
      }
      return err;
    }
    done += static_cast<size_t>(n);
  }
  bytes_ += line.size();
  return std::nullopt;
}

std::optional<fs_error> pending_journal::record(const object_meta& meta) {
  if (!is_version_id(meta.version))
    return make_fs_error(EINVAL, "cannot journal version '" + meta.version
                                   + "': not a version id");
  auto line = "+" + to_json(meta) + "\n";
  std::unique_lock<std::mutex> guard{mtx_};
  if (auto err = open_locked())
    return err;
  if (auto err = append_locked(line))
    return err;
  auto seq = ++written_;
  forget_locked(meta.version);
  open_bytes_ += line.size();
  open_[meta.version] = std::move(line);
  // Group commit: one caller fsyncs for every line written so far; the
  // others wait for it (or for the next one, if theirs came later).
  auto failed = [this](uint64_t x) {
    return std::any_of(failed_.begin(), failed_.end(), [x](const auto& r) {
      return r.first <= x && x <= r.second;
    });
  };
  while (synced_ < seq && !failed(seq)) {
    if (syncing_) {
      synced_cv_.wait(guard);
      continue;
    }
    syncing_ = true;
    auto target = written_;
    int fd = fd_;
    guard.unlock();
    int rc = ::fsync(fd);
    int sync_errno = errno;
    guard.lock();
    syncing_ = false;
    if (rc == 0) {
      synced_ = std::max(synced_, target);
    } else {
      // Every line written since the last good fsync may have lost its
      // pages (the kernel reports a writeback error once): none of them
      // counts as durable, even if a later fsync succeeds.
      failed_.emplace_back(synced_ + 1, written_);
      sync_error_ = make_fs_error(sync_errno, "cannot fsync " + log_path());
      if (fd_ == fd) {
        ::close(fd_);
        fd_ = -1;
      }
    }
    synced_cv_.notify_all();
  }
  if (!failed(seq))
    return std::nullopt;
  forget_locked(meta.version);
  // Best effort: a marker whose upload failed is dropped by `scan` anyway
  // (its object never got that inode).
  if (open_locked() == std::nullopt)
    static_cast<void>(append_locked("-" + meta.version + "\n"));
  return sync_error_;
}

bool pending_journal::forget_locked(const std::string& version) {
  auto i = open_.find(version);
  if (i == open_.end())
    return false;
  open_bytes_ -= i->second.size();
  open_.erase(i);
  return true;
}

std::optional<fs_error> pending_journal::erase(const std::string& version) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (!forget_locked(version))
    return std::nullopt;
  if (auto err = open_locked())
    return err;
  if (auto err = append_locked("-" + version + "\n"))
    return err;
  // At most half of a rewritten log is acknowledged lines: with many open
  // markers (the orchestrator away) it is not rewritten at every answer.
  if (bytes_ >= compact_at_ && bytes_ >= 2 * open_bytes_ && !syncing_)
    return compact_locked();
  return std::nullopt;
}

std::optional<fs_error> pending_journal::compact_locked() {
  auto path = log_path();
  auto tmp = path + ".tmp";
  std::string text;
  for (auto& [version, line] : open_)
    text += line;
  std::optional<fs_error> err = write_file_synced(tmp, text, false);
  if (!err && ::rename(tmp.c_str(), path.c_str()) != 0)
    err = make_fs_error(errno, "cannot rename " + tmp + " to " + path);
  if (!err)
    err = sync_dir(dir_);
  if (err) {
    ::unlink(tmp.c_str());
    return err;
  }
  // Every open marker is in the new log, fsynced: all written lines are
  // durable or acknowledged.
  if (fd_ >= 0)
    ::close(fd_);
  fd_ = -1;
  synced_ = written_;
  return open_locked();
}

bool pending_journal::is_current(const object_meta& meta) const {
  struct stat st;
  auto path = object_file(data_dir_, meta.bucket, meta.key);
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)
         && static_cast<uint64_t>(st.st_ino) == meta.inode
         && static_cast<uint64_t>(st.st_size) == meta.size;
}

pending_journal::scan_result
pending_journal::scan(const std::vector<std::string>& buckets) {
  namespace fs = std::filesystem;
  scan_result result;
  // Version → marker text (JSON); empty text: unreadable.
  std::map<std::string, std::string> found;
  std::vector<std::string> old_files;
  std::error_code ec;
  for (fs::directory_iterator i{dir_, ec}, end; !ec && i != end;
       i.increment(ec)) {
    auto name = i->path().filename().string();
    if (name != log_name)
      old_files.push_back(std::move(name));
  }
  if (ec)
    result.problems.push_back("cannot list " + dir_ + ": " + ec.message());
  // Marker files of the old layout (one per version), then the log: a
  // store upgraded after a crash announces both kinds.
  for (auto& name : old_files) {
    if (!is_version_id(name))
      continue; // Leftovers, e.g. the temporary file of a repair.
    std::ifstream in{dir_ + "/" + name, std::ios::binary};
    std::string text{std::istreambuf_iterator<char>{in}, {}};
    found[name] = in.bad() ? std::string{} : std::move(text);
  }
  {
    std::ifstream in{log_path(), std::ios::binary};
    std::string line;
    while (std::getline(in, line)) {
      if (in.eof()) {
        // The last line has no newline: torn by a crash before its fsync
        // (its upload never got an answer).
        ++result.stale;
        break;
      }
      if (line.size() > 1 && line[0] == '+') {
        auto meta = object_meta_from_json(line.substr(1));
        if (meta && is_version_id(meta->version))
          found[meta->version] = line.substr(1);
        else
          ++result.stale;
      } else if (line.size() > 1 && line[0] == '-') {
        found.erase(line.substr(1));
      } else if (!line.empty()) {
        ++result.stale;
      }
    }
  }
  // Version ids sort in creation order.
  for (auto& [version, text] : found) {
    auto meta = object_meta_from_json(text);
    auto valid = meta && meta->version == version
                 && std::find(buckets.begin(), buckets.end(), meta->bucket)
                      != buckets.end()
                 && is_valid_bucket_name(meta->bucket) && !check_key(meta->key);
    if (!valid || !is_current(*meta)) {
      // Torn (crash before the object's rename), or the object was never
      // renamed into place, or a later upload replaced it (that one has its
      // own marker or was announced).
      ++result.stale;
      continue;
    }
    // The object is in place; make sure readers see the announced version
    // (its attribute always does; a metadata file may lag behind).
    auto mpath = meta_file(data_dir_, meta->bucket, meta->key);
    auto stored = find_object_meta(
      object_file(data_dir_, meta->bucket, meta->key), mpath);
    if (!stored || stored->inode != meta->inode
        || stored->version != meta->version || stored->etag != meta->etag
        || stored->size != meta->size) {
      auto tmp = dir_ + "/" + version + ".meta.tmp";
      std::optional<fs_error> err = write_file_synced(tmp, to_json(*meta),
                                                      false);
      if (!err)
        err = make_dirs(parent_of(mpath));
      if (!err && ::rename(tmp.c_str(), mpath.c_str()) != 0)
        err = make_fs_error(errno, "cannot rename " + tmp + " to " + mpath);
      if (!err)
        err = sync_dir(parent_of(mpath));
      if (err) {
        ::unlink(tmp.c_str());
        result.problems.push_back(describe(*err));
      } else {
        ++result.repaired;
      }
    }
    result.live.push_back(std::move(*meta));
  }
  std::lock_guard<std::mutex> guard{mtx_};
  open_.clear();
  open_bytes_ = 0;
  for (auto& meta : result.live) {
    auto line = "+" + to_json(meta) + "\n";
    open_bytes_ += line.size();
    open_[meta.version] = std::move(line);
  }
  // The log holds the live markers only from here on; then the old files
  // (now in the log) and leftovers can go.
  if (auto err = compact_locked()) {
    result.problems.push_back(describe(*err)
                              + " (the old markers are kept for the next "
                                "start)");
    return result;
  }
  bool removed = false;
  for (auto& name : old_files) {
    auto path = dir_ + "/" + name;
    std::error_code rm_ec;
    fs::remove_all(path, rm_ec);
    if (rm_ec)
      result.problems.push_back("cannot remove " + path + ": "
                                + rm_ec.message());
    removed = true;
  }
  if (removed)
    if (auto err = sync_dir(dir_))
      result.problems.push_back(describe(*err));
  return result;
}

size_t pending_journal::count() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return open_.size();
}

} // namespace vf::adapters::objectstore
