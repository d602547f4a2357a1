// vf/adapters/objectstore/store_server.hpp
//
// The built-in object store: an S3-compatible (path-style) HTTP endpoint,
// the default object store of a single vidflow node. Clients upload with
// URLs presigned by `sigv4::presign_url`; every stored upload is announced
// to the orchestrator as `s3:ObjectCreated:Put` before the client hears 200.
//
// Protocol summary (errors are S3 XML `<Error>` documents):
// - `PUT /<bucket>/<key>?X-Amz-...` → 200 with `ETag` and `x-amz-version-id`
//   once stored (fsync + atomic rename) and acknowledged by the
//   orchestrator; 503 if the orchestrator answered with an error (the
//   object stays stored, and its event is retried by the store itself). Refused before any body byte is read: 403
//   (signature, expiry, key), 404 `NoSuchBucket`, 400 `InvalidArgument`
//   (bad key), 411 (no length), 413 (too large; chunked bodies are cut off
//   at the limit too).
// - `GET`/`HEAD /<bucket>/<key>?X-Amz-...` (presigned for GET; HEAD also
//   accepts a HEAD URL) → the bytes with `ETag`, `Last-Modified`,
//   `x-amz-version-id`; 404 `NoSuchKey`.
// - Anything else → 405; bucket-level and sub-resource requests → 501.
//
// Crash safety: before an object becomes visible, a marker
// `<data_dir>/objects/.pending/<version>` (bucket, key, version, ETag, size,
// content type, inode) is made durable; it is removed once the orchestrator
// acknowledged the event (any bool, or `not_found`/`invalid_argument`). A
// marker that outlives its request (kill -9, orchestrator error, client
// gone) is announced again by `announce_pending`, until acknowledged.

#pragma once

#include "caf/actor_system.hpp"
#include "caf/error.hpp"

#include "vf/adapters/objectstore/store_config.hpp"
#include "vf/messages/object_sink_actor.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace vf::adapters::objectstore {

/// Serves the built-in object store on its own port.
class store_server {
public:
  /// Prepares a server; nothing happens before `start`. `events` receives
  /// `(created, object_event)` for each stored upload.
  store_server(caf::actor_system& sys, store_config cfg,
               messages::object_sink_actor events);

  store_server(const store_server&) = delete;
  store_server& operator=(const store_server&) = delete;

  /// Calls `stop()`.
  ~store_server();

  /// Validates the configuration (errors name the setting), creates the
  /// folders, discards partial uploads left by a crash, binds (errors name
  /// `host:port`) and starts the I/O threads. Returns
  /// `errc::invalid_argument` for a bad setting or an address it cannot
  /// bind, `errc::storage_unavailable` if `data_dir` is unusable.
  [[nodiscard]] caf::error start();

  /// The bound port (useful with `port = 0`); 0 before `start`.
  uint16_t port() const;

  /// Starts announcing journaled objects again: those whose marker `start`
  /// found (the object is still stored as that version; stale markers were
  /// discarded) and those whose announcement fails while serving. Each is
  /// sent as `s3:ObjectCreated:Put` through the bridge; its marker goes once
  /// the orchestrator answered with a bool or with `not_found` /
  /// `invalid_argument`; other errors are retried after
  /// `announce_backoff_min`, doubling up to `announce_backoff_max`, until
  /// acknowledged or `stop()`. A marker whose object was replaced meanwhile
  /// is dropped unannounced. Call once the orchestrator has recovered;
  /// returns at once; idempotent; no-op unless running. Thread-safe.
  void announce_pending();

  /// Markers on disk not yet acknowledged: uploads being announced right
  /// now plus those waiting for (or in) `announce_pending`. Thread-safe.
  size_t pending_count() const;

  /// Stops accepting, aborts open connections (unfinished uploads are
  /// discarded; finished ones stay stored), joins all threads and tears down
  /// the CAF bridges, all before returning. Idempotent. Must not be called
  /// from an I/O thread of this server.
  void stop();

  /// The local file of an object, for workers on this node; empty if the
  /// bucket name or key is not valid (see `check_key`), so a caller can
  /// never be pointed outside the store.
  static std::string object_path(const store_config& cfg,
                                 const std::string& bucket,
                                 const std::string& key);

private:
  /// Keeps Asio, Beast and the threads out of this header.
  struct impl;
  /// The server's state.
  std::unique_ptr<impl> impl_;
};

} // namespace vf::adapters::objectstore
