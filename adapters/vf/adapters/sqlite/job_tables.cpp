// vf/adapters/sqlite/job_tables.cpp

#include "vf/adapters/sqlite/job_tables.hpp"

#include "vf/adapters/sqlite/schema.hpp"
#include <sqlite3.h>

#include <utility>

namespace vf::adapters::sqlite {

namespace {

using messages::errc;
using messages::job;
using messages::job_result;
using messages::job_status;

// Column order shared by INSERT, SELECT and bind_job/read_job.
#define VF_JOB_COLUMNS                                                         \
  "id, owner, filename, content_type, bucket, \"key\", status, created_at, "   \
  "updated_at, object_bucket, object_key, object_version, object_etag, "       \
  "object_size, attempts, step, next_attempt_at, error_code, error_message"

/// Number of columns in VF_JOB_COLUMNS.
constexpr int job_columns = 19;

constexpr const char* insert_job_sql
  = "INSERT INTO jobs (" VF_JOB_COLUMNS ") VALUES "
    "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, "
    "?17, ?18, ?19)";

constexpr const char* update_job_sql
  = "UPDATE jobs SET owner = ?2, filename = ?3, content_type = ?4, "
    "bucket = ?5, \"key\" = ?6, status = ?7, created_at = ?8, "
    "updated_at = ?9, object_bucket = ?10, object_key = ?11, "
    "object_version = ?12, object_etag = ?13, object_size = ?14, "
    "attempts = ?15, step = ?16, next_attempt_at = ?17, error_code = ?18, "
    "error_message = ?19 WHERE id = ?1";

constexpr const char* select_job_sql
  = "SELECT " VF_JOB_COLUMNS " FROM jobs WHERE id = ?1";

// rowid breaks ties between jobs created in the same millisecond; the
// created_at index holds rowids, so the sort still comes from the index.
constexpr const char* select_recent_sql
  = "SELECT " VF_JOB_COLUMNS " FROM jobs "
    "ORDER BY created_at DESC, rowid DESC LIMIT ?1";

constexpr const char* select_active_sql
  = "SELECT " VF_JOB_COLUMNS " FROM jobs "
    "WHERE status IN ('SUBMITTED', 'PROCESSING') "
    "ORDER BY created_at, rowid";

#undef VF_JOB_COLUMNS

constexpr const char* count_by_status_sql
  = "SELECT status, COUNT(*) FROM jobs GROUP BY status";

constexpr const char* insert_result_sql
  = "INSERT OR IGNORE INTO results (job_id, metadata, summary, created_at) "
    "VALUES (?1, ?2, ?3, ?4)";

constexpr const char* select_result_sql
  = "SELECT job_id, metadata, summary, created_at FROM results "
    "WHERE job_id = ?1";

constexpr const char* insert_claim_sql
  = "INSERT OR IGNORE INTO claims (\"key\", job_id, claimed_at) "
    "VALUES (?1, ?2, ?3)";

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
    {&select_active_, select_active_sql},
    {&count_by_status_, count_by_status_sql},
    {&insert_result_, insert_result_sql},
    {&select_result_, select_result_sql},
    {&insert_claim_, insert_claim_sql},
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
    stmt.bind(18, x.error_code),
    stmt.bind(19, x.error_message),
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
  });
  if (rc != SQLITE_OK)
    return db_->fail(rc, "bind result " + x.job_id);
  rc = insert_result_.step();
  if (rc != SQLITE_DONE)
    return db_->fail(rc, "insert result " + x.job_id);
  // OR IGNORE turns a conflict into "no row changed": the first write wins.
  return db_->changes() == 1;
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

// -- reads --------------------------------------------------------------------

caf::expected<job> job_tables::read_job(statement& stmt) {
  static_assert(job_columns == 19, "read_job must read every column");
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
  x.error_code = stmt.column_text(17);
  x.error_message = stmt.column_text(18);
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

caf::expected<std::vector<job>> job_tables::recent_jobs(uint32_t limit) {
  statement::use guard{select_recent_};
  auto rc = select_recent_.bind(1, static_cast<int64_t>(limit));
  if (rc != SQLITE_OK)
    return db_->fail(rc, "bind history limit");
  return read_jobs(select_recent_, "select history");
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
  return x;
}

} // namespace vf::adapters::sqlite
