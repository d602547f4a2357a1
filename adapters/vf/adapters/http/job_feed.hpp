// vf/adapters/http/job_feed.hpp
//
// Live progress of one job (`GET /jobs/{id}/events` and `/ws`): what its
// events say and how their ids let a client resume.
//
// Events, in order:
// - `state`: each status change, replayed from the job store's journal
//   (written with the change, so nothing is missed across restarts);
//   id `<seq>`, the journal's sequence number.
// - `upload`: bytes received, while the upload streams into the built-in
//   store; `progress`: overall and per-step percent once processing. Both
//   are samples of how things stand, at most one per `stream_interval`,
//   sent only when they changed; id `<seq>.<hash of the data>`.
// - `done`: the final status and the result's link; id `<seq>.done`. The
//   stream closes after it.
//
// A client resuming with `Last-Event-ID` gets every `state` after the one
// it saw and then the current sample, unless it is the one it saw last:
// no gap and no duplicate. Samples in between are not kept (they only
// said "how far", and the current one says it better).

#pragma once

#include "vf/adapters/http/exchange.hpp"
#include "vf/messages/job.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace vf::adapters::http {

class reply;

/// Where a client's stream stands, from the id of the last event it saw.
struct feed_position {
  /// Journal sequence number of the last `state` event seen (0: none).
  uint64_t seq = 0;
  /// Id of the last sample seen after it; empty if none.
  std::string sample;
  /// The client saw `done`.
  bool done = false;
};

/// Parses a `Last-Event-ID`: empty (from the start), `<seq>`,
/// `<seq>.<8 hex digits>` or `<seq>.done`; nullopt for anything else.
std::optional<feed_position> parse_event_id(std::string_view id);

/// The id of a sample with `data` after state `seq`.
std::string sample_id(uint64_t seq, std::string_view data);

/// The data of a `state` event: `{"status", "series", "at", "error_code"}`.
std::string state_event_data(const messages::job_event& ev);

/// The data of the `done` event of `j`: `{"status", "result"}` (the
/// result's path when it succeeded, else null) plus `error_code` and
/// `error_message` when it failed.
std::string done_event_data(const messages::job& j);

/// Follows job `job_id` into `sink` from `from` until the job ends, the
/// client leaves or reads too slowly. `place` is the stream's place under
/// the limits, released when following stops. Runs on the I/O thread of
/// `r`.
void follow_job(reply r, std::shared_ptr<event_sink> sink,
                std::shared_ptr<void> place, std::string job_id,
                feed_position from);

} // namespace vf::adapters::http
