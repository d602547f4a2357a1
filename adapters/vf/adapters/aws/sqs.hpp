// vf/adapters/aws/sqs.hpp
//
// A small SQS client on the AWS JSON 1.0 protocol (`X-Amz-Target:
// AmazonSQS.<Action>`), SigV4-signed for service `sqs`: what an event
// source needs (receive, delete, extend visibility) and what tools and
// tests need (send, attributes). Blocking: call it from a detached actor.

#pragma once

#include "caf/expected.hpp"

#include "vf/adapters/aws/credentials.hpp"
#include "vf/adapters/aws/http_call.hpp"

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace vf::adapters::aws {

/// Which queue, and how to reach it.
struct sqs_config {
  /// `https://sqs.<region>.amazonaws.com/<account>/<name>` (or an
  /// emulator's URL).
  std::string queue_url;
  /// Endpoint requests go to; empty: the queue URL's scheme and host.
  std::string endpoint;
  /// Region of the signature; empty: from a `sqs.<region>.amazonaws.com`
  /// host, else `us-east-1`.
  std::string region;
  std::shared_ptr<credential_chain> creds;
  /// Deadline of one call besides the long poll's wait.
  std::chrono::milliseconds timeout{10000};
};

/// One received message.
struct sqs_message {
  std::string message_id;
  std::string receipt_handle;
  std::string body;
  /// `ApproximateReceiveCount` (1 on the first delivery).
  uint32_t receive_count = 0;
};

/// Checks `cfg` and fills `endpoint` and `region` when empty;
/// `errc::invalid_argument` names what is wrong.
caf::error complete(sqs_config& cfg);

/// `ReceiveMessage`: up to `max` (1..10) messages, waiting up to `wait_s`
/// (0..20) seconds for the first, hidden for `visibility_s` afterwards.
caf::expected<std::vector<sqs_message>> sqs_receive(const sqs_config& cfg,
                                                    uint32_t max,
                                                    uint32_t wait_s,
                                                    uint32_t visibility_s);

/// `DeleteMessageBatch` of up to 10 receipt handles; returns the handles
/// that failed (an expired receipt, for instance).
caf::expected<std::vector<std::string>>
sqs_delete(const sqs_config& cfg, const std::vector<std::string>& receipts);

/// `ChangeMessageVisibilityBatch`: hides up to 10 messages `seconds` more
/// from now; returns the handles that failed.
caf::expected<std::vector<std::string>>
sqs_extend(const sqs_config& cfg, const std::vector<std::string>& receipts,
           uint32_t seconds);

/// `SendMessage`; returns the message id.
caf::expected<std::string> sqs_send(const sqs_config& cfg,
                                    const std::string& body);

/// `SendMessageBatch` of up to 10 bodies; returns the indexes (into
/// `bodies`) that failed.
caf::expected<std::vector<size_t>>
sqs_send_batch(const sqs_config& cfg, const std::vector<std::string>& bodies);

/// `GetQueueAttributes` (`All`).
caf::expected<std::map<std::string, std::string>>
sqs_attributes(const sqs_config& cfg);

} // namespace vf::adapters::aws
