// vf/adapters/objectstore/object_meta.cpp

#include "vf/adapters/objectstore/object_meta.hpp"

#include <sys/stat.h>
#include <sys/xattr.h>

#include <nlohmann/json.hpp>

#include <cerrno>
#include <fstream>
#include <iterator>

namespace vf::adapters::objectstore {

std::string to_json(const object_meta& meta) {
  nlohmann::json doc{
    {"bucket", meta.bucket},   {"key", meta.key},
    {"version", meta.version}, {"etag", meta.etag},
    {"size", meta.size},       {"content_type", meta.content_type},
    {"inode", meta.inode},
  };
  if (!meta.sha256.empty())
    doc["sha256"] = meta.sha256;
  // A content type is whatever the client sent and may not be UTF-8;
  // replace bad bytes rather than throw.
  return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::optional<object_meta> object_meta_from_json(const std::string& text) {
  auto doc = nlohmann::json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object())
    return std::nullopt;
  auto str = [&](const char* name, std::string& out) {
    auto i = doc.find(name);
    if (i == doc.end() || !i->is_string())
      return false;
    out = i->get<std::string>();
    return true;
  };
  auto num = [&](const char* name, uint64_t& out) {
    auto i = doc.find(name);
    if (i == doc.end() || !i->is_number_unsigned())
      return false;
    out = i->get<uint64_t>();
    return true;
  };
  object_meta meta;
  if (str("bucket", meta.bucket) && str("key", meta.key)
      && str("version", meta.version) && str("etag", meta.etag)
      && num("size", meta.size) && str("content_type", meta.content_type)
      && num("inode", meta.inode)) {
    // Optional (older files have none); anything but 64 hex digits is
    // ignored rather than trusted.
    std::string sha;
    if (str("sha256", sha) && sha.size() == 64
        && sha.find_first_not_of("0123456789abcdef") == std::string::npos)
      meta.sha256 = std::move(sha);
    return meta;
  }
  return std::nullopt;
}

namespace {

/// Metadata is a few hundred bytes; anything longer is refused, like a
/// metadata file of that size.
constexpr size_t max_meta_bytes = 64 * 1024;

/// Longest metadata written to an attribute: ext4 keeps a file's attributes
/// in one block (4 KiB). Longer metadata (a content type of kilobytes) goes
/// to a file everywhere, rather than on some file systems only.
constexpr size_t max_attribute_bytes = 3 * 1024;

/// Reads an attribute through `get(buf, size)` (getxattr or fgetxattr):
/// most values fit a first small buffer; a longer one is asked for its
/// size and read again. nullopt if absent, unreadable or too long.
template <class Get>
std::optional<std::string> read_attribute(Get get) {
  std::string value(512, '\0');
  auto n = get(value.data(), value.size());
  if (n < 0 && errno == ERANGE) {
    n = get(nullptr, 0);
    if (n < 0 || static_cast<size_t>(n) > max_meta_bytes)
      return std::nullopt;
    value.resize(static_cast<size_t>(n));
    n = get(value.data(), value.size()); // ERANGE again if it grew: absent.
  }
  if (n < 0)
    return std::nullopt;
  value.resize(static_cast<size_t>(n));
  return value;
}

std::optional<object_meta> from_attribute(std::optional<std::string> value,
                                          const struct stat& st) {
  if (!value)
    return std::nullopt;
  auto meta = object_meta_from_json(*value);
  if (meta)
    meta->inode = static_cast<uint64_t>(st.st_ino);
  return meta;
}

} // namespace

bool write_meta_attribute(int fd, const object_meta& meta) {
  auto text = to_json(meta);
  if (text.size() > max_attribute_bytes)
    return false;
  return ::fsetxattr(fd, meta_attribute, text.data(), text.size(), 0) == 0;
}

std::optional<object_meta> find_object_meta(const std::string& object_path,
                                            const std::string& meta_path) {
  struct stat st;
  if (::stat(object_path.c_str(), &st) == 0) {
    auto value = read_attribute([&](char* buf, size_t size) {
      return ::getxattr(object_path.c_str(), meta_attribute, buf, size);
    });
    if (auto meta = from_attribute(std::move(value), st))
      return meta;
  }
  return read_object_meta(meta_path);
}

std::optional<object_meta> find_object_meta(int fd,
                                            const std::string& meta_path) {
  struct stat st;
  if (::fstat(fd, &st) == 0) {
    auto value = read_attribute([&](char* buf, size_t size) {
      return ::fgetxattr(fd, meta_attribute, buf, size);
    });
    if (auto meta = from_attribute(std::move(value), st))
      return meta;
  }
  return read_object_meta(meta_path);
}

std::optional<object_meta> read_object_meta(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return std::nullopt;
  // Metadata files are a few hundred bytes; refuse anything absurd.
  std::string text;
  char buf[4096];
  while (in.read(buf, sizeof(buf)) || in.gcount() > 0) {
    text.append(buf, static_cast<size_t>(in.gcount()));
    if (text.size() > 64 * 1024)
      return std::nullopt;
  }
  return object_meta_from_json(text);
}

} // namespace vf::adapters::objectstore
