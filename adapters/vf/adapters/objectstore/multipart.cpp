// vf/adapters/objectstore/multipart.cpp

#include "vf/adapters/objectstore/multipart.hpp"

#include "vf/adapters/objectstore/md5_hasher.hpp"
#include "vf/adapters/objectstore/object_meta.hpp"
#include "vf/adapters/objectstore/object_paths.hpp"

#include <nlohmann/json.hpp>
#include <openssl/rand.h>
#include <sys/stat.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace vf::adapters::objectstore {

namespace fs = std::filesystem;
namespace http = boost::beast::http;

namespace {

constexpr const char* record_name = "upload";

std::string upload_dir(const std::string& data_dir, const std::string& id) {
  return multipart_dir(data_dir) + "/" + id;
}

std::string iso8601_ms(int64_t ms) {
  auto t = static_cast<time_t>(ms / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[40];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf,
                static_cast<int>(ms % 1000));
  return out;
}

int64_t mtime_ms(const fs::path& p) {
  std::error_code ec;
  auto t = fs::last_write_time(p, ec);
  if (ec)
    return 0;
  // file_time_type's clock is not the system clock in C++17: convert.
  auto now_file = fs::file_time_type::clock::now();
  auto now_sys = std::chrono::system_clock::now();
  auto sys = now_sys + std::chrono::duration_cast<
                         std::chrono::system_clock::duration>(t - now_file);
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           sys.time_since_epoch())
    .count();
}

/// The text between `<tag>` and `</tag>` starting at `pos`, moving `pos`
/// past it; nullopt if there is none.
std::optional<std::string_view> element(std::string_view xml,
                                        std::string_view tag, size_t& pos) {
  auto open = "<" + std::string{tag} + ">";
  auto close = "</" + std::string{tag} + ">";
  auto b = xml.find(open, pos);
  if (b == std::string_view::npos)
    return std::nullopt;
  b += open.size();
  auto e = xml.find(close, b);
  if (e == std::string_view::npos)
    return std::nullopt;
  pos = e + close.size();
  return xml.substr(b, e - b);
}

std::string unquote(std::string_view x) {
  // ETags come quoted, and in XML the quotes may be escaped.
  std::string s{x};
  for (auto q : {std::string{"&quot;"}, std::string{"&#34;"}}) {
    size_t at;
    while ((at = s.find(q)) != std::string::npos)
      s.replace(at, q.size(), "\"");
  }
  auto b = s.find_first_not_of(" \t\r\n\"");
  auto e = s.find_last_not_of(" \t\r\n\"");
  return b == std::string::npos ? std::string{} : s.substr(b, e - b + 1);
}

s3_error malformed(std::string why) {
  return {http::status::bad_request, "MalformedXML",
          "The XML you provided was not well-formed or did not validate "
          "against our published schema: "
            + std::move(why)};
}

} // namespace

std::string multipart_dir(const std::string& data_dir) {
  return objects_dir(data_dir) + "/.multipart";
}

bool is_valid_upload_id(std::string_view id) {
  return id.size() == 32
         && id.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

std::string new_upload_id() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1)
    throw std::runtime_error("the OS random generator failed");
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (auto b : bytes) {
    out += digits[b >> 4];
    out += digits[b & 0xf];
  }
  return out;
}

std::optional<fs_error> create_upload(const std::string& data_dir,
                                      const std::string& id,
                                      const multipart_upload& up) {
  auto dir = upload_dir(data_dir, id);
  if (auto err = make_dirs(dir))
    return err;
  nlohmann::json doc{{"bucket", up.bucket},
                     {"key", up.key},
                     {"content_type", up.content_type},
                     {"created_ms", up.created_ms}};
  if (auto err = write_file_synced(dir + "/" + record_name,
                                   doc.dump(-1, ' ', false,
                                            nlohmann::json::error_handler_t::
                                              replace),
                                   true))
    return err;
  return sync_dir(dir);
}

std::optional<multipart_upload> read_upload(const std::string& data_dir,
                                            const std::string& id) {
  if (!is_valid_upload_id(id))
    return std::nullopt;
  std::ifstream in{upload_dir(data_dir, id) + "/" + record_name};
  if (!in)
    return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  auto doc = nlohmann::json::parse(text.str(), nullptr, false);
  if (!doc.is_object())
    return std::nullopt;
  multipart_upload up;
  up.bucket = doc.value("bucket", std::string{});
  up.key = doc.value("key", std::string{});
  up.content_type = doc.value("content_type", std::string{});
  up.created_ms = doc.value("created_ms", int64_t{0});
  if (up.bucket.empty() || up.key.empty())
    return std::nullopt;
  return up;
}

std::string part_file(const std::string& data_dir, const std::string& id,
                      uint32_t n) {
  return upload_dir(data_dir, id) + "/" + std::to_string(n);
}

std::string part_meta_file(const std::string& data_dir, const std::string& id,
                           uint32_t n) {
  return upload_dir(data_dir, id) + "/" + std::to_string(n) + ".meta";
}

std::vector<part_info> list_parts(const std::string& data_dir,
                                  const std::string& id) {
  std::vector<part_info> out;
  std::error_code ec;
  for (fs::directory_iterator it{upload_dir(data_dir, id), ec}, end;
       !ec && it != end; it.increment(ec)) {
    auto name = it->path().filename().string();
    uint32_t n = 0;
    auto [p, perr] = std::from_chars(name.data(), name.data() + name.size(),
                                     n);
    if (perr != std::errc{} || p != name.data() + name.size() || n == 0
        || n > max_part_number)
      continue;
    // Only a part whose metadata describes this very file counts (a crash
    // between the two leaves one that does not).
    auto meta = find_object_meta(it->path().string(),
                                 part_meta_file(data_dir, id, n));
    struct stat st {};
    if (!meta || ::stat(it->path().c_str(), &st) != 0
        || meta->inode != static_cast<uint64_t>(st.st_ino)
        || meta->size != static_cast<uint64_t>(st.st_size))
      continue;
    out.push_back({n, meta->etag, meta->size, mtime_ms(it->path())});
  }
  std::sort(out.begin(), out.end(),
            [](auto& x, auto& y) { return x.number < y.number; });
  return out;
}

void remove_upload(const std::string& data_dir, const std::string& id) {
  if (!is_valid_upload_id(id))
    return;
  std::error_code ec;
  fs::remove_all(upload_dir(data_dir, id), ec);
}

size_t expire_uploads(const std::string& data_dir, int64_t before_ms) {
  size_t n = 0;
  std::error_code ec;
  std::vector<std::string> old;
  for (fs::directory_iterator it{multipart_dir(data_dir), ec}, end;
       !ec && it != end; it.increment(ec)) {
    auto id = it->path().filename().string();
    if (!is_valid_upload_id(id))
      continue;
    auto up = read_upload(data_dir, id);
    auto started = up ? up->created_ms : mtime_ms(it->path());
    if (started < before_ms)
      old.push_back(id);
  }
  for (auto& id : old) {
    remove_upload(data_dir, id);
    ++n;
  }
  return n;
}

std::optional<s3_error>
parse_complete_body(std::string_view xml,
                    std::vector<std::pair<uint32_t, std::string>>& parts) {
  parts.clear();
  size_t pos = 0;
  auto root = element(xml, "CompleteMultipartUpload", pos);
  if (!root) {
    // The root may carry an xmlns attribute.
    auto b = xml.find("<CompleteMultipartUpload");
    auto e = xml.rfind("</CompleteMultipartUpload>");
    if (b == std::string_view::npos || e == std::string_view::npos || e < b)
      return malformed("no CompleteMultipartUpload element");
    auto gt = xml.find('>', b);
    if (gt == std::string_view::npos || gt > e)
      return malformed("no CompleteMultipartUpload element");
    root = xml.substr(gt + 1, e - gt - 1);
  }
  size_t at = 0;
  while (auto part = element(*root, "Part", at)) {
    size_t p = 0;
    auto number = element(*part, "PartNumber", p);
    p = 0;
    auto etag = element(*part, "ETag", p);
    if (!number || !etag)
      return malformed("a Part without PartNumber or ETag");
    auto text = unquote(*number);
    uint32_t n = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(),
                                     n);
    if (ec != std::errc{} || end != text.data() + text.size() || n == 0
        || n > max_part_number)
      return {{http::status::bad_request, "InvalidArgument",
               "Part number must be an integer between 1 and 10000"}};
    parts.emplace_back(n, unquote(*etag));
    if (parts.size() > max_part_number)
      return malformed("more than 10000 parts");
  }
  if (parts.empty())
    return malformed("no Part");
  return std::nullopt;
}

std::optional<s3_error>
check_complete(const std::vector<std::pair<uint32_t, std::string>>& asked,
               const std::vector<part_info>& stored, uint64_t min_part,
               std::vector<part_info>& chosen) {
  chosen.clear();
  for (size_t i = 0; i < asked.size(); ++i) {
    if (i > 0 && asked[i].first <= asked[i - 1].first)
      return s3_error{http::status::bad_request, "InvalidPartOrder",
                      "The list of parts was not in ascending order; the "
                      "parts list must be specified in order by part "
                      "number"};
    auto it = std::find_if(stored.begin(), stored.end(), [&](auto& p) {
      return p.number == asked[i].first;
    });
    if (it == stored.end() || it->etag != asked[i].second)
      return s3_error{http::status::bad_request, "InvalidPart",
                      "Part " + std::to_string(asked[i].first)
                        + " could not be found, or its ETag does not match "
                          "the one uploaded"};
    chosen.push_back(*it);
  }
  for (size_t i = 0; i + 1 < chosen.size(); ++i)
    if (chosen[i].size < min_part)
      return s3_error{http::status::bad_request, "EntityTooSmall",
                      "Your proposed upload is smaller than the minimum "
                      "allowed size: part "
                        + std::to_string(chosen[i].number) + " has "
                        + std::to_string(chosen[i].size)
                        + " bytes; every part but the last needs "
                        + std::to_string(min_part)};
  return std::nullopt;
}

std::string multipart_etag(const std::vector<part_info>& parts) {
  std::string binary;
  for (auto& p : parts)
    for (size_t i = 0; i + 1 < p.etag.size(); i += 2)
      binary += static_cast<char>(std::stoi(p.etag.substr(i, 2), nullptr, 16));
  return md5_hex(binary) + "-" + std::to_string(parts.size());
}

std::string initiate_xml(const std::string& bucket, const std::string& key,
                         const std::string& id) {
  return R"(<?xml version="1.0" encoding="UTF-8"?>)"
         "\n<InitiateMultipartUploadResult "
         R"(xmlns="http://s3.amazonaws.com/doc/2006-03-01/">)"
         "<Bucket>"
         + xml_escape(bucket) + "</Bucket><Key>" + xml_escape(key)
         + "</Key><UploadId>" + id
         + "</UploadId></InitiateMultipartUploadResult>";
}

std::string list_parts_xml(const std::string& bucket, const std::string& key,
                           const std::string& id,
                           const std::vector<part_info>& parts,
                           uint32_t marker, uint32_t max_parts) {
  std::string body;
  uint32_t shown = 0;
  uint32_t last = 0;
  bool truncated = false;
  for (auto& p : parts) {
    if (p.number <= marker)
      continue;
    if (shown == max_parts) {
      truncated = true;
      break;
    }
    body += "<Part><PartNumber>" + std::to_string(p.number)
            + "</PartNumber><LastModified>" + iso8601_ms(p.modified_ms)
            + "</LastModified><ETag>&quot;" + p.etag
            + "&quot;</ETag><Size>" + std::to_string(p.size)
            + "</Size></Part>";
    last = p.number;
    ++shown;
  }
  return R"(<?xml version="1.0" encoding="UTF-8"?>)"
         "\n<ListPartsResult "
         R"(xmlns="http://s3.amazonaws.com/doc/2006-03-01/">)"
         "<Bucket>"
         + xml_escape(bucket) + "</Bucket><Key>" + xml_escape(key)
         + "</Key><UploadId>" + id + "</UploadId><PartNumberMarker>"
         + std::to_string(marker) + "</PartNumberMarker>"
         + (truncated ? "<NextPartNumberMarker>" + std::to_string(last)
                          + "</NextPartNumberMarker>"
                      : std::string{})
         + "<MaxParts>" + std::to_string(max_parts) + "</MaxParts>"
         + "<IsTruncated>" + (truncated ? "true" : "false")
         + "</IsTruncated><StorageClass>STANDARD</StorageClass>" + body
         + "</ListPartsResult>";
}

std::string complete_xml(const std::string& location,
                         const std::string& bucket, const std::string& key,
                         const std::string& etag) {
  return R"(<?xml version="1.0" encoding="UTF-8"?>)"
         "\n<CompleteMultipartUploadResult "
         R"(xmlns="http://s3.amazonaws.com/doc/2006-03-01/">)"
         "<Location>"
         + xml_escape(location) + "</Location><Bucket>" + xml_escape(bucket)
         + "</Bucket><Key>" + xml_escape(key) + "</Key><ETag>&quot;" + etag
         + "&quot;</ETag></CompleteMultipartUploadResult>";
}

} // namespace vf::adapters::objectstore
