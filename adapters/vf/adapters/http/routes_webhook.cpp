// vf/adapters/http/routes_webhook.cpp
//
// POST /minio/webhook: MinIO's bucket notifications, authenticated by the
// shared webhook secret, turned into object events for the orchestrator.

#include "vf/adapters/common/digest.hpp"
#include "vf/adapters/common/hex.hpp"
#include "vf/adapters/common/text.hpp"
#include "vf/adapters/http/call.hpp"
#include "vf/adapters/http/request_parse.hpp"
#include "vf/adapters/http/routes.hpp"
#include "vf/messages/atoms.hpp"
#include "vf/messages/errc.hpp"

#include <exception>
#include <memory>
#include <optional>
#include <string>

namespace vf::adapters::http {

namespace {

using messages::errc;

/// True if `req` proves it knows the webhook secret `token`: as a bearer
/// token or as an HMAC-SHA256 signature of the body. Constant time in the
/// secret's content.
bool webhook_authentic(const std::string& token, const http_request& req) {
  if (auto bearer = bearer_token(req.authorization); !bearer.empty())
    return common::constant_time_equal(common::sha256(bearer),
                                       common::sha256(token));
  constexpr std::string_view prefix = "sha256=";
  auto sig = req.signature;
  if (sig.size() != prefix.size() + 64
      || sig.substr(0, prefix.size()) != prefix)
    return false;
  auto mac = common::hmac_sha256(token, req.body);
  // Compared as lower-case hex, in constant time.
  return common::constant_time_equal(
    common::to_hex(mac.data(), mac.size()),
    common::to_lower_ascii(sig.substr(prefix.size())));
}

// Counts the replies of one notification's events; answers after the last.
struct tally {
  size_t pending = 0;
  uint64_t accepted = 0;
  uint64_t duplicates = 0;
  uint64_t rejected = 0;
  uint64_t ignored = 0;
  caf::error failure;

  // One event recorded: new, or seen before.
  void recorded(reply& r, bool fresh) {
    auto& m = r.state().metrics;
    if (fresh) {
      ++accepted;
      m.count_event(event_outcome::accepted);
    } else {
      ++duplicates;
      m.count_event(event_outcome::duplicate);
    }
    if (--pending == 0)
      finish(r);
  }

  // One event not recorded.
  void refused(reply& r, caf::error& err) {
    auto& m = r.state().metrics;
    auto code = messages::errc_of(err);
    // Not ours (foreign key or unknown job): acknowledged, counted.
    if (err.category() == messages::errc_category
        && (code == errc::not_found || code == errc::invalid_argument
            || code == errc::conflict)) {
      ++rejected;
      m.count_event(event_outcome::rejected);
    } else {
      m.count_event(event_outcome::error);
      if (!failure)
        failure = std::move(err);
    }
    if (--pending == 0)
      finish(r);
  }

  // Answers once every event got its reply: acknowledging earlier would
  // lose events the orchestrator then fails to record.
  void finish(reply& r) {
    if (r.gone())
      return;
    if (failure) {
      // MinIO redelivers on any non-2xx: the events already accepted will
      // then come back as duplicates, which is harmless.
      auto res = from_error(r.state(), failure);
      if (res.status != 503)
        res = error_response(503, "storage_unavailable",
                             "could not record every event; retry later");
      if (res.retry_after == 0)
        res.retry_after = 5;
      r.send(std::move(res));
      return;
    }
    // The same answer whatever became of each record: it must not tell
    // whether a job exists or what state it is in (the metrics
    // `vidflow_object_events_total{outcome}` tell operators).
    std::string out = R"({"received":)";
    out += std::to_string(accepted + duplicates + ignored + rejected);
    out += '}';
    r.send(200, std::move(out));
  }
};

// Parses the notification; answers 422 and returns nothing if it is none.
std::optional<parsed_events> parse_notification(call& c) {
  caf::expected<parsed_events> parsed = caf::error{};
  try {
    parsed = c.state().config.parse_webhook(c.request().body);
  } catch (const std::exception& e) {
    parsed = messages::make_error(errc::invalid_argument,
                                  std::string{"unreadable notification: "}
                                    + e.what());
  } catch (...) {
    parsed
      = messages::make_error(errc::invalid_argument, "unreadable notification");
  }
  if (!parsed) {
    c.error(422, "invalid_argument",
            detail_of(parsed.error(), "not a MinIO bucket notification body"));
    return std::nullopt;
  }
  return std::move(*parsed);
}

void webhook(call& c) {
  auto& cfg = c.state().config;
  auto& req = c.request();
  if (!webhook_authentic(cfg.webhook_token, req)) {
    c.send(unauthorized("the webhook needs 'Authorization: Bearer <webhook "
                        "token>' (MinIO's auth_token) or "
                        "'X-Vidflow-Signature: sha256=<hex HMAC-SHA256 of "
                        "the body>'"));
    return;
  }
  // JSON only: a form or text/plain body is what a foreign web page can
  // make a browser send without a CORS preflight.
  if (!is_json_media_type(req.content_type)) {
    c.error(415, "unsupported_media_type",
            "the webhook takes 'Content-Type: application/json' only");
    return;
  }
  if (!nlohmann::json::accept(req.body)) {
    c.error(400, "invalid_json",
            "body is not valid JSON; send MinIO's bucket notification body");
    return;
  }
  auto parsed = parse_notification(c);
  if (!parsed)
    return;
  auto records = parsed->events.size() + parsed->ignored;
  if (records > cfg.webhook_max_records) {
    c.error(413, "too_many_records",
            "one notification may carry at most "
              + std::to_string(cfg.webhook_max_records)
              + " records; this one has " + std::to_string(records));
    return;
  }
  auto& metrics = c.state().metrics;
  metrics.count_event(event_outcome::ignored, parsed->ignored);
  auto t = std::make_shared<tally>();
  t->pending = parsed->events.size();
  t->ignored = parsed->ignored;
  if (t->pending == 0) {
    t->finish(c);
    return;
  }
  for (auto& ev : parsed->events)
    // Always runs: every event's outcome is counted, client gone or not.
    c.ask(c.state().handles.events, atoms::created_v, std::move(ev))
      .then_always([t](reply& r, bool fresh) { t->recorded(r, fresh); },
                   [t](reply& r, caf::error& err) { t->refused(r, err); });
}

} // namespace

std::vector<route_entry> webhook_routes(const api_config& cfg) {
  if (cfg.webhook_token.empty())
    return {};
  return {
    {http_method::post, "/minio/webhook", access::open, webhook},
  };
}

} // namespace vf::adapters::http
