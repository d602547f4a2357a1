// vf/adapters/http/login_throttle.cpp

#include "vf/adapters/http/login_throttle.hpp"

#include <algorithm>

namespace vf::adapters::http {

login_throttle::login_throttle(policy p) : policy_(p) {
  policy_.max_entries = std::max<size_t>(policy_.max_entries, 2);
}

login_throttle::login_throttle() : login_throttle(policy{}) {
  // nop
}

std::string login_throttle::name_key(std::string_view name) {
  // Names are at most 64 bytes; longer ones are no account but still count,
  // under a key of bounded size.
  std::string key{"n:"};
  key.append(name.substr(0, 128));
  return key;
}

std::string login_throttle::client_key(const client_address& client) {
  std::string key{"c:"};
  key.append(reinterpret_cast<const char*>(client.data()), client.size());
  return key;
}

uint32_t login_throttle::wait_of(const std::string& key, int64_t now) {
  auto i = entries_.find(key);
  if (i == entries_.end() || i->second.blocked_until <= now)
    return 0;
  return static_cast<uint32_t>(
    std::min<int64_t>(i->second.blocked_until - now, policy_.max_delay_s));
}

void login_throttle::count(const std::string& key, int64_t now) {
  auto i = entries_.find(key);
  if (i == entries_.end()) {
    while (entries_.size() >= policy_.max_entries) {
      entries_.erase(lru_.back());
      lru_.pop_back();
    }
    lru_.push_front(key);
    i = entries_.emplace(key, entry{}).first;
    i->second.lru = lru_.begin();
  } else {
    lru_.splice(lru_.begin(), lru_, i->second.lru);
  }
  auto& e = i->second;
  if (e.failures > 0 && now - e.last_failure >= policy_.quiet_s)
    e.failures = 0;
  if (e.failures < UINT32_MAX)
    ++e.failures;
  e.last_failure = now;
  if (e.failures >= policy_.free_failures) {
    auto step = std::min<uint32_t>(e.failures - policy_.free_failures, 30);
    auto delay = std::min<int64_t>(int64_t{1} << step, policy_.max_delay_s);
    e.blocked_until = now + delay;
  }
}

uint32_t login_throttle::check(std::string_view name,
                               const client_address& client, int64_t now) {
  std::lock_guard<std::mutex> guard{mtx_};
  return std::max(wait_of(name_key(name), now),
                  wait_of(client_key(client), now));
}

void login_throttle::failed(std::string_view name,
                            const client_address& client, int64_t now) {
  std::lock_guard<std::mutex> guard{mtx_};
  count(name_key(name), now);
  count(client_key(client), now);
}

void login_throttle::succeeded(std::string_view name) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = entries_.find(name_key(name));
  if (i == entries_.end())
    return;
  lru_.erase(i->second.lru);
  entries_.erase(i);
}

size_t login_throttle::size() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return entries_.size();
}

} // namespace vf::adapters::http
