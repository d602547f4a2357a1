// vf/adapters/objectstore/store_config.hpp

#pragma once

#include "vf/messages/upload_gate_actor.hpp"
#include "vf/adapters/common/upload_meter.hpp"
#include "vf/adapters/sigv4/sigv4.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace vf::adapters::objectstore {

/// Settings of the built-in object store endpoint (`store_server`).
struct store_config {
  /// Address to listen on.
  std::string host = "127.0.0.1";
  /// Where uploads in flight report their bytes (live progress of their
  /// jobs); none when null.
  std::shared_ptr<common::upload_meter> meter;
  /// TCP port to listen on; 0 picks an ephemeral port (see `port()`).
  uint16_t port = 9000;
  /// Root of the store: objects live under `<data_dir>/objects/<bucket>/<key>`,
  /// uploads in progress under `<data_dir>/objects/.partial/`, object
  /// metadata under `<data_dir>/objects/.meta/<bucket>/<key>` and the
  /// markers of objects not yet acknowledged by the orchestrator under
  /// `<data_dir>/objects/.pending/<version>`.
  std::string data_dir;
  /// Buckets that exist (S3 bucket names), e.g. `{"uploads"}`.
  std::vector<std::string> buckets;
  /// Region that presigned URLs must be scoped to.
  std::string region = "us-east-1";
  /// Access keys whose presigned URLs are accepted.
  std::vector<sigv4::credentials> keys;
  /// Largest accepted object in bytes; larger uploads get 413. The default is
  /// S3's limit for a single PUT (5 GiB).
  uint64_t max_object_bytes = uint64_t{5} << 30;
  /// Number of I/O threads (each runs its own io_context).
  size_t threads = 1;
  /// Most connections served at once; more are answered 503 `SlowDown` and
  /// closed, so a flood cannot exhaust memory or file descriptors.
  size_t max_connections = 1024;
  /// Most connections one client (IP; IPv6 by /64) may hold open; more are
  /// answered 503 `SlowDown` and closed. 0: no per-client cap. Addresses in
  /// `trusted_proxies` count only against `max_connections`.
  size_t max_connections_per_client = 128;
  /// Reverse proxies (IPs or CIDRs) that carry many clients' connections:
  /// exempt from `max_connections_per_client`.
  std::vector<std::string> trusted_proxies;
  /// Longest wait for a single read or write on a connection.
  std::chrono::seconds io_timeout{60};
  /// Time a whole request header may take to arrive, counted from the
  /// first wait for it (slowloris); also how long an idle keep-alive
  /// connection is kept.
  std::chrono::milliseconds header_timeout{10'000};
  /// Slowest accepted upload, in bytes per second averaged over
  /// `rate_window`: a body that delivers less in a window is cut off (a
  /// client sending one byte now and then cannot hold a connection). 0:
  /// only `io_timeout` applies.
  uint64_t min_rate = 1024;
  /// Window over which `min_rate` is averaged.
  std::chrono::milliseconds rate_window{10'000};
  /// Asked before a PUT reads its body: a job takes one upload, and only
  /// while it waits for it; an output only while its job renders. Null
  /// (adapter tests): every PUT is admitted.
  messages::upload_gate_actor gate;
  /// Keys that start with this are media outputs that a render on a worker
  /// node stores by presigned PUT: stored atomically like uploads, but no
  /// ObjectCreated event is raised for them (they are no new work). Empty:
  /// every PUT is an upload.
  std::string outputs_prefix = "outputs/";
  /// A multipart upload not completed or aborted this long after it began
  /// is removed with its parts (`store.multipart_expiry`); checked at
  /// start and then every `multipart_sweep`.
  std::chrono::seconds multipart_expiry{7 * 24 * 3600};
  /// Web origins (`http://127.0.0.1:8000`) whose pages may call the store
  /// from a browser (CORS): PUT to a presigned URL, read a part's ETag.
  /// Exact matches only; empty: no cross-origin calls.
  std::vector<std::string> cors_origins;
  std::chrono::milliseconds multipart_sweep{3'600'000};
  /// How long the orchestrator may take to acknowledge an ObjectCreated
  /// event before the upload is answered with 503.
  std::chrono::seconds event_timeout{30};
  /// First wait before announcing a journaled object again after the
  /// orchestrator failed to acknowledge it (see
  /// `store_server::announce_pending`); doubled after each failure.
  std::chrono::milliseconds announce_backoff_min{500};
  /// Longest wait between two announcements of the same object.
  std::chrono::milliseconds announce_backoff_max{30'000};
  /// Current time in Unix seconds, for checking URL expiry; the system clock
  /// when unset (tests inject their own).
  std::function<int64_t()> now;
  /// Receives diagnostic lines when set; the store never writes to stdout
  /// or stderr itself. Called from I/O threads, so it must be thread-safe.
  std::function<void(std::string)> log;
  /// Optional: told what became of each announced upload: `accepted` (new
  /// work), `duplicate`, `rejected` (no job expects it) or `error` (not
  /// recorded; the client must retry). Called on I/O threads.
  std::function<void(const std::string& outcome)> on_event;
};

} // namespace vf::adapters::objectstore
