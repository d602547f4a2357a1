// vf/adapters/redis/connection.hpp
//
// One synchronous hiredis connection: connect (AUTH, SELECT), commands as
// argument vectors (never formatted strings, so keys and values are binary
// safe and cannot inject commands), pipelines, and replies copied into
// plain values. Blocking: use it only from a detached actor or a thread of
// its own, never on CAF's cooperative scheduler.

#pragma once

#include "caf/error.hpp"
#include "caf/expected.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

struct redisContext;

namespace vf::adapters::redis {

/// Where Redis is and how to talk to it (`redis.*` settings).
struct redis_settings {
  std::string host = "127.0.0.1";
  uint16_t port = 6379;
  /// AUTH password; empty: none. Never logged.
  std::string password;
  /// SELECT this database (0..15 on a default server).
  uint32_t db = 0;
  /// Connect and per-command socket timeouts.
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds command_timeout{5000};
  /// Longest pause between reconnect attempts (jittered, doubling from
  /// 100 ms).
  std::chrono::milliseconds reconnect_max{5000};
  /// Names (`redis.stream`, `redis.group`, `redis.consumer`,
  /// `redis.completions`, `redis.key_prefix`).
  std::string stream = "vidflow:events";
  std::string group = "vidflow";
  std::string consumer = "coordinator";
  std::string completions = "vidflow:completions";
  std::string key_prefix = "vidflow:";
  /// A delivered entry pending this long without an ack is claimed again.
  std::chrono::milliseconds claim_idle{30000};
  /// Streams are trimmed to at most about this many entries, but never
  /// below what every consumer group has acknowledged.
  uint64_t max_length = 1000000;
  /// How long an idempotency claim lives in Redis (0: for ever).
  std::chrono::milliseconds claim_ttl{std::chrono::hours{24 * 30}};
  /// `host:port` for messages, without the password.
  std::string address() const;
};

/// One reply, copied out of hiredis.
struct reply {
  enum kind_t : uint8_t { nil, status, error, integer, string, array };
  kind_t kind = nil;
  /// Text of status, error and string replies.
  std::string str;
  int64_t integer_value = 0;
  std::vector<reply> elements;

  bool is_error() const noexcept {
    return kind == error;
  }
  /// `str` for strings and statuses, the decimal integer otherwise.
  std::string text() const;
};

/// One connection. Not thread-safe; move-only.
class connection {
public:
  explicit connection(redis_settings cfg);
  ~connection();
  connection(connection&&) noexcept;
  connection& operator=(connection&&) noexcept;
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  /// Connects (again) if not connected: TCP, AUTH, SELECT.
  /// Errors: `errc::storage_unavailable` naming the address and the cause.
  caf::error connect();

  bool connected() const noexcept {
    return ctx_ != nullptr;
  }

  /// Drops the connection (the next call connects again).
  void close() noexcept;

  /// Runs one command. An error *reply* (e.g. WRONGTYPE) is a value with
  /// `kind == error`; the `expected` fails only when the connection did
  /// (then it is closed: `errc::storage_unavailable`).
  caf::expected<reply> run(const std::vector<std::string>& argv);

  /// Sends every command, then reads every reply (one round trip).
  caf::expected<std::vector<reply>>
  pipeline(const std::vector<std::vector<std::string>>& cmds);

  const redis_settings& settings() const noexcept {
    return cfg_;
  }

private:
  caf::error broken(const char* what);

  redis_settings cfg_;
  redisContext* ctx_ = nullptr;
};

/// Jittered exponential backoff between reconnect attempts.
class reconnect_backoff {
public:
  explicit reconnect_backoff(std::chrono::milliseconds max, uint64_t seed);
  /// True if a new attempt may start now.
  bool due(std::chrono::steady_clock::time_point now) const noexcept {
    return now >= next_;
  }
  /// An attempt failed: the next one waits longer (up to max, jittered).
  std::chrono::milliseconds failed(std::chrono::steady_clock::time_point now);
  /// An attempt worked: start again from the shortest wait.
  void succeeded() noexcept;
  /// Time until the next attempt is due (0 if due).
  std::chrono::milliseconds wait(
    std::chrono::steady_clock::time_point now) const noexcept;

private:
  std::chrono::milliseconds max_;
  std::chrono::milliseconds step_{100};
  std::chrono::steady_clock::time_point next_{};
  uint64_t state_;
};

} // namespace vf::adapters::redis
