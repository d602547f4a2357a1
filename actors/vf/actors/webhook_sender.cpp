// vf/actors/webhook_sender.cpp

#include "vf/actors/webhook_sender.hpp"

#include "vf/messages/atoms.hpp"

#include "caf/send.hpp"

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
               std::function<messages::callback_actor()> make_client,
               webhook_sender_config cfg) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.clock = wall_clock{st.cfg.wall_ms, self->clock().now()};
  st.make_client = std::move(make_client);
  st.clients = std::make_shared<std::vector<messages::callback_actor>>();
  for (size_t i = 0; i < std::max<uint32_t>(st.cfg.batch, 1); ++i) {
    st.clients->push_back(st.make_client());
    st.idle.push_back(i);
  }
  // The clients are ours: they stop with us.
  self->attach_functor([clients = st.clients] {
    for (auto& c : *clients)
      caf::anon_send_exit(c, caf::exit_reason::user_shutdown);
  });
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
      st.cfg.log("gave up delivery " + next.id + " of job " + next.job_id
                 + " after " + std::to_string(next.attempts)
                 + " attempt(s): " + next.last_error);
    auto id = next.id;
    self->request(store, store_timeout, atoms::record_delivery_v, next)
      .then([self, id](bool) { self->state.in_flight.erase(id); },
            // Not recorded: it stays due and is tried again (a receiver
            // drops the copy by its id).
            [self, id](caf::error&) { self->state.in_flight.erase(id); });
  };
  // Hands `d` to idle client `i`.
  auto attempt = [=](const messages::delivery& d, size_t i) {
    auto& st = self->state;
    st.in_flight.insert(d.id);
    self
      ->request((*st.clients)[i], st.cfg.attempt_timeout, atoms::deliver_v, d)
      .then(
        [=](messages::delivery_attempt& a) {
          self->state.idle.push_back(i);
          record(d, a);
        },
        [=](caf::error& err) {
          // No answer in time: that client may be stuck (a name lookup
          // that hangs). Retire it for a fresh one, never queue behind it.
          auto& st = self->state;
          caf::anon_send_exit((*st.clients)[i],
                              caf::exit_reason::user_shutdown);
          (*st.clients)[i] = st.make_client();
          st.idle.push_back(i);
          messages::delivery_attempt a;
          a.error = "no answer from the callback sender: "
                    + self->system().render(err);
          record(d, a);
        });
  };
  return {
    [=](atoms::tick) {
      auto& st = self->state;
      self->delayed_send(self, st.cfg.interval, atoms::tick_v);
      if (st.looking || st.idle.empty())
        return;
      st.looking = true;
      auto want = static_cast<uint32_t>(st.idle.size() + st.in_flight.size());
      self->request(store, store_timeout, atoms::deliveries_due_v, now_ms(),
                    want)
        .then(
          [=](std::vector<messages::delivery>& due) {
            auto& st = self->state;
            st.looking = false;
            for (auto& d : due) {
              if (st.idle.empty())
                break;
              if (st.in_flight.count(d.id) > 0)
                continue;
              auto i = st.idle.back();
              st.idle.pop_back();
              attempt(d, i);
            }
          },
          [self](caf::error&) { self->state.looking = false; });
    },
  };
}

} // namespace vf::actors
