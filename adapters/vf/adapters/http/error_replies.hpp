// vf/adapters/http/error_replies.hpp
//
// Responses and the error table: every error the API answers is JSON
// `{"detail": …, "code": …}` built here.

#pragma once

#include "caf/error.hpp"

#include "vf/adapters/http/exchange.hpp"

#include <string>
#include <string_view>

namespace vf::adapters::http {

struct api_state;

/// Returns a response with `status` and the JSON `body`.
http_response make_response(unsigned status, std::string body);

/// Returns an error response `{"detail": detail, "code": code}`.
http_response error_response(unsigned status, std::string_view code,
                             std::string_view detail);

/// Returns a 401 with a `WWW-Authenticate: Bearer` challenge.
http_response unauthorized(std::string_view detail);

/// Returns the message an actor attached to `err`, or `fallback`.
std::string detail_of(const caf::error& err, std::string_view fallback);

/// The error table: maps an actor's error to the status a client sees.
/// Only what cannot be the client's fault and cannot be retried becomes a
/// 500, which is logged.
http_response from_error(const api_state& state, const caf::error& err);

/// A 404 whose detail is `before`, `id` (cut to 128 bytes) and `after`.
http_response not_found(std::string_view before, std::string_view id,
                        std::string_view after);

/// A 404 for job `id` that tells how to get a valid one.
http_response not_found_job(std::string_view id);

/// A 500 for a request that failed in our code.
http_response internal_error();

} // namespace vf::adapters::http
