// vf/adapters/http/rate_limiter.cpp

#include "vf/adapters/http/rate_limiter.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

namespace vf::adapters::http {

namespace {

struct address_hash {
  size_t operator()(const client_address& x) const noexcept {
    // FNV-1a: 16 bytes, no allocation, good enough spread for a table an
    // outsider cannot grow beyond its cap anyway.
    uint64_t h = 14695981039346656037ULL;
    for (auto b : x) {
      h ^= b;
      h *= 1099511628211ULL;
    }
    return static_cast<size_t>(h);
  }
};

/// How often a stripe drops its full buckets even when it is not crowded.
constexpr auto sweep_interval = std::chrono::seconds{30};

/// Longest `Retry-After` we announce (a tiny rate must not say "a year").
constexpr double max_retry_after = 3600;

/// Absorbs rounding: a client that waited the announced time is served.
constexpr double epsilon = 1e-9;

} // namespace

struct alignas(64) rate_limiter::stripe {
  struct bucket {
    double tokens;
    clock::time_point last;
  };

  std::mutex mtx;
  std::unordered_map<client_address, bucket, address_hash> buckets;
  clock::time_point last_sweep{};
};

rate_limiter::rate_limiter(double rate, uint32_t burst, size_t max_clients)
  : rate_(std::isfinite(rate) && rate > 0 ? rate : 0),
    burst_(burst != 0 ? burst
                      : static_cast<uint32_t>(
                        std::max(1.0, std::ceil(std::min(rate_, 1e9))))),
    max_per_stripe_(std::max<size_t>(4, max_clients / stripes)),
    stripes_(std::make_unique<stripe[]>(stripes)) {
  // nop
}

rate_limiter::~rate_limiter() = default;

uint32_t rate_limiter::acquire(const client_address& client,
                               clock::time_point now) {
  if (!enabled())
    return 0;
  auto h = address_hash{}(client);
  auto& s = stripes_[(h ^ (h >> 32)) % stripes];
  auto burst = static_cast<double>(burst_);
  // Tokens of `b` at `now`; `now` may trail `b.last` a little when another
  // thread took its time stamp later but the lock earlier.
  auto level = [&](const stripe::bucket& b) {
    auto dt = std::chrono::duration<double>(now - b.last).count();
    return dt <= 0 ? b.tokens : std::min(burst, b.tokens + dt * rate_);
  };
  std::lock_guard<std::mutex> guard{s.mtx};
  auto i = s.buckets.find(client);
  if (i == s.buckets.end()) {
    if (s.buckets.size() >= max_per_stripe_
        || now - s.last_sweep >= sweep_interval) {
      s.last_sweep = now;
      // A full bucket behaves exactly like a missing one: drop those.
      for (auto j = s.buckets.begin(); j != s.buckets.end();) {
        if (level(j->second) >= burst - epsilon)
          j = s.buckets.erase(j);
        else
          ++j;
      }
      // Still crowded (many active clients, e.g. a spread-out flood): keep
      // the half that is most in debt, so throttled clients stay
      // throttled, and forget the rest. Amortized O(1) per new client.
      if (s.buckets.size() >= max_per_stripe_ * 3 / 4) {
        std::vector<std::pair<double, client_address>> levels;
        levels.reserve(s.buckets.size());
        for (auto& [addr, b] : s.buckets)
          levels.emplace_back(level(b), addr);
        auto keep = max_per_stripe_ / 2;
        std::nth_element(levels.begin(), levels.begin() + keep, levels.end(),
                         [](auto& x, auto& y) { return x.first < y.first; });
        for (auto j = levels.begin() + keep; j != levels.end(); ++j)
          s.buckets.erase(j->second);
      }
    }
    s.buckets.emplace(client, stripe::bucket{burst - 1, now});
    return 0;
  }
  auto& b = i->second;
  b.tokens = level(b);
  if (now > b.last)
    b.last = now;
  if (b.tokens >= 1 - epsilon) {
    b.tokens = std::max(0.0, b.tokens - 1);
    return 0;
  }
  auto wait = std::ceil((1 - b.tokens) / rate_ - epsilon);
  return static_cast<uint32_t>(std::clamp(wait, 1.0, max_retry_after));
}

size_t rate_limiter::size() const {
  size_t result = 0;
  for (size_t i = 0; i < stripes; ++i) {
    std::lock_guard<std::mutex> guard{stripes_[i].mtx};
    result += stripes_[i].buckets.size();
  }
  return result;
}

} // namespace vf::adapters::http
