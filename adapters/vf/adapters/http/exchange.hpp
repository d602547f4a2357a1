// vf/adapters/http/exchange.hpp
//
// The seam between the transport (Beast, in api_server.cpp) and the routes
// (router.cpp): plain structs and one interface, so the route code compiles
// without Beast and the Beast code without nlohmann or the route logic.

#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace vf::adapters::http {

/// The API's routes, as they appear in metric labels.
enum class route : uint8_t {
  login,
  jobs,
  job,
  job_result,
  job_cancel,
  job_attempts,
  job_download,
  job_events,
  job_ws,
  job_deliveries,
  history,
  webhook,
  healthz,
  readyz,
  metrics,
  dlq,
  dlq_item,
  dlq_report,
  dlq_redrive,
  cluster_nodes,
  webhook_secret,
  admin_status,
  admin_jobs,
  admin_job,
  admin_pause,
  admin_resume,
  admin_drain,
  admin_undrain,
  videos,
  video,
  video_view,
  video_like,
  stats,
  assets,
  asset,
  compositions,
  compositions_cancel_all,
  composition,
  composition_status,
  composition_download,
  composition_cancel,
  job_multipart,
  job_multipart_parts,
  job_multipart_complete,
  admin_activity,
  /// The web app's pages and files (`/`, `/admin`, `/web/...`); not in the
  /// route table, the router serves them first.
  web,
  /// Anything else; labelled `unmatched`, never with the raw path.
  unmatched,
};

/// Number of `route` values.
constexpr size_t route_count = 47;

static_assert(static_cast<size_t>(route::unmatched) + 1 == route_count,
              "route_count must match the route enum");

/// Returns the route's pattern, e.g. `/jobs/{id}`.
constexpr std::string_view route_pattern(route x) {
  constexpr std::array<std::string_view, route_count> names{{
    "/auth/login",
    "/jobs",
    "/jobs/{id}",
    "/jobs/{id}/result",
    "/jobs/{id}/cancel",
    "/jobs/{id}/attempts",
    "/jobs/{id}/download/{name}",
    "/jobs/{id}/events",
    "/jobs/{id}/ws",
    "/jobs/{id}/deliveries",
    "/history",
    "/minio/webhook",
    "/healthz",
    "/readyz",
    "/metrics",
    "/dlq",
    "/dlq/{job_id}",
    "/dlq/report",
    "/dlq/redrive",
    "/cluster/nodes",
    "/webhooks/secret",
    "/admin/status",
    "/admin/jobs",
    "/admin/jobs/{id}",
    "/admin/pause",
    "/admin/resume",
    "/admin/nodes/{name}/drain",
    "/admin/nodes/{name}/undrain",
    "/videos",
    "/videos/{id}",
    "/videos/{id}/view",
    "/videos/{id}/like",
    "/stats",
    "/assets",
    "/assets/{id}",
    "/compositions",
    "/compositions/cancel-all",
    "/compositions/{id}",
    "/compositions/{id}/status",
    "/compositions/{id}/download",
    "/compositions/{id}/cancel",
    "/jobs/{id}/multipart",
    "/jobs/{id}/multipart/parts",
    "/jobs/{id}/multipart/complete",
    "/admin/activity",
    "/web",
    "unmatched",
  }};
  return names[static_cast<size_t>(x)];
}

/// The request methods the API tells apart; everything else is `other`.
enum class http_method : uint8_t {
  get,
  post,
  head,
  put,
  del,
  patch,
  options,
  other
};

/// Number of `http_method` values.
constexpr size_t http_method_count = 8;

/// Returns the method's name for metric labels (`OTHER` for unknown ones).
constexpr std::string_view method_name(http_method x) {
  constexpr std::array<std::string_view, http_method_count> names{
    {"GET", "POST", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS", "OTHER"}};
  return names[static_cast<size_t>(x)];
}

/// A client's address as a rate-limiting key: 16 bytes, IPv4 as an
/// IPv4-mapped IPv6 address, IPv6 cut to its /64 network (one host usually
/// owns a whole /64, so counting single addresses would be no limit).
using client_address = std::array<unsigned char, 16>;

/// One parsed request. Views point into the transport's buffers and stay
/// valid until the exchange answered.
struct http_request {
  /// Request method.
  http_method method = http_method::other;
  /// Target path without the query, e.g. `/jobs/abc`.
  std::string_view path;
  /// Query string without `?`; empty if none.
  std::string_view query;
  /// Value of the `Authorization` header; empty if none.
  std::string_view authorization;
  /// Value of the `Content-Type` header; empty if none.
  std::string_view content_type;
  /// Value of the `X-Vidflow-Signature` header (webhook HMAC); empty if none.
  std::string_view signature;
  /// Value of the first `Idempotency-Key` header (POST /jobs); empty if none.
  std::string_view idempotency_key;
  /// How many `Idempotency-Key` headers the request has (more than one is
  /// refused: which one would count?).
  size_t idempotency_keys = 0;
  /// Value of the `Last-Event-ID` header (a resuming event stream); empty
  /// if none.
  std::string_view last_event_id;
  /// The request's id: its `X-Request-ID` if that is 1 to 128 characters
  /// of `A-Z a-z 0-9 . _ : -`, else one the server made up (random). Echoed
  /// in the response; a job made by the request keeps it as its
  /// correlation id.
  std::string_view request_id;
  /// True if the request asks to become a WebSocket (`Upgrade: websocket`).
  bool websocket_upgrade = false;
  /// The request body.
  std::string_view body;
  /// The peer's address as a rate-limiting key.
  client_address client{};
  /// The peer's address as text, e.g. `203.0.113.7`.
  std::string_view client_name;
};

/// One response, before the transport adds the framing headers.
struct http_response {
  /// Status code.
  unsigned status = 200;
  /// Body (JSON unless `content_type` says otherwise).
  std::string body;
  /// Content type of `body`.
  std::string_view content_type = "application/json";
  /// Value of an `Allow` header; none when empty (405 answers).
  std::string_view allow;
  /// Adds `WWW-Authenticate: Bearer` (401 answers).
  bool challenge = false;
  /// Adds `Retry-After: <seconds>` when non-zero (429 answers).
  uint32_t retry_after = 0;
  /// A page of the web app: its `Content-Security-Policy` (with
  /// `Referrer-Policy: no-referrer`); none when empty.
  std::string_view csp;
  /// Value of a `Cache-Control` header; none when empty.
  std::string_view cache_control;
};

/// How a streamed answer frames its events.
enum class stream_kind : uint8_t {
  /// Server-Sent Events (`text/event-stream`): `id:`, `event:`, `data:`.
  sse,
  /// WebSocket text messages `{"id", "event", "data"}`.
  websocket,
};

/// A streamed answer: events written one at a time for as long as the
/// client stays. Used on the connection's I/O thread only. Memory is
/// bounded: a client that reads too slowly is dropped, never buffered for.
class event_sink {
public:
  /// Lets owners delete through the interface.
  virtual ~event_sink() = default;

  /// Queues one event (`data` is one line of JSON); false, and the stream
  /// ends, if the client is gone or has more than `max_unsent` bytes
  /// waiting already.
  virtual bool send(std::string_view id, std::string_view name,
                    std::string_view data)
    = 0;

  /// Keeps an idle stream (and the proxies on its way) alive: an SSE
  /// comment; nothing for a WebSocket, which pings by itself.
  virtual bool heartbeat() = 0;

  /// When the oldest byte still unsent was queued; `time_point{}` when all
  /// went out. A stream stalled too long should be `abort`ed.
  virtual std::chrono::steady_clock::time_point stalled_since() const = 0;

  /// True once the stream ended: client gone, aborted or finished.
  virtual bool closed() const = 0;

  /// Ends the stream once everything queued went out.
  virtual void finish() = 0;

  /// Ends the stream now.
  virtual void abort() = 0;

  /// Most bytes a stream may hold unsent.
  static constexpr size_t max_unsent = 256 * 1024;
};

/// One request/response exchange on a connection. The router answers each
/// exchange exactly once, possibly later from an actor's reply; both happen
/// on the connection's I/O thread.
class exchange {
public:
  /// Lets owners delete through the interface.
  virtual ~exchange() = default;

  /// The request being answered.
  const http_request& request() const {
    return request_;
  }

  /// Records which route matched, for metric labels.
  void set_route(route x) {
    route_ = x;
  }

  /// Sends `res`; later calls are ignored.
  virtual void respond(http_response&& res) = 0;

  /// Answers with a stream of events instead (200; for `websocket`, the
  /// upgrade handshake); the connection then carries nothing else. Null if
  /// the exchange was answered already, or for `websocket` when the request
  /// is no valid upgrade.
  virtual std::shared_ptr<event_sink> open_stream(stream_kind kind) = 0;

protected:
  http_request request_;
  route route_ = route::unmatched;
};

} // namespace vf::adapters::http
