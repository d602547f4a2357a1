// vf/adapters/objectstore/pending_journal.cpp

#include "vf/adapters/objectstore/pending_journal.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include "vf/adapters/objectstore/object_paths.hpp"

#include <algorithm>
#include <cerrno>
#include <filesystem>

namespace vf::adapters::objectstore {

namespace {

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

pending_journal::pending_journal(std::string data_dir)
  : data_dir_(std::move(data_dir)), dir_(pending_dir(data_dir_)) {
  // nop
}

std::string pending_journal::marker_path(const std::string& version) const {
  return dir_ + "/" + version;
}

std::optional<fs_error> pending_journal::record(const object_meta& meta) {
  if (!is_version_id(meta.version))
    return make_fs_error(EINVAL, "cannot journal version '" + meta.version
                                   + "': not a version id");
  auto path = marker_path(meta.version);
  // No temporary file and rename: a marker torn by a crash is unreadable,
  // and such a crash happened before the object's rename, so `scan` rightly
  // discards it.
  if (auto err = write_file_synced(path, to_json(meta), true)) {
    ::unlink(path.c_str());
    return err;
  }
  if (auto err = sync_dir(dir_)) {
    ::unlink(path.c_str());
    return err;
  }
  std::lock_guard<std::mutex> guard{mtx_};
  versions_.insert(meta.version);
  return std::nullopt;
}

std::optional<fs_error> pending_journal::erase(const std::string& version) {
  auto path = marker_path(version);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    return make_fs_error(errno, "cannot remove " + path);
  {
    std::lock_guard<std::mutex> guard{mtx_};
    versions_.erase(version);
  }
  // Without this a crash may bring the marker back: one more (harmless)
  // announcement.
  return sync_dir(dir_);
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
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator i{dir_, ec}, end; !ec && i != end;
       i.increment(ec))
    names.push_back(i->path().filename().string());
  if (ec)
    result.problems.push_back("cannot list " + dir_ + ": " + ec.message());
  // Version ids sort in creation order.
  std::sort(names.begin(), names.end());
  bool removed = false;
  auto discard = [&](const std::string& name) {
    auto path = dir_ + "/" + name;
    std::error_code rm_ec;
    fs::remove_all(path, rm_ec);
    if (rm_ec)
      result.problems.push_back("cannot remove " + path + ": "
                                + rm_ec.message());
    removed = true;
  };
  for (auto& name : names) {
    if (!is_version_id(name)) {
      // Leftovers, e.g. the temporary file of a metadata repair.
      discard(name);
      continue;
    }
    auto meta = read_object_meta(marker_path(name));
    auto valid = meta && meta->version == name
                 && std::find(buckets.begin(), buckets.end(), meta->bucket)
                      != buckets.end()
                 && is_valid_bucket_name(meta->bucket) && !check_key(meta->key);
    if (!valid || !is_current(*meta)) {
      // Torn (crash before the object's rename), or the object was never
      // renamed into place, or a later upload replaced it (that one has its
      // own marker or was announced).
      ++result.stale;
      discard(name);
      continue;
    }
    // The object is in place; make sure readers see the announced version.
    auto mpath = meta_file(data_dir_, meta->bucket, meta->key);
    auto stored = read_object_meta(mpath);
    if (!stored || stored->inode != meta->inode
        || stored->version != meta->version || stored->etag != meta->etag
        || stored->size != meta->size) {
      auto tmp = dir_ + "/" + name + ".meta.tmp";
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
  if (removed)
    if (auto err = sync_dir(dir_))
      result.problems.push_back(describe(*err));
  std::lock_guard<std::mutex> guard{mtx_};
  versions_.clear();
  for (auto& meta : result.live)
    versions_.insert(meta.version);
  return result;
}

size_t pending_journal::count() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return versions_.size();
}

} // namespace vf::adapters::objectstore
