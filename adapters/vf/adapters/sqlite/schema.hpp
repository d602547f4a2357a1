// vf/adapters/sqlite/schema.hpp
//
// The job store's tables and how an older database file is brought up to
// date. The version lives in `PRAGMA user_version`, so a file tells which
// schema it holds without a table of its own.

#pragma once

#include "caf/error.hpp"

#include <cstdint>

namespace vf::adapters::sqlite {

class database;

/// The schema version this build writes and reads.
///
/// - 1: jobs, results, claims.
/// - 2: `jobs.series`; the attempt ledger; dead letters and their attempts.
/// - 3: index of jobs by owner and creation (history in the query).
/// - 4: `jobs.purged_at` and the index of jobs to purge (retention).
/// - 5: `leased_at` on attempts and on dead letters' attempts.
/// - 9: the journal of status changes (`job_events`, written by triggers).
/// - 10: `jobs.callback_url` and the callback `deliveries` (a trigger).
/// - 11: `jobs.request_id`.
/// - 12: the video library (`video_counts`, `video_likes`).
/// - 13: `owner_usage` (per-user jobs in flight and bytes, by triggers).
/// - 14: partial indexes of each owner's compositions and assets.
constexpr int64_t schema_version = 14;

/// Sets the connection PRAGMAs the store's promises rest on: WAL journal,
/// `synchronous=FULL` (a commit is on disk before its reply) and a busy
/// timeout. Fails with `storage_unavailable` if SQLite refuses any of them.
[[nodiscard]] caf::error configure(database& db);

/// Migrates `db` from its stored `user_version` to `target` (normally
/// `schema_version`) in one transaction. Fails if the file is newer than
/// this build or not a database. A `target` below the stored version leaves
/// the file as it is; tests use older targets to build files of the past.
[[nodiscard]] caf::error migrate(database& db,
                                 int64_t target = schema_version);

} // namespace vf::adapters::sqlite
