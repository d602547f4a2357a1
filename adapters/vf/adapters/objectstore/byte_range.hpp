// vf/adapters/objectstore/byte_range.hpp
//
// The single byte range a GET asks for with `Range: bytes=...` (RFC 7233),
// judged against the object's size the way S3 does: one range is served as
// 206, a range starting past the end as 416, and anything else (malformed
// headers, several ranges) is ignored so the whole object goes out as 200.

#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace vf::adapters::objectstore {

/// Bytes `first` to `last` of an object, both inclusive.
struct byte_range {
  /// Offset of the first byte.
  uint64_t first = 0;
  /// Offset of the last byte; never below `first`.
  uint64_t last = 0;

  /// Number of bytes in the range.
  uint64_t length() const {
    return last - first + 1;
  }
};

/// What to do with a request's `Range` header.
enum class range_verdict {
  /// No usable single range: serve the whole object (200).
  whole,
  /// Serve `range_selection::range` only (206).
  partial,
  /// The range lies outside the object: answer 416.
  unsatisfiable,
};

/// The outcome of `select_range`.
struct range_selection {
  /// What to serve.
  range_verdict verdict = range_verdict::whole;
  /// The bytes to serve when `verdict` is `partial`, clamped to the object.
  byte_range range;
};

/// Judges the `Range` header value `header` against an object of `size`
/// bytes. Accepts exactly one of `bytes=a-b`, `bytes=a-` and `bytes=-n`
/// (unit case-insensitive, spaces around the range allowed); a last offset
/// past the end is clamped to it, a suffix longer than the object selects
/// all of it. A range starting at or past the end, a zero-length suffix and
/// any range of an empty object are unsatisfiable. An empty or malformed
/// value, `b < a`, another unit, or several ranges give `whole`.
range_selection select_range(std::string_view header, uint64_t size);

/// Renders `bytes <first>-<last>/<size>` for `Content-Range`.
std::string content_range(const byte_range& range, uint64_t size);

/// Renders `bytes */<size>` for the `Content-Range` of a 416.
std::string unsatisfied_content_range(uint64_t size);

} // namespace vf::adapters::objectstore
