// vf/adapters/aws/sqs_publisher.hpp
//
// Sends messages to an SQS queue from a bounded buffer, in batches of 10,
// retrying with backoff while SQS is unreachable: the feed of dead letters
// (failed jobs, in the reference design's enriched shape) to an SQS
// dead-letter queue, so AWS-native tooling sees them. With an outbox
// directory every message is written there (synced) when it is taken and
// removed once SQS has it; a restart sends what is left, so a kill -9 or a
// long SQS outage loses nothing the publisher took (at least once: a
// message sent just before a crash may be sent again).

#pragma once

#include "caf/actor_system.hpp"
#include "caf/typed_actor.hpp"

#include "vf/adapters/aws/sqs.hpp"
#include "vf/messages/type_ids.hpp"

#include <functional>
#include <string>

namespace vf::adapters::aws {

/// The publisher's handle.
///
/// - `(put, body)`: buffers one message (dropped, counted and logged when
///   the buffer is full).
/// - `(tick)`: its own flush timer.
using sqs_publisher_actor
  = caf::typed_actor<caf::reacts_to<atoms::put, std::string>,
                     caf::reacts_to<atoms::tick>>;

/// How the publisher runs.
struct sqs_publisher_config {
  sqs_config queue;
  /// Messages buffered at most.
  size_t max_buffered = 10000;
  /// Where messages wait until SQS has them; empty: in memory only.
  std::string outbox_dir;
  /// Counts `sent`, `failed` (a try that failed), `dropped`.
  std::function<void(const char* outcome)> count;
  std::function<void(bool warn, const std::string& text)> log;
};

/// Spawns the publisher (a detached actor: its calls block); it first
/// takes what the outbox holds, oldest first.
sqs_publisher_actor spawn_sqs_publisher(caf::actor_system& sys,
                                        sqs_publisher_config cfg);

} // namespace vf::adapters::aws
