// vf/adapters/objectstore/list_objects.hpp
//
// ListObjectsV2 (`GET /<bucket>?list-type=2`) over the store's files: the
// query as S3 defines it (prefix, delimiter, max-keys, continuation-token,
// start-after, encoding-type=url) and the XML answer, keys in S3's order
// (binary UTF-8). Pure functions of the query and the object tree, so they
// are tested without a server.

#pragma once

#include "vf/adapters/objectstore/s3_error.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vf::adapters::objectstore {

/// Most keys one ListObjectsV2 page holds (S3's limit; more is capped).
constexpr uint32_t max_list_keys = 1000;

/// What a ListObjectsV2 request asks for.
struct list_request {
  std::string prefix;
  std::string delimiter;
  std::string start_after;
  /// As sent (echoed back); `after_token` is the key it stands for.
  std::string continuation_token;
  std::string after_token;
  uint32_t max_keys = max_list_keys;
  /// `encoding-type=url`: keys and prefixes percent-encoded in the answer.
  bool url_encoding = false;
};

/// Takes the next `name=value` part off the front of a query string.
std::string_view next_query_part(std::string_view& query);

/// Parses the query string of a ListObjectsV2 request (`list-type=2`
/// included); an `InvalidArgument` error names a bad parameter.
std::optional<s3_error> parse_list_request(std::string_view query,
                                           list_request& out);

/// One object as listed.
struct listed_object {
  std::string key;
  uint64_t size = 0;
  /// Unix seconds of the last change.
  int64_t mtime = 0;
  /// Hex MD5 without quotes; empty when its metadata is unreadable.
  std::string etag;
};

/// One page: objects and common prefixes in key order, and the token of
/// the next page (empty when this is the last).
struct list_page {
  std::vector<listed_object> objects;
  std::vector<std::string> common_prefixes;
  std::string next_token;
};

/// Lists the objects of `bucket` under `data_dir` as `req` asks. Reads the
/// bucket's tree (only below the deepest folder the prefix names) and the
/// metadata of the listed objects.
list_page list_bucket(const std::string& data_dir, const std::string& bucket,
                      const list_request& req);

/// The `ListBucketResult` XML of `page`.
std::string list_xml(const std::string& bucket, const list_request& req,
                     const list_page& page);

} // namespace vf::adapters::objectstore
