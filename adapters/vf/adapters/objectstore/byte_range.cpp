// vf/adapters/objectstore/byte_range.cpp

#include "vf/adapters/objectstore/byte_range.hpp"

#include "vf/adapters/common/text.hpp"

#include <limits>
#include <optional>

namespace vf::adapters::objectstore {

namespace {

using common::iequals;
using common::trim_blanks;

constexpr uint64_t max_offset = std::numeric_limits<uint64_t>::max();

// Parses a non-empty run of digits. A value too large for 64 bits saturates
// rather than failing: RFC 7233 puts no limit on the digits, and any such
// offset is past the end of every object anyway.
std::optional<uint64_t> parse_offset(std::string_view digits) {
  if (digits.empty())
    return std::nullopt;
  uint64_t result = 0;
  for (auto c : digits) {
    if (c < '0' || c > '9')
      return std::nullopt;
    auto d = static_cast<uint64_t>(c - '0');
    if (result > (max_offset - d) / 10)
      result = max_offset;
    else
      result = result * 10 + d;
  }
  return result;
}

} // namespace

range_selection select_range(std::string_view header, uint64_t size) {
  range_selection whole;
  header = trim_blanks(header);
  auto eq = header.find('=');
  if (eq == std::string_view::npos
      || !iequals(trim_blanks(header.substr(0, eq)), "bytes"))
    return whole;
  auto spec = trim_blanks(header.substr(eq + 1));
  // Several ranges (or an empty list element) are not served: S3 answers
  // them with the whole object, and so do we.
  if (spec.find(',') != std::string_view::npos)
    return whole;
  auto dash = spec.find('-');
  if (dash == std::string_view::npos)
    return whole;
  auto first_text = spec.substr(0, dash);
  auto last_text = spec.substr(dash + 1);
  range_selection result;
  result.verdict = range_verdict::partial;
  if (first_text.empty()) {
    // bytes=-n: the last n bytes.
    auto n = parse_offset(last_text);
    if (!n)
      return whole;
    if (*n == 0 || size == 0)
      return {range_verdict::unsatisfiable, {}};
    result.range.first = *n >= size ? 0 : size - *n;
    result.range.last = size - 1;
    return result;
  }
  auto first = parse_offset(first_text);
  if (!first)
    return whole;
  auto last = max_offset;
  if (!last_text.empty()) {
    auto parsed = parse_offset(last_text);
    // "b < a" makes the header invalid, not unsatisfiable (RFC 7233 2.1).
    if (!parsed || *parsed < *first)
      return whole;
    last = *parsed;
  }
  if (*first >= size)
    return {range_verdict::unsatisfiable, {}};
  result.range.first = *first;
  result.range.last = last >= size ? size - 1 : last;
  return result;
}

std::string content_range(const byte_range& range, uint64_t size) {
  return "bytes " + std::to_string(range.first) + "-"
         + std::to_string(range.last) + "/" + std::to_string(size);
}

std::string unsatisfied_content_range(uint64_t size) {
  return "bytes */" + std::to_string(size);
}

} // namespace vf::adapters::objectstore
