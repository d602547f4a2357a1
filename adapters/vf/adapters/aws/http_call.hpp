// vf/adapters/aws/http_call.hpp
//
// One blocking HTTP exchange with an AWS endpoint (libcurl easy API,
// bodies in memory), and the SigV4 header signing of such a request. Shared
// by the credential providers (ECS, IMDSv2) and the service clients
// (Bedrock; SQS and DynamoDB later). Blocks for up to its timeout: call it
// from a detached actor or a worker thread, never on CAF's cooperative
// scheduler.

#pragma once

#include "caf/expected.hpp"

#include "vf/adapters/sigv4/sigv4.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace vf::adapters::aws {

/// A request to send.
struct http_request {
  std::string method = "GET";
  /// Full URL; its path and query are sent exactly as written.
  std::string url;
  /// Header lines to send (libcurl adds none besides `Host` and
  /// `Content-Length`; `Expect` is suppressed).
  sigv4::pairs headers;
  std::string body;
  /// Deadline of the whole exchange, and of connecting.
  std::chrono::milliseconds timeout{10000};
  std::chrono::milliseconds connect_timeout{3000};
  /// Bodies above this are refused (`errc::provider_error`).
  size_t max_response = 1 << 20;
  /// Never through an `http(s)_proxy` (instance metadata, ECS agent).
  bool no_proxy = false;
};

/// What came back.
struct http_response {
  long status = 0;
  /// Headers with lower-case names, values trimmed, in order.
  sigv4::pairs headers;
  std::string body;

  /// The first value of the header `name` (lower case); empty if absent.
  std::string header(std::string_view name) const;
};

/// Sends `req` and returns the response, whatever its status. Errors are
/// transport failures only: `errc::timeout` (the deadline passed) or
/// `errc::storage_unavailable` (refused, unresolvable, reset, TLS; the
/// message says which and never shows the query), `errc::provider_error`
/// (response larger than `max_response`), `errc::invalid_argument` (not an
/// http(s) URL).
caf::expected<http_response> perform(const http_request& req);

/// Where a service is and how requests to it are scoped.
struct service_endpoint {
  /// `http(s)://host[:port]`, no path (e.g.
  /// `https://bedrock-runtime.us-east-1.amazonaws.com`).
  std::string url;
  std::string region = "us-east-1";
  /// Signing name, e.g. `bedrock`, `sqs`, `dynamodb`.
  std::string service;
};

/// Builds a SigV4 header-signed request: `path` is the wire path (already
/// percent-encoded), `headers` are signed along with `host` and
/// `x-amz-date` (and `x-amz-security-token`), the payload hash is the
/// body's. `now` is Unix seconds. Returns `errc::invalid_argument` for a
/// malformed endpoint.
caf::expected<http_request>
signed_request(const service_endpoint& ep, std::string method, std::string path,
               sigv4::pairs headers, std::string body,
               const sigv4::credentials& creds, int64_t now);

} // namespace vf::adapters::aws
