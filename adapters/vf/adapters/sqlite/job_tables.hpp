// vf/adapters/sqlite/job_tables.hpp
//
// The job store's SQL: one open, configured and migrated connection plus
// every statement the store runs, prepared once. Knows nothing about actors
// or batching; the job store actor decides when transactions begin and end.

#pragma once

#include "vf/adapters/sqlite/database.hpp"
#include "vf/adapters/sqlite/library_tables.hpp"
#include "vf/messages/dead_letter.hpp"
#include "vf/messages/job.hpp"
#include "vf/messages/user_usage.hpp"

#include "caf/error.hpp"
#include "caf/expected.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace vf::adapters::sqlite {

class checkpointer;

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

  /// Inserts `x` with the Idempotency-Key `key` of its owner (one
  /// savepoint) unless that key names a job already: returns `{job_id,
  /// request_hash}` of the job the key names afterwards. Keys made before
  /// `since_ms` are deleted first.
  caf::expected<std::vector<std::string>>
  insert_keyed_job(const messages::job& x, const std::string& key,
                   const std::string& request_hash, int64_t since_ms);

  /// Replaces every stored field of the job with id `x.id`: `true`, or
  /// `errc::not_found`.
  caf::expected<bool> update_job(const messages::job& x);

  /// Inserts `x` unless a result for `x.job_id` exists: `true` if inserted.
  caf::expected<bool> insert_result(const messages::job_result& x);

  /// Inserts `r` like `insert_result`, then replaces the stored state of
  /// `x` like `update_job`, both or neither: `true` if `r` was inserted,
  /// `false` if a result existed (`x` is written either way);
  /// `errc::not_found` if job `x.id` does not exist;
  /// `errc::invalid_argument` if `r.job_id` names another job. A failure
  /// undoes only this call (savepoint).
  caf::expected<bool> insert_result(const messages::job_result& r,
                                    const messages::job& x);

  /// Appends `a` to the attempt ledger, then inserts `r` and replaces `x`
  /// as the call above, all or nothing: the same answers;
  /// `errc::invalid_argument` also if `a.job_id` names another job.
  caf::expected<bool> insert_result(const messages::attempt_record& a,
                                    const messages::job_result& r,
                                    const messages::job& x);

  /// Records that `key` was claimed for `job_id` at `now_ms` unless it was
  /// claimed before: `true` if this call claimed it.
  caf::expected<bool> insert_claim(const std::string& key,
                                   const std::string& job_id, int64_t now_ms);

  /// Appends `x` to the attempt ledger: `true`.
  caf::expected<bool> insert_attempt(const messages::attempt_record& x);

  /// Stores `dl` (replacing the record of the same job and series, attempts
  /// included) and replaces the stored state of `x` like `update_job`, both
  /// or neither: `true`; `errc::not_found` if job `x.id` does not exist;
  /// `errc::invalid_argument` if `dl.job_id` names another job. A failure
  /// undoes only this call (savepoint), never other writes of the batch.
  caf::expected<bool> bury(const messages::dead_letter& dl,
                           const messages::job& x);

  /// Marks dead letter (`job_id`, `series`) redriven at `at_ms` unless it is
  /// already: `true` if this call marked it, `false` if it was marked before,
  /// `errc::not_found` if there is no such record; `errc::invalid_argument`
  /// if `at_ms` is 0 (0 means "open").
  caf::expected<bool> mark_redriven(const std::string& job_id,
                                    uint32_t series, int64_t at_ms);

  /// Removes every dead letter of `job_id`: `true` if there was any.
  caf::expected<bool> remove_dead_letters(const std::string& job_id);

  /// Up to `limit` jobs still `AWAITING_UPLOAD` with `created_at <
  /// before_ms`, oldest first: candidates for expiry. Changes nothing.
  caf::expected<std::vector<messages::job>>
  expiry_candidates(int64_t before_ms, uint32_t limit);

  /// Writes the status, `updated_at` and error of each job in `xs` (as the
  /// job lifecycle expired it) over rows still `AWAITING_UPLOAD`; returns
  /// how many were written.
  caf::expected<uint64_t> expire_jobs(const std::vector<messages::job>& xs);

  /// Records that the object of FAILED, CANCELLED or EXPIRED job `id` was
  /// deleted at `at_ms`; false if it was recorded before (or the job is in
  /// another state or unknown).
  caf::expected<bool> mark_purged(const std::string& id, int64_t at_ms);

  /// Removes job `id` and every record of it (result, claims, attempts,
  /// dead letters) in one savepoint; false if there was no such job.
  caf::expected<bool> erase_job(const std::string& id);

  // -- reads ------------------------------------------------------------------

  /// Returns the job with id `id`, or `errc::not_found`.
  caf::expected<messages::job> find_job(const std::string& id);

  /// Returns `{job_id, request_hash}` of the job `owner`'s Idempotency-Key
  /// `key` names if the key was made at or after `since_ms`, else `{}`.
  caf::expected<std::vector<std::string>>
  find_key(const std::string& owner, const std::string& key,
           int64_t since_ms);

  /// Returns `{job_id, outputs}` of the newest SUCCEEDED job of `owner`
  /// other than `job_id` whose upload had SHA-256 `sha256` and whose recipe
  /// is `recipe`, with its render output; `{}` if there is none.
  caf::expected<std::vector<std::string>>
  find_reuse(const std::string& owner, const std::string& sha256,
             const std::string& recipe, const std::string& job_id);

  /// Returns up to `limit` jobs, newest `created_at` first (ties: newest
  /// insert first): `owner`'s (everyone's if empty), only those of `kind`
  /// unless it is empty (`messages::is_job_kind`; a kind needs an owner).
  caf::expected<std::vector<messages::job>>
  recent_jobs(const std::string& owner, uint32_t limit,
              const std::string& kind = {});

  /// Returns up to `limit` FAILED, CANCELLED or EXPIRED jobs whose object
  /// is not purged yet and that ended (`updated_at`) before `before_ms`,
  /// oldest first.
  caf::expected<std::vector<messages::job>>
  purgeable_jobs(int64_t before_ms, uint32_t limit);

  /// Returns every job in `SUBMITTED` or `PROCESSING`, oldest first.
  caf::expected<std::vector<messages::job>> active_jobs();

  /// Returns up to `q.limit` jobs matching every term of `q`, most recently
  /// changed first; `errc::invalid_argument` for a bad query
  /// (`messages::job_query_problem`).
  caf::expected<std::vector<messages::job>>
  find_jobs(const messages::job_query& q);

  /// Returns the number of jobs per status, indexed by `job_status`.
  caf::expected<messages::status_counts> count_jobs();

  /// Returns `owner`'s jobs in flight and the bytes of their objects.
  caf::expected<messages::user_usage> usage_of(const std::string& owner);

  /// Returns the result of job `job_id`, or `errc::not_found`.
  caf::expected<messages::job_result> find_result(const std::string& job_id);

  /// Returns the attempt ledger of `job_id`, oldest first.
  caf::expected<std::vector<messages::attempt_record>>
  find_attempts(const std::string& job_id);

  /// Returns up to `limit` pending deliveries due at `now_ms`, oldest due
  /// first.
  caf::expected<std::vector<messages::delivery>>
  due_deliveries(int64_t now_ms, uint32_t limit);

  /// Returns the deliveries of `job_id`, oldest first.
  caf::expected<std::vector<messages::delivery>>
  job_deliveries(const std::string& job_id);

  /// Writes the outcome fields of delivery `x.id`; false if it is gone.
  caf::expected<bool> record_delivery(const messages::delivery& x);

  /// Returns job `job_id`'s journaled status changes after `after_seq`,
  /// oldest first, at most 100.
  caf::expected<std::vector<messages::job_event>>
  find_events(const std::string& job_id, uint64_t after_seq);

  /// Returns up to `limit` dead letters with `created_at >= since_ms`,
  /// newest first (ties: newest write first).
  caf::expected<std::vector<messages::dead_letter>>
  recent_dead_letters(int64_t since_ms, uint32_t limit);

  /// Returns the dead letter of `job_id` with the highest series, or
  /// `errc::not_found`.
  caf::expected<messages::dead_letter>
  latest_dead_letter(const std::string& job_id);

  // -- shared with the library's tables --------------------------------------

  /// Reads a job from the current row of a statement that selects the job
  /// columns (`VF_JOB_COLUMNS` in job_tables.cpp, `job_column_list`) first.
  static caf::expected<messages::job> read_job(statement& stmt);

  /// The job columns in `read_job`'s order, each prefixed with `alias.`
  /// (none if `alias` is empty), comma-separated.
  static std::string job_column_list(const std::string& alias);

  /// The video library's statements on this connection (same transactions).
  library_tables& library() {
    return *library_;
  }

private:
  explicit job_tables(std::unique_ptr<database> db);

  /// Prepares every statement; called once by `open`.
  caf::error prepare_all();

  /// Runs a statement that returns no rows; `what` names it for errors.
  caf::error run_done(statement& stmt, const char* what);

  /// Binds every field of `x` in column order starting at parameter 1.
  caf::error bind_job(statement& stmt, const messages::job& x);

  /// Steps through all rows of a job SELECT whose parameters are bound.
  caf::expected<std::vector<messages::job>> read_jobs(statement& stmt,
                                                      const char* what);

  /// Steps through the rows of a delivery SELECT whose parameters are bound.
  caf::expected<std::vector<messages::delivery>>
  read_deliveries(statement& stmt, const char* what);

  /// Binds every field of `x` in column order starting at parameter `first`.
  caf::error bind_attempt(statement& stmt, int first,
                          const messages::attempt_record& x);

  /// Reads an attempt record from the current row, starting at column
  /// `first`.
  caf::expected<messages::attempt_record> read_attempt(statement& stmt,
                                                       int first);

  /// Reads a dead letter (without its attempts) from the current row.
  caf::expected<messages::dead_letter> read_dead_letter(statement& stmt);

  /// Fills in the attempts of `dl` from the snapshot table.
  caf::error load_dead_letter_attempts(messages::dead_letter& dl);

  /// The body of the two-part `insert_result`, run inside a savepoint (its
  /// own, or the three-part write's: savepoints never nest).
  caf::expected<bool> insert_result_unguarded(const messages::job_result& r,
                                              const messages::job& x);

  /// `errc::invalid_argument` naming `what` unless `owner` is `x.id`.
  static caf::error check_owner(const char* what, const std::string& owner,
                                const messages::job& x);

  /// The body of `bury`, run inside its savepoint.
  caf::expected<bool> bury_unguarded(const messages::dead_letter& dl,
                                     const messages::job& x);

  /// The body of `remove_dead_letters`, run inside its savepoint.
  caf::expected<bool> remove_dead_letters_unguarded(const std::string& job_id);

  /// Runs `op` between SAVEPOINT and RELEASE; if it fails, rolls back to the
  /// savepoint first, so that only `op`'s own changes are undone.
  template <class T, class Op>
  caf::expected<T> in_savepoint(Op op);

  std::unique_ptr<database> db_;
  std::unique_ptr<library_tables> library_;
  /// Stops before `db_` closes (members end in reverse order).
  std::unique_ptr<checkpointer> checkpointer_;
  statement begin_;
  statement commit_;
  statement rollback_;
  statement insert_job_;
  statement update_job_;
  statement select_job_;
  statement select_recent_;
  statement select_recent_by_owner_;
  statement select_compositions_by_owner_;
  statement select_assets_by_owner_;
  statement select_active_;
  statement search_by_owner_;
  statement search_in_status_;
  statement search_by_name_;
  statement count_by_status_;
  statement usage_by_owner_;
  statement insert_result_;
  statement select_result_;
  statement insert_claim_;
  statement savepoint_;
  statement release_;
  statement rollback_to_;
  statement insert_attempt_;
  statement select_attempts_;
  statement select_events_;
  statement select_due_deliveries_;
  statement select_job_deliveries_;
  statement update_delivery_;
  statement upsert_dead_letter_;
  statement delete_dl_attempts_of_series_;
  statement insert_dl_attempt_;
  statement select_dl_attempts_;
  statement select_recent_dead_letters_;
  statement select_latest_dead_letter_;
  statement mark_redriven_;
  statement dead_letter_exists_;
  statement delete_dl_attempts_of_job_;
  statement delete_dead_letters_;
  statement expire_jobs_;
  statement select_expiry_candidates_;
  statement select_purgeable_;
  statement mark_purged_;
  statement delete_job_;
  statement delete_result_;
  statement delete_claims_of_job_;
  statement delete_attempts_of_job_;
  statement delete_keys_of_job_;
  statement delete_old_keys_;
  statement select_key_;
  statement select_reuse_;
  statement insert_key_;
};

} // namespace vf::adapters::sqlite
