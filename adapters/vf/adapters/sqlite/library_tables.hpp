// vf/adapters/sqlite/library_tables.hpp
//
// The video library's SQL on the job store's connection: views and likes
// (tables `video_counts` and `video_likes`, schema version 12) and the
// library's pages and totals, read from jobs and results. Writes run in the
// job store's open transaction, so they are group-committed with the rest.

#pragma once

#include "caf/expected.hpp"

#include "vf/adapters/sqlite/database.hpp"
#include "vf/messages/video.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <string>

namespace vf::adapters::sqlite {

/// Typed operations of the library. Every operation fails with
/// `storage_unavailable` on an SQLite error, `not_found` where documented.
/// Use from the job store's thread only.
class library_tables {
public:
  /// Prepares the fixed statements on `db` (already migrated).
  static caf::expected<std::unique_ptr<library_tables>> open(database& db);

  library_tables(const library_tables&) = delete;
  library_tables& operator=(const library_tables&) = delete;

  // -- writes ---------------------------------------------------------------

  /// Counts one view of video `id`: its views afterwards; `not_found`
  /// unless job `id` SUCCEEDED.
  caf::expected<uint64_t> add_view(const std::string& id);

  /// Sets (`on`) or clears `user`'s like of video `id` at `now_ms`: its
  /// likes afterwards; `not_found` unless job `id` SUCCEEDED.
  caf::expected<uint64_t> set_like(const std::string& id,
                                   const std::string& user, bool on,
                                   int64_t now_ms);

  // -- reads ----------------------------------------------------------------

  /// One page of the library and the total it is taken from.
  caf::expected<messages::video_page> page(const messages::video_query& q);

  /// Video `id` with `viewer`'s like; `not_found` unless it SUCCEEDED.
  caf::expected<messages::video_entry> find(const std::string& id,
                                            const std::string& viewer);

  /// Totals, tops and uploads per day (see `library_actor`).
  caf::expected<messages::library_stats> stats(const std::string& owner,
                                               uint32_t top, int64_t since_ms);

private:
  explicit library_tables(database& db) : db_(&db) {
    // nop
  }

  /// The listing statement for one order, direction and owner filter,
  /// prepared on first use.
  caf::expected<statement*> page_statement(messages::video_order order,
                                           bool descending, bool by_owner);

  /// Reads the current row of a video SELECT (job, result, counts, liked).
  static caf::expected<messages::video_entry> read_entry(statement& stmt);

  /// Whether job `id` exists and SUCCEEDED.
  caf::expected<bool> is_video(const std::string& id);

  database* db_;
  std::map<int, statement> pages_;
  statement is_video_;
  statement add_view_;
  statement like_;
  statement unlike_;
  statement likes_of_;
  statement find_;
  statement count_all_;
  statement count_owner_;
  statement totals_all_;
  statement totals_owner_;
  statement per_day_all_;
  statement per_day_owner_;
};

} // namespace vf::adapters::sqlite
