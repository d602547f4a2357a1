// vf/adapters/http/request_parse.cpp

#include "vf/adapters/http/request_parse.hpp"

#include "vf/adapters/common/text.hpp"
#include "vf/adapters/http/call.hpp"

namespace vf::adapters::http {

using json = nlohmann::json;

std::optional<json> parse_object(call& c) {
  auto body = c.request().body;
  json result = json::parse(body.begin(), body.end(), nullptr, false);
  if (result.is_discarded()) {
    c.error(400, "invalid_json",
            "body is not valid JSON; send a JSON object with Content-Type: "
            "application/json");
    return std::nullopt;
  }
  if (!result.is_object()) {
    c.error(422, "invalid_argument", "body must be a JSON object");
    return std::nullopt;
  }
  return result;
}

namespace {

// Returns the string member `name`, or null when absent or null; sets `bad`
// on any other type.
const std::string* string_member(const json& obj, const char* name, bool& bad) {
  auto i = obj.find(name);
  if (i == obj.end() || i->is_null())
    return nullptr;
  if (!i->is_string()) {
    bad = true;
    return nullptr;
  }
  return &i->get_ref<const std::string&>();
}

} // namespace

std::optional<string_pair> parse_strings(call& c, const char* x,
                                         const char* y) {
  std::optional<string_pair> result;
  auto body = parse_object(c);
  if (!body)
    return result;
  result.emplace();
  result->body = std::move(*body);
  result->first = string_member(result->body, x, result->first_bad);
  result->second = string_member(result->body, y, result->second_bad);
  return result;
}

std::optional<std::string_view> query_param(std::string_view query,
                                            std::string_view name) {
  while (!query.empty()) {
    auto amp = query.find('&');
    auto pair = query.substr(0, amp);
    auto eq = pair.find('=');
    if (pair.substr(0, eq) == name)
      return eq == std::string_view::npos ? std::string_view{}
                                          : pair.substr(eq + 1);
    if (amp == std::string_view::npos)
      break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

std::optional<std::string> decode_query_value(std::string_view value) {
  auto digit = [](char ch) -> int {
    if (ch >= '0' && ch <= '9')
      return ch - '0';
    if (ch >= 'a' && ch <= 'f')
      return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
      return ch - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(value.size());
  for (size_t i = 0; i < value.size(); ++i) {
    auto ch = value[i];
    if (ch == '+') {
      out += ' ';
    } else if (ch == '%') {
      if (i + 2 >= value.size())
        return std::nullopt;
      auto hi = digit(value[i + 1]);
      auto lo = digit(value[i + 2]);
      if (hi < 0 || lo < 0)
        return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += ch;
    }
  }
  return out;
}

std::optional<uint64_t> parse_decimal(std::string_view str, size_t max_digits) {
  if (str.empty() || str.size() > max_digits)
    return std::nullopt;
  uint64_t value = 0;
  for (char c : str) {
    if (c < '0' || c > '9')
      return std::nullopt;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  return value;
}

bool query_limit(call& c, size_t max_digits, uint32_t& limit) {
  auto str = query_param(c.request().query, "limit");
  if (!str)
    return true;
  auto value = parse_decimal(*str, max_digits);
  if (!value || *value < 1 || *value > 200) {
    c.error(422, "invalid_argument",
            "limit must be an integer between 1 and 200");
    return false;
  }
  limit = static_cast<uint32_t>(*value);
  return true;
}

std::string_view bearer_token(std::string_view header) {
  constexpr std::string_view scheme = "bearer";
  if (header.size() <= scheme.size() || !common::istarts_with(header, scheme)
      || (header[scheme.size()] != ' ' && header[scheme.size()] != '\t'))
    return {};
  return common::trim_blanks(header.substr(scheme.size()));
}

bool is_json_media_type(std::string_view x) {
  auto type = x.substr(0, x.find(';'));
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t'))
    type.remove_suffix(1);
  return common::iequals(type, "application/json");
}

} // namespace vf::adapters::http
