// vf/adapters/objectstore/store_context.hpp
//
// What all connections of one `store_server` share: the configuration, the
// orchestrator handle, the pool for blocking file work, and id generators.
// Internal to the object store.

#pragma once

#include <boost/asio/thread_pool.hpp>

#include "vf/adapters/objectstore/object_meta.hpp"
#include "vf/adapters/objectstore/pending_journal.hpp"
#include "vf/adapters/objectstore/store_config.hpp"
#include "vf/adapters/objectstore/version_clock.hpp"
#include "vf/messages/object_sink_actor.hpp"

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace vf::adapters::objectstore {

/// A claim on one object key (see `store_context::try_hold_key`); the key
/// is free again once every copy of the claim is gone.
using key_hold = std::shared_ptr<void>;

/// Shared state of one server; outlives every session and I/O thread.
class store_context {
public:
  /// Takes the validated configuration and the event sink.
  store_context(store_config cfg, messages::object_sink_actor events);

  /// The configuration (immutable while serving).
  const store_config& config() const {
    return cfg_;
  }

  /// Receiver of ObjectCreated events.
  const messages::object_sink_actor& events() const {
    return events_;
  }

  /// Pool for blocking file work (fsync, rename, rehashing) so that I/O
  /// threads never wait on the disk for long. One thread, so commits never
  /// interleave. Set by the server before any session exists.
  boost::asio::thread_pool* blocking = nullptr;

  /// Open connections (sessions alive), for `max_connections`.
  std::atomic<size_t> connections{0};

  /// Hands the marker of a stored object whose announcement failed (or whose
  /// client went away before it) to the server's announcer, which retries
  /// it with backoff once `announce_pending` was called. Callable from any
  /// I/O thread; set by the server before any session exists.
  /// The claim keeps the key busy until the announcer is done with it.
  std::function<void(object_meta, key_hold)> adopt_pending;

  /// Calls `adopt_pending` if set (it is not once the server stopped),
  /// with a claim on the object's key taken before the caller lets go of
  /// its own.
  void hand_over(object_meta meta) {
    if (adopt_pending) {
      auto hold = hold_key(meta.bucket, meta.key);
      adopt_pending(std::move(meta), std::move(hold));
    }
  }

  /// Claims `bucket/key` for one upload, from its admission until its
  /// event was answered; empty if the key is claimed already (another
  /// upload to it is under way, or a stored version of it still waits for
  /// its announcement). Two versions of one job's upload must never race:
  /// the later rename would replace the bytes the first one's event
  /// started work on. Thread-safe.
  key_hold try_hold_key(const std::string& bucket, const std::string& key);

  /// Claims `bucket/key` even if it is claimed already (the announcer
  /// taking over a session's claim). Thread-safe.
  key_hold hold_key(const std::string& bucket, const std::string& key);

  /// The announcement journal (markers in `.pending/`).
  pending_journal& journal() {
    return journal_;
  }

  /// Removes the marker of `version` on the blocking pool (the orchestrator
  /// acknowledged its event); a failure is only logged.
  void release_pending(std::string version);

  /// Returns a fresh object version id.
  std::string next_version() {
    return versions_.next();
  }

  /// Returns a fresh request id (16 upper-case hex digits).
  std::string next_request_id();

  /// Current Unix time in seconds (injectable through the configuration).
  int64_t now() const;

  /// Forwards `line` to the configured log hook, if any.
  void log(std::string line) const;

  /// Forwards the outcome of an announced upload to the configured hook.
  void count_event(const std::string& outcome) const;

  /// Returns whether `bucket` is one of the configured buckets.
  bool has_bucket(std::string_view bucket) const;

  /// Returns the secret key for `access_key`, nullopt if unknown.
  std::optional<std::string> secret_for(std::string_view access_key) const;

private:
  /// See `config()`.
  store_config cfg_;
  /// See `events()`.
  messages::object_sink_actor events_;
  /// Source of version ids.
  version_clock versions_;
  /// See `journal()`.
  pending_journal journal_;
  /// Random upper half of request ids.
  uint64_t request_prefix_;
  /// Lower half of request ids.
  std::atomic<uint64_t> request_counter_{0};
  /// Guards `held_`.
  std::mutex held_mtx_;
  /// Claimed keys (`bucket` NUL `key`) and their number of claims.
  std::map<std::string, size_t> held_;

  /// Takes a claim if `exclusive` is false or the key is free.
  key_hold claim(const std::string& bucket, const std::string& key,
                 bool exclusive);
};

} // namespace vf::adapters::objectstore
