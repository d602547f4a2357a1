// vf/adapters/objectstore/pending_announcer.hpp
//
// Announces journaled objects again: the markers a crash left behind (found
// at start-up) and those of live uploads whose announcement failed. Each is
// sent as `s3:ObjectCreated:Put` through the CAF bridge of one I/O thread;
// an acknowledged one (any bool, or `not_found` / `invalid_argument`: not
// ours to redo) loses its marker, a failed one is tried again after a
// backoff (a timer, never a sleep) until acknowledged or the server stops.
// A marker whose object was replaced or removed meanwhile is dropped
// unannounced. Internal to the object store.

#pragma once

#include <boost/asio/steady_timer.hpp>

#include "vf/adapters/objectstore/object_meta.hpp"
#include "vf/adapters/objectstore/session.hpp"
#include "vf/adapters/objectstore/store_context.hpp"

#include <chrono>
#include <map>
#include <memory>
#include <string>

namespace vf::adapters::objectstore {

/// Lives on one I/O thread (`worker`); every member function must be called
/// there, except where noted. Callbacks hold weak references only: the
/// server destroys the announcer after its threads ended and before its
/// io_contexts go.
class pending_announcer
  : public std::enable_shared_from_this<pending_announcer> {
public:
  pending_announcer(store_context& ctx, io_worker& worker);

  pending_announcer(const pending_announcer&) = delete;
  pending_announcer& operator=(const pending_announcer&) = delete;

  /// Takes over the marker of `meta`. Once active, it is announced after
  /// the first backoff when `delay` (the orchestrator just failed) or at
  /// once otherwise; before that, it waits for `activate`. May be called
  /// before the worker's thread runs. `hold` (the claim on the object's
  /// key) is kept until the marker is finished or dropped, so no new
  /// upload to the key races its announcement.
  void adopt(object_meta meta, bool delay, key_hold hold);

  /// Starts announcing (idempotent): every marker not in flight goes out.
  void activate();

  /// Cancels timers; nothing is sent from now on (markers stay on disk).
  void shutdown();

private:
  struct entry {
    object_meta meta;
    /// The claim on the key (see `adopt`).
    key_hold hold;
    std::chrono::milliseconds backoff{0};
    std::unique_ptr<boost::asio::steady_timer> timer;
    /// Checking the disk or waiting for the orchestrator.
    bool busy = false;
    /// A retry timer is running.
    bool scheduled = false;
  };

  /// Checks on the blocking pool that the object is still this version,
  /// then sends the event (or drops a stale marker).
  void attempt(const std::string& version);
  /// Sends the event of a current marker.
  void send(const std::string& version);
  /// The event was acknowledged: forget the entry, remove its marker.
  void finish(const std::string& version);
  /// Tries again after the entry's backoff, then doubles it.
  void retry_later(const std::string& version);

  store_context& ctx_;
  io_worker& worker_;
  std::map<std::string, entry> entries_;
  bool active_ = false;
  bool stopped_ = false;
};

} // namespace vf::adapters::objectstore
