// vf/adapters/sqlite/database.hpp
//
// A thin RAII layer over the SQLite C API: one owned connection, owned
// prepared statements, and every failing return code turned into a
// `caf::error` whose message names what failed and what SQLite said.

#pragma once

#include "vf/messages/errc.hpp"

#include "caf/error.hpp"
#include "caf/expected.hpp"

#include <cstdint>
#include <memory>
#include <string>

struct sqlite3;
struct sqlite3_stmt;

namespace vf::adapters::sqlite {

/// An owned prepared statement; finalized on destruction, reused via `run`.
class statement {
public:
  /// Resets a statement when a use of it ends, so that a finished or failed
  /// SELECT never keeps a read transaction (and WAL snapshot) open.
  class use {
  public:
    /// Starts a use of `stmt`, which must be reset already.
    explicit use(statement& stmt) : stmt_(&stmt) {
      // nop
    }

    use(const use&) = delete;
    use& operator=(const use&) = delete;

    /// Resets the statement and clears its bindings.
    ~use();

  private:
    statement* stmt_;
  };

  /// Creates an empty statement; only assignment makes it usable.
  statement() = default;

  /// Takes ownership of `ptr`.
  explicit statement(sqlite3_stmt* ptr) : ptr_(ptr) {
    // nop
  }

  statement(statement&& other) noexcept;
  statement& operator=(statement&& other) noexcept;
  statement(const statement&) = delete;
  statement& operator=(const statement&) = delete;

  /// Finalizes the statement.
  ~statement();

  /// Binds `x` to the 1-based parameter `index`; returns an SQLite code.
  [[nodiscard]] int bind(int index, int64_t x);

  /// Binds a copy of `x` to the 1-based parameter `index`; returns an SQLite
  /// code. The copy keeps binding valid even if `x` dies before `step`.
  [[nodiscard]] int bind(int index, const std::string& x);

  /// Advances the statement: SQLITE_ROW, SQLITE_DONE or an error code.
  [[nodiscard]] int step();

  /// Returns column `col` of the current row as an integer.
  int64_t column_int64(int col);

  /// Returns column `col` of the current row as a floating-point number.
  double column_double(int col);

  /// Returns column `col` of the current row as text (embedded NULs kept).
  std::string column_text(int col);

  /// Returns the native handle.
  sqlite3_stmt* native() {
    return ptr_;
  }

private:
  sqlite3_stmt* ptr_ = nullptr;
};

/// An owned SQLite connection. Not thread-safe: exactly one thread (the job
/// store's detached actor) may use it at a time.
class database {
public:
  /// Opens (or creates) the database file at `path`. Fails with
  /// `storage_unavailable` and a message naming `path`.
  static caf::expected<std::unique_ptr<database>> open(const std::string& path);

  database(const database&) = delete;
  database& operator=(const database&) = delete;

  /// Closes the connection; an open transaction is rolled back by SQLite.
  ~database();

  /// Runs one or more SQL statements that return no rows of interest.
  /// `what` names the operation for the error message.
  [[nodiscard]] caf::error exec(const char* sql, const char* what);

  /// Compiles `sql` into a reusable statement.
  caf::expected<statement> prepare(const char* sql);

  /// Returns whether a transaction is open on this connection. SQLite may
  /// roll one back on its own after I/O, disk-full or out-of-memory errors.
  bool in_transaction() const;

  /// Returns the number of rows changed by the last INSERT/UPDATE/DELETE.
  int64_t changes() const;

  /// Builds an error carrying "<what>: <SQLite's message for rc>".
  caf::error fail(int rc, const std::string& what,
                  messages::errc code
                  = messages::errc::storage_unavailable) const;

  /// Returns the file path this connection was opened with.
  const std::string& path() const {
    return path_;
  }

  /// Returns the native handle.
  sqlite3* native() {
    return db_;
  }

private:
  database(sqlite3* db, std::string path);

  sqlite3* db_;
  std::string path_;
};

} // namespace vf::adapters::sqlite
