// vf/adapters/sqlite/job_tables.cpp

#include "vf/adapters/sqlite/job_tables.hpp"

#include "vf/adapters/sqlite/checkpointer.hpp"
#include "vf/adapters/sqlite/schema.hpp"
#include "vf/messages/task.hpp"
#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>

namespace vf::adapters::sqlite {

namespace {

using messages::attempt_record;
using messages::dead_letter;
using messages::errc;
using messages::job;
using messages::job_result;
using messages::job_status;
using messages::task_kind;

// Column order shared by INSERT, SELECT and bind_job/read_job.
#define VF_JOB_COLUMNS                                                         \
  "id, owner, filename, content_type, bucket, \"key\", status, created_at, "   \
  "updated_at, object_bucket, object_key, object_version, object_etag, "       \
  "object_size, attempts, step, next_attempt_at, error_code, error_message, "  \
  "series, priority, outputs, object_sha256, callback_url, request_id"

/// Number of columns in VF_JOB_COLUMNS.
constexpr int job_columns = 25;

/// VF_JOB_COLUMNS as a value (the macro ends with the statements below).
constexpr const char* job_column_names = VF_JOB_COLUMNS;

constexpr const char* insert_job_sql
  = "INSERT INTO jobs (" VF_JOB_COLUMNS ") VALUES "
    "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, "
    "?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25)";

constexpr const char* update_job_sql
  = "UPDATE jobs SET owner = ?2, filename = ?3, content_type = ?4, "
    "bucket = ?5, \"key\" = ?6, status = ?7, created_at = ?8, "
    "updated_at = ?9, object_bucket = ?10, object_key = ?11, "
    "object_version = ?12, object_etag = ?13, object_size = ?14, "
    "attempts = ?15, step = ?16, next_attempt_at = ?17, error_code = ?18, "
    "error_message = ?19, series = ?20, priority = ?21, outputs = ?22, "
    "object_sha256 = ?23, callback_url = ?24, request_id = ?25 WHERE id = ?1";

constexpr const char* select_job_sql
  = "SELECT " VF_JOB_COLUMNS " FROM jobs WHERE id = ?1";

// rowid breaks ties between jobs created in the same millisecond; the
// created_at index holds rowids, so the sort still comes from the index.
constexpr const char* select_recent_sql
  = "SELECT " VF_JOB_COLUMNS " FROM jobs "
    "ORDER BY created_at DESC, rowid DESC LIMIT ?1";

// One owner's page, served by jobs_by_owner (owner, created_at): other
// owners' jobs are never read, so they cannot crowd it out.
constexpr const char* select_recent_by_owner_sql
  = "SELECT " VF_JOB_COLUMNS " FROM jobs WHERE owner = ?2 "
    "ORDER BY created_at DESC, rowid DESC LIMIT ?1";

// One owner's compositions (or assets), served by the partial index
// jobs_compositions_by_owner (jobs_assets_by_owner): the WHERE term on the
// recipe is the index's, word for word, so SQLite uses it and reads no
// other job of the owner (messages::composition_recipe_prefix).
constexpr const char* select_compositions_by_owner_sql
  = "SELECT " VF_JOB_COLUMNS " FROM jobs WHERE owner = ?2 "
    "AND substr(outputs, 1, 15) = '{\"composition\":' "
    "ORDER BY created_at DESC, rowid DESC LIMIT ?1";
static_assert(std::char_traits<char>::length(
                messages::composition_recipe_prefix)
                == 15,
              "select_compositions_by_owner_sql and schema 14 compare 15 "
              "bytes");
static_assert(std::char_traits<char>::length(messages::asset_recipe_prefix)
                == 9,
              "select_assets_by_owner_sql and schema 14 compare 9 bytes");
constexpr const char* select_assets_by_owner_sql
  = "SELECT " VF_JOB_COLUMNS " FROM jobs WHERE owner = ?2 "
    "AND substr(outputs, 1, 9) = '{\"asset\":' "
    "ORDER BY created_at DESC, rowid DESC LIMIT ?1";

// Served by the partial index jobs_to_purge (same WHERE terms), oldest
// first; bounded by LIMIT.
constexpr const char* select_purgeable_sql
  = "SELECT " VF_JOB_COLUMNS " FROM jobs "
    "WHERE purged_at = 0 AND status IN ('FAILED', 'CANCELLED', 'EXPIRED') "
    "AND updated_at < ?1 ORDER BY updated_at LIMIT ?2";

constexpr const char* mark_purged_sql
  = "UPDATE jobs SET purged_at = ?2 WHERE id = ?1 AND purged_at = 0 "
    "AND status IN ('FAILED', 'CANCELLED', 'EXPIRED')";

// Candidates only: the lifecycle decides which of them expire.
constexpr const char* select_expiry_candidates_sql
  = "SELECT " VF_JOB_COLUMNS " FROM jobs "
    "WHERE status = 'AWAITING_UPLOAD' AND created_at < ?1 "
    "ORDER BY created_at LIMIT ?2";

// The operators' search (job_query), one statement per index it can use;
// an empty name matches every file name (instr(x, '') is 1). By owner:
// served by jobs_by_owner, the other terms filter the owner's rows.
constexpr const char* search_by_owner_sql
  = "SELECT " VF_JOB_COLUMNS " FROM jobs WHERE owner = ?1 "
    "AND (?2 = '' OR status = ?2) AND instr(filename, ?3) > 0 "
    "ORDER BY updated_at DESC, rowid DESC LIMIT ?4";

// By status: served by jobs_by_status; the sort is over one status's rows.
constexpr const char* search_in_status_sql
  = "SELECT " VF_JOB_COLUMNS " FROM jobs WHERE status = ?1 "
    "AND instr(filename, ?2) > 0 "
    "ORDER BY updated_at DESC, rowid DESC LIMIT ?3";

// By name alone: no index can serve a part of a name; reads every row.
constexpr const char* search_by_name_sql
  = "SELECT " VF_JOB_COLUMNS " FROM jobs WHERE instr(filename, ?1) > 0 "
    "ORDER BY updated_at DESC, rowid DESC LIMIT ?2";

constexpr const char* select_active_sql
  = "SELECT " VF_JOB_COLUMNS " FROM jobs "
    "WHERE status IN ('SUBMITTED', 'PROCESSING') "
    "ORDER BY created_at, rowid";

#undef VF_JOB_COLUMNS

constexpr const char* count_by_status_sql
  = "SELECT status, COUNT(*) FROM jobs GROUP BY status";

// The per-user limits of POST /jobs: one row the schema's triggers keep
// (owner_usage; object_size is 0 until an upload was claimed).
constexpr const char* usage_by_owner_sql
  = "SELECT COALESCE((SELECT in_flight FROM owner_usage WHERE owner = ?1), "
    "0), COALESCE((SELECT bytes FROM owner_usage WHERE owner = ?1), 0)";

constexpr const char* insert_result_sql
  = "INSERT OR IGNORE INTO results (job_id, metadata, summary, created_at, "
    "outputs) VALUES (?1, ?2, ?3, ?4, ?5)";

constexpr const char* select_result_sql
  = "SELECT job_id, metadata, summary, created_at, outputs FROM results "
    "WHERE job_id = ?1";

constexpr const char* insert_claim_sql
  = "INSERT OR IGNORE INTO claims (\"key\", job_id, claimed_at) "
    "VALUES (?1, ?2, ?3)";

// One name serves every write: savepoints of two writes never nest, since
// each write releases (or rolls back to) its own before returning.
constexpr const char* savepoint_sql = "SAVEPOINT vf_write";
constexpr const char* release_sql = "RELEASE vf_write";
constexpr const char* rollback_to_sql = "ROLLBACK TO vf_write";

// Column order shared by the ledger, the dead letters' snapshot of it, and
// bind_attempt/read_attempt.
#define VF_ATTEMPT_COLUMNS                                                     \
  "job_id, lease_id, object_version, series, kind, attempt, ok, output, "     \
  "error_code, error_message, worker, finished_at, duration_us, leased_at"

/// Number of columns in VF_ATTEMPT_COLUMNS.
constexpr int attempt_columns = 14;

constexpr const char* insert_attempt_sql
  = "INSERT INTO attempts (" VF_ATTEMPT_COLUMNS ") VALUES "
    "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)";

// id is the rowid, which the job_id index carries: no sort step.
constexpr const char* select_attempts_sql
  = "SELECT " VF_ATTEMPT_COLUMNS " FROM attempts WHERE job_id = ?1 "
    "ORDER BY id";

constexpr const char* select_events_sql
  = "SELECT seq, status, series, at, error_code FROM job_events "
    "WHERE job_id = ?1 AND seq > ?2 ORDER BY seq LIMIT 100";

#define VF_DELIVERY_COLUMNS                                                    \
  "id, job_id, owner, url, body, state, attempts, next_at, created_at, "      \
  "last_status, last_error, delivered_at"

constexpr const char* select_due_deliveries_sql
  = "SELECT " VF_DELIVERY_COLUMNS " FROM deliveries "
    "WHERE state = 'pending' AND next_at <= ?1 ORDER BY next_at, rowid "
    "LIMIT ?2";

constexpr const char* select_job_deliveries_sql
  = "SELECT " VF_DELIVERY_COLUMNS " FROM deliveries WHERE job_id = ?1 "
    "ORDER BY created_at, rowid";

constexpr const char* update_delivery_sql
  = "UPDATE deliveries SET state = ?2, attempts = ?3, next_at = ?4, "
    "last_status = ?5, last_error = ?6, delivered_at = ?7 WHERE id = ?1";

constexpr const char* insert_dl_attempt_sql
  = "INSERT INTO dead_letter_attempts (dl_job_id, dl_series, position, "
    VF_ATTEMPT_COLUMNS ") VALUES "
    "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, "
    "?17)";

constexpr const char* select_dl_attempts_sql
  = "SELECT " VF_ATTEMPT_COLUMNS " FROM dead_letter_attempts "
    "WHERE dl_job_id = ?1 AND dl_series = ?2 ORDER BY position";

#undef VF_ATTEMPT_COLUMNS

constexpr const char* delete_dl_attempts_of_series_sql
  = "DELETE FROM dead_letter_attempts WHERE dl_job_id = ?1 AND dl_series = ?2";

constexpr const char* delete_dl_attempts_of_job_sql
  = "DELETE FROM dead_letter_attempts WHERE dl_job_id = ?1";

// Column order shared by the upsert, the SELECTs and read_dead_letter.
#define VF_DEAD_LETTER_COLUMNS                                                 \
  "job_id, series, object_bucket, object_key, object_version, object_etag, "  \
  "object_size, filename, kind, error_code, error_message, probe_output, "    \
  "created_at, redriven_at"

/// Number of columns in VF_DEAD_LETTER_COLUMNS.
constexpr int dead_letter_columns = 14;

constexpr const char* upsert_dead_letter_sql
  = "INSERT OR REPLACE INTO dead_letters (" VF_DEAD_LETTER_COLUMNS ") VALUES "
    "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)";

// rowid breaks ties like in select_recent_sql; a replaced record gets a new
// rowid, so it counts as the newest of its millisecond.
constexpr const char* select_recent_dead_letters_sql
  = "SELECT " VF_DEAD_LETTER_COLUMNS " FROM dead_letters "
    "WHERE created_at >= ?1 ORDER BY created_at DESC, rowid DESC LIMIT ?2";

constexpr const char* select_latest_dead_letter_sql
  = "SELECT " VF_DEAD_LETTER_COLUMNS " FROM dead_letters "
    "WHERE job_id = ?1 ORDER BY series DESC LIMIT 1";

#undef VF_DEAD_LETTER_COLUMNS

// The check and the set are one statement: a record is marked once.
constexpr const char* mark_redriven_sql
  = "UPDATE dead_letters SET redriven_at = ?3 "
    "WHERE job_id = ?1 AND series = ?2 AND redriven_at = 0";

constexpr const char* dead_letter_exists_sql
  = "SELECT 1 FROM dead_letters WHERE job_id = ?1 AND series = ?2";

constexpr const char* delete_dead_letters_sql
  = "DELETE FROM dead_letters WHERE job_id = ?1";

// Erasing a job (DELETE /jobs/{id}): every record of it, in one savepoint.
constexpr const char* delete_job_sql = "DELETE FROM jobs WHERE id = ?1";
constexpr const char* delete_result_sql
  = "DELETE FROM results WHERE job_id = ?1";
constexpr const char* delete_claims_of_job_sql
  = "DELETE FROM claims WHERE job_id = ?1";
constexpr const char* delete_attempts_of_job_sql
  = "DELETE FROM attempts WHERE job_id = ?1";
constexpr const char* delete_keys_of_job_sql
  = "DELETE FROM idempotency_keys WHERE job_id = ?1";

// Idempotency-Keys of POST /jobs (owner, key) -> job, for a day.
constexpr const char* delete_old_keys_sql
  = "DELETE FROM idempotency_keys WHERE created_at < ?1";
constexpr const char* select_key_sql
  = "SELECT job_id, request_hash FROM idempotency_keys "
    "WHERE owner = ?1 AND \"key\" = ?2 AND created_at >= ?3";
// Content reuse: the newest SUCCEEDED job of the owner with the same bytes
// and the same recipe that made outputs, other than the asking job; served
// by jobs_by_content.
constexpr const char* select_reuse_sql
  = "SELECT j.id, r.outputs FROM jobs j JOIN results r ON r.job_id = j.id "
    "WHERE j.owner = ?1 AND j.object_sha256 = ?2 AND j.object_sha256 != '' "
    "AND j.outputs = ?3 AND j.id != ?4 AND j.status = 'SUCCEEDED' "
    "AND r.outputs != '' ORDER BY j.updated_at DESC, j.rowid DESC LIMIT 1";
constexpr const char* insert_key_sql
  = "INSERT INTO idempotency_keys (owner, \"key\", request_hash, job_id, "
    "created_at) VALUES (?1, ?2, ?3, ?4, ?5)";

// The orchestrator's job lifecycle decides expiry; the store persists the
// record it was given, and only over a row still waiting for its upload (an
// upload or a cancel that landed since the candidates were listed wins).
constexpr const char* expire_jobs_sql
  = "UPDATE jobs SET status = ?2, updated_at = ?3, error_code = ?4, "
    "error_message = ?5 WHERE id = ?1 AND status = 'AWAITING_UPLOAD'";

/// Prefixes the message of a `vf` error with `prefix`.
caf::error prefixed(const std::string& prefix, const caf::error& err) {
  return messages::make_error(messages::errc_of(err),
                              prefix + messages::message_of(err));
}

/// Folds a sequence of bind return codes into the first failure.
int first_failure(std::initializer_list<int> codes) {
  for (auto rc : codes)
    if (rc != SQLITE_OK)
      return rc;
  return SQLITE_OK;
}

} // namespace

job_tables::job_tables(std::unique_ptr<database> db) : db_(std::move(db)) {
  // nop
}

// Members finalize the statements first, then close the connection.
job_tables::~job_tables() = default;

caf::expected<std::unique_ptr<job_tables>>
job_tables::open(const std::string& path) {
  auto db = database::open(path);
  if (!db)
    return std::move(db.error());
  // Setup failures name the file: they end up in a start-up error message.
  auto prefix = "sqlite: database '" + path + "': ";
  if (auto err = configure(**db))
    return prefixed(prefix, err);
  if (auto err = migrate(**db))
    return prefixed(prefix, err);
  std::unique_ptr<job_tables> result{new job_tables(std::move(*db))};
  if (auto err = result->prepare_all())
    return prefixed(prefix, err);
  auto library = library_tables::open(*result->db_);
  if (!library)
    return prefixed(prefix, library.error());
  result->library_ = std::move(*library);
  auto ckpt = checkpointer::start(*result->db_);
  if (!ckpt)
    return prefixed(prefix, ckpt.error());
  result->checkpointer_ = std::move(*ckpt);
  return result;
}

caf::error job_tables::prepare_all() {
  std::pair<statement*, const char*> all[] = {
    {&begin_, "BEGIN IMMEDIATE"},
    {&commit_, "COMMIT"},
    {&rollback_, "ROLLBACK"},
    {&insert_job_, insert_job_sql},
    {&update_job_, update_job_sql},
    {&select_job_, select_job_sql},
    {&select_recent_, select_recent_sql},
    {&select_recent_by_owner_, select_recent_by_owner_sql},
    {&select_compositions_by_owner_, select_compositions_by_owner_sql},
    {&select_assets_by_owner_, select_assets_by_owner_sql},
    {&select_active_, select_active_sql},
    {&search_by_owner_, search_by_owner_sql},
    {&search_in_status_, search_in_status_sql},
    {&search_by_name_, search_by_name_sql},
    {&count_by_status_, count_by_status_sql},
    {&usage_by_owner_, usage_by_owner_sql},
    {&insert_result_, insert_result_sql},
    {&select_result_, select_result_sql},
    {&insert_claim_, insert_claim_sql},
    {&savepoint_, savepoint_sql},
    {&release_, release_sql},
    {&rollback_to_, rollback_to_sql},
    {&insert_attempt_, insert_attempt_sql},
    {&select_attempts_, select_attempts_sql},
    {&select_events_, select_events_sql},
    {&select_due_deliveries_, select_due_deliveries_sql},
    {&select_job_deliveries_, select_job_deliveries_sql},
    {&update_delivery_, update_delivery_sql},
    {&upsert_dead_letter_, upsert_dead_letter_sql},
    {&delete_dl_attempts_of_series_, delete_dl_attempts_of_series_sql},
    {&insert_dl_attempt_, insert_dl_attempt_sql},
    {&select_dl_attempts_, select_dl_attempts_sql},
    {&select_recent_dead_letters_, select_recent_dead_letters_sql},
    {&select_latest_dead_letter_, select_latest_dead_letter_sql},
    {&mark_redriven_, mark_redriven_sql},
    {&dead_letter_exists_, dead_letter_exists_sql},
    {&delete_dl_attempts_of_job_, delete_dl_attempts_of_job_sql},
    {&delete_dead_letters_, delete_dead_letters_sql},
    {&delete_job_, delete_job_sql},
    {&delete_result_, delete_result_sql},
    {&delete_claims_of_job_, delete_claims_of_job_sql},
    {&delete_attempts_of_job_, delete_attempts_of_job_sql},
    {&delete_keys_of_job_, delete_keys_of_job_sql},
    {&delete_old_keys_, delete_old_keys_sql},
    {&select_key_, select_key_sql},
    {&select_reuse_, select_reuse_sql},
    {&insert_key_, insert_key_sql},
    {&expire_jobs_, expire_jobs_sql},
    {&select_purgeable_, select_purgeable_sql},
    {&select_expiry_candidates_, select_expiry_candidates_sql},
    {&mark_purged_, mark_purged_sql},
  };
  for (auto& [stmt, sql] : all) {
    auto prepared = db_->prepare(sql);
    if (!prepared)
      return std::move(prepared.error());
    *stmt = std::move(*prepared);
  }
  return caf::none;
}

caf::error job_tables::run_done(statement& stmt, const char* what) {
  statement::use guard{stmt};
  auto rc = stmt.step();
  if (rc != SQLITE_DONE)
    return db_->fail(rc, what);
  return caf::none;
}

// -- transactions -------------------------------------------------------------

caf::error job_tables::begin() {
  return run_done(begin_, "begin transaction");
}

caf::error job_tables::commit() {
  return run_done(commit_, "commit");
}

caf::error job_tables::rollback() {
  // ROLLBACK without a transaction is an error in SQLite; after an automatic
  // rollback there is nothing left to undo.
  if (!db_->in_transaction())
    return caf::none;
  return run_done(rollback_, "rollback");
}

// -- writes -------------------------------------------------------------------

caf::error job_tables::bind_job(statement& stmt, const job& x) {
  auto rc = first_failure({
    stmt.bind(1, x.id),
    stmt.bind(2, x.owner),
    stmt.bind(3, x.filename),
    stmt.bind(4, x.content_type),
    stmt.bind(5, x.bucket),
    stmt.bind(6, x.key),
    stmt.bind(7, to_string(x.status)),
    stmt.bind(8, x.created_at),
    stmt.bind(9, x.updated_at),
    stmt.bind(10, x.object.bucket),
    stmt.bind(11, x.object.key),
    stmt.bind(12, x.object.version),
    stmt.bind(13, x.object.etag),
    // SQLite integers are signed 64 bit; the cast round-trips every value.
    stmt.bind(14, static_cast<int64_t>(x.object.size)),
    stmt.bind(15, static_cast<int64_t>(x.attempts)),
    stmt.bind(16, x.step),
    stmt.bind(17, x.next_attempt_at),
    stmt.bind(18, to_string(x.error_code)),
    stmt.bind(19, x.error_message),
    stmt.bind(20, static_cast<int64_t>(x.series)),
    stmt.bind(21, static_cast<int64_t>(x.priority)),
    stmt.bind(22, x.outputs),
    stmt.bind(23, x.object.sha256),
    stmt.bind(24, x.callback_url),
    stmt.bind(25, x.request_id),
  });
  if (rc != SQLITE_OK)
    return db_->fail(rc, "bind job " + x.id);
  return caf::none;
}

caf::expected<bool> job_tables::insert_job(const job& x) {
  statement::use guard{insert_job_};
  if (auto err = bind_job(insert_job_, x))
    return err;
  auto rc = insert_job_.step();
  if (rc == SQLITE_DONE)
    return true;
  // ABORT (the default conflict resolution) undoes this statement only, so
  // the other writes of the batch stay in the transaction.
  if (rc == SQLITE_CONSTRAINT_PRIMARYKEY)
    return messages::make_error(errc::duplicate, "job " + x.id + " exists");
  return db_->fail(rc, "insert job " + x.id);
}

caf::expected<std::vector<std::string>>
job_tables::find_key(const std::string& owner, const std::string& key,
                     int64_t since_ms) {
  statement::use guard{select_key_};
  auto rc = first_failure({select_key_.bind(1, owner),
                           select_key_.bind(2, key),
                           select_key_.bind(3, since_ms)});
  if (rc != SQLITE_OK)
    return db_->fail(rc, "bind idempotency key");
  rc = select_key_.step();
  if (rc == SQLITE_DONE)
    return std::vector<std::string>{};
  if (rc != SQLITE_ROW)
    return db_->fail(rc, "read idempotency key");
  return std::vector<std::string>{select_key_.column_text(0),
                                  select_key_.column_text(1)};
}

caf::expected<std::vector<std::string>>
job_tables::find_reuse(const std::string& owner, const std::string& sha256,
                       const std::string& recipe, const std::string& job_id) {
  statement::use guard{select_reuse_};
  auto rc = first_failure(
    {select_reuse_.bind(1, owner), select_reuse_.bind(2, sha256),
     select_reuse_.bind(3, recipe), select_reuse_.bind(4, job_id)});
  if (rc != SQLITE_OK)
    return db_->fail(rc, "bind reuse look-up");
  rc = select_reuse_.step();
  if (rc == SQLITE_DONE)
    return std::vector<std::string>{};
  if (rc != SQLITE_ROW)
    return db_->fail(rc, "read reuse look-up");
  return std::vector<std::string>{select_reuse_.column_text(0),
                                  select_reuse_.column_text(1)};
}

caf::expected<std::vector<std::string>>
job_tables::insert_keyed_job(const job& x, const std::string& key,
                             const std::string& request_hash,
                             int64_t since_ms) {
  using result = std::vector<std::string>;
  return in_savepoint<result>([&]() -> caf::expected<result> {
    {
      statement::use guard{delete_old_keys_};
      auto rc = delete_old_keys_.bind(1, since_ms);
      if (rc != SQLITE_OK)
        return db_->fail(rc, "bind key expiry");
      rc = delete_old_keys_.step();
      if (rc != SQLITE_DONE)
        return db_->fail(rc, "delete expired idempotency keys");
    }
    auto earlier = find_key(x.owner, key, since_ms);
    if (!earlier || !earlier->empty())
      return earlier;
    if (auto ok = insert_job(x); !ok)
      return std::move(ok.error());
    statement::use guard{insert_key_};
    auto rc = first_failure({insert_key_.bind(1, x.owner),
                             insert_key_.bind(2, key),
                             insert_key_.bind(3, request_hash),
                             insert_key_.bind(4, x.id),
                             insert_key_.bind(5, x.created_at)});
    if (rc != SQLITE_OK)
      return db_->fail(rc, "bind idempotency key");
    rc = insert_key_.step();
    if (rc != SQLITE_DONE)
      return db_->fail(rc, "insert idempotency key");
    return result{x.id, request_hash};
  });
}

caf::expected<bool> job_tables::update_job(const job& x) {
  statement::use guard{update_job_};
  if (auto err = bind_job(update_job_, x))
    return err;
  auto rc = update_job_.step();
  if (rc != SQLITE_DONE)
    return db_->fail(rc, "update job " + x.id);
  if (db_->changes() == 0)
    return messages::make_error(errc::not_found, "no job " + x.id);
  return true;
}

caf::expected<bool> job_tables::insert_result(const job_result& x) {
  statement::use guard{insert_result_};
  auto rc = first_failure({
    insert_result_.bind(1, x.job_id),
    insert_result_.bind(2, x.metadata),
    insert_result_.bind(3, x.summary),
    insert_result_.bind(4, x.created_at),
    insert_result_.bind(5, x.outputs),
  });
  if (rc != SQLITE_OK)
    return db_->fail(rc, "bind result " + x.job_id);
  rc = insert_result_.step();
  if (rc != SQLITE_DONE)
    return db_->fail(rc, "insert result " + x.job_id);
  // OR IGNORE turns a conflict into "no row changed": the first write wins.
  return db_->changes() == 1;
}

caf::expected<bool> job_tables::insert_result(const job_result& r,
                                              const job& x) {
  if (auto err = check_owner("result", r.job_id, x))
    return err;
  return in_savepoint<bool>([&] { return insert_result_unguarded(r, x); });
}

caf::expected<bool> job_tables::insert_result(const attempt_record& a,
                                              const job_result& r,
                                              const job& x) {
  if (auto err = check_owner("attempt", a.job_id, x))
    return err;
  if (auto err = check_owner("result", r.job_id, x))
    return err;
  return in_savepoint<bool>([&]() -> caf::expected<bool> {
    if (auto recorded = insert_attempt(a); !recorded)
      return recorded;
    return insert_result_unguarded(r, x);
  });
}

caf::expected<bool> job_tables::insert_result_unguarded(const job_result& r,
                                                        const job& x) {
  auto inserted = insert_result(r);
  if (!inserted)
    return inserted;
  if (auto updated = update_job(x); !updated)
    return updated;
  return inserted;
}

caf::error job_tables::check_owner(const char* what, const std::string& owner,
                                   const job& x) {
  if (owner == x.id)
    return caf::none;
  return messages::make_error(errc::invalid_argument,
                              std::string{what} + " of " + owner
                                + " does not belong to job " + x.id);
}

caf::expected<bool> job_tables::insert_claim(const std::string& key,
                                             const std::string& job_id,
                                             int64_t now_ms) {
  statement::use guard{insert_claim_};
  auto rc = first_failure({
    insert_claim_.bind(1, key),
    insert_claim_.bind(2, job_id),
    insert_claim_.bind(3, now_ms),
  });
  if (rc != SQLITE_OK)
    return db_->fail(rc, "bind claim " + key);
  rc = insert_claim_.step();
  if (rc != SQLITE_DONE)
    return db_->fail(rc, "insert claim " + key);
  return db_->changes() == 1;
}

template <class T, class Op>
caf::expected<T> job_tables::in_savepoint(Op op) {
  if (auto err = run_done(savepoint_, "savepoint"))
    return err;
  caf::expected<T> result = op();
  // After an automatic rollback (I/O error, disk full) the savepoint is gone
  // with the transaction; the job store then fails the whole batch.
  if (!db_->in_transaction())
    return result;
  if (!result) {
    if (auto err = run_done(rollback_to_, "rollback to savepoint")) {
      // Never let a half-done write reach COMMIT: give up the transaction,
      // which makes the job store fail every write of the batch.
      static_cast<void>(rollback());
      return err;
    }
  }
  // After ROLLBACK TO the savepoint is still open (and empty): RELEASE it.
  if (auto err = run_done(release_, "release savepoint")) {
    static_cast<void>(rollback());
    return err;
  }
  return result;
}

caf::error job_tables::bind_attempt(statement& stmt, int first,
                                    const attempt_record& x) {
  static_assert(attempt_columns == 14, "bind_attempt must bind every column");
  auto rc = first_failure({
    stmt.bind(first, x.job_id),
    stmt.bind(first + 1, static_cast<int64_t>(x.lease_id)),
    stmt.bind(first + 2, x.object_version),
    stmt.bind(first + 3, static_cast<int64_t>(x.series)),
    stmt.bind(first + 4, to_string(x.kind)),
    stmt.bind(first + 5, static_cast<int64_t>(x.attempt)),
    stmt.bind(first + 6, int64_t{x.ok ? 1 : 0}),
    stmt.bind(first + 7, x.output),
    stmt.bind(first + 8, to_string(x.error_code)),
    stmt.bind(first + 9, x.error_message),
    stmt.bind(first + 10, x.worker),
    stmt.bind(first + 11, x.finished_at),
    stmt.bind(first + 12, static_cast<int64_t>(x.duration_us)),
    stmt.bind(first + 13, x.leased_at),
  });
  if (rc != SQLITE_OK)
    return db_->fail(rc, "bind attempt of " + x.job_id);
  return caf::none;
}

caf::expected<bool> job_tables::insert_attempt(const attempt_record& x) {
  statement::use guard{insert_attempt_};
  if (auto err = bind_attempt(insert_attempt_, 1, x))
    return err;
  auto rc = insert_attempt_.step();
  if (rc != SQLITE_DONE)
    return db_->fail(rc, "insert attempt of " + x.job_id);
  return true;
}

caf::expected<bool> job_tables::bury(const dead_letter& dl, const job& x) {
  if (auto err = check_owner("dead letter", dl.job_id, x))
    return err;
  return in_savepoint<bool>([&] { return bury_unguarded(dl, x); });
}

caf::expected<bool> job_tables::bury_unguarded(const dead_letter& dl,
                                               const job& x) {
  // The job first: if it does not exist, nothing else runs.
  auto updated = update_job(x);
  if (!updated)
    return updated;
  auto what = "dead letter " + dl.job_id + "/" + std::to_string(dl.series);
  {
    statement::use guard{upsert_dead_letter_};
    auto& stmt = upsert_dead_letter_;
    static_assert(dead_letter_columns == 14, "bury must bind every column");
    auto rc = first_failure({
      stmt.bind(1, dl.job_id),
      stmt.bind(2, static_cast<int64_t>(dl.series)),
      stmt.bind(3, dl.object.bucket),
      stmt.bind(4, dl.object.key),
      stmt.bind(5, dl.object.version),
      stmt.bind(6, dl.object.etag),
      stmt.bind(7, static_cast<int64_t>(dl.object.size)),
      stmt.bind(8, dl.filename),
      stmt.bind(9, to_string(dl.kind)),
      stmt.bind(10, to_string(dl.error_code)),
      stmt.bind(11, dl.error_message),
      stmt.bind(12, dl.probe_output),
      stmt.bind(13, dl.created_at),
      stmt.bind(14, dl.redriven_at),
    });
    if (rc != SQLITE_OK)
      return db_->fail(rc, "bind " + what);
    rc = stmt.step();
    if (rc != SQLITE_DONE)
      return db_->fail(rc, "store " + what);
  }
  {
    // The replaced record's attempts go with it.
    statement::use guard{delete_dl_attempts_of_series_};
    auto rc = first_failure({
      delete_dl_attempts_of_series_.bind(1, dl.job_id),
      delete_dl_attempts_of_series_.bind(2, static_cast<int64_t>(dl.series)),
    });
    if (rc != SQLITE_OK)
      return db_->fail(rc, "bind attempts of " + what);
    rc = delete_dl_attempts_of_series_.step();
    if (rc != SQLITE_DONE)
      return db_->fail(rc, "replace attempts of " + what);
  }
  for (size_t i = 0; i < dl.attempts.size(); ++i) {
    statement::use guard{insert_dl_attempt_};
    auto rc = first_failure({
      insert_dl_attempt_.bind(1, dl.job_id),
      insert_dl_attempt_.bind(2, static_cast<int64_t>(dl.series)),
      insert_dl_attempt_.bind(3, static_cast<int64_t>(i)),
    });
    if (rc != SQLITE_OK)
      return db_->fail(rc, "bind attempts of " + what);
    if (auto err = bind_attempt(insert_dl_attempt_, 4, dl.attempts[i]))
      return err;
    rc = insert_dl_attempt_.step();
    if (rc != SQLITE_DONE)
      return db_->fail(rc, "store attempts of " + what);
  }
  return true;
}

caf::expected<bool> job_tables::mark_redriven(const std::string& job_id,
                                              uint32_t series, int64_t at_ms) {
  auto what = "dead letter " + job_id + "/" + std::to_string(series);
  if (at_ms == 0)
    return messages::make_error(errc::invalid_argument,
                                "cannot mark " + what + " redriven at 0");
  {
    statement::use guard{mark_redriven_};
    auto rc = first_failure({
      mark_redriven_.bind(1, job_id),
      mark_redriven_.bind(2, static_cast<int64_t>(series)),
      mark_redriven_.bind(3, at_ms),
    });
    if (rc != SQLITE_OK)
      return db_->fail(rc, "bind " + what);
    rc = mark_redriven_.step();
    if (rc != SQLITE_DONE)
      return db_->fail(rc, "mark " + what + " redriven");
    if (db_->changes() == 1)
      return true;
  }
  // Nothing changed: redriven before, or no such record.
  statement::use guard{dead_letter_exists_};
  auto rc = first_failure({
    dead_letter_exists_.bind(1, job_id),
    dead_letter_exists_.bind(2, static_cast<int64_t>(series)),
  });
  if (rc != SQLITE_OK)
    return db_->fail(rc, "bind " + what);
  rc = dead_letter_exists_.step();
  if (rc == SQLITE_ROW)
    return false;
  if (rc == SQLITE_DONE)
    return messages::make_error(errc::not_found, "no " + what);
  return db_->fail(rc, "select " + what);
}

caf::expected<bool>
job_tables::remove_dead_letters(const std::string& job_id) {
  return in_savepoint<bool>(
    [&] { return remove_dead_letters_unguarded(job_id); });
}

caf::expected<bool>
job_tables::remove_dead_letters_unguarded(const std::string& job_id) {
  {
    statement::use guard{delete_dl_attempts_of_job_};
    auto rc = delete_dl_attempts_of_job_.bind(1, job_id);
    if (rc != SQLITE_OK)
      return db_->fail(rc, "bind dead letter id " + job_id);
    rc = delete_dl_attempts_of_job_.step();
    if (rc != SQLITE_DONE)
      return db_->fail(rc, "remove dead letter attempts of " + job_id);
  }
  statement::use guard{delete_dead_letters_};
  auto rc = delete_dead_letters_.bind(1, job_id);
  if (rc != SQLITE_OK)
    return db_->fail(rc, "bind dead letter id " + job_id);
  rc = delete_dead_letters_.step();
  if (rc != SQLITE_DONE)
    return db_->fail(rc, "remove dead letters of " + job_id);
  return db_->changes() > 0;
}

caf::expected<bool> job_tables::erase_job(const std::string& id) {
  return in_savepoint<bool>([&]() -> caf::expected<bool> {
    if (auto gone = remove_dead_letters_unguarded(id); !gone)
      return gone;
    for (auto* stmt : {&delete_result_, &delete_claims_of_job_,
                       &delete_attempts_of_job_, &delete_keys_of_job_,
                       &delete_job_}) {
      statement::use guard{*stmt};
      auto rc = stmt->bind(1, id);
      if (rc != SQLITE_OK)
        return db_->fail(rc, "bind job id " + id);
      rc = stmt->step();
      if (rc != SQLITE_DONE)
        return db_->fail(rc, "erase records of job " + id);
    }
    // The last statement removed the job row itself.
    return db_->changes() > 0;
  });
}

caf::expected<uint64_t>
job_tables::expire_jobs(const std::vector<job>& xs) {
  uint64_t n = 0;
  for (auto& x : xs) {
    statement::use guard{expire_jobs_};
    auto rc = first_failure({
      expire_jobs_.bind(1, x.id),
      expire_jobs_.bind(2, to_string(x.status)),
      expire_jobs_.bind(3, x.updated_at),
      expire_jobs_.bind(4, to_string(x.error_code)),
      expire_jobs_.bind(5, x.error_message),
    });
    if (rc != SQLITE_OK)
      return db_->fail(rc, "bind expiry of " + x.id);
    rc = expire_jobs_.step();
    if (rc != SQLITE_DONE)
      return db_->fail(rc, "expire job " + x.id);
    n += static_cast<uint64_t>(db_->changes());
  }
  return n;
}

caf::expected<std::vector<job>>
job_tables::expiry_candidates(int64_t before_ms, uint32_t limit) {
  statement::use guard{select_expiry_candidates_};
  auto rc = first_failure({
    select_expiry_candidates_.bind(1, before_ms),
    select_expiry_candidates_.bind(2, static_cast<int64_t>(limit)),
  });
  if (rc != SQLITE_OK)
    return db_->fail(rc, "bind expiry candidates");
  return read_jobs(select_expiry_candidates_, "select expiry candidates");
}

caf::expected<bool> job_tables::mark_purged(const std::string& id,
                                            int64_t at_ms) {
  statement::use guard{mark_purged_};
  auto rc = first_failure({
    mark_purged_.bind(1, id),
    mark_purged_.bind(2, at_ms),
  });
  if (rc != SQLITE_OK)
    return db_->fail(rc, "bind purge");
  rc = mark_purged_.step();
  if (rc != SQLITE_DONE)
    return db_->fail(rc, "mark purged " + id);
  return db_->changes() > 0;
}

// -- reads --------------------------------------------------------------------

std::string job_tables::job_column_list(const std::string& alias) {
  std::string cols = job_column_names;
  if (alias.empty())
    return cols;
  std::string out;
  size_t pos = 0;
  while (pos < cols.size()) {
    auto end = cols.find(',', pos);
    if (end == std::string::npos)
      end = cols.size();
    auto name = cols.substr(pos, end - pos);
    name.erase(0, name.find_first_not_of(' '));
    if (!out.empty())
      out += ", ";
    out += alias + "." + name;
    pos = end + 1;
  }
  return out;
}

caf::expected<job> job_tables::read_job(statement& stmt) {
  static_assert(job_columns == 25, "read_job must read every column");
  job x;
  x.id = stmt.column_text(0);
  x.owner = stmt.column_text(1);
  x.filename = stmt.column_text(2);
  x.content_type = stmt.column_text(3);
  x.bucket = stmt.column_text(4);
  x.key = stmt.column_text(5);
  auto status = stmt.column_text(6);
  if (!from_string(status, x.status))
    return messages::make_error(
      errc::internal, "job " + x.id + " has unknown status '" + status + "'");
  x.created_at = stmt.column_int64(7);
  x.updated_at = stmt.column_int64(8);
  x.object.bucket = stmt.column_text(9);
  x.object.key = stmt.column_text(10);
  x.object.version = stmt.column_text(11);
  x.object.etag = stmt.column_text(12);
  x.object.size = static_cast<uint64_t>(stmt.column_int64(13));
  x.attempts = static_cast<uint32_t>(stmt.column_int64(14));
  x.step = stmt.column_text(15);
  x.next_attempt_at = stmt.column_int64(16);
  x.error_code = messages::errc_from_string(stmt.column_text(17));
  x.error_message = stmt.column_text(18);
  x.series = static_cast<uint32_t>(stmt.column_int64(19));
  x.priority = static_cast<int32_t>(stmt.column_int64(20));
  x.outputs = stmt.column_text(21);
  x.object.sha256 = stmt.column_text(22);
  x.callback_url = stmt.column_text(23);
  x.request_id = stmt.column_text(24);
  return x;
}

caf::expected<std::vector<job>> job_tables::read_jobs(statement& stmt,
                                                      const char* what) {
  std::vector<job> result;
  for (;;) {
    auto rc = stmt.step();
    if (rc == SQLITE_DONE)
      return result;
    if (rc != SQLITE_ROW)
      return db_->fail(rc, what);
    auto x = read_job(stmt);
    if (!x)
      return std::move(x.error());
    result.emplace_back(std::move(*x));
  }
}

caf::expected<job> job_tables::find_job(const std::string& id) {
  statement::use guard{select_job_};
  auto rc = select_job_.bind(1, id);
  if (rc != SQLITE_OK)
    return db_->fail(rc, "bind job id " + id);
  rc = select_job_.step();
  if (rc == SQLITE_ROW)
    return read_job(select_job_);
  if (rc == SQLITE_DONE)
    return messages::make_error(errc::not_found, "no job " + id);
  return db_->fail(rc, "select job " + id);
}

caf::expected<std::vector<job>>
job_tables::recent_jobs(const std::string& owner, uint32_t limit,
                        const std::string& kind) {
  if (auto problem = messages::listing_kind_problem(owner, kind))
    return messages::make_error(errc::invalid_argument, *problem);
  auto& stmt = owner.empty()                         ? select_recent_
               : kind == messages::kind_composition ? select_compositions_by_owner_
               : kind == messages::kind_asset       ? select_assets_by_owner_
                                                    : select_recent_by_owner_;
  statement::use guard{stmt};
  auto rc = stmt.bind(1, static_cast<int64_t>(limit));
  if (rc == SQLITE_OK && !owner.empty())
    rc = stmt.bind(2, owner);
  if (rc != SQLITE_OK)
    return db_->fail(rc, "bind history");
  return read_jobs(stmt, "select history");
}

caf::expected<std::vector<job>>
job_tables::purgeable_jobs(int64_t before_ms, uint32_t limit) {
  statement::use guard{select_purgeable_};
  auto rc = first_failure({
    select_purgeable_.bind(1, before_ms),
    select_purgeable_.bind(2, static_cast<int64_t>(limit)),
  });
  if (rc != SQLITE_OK)
    return db_->fail(rc, "bind purgeable");
  return read_jobs(select_purgeable_, "select purgeable jobs");
}

caf::expected<std::vector<job>>
job_tables::find_jobs(const messages::job_query& q) {
  if (auto problem = messages::job_query_problem(q))
    return messages::make_error(errc::invalid_argument, *problem);
  auto limit = static_cast<int64_t>(q.limit);
  auto& stmt = !q.owner.empty()  ? search_by_owner_
               : !q.status.empty() ? search_in_status_
                                   : search_by_name_;
  statement::use guard{stmt};
  auto rc = !q.owner.empty()
              ? first_failure({stmt.bind(1, q.owner), stmt.bind(2, q.status),
                               stmt.bind(3, q.name), stmt.bind(4, limit)})
            : !q.status.empty()
              ? first_failure({stmt.bind(1, q.status), stmt.bind(2, q.name),
                               stmt.bind(3, limit)})
              : first_failure({stmt.bind(1, q.name), stmt.bind(2, limit)});
  if (rc != SQLITE_OK)
    return db_->fail(rc, "bind job search");
  return read_jobs(stmt, "select job search");
}

caf::expected<std::vector<job>> job_tables::active_jobs() {
  statement::use guard{select_active_};
  return read_jobs(select_active_, "select active jobs");
}

caf::expected<messages::status_counts> job_tables::count_jobs() {
  statement::use guard{count_by_status_};
  messages::status_counts result(messages::job_status_count, 0);
  for (;;) {
    auto rc = count_by_status_.step();
    if (rc == SQLITE_DONE)
      return result;
    if (rc != SQLITE_ROW)
      return db_->fail(rc, "count jobs");
    auto name = count_by_status_.column_text(0);
    job_status status;
    if (!from_string(name, status))
      return messages::make_error(
        errc::internal, "jobs table holds unknown status '" + name + "'");
    result[static_cast<size_t>(status)]
      = static_cast<uint64_t>(count_by_status_.column_int64(1));
  }
}

caf::expected<messages::user_usage>
job_tables::usage_of(const std::string& owner) {
  statement::use guard{usage_by_owner_};
  auto rc = usage_by_owner_.bind(1, owner);
  if (rc != SQLITE_OK)
    return db_->fail(rc, "bind usage owner");
  rc = usage_by_owner_.step();
  if (rc != SQLITE_ROW)
    return db_->fail(rc, "select usage of " + owner);
  messages::user_usage result;
  result.jobs_in_flight
    = static_cast<uint64_t>(usage_by_owner_.column_int64(0));
  result.bytes_stored = static_cast<uint64_t>(usage_by_owner_.column_int64(1));
  return result;
}

caf::expected<job_result> job_tables::find_result(const std::string& job_id) {
  statement::use guard{select_result_};
  auto rc = select_result_.bind(1, job_id);
  if (rc != SQLITE_OK)
    return db_->fail(rc, "bind result id " + job_id);
  rc = select_result_.step();
  if (rc == SQLITE_DONE)
    return messages::make_error(errc::not_found, "no result for " + job_id);
  if (rc != SQLITE_ROW)
    return db_->fail(rc, "select result " + job_id);
  job_result x;
  x.job_id = select_result_.column_text(0);
  x.metadata = select_result_.column_text(1);
  x.summary = select_result_.column_text(2);
  x.created_at = select_result_.column_int64(3);
  x.outputs = select_result_.column_text(4);
  return x;
}

caf::expected<attempt_record> job_tables::read_attempt(statement& stmt,
                                                       int first) {
  static_assert(attempt_columns == 14, "read_attempt must read every column");
  attempt_record x;
  x.job_id = stmt.column_text(first);
  x.lease_id = static_cast<uint64_t>(stmt.column_int64(first + 1));
  x.object_version = stmt.column_text(first + 2);
  x.series = static_cast<uint32_t>(stmt.column_int64(first + 3));
  auto kind = stmt.column_text(first + 4);
  if (!from_string(kind, x.kind))
    return messages::make_error(errc::internal, "attempt of " + x.job_id
                                                  + " has unknown kind '"
                                                  + kind + "'");
  x.attempt = static_cast<uint32_t>(stmt.column_int64(first + 5));
  x.ok = stmt.column_int64(first + 6) != 0;
  x.output = stmt.column_text(first + 7);
  x.error_code = messages::errc_from_string(stmt.column_text(first + 8));
  x.error_message = stmt.column_text(first + 9);
  x.worker = stmt.column_text(first + 10);
  x.finished_at = stmt.column_int64(first + 11);
  x.duration_us = static_cast<uint64_t>(stmt.column_int64(first + 12));
  x.leased_at = stmt.column_int64(first + 13);
  return x;
}

caf::expected<std::vector<attempt_record>>
job_tables::find_attempts(const std::string& job_id) {
  statement::use guard{select_attempts_};
  auto rc = select_attempts_.bind(1, job_id);
  if (rc != SQLITE_OK)
    return db_->fail(rc, "bind attempts id " + job_id);
  std::vector<attempt_record> result;
  for (;;) {
    rc = select_attempts_.step();
    if (rc == SQLITE_DONE)
      return result;
    if (rc != SQLITE_ROW)
      return db_->fail(rc, "select attempts of " + job_id);
    auto x = read_attempt(select_attempts_, 0);
    if (!x)
      return std::move(x.error());
    result.emplace_back(std::move(*x));
  }
}

caf::expected<std::vector<messages::job_event>>
job_tables::find_events(const std::string& job_id, uint64_t after_seq) {
  statement::use guard{select_events_};
  auto rc = select_events_.bind(1, job_id);
  if (rc == SQLITE_OK)
    rc = select_events_.bind(2, static_cast<int64_t>(
                                  std::min<uint64_t>(after_seq, INT64_MAX)));
  if (rc != SQLITE_OK)
    return db_->fail(rc, "bind events of " + job_id);
  std::vector<messages::job_event> result;
  for (;;) {
    rc = select_events_.step();
    if (rc == SQLITE_DONE)
      return result;
    if (rc != SQLITE_ROW)
      return db_->fail(rc, "select events of " + job_id);
    messages::job_event x;
    x.seq = static_cast<uint64_t>(select_events_.column_int64(0));
    auto status = select_events_.column_text(1);
    if (!from_string(status, x.status))
      return messages::make_error(errc::internal, "event of " + job_id
                                                    + " has unknown status '"
                                                    + status + "'");
    x.series = static_cast<uint32_t>(select_events_.column_int64(2));
    x.at = select_events_.column_int64(3);
    x.error_code = messages::errc_from_string(select_events_.column_text(4));
    result.emplace_back(std::move(x));
  }
}

caf::expected<std::vector<messages::delivery>>
job_tables::read_deliveries(statement& stmt, const char* what) {
  std::vector<messages::delivery> result;
  for (;;) {
    auto rc = stmt.step();
    if (rc == SQLITE_DONE)
      return result;
    if (rc != SQLITE_ROW)
      return db_->fail(rc, what);
    messages::delivery x;
    x.id = stmt.column_text(0);
    x.job_id = stmt.column_text(1);
    x.owner = stmt.column_text(2);
    x.url = stmt.column_text(3);
    x.body = stmt.column_text(4);
    x.state = stmt.column_text(5);
    x.attempts = static_cast<uint32_t>(stmt.column_int64(6));
    x.next_at = stmt.column_int64(7);
    x.created_at = stmt.column_int64(8);
    x.last_status = static_cast<uint32_t>(stmt.column_int64(9));
    x.last_error = stmt.column_text(10);
    x.delivered_at = stmt.column_int64(11);
    result.emplace_back(std::move(x));
  }
}

caf::expected<std::vector<messages::delivery>>
job_tables::due_deliveries(int64_t now_ms, uint32_t limit) {
  statement::use guard{select_due_deliveries_};
  auto rc = select_due_deliveries_.bind(1, now_ms);
  if (rc == SQLITE_OK)
    rc = select_due_deliveries_.bind(2, static_cast<int64_t>(limit));
  if (rc != SQLITE_OK)
    return db_->fail(rc, "bind due deliveries");
  return read_deliveries(select_due_deliveries_, "select due deliveries");
}

caf::expected<std::vector<messages::delivery>>
job_tables::job_deliveries(const std::string& job_id) {
  statement::use guard{select_job_deliveries_};
  auto rc = select_job_deliveries_.bind(1, job_id);
  if (rc != SQLITE_OK)
    return db_->fail(rc, "bind deliveries of " + job_id);
  return read_deliveries(select_job_deliveries_,
                         "select deliveries of a job");
}

caf::expected<bool> job_tables::record_delivery(const messages::delivery& x) {
  statement::use guard{update_delivery_};
  auto rc = first_failure({
    update_delivery_.bind(1, x.id),
    update_delivery_.bind(2, x.state),
    update_delivery_.bind(3, static_cast<int64_t>(x.attempts)),
    update_delivery_.bind(4, x.next_at),
    update_delivery_.bind(5, static_cast<int64_t>(x.last_status)),
    update_delivery_.bind(6, x.last_error),
    update_delivery_.bind(7, x.delivered_at),
  });
  if (rc != SQLITE_OK)
    return db_->fail(rc, "bind delivery " + x.id);
  rc = update_delivery_.step();
  if (rc != SQLITE_DONE)
    return db_->fail(rc, "update delivery " + x.id);
  return sqlite3_changes(db_->native()) > 0;
}

caf::expected<dead_letter> job_tables::read_dead_letter(statement& stmt) {
  static_assert(dead_letter_columns == 14,
                "read_dead_letter must read every column");
  dead_letter x;
  x.job_id = stmt.column_text(0);
  x.series = static_cast<uint32_t>(stmt.column_int64(1));
  x.object.bucket = stmt.column_text(2);
  x.object.key = stmt.column_text(3);
  x.object.version = stmt.column_text(4);
  x.object.etag = stmt.column_text(5);
  x.object.size = static_cast<uint64_t>(stmt.column_int64(6));
  x.filename = stmt.column_text(7);
  auto kind = stmt.column_text(8);
  if (!from_string(kind, x.kind))
    return messages::make_error(errc::internal, "dead letter of " + x.job_id
                                                  + " has unknown kind '"
                                                  + kind + "'");
  x.error_code = messages::errc_from_string(stmt.column_text(9));
  x.error_message = stmt.column_text(10);
  x.probe_output = stmt.column_text(11);
  x.created_at = stmt.column_int64(12);
  x.redriven_at = stmt.column_int64(13);
  return x;
}

caf::error job_tables::load_dead_letter_attempts(dead_letter& dl) {
  statement::use guard{select_dl_attempts_};
  auto what = "attempts of dead letter " + dl.job_id + "/"
              + std::to_string(dl.series);
  auto rc = first_failure({
    select_dl_attempts_.bind(1, dl.job_id),
    select_dl_attempts_.bind(2, static_cast<int64_t>(dl.series)),
  });
  if (rc != SQLITE_OK)
    return db_->fail(rc, "bind " + what);
  for (;;) {
    rc = select_dl_attempts_.step();
    if (rc == SQLITE_DONE)
      return caf::none;
    if (rc != SQLITE_ROW)
      return db_->fail(rc, "select " + what);
    auto x = read_attempt(select_dl_attempts_, 0);
    if (!x)
      return std::move(x.error());
    dl.attempts.emplace_back(std::move(*x));
  }
}

// Both reads below load the attempts while the outer SELECT is still active,
// so that a record and its attempts come from one read transaction.

caf::expected<std::vector<dead_letter>>
job_tables::recent_dead_letters(int64_t since_ms, uint32_t limit) {
  statement::use guard{select_recent_dead_letters_};
  auto& stmt = select_recent_dead_letters_;
  auto rc = first_failure({
    stmt.bind(1, since_ms),
    stmt.bind(2, static_cast<int64_t>(limit)),
  });
  if (rc != SQLITE_OK)
    return db_->fail(rc, "bind dead letter window");
  std::vector<dead_letter> result;
  for (;;) {
    rc = stmt.step();
    if (rc == SQLITE_DONE)
      return result;
    if (rc != SQLITE_ROW)
      return db_->fail(rc, "select dead letters");
    auto x = read_dead_letter(stmt);
    if (!x)
      return std::move(x.error());
    if (auto err = load_dead_letter_attempts(*x))
      return err;
    result.emplace_back(std::move(*x));
  }
}

caf::expected<dead_letter>
job_tables::latest_dead_letter(const std::string& job_id) {
  statement::use guard{select_latest_dead_letter_};
  auto& stmt = select_latest_dead_letter_;
  auto rc = stmt.bind(1, job_id);
  if (rc != SQLITE_OK)
    return db_->fail(rc, "bind dead letter id " + job_id);
  rc = stmt.step();
  if (rc == SQLITE_DONE)
    return messages::make_error(errc::not_found, "no dead letter of " + job_id);
  if (rc != SQLITE_ROW)
    return db_->fail(rc, "select dead letter of " + job_id);
  auto x = read_dead_letter(stmt);
  if (!x)
    return x;
  if (auto err = load_dead_letter_attempts(*x))
    return err;
  return x;
}

} // namespace vf::adapters::sqlite
