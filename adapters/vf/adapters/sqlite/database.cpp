// vf/adapters/sqlite/database.cpp

#include "vf/adapters/sqlite/database.hpp"

#include <sqlite3.h>

#include <utility>

namespace vf::adapters::sqlite {

// -- statement ----------------------------------------------------------------

statement::use::~use() {
  // Both calls only repeat the last step's error code, which the caller has
  // already turned into a caf::error; their results carry nothing new.
  sqlite3_reset(stmt_->ptr_);
  sqlite3_clear_bindings(stmt_->ptr_);
}

statement::statement(statement&& other) noexcept
  : ptr_(std::exchange(other.ptr_, nullptr)) {
  // nop
}

statement& statement::operator=(statement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(ptr_);
    ptr_ = std::exchange(other.ptr_, nullptr);
  }
  return *this;
}

statement::~statement() {
  // Finalizing a null pointer is a harmless no-op.
  sqlite3_finalize(ptr_);
}

int statement::bind(int index, int64_t x) {
  return sqlite3_bind_int64(ptr_, index, x);
}

int statement::bind(int index, const std::string& x) {
  return sqlite3_bind_text64(ptr_, index, x.data(), x.size(), SQLITE_TRANSIENT,
                             SQLITE_UTF8);
}

int statement::step() {
  return sqlite3_step(ptr_);
}

int64_t statement::column_int64(int col) {
  return sqlite3_column_int64(ptr_, col);
}

double statement::column_double(int col) {
  return sqlite3_column_double(ptr_, col);
}

std::string statement::column_text(int col) {
  // column_text before column_bytes: the documented order that yields the
  // byte length of the UTF-8 text.
  auto str = sqlite3_column_text(ptr_, col);
  auto len = sqlite3_column_bytes(ptr_, col);
  if (str == nullptr)
    return {};
  return std::string{reinterpret_cast<const char*>(str),
                     static_cast<size_t>(len)};
}

// -- database -----------------------------------------------------------------

database::database(sqlite3* db, std::string path)
  : db_(db), path_(std::move(path)) {
  // nop
}

database::~database() {
  // close_v2 defers the close until leftover statements are finalized, so
  // the member order of whoever owns statements does not matter.
  sqlite3_close_v2(db_);
}

caf::expected<std::unique_ptr<database>>
database::open(const std::string& path) {
  using messages::errc;
  if (path.empty())
    return messages::make_error(errc::invalid_argument,
                                "sqlite: empty database path");
  sqlite3* db = nullptr;
  // NOMUTEX: only the job store's detached actor uses the connection, so
  // SQLite's per-call locking would be pure overhead.
  auto flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  auto rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = "sqlite: cannot open database '" + path + "': ";
    msg += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    // Even a failed open may allocate a handle that must be released.
    sqlite3_close_v2(db);
    return messages::make_error(errc::storage_unavailable, std::move(msg));
  }
  // Extended codes tell a primary-key conflict apart from other constraint
  // failures; cannot fail on a valid handle.
  sqlite3_extended_result_codes(db, 1);
  return std::unique_ptr<database>{new database(db, path)};
}

caf::error database::exec(const char* sql, const char* what) {
  char* err = nullptr;
  auto rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
  if (rc == SQLITE_OK)
    return caf::none;
  std::string msg = what;
  msg += ": ";
  msg += err != nullptr ? err : sqlite3_errstr(rc);
  sqlite3_free(err);
  return messages::make_error(messages::errc::storage_unavailable,
                              std::move(msg));
}

caf::expected<statement> database::prepare(const char* sql) {
  sqlite3_stmt* ptr = nullptr;
  // PERSISTENT: these statements live as long as the actor does.
  auto rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &ptr,
                               nullptr);
  if (rc != SQLITE_OK)
    return fail(rc, std::string{"prepare '"} + sql + "'");
  return statement{ptr};
}

bool database::in_transaction() const {
  return sqlite3_get_autocommit(db_) == 0;
}

int64_t database::changes() const {
  return sqlite3_changes(db_);
}

caf::error database::fail(int rc, const std::string& what,
                          messages::errc code) const {
  // errmsg describes the most recent failure on this connection; fall back to
  // the generic text if a later call already overwrote it with "not an error".
  auto msg
    = sqlite3_errcode(db_) == rc ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
  return messages::make_error(code, what + ": " + msg);
}

} // namespace vf::adapters::sqlite
