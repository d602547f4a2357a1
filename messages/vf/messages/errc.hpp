// vf/messages/errc.hpp

#pragma once

#include "caf/atom.hpp"
#include "caf/error.hpp"
#include "caf/make_message.hpp"

#include <cstdint>
#include <string>

namespace vf::messages {

/// Error codes of vidflow. Travel inside `caf::error`; the HTTP adapter maps
/// them to status codes, the orchestrator to retry decisions.
enum class errc : uint8_t {
  /// No error: the value of a record's `error_code` while nothing failed
  /// (its name is the empty string). Never inside a `caf::error`, where
  /// code 0 means "no error" anyway.
  none = 0,
  /// A job, result or object does not exist.
  not_found = 1,
  /// The request itself is malformed (bad field, bad name).
  invalid_argument,
  /// The work was done before; the request changes nothing.
  duplicate,
  /// The request does not fit the current state (e.g. result not ready).
  conflict,
  /// Credentials are missing or wrong.
  unauthorized,
  /// Credentials are fine but do not allow the action.
  forbidden,
  /// A body or upload exceeds the allowed size.
  payload_too_large,
  /// A store or remote service did not answer; retry later.
  storage_unavailable,
  /// The task ran past its deadline.
  timeout,
  /// The object is not a media file we can read.
  bad_media,
  /// The media parses but no decoder exists for it.
  unsupported_codec,
  /// The media is cut short beyond repair.
  truncated,
  /// A provider (summarizer) answered with an error.
  provider_error,
  /// A provider asked us to slow down; retry later.
  throttled,
  /// The job was cancelled by a user or operator.
  cancelled,
  /// The worker (or its node) went away while holding the lease.
  worker_lost,
  /// Anything we did not foresee; a bug until proven otherwise.
  internal,
  /// The user has as many jobs in flight as `limits.jobs_in_flight_per_user`
  /// allows; retry once some finished (HTTP 429 `quota_exceeded`).
  quota_exceeded,
  /// The user's stored objects reach `limits.bytes_per_user`; no new job
  /// until retention frees some (HTTP 403 `quota_exceeded`).
  storage_quota_exceeded,
  /// The job's upload never came before its upload URL (plus grace)
  /// expired; the job is EXPIRED.
  expired,
  /// An encoder, filter graph or muxer could not be set up or failed
  /// mid-stream (not the input's fault); another attempt, maybe on another
  /// worker, may work.
  encoder_failed,
  /// No worker that joined the dispatcher offers the task's kind (with its
  /// labels), and none came within `dispatcher.unrunnable_after_s`: the
  /// task would wait for ever. Permanent; redrive once such a worker runs.
  no_worker,
  /// An operator paused intake (`vidflow admin pause`): no new jobs until
  /// resumed; uploads already accepted still process (HTTP 503).
  intake_paused,
};

/// Category tag for `caf::error` values built from `errc`.
constexpr caf::atom_value errc_category = caf::atom("vidflow");

/// Returns the stable snake_case name of `x`, as used in APIs and records
/// (the empty string for `errc::none`).
std::string to_string(errc x);

/// Parses a name produced by `to_string` (the empty string is
/// `errc::none`); returns `errc::internal` otherwise.
errc errc_from_string(const std::string& x);

/// Returns whether a failure with this code may succeed when tried again.
bool is_transient(errc x);

/// Builds an error without a message.
inline caf::error make_error(errc x) {
  return {static_cast<uint8_t>(x), errc_category};
}

/// Builds an error that carries a human-readable message.
inline caf::error make_error(errc x, std::string msg) {
  return {static_cast<uint8_t>(x), errc_category,
          caf::make_message(std::move(msg))};
}

/// Returns the errc of `err`, or `errc::internal` for foreign categories.
errc errc_of(const caf::error& err);

/// Returns the message carried by `err`, or a rendering of it otherwise.
std::string message_of(const caf::error& err);

} // namespace vf::messages
