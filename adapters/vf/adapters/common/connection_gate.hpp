// vf/adapters/common/connection_gate.hpp
//
// Admission of TCP connections by a listener: a cap on all open connections
// and a cap per client address, so that one client (or a flood of idle
// sockets) cannot take every slot or every file descriptor of the process.
// Shared by the JSON API and the built-in object store.

#pragma once

#include <boost/asio/ip/address.hpp>

#include <array>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>

namespace vf::adapters::common {

/// A client's address as a connection key: 16 bytes, IPv4 as an IPv4-mapped
/// IPv6 address, IPv6 cut to its /64 (one host or subscriber usually owns a
/// whole /64).
using conn_key = std::array<unsigned char, 16>;

/// Returns the key of `addr` (see `conn_key`).
conn_key make_conn_key(const boost::asio::ip::address& addr);

/// Counts open connections in total and per client; thread-safe.
class connection_gate {
public:
  /// Why `try_enter` refused.
  enum class verdict {
    /// Admitted; the caller now holds a slot.
    ok,
    /// `max_total` connections are open.
    total_full,
    /// `max_per_client` connections of this client are open.
    client_full,
  };

  /// A held slot; leaves the gate when destroyed. Move-only.
  class slot {
  public:
    slot() = default;
    slot(slot&& other) noexcept;
    slot& operator=(slot&& other) noexcept;
    slot(const slot&) = delete;
    slot& operator=(const slot&) = delete;
    /// Leaves the gate (if the slot is held).
    ~slot();
    /// Whether this slot counts against the gate.
    explicit operator bool() const {
      return gate_ != nullptr;
    }

  private:
    friend class connection_gate;
    slot(std::shared_ptr<connection_gate> gate, conn_key key, bool per_client)
      : gate_(std::move(gate)), key_(key), per_client_(per_client) {
    }
    void release();
    std::shared_ptr<connection_gate> gate_;
    conn_key key_{};
    bool per_client_ = false;
  };

  /// A gate admitting at most `max_total` connections and `max_per_client`
  /// per client (0: no per-client cap).
  connection_gate(size_t max_total, size_t max_per_client)
    : max_total_(max_total), max_per_client_(max_per_client) {
  }

  /// Tries to admit one connection of `key`; on `ok`, `out` holds its slot.
  /// `exempt` clients (e.g. trusted proxies, which carry many clients) count
  /// only against the total.
  static verdict try_enter(const std::shared_ptr<connection_gate>& gate,
                           const conn_key& key, bool exempt, slot& out);

  /// Open connections in total.
  size_t open() const;

  /// Open connections of `key`.
  size_t open(const conn_key& key) const;

  /// The total cap.
  size_t max_total() const {
    return max_total_;
  }

  /// The per-client cap (0: none).
  size_t max_per_client() const {
    return max_per_client_;
  }

private:
  void leave(const conn_key& key, bool per_client);

  size_t max_total_;
  size_t max_per_client_;
  mutable std::mutex mtx_;
  size_t total_ = 0;
  std::map<conn_key, size_t> per_client_;
};

} // namespace vf::adapters::common
