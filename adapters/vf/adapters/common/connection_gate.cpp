// vf/adapters/common/connection_gate.cpp

#include "vf/adapters/common/connection_gate.hpp"

#include <algorithm>

namespace vf::adapters::common {

conn_key make_conn_key(const boost::asio::ip::address& addr) {
  conn_key key{};
  if (addr.is_v4()) {
    auto v4 = addr.to_v4().to_bytes();
    key[10] = 0xFF;
    key[11] = 0xFF;
    std::copy(v4.begin(), v4.end(), key.begin() + 12);
    return key;
  }
  auto v6 = addr.to_v6();
  auto bytes = v6.to_bytes();
  std::copy(bytes.begin(), bytes.end(), key.begin());
  // An IPv4-mapped address is a single IPv4 host and stays whole.
  if (!v6.is_v4_mapped())
    std::fill(key.begin() + 8, key.end(), 0);
  return key;
}

connection_gate::slot::slot(slot&& other) noexcept
  : gate_(std::move(other.gate_)), key_(other.key_),
    per_client_(other.per_client_) {
  other.gate_.reset();
}

connection_gate::slot&
connection_gate::slot::operator=(slot&& other) noexcept {
  if (this != &other) {
    release();
    gate_ = std::move(other.gate_);
    key_ = other.key_;
    per_client_ = other.per_client_;
    other.gate_.reset();
  }
  return *this;
}

connection_gate::slot::~slot() {
  release();
}

void connection_gate::slot::release() {
  if (gate_) {
    gate_->leave(key_, per_client_);
    gate_.reset();
  }
}

connection_gate::verdict
connection_gate::try_enter(const std::shared_ptr<connection_gate>& gate,
                           const conn_key& key, bool exempt, slot& out) {
  auto& self = *gate;
  std::lock_guard<std::mutex> guard{self.mtx_};
  if (self.total_ >= self.max_total_)
    return verdict::total_full;
  bool per_client = !exempt && self.max_per_client_ > 0;
  if (per_client) {
    auto& n = self.per_client_[key];
    if (n >= self.max_per_client_)
      return verdict::client_full;
    ++n;
  }
  ++self.total_;
  out = slot{gate, key, per_client};
  return verdict::ok;
}

size_t connection_gate::open() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return total_;
}

size_t connection_gate::open(const conn_key& key) const {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = per_client_.find(key);
  return i == per_client_.end() ? 0 : i->second;
}

void connection_gate::leave(const conn_key& key, bool per_client) {
  std::lock_guard<std::mutex> guard{mtx_};
  --total_;
  if (per_client) {
    auto i = per_client_.find(key);
    if (i != per_client_.end() && --i->second == 0)
      per_client_.erase(i);
  }
}

} // namespace vf::adapters::common
