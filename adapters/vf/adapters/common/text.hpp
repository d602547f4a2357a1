// vf/adapters/common/text.hpp
//
// ASCII text helpers the protocol parsers share (HTTP header names and
// tokens, SigV4 canonical forms). ASCII only on purpose: protocol tokens are
// ASCII, and a locale must never change what a header means.

#pragma once

#include <string>
#include <string_view>

namespace vf::adapters::common {

/// Returns `c` with `A`-`Z` mapped to `a`-`z`; every other byte as it is.
constexpr char ascii_lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

/// True if `x` and `y` are equal ignoring ASCII case.
constexpr bool iequals(std::string_view x, std::string_view y) {
  if (x.size() != y.size())
    return false;
  for (size_t i = 0; i < x.size(); ++i)
    if (ascii_lower(x[i]) != ascii_lower(y[i]))
      return false;
  return true;
}

/// True if `x` begins with `prefix`, ignoring ASCII case.
constexpr bool istarts_with(std::string_view x, std::string_view prefix) {
  return x.size() >= prefix.size()
         && iequals(x.substr(0, prefix.size()), prefix);
}

/// Returns `x` with ASCII upper case letters made lower case.
inline std::string to_lower_ascii(std::string_view x) {
  std::string result{x};
  for (auto& c : result)
    c = ascii_lower(c);
  return result;
}

/// Returns `x` without leading and trailing blanks (space, tab), the
/// optional white space of HTTP.
constexpr std::string_view trim_blanks(std::string_view x) {
  while (!x.empty() && (x.front() == ' ' || x.front() == '\t'))
    x.remove_prefix(1);
  while (!x.empty() && (x.back() == ' ' || x.back() == '\t'))
    x.remove_suffix(1);
  return x;
}

static_assert(iequals("Content-Length", "content-length"));
static_assert(!iequals("100-continue", "100\rcontinue"));
static_assert(trim_blanks(" \tx y\t ") == "x y");

} // namespace vf::adapters::common
