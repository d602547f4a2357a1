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
constexpr int64_t schema_version = 1;

/// Sets the connection PRAGMAs the store's promises rest on: WAL journal,
/// `synchronous=FULL` (a commit is on disk before its reply) and a busy
/// timeout. Fails with `storage_unavailable` if SQLite refuses any of them.
[[nodiscard]] caf::error configure(database& db);

/// Migrates `db` from its stored `user_version` to `schema_version` in one
/// transaction. Fails if the file is newer than this build or not a database.
[[nodiscard]] caf::error migrate(database& db);

} // namespace vf::adapters::sqlite
