// vf/adapters/minio/events.hpp
//
// Object-store notification bodies -> object_event: MinIO's webhook body,
// the plain S3 notification (as SQS delivers it) and EventBridge's "Object
// Created". Pure functions over JSON: no I/O, never throw.

#pragma once

#include "vf/messages/object_event.hpp"

#include "caf/expected.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace vf::adapters::minio {

/// What a notification body announced.
struct parse_result {
  /// One event per `ObjectCreated:*` record, in body order.
  std::vector<messages::object_event> events;
  /// Names of recognized records that are not uploads (e.g.
  /// `s3:ObjectRemoved:Delete`, `s3:TestEvent`), in body order; the caller
  /// acknowledges them and does nothing else.
  std::vector<std::string> ignored;
};

/// Parses MinIO's webhook body `{EventName, Key, Records: [...]}`. Each
/// record is an S3 event record; `source` is `minio`. Object keys are
/// URL-decoded (form style, `+` is a space); when the body's `Key`
/// (`bucket/decoded key`) names the single record's bucket, its key is taken
/// from there, since senders that do not encode keys (s3rver) agree with
/// MinIO on that field. Errors are `errc::invalid_argument` with a message
/// naming the offending field.
caf::expected<parse_result> parse_minio_webhook(std::string_view body);

/// Parses a plain S3 notification `{Records: [...]}` (the SQS message body
/// when S3 notifies SQS directly) or S3's `s3:TestEvent`; `source` names the
/// delivering event source (e.g. `sqs`).
caf::expected<parse_result> parse_s3_event(std::string_view body,
                                           std::string_view source = "sqs");

/// Parses an EventBridge S3 event (`detail-type`, `detail.bucket.name`,
/// `detail.object.{key,size,etag,version-id,sequencer}`). `Object Created`
/// yields one event named after `detail.reason`
/// (`PutObject` -> `s3:ObjectCreated:Put`); other S3 detail types are
/// ignored.
caf::expected<parse_result> parse_eventbridge(std::string_view body,
                                              std::string_view source = "sqs");

/// Decodes an event's object key: `%XX` escapes and `+` as space; returns
/// false (leaving `out` unspecified) on a malformed escape.
bool decode_key(std::string_view encoded, std::string& out);

} // namespace vf::adapters::minio
