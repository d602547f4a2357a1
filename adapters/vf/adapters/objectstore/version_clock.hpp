// vf/adapters/objectstore/version_clock.hpp

#pragma once

#include <atomic>
#include <cstdint>
#include <string>

namespace vf::adapters::objectstore {

/// Hands out object version ids: 20-digit, zero-padded nanoseconds since the
/// Unix epoch, bumped past the previous id so that ids are unique and
/// increasing even when the clock stands still or steps back. Equal-width
/// decimal ids sort as text in creation order. Thread-safe.
class version_clock {
public:
  /// Returns a new id, greater than every id this instance returned before.
  std::string next();

  /// Formats `value` the way `next` does.
  static std::string format(uint64_t value);

private:
  /// The last value handed out.
  std::atomic<uint64_t> last_{0};
};

} // namespace vf::adapters::objectstore
