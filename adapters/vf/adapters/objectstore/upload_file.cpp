// vf/adapters/objectstore/upload_file.cpp

#include "vf/adapters/objectstore/upload_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

namespace vf::adapters::objectstore {

namespace {

fs_error make_fs_error(int err, std::string what) {
  return {std::error_code{err, std::generic_category()}, std::move(what)};
}

std::optional<fs_error> write_all(int fd, const char* data, size_t size,
                                  const std::string& path) {
  while (size > 0) {
    auto n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return make_fs_error(errno, "cannot write " + path);
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return std::nullopt;
}

std::optional<fs_error> sync_and_close(int& fd, const std::string& path) {
  std::optional<fs_error> result;
  if (::fsync(fd) != 0)
    result = make_fs_error(errno, "cannot fsync " + path);
  // close() can report a deferred write error (NFS); it still releases fd.
  if (::close(fd) != 0 && !result)
    result = make_fs_error(errno, "cannot close " + path);
  fd = -1;
  return result;
}

} // namespace

bool is_out_of_space(const fs_error& err) {
  auto c = err.code.value();
  return c == ENOSPC || c == EDQUOT;
}

bool is_path_conflict(const fs_error& err) {
  auto c = err.code.value();
  return c == ENOTDIR || c == EISDIR || c == ENOTEMPTY || c == EEXIST;
}

std::string parent_of(const std::string& path) {
  auto pos = path.find_last_of('/');
  if (pos == std::string::npos)
    return ".";
  if (pos == 0)
    return "/";
  return path.substr(0, pos);
}

std::optional<fs_error> sync_dir(const std::string& dir) {
  auto fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return make_fs_error(errno, "cannot open folder " + dir);
  std::optional<fs_error> result;
  if (::fsync(fd) != 0)
    result = make_fs_error(errno, "cannot fsync folder " + dir);
  ::close(fd);
  return result;
}

std::optional<fs_error> make_dirs(const std::string& dir) {
  if (dir.empty())
    return std::nullopt;
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode))
      return std::nullopt;
    return make_fs_error(ENOTDIR, dir + " exists and is not a folder");
  }
  if (errno != ENOENT)
    return make_fs_error(errno, "cannot access " + dir);
  auto parent = parent_of(dir);
  if (parent != dir)
    if (auto err = make_dirs(parent))
      return err;
  if (::mkdir(dir.c_str(), 0700) != 0) {
    // Another upload may have created it in the meantime.
    if (errno == EEXIST && ::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
      return std::nullopt;
    return make_fs_error(errno, "cannot create folder " + dir);
  }
  return sync_dir(parent);
}

upload_file::upload_file(std::string path) : path_(std::move(path)) {
  // nop
}

upload_file::~upload_file() {
  discard();
}

std::optional<fs_error> upload_file::open() {
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd_ < 0) {
    gone_ = true;
    return make_fs_error(errno, "cannot create " + path_);
  }
  return std::nullopt;
}

std::optional<fs_error> upload_file::append(const char* data, size_t size) {
  if (fd_ < 0)
    return make_fs_error(EBADF, "cannot write " + path_ + ": not open");
  if (auto err = write_all(fd_, data, size, path_))
    return err;
  md5_.update(data, size);
  sha256_.update(data, size);
  size_ += size;
  return std::nullopt;
}

std::optional<fs_error> upload_file::link_from(const std::string& source) {
  if (fd_ >= 0)
    return make_fs_error(EBUSY, "cannot link " + source + " to " + path_
                                  + ": already open");
  if (::link(source.c_str(), path_.c_str()) != 0) {
    gone_ = true;
    return make_fs_error(errno, "cannot link " + source + " to " + path_);
  }
  // link() does not follow a symbolic link, but the check below must hold
  // whatever the path named: only a regular file becomes an object.
  fd_ = ::open(path_.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd_ < 0)
    return make_fs_error(errno, "cannot open " + path_);
  struct stat st;
  if (::fstat(fd_, &st) != 0)
    return make_fs_error(errno, "cannot stat " + path_);
  if (!S_ISREG(st.st_mode))
    return make_fs_error(EINVAL, source + " is not a regular file");
  std::vector<char> buf(size_t{64} * 1024);
  for (;;) {
    auto n = ::read(fd_, buf.data(), buf.size());
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return make_fs_error(errno, "cannot read " + path_);
    if (n == 0)
      break;
    md5_.update(buf.data(), static_cast<size_t>(n));
    size_ += static_cast<uint64_t>(n);
  }
  // The object's Last-Modified is its file's mtime, which should say when
  // it entered the store rather than when its producer last wrote it. A
  // failure only leaves the older time, so it is not an error.
  ::futimens(fd_, nullptr);
  return std::nullopt;
}

std::optional<fs_error> write_file_synced(const std::string& path,
                                          const std::string& text,
                                          bool exclusive) {
  auto flags = O_WRONLY | O_CREAT | O_CLOEXEC | (exclusive ? O_EXCL : O_TRUNC);
  auto fd = ::open(path.c_str(), flags, 0600);
  if (fd < 0)
    return make_fs_error(errno, "cannot create " + path);
  if (auto err = write_all(fd, text.data(), text.size(), path)) {
    ::close(fd);
    return err;
  }
  return sync_and_close(fd, path);
}

std::optional<fs_error> upload_file::commit(
  const std::string& object_path, const std::string& meta_path,
  object_meta meta, std::string& meta_warning,
  const std::function<std::optional<fs_error>(uint64_t inode)>&
    before_rename) {
  if (fd_ < 0)
    return make_fs_error(EBADF, "cannot commit " + path_ + ": not open");
  struct stat st;
  if (::fstat(fd_, &st) != 0)
    return make_fs_error(errno, "cannot stat " + path_);
  meta.inode = static_cast<uint64_t>(st.st_ino);
  meta.size = size_;
  if (meta.etag.empty()) // A multipart object brings its own.
    meta.etag = etag();
  // In the file's own attribute, the one fsync below makes the metadata
  // durable with the bytes: no second file, folder or rename per object.
  bool in_attribute = write_meta_attribute(fd_, meta);
  if (auto err = sync_and_close(fd_, path_))
    return err;
  auto object_dir = parent_of(object_path);
  if (auto err = make_dirs(object_dir))
    return err;
  if (before_rename)
    if (auto err = before_rename(static_cast<uint64_t>(st.st_ino)))
      return err;
  if (::rename(path_.c_str(), object_path.c_str()) != 0)
    return make_fs_error(errno,
                         "cannot rename " + path_ + " to " + object_path);
  gone_ = true;
  if (auto err = sync_dir(object_dir))
    return err;
  if (in_attribute) {
    // A metadata file of an earlier version of this key (stored before
    // attributes were used) is shadowed by the attribute; tidy it away.
    ::unlink(meta_path.c_str());
    return std::nullopt;
  }
  // The object is in place; metadata problems from here on only cost readers
  // a recomputation, so they are reported but do not fail the upload.
  auto text = to_json(meta);
  auto tmp = path_ + ".meta";
  auto fail = [&](const fs_error& err) {
    meta_warning = err.what + ": " + err.code.message();
    ::unlink(tmp.c_str());
    return std::nullopt;
  };
  if (auto err = write_file_synced(tmp, text, false))
    return fail(*err);
  auto dir = parent_of(meta_path);
  if (auto err = make_dirs(dir))
    return fail(*err);
  if (::rename(tmp.c_str(), meta_path.c_str()) != 0)
    return fail(
      make_fs_error(errno, "cannot rename " + tmp + " to " + meta_path));
  if (auto err = sync_dir(dir))
    return fail(*err);
  return std::nullopt;
}

void upload_file::discard() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  if (!gone_) {
    ::unlink(path_.c_str());
    gone_ = true;
  }
}

} // namespace vf::adapters::objectstore
