// vf/adapters/s3/client.hpp
//
// A small blocking S3 client (libcurl easy API, SigV4 header signing,
// path-style URLs) for fetching uploaded objects from MinIO, S3 or the
// built-in store. Every call blocks for up to its timeout: run it in a
// detached actor or a worker pool, never on CAF's cooperative scheduler.

#pragma once

#include "caf/expected.hpp"

#include "vf/adapters/sigv4/sigv4.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vf::adapters::s3 {

/// How a bucket is named in a request.
enum class addressing : uint8_t {
  /// `<endpoint>/<bucket>/<key>` (MinIO, s3rver, the built-in store).
  path,
  /// `<scheme>://<bucket>.<endpoint host>/<key>` (AWS S3's default).
  virtual_hosted,
};

/// Picks the addressing for `mode` (`path`, `virtual` or `auto`); `auto` is
/// virtual-hosted for `*.amazonaws.com` endpoints when the bucket is a valid
/// DNS label without dots (dots break TLS wildcard certificates), path style
/// otherwise. Nullopt for an unknown mode.
std::optional<addressing> addressing_for(std::string_view mode,
                                         std::string_view endpoint,
                                         std::string_view bucket);

/// The endpoint and bucket a request or presigned URL is built from: with
/// virtual-hosted addressing the bucket moves into the host and the bucket
/// part is empty (as `sigv4::presign_url` and `sigv4::object_path` expect).
struct target {
  std::string endpoint;
  std::string bucket;
};

/// Applies `style` to `endpoint` and `bucket`; the endpoint is returned as
/// is when it cannot be parsed (callers report it as malformed).
target target_of(const std::string& endpoint, const std::string& bucket,
                 addressing style);

/// Supplies signing keys per request when they rotate (temporary
/// credentials from the AWS chain); errors are passed on to the caller.
using key_source = std::function<caf::expected<sigv4::credentials>()>;

/// Where the store is and who we are to it.
struct client_config {
  /// `http(s)://host[:port]`; requests go to `<endpoint>/<bucket>/<key>`
  /// (path style) or `<scheme>://<bucket>.<host>/<key>`.
  std::string endpoint;
  /// Region of the credential scope (MinIO and s3rver accept `us-east-1`).
  std::string region = "us-east-1";
  /// Access key, secret and optional session token.
  sigv4::credentials creds;
  /// When set, asked for keys before every request instead of `creds`.
  key_source keys;
  addressing style = addressing::path;
  /// Files larger than this are uploaded in parts (multipart upload); 0
  /// never. S3 takes at most 5 GiB in one PUT.
  uint64_t multipart_threshold = uint64_t{64} << 20;
  /// Size of each part but the last (at least 5 MiB, S3's minimum; grown
  /// when a file would need more than 10,000 parts).
  uint64_t part_size = uint64_t{16} << 20;
};

/// The keys a request of `cfg` is signed with.
caf::expected<sigv4::credentials> keys_of(const client_config& cfg);

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
/// timeout, any transport failure, no keys from `cfg.keys` now; the
/// message says what failed),
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

/// Uploads the file `src_path` as `bucket`/`key`: one PUT (unsigned
/// payload) up to `cfg.multipart_threshold`, a multipart upload above it
/// (each part retried on transient errors; the upload is aborted when a
/// part or the completion fails, so no orphaned parts are billed). Errors
/// as for `head_object`; an unreadable source file is `invalid_argument`;
/// `timeout_ms` bounds each request.
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

/// Deletes `bucket`/`key`; `true` whether or not it existed (S3 answers
/// 204 either way). Errors as for `head_object` (403 is `forbidden`: the
/// keys lack `s3:DeleteObject`).
caf::expected<bool> delete_object(const client_config& cfg,
                                  std::string_view bucket, std::string_view key,
                                  int64_t timeout_ms);

/// Up to `limit` keys of `bucket` that start with `prefix` (ListObjectsV2,
/// following continuation tokens), in the server's order.
caf::expected<std::vector<std::string>>
list_keys(const client_config& cfg, std::string_view bucket,
          std::string_view prefix, int64_t timeout_ms, size_t limit);

/// CreateMultipartUpload of `bucket`/`key`: the new upload's id. For
/// clients that send the parts themselves (by presigned URLs); errors as
/// for `head_object`.
caf::expected<std::string>
create_multipart_upload(const client_config& cfg, std::string_view bucket,
                        std::string_view key, const std::string& content_type,
                        int64_t timeout_ms);

/// CompleteMultipartUpload with `parts` (number, ETag), or, when it is
/// empty, with every part ListParts finds, in order: the object's ETag
/// (unquoted) and size (0 when the parts were given). A part list the
/// server refuses (too small a part, no parts) is `invalid_argument`, an
/// unknown upload `not_found`.
caf::expected<object_info> complete_multipart_upload(
  const client_config& cfg, std::string_view bucket, std::string_view key,
  const std::string& upload_id,
  const std::vector<std::pair<uint32_t, std::string>>& parts,
  int64_t timeout_ms);

/// AbortMultipartUpload: `true`; `not_found` for an unknown upload.
caf::expected<bool>
abort_multipart_upload(const client_config& cfg, std::string_view bucket,
                       std::string_view key, const std::string& upload_id,
                       int64_t timeout_ms);

/// Deletes every object under the folder `prefix` (which must end in `/`
/// and not start with it: a job's `outputs/<id>/`, never the bucket) by
/// listing and deleting in rounds until the listing is empty; returns how
/// many objects went. `timeout_ms` bounds each request. Errors as for
/// `delete_object`; `invalid_argument` for a prefix that is not a folder
/// (nothing is sent).
caf::expected<uint64_t> delete_prefix(const client_config& cfg,
                                      std::string_view bucket,
                                      std::string_view prefix,
                                      int64_t timeout_ms);

} // namespace vf::adapters::s3
