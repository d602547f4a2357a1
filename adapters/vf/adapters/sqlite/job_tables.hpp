// vf/adapters/sqlite/job_tables.hpp
//
// The job store's SQL: one open, configured and migrated connection plus
// every statement the store runs, prepared once. Knows nothing about actors
// or batching; the job store actor decides when transactions begin and end.

#pragma once

#include "vf/adapters/sqlite/database.hpp"
#include "vf/messages/job.hpp"

#include "caf/error.hpp"
#include "caf/expected.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace vf::adapters::sqlite {

/// The job store's tables behind typed operations. Every operation checks
/// every SQLite return code and fails with `storage_unavailable` unless
/// documented otherwise. Use from one thread at a time.
class job_tables {
public:
  /// Opens `path`, sets the PRAGMAs, migrates the schema and prepares every
  /// statement. Each error message starts with the path.
  static caf::expected<std::unique_ptr<job_tables>>
  open(const std::string& path);

  job_tables(const job_tables&) = delete;
  job_tables& operator=(const job_tables&) = delete;

  /// Closes the connection; an open transaction rolls back.
  ~job_tables();

  // -- transactions -----------------------------------------------------------

  /// Starts a write transaction, taking the write lock now (BEGIN IMMEDIATE)
  /// so that no later statement of the batch can fail with SQLITE_BUSY.
  [[nodiscard]] caf::error begin();

  /// Commits the open transaction; on success it is on disk.
  [[nodiscard]] caf::error commit();

  /// Rolls back the open transaction, if any.
  [[nodiscard]] caf::error rollback();

  /// Returns whether a transaction is open. Turns false on its own when
  /// SQLite rolls back after an I/O, disk-full or out-of-memory error.
  bool in_transaction() const {
    return db_->in_transaction();
  }

  // -- writes -----------------------------------------------------------------

  /// Inserts `x`: `true`, or `errc::duplicate` if its id exists. A conflict
  /// undoes only this statement; the surrounding transaction stays intact.
  caf::expected<bool> insert_job(const messages::job& x);

  /// Replaces every stored field of the job with id `x.id`: `true`, or
  /// `errc::not_found`.
  caf::expected<bool> update_job(const messages::job& x);

  /// Inserts `x` unless a result for `x.job_id` exists: `true` if inserted.
  caf::expected<bool> insert_result(const messages::job_result& x);

  /// Records that `key` was claimed for `job_id` at `now_ms` unless it was
  /// claimed before: `true` if this call claimed it.
  caf::expected<bool> insert_claim(const std::string& key,
                                   const std::string& job_id, int64_t now_ms);

  // -- reads ------------------------------------------------------------------

  /// Returns the job with id `id`, or `errc::not_found`.
  caf::expected<messages::job> find_job(const std::string& id);

  /// Returns up to `limit` jobs, newest `created_at` first (ties: newest
  /// insert first).
  caf::expected<std::vector<messages::job>> recent_jobs(uint32_t limit);

  /// Returns every job in `SUBMITTED` or `PROCESSING`, oldest first.
  caf::expected<std::vector<messages::job>> active_jobs();

  /// Returns the number of jobs per status, indexed by `job_status`.
  caf::expected<messages::status_counts> count_jobs();

  /// Returns the result of job `job_id`, or `errc::not_found`.
  caf::expected<messages::job_result> find_result(const std::string& job_id);

private:
  explicit job_tables(std::unique_ptr<database> db);

  /// Prepares every statement; called once by `open`.
  caf::error prepare_all();

  /// Runs a statement that returns no rows; `what` names it for errors.
  caf::error run_done(statement& stmt, const char* what);

  /// Binds every field of `x` in column order starting at parameter 1.
  caf::error bind_job(statement& stmt, const messages::job& x);

  /// Reads a job from the current row of a statement selecting job columns.
  caf::expected<messages::job> read_job(statement& stmt);

  /// Steps through all rows of a job SELECT whose parameters are bound.
  caf::expected<std::vector<messages::job>> read_jobs(statement& stmt,
                                                      const char* what);

  std::unique_ptr<database> db_;
  statement begin_;
  statement commit_;
  statement rollback_;
  statement insert_job_;
  statement update_job_;
  statement select_job_;
  statement select_recent_;
  statement select_active_;
  statement count_by_status_;
  statement insert_result_;
  statement select_result_;
  statement insert_claim_;
};

} // namespace vf::adapters::sqlite
