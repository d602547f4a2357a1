// vf/adapters/objectstore/object_install.cpp

#include "vf/adapters/objectstore/object_install.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vf/adapters/objectstore/object_paths.hpp"
#include "vf/adapters/objectstore/upload_file.hpp"
#include "vf/adapters/objectstore/version_clock.hpp"
#include "vf/messages/errc.hpp"

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <memory>
#include <system_error>
#include <vector>

namespace vf::adapters::objectstore {

namespace {

using messages::errc;
using messages::make_error;

caf::error to_error(const fs_error& err) {
  auto text = err.what + ": " + err.code.message();
  if (is_path_conflict(err))
    return make_error(errc::conflict,
                      text
                        + " (the key clashes with an existing object or "
                          "folder of objects)");
  return make_error(errc::storage_unavailable, text);
}

// Returns whether `path` (symbolic links resolved) lies inside the store's
// object tree under `data_dir`.
bool is_inside_store(const std::string& data_dir, const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  auto store = fs::weakly_canonical(objects_dir(data_dir), ec);
  if (ec)
    return false;
  auto file = fs::weakly_canonical(path, ec);
  if (ec)
    return false;
  auto [store_end, file_pos]
    = std::mismatch(store.begin(), store.end(), file.begin(), file.end());
  return store_end == store.end();
}

// Streams `source` into the freshly opened `part`.
std::optional<fs_error> copy_into(upload_file& part,
                                  const std::string& source) {
  auto fd = ::open(source.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return fs_error{{errno, std::generic_category()}, "cannot open " + source};
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return fs_error{{EINVAL, std::generic_category()},
                    source + " is not a regular file"};
  }
  std::optional<fs_error> result = part.open();
  std::vector<char> buf(size_t{64} * 1024);
  while (!result) {
    auto n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      result
        = fs_error{{errno, std::generic_category()}, "cannot read " + source};
    if (n <= 0)
      break;
    result = part.append(buf.data(), static_cast<size_t>(n));
  }
  ::close(fd);
  return result;
}

} // namespace

caf::expected<object_meta> install_object(const std::string& data_dir,
                                          std::string_view bucket,
                                          std::string_view key,
                                          const std::string& local_file,
                                          const std::string& content_type) {
  if (!is_valid_bucket_name(bucket))
    return make_error(errc::invalid_argument,
                      "invalid bucket name '" + std::string{bucket} + "'");
  if (auto why = check_key(key))
    return make_error(errc::invalid_argument, "invalid object key: " + *why);
  struct stat st;
  if (::lstat(local_file.c_str(), &st) != 0) {
    std::error_code err{errno, std::generic_category()};
    return make_error(err == std::errc::no_such_file_or_directory
                        ? errc::not_found
                        : errc::storage_unavailable,
                      "cannot install " + local_file + ": " + err.message());
  }
  // A file with other names would stay writable through them, changing a
  // stored object behind its ETag; such files (and symbolic links) are
  // copied instead.
  bool linkable = S_ISREG(st.st_mode) && st.st_nlink == 1;
  if (!linkable && !S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode))
    return make_error(errc::invalid_argument,
                      "cannot install " + local_file + ": not a regular file");
  // Moving a file of the store (an object's, even this key's own: renaming
  // a hard link onto its twin does nothing) would lose an object.
  if (is_inside_store(data_dir, local_file))
    return make_error(errc::invalid_argument,
                      "cannot install " + local_file
                        + ": it is inside the store's own object tree");
  auto partial = partial_dir(data_dir);
  if (auto err = make_dirs(partial))
    return to_error(*err);
  // Ids from this clock only name partial files and versions of installed
  // objects; the prefix keeps them apart from uploads' `<version>.part`.
  static version_clock versions;
  auto version = versions.next();
  auto part_path = partial + "/install-" + version + ".part";
  auto part = std::make_unique<upload_file>(part_path);
  std::optional<fs_error> err;
  if (linkable) {
    err = part->link_from(local_file);
    // Another file system, or one refusing hard links: copy instead.
    auto code = err ? err->code.value() : 0;
    if (code == EXDEV || code == EPERM || code == EMLINK || code == ENOTSUP) {
      part = std::make_unique<upload_file>(part_path);
      linkable = false;
      err.reset();
    }
  }
  if (!linkable)
    err = copy_into(*part, local_file);
  if (err) {
    if (err->code.value() == EINVAL)
      return make_error(errc::invalid_argument, "cannot install " + err->what);
    return to_error(*err);
  }
  object_meta meta;
  meta.bucket = std::string{bucket};
  meta.key = std::string{key};
  meta.version = version;
  meta.content_type = content_type;
  auto object_path = object_file(data_dir, bucket, key);
  auto meta_path = meta_file(data_dir, bucket, key);
  std::string warning;
  if (auto commit_err = part->commit(object_path, meta_path, meta, warning))
    return to_error(*commit_err);
  // The object is in place either way (readers recompute missing metadata),
  // but the caller was promised metadata; a retry writes both again.
  if (!warning.empty())
    return make_error(errc::storage_unavailable,
                      "installed " + std::string{bucket} + "/"
                        + std::string{key}
                        + " but could not write its metadata: " + warning);
  // The bytes live on under the object's name now.
  ::unlink(local_file.c_str());
  meta.etag = part->etag();
  meta.size = part->size();
  // The inode is what commit recorded, unless a concurrent install of the
  // same key has replaced the metadata already.
  if (auto stored = find_object_meta(object_path, meta_path);
      stored && stored->version == version)
    meta.inode = stored->inode;
  return meta;
}

} // namespace vf::adapters::objectstore
