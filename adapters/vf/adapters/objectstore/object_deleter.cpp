// vf/adapters/objectstore/object_deleter.cpp

#include "vf/adapters/objectstore/object_deleter.hpp"

#include "vf/adapters/objectstore/object_paths.hpp"
#include "vf/messages/errc.hpp"

#include "caf/actor_system.hpp"
#include "caf/typed_event_based_actor.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <system_error>
#include <vector>

namespace vf::adapters::objectstore {

namespace {

namespace fs = std::filesystem;

using messages::errc;
using messages::make_error;

// Removes `path`; returns whether it existed (a file already gone is fine).
caf::expected<bool> remove_file(const std::string& path) {
  if (::unlink(path.c_str()) == 0)
    return true;
  if (errno == ENOENT)
    return false;
  std::error_code err{errno, std::generic_category()};
  return make_error(errc::storage_unavailable,
                    "cannot delete " + path + ": " + err.message());
}

// Lists, below `root`, the files (`folders == false`) or the folders
// (deepest first) as paths relative to `root`, without following symbolic
// links. A missing `root` has none.
caf::expected<std::vector<std::string>> list_tree(const std::string& root,
                                                  bool folders) {
  std::vector<std::string> result;
  struct stat st;
  if (::lstat(root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return result;
  std::error_code ec;
  fs::recursive_directory_iterator i{root, ec};
  for (fs::recursive_directory_iterator end; !ec && i != end; i.increment(ec)) {
    auto status = i->symlink_status(ec);
    if (ec)
      break;
    if (folders ? fs::is_directory(status) : !fs::is_directory(status))
      result.push_back(i->path().lexically_relative(root).string());
  }
  if (ec)
    return make_error(errc::storage_unavailable,
                      "cannot list " + root + ": " + ec.message());
  if (folders)
    // Longer paths sort after their parents; reversed, children go first.
    std::sort(result.rbegin(), result.rend());
  return result;
}

// Removes the folders below `root` that are empty, then `root` itself if it
// is. Folders that are not empty (a concurrent install) are left alone.
void remove_empty_folders(const std::string& root) {
  if (auto folders = list_tree(root, true))
    for (auto& rel : *folders) {
      auto path = root;
      path += '/';
      path += rel;
      ::rmdir(path.c_str());
    }
  ::rmdir(root.c_str());
}

messages::object_deleter_actor::behavior_type
object_deleter(messages::object_deleter_actor::pointer,
               std::string data_dir) {
  return {
    [data_dir](atoms::erase, const std::string& bucket,
               const std::string& key) -> caf::result<bool> {
      if (!is_valid_bucket_name(bucket) || check_key(key))
        return true;
      if (auto res = delete_object(data_dir, bucket, key); !res)
        return std::move(res.error());
      return true;
    },
    [data_dir](atoms::erase_prefix, const std::string& bucket,
               const std::string& prefix) -> caf::result<uint64_t> {
      auto res = delete_prefix(data_dir, bucket, prefix);
      if (!res)
        return std::move(res.error());
      return *res;
    },
  };
}

} // namespace

messages::object_deleter_actor spawn_object_deleter(caf::actor_system& sys,
                                                    std::string data_dir) {
  return sys.spawn<caf::detached>(object_deleter, std::move(data_dir));
}

caf::expected<bool> delete_object(const std::string& data_dir,
                                  std::string_view bucket,
                                  std::string_view key) {
  // The object first: metadata without an object reads as absent, an
  // object without metadata would not.
  auto removed = remove_file(object_file(data_dir, bucket, key));
  if (!removed)
    return removed;
  if (auto meta = remove_file(meta_file(data_dir, bucket, key)); !meta)
    return std::move(meta.error());
  return removed;
}

caf::expected<uint64_t> delete_prefix(const std::string& data_dir,
                                      std::string_view bucket,
                                      std::string_view prefix) {
  if (!is_valid_bucket_name(bucket))
    return make_error(errc::invalid_argument,
                      "invalid bucket name '" + std::string{bucket} + "'");
  if (prefix.empty() || prefix.back() != '/')
    return make_error(errc::invalid_argument,
                      "invalid prefix '" + std::string{prefix}
                        + "': it must name a folder and end in '/'");
  auto folder = prefix.substr(0, prefix.size() - 1);
  if (auto why = check_key(folder))
    return make_error(errc::invalid_argument,
                      "invalid prefix '" + std::string{prefix} + "': " + *why);
  auto object_root = object_file(data_dir, bucket, folder);
  auto meta_root = meta_file(data_dir, bucket, folder);
  auto objects = list_tree(object_root, false);
  if (!objects)
    return std::move(objects.error());
  uint64_t count = 0;
  for (auto& rel : *objects) {
    auto removed = delete_object(data_dir, bucket, std::string{prefix} + rel);
    if (!removed)
      return std::move(removed.error());
    if (*removed)
      ++count;
  }
  // Metadata whose object is gone already (a crash mid-delete) goes too.
  auto metas = list_tree(meta_root, false);
  if (!metas)
    return std::move(metas.error());
  for (auto& rel : *metas) {
    struct stat st;
    auto key = std::string{prefix} + rel;
    if (::lstat(object_file(data_dir, bucket, key).c_str(), &st) == 0)
      continue;
    if (auto res = remove_file(meta_file(data_dir, bucket, key)); !res)
      return std::move(res.error());
  }
  remove_empty_folders(object_root);
  remove_empty_folders(meta_root);
  return count;
}

} // namespace vf::adapters::objectstore
