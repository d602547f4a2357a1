// vf/adapters/objectstore/object_meta.cpp

#include "vf/adapters/objectstore/object_meta.hpp"

#include <nlohmann/json.hpp>

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
