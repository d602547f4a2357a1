// vf/adapters/aws/json_protocol.hpp
//
// One call on the AWS JSON 1.0 protocol, as SQS and DynamoDB speak it:
// `POST /` with `X-Amz-Target: <prefix>.<Action>`, a JSON body, SigV4
// signed; answers are JSON objects, errors carry `__type` and `message`.
// Blocking: call it from a detached actor or a worker thread.

#pragma once

#include <nlohmann/json.hpp>

#include "caf/expected.hpp"

#include "vf/adapters/aws/credentials.hpp"
#include "vf/adapters/aws/http_call.hpp"

#include <chrono>
#include <memory>
#include <string>

namespace vf::adapters::aws {

/// Where the service is and how it is called.
struct json_service {
  /// `http(s)://host[:port]`, the region and signing name.
  service_endpoint endpoint;
  /// `AmazonSQS`, `DynamoDB_20120810`.
  std::string target_prefix;
  /// For messages: `SQS`, `DynamoDB`.
  std::string name;
  std::shared_ptr<credential_chain> creds;
  std::chrono::milliseconds timeout{10000};
  size_t max_response = 4 << 20;
};

/// What the service answered.
struct json_answer {
  long status = 0;
  /// The error's type without its namespace (`ConditionalCheckFailed
  /// Exception`), empty on success.
  std::string type;
  /// The error's message (at most 300 characters), empty on success.
  std::string message;
  /// The parsed body: an object (`{}` for an empty body).
  nlohmann::json doc;
  /// `<name> <action>: HTTP <status> <type> (<message>)`.
  std::string describe(const std::string& name,
                       const std::string& action) const;
};

/// Sends `action` with `body`; any status comes back as an answer. Errors
/// are only what kept an answer from coming: no credentials
/// (`storage_unavailable`), transport failures (as `perform`), a 200 whose
/// body is not a JSON object (`storage_unavailable`).
caf::expected<json_answer> json_call(const json_service& svc,
                                     const std::string& action,
                                     const nlohmann::json& body,
                                     std::chrono::milliseconds extra = {});

} // namespace vf::adapters::aws
