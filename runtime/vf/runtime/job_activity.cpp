// vf/runtime/job_activity.cpp

#include "vf/runtime/job_activity.hpp"

#include <chrono>
#include <cmath>

namespace vf::runtime {

namespace {

constexpr int64_t minute_ms = 60'000;
constexpr double growth = 1.05;

size_t bucket_of(int64_t ms) {
  if (ms <= 1)
    return 0;
  auto b = static_cast<size_t>(
    std::ceil(std::log(static_cast<double>(ms)) / std::log(growth)));
  return b;
}

int status_index(messages::job_status st) {
  switch (st) {
    case messages::job_status::succeeded:
      return 0;
    case messages::job_status::failed:
      return 1;
    case messages::job_status::cancelled:
      return 2;
    case messages::job_status::expired:
      return 3;
    default:
      return -1;
  }
}

} // namespace

job_activity::job_activity(std::function<int64_t()> now_ms)
  : now_ms_(std::move(now_ms)), ring_(minutes) {
  if (!now_ms_)
    now_ms_ = [] {
      using namespace std::chrono;
      return duration_cast<milliseconds>(system_clock::now().time_since_epoch())
        .count();
    };
}

int64_t job_activity::bucket_bound(int64_t ms) {
  auto b = bucket_of(ms);
  return static_cast<int64_t>(std::ceil(std::pow(growth, b)));
}

job_activity::minute& job_activity::slot(int64_t start) {
  auto& m = ring_[static_cast<size_t>(start / minute_ms) % minutes];
  if (m.start != start) {
    m = minute{};
    m.start = start;
  }
  return m;
}

void job_activity::ended(const messages::job& j, int64_t ms) {
  auto k = status_index(j.status);
  if (k < 0)
    return;
  auto now = now_ms_();
  std::lock_guard<std::mutex> guard{mtx_};
  auto& m = slot(now - now % minute_ms);
  ++m.ended[static_cast<size_t>(k)];
  if (ms >= 0)
    ++m.latency[std::min(bucket_of(ms), buckets - 1)];
}

std::string job_activity::json() const {
  auto now = now_ms_();
  auto current = now - now % minute_ms;
  std::string out = "{\"now\":" + std::to_string(now) + ",\"minutes\":[";
  std::lock_guard<std::mutex> guard{mtx_};
  for (size_t i = 0; i < minutes; ++i) {
    auto start = current - static_cast<int64_t>(minutes - 1 - i) * minute_ms;
    auto& m = ring_[static_cast<size_t>(start / minute_ms) % minutes];
    bool live = m.start == start;
    if (i > 0)
      out += ',';
    out += "{\"start\":" + std::to_string(start);
    const char* names[] = {"succeeded", "failed", "cancelled", "expired"};
    for (size_t k = 0; k < 4; ++k) {
      out += ",\"";
      out += names[k];
      out += "\":" + std::to_string(live ? m.ended[k] : 0);
    }
    uint64_t timed = 0;
    if (live)
      for (auto n : m.latency)
        timed += n;
    out += ",\"p95_ms\":";
    if (timed == 0) {
      out += "null}";
      continue;
    }
    // The smallest bucket with at least 95 % of the timed jobs at or below.
    auto want = (timed * 95 + 99) / 100;
    uint64_t seen = 0;
    size_t b = 0;
    for (; b < buckets; ++b) {
      seen += m.latency[b];
      if (seen >= want)
        break;
    }
    out += std::to_string(static_cast<int64_t>(std::ceil(std::pow(growth, b))))
           + "}";
  }
  out += "]}";
  return out;
}

} // namespace vf::runtime
