// vf/adapters/common/refuse_connection.cpp

#include "vf/adapters/common/refuse_connection.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <chrono>

namespace vf::adapters::common {

namespace {

using tcp = boost::asio::ip::tcp;

struct refused : std::enable_shared_from_this<refused> {
  refused(tcp::socket s, std::shared_ptr<const std::string> r,
          std::shared_ptr<refusal_budget> b)
    : sock(std::move(s)), timer(sock.get_executor()), response(std::move(r)),
      budget(std::move(b)) {
  }

  ~refused() {
    if (counted)
      --budget->lingering;
  }

  void start() {
    boost::asio::async_write(sock, boost::asio::buffer(*response),
                             [self = shared_from_this()](
                               boost::system::error_code ec, size_t) {
                               self->written(ec);
                             });
  }

  void written(boost::system::error_code ec) {
    if (ec)
      return close();
    if (++budget->lingering > budget->max_lingering) {
      --budget->lingering;
      return close();
    }
    counted = true;
    boost::system::error_code ignored;
    sock.shutdown(tcp::socket::shutdown_send, ignored);
    timer.expires_after(std::chrono::milliseconds{500});
    timer.async_wait([self = shared_from_this()](boost::system::error_code) {
      self->close();
    });
    drain();
  }

  void drain() {
    sock.async_read_some(boost::asio::buffer(buf),
                         [self = shared_from_this()](
                           boost::system::error_code ec, size_t n) {
                           self->drained += n;
                           if (ec || self->drained > 64 * 1024)
                             return self->close();
                           self->drain();
                         });
  }

  void close() {
    boost::system::error_code ec;
    timer.cancel();
    sock.close(ec);
  }

  tcp::socket sock;
  boost::asio::steady_timer timer;
  std::shared_ptr<const std::string> response;
  std::shared_ptr<refusal_budget> budget;
  std::array<char, 4096> buf;
  size_t drained = 0;
  bool counted = false;
};

} // namespace

void refuse_connection(tcp::socket sock,
                       std::shared_ptr<const std::string> response,
                       std::shared_ptr<refusal_budget> budget) {
  std::make_shared<refused>(std::move(sock), std::move(response),
                            std::move(budget))
    ->start();
}

} // namespace vf::adapters::common
