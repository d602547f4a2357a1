// vf/adapters/common/hex.hpp
//
// Hexadecimal digits, as digests and percent-encodings use them. Header-only:
// the fuzz targets compile the parsers that use it without our libraries.

#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace vf::adapters::common {

/// Returns the value of the hex digit `c` (either case), or -1.
constexpr int hex_digit_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/// Appends `size` bytes at `data` as lower-case hex, two digits per byte.
inline void append_hex(std::string& out, const unsigned char* data,
                       size_t size) {
  static constexpr char digits[] = "0123456789abcdef";
  out.reserve(out.size() + size * 2);
  for (size_t i = 0; i < size; ++i) {
    out += digits[data[i] >> 4];
    out += digits[data[i] & 0x0F];
  }
}

/// Returns `size` bytes at `data` as lower-case hex.
inline std::string to_hex(const unsigned char* data, size_t size) {
  std::string result;
  append_hex(result, data, size);
  return result;
}

static_assert(hex_digit_value('7') == 7 && hex_digit_value('b') == 11
              && hex_digit_value('F') == 15 && hex_digit_value('g') == -1);

} // namespace vf::adapters::common
