// vf/adapters/aws/sqs_source.hpp
//
// An event source that long-polls an SQS queue fed by S3 event
// notifications (directly, or through EventBridge) and hands each
// ObjectCreated event to an object sink (the orchestrator, or the Redis
// publisher). A message is deleted only after every event in it was
// answered durably (new work or a duplicate) or rejected for good (an
// unknown job, a foreign bucket, a malformed body); otherwise it stays and
// SQS delivers it again after its visibility timeout, and the queue's
// redrive policy moves a message that keeps failing to its dead-letter
// queue after `maxReceiveCount`. Visibility is extended while a message's
// events are still being recorded.

#pragma once

#include "caf/actor_system.hpp"
#include "caf/expected.hpp"
#include "caf/typed_actor.hpp"

#include "vf/adapters/aws/sqs.hpp"
#include "vf/messages/object_event.hpp"
#include "vf/messages/object_sink_actor.hpp"

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace vf::adapters::aws {

/// Turns a message body into events: an empty vector for a notification
/// that announces no upload (`s3:TestEvent`, deletions); an error for a body
/// that can never be one (the message is deleted with a log line).
using sqs_body_parser
  = std::function<caf::expected<std::vector<messages::object_event>>(
    std::string_view body)>;

/// How the source runs.
struct sqs_source_config {
  sqs_config queue;
  /// Long-poll wait when nothing is in flight (0..20 s); also bounds how
  /// long stopping the node waits for the source.
  uint32_t wait_s = 5;
  /// Visibility timeout asked for on receive, and extension step.
  uint32_t visibility_s = 60;
  /// Messages received and not yet deleted or left, at most.
  size_t max_inflight = 100;
  /// Bodies larger than this are deleted unread (SQS allows 256 KiB).
  size_t max_body = 256 * 1024;
  /// Deadline of the sink's answer for one event.
  std::chrono::milliseconds sink_timeout{30000};
  sqs_body_parser parse;
  /// Counts an outcome: `received`, `delivered`, `deleted`, `rejected`,
  /// `ignored`, `retried`, `extended`, `receive_error`, `delete_error`.
  std::function<void(const char* outcome)> count;
  /// Logs a line (`warn` true: a warning).
  std::function<void(bool warn, const std::string& text)> log;
};

/// The source's handle: it drives itself with `tick`.
using sqs_source_actor = caf::typed_actor<caf::reacts_to<atoms::tick>>;

/// Spawns the source (a detached actor: its calls block).
sqs_source_actor spawn_sqs_source(caf::actor_system& sys, sqs_source_config cfg,
                                  messages::object_sink_actor sink);

} // namespace vf::adapters::aws
