// vf/adapters/http/api_server.hpp
//
// The JSON HTTP API (see docs: ARCHITECTURE.md, "HTTP contract"): login,
// jobs, results, attempts, history, the dead-letter queue (admin), the MinIO
// webhook, liveness (`/healthz`), readiness (`/readyz`) and metrics. Runs
// its own Asio threads, each with one CAF bridge, and talks to the domain only
// through the typed handles it is given.

#pragma once

#include "caf/error.hpp"
#include "caf/expected.hpp"
#include "caf/fwd.hpp"

#include "vf/adapters/common/upload_meter.hpp"
#include "vf/messages/admin_console_actor.hpp"
#include "vf/messages/cluster_registry_actor.hpp"
#include "vf/messages/dispatcher_actor.hpp"
#include "vf/messages/dlq_analyzer_actor.hpp"
#include "vf/messages/intake_gate_actor.hpp"
#include "vf/messages/job.hpp"
#include "vf/messages/job_registry_actor.hpp"
#include "vf/messages/library_actor.hpp"
#include "vf/messages/object_event.hpp"
#include "vf/messages/object_sink_actor.hpp"
#include "vf/messages/orchestrator_actor.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace prometheus {
class Registry;
} // namespace prometheus

namespace vf::adapters::http {

class user_table;

/// One account that may log in.
struct user {
  /// Login name; becomes the token's `sub` and the jobs' owner.
  std::string name;
  /// Password in clear text (from configuration); compared in constant time.
  std::string password;
  /// `user` (sees own jobs) or `admin` (sees every job).
  std::string role;
};

/// What a webhook parser extracts from one notification body.
struct parsed_events {
  /// Object-created events to hand to the orchestrator.
  std::vector<vf::messages::object_event> events;
  /// Records that were not object-created events (deletes, tests, …).
  size_t ignored = 0;
};

/// What the storage check of `/readyz` found out about the data directory.
struct storage_status {
  /// True while new uploads can be stored: the directory is writable and
  /// its file system has more free space than the configured minimum.
  bool ok = true;
  /// Which check failed and why, in words (empty when `ok`).
  std::string detail;
  /// Bytes free for new data on the data directory's file system and its
  /// size (0 when unknown), for `/metrics`.
  uint64_t free_bytes = 0;
  uint64_t total_bytes = 0;
};

/// Settings of the API server. `jwt_secret`, `presign_upload` and
/// `parse_webhook` are required.
struct api_config {
  /// Address to listen on (IP literal or resolvable name).
  std::string host = "127.0.0.1";
  /// Port to listen on; 0 picks an ephemeral port (see `api_server::port`).
  uint16_t port = 8000;
  /// Number of I/O threads (each with its own CAF bridge).
  size_t threads = 1;
  /// HMAC key of the access tokens.
  std::string jwt_secret;
  /// An ingestion node's API: only the webhook and /healthz, /readyz,
  /// /metrics (ready without a job registry); its events go to `events`.
  bool intake_only = false;
  /// An ingestion node with the whole API (its handles reach the
  /// coordinator through the intake gate): ready while it can take
  /// webhooks (whether the coordinator answers shows in each reply), and
  /// `/metrics` shows only this node's own series (the coordinator exports
  /// the job, queue and cluster gauges; every ingestion node repeating
  /// them would count them twice).
  bool ingest_node = false;
  /// Lifetime of an access token in seconds.
  uint32_t token_ttl = 3600;
  /// Accounts that may log in, hashed at start (tests, embedded use);
  /// ignored when `accounts` is set.
  std::vector<user> users;
  /// The user table (the runtime's is backed by `<data.dir>/users.json`);
  /// built from `users` when null.
  std::shared_ptr<const user_table> accounts;
  /// Largest accepted request body; larger ones get 413.
  uint64_t max_body_bytes = 1 << 20;
  /// Returns the presigned PUT URL for a freshly created job (runtime
  /// supplies; uses SigV4).
  std::function<std::string(const vf::messages::job&)> presign_upload;
  /// Lifetime of a presigned URL in seconds, as reported to clients.
  uint32_t presign_expires = 900;
  /// Resumable uploads (`/jobs/{id}/multipart`): the store's own multipart
  /// API, called with the node's keys (the built-in store on loopback, or
  /// the S3 server). Each blocks and runs on a detached actor of the API:
  /// `multipart_start(bucket, key, content_type)` → the upload id,
  /// `multipart_complete(bucket, key, upload_id, parts)` → the object's
  /// ETag (`parts` (number, ETag) as the client listed them; empty: every
  /// part stored, in order), `multipart_abort(bucket, key, upload_id)`.
  /// Errors as the store's (`not_found`: no such upload). Unset: the
  /// routes answer 501.
  std::function<caf::expected<std::string>(const std::string& bucket,
                                           const std::string& key,
                                           const std::string& content_type)>
    multipart_start;
  std::function<caf::expected<std::string>(
    const std::string& bucket, const std::string& key,
    const std::string& upload_id,
    const std::vector<std::pair<uint32_t, std::string>>& parts)>
    multipart_complete;
  std::function<caf::error(const std::string& bucket, const std::string& key,
                           const std::string& upload_id)>
    multipart_abort;
  /// A presigned PUT of part `part` of upload `upload_id` of job `j`'s key,
  /// valid `presign_expires` seconds.
  std::function<std::string(const vf::messages::job& j,
                            const std::string& upload_id, uint32_t part)>
    presign_part;
  /// The web app's files are read from this directory on each request
  /// instead of the copy compiled in (`web.dir`, for development).
  std::string web_dir;
  /// Origins of the store's presigned URLs (`http://127.0.0.1:9000`): the
  /// pages' Content-Security-Policy lets images, media and uploads reach
  /// them and nothing else.
  std::vector<std::string> web_store_origins;
  /// `GET /admin/activity`: the last hour of ended jobs, minute by minute,
  /// as JSON (the runtime keeps it). Unset: 503.
  std::function<std::string()> activity;
  /// Part size the API suggests to clients (`store.part_size`).
  uint64_t part_size = uint64_t{16} << 20;
  /// Returns a presigned GET URL of an output object (`bucket`, `key`),
  /// valid `download_expires` seconds from now. Empty: results list their
  /// outputs without URLs and `GET /jobs/{id}/download/{name}` answers 503.
  std::function<std::string(const std::string& bucket, const std::string& key)>
    presign_download;
  /// Lifetime of a download URL in seconds (`outputs.url_expires`).
  uint32_t download_expires = 3600;
  /// The configured pipeline (`pipeline.steps`), for the steps of a job's
  /// `progress` (a job with outputs adds the render step).
  std::vector<vf::messages::task_kind> pipeline{
    vf::messages::task_kind::probe, vf::messages::task_kind::summarize};
  /// Recipe of jobs created without `outputs` (canonical JSON from
  /// `canonical_recipe`; empty: metadata and summary only).
  std::string default_outputs;
  /// Why a `callback_url` of `POST /jobs` is refused (not an http(s) URL,
  /// or an address `webhooks.allow` does not allow), or nullopt. Empty:
  /// callbacks are not offered (`callback_url` answers 422).
  std::function<std::optional<std::string>(std::string_view url)>
    check_callback;
  /// The secret `owner`'s callbacks are signed with (`GET
  /// /webhooks/secret`); empty when callbacks are not offered.
  std::function<std::string(const std::string& owner)> callback_secret;
  /// Parses a MinIO webhook body (runtime supplies the minio adapter's
  /// parser).
  std::function<caf::expected<parsed_events>(std::string_view body)>
    parse_webhook;
  /// The webhook's shared secret. Empty: `POST /minio/webhook` does not
  /// exist (404). Otherwise every request must prove it, either as
  /// `Authorization: Bearer <token>` (MinIO's `auth_token`) or as
  /// `X-Vidflow-Signature: sha256=<hex HMAC-SHA256(token, body)>`; both are
  /// compared in constant time.
  std::string webhook_token;
  /// Most records one webhook request may carry; more answer 413.
  size_t webhook_max_records = 100;
  /// Returns Unix seconds (tests inject); system clock when empty. Called
  /// from every I/O thread.
  std::function<int64_t()> now;
  /// The monotonic time the rate limiter refills on (tests inject, so a
  /// burst is not refilled while a slow machine runs it); the steady clock
  /// when empty. Called from every I/O thread.
  std::function<std::chrono::steady_clock::time_point()> steady_now;
  /// Receives start/stop notes and unexpected failures; optional. Called
  /// from the I/O threads too, so it must be thread-safe.
  std::function<void(const std::string&)> log;
  /// Checks the data directory (writable, enough free space) for `/readyz`;
  /// while it fails, `POST /jobs` answers 507 `insufficient_storage`
  /// instead of handing out uploads that cannot be stored. Runs on the I/O
  /// threads, so it must be cheap (`statvfs`, `access`) and thread-safe.
  /// Empty: storage counts as ready.
  std::function<storage_status()> check_storage;
  /// Time a request may wait for an actor's reply before it gets 503.
  std::chrono::milliseconds request_timeout{10'000};
  /// Time a connection may stay idle (or take to send one request, header
  /// and body together: one deadline, not one per read, so a client
  /// dribbling bytes cannot hold a connection longer).
  std::chrono::milliseconds idle_timeout{30'000};
  /// Most connections open at once; more are answered 503
  /// `too_many_connections` (with `Retry-After`) and closed at once.
  size_t max_connections = 1024;
  /// Most connections one client (remote IP; IPv6 by /64) may hold open;
  /// 0: no per-client cap. Trusted proxies count only against the total.
  size_t max_connections_per_client = 128;
  /// Reverse proxies (IPs or CIDRs) whose `X-Forwarded-For` names the
  /// client: the right-most address that is not itself a trusted proxy is
  /// the client for rate limits and logs. Empty: the TCP peer, always.
  std::vector<std::string> trusted_proxies;
  /// Time `stop()` waits for requests in flight before cutting them off.
  std::chrono::milliseconds shutdown_grace{5'000};
  /// Most live event streams (`GET /jobs/{id}/events` and `/ws`) open at
  /// once; more answer 429 `too_many_streams`.
  size_t max_streams = 256;
  /// Most live event streams one user may hold open; more answer 429.
  size_t max_streams_per_user = 8;
  /// How long a stream may hold events its client has not read before the
  /// client counts as too slow and is dropped (it may reconnect with
  /// `Last-Event-ID` and lose nothing).
  std::chrono::milliseconds stream_stall_timeout{15'000};
  /// Time between two looks at a streamed job: at most one `progress` (or
  /// `upload`) event per interval; 250 ms makes the "4 per second".
  std::chrono::milliseconds stream_interval{250};
  /// Time without events after which a stream sends a keep-alive.
  std::chrono::milliseconds stream_heartbeat{15'000};
  /// Uploads streaming into the built-in store, for `upload` events; none
  /// when null (an S3 server tells nothing until the object is complete).
  std::shared_ptr<common::upload_meter> uploads;
  /// Requests per second one client (remote IP; IPv6 by /64) may make on
  /// average; 0 turns rate limiting off. Over the limit: 429 with
  /// `Retry-After`. `/healthz` and `/metrics` are never limited.
  double rate_limit = 0;
  /// Requests one client may make in a burst above `rate_limit` (the token
  /// bucket's size); 0 means `max(1, ceil(rate_limit))`.
  uint32_t rate_burst = 0;
};

/// The actors the API talks to.
struct api_handles {
  /// Creates jobs and answers look-ups, history, results, counts, attempt
  /// ledgers and dead letters.
  vf::messages::api_registry_actor registry;
  /// Cancels jobs.
  vf::messages::api_orchestrator_actor orchestrator;
  /// Answers queue statistics for `/metrics` and where a job's tasks stand
  /// (`GET /jobs/{id}` progress).
  vf::messages::api_dispatcher_actor dispatcher;
  /// Answers `/dlq/report` and redrives whole categories; optional (those
  /// routes answer 503 without it).
  vf::messages::dlq_analyzer_actor analyzer;
  /// Answers `/cluster/nodes`; optional (503 without it).
  vf::messages::cluster_registry_actor cluster;
  /// Answers `/admin/...`; optional (503 without it).
  vf::messages::admin_console_actor admin;
  /// Where webhook events go: the orchestrator, or the Redis event
  /// publisher when the bus is Redis (unset: the webhook answers 503).
  vf::messages::object_sink_actor events = {};
  /// The video library (`/videos`, `/stats`); unset: those routes answer
  /// 501 (a store backend without one, an ingestion node).
  vf::messages::library_actor library = {};
};

/// The HTTP API server. Construct, `start()`, and `stop()` (or destroy)
/// before the actor system goes away: its bridges count as live actors.
/// Call `start` and `stop` from one thread that is not one of its I/O
/// threads.
class api_server {
public:
  /// Prepares a server; `metrics` may be null (the server then keeps its own
  /// registry).
  api_server(caf::actor_system& sys, api_config cfg, api_handles handles,
             std::shared_ptr<prometheus::Registry> metrics);

  api_server(const api_server&) = delete;
  api_server& operator=(const api_server&) = delete;

  /// Stops the server if it still runs.
  ~api_server();

  /// Validates the configuration, binds, listens and starts the I/O
  /// threads. An error names the setting or `host:port` that failed.
  [[nodiscard]] caf::error start();

  /// The bound port (useful with port 0); 0 before `start()`.
  uint16_t port() const;

  /// Stops gracefully: stops accepting, closes idle connections, lets
  /// requests in flight finish (up to `shutdown_grace`), joins the threads
  /// and destroys the bridges before returning. Idempotent.
  void stop();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace vf::adapters::http
