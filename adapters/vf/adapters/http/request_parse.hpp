// vf/adapters/http/request_parse.hpp
//
// Reading the parts of a request: JSON bodies, query parameters, numbers,
// bearer credentials and media types. Each parser says "no" without
// answering; the handlers choose the error.

#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vf::adapters::http {

class call;

/// Parses the body of `c` as a JSON object; answers 400/422 and returns
/// nothing otherwise.
std::optional<nlohmann::json> parse_object(call& c);

/// Returns the string member `name`, or null when absent or null; sets `bad`
/// on any other type.
const std::string* string_member(const nlohmann::json& obj, const char* name,
                                 bool& bad);

/// Returns the value of `name` in a query string, if present.
std::optional<std::string_view> query_param(std::string_view query,
                                            std::string_view name);

/// Parses a decimal of at most `max_digits` digits (no sign, no blanks).
std::optional<uint64_t> parse_decimal(std::string_view str, size_t max_digits);

/// Returns the credentials of an `Authorization: Bearer <x>` header, or an
/// empty view.
std::string_view bearer_token(std::string_view header);

/// True for `application/json`, parameters (`; charset=utf-8`) allowed.
bool is_json_media_type(std::string_view x);

} // namespace vf::adapters::http
