// vf/adapters/sigv4/sigv4.hpp
//
// AWS Signature Version 4: header signing, presigned (query) URLs and their
// verification. A small common library (OpenSSL only, no I/O) shared by the
// built-in object store (verifies), the S3 client (signs GETs) and the HTTP
// adapter (presigns PUT URLs for clients).

#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vf::adapters::sigv4 {

/// Ordered name/value pairs (query parameters or headers), as received.
using pairs = std::vector<std::pair<std::string, std::string>>;

/// An access key pair.
struct credentials {
  std::string access_key;
  std::string secret_key;
  /// Optional STS session token (`X-Amz-Security-Token`).
  std::string session_token;
};

/// A request to sign, in the shape the AWS test suite describes it.
struct request {
  std::string method;
  /// Path as it appears on the wire (already percent-encoded), e.g. `/a%20b`.
  std::string path;
  /// Query parameters, decoded.
  pairs query;
  /// Headers as received (names in any case, values untrimmed).
  pairs headers;
  /// Hex SHA-256 of the body, or `UNSIGNED-PAYLOAD`.
  std::string payload_hash;
};

/// Signing parameters besides the request.
struct scope {
  std::string region = "us-east-1";
  std::string service = "s3";
  /// Request time, `YYYYMMDD'T'HHMMSS'Z'`.
  std::string amz_date;
  /// Whether to normalize the path (RFC 3986 dot-segment removal and
  /// slash collapsing). True for every service except S3.
  bool normalize_path = false;
};

/// Percent-encodes per SigV4: unreserved kept, everything else `%XX`
/// upper-case; `/` kept unless `encode_slash`.
std::string uri_encode(std::string_view str, bool encode_slash);

/// Decodes `%XX` escapes (and `+` as space when `plus_is_space`); returns
/// nullopt on a malformed escape.
std::optional<std::string> uri_decode(std::string_view str,
                                      bool plus_is_space = false);

/// Lower-case hex SHA-256 of `data`.
std::string sha256_hex(std::string_view data);

/// Raw HMAC-SHA256 of `data` under `key`.
std::string hmac_sha256(std::string_view key, std::string_view data);

/// Formats Unix seconds as `YYYYMMDD'T'HHMMSS'Z'`.
std::string format_amz_date(int64_t unix_seconds);

/// Parses `YYYYMMDD'T'HHMMSS'Z'` into Unix seconds; nullopt if malformed.
std::optional<int64_t> parse_amz_date(std::string_view str);

/// The canonical request for `req`, signing the headers in `signed_headers`
/// (lower-case names, `;`-separated, sorted). The canonical URI follows the
/// service: for `s3` the wire path is decoded and encoded once (no
/// normalization); for other services the (optionally normalized) wire path
/// is encoded once more, as AWS's generic rule ("double encoding") says.
/// A signed header that is absent canonicalizes to `name:`; values of
/// repeated headers are joined by `,` in order; values are trimmed and runs
/// of whitespace (including folded lines) become one space.
std::string canonical_request(const request& req,
                              std::string_view signed_headers,
                              const scope& sc);

/// The string to sign for a canonical request.
std::string string_to_sign(std::string_view canonical, const scope& sc);

/// Hex signature of a string to sign.
std::string signature(std::string_view secret_key,
                      std::string_view string_to_sign, const scope& sc);

/// What the chunks of an `aws-chunked` body (payload hash
/// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`) are signed with: the request's
/// scope and secret, and the signature of the chunk before (the request's
/// own signature, the "seed", for the first).
struct chunk_signing {
  scope sc;
  std::string secret_key;
  std::string previous;
};

/// The signature of one chunk whose data has SHA-256 `chunk_sha256_hex`,
/// chained to `ctx.previous` (AWS's "Signature Calculations for the
/// Authorization Header: Transferring Payload in Multiple Chunks").
std::string chunk_signature(const chunk_signing& ctx,
                            std::string_view chunk_sha256_hex);

/// Signs `req` with an `Authorization` header: returns the request with
/// `X-Amz-Date` (and `X-Amz-Security-Token`) added and the header set.
/// Signs every header present.
request sign_headers(request req, const credentials& creds, const scope& sc);

/// Presigns `req` for query authentication: returns the request with
/// `X-Amz-Algorithm`, `X-Amz-Credential`, `X-Amz-Date`, `X-Amz-Expires`,
/// (`X-Amz-Security-Token`,) `X-Amz-SignedHeaders` and `X-Amz-Signature`
/// appended to its query. Signs every header present; the payload hash is
/// `req.payload_hash` (S3 presigning uses `UNSIGNED-PAYLOAD`).
request sign_query(request req, const credentials& creds, const scope& sc,
                   uint32_t expires);

/// Renders decoded query pairs for the wire, in the given order
/// (`k=v&...`, both sides encoded with `uri_encode(x, true)`).
std::string encode_query(const pairs& query);

/// An `http(s)://host[:port][/base]` endpoint split for signing.
struct endpoint_parts {
  /// `http` or `https`.
  std::string scheme;
  /// Value of the `Host` header: host and port, the default port omitted.
  std::string host;
  /// Path prefix without a trailing slash (usually empty).
  std::string base_path;
};

/// Splits an endpoint URL; nullopt unless it is `http(s)://` with a host and
/// nothing after the path (no query, no fragment, no user info).
std::optional<endpoint_parts> parse_endpoint(std::string_view endpoint);

/// Path-style object path on the wire: `<base>/<bucket>/<key>` with the key
/// encoded per segment (slashes kept). An empty `bucket` gives
/// virtual-hosted style `<base>/<key>` (the bucket is in the host).
std::string object_path(const endpoint_parts& ep, std::string_view bucket,
                        std::string_view key);

/// What a presigned URL is made of.
struct presign_params {
  std::string method = "PUT";
  /// Scheme, host and port, e.g. `http://127.0.0.1:9000` (no trailing /).
  std::string endpoint;
  std::string bucket;
  /// Object key, decoded (`uploads/ab/clip 1.mp4`).
  std::string key;
  credentials creds;
  std::string region = "us-east-1";
  /// Unix seconds of signing.
  int64_t now = 0;
  /// Lifetime in seconds, 1..604800.
  uint32_t expires = 900;
  /// Extra headers to sign besides `host` (lower-case names), e.g.
  /// `content-type`; the client must send them with these exact values.
  pairs signed_headers;
  /// Extra query parameters, signed like every parameter of the URL (e.g.
  /// `x-vf-lease`): a verifier knows they came from the signer.
  pairs query;
};

/// Returns a path-style presigned URL:
/// `<endpoint>/<bucket>/<key>?X-Amz-Algorithm=...&X-Amz-Signature=...`.
/// An empty `bucket` presigns a virtual-hosted style URL (bucket in the
/// endpoint's host). Returns an empty string for bad parameters: malformed
/// endpoint, empty key, method or access key, `expires` outside 1..604800,
/// `now` not after 1970.
std::string presign_url(const presign_params& params);

/// Why a presigned request was refused.
enum class verify_error : uint8_t {
  ok = 0,
  /// A required `X-Amz-*` parameter is missing or empty.
  missing_parameter,
  /// `X-Amz-Algorithm` is not `AWS4-HMAC-SHA256`.
  unsupported_algorithm,
  /// `X-Amz-Credential` is not `key/date/region/service/aws4_request`, or
  /// its date differs from `X-Amz-Date`'s.
  malformed_credential,
  /// The access key is unknown.
  unknown_access_key,
  /// `X-Amz-Date` or `X-Amz-Expires` cannot be parsed, or expires > 604800.
  malformed_date,
  /// Signed in the future beyond the allowed clock skew.
  not_yet_valid,
  /// `X-Amz-Date + X-Amz-Expires` is in the past.
  expired,
  /// `host` is not among the signed headers, or a signed header is absent.
  missing_signed_header,
  /// The signature does not match (tampered URL, key or header).
  signature_mismatch,
};

/// Returns a short stable name, e.g. `signature_mismatch`.
const char* to_string(verify_error x);

/// The parts of an incoming request a verifier needs.
struct incoming {
  std::string method;
  /// Request target exactly as received: raw path plus `?` and raw query.
  std::string target;
  /// Headers as received.
  pairs headers;
};

/// Looks up the secret key for an access key; nullopt if unknown.
using secret_lookup
  = std::function<std::optional<std::string>(std::string_view access_key)>;

/// Verifies a presigned (query-signed) request the way S3 does: algorithm,
/// credential scope (service `s3`, region `region`), date, expiry against
/// `now` (Unix seconds, with `max_skew` seconds of tolerance for dates in the
/// future), that `host` is signed, and the signature in constant time.
/// Query parameters are percent-decoded (`+` is a space, as S3 reads them);
/// every parameter but `X-Amz-Signature` is part of the canonical query. A
/// target no signer could have produced (not origin-form, a malformed
/// %-escape, a repeated authentication parameter) is `signature_mismatch`.
verify_error verify_presigned(const incoming& req, const secret_lookup& lookup,
                              std::string_view region, int64_t now,
                              int64_t max_skew = 900);

/// Verifies a header-signed request (`Authorization: AWS4-HMAC-SHA256
/// Credential=..., SignedHeaders=..., Signature=...`) the way S3 does: the
/// credential scope (service `s3`, region `region`), `X-Amz-Date` within
/// `max_skew` seconds of `now` either way, `host`, `x-amz-date` and
/// `x-amz-content-sha256` among the signed headers, and the signature in
/// constant time over the whole query. The payload hash signed is the
/// `x-amz-content-sha256` header's value; on success it is stored in
/// `payload_hash` (if not null): a hex SHA-256 the body must match,
/// `UNSIGNED-PAYLOAD`, or a `STREAMING-...` scheme the caller may refuse.
///
/// On success `chunks` (if not null) gets what the chunks of a streaming
/// body are checked with (`chunk_signature`); it holds the secret, so it
/// lives no longer than the request.
verify_error verify_header_signed(const incoming& req,
                                  const secret_lookup& lookup,
                                  std::string_view region, int64_t now,
                                  std::string* payload_hash,
                                  int64_t max_skew = 900,
                                  chunk_signing* chunks = nullptr);

} // namespace vf::adapters::sigv4
