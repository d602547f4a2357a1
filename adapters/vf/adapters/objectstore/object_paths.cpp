// vf/adapters/objectstore/object_paths.cpp

#include "vf/adapters/objectstore/object_paths.hpp"

#include <cstdint>

namespace vf::adapters::objectstore {

namespace {

bool is_lower_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

// Returns the length of the UTF-8 sequence starting at `str[i]`, or 0 if it
// is malformed (overlong forms, surrogates and code points past U+10FFFF
// included): keys end up in JSON documents and events, which need UTF-8.
size_t utf8_sequence_length(std::string_view str, size_t i) {
  auto byte = [&](size_t j) {
    return static_cast<unsigned char>(str[j]);
  };
  auto c = byte(i);
  if (c < 0x80)
    return 1;
  size_t len = 0;
  uint32_t cp = 0;
  if ((c & 0xE0) == 0xC0) {
    len = 2;
    cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3;
    cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + len > str.size())
    return 0;
  for (size_t j = 1; j < len; ++j) {
    auto cc = byte(i + j);
    if ((cc & 0xC0) != 0x80)
      return 0;
    cp = (cp << 6) | (cc & 0x3F);
  }
  static constexpr uint32_t min_for_len[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < min_for_len[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  return len;
}

} // namespace

bool is_valid_bucket_name(std::string_view name) {
  if (name.size() < 3 || name.size() > 63)
    return false;
  if (!is_lower_alnum(name.front()) || !is_lower_alnum(name.back()))
    return false;
  for (auto c : name)
    if (!is_lower_alnum(c) && c != '.' && c != '-')
      return false;
  return name.find("..") == std::string_view::npos;
}

std::optional<std::string> check_key(std::string_view key) {
  if (key.empty())
    return "the object key is empty";
  if (key.size() > max_key_bytes)
    return "the object key is longer than " + std::to_string(max_key_bytes)
           + " bytes";
  for (size_t i = 0; i < key.size();) {
    auto c = static_cast<unsigned char>(key[i]);
    if (c < 0x20 || c == 0x7F)
      return "the object key contains a control character";
    auto len = utf8_sequence_length(key, i);
    if (len == 0)
      return "the object key is not valid UTF-8";
    i += len;
  }
  size_t pos = 0;
  for (;;) {
    auto slash = key.find('/', pos);
    auto segment
      = key.substr(pos, slash == std::string_view::npos ? std::string_view::npos
                                                        : slash - pos);
    // Each segment becomes a directory or file name: empty, `.` and `..`
    // segments would alias other keys or escape the bucket folder.
    if (segment.empty())
      return "the object key has an empty path segment (leading, trailing "
             "or double '/')";
    if (segment == "." || segment == "..")
      return "the object key has a '.' or '..' path segment";
    if (segment.size() > max_segment_bytes)
      return "a path segment of the object key is longer than "
             + std::to_string(max_segment_bytes) + " bytes";
    if (slash == std::string_view::npos)
      return std::nullopt;
    pos = slash + 1;
  }
}

std::string objects_dir(const std::string& data_dir) {
  return data_dir + "/objects";
}

std::string partial_dir(const std::string& data_dir) {
  return objects_dir(data_dir) + "/.partial";
}

std::string meta_dir(const std::string& data_dir) {
  return objects_dir(data_dir) + "/.meta";
}

std::string object_file(const std::string& data_dir, std::string_view bucket,
                        std::string_view key) {
  auto result = objects_dir(data_dir);
  result += '/';
  result += bucket;
  result += '/';
  result += key;
  return result;
}

std::string meta_file(const std::string& data_dir, std::string_view bucket,
                      std::string_view key) {
  auto result = meta_dir(data_dir);
  result += '/';
  result += bucket;
  result += '/';
  result += key;
  return result;
}

} // namespace vf::adapters::objectstore
