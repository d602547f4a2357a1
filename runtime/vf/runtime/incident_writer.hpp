// vf/runtime/incident_writer.hpp — keeps the DLQ analyzer's scheduled
// reports as JSON objects in the S3 store (`dlq.incident_prefix`, s3 mode),
// as the reference design's scheduled analyzer does.

#pragma once

#include "vf/messages/dead_letter.hpp"
#include "vf/runtime/node.hpp"
#include "vf/runtime/node_config.hpp"

#include <functional>
#include <string>

namespace vf::runtime {

/// The object key of a report made at Unix ms `generated_at`:
/// `<prefix>YYYY/MM/DD/HHMMSSZ-<ms>.json`.
std::string incident_key(const std::string& prefix, int64_t generated_at);

/// A function for `dlq_analyzer_config::on_report` that writes each report
/// to `store.bucket` under `dlq.incident_prefix` through a detached writer
/// (signed PUT with the store's keys; a failure is logged, and the next
/// report covers the same records). Empty when the node is not in s3 mode
/// or the prefix is empty.
std::function<void(const messages::incident_report&)>
incident_writer_of(node& n, const node_config& cfg);

} // namespace vf::runtime
