// vf/actors/request_timeouts.cpp

#include "vf/actors/request_timeouts.hpp"

#include "caf/actor_clock.hpp"
#include "caf/behavior.hpp"
#include "caf/message_priority.hpp"
#include "caf/sec.hpp"

#include <algorithm>

namespace vf::actors {

void request_timeouts::track(caf::scheduled_actor* self, caf::message_id id,
                             const caf::duration& timeout) {
  auto deadline = self->clock().now();
  deadline += timeout;
  auto key = id.integer_value();
  outstanding_.insert(key);
  heap_.push_back({deadline, key});
  std::push_heap(heap_.begin(), heap_.end(), later);
  if (alarm_ == 0 || deadline < alarm_at_)
    arm(self, deadline);
}

void request_timeouts::settle(caf::message_id id) {
  if (outstanding_.erase(id.integer_value()) > 0)
    prune();
}

void request_timeouts::prune() {
  // Responses mostly come in the order of their deadlines: dropping the
  // settled entries at the front keeps the heap about as short as the set
  // of requests in flight.
  while (!heap_.empty() && outstanding_.count(heap_.front().id) == 0) {
    std::pop_heap(heap_.begin(), heap_.end(), later);
    heap_.pop_back();
  }
}

void request_timeouts::arm(caf::scheduled_actor* self, time_point at) {
  // The alarm is a request to nobody: its timeout is the only response it
  // gets. An alarm replaced by an earlier one still fires and does nothing.
  auto mid = self->new_request_id(caf::message_priority::normal).response_id();
  alarm_ = mid.integer_value();
  alarm_at_ = at;
  ++alarms_;
  self->add_multiplexed_response_handler(
    mid, caf::behavior{[this, self, mid](caf::error&) {
      if (alarm_ != mid.integer_value())
        return;
      alarm_ = 0;
      expire(self);
    }});
  self->clock().set_request_timeout(at, self, mid);
}

void request_timeouts::expire(caf::scheduled_actor* self) {
  auto now = self->clock().now();
  // After `prune`, the front is a request still waiting.
  for (prune(); !heap_.empty() && heap_.front().deadline <= now; prune()) {
    auto key = heap_.front().id;
    std::pop_heap(heap_.begin(), heap_.end(), later);
    heap_.pop_back();
    outstanding_.erase(key);
    // What CAF's clock would send: the handler sees the timeout as the
    // response; a real response arriving later finds no handler and is
    // dropped.
    self->eq_impl(caf::message_id{key}, nullptr, nullptr,
                  caf::make_error(caf::sec::request_timeout));
  }
  if (!heap_.empty())
    arm(self, heap_.front().deadline);
}

} // namespace vf::actors
