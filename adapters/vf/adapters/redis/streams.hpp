// vf/adapters/redis/streams.hpp
//
// Redis Streams, as vidflow lays them out: commands built as argument
// vectors and replies parsed back. Pure functions (no I/O), so every layout
// rule is unit-tested without a server; docs/events.md documents the
// fields.

#pragma once

#include "caf/expected.hpp"

#include "vf/adapters/redis/connection.hpp"
#include "vf/messages/job.hpp"
#include "vf/messages/object_event.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace vf::adapters::redis {

/// One stream entry: its id (`<ms>-<seq>`) and field/value pairs. Entries
/// deleted while pending come back without fields (`deleted`).
struct stream_entry {
  std::string id;
  std::vector<std::pair<std::string, std::string>> fields;
  bool deleted = false;

  /// The value of `name`, or nothing.
  const std::string* field(const std::string& name) const;
};

/// A stream id as two numbers, ordered as Redis orders them.
struct stream_id {
  uint64_t ms = 0;
  uint64_t seq = 0;
  /// Parses `<ms>-<seq>` (or `<ms>`); nothing for anything else.
  static std::optional<stream_id> parse(const std::string& text);
  std::string str() const;
  /// The smallest id after this one.
  stream_id next() const;
  friend bool operator<(const stream_id& x, const stream_id& y) {
    return x.ms < y.ms || (x.ms == y.ms && x.seq < y.seq);
  }
};

/// `XADD <stream> * v 1 name … source … bucket … key … version … etag …
/// size … sha256 …`: one object event. No MAXLEN: the consumer trims only
/// what its group acknowledged.
std::vector<std::string> xadd_event(const std::string& stream,
                                    const messages::object_event& ev);

/// Reads an object event back. Validates as at any edge: the layout
/// version, the required fields, their lengths, and `size` as a number.
/// Errors: `errc::invalid_argument` naming the field.
caf::expected<messages::object_event> decode_event(const stream_entry& e);

/// What `decode_event` would say of `ev` once in the stream: publishers
/// refuse (`errc::invalid_argument`) what a consumer could not read.
caf::error check_event(const messages::object_event& ev);

/// Whether `e` has a layout this build reads (field `v`). Entries of a
/// newer layout are left pending for a coordinator that reads them.
bool known_layout(const stream_entry& e);

/// `XADD <stream> * v 1 type … job_id … status … …`: a job that ended.
/// `type` is `JobCompleted`, `JobFailed`, `JobCancelled` or `JobExpired`.
std::vector<std::string> xadd_completion(const std::string& stream,
                                         const messages::job& j,
                                         int64_t duration_ms);

/// The `type` field of a job's completion entry.
std::string completion_type(messages::job_status st);

/// Entries of an `XRANGE`-shaped array (`[[id, [f, v, …]], …]`).
std::vector<stream_entry> parse_entries(const reply& r);

/// Entries of `XREADGROUP … STREAMS <one stream> <id>` (nil: none).
std::vector<stream_entry> parse_read(const reply& r);

/// `XAUTOCLAIM`'s reply: the cursor to continue from (`0-0`: the scan of
/// the pending list is complete) and the entries now ours; entries deleted
/// meanwhile come back as `deleted` (Redis 7 lists them apart).
struct autoclaim_result {
  std::string cursor = "0-0";
  std::vector<stream_entry> entries;
};
autoclaim_result parse_autoclaim(const reply& r);

/// One consumer group as `XINFO GROUPS` and `XPENDING` describe it.
struct group_state {
  std::string name;
  uint64_t pending = 0;
  std::string last_delivered = "0-0";
  /// Smallest pending id (from `XPENDING <stream> <group>`); empty if none.
  std::string min_pending;
};

/// Parses `XINFO GROUPS` (names, pending counts, last delivered ids).
std::vector<group_state> parse_groups(const reply& r);

/// The smallest id every group still needs: below it, every entry was
/// delivered to and acknowledged by every group. Nothing if there are no
/// groups (then only `max_length` bounds the stream).
std::optional<stream_id> trim_floor(const std::vector<group_state>& groups);

} // namespace vf::adapters::redis
