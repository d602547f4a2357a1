// vf/adapters/objectstore/version_clock.cpp

#include "vf/adapters/objectstore/version_clock.hpp"

#include <chrono>
#include <cinttypes>
#include <cstdio>

namespace vf::adapters::objectstore {

std::string version_clock::next() {
  using namespace std::chrono;
  auto now = static_cast<uint64_t>(
    duration_cast<nanoseconds>(system_clock::now().time_since_epoch()).count());
  auto last = last_.load();
  uint64_t value = 0;
  do {
    value = now > last ? now : last + 1;
  } while (!last_.compare_exchange_weak(last, value));
  return format(value);
}

std::string version_clock::format(uint64_t value) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "%020" PRIu64, value);
  return buf;
}

} // namespace vf::adapters::objectstore
