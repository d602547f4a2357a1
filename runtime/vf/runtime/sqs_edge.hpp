// vf/runtime/sqs_edge.hpp — the `sqs.*` settings and the SQS event source
// of a coordinator (see docs/aws.md, "Intake from SQS").

#pragma once

#include "caf/expected.hpp"

#include "vf/adapters/aws/sqs_source.hpp"
#include "vf/messages/job.hpp"
#include "vf/messages/object_sink_actor.hpp"
#include "vf/runtime/node.hpp"
#include "vf/runtime/settings.hpp"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace vf::runtime {

/// The keys: `sqs.queue_url` (empty: no SQS intake), `sqs.endpoint`,
/// `sqs.region`, `sqs.wait_s`, `sqs.visibility_s`, `sqs.max_inflight`.
const std::vector<setting_spec>& sqs_specs();

/// The source's settings, or nullopt when `sqs.queue_url` is empty; the
/// error names the setting. `profile` is `aws.profile`.
caf::expected<std::optional<adapters::aws::sqs_source_config>>
sqs_edge_of(const settings& xs, const std::string& profile);

/// Parses an SQS message body: an S3 event notification (`Records`,
/// `s3:TestEvent`), an EventBridge S3 event (`detail-type`), or either
/// inside an SNS envelope (`Type: Notification`, S3 → SNS → SQS).
caf::expected<std::vector<messages::object_event>>
parse_sqs_body(std::string_view body);

/// The dead-letter feed (`sqs.dlq_url`; empty: none): a function for the
/// orchestrator's `on_job_end` that sends every FAILED job to that queue in
/// the reference design's enriched shape (`job_id`, `bucket`, `key`,
/// `error_code`, `error_message`, `recommendation`, plus `category`,
/// `filename`, `failed_at`, `source`), through a buffering publisher
/// (`vidflow_sqs_dead_letters_total{outcome}`) whose outbox,
/// `<data_dir>/outbox/sqs-dead-letters/`, keeps each message until SQS has
/// it, across crashes and outages. The error names the setting.
caf::expected<std::function<void(const messages::job&, int64_t)>>
dead_letter_feed(node& n, const settings& xs, const std::string& profile,
                 const std::string& data_dir);

/// The enriched message for a failed job.
std::string dead_letter_message(const messages::job& j);

/// Spawns the source feeding `sink`, with its counters
/// (`vidflow_sqs_messages_total{outcome}`) and log lines on `n`.
void start_sqs_source(node& n, adapters::aws::sqs_source_config cfg,
                      messages::object_sink_actor sink);

} // namespace vf::runtime
