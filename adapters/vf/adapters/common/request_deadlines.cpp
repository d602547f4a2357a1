// vf/adapters/common/request_deadlines.cpp

#include "vf/adapters/common/request_deadlines.hpp"

#include "caf/error.hpp"
#include "caf/sec.hpp"

#include "vf/adapters/common/asio_bridge.hpp"

namespace vf::adapters::common {

request_deadlines::request_deadlines(
  asio_bridge& bridge, boost::asio::io_context& ioc,
  std::chrono::steady_clock::duration timeout)
  : bridge_(bridge), timer_(ioc), timeout_(timeout) {
  // nop
}

void request_deadlines::track(caf::message_id id) {
  auto key = id.integer_value();
  outstanding_.insert(key);
  queue_.push_back({std::chrono::steady_clock::now() + timeout_, key});
  if (!armed_)
    arm();
}

void request_deadlines::settle(caf::message_id id) {
  if (outstanding_.erase(id.integer_value()) == 0)
    return;
  // Replies mostly come in order: dropping settled entries at the front
  // keeps the queue as short as the set of requests in flight.
  while (!queue_.empty() && outstanding_.count(queue_.front().id) == 0)
    queue_.pop_front();
  if (queue_.empty() && armed_) {
    // Nothing left to time out: an armed timer would keep the io_context
    // from running out of work at shutdown.
    ++generation_;
    armed_ = false;
    timer_.cancel();
  }
}

void request_deadlines::arm() {
  armed_ = true;
  timer_.expires_at(queue_.front().deadline);
  timer_.async_wait([this, gen = ++generation_](boost::system::error_code) {
    // A cancelled or superseded wait; a newer one (if any) is pending.
    if (gen != generation_)
      return;
    armed_ = false;
    expire();
  });
}

void request_deadlines::expire() {
  auto now = std::chrono::steady_clock::now();
  auto self = bridge_.self();
  while (!queue_.empty()) {
    auto& front = queue_.front();
    if (outstanding_.count(front.id) != 0) {
      if (front.deadline > now)
        break;
      outstanding_.erase(front.id);
      // What CAF's clock would send: the handler sees the timeout as the
      // response; a real reply arriving later finds no handler and is
      // dropped.
      self->eq_impl(caf::message_id{front.id}, nullptr, nullptr,
                    caf::make_error(caf::sec::request_timeout));
    }
    queue_.pop_front();
  }
  if (!queue_.empty())
    arm();
}

} // namespace vf::adapters::common
