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

/// A JSON object body and two of its string members.
struct string_pair {
  /// The parsed body; `first` and `second` point into it.
  nlohmann::json body;
  /// The first member; null when absent, null or not a string.
  const std::string* first = nullptr;
  /// The second member; null when absent, null or not a string.
  const std::string* second = nullptr;
  /// True if the first member is there but not a string (nor null).
  bool first_bad = false;
  /// True if the second member is there but not a string (nor null).
  bool second_bad = false;

  /// True if either member is there but not a string.
  bool bad() const {
    return first_bad || second_bad;
  }
};

/// Parses the body of `c` as a JSON object and finds its string members `x`
/// and `y`; answers 400/422 and returns nothing if it is no JSON object.
std::optional<string_pair> parse_strings(call& c, const char* x, const char* y);

/// Returns the value of `name` in a query string, if present.
std::optional<std::string_view> query_param(std::string_view query,
                                            std::string_view name);

/// Decodes a query value: `%XX` escapes and `+` as a space (form
/// encoding); nullopt for a malformed escape.
std::optional<std::string> decode_query_value(std::string_view value);

/// Parses a decimal of at most `max_digits` digits (no sign, no blanks).
std::optional<uint64_t> parse_decimal(std::string_view str, size_t max_digits);

/// Reads the query parameter `limit` (1 to 200, at most `max_digits`
/// digits) into `limit` if present; answers 422 and returns false if it is
/// malformed.
bool query_limit(call& c, size_t max_digits, uint32_t& limit);

/// Returns the credentials of an `Authorization: Bearer <x>` header, or an
/// empty view.
std::string_view bearer_token(std::string_view header);

/// True for `application/json`, parameters (`; charset=utf-8`) allowed.
bool is_json_media_type(std::string_view x);

} // namespace vf::adapters::http
