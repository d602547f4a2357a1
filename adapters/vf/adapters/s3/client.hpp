// vf/adapters/s3/client.hpp
//
// A small blocking S3 client (libcurl easy API, SigV4 header signing,
// path-style URLs) for fetching uploaded objects from MinIO, S3 or the
// built-in store. Every call blocks for up to its timeout: run it in a
// detached actor or a worker pool, never on CAF's cooperative scheduler.

#pragma once

#include "vf/adapters/sigv4/sigv4.hpp"

#include "caf/expected.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace vf::adapters::s3 {

/// Where the store is and who we are to it.
struct client_config {
  /// `http(s)://host[:port]`; requests go to `<endpoint>/<bucket>/<key>`.
  std::string endpoint;
  /// Region of the credential scope (MinIO and s3rver accept `us-east-1`).
  std::string region = "us-east-1";
  /// Access key, secret and optional session token.
  sigv4::credentials creds;
};

/// What the store said about an object.
struct object_info {
  /// Size in bytes (`Content-Length` of HEAD, bytes written by GET, file size
  /// by PUT).
  uint64_t size = 0;
  /// ETag without the surrounding quotes; empty if the store sent none.
  std::string etag;
  /// `Content-Type` as the store reports it; empty for PUT.
  std::string content_type;
  /// `Last-Modified` as sent (RFC 7231 date); empty for PUT.
  std::string last_modified;
};

/// Fetches the metadata of `bucket`/`key` without its body.
///
/// Errors (`vf::messages::errc`): `not_found` (404), `forbidden` (403),
/// `unauthorized` (401), `storage_unavailable` (5xx, connection refused,
/// timeout, any transport failure; the message says what failed),
/// `invalid_argument` (bad endpoint, empty bucket or key, timeout <= 0,
/// other 4xx), `internal` (local failures, unexpected statuses).
caf::expected<object_info> head_object(const client_config& cfg,
                                       std::string_view bucket,
                                       std::string_view key,
                                       int64_t timeout_ms);

/// Downloads `bucket`/`key` into `dest_path`: written to a temporary file
/// next to it and renamed into place only after a complete, successful
/// transfer, so `dest_path` never holds a partial object. Errors as for
/// `head_object`; local file errors are `internal`.
caf::expected<object_info> get_object_to_file(const client_config& cfg,
                                              std::string_view bucket,
                                              std::string_view key,
                                              const std::string& dest_path,
                                              int64_t timeout_ms);

/// Downloads the object behind a presigned GET `url` (from the built-in
/// store, MinIO or S3) into `dest_path`, like `get_object_to_file`; needs no
/// credentials. Error messages never show the URL's query (its signature).
caf::expected<object_info> get_url_to_file(const std::string& url,
                                           const std::string& dest_path,
                                           int64_t timeout_ms);

/// Uploads the file `src_path` as `bucket`/`key` (single PUT, unsigned
/// payload). For tests and tools. Errors as for `head_object`; an unreadable
/// source file is `invalid_argument`.
caf::expected<object_info> put_object_from_file(
  const client_config& cfg, std::string_view bucket, std::string_view key,
  const std::string& src_path, int64_t timeout_ms,
  std::string_view content_type = "application/octet-stream");

/// Uploads the file `src_path` by a presigned PUT `url` (a render's output
/// on a worker node, which holds no credentials); `content_type` goes along
/// unsigned. Errors as for `put_object_from_file`; messages never show the
/// URL's query (its signature).
caf::expected<object_info> put_file_to_url(
  const std::string& url, const std::string& src_path, int64_t timeout_ms,
  std::string_view content_type = "application/octet-stream");

} // namespace vf::adapters::s3
