// vf/adapters/http/routes_events.cpp
//
// Live progress of a job: `GET /jobs/{id}/events` (Server-Sent Events) and
// `GET /jobs/{id}/ws` (the same events over a WebSocket). What the events
// say is in job_feed.hpp.

#include "vf/adapters/http/call.hpp"
#include "vf/adapters/http/job_access.hpp"
#include "vf/adapters/http/job_feed.hpp"
#include "vf/adapters/http/request_parse.hpp"
#include "vf/adapters/http/routes.hpp"
#include "vf/messages/atoms.hpp"

#include <string>
#include <utility>

namespace vf::adapters::http {

namespace {

/// Seconds a client over a stream limit is told to wait.
constexpr uint32_t busy_retry_after = 5;

// Opens the stream and starts following (the caller checked access).
void open_feed(reply& r, const messages::job& j, stream_kind kind,
               const std::string& user, feed_position from) {
  std::string why;
  auto place = r.state().streams.acquire(user, why);
  if (!place) {
    r.error(429, "too_many_streams", why, busy_retry_after);
    return;
  }
  auto sink = r.open_stream(kind);
  if (!sink) {
    // The upgrade was checked before: the server is stopping.
    if (!r.gone())
      r.error(503, "shutting_down",
              "the server is stopping; reconnect (with Last-Event-ID) in a "
              "moment",
              busy_retry_after);
    return;
  }
  follow_job(r, std::move(sink), std::move(place), j.id, std::move(from));
}

void follow(call& c, stream_kind kind) {
  if (kind == stream_kind::websocket && !c.request().websocket_upgrade) {
    c.error(426, "upgrade_required",
            "GET /jobs/{id}/ws is a WebSocket: send Upgrade: websocket "
            "(or use GET /jobs/{id}/events for Server-Sent Events)");
    return;
  }
  // EventSource sends Last-Event-ID when it reconnects; a WebSocket client
  // (and anyone) may say it in the query instead.
  std::string_view last = c.request().last_event_id;
  if (last.empty())
    if (auto q = query_param(c.request().query, "last_event_id"))
      last = *q;
  auto from = parse_event_id(last);
  if (!from) {
    c.error(400, "bad_last_event_id",
            "Last-Event-ID must be an id this stream sent (e.g. 42, "
            "42.0a1b2c3d or 42.done); omit it to start from the beginning");
    return;
  }
  auto user = c.who().sub;
  with_visible_job(c, [kind, user, from = *from](reply& r,
                                                 messages::job& j) mutable {
    if (!from.done) {
      open_feed(r, j, kind, user, std::move(from));
      return;
    }
    // The client saw the end. Unless the job ran again since (a redrive),
    // there is nothing more: 204 tells EventSource to stop reconnecting.
    r.ask(r.state().handles.registry, atoms::events_v, j.id, from.seq)
      .then([j, kind, user, from](reply& r,
                                  std::vector<messages::job_event>& evs) {
        if (evs.empty()) {
          r.send(make_response(204, {}));
          return;
        }
        auto again = from;
        again.done = false;
        open_feed(r, j, kind, user, std::move(again));
      });
  });
}

void job_events(call& c) {
  follow(c, stream_kind::sse);
}

void job_ws(call& c) {
  follow(c, stream_kind::websocket);
}

} // namespace

std::vector<route_entry> event_routes() {
  using m = http_method;
  return {{m::get, "/jobs/{id}/events", access::user, job_events},
          {m::get, "/jobs/{id}/ws", access::user, job_ws}};
}

} // namespace vf::adapters::http
