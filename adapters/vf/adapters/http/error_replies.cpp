// vf/adapters/http/error_replies.cpp

#include "vf/adapters/http/error_replies.hpp"

#include "caf/sec.hpp"

#include "vf/adapters/http/api_state.hpp"
#include "vf/adapters/http/json_views.hpp"
#include "vf/messages/errc.hpp"

#include <utility>

namespace vf::adapters::http {

using messages::errc;

http_response make_response(unsigned status, std::string body) {
  http_response res;
  res.status = status;
  res.body = std::move(body);
  return res;
}

http_response error_response(unsigned status, std::string_view code,
                             std::string_view detail) {
  return make_response(status, error_json(code, detail));
}

http_response unauthorized(std::string_view detail) {
  auto res = error_response(401, "unauthorized", detail);
  res.challenge = true;
  return res;
}

// Only the message an actor attached; generic renderings help nobody.
std::string detail_of(const caf::error& err, std::string_view fallback) {
  auto& ctx = err.context();
  if (err.category() == messages::errc_category
      && ctx.match_elements<std::string>())
    return ctx.get_as<std::string>(0);
  return std::string{fallback};
}

namespace {

// The status and fallback detail of each errc a client may cause or retry.
struct errc_reply {
  errc code;
  unsigned status;
  std::string_view name; // empty: the errc's own name
  std::string_view fallback;
  /// `Retry-After` seconds; 0: none.
  uint32_t retry_after = 0;
};

constexpr errc_reply errc_replies[] = {
  {errc::not_found, 404, {}, "not found"},
  {errc::invalid_argument, 422, {}, "invalid request"},
  {errc::conflict,
   409,
   {},
   "the request conflicts with the job's current state"},
  {errc::duplicate, 409, {}, "this was done before"},
  {errc::unauthorized, 401, {}, "log in via POST /auth/login"},
  {errc::forbidden, 403, {}, "your account may not do this"},
  {errc::payload_too_large, 413, {}, "the payload is too large"},
  {errc::throttled, 429, {}, "too many requests; retry later"},
  // Per-user limits: jobs in flight pass with time (429, retry), stored
  // bytes do not (403: this account may not store more).
  {errc::quota_exceeded, 429, "quota_exceeded", "too many jobs in flight"},
  {errc::storage_quota_exceeded, 403, "quota_exceeded",
   "storage quota exceeded"},
  {errc::storage_unavailable,
   503,
   {},
   "a backing service is not available; retry later", 5},
  {errc::timeout, 503, {}, "a backing service is not available; retry later",
   5},
  {errc::intake_paused, 503, {},
   "an operator paused intake: no new jobs for now; retry later", 30},
};

} // namespace

http_response from_error(const api_state& state, const caf::error& err) {
  if (err.category() == caf::atom("system")) {
    switch (static_cast<caf::sec>(err.code())) {
      case caf::sec::request_timeout:
        return error_response(503, "timeout",
                              "the service did not answer in time; retry "
                              "later");
      case caf::sec::request_receiver_down:
      case caf::sec::invalid_argument:
        return error_response(503, "storage_unavailable",
                              "the service is not available right now; "
                              "retry later");
      default:
        break;
    }
  } else if (err.category() == messages::errc_category) {
    auto code = static_cast<errc>(err.code());
    for (auto& x : errc_replies) {
      if (x.code != code)
        continue;
      auto name
        = x.name.empty() ? messages::to_string(code) : std::string{x.name};
      auto res = error_response(x.status, name, detail_of(err, x.fallback));
      res.challenge = x.status == 401;
      res.retry_after = x.retry_after;
      return res;
    }
  }
  if (state.config.log)
    state.config.log("http: ERROR unexpected error from an actor: "
                     + messages::message_of(err));
  return internal_error();
}

http_response not_found(std::string_view before, std::string_view id,
                        std::string_view after) {
  std::string detail{before};
  detail.append(id.substr(0, 128));
  detail += after;
  return error_response(404, "not_found", detail);
}

http_response not_found_job(std::string_view id) {
  return not_found("job '", id,
                   "' not found; use the job_id returned by POST /jobs");
}

http_response internal_error() {
  return error_response(500, "internal",
                        "internal error; the operators have been notified");
}

} // namespace vf::adapters::http
