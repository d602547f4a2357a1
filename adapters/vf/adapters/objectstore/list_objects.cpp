// vf/adapters/objectstore/list_objects.cpp

#include "vf/adapters/objectstore/list_objects.hpp"

#include <sys/stat.h>

#include "vf/adapters/common/hex.hpp"
#include "vf/adapters/objectstore/object_meta.hpp"
#include "vf/adapters/objectstore/object_paths.hpp"
#include "vf/adapters/sigv4/sigv4.hpp"

#include <algorithm>
#include <charconv>
#include <ctime>
#include <filesystem>

namespace vf::adapters::objectstore {

namespace {

namespace fs = std::filesystem;
namespace http = boost::beast::http;

s3_error invalid(std::string message) {
  return s3_error{http::status::bad_request, "InvalidArgument",
                  std::move(message)};
}

// The continuation token: "k" and the hex of the last key or common prefix
// of the page. Opaque to clients; anything else is refused.
std::string token_of(const std::string& key) {
  std::string out = "k";
  common::append_hex(out, reinterpret_cast<const uint8_t*>(key.data()),
                     key.size());
  return out;
}

std::optional<std::string> key_of_token(std::string_view token) {
  if (token.size() < 1 || token.front() != 'k' || token.size() % 2 != 1
      || token.size() > 1 + 2 * max_key_bytes)
    return std::nullopt;
  std::string out;
  for (size_t i = 1; i < token.size(); i += 2) {
    unsigned value = 0;
    auto [end, ec]
      = std::from_chars(token.data() + i, token.data() + i + 2, value, 16);
    if (ec != std::errc{} || end != token.data() + i + 2)
      return std::nullopt;
    out.push_back(static_cast<char>(value));
  }
  return out;
}

std::string iso8601(int64_t unix_seconds) {
  auto t = static_cast<time_t>(unix_seconds);
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
  return buf;
}

} // namespace

std::string_view next_query_part(std::string_view& query) {
  auto amp = query.find('&');
  auto part = query.substr(0, amp);
  query = amp == std::string_view::npos ? std::string_view{}
                                        : query.substr(amp + 1);
  return part;
}

std::optional<s3_error> parse_list_request(std::string_view query,
                                           list_request& out) {
  bool v2 = false;
  while (!query.empty()) {
    auto part = next_query_part(query);
    auto eq = part.find('=');
    auto name = sigv4::uri_decode(part.substr(0, eq), true);
    auto value = sigv4::uri_decode(
      eq == std::string_view::npos ? std::string_view{} : part.substr(eq + 1),
      true);
    if (!name || !value)
      return invalid("Malformed percent-encoding in the query");
    if (*name == "list-type") {
      if (*value != "2")
        return s3_error{http::status::not_implemented, "NotImplemented",
                        "Only ListObjectsV2 (list-type=2) is supported by "
                        "the built-in store"};
      v2 = true;
    } else if (*name == "prefix") {
      out.prefix = std::move(*value);
    } else if (*name == "delimiter") {
      out.delimiter = std::move(*value);
    } else if (*name == "start-after") {
      out.start_after = std::move(*value);
    } else if (*name == "continuation-token") {
      auto key = key_of_token(*value);
      if (!key)
        return invalid("The continuation token provided is incorrect");
      out.continuation_token = std::move(*value);
      out.after_token = std::move(*key);
    } else if (*name == "max-keys") {
      uint64_t n = 0;
      auto [end, ec]
        = std::from_chars(value->data(), value->data() + value->size(), n);
      if (value->empty() || ec != std::errc{}
          || end != value->data() + value->size())
        return invalid("Provided max-keys not an integer or within integer "
                       "range");
      out.max_keys
        = static_cast<uint32_t>(std::min<uint64_t>(n, max_list_keys));
    } else if (*name == "encoding-type") {
      if (*value != "url")
        return invalid("Invalid Encoding Method specified in Request");
      out.url_encoding = true;
    }
    // Others (fetch-owner, x-id, ...) change nothing here.
  }
  if (!v2)
    return s3_error{http::status::not_implemented, "NotImplemented",
                    "Only ListObjectsV2 (list-type=2) is supported by the "
                    "built-in store"};
  if (out.prefix.size() > max_key_bytes
      || out.start_after.size() > max_key_bytes
      || out.delimiter.size() > max_key_bytes)
    return invalid("prefix, delimiter and start-after are at most "
                   + std::to_string(max_key_bytes) + " bytes");
  return std::nullopt;
}

list_page list_bucket(const std::string& data_dir, const std::string& bucket,
                      const list_request& req) {
  list_page page;
  auto root = fs::path{objects_dir(data_dir)} / bucket;
  // Start in the deepest folder the prefix names, if it is a real folder
  // name (a prefix is user input: nothing like ".." ever becomes a path).
  auto start = root;
  if (auto slash = req.prefix.rfind('/'); slash != std::string::npos) {
    auto dir = req.prefix.substr(0, slash);
    if (!check_key(dir))
      start = root / dir;
  }
  std::vector<std::string> keys;
  std::error_code ec;
  if (fs::is_directory(start, ec)) {
    for (fs::recursive_directory_iterator
           i{start, fs::directory_options::skip_permission_denied, ec},
         end;
         !ec && i != end; i.increment(ec)) {
      if (!i->is_regular_file(ec))
        continue;
      auto key = i->path().lexically_relative(root).generic_string();
      if (key.compare(0, req.prefix.size(), req.prefix) == 0)
        keys.push_back(std::move(key));
    }
  }
  std::sort(keys.begin(), keys.end());
  auto after = std::max(req.start_after, req.after_token);
  uint32_t taken = 0;
  std::string last;
  for (auto& key : keys) {
    if (key <= after)
      continue;
    std::string common;
    if (!req.delimiter.empty()) {
      auto pos = key.find(req.delimiter, req.prefix.size());
      if (pos != std::string::npos) {
        common = key.substr(0, pos + req.delimiter.size());
        if (common <= after || common == last)
          continue; // Listed on this or an earlier page.
      }
    }
    if (taken == req.max_keys) {
      // One more entry exists: the page is truncated.
      if (taken > 0)
        page.next_token = token_of(last);
      break;
    }
    ++taken;
    if (!common.empty()) {
      page.common_prefixes.push_back(common);
      last = std::move(common);
      continue;
    }
    listed_object x;
    x.key = key;
    struct stat st;
    auto path = object_file(data_dir, bucket, key);
    if (::stat(path.c_str(), &st) == 0) {
      x.size = static_cast<uint64_t>(st.st_size);
      x.mtime = static_cast<int64_t>(st.st_mtime);
    }
    if (auto meta = find_object_meta(path, meta_file(data_dir, bucket, key));
        meta && meta->size == x.size)
      x.etag = meta->etag;
    page.objects.push_back(std::move(x));
    last = key;
  }
  return page;
}

std::string list_xml(const std::string& bucket, const list_request& req,
                     const list_page& page) {
  auto enc = [&req](const std::string& x) {
    return xml_escape(req.url_encoding ? sigv4::uri_encode(x, false) : x);
  };
  std::string out
    = R"(<?xml version="1.0" encoding="UTF-8"?>)"
      "\n"
      R"(<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">)";
  auto element = [&out](const char* name, const std::string& value) {
    out += '<';
    out += name;
    out += '>';
    out += value;
    out += "</";
    out += name;
    out += '>';
  };
  element("Name", xml_escape(bucket));
  element("Prefix", enc(req.prefix));
  if (!req.delimiter.empty())
    element("Delimiter", enc(req.delimiter));
  element("MaxKeys", std::to_string(req.max_keys));
  element("KeyCount",
          std::to_string(page.objects.size() + page.common_prefixes.size()));
  element("IsTruncated", page.next_token.empty() ? "false" : "true");
  if (!req.continuation_token.empty())
    element("ContinuationToken", xml_escape(req.continuation_token));
  if (!page.next_token.empty())
    element("NextContinuationToken", page.next_token);
  if (!req.start_after.empty())
    element("StartAfter", enc(req.start_after));
  if (req.url_encoding)
    element("EncodingType", "url");
  for (auto& x : page.objects) {
    out += "<Contents>";
    element("Key", enc(x.key));
    element("LastModified", iso8601(x.mtime));
    if (!x.etag.empty())
      element("ETag", "&quot;" + x.etag + "&quot;");
    element("Size", std::to_string(x.size));
    element("StorageClass", "STANDARD");
    out += "</Contents>";
  }
  for (auto& p : page.common_prefixes) {
    out += "<CommonPrefixes>";
    element("Prefix", enc(p));
    out += "</CommonPrefixes>";
  }
  out += "</ListBucketResult>";
  return out;
}

} // namespace vf::adapters::objectstore
