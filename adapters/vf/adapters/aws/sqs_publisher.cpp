// vf/adapters/aws/sqs_publisher.cpp

#include "vf/adapters/aws/sqs_publisher.hpp"

#include "caf/typed_event_based_actor.hpp"

#include "vf/adapters/aws/tick_once.hpp"
#include "vf/messages/errc.hpp"

#include <algorithm>
#include <chrono>
#include <deque>

namespace vf::adapters::aws {

namespace {

using std::chrono::milliseconds;

struct publisher_state {
  sqs_publisher_config cfg;
  std::deque<std::string> buffer;
  bool tick_pending = false;
  milliseconds backoff{0};
  bool failing = false;
  static inline const char* name = "sqs-publisher";
};

using publisher_ptr = sqs_publisher_actor::stateful_pointer<publisher_state>;

void schedule(publisher_ptr self, milliseconds delay) {
  tick_once(self, self->state.tick_pending, delay);
}

void count(publisher_ptr self, const char* what, size_t n = 1) {
  if (self->state.cfg.count)
    for (size_t i = 0; i < n; ++i)
      self->state.cfg.count(what);
}

void flush(publisher_ptr self) {
  auto& st = self->state;
  st.tick_pending = false;
  while (!st.buffer.empty()) {
    auto n = std::min<size_t>(st.buffer.size(), 10);
    std::vector<std::string> chunk(
      st.buffer.begin(), st.buffer.begin() + static_cast<ptrdiff_t>(n));
    auto failed = sqs_send_batch(st.cfg.queue, chunk);
    if (!failed) {
      count(self, "failed");
      st.backoff = std::min(std::max(st.backoff * 2, milliseconds{500}),
                            milliseconds{30000});
      if (!st.failing && st.cfg.log)
        st.cfg.log(true, messages::message_of(failed.error()) + "; keeping "
                           + std::to_string(st.buffer.size())
                           + " message(s), trying again");
      st.failing = true;
      schedule(self, st.backoff);
      return;
    }
    if (st.failing && st.cfg.log)
      st.cfg.log(false, "SQS sends work again");
    st.failing = false;
    st.backoff = milliseconds{0};
    // Entries SQS refused one by one go back to the end of the buffer.
    std::vector<std::string> again;
    for (auto i : *failed)
      again.push_back(std::move(chunk[i]));
    st.buffer.erase(st.buffer.begin(),
                    st.buffer.begin() + static_cast<ptrdiff_t>(n));
    count(self, "sent", n - again.size());
    if (!again.empty()) {
      count(self, "failed", again.size());
      for (auto& x : again)
        st.buffer.push_back(std::move(x));
      schedule(self, milliseconds{1000});
      return;
    }
  }
}

sqs_publisher_actor::behavior_type sqs_publisher(publisher_ptr self,
                                                 sqs_publisher_config cfg) {
  self->state.cfg = std::move(cfg);
  return {
    [self](atoms::put, std::string& body) {
      auto& st = self->state;
      if (st.buffer.size() >= st.cfg.max_buffered) {
        count(self, "dropped");
        if (st.cfg.log)
          st.cfg.log(true, "buffer full (" + std::to_string(st.buffer.size())
                             + " messages): one dropped");
        return;
      }
      st.buffer.push_back(std::move(body));
      if (!st.failing)
        schedule(self, milliseconds{0});
    },
    [self](atoms::tick) { flush(self); },
  };
}

} // namespace

sqs_publisher_actor spawn_sqs_publisher(caf::actor_system& sys,
                                        sqs_publisher_config cfg) {
  return sys.spawn<caf::detached>(sqs_publisher, std::move(cfg));
}

} // namespace vf::adapters::aws
