// vf/adapters/http/user_table.hpp
//
// The accounts that may log in, and the file that holds them. Every request
// with a bearer token looks its subject up here: a removed account's tokens
// stop working, the role comes from the table (not from the token), and a
// password change revokes every token issued before it, because each account
// carries a random `epoch` that access tokens repeat and that changes with
// the password. The running server notices a rewritten file within a second
// (`vidflow users` rewrites it atomically), so none of this needs a restart.
//
// File format (`<data.dir>/users.json`, mode 0600):
//
//   {"version": 1, "users": [{"name": "demo", "role": "user",
//     "password_hash": "$scrypt$N=32768,r=8,p=1$...$...",
//     "epoch": "<32 hex digits>"}]}

#pragma once

#include "caf/error.hpp"
#include "caf/expected.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vf::adapters::http {

/// One account as stored.
struct user_account {
  /// Login name; the token's `sub` and the jobs' owner.
  std::string name;
  /// `user` or `admin`.
  std::string role;
  /// Encoded password hash (see password_hash.hpp).
  std::string password_hash;
  /// Random hex; access tokens carry it as `gen` and are refused once it
  /// differs (password changed, account removed and created again).
  std::string epoch;
};

/// Returns a fresh epoch: 16 bytes from the OS CSPRNG as 32 hex digits.
[[nodiscard]] std::string new_user_epoch();

/// Returns an error naming what is wrong with `name` as a login name
/// (1..64 bytes of letters, digits, `.`, `_`, `-`, `@`), or none.
[[nodiscard]] caf::error check_user_name(std::string_view name);

/// Reads and validates a users file. `errc::not_found` if it does not
/// exist; `errc::invalid_argument` naming the file and the fault otherwise.
[[nodiscard]] caf::expected<std::vector<user_account>>
read_users_file(const std::string& path);

/// Parses and validates the text of a users file, as `read_users_file`
/// does; `origin` names it in errors (a path, or where the text came from).
[[nodiscard]] caf::expected<std::vector<user_account>>
parse_users_text(std::string_view text, const std::string& origin);

/// The text of a users file holding `users` (what `write_users_file`
/// writes).
[[nodiscard]] std::string users_text(const std::vector<user_account>& users);

/// Writes `users` to `path` atomically: a temporary file with mode 0600 in
/// the same directory, fsync, rename over `path`, fsync of the directory.
[[nodiscard]] caf::error write_users_file(const std::string& path,
                                          const std::vector<user_account>& users);

/// The accounts that may log in; thread-safe (every I/O thread reads it).
class user_table {
public:
  /// Receives notes about reloads: `trouble` is true when the file is
  /// missing or invalid (nobody can log in), false for a good reload.
  using log_fn = std::function<void(bool trouble, const std::string&)>;

  /// A table that never changes (tests, embedded servers).
  explicit user_table(std::vector<user_account> users);

  /// A table backed by the file at `path`: `find` re-reads it when its
  /// identity, size or modification time changed, checking at most once per
  /// distinct `now` second. Fails closed: a missing or invalid file means no
  /// accounts until it is fixed (and `log` says why).
  user_table(std::string path, log_fn log);

  user_table(const user_table&) = delete;
  user_table& operator=(const user_table&) = delete;

  /// Returns the account named `name` as of `now` (Unix seconds), if any.
  [[nodiscard]] std::optional<user_account> find(std::string_view name,
                                                 int64_t now) const;

  /// Returns the password hash of some account as of `now` (empty if there
  /// is none): logins for unknown names are checked against it, at the cost
  /// of a real check, and then refused whatever the outcome.
  [[nodiscard]] std::string sample_hash(int64_t now) const;

  /// Returns the number of accounts as of `now`.
  [[nodiscard]] size_t size(int64_t now) const;

private:
  struct file_id {
    uint64_t dev = 0;
    uint64_t ino = 0;
    int64_t size = -1;
    int64_t mtime_ns = 0;
    int64_t ctime_ns = 0;
    bool operator==(const file_id& other) const;
  };

  void refresh(int64_t now) const;

  std::string path_;
  log_fn log_;
  mutable std::mutex mtx_;
  mutable std::shared_ptr<const std::vector<user_account>> users_;
  mutable int64_t checked_at_ = INT64_MIN;
  mutable std::optional<file_id> seen_;
  mutable bool seen_missing_ = false;
};

} // namespace vf::adapters::http
