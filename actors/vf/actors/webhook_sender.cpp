// vf/actors/webhook_sender.cpp

#include "vf/actors/webhook_sender.hpp"

#include "vf/messages/atoms.hpp"

#include <algorithm>
#include <utility>

namespace vf::actors {

namespace {

/// How long a store request may take.
constexpr auto store_timeout = std::chrono::seconds{30};

} // namespace

messages::delivery after_attempt(messages::delivery d,
                                 const messages::delivery_attempt& attempt,
                                 int64_t now_ms,
                                 const webhook_sender_config& cfg) {
  ++d.attempts;
  d.last_status = attempt.status;
  if (attempt.ok) {
    d.state = "delivered";
    d.delivered_at = now_ms;
    d.last_error.clear();
    return d;
  }
  d.last_error = attempt.error;
  auto age = now_ms - d.created_at;
  if (attempt.permanent || age >= cfg.give_up_after.count()) {
    d.state = "failed";
    return d;
  }
  // 1, 2, 4, ... times the base, capped; the shift stops growing long
  // before it could overflow.
  auto shift = std::min<uint32_t>(d.attempts - 1, 30);
  auto wait = std::min<int64_t>(cfg.retry_base.count() << shift,
                                cfg.retry_cap.count());
  d.state = "pending";
  d.next_at = now_ms + wait;
  return d;
}

messages::webhook_sender_actor::behavior_type
webhook_sender(webhook_sender_impl* self, messages::job_store_actor store,
               messages::callback_actor client, webhook_sender_config cfg) {
  self->state.cfg = std::move(cfg);
  self->state.clock = wall_clock{self->state.cfg.wall_ms, self->clock().now()};
  self->send(self, atoms::tick_v);
  auto now_ms = [self] {
    return self->state.clock.at(self->clock().now());
  };
  // Writes the outcome of one attempt; the delivery may be tried again
  // once that write is durable.
  auto record = [=](messages::delivery d,
                    const messages::delivery_attempt& attempt) {
    auto& st = self->state;
    auto next = after_attempt(std::move(d), attempt, now_ms(), st.cfg);
    auto outcome = next.state == "delivered" ? "delivered"
                   : next.state == "failed"  ? "failed"
                                             : "retry";
    if (st.cfg.on_outcome)
      st.cfg.on_outcome(outcome);
    if (next.state == "failed" && st.cfg.log)
      st.cfg.log("gave up delivery " + next.id + " of job "
                 + next.job_id + " after " + std::to_string(next.attempts)
                 + " attempt(s): " + next.last_error);
    auto id = next.id;
    self->request(store, store_timeout, atoms::record_delivery_v, next)
      .then([self, id](bool) { self->state.in_flight.erase(id); },
            // Not recorded: it stays due and is tried again (a receiver
            // drops the copy by its id).
            [self, id](caf::error&) { self->state.in_flight.erase(id); });
  };
  return {
    [=](atoms::tick) {
      auto& st = self->state;
      self->delayed_send(self, st.cfg.interval, atoms::tick_v);
      if (st.looking || st.in_flight.size() >= st.cfg.batch)
        return;
      st.looking = true;
      auto room = static_cast<uint32_t>(st.cfg.batch - st.in_flight.size());
      self->request(store, store_timeout, atoms::deliveries_due_v, now_ms(),
                    room + static_cast<uint32_t>(st.in_flight.size()))
        .then(
          [=](std::vector<messages::delivery>& due) {
            auto& st = self->state;
            st.looking = false;
            for (auto& d : due) {
              if (st.in_flight.size() >= st.cfg.batch)
                break;
              if (!st.in_flight.insert(d.id).second)
                continue;
              self->request(client, st.cfg.attempt_timeout, atoms::deliver_v,
                            d)
                .then(
                  [=](messages::delivery_attempt& attempt) {
                    record(d, attempt);
                  },
                  [=](caf::error& err) {
                    messages::delivery_attempt attempt;
                    attempt.error = "no answer from the callback sender: "
                                    + self->system().render(err);
                    record(d, attempt);
                  });
            }
          },
          [self](caf::error&) { self->state.looking = false; });
    },
  };
}

} // namespace vf::actors
