// vf/adapters/common/request_deadlines.hpp
//
// Request timeouts for one bridge, kept on its I/O thread. CAF 0.17's
// thread-safe clock locks a mutex and wakes its own thread on every timeout
// set and cancelled: two context switches per API request, about a tenth of
// the CPU time of `POST /jobs`. An Asio timer on the I/O thread costs none.
// Used by the API and the object store for their requests to actors.

#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "caf/message_id.hpp"

#include <chrono>
#include <cstdint>
#include <deque>
#include <unordered_set>

namespace vf::adapters::common {

class asio_bridge;

/// Fails requests of one bridge that got no reply in time, by delivering
/// `sec::request_timeout` as their response. Requests are sent with
/// `caf::infinite`, tracked here, and settled by their handlers. All
/// requests share one timeout, so deadlines arrive in order and a FIFO
/// suffices. Use only on the bridge's I/O thread.
class request_deadlines {
public:
  /// Tracks requests of `bridge` (running on `ioc`) with `timeout`.
  request_deadlines(asio_bridge& bridge, boost::asio::io_context& ioc,
                    std::chrono::steady_clock::duration timeout);

  /// Starts the clock for the request whose response carries `id`.
  void track(caf::message_id id);

  /// Stops the clock for `id`: its handler ran (reply, error or timeout).
  void settle(caf::message_id id);

  /// Returns the number of requests waiting for a reply.
  size_t outstanding() const {
    return outstanding_.size();
  }

private:
  struct entry {
    std::chrono::steady_clock::time_point deadline;
    uint64_t id;
  };

  void arm();

  void expire();

  asio_bridge& bridge_;
  boost::asio::steady_timer timer_;
  std::chrono::steady_clock::duration timeout_;
  std::deque<entry> queue_;
  std::unordered_set<uint64_t> outstanding_;
  bool armed_ = false;
  /// Tells a pending wait whether it is still the current one.
  uint64_t generation_ = 0;
};

} // namespace vf::adapters::common
