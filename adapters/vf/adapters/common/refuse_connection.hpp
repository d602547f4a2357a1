// vf/adapters/common/refuse_connection.hpp
//
// Answers a connection a listener will not serve (over a connection limit)
// with a fixed response and closes it, without parsing anything: the answer
// fits in the socket buffer, so the write completes at once. The socket then
// lingers a moment (reading and dropping what the client still sends) so the
// client reads the answer rather than a reset; only a bounded number linger
// at once, the rest are closed right after the write.

#pragma once

#include <boost/asio/ip/tcp.hpp>

#include <atomic>
#include <memory>
#include <string>

namespace vf::adapters::common {

/// Sockets lingering after a refusal, shared by one listener's refusals.
struct refusal_budget {
  /// Sockets currently lingering.
  std::atomic<size_t> lingering{0};
  /// Most sockets that may linger at once.
  size_t max_lingering = 64;
};

/// Writes `response` (a complete HTTP response with `Connection: close`) to
/// `sock` and closes it. Call on the socket's executor's thread or before
/// the socket is used anywhere else.
void refuse_connection(boost::asio::ip::tcp::socket sock,
                       std::shared_ptr<const std::string> response,
                       std::shared_ptr<refusal_budget> budget);

} // namespace vf::adapters::common
