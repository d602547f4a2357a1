// vf/adapters/aws/sqs_source.cpp

#include "vf/adapters/aws/sqs_source.hpp"

#include "caf/typed_event_based_actor.hpp"

#include "vf/adapters/aws/tick_once.hpp"
#include "vf/messages/errc.hpp"

#include <algorithm>
#include <map>

namespace vf::adapters::aws {

namespace {

using messages::errc;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

struct pending {
  std::string message_id;
  uint32_t receive_count = 0;
  size_t events_left = 0;
  bool transient = false;
  /// No later than when its visibility timeout last started: the start of
  /// the receive (or extension) call, as the queue may start the timer at
  /// any moment of the call, even long before a long poll answers.
  steady_clock::time_point extended_at;
};

struct source_state {
  sqs_source_config cfg;
  messages::object_sink_actor sink;
  /// Receipt handle → the message's events still unanswered.
  std::map<std::string, pending> inflight;
  std::vector<std::string> to_delete;
  bool tick_pending = false;
  milliseconds backoff{0};
  bool failing = false;
  /// Deletes or extensions failing: said once until they work again.
  bool delete_failing = false;
  bool extend_failing = false;
  static inline const char* name = "sqs-source";
};

using source_ptr = sqs_source_actor::stateful_pointer<source_state>;

void schedule(source_ptr self, milliseconds delay) {
  tick_once(self, self->state.tick_pending, delay);
}

void count(source_ptr self, const char* what) {
  if (self->state.cfg.count)
    self->state.cfg.count(what);
}

void say(source_ptr self, bool warn, const std::string& text) {
  if (self->state.cfg.log)
    self->state.cfg.log(warn, text);
}

/// Not worth delivering again: the sink said so for good.
bool final_refusal(const caf::error& err) {
  if (err.category() != messages::errc_category)
    return false;
  auto code = static_cast<errc>(err.code());
  return code == errc::not_found || code == errc::invalid_argument
         || code == errc::conflict || code == errc::forbidden;
}

void answered(source_ptr self, const std::string& receipt, bool transient) {
  auto& st = self->state;
  auto i = st.inflight.find(receipt);
  if (i == st.inflight.end())
    return;
  auto& p = i->second;
  p.transient = p.transient || transient;
  if (--p.events_left > 0)
    return;
  if (p.transient) {
    // Left: SQS shows it again after the visibility timeout; after the
    // queue's maxReceiveCount its redrive policy moves it to the DLQ.
    count(self, "retried");
    say(self, true,
        "message " + p.message_id + " (receive "
          + std::to_string(p.receive_count)
          + ") not recorded; left for redelivery");
  } else {
    st.to_delete.push_back(receipt);
  }
  st.inflight.erase(i);
  schedule(self, milliseconds{0});
}

void take(source_ptr self, sqs_message& m, steady_clock::time_point asked) {
  auto& st = self->state;
  count(self, "received");
  auto drop = [&](const char* outcome, const std::string& why) {
    count(self, outcome);
    if (std::string_view{outcome} == "rejected")
      say(self, true, "message " + m.message_id + ": " + why + "; deleted");
    st.to_delete.push_back(m.receipt_handle);
  };
  if (m.body.size() > st.cfg.max_body) {
    drop("rejected", "body of " + std::to_string(m.body.size())
                       + " bytes is larger than "
                       + std::to_string(st.cfg.max_body));
    return;
  }
  auto events = st.cfg.parse(m.body);
  if (!events) {
    drop("rejected", messages::message_of(events.error()));
    return;
  }
  if (events->empty()) {
    drop("ignored", "");
    return;
  }
  if (st.inflight.count(m.receipt_handle) > 0)
    return;
  auto& p = st.inflight[m.receipt_handle];
  p.message_id = m.message_id;
  p.receive_count = m.receive_count;
  p.events_left = events->size();
  p.extended_at = asked;
  auto receipt = m.receipt_handle;
  for (auto& ev : *events) {
    // Whoever may send to the queue says what it likes: the orchestrator
    // checks the object with the store (HEAD) for every outside source,
    // and no digest is believed.
    ev.source = "sqs";
    ev.object.sha256.clear();
    count(self, "delivered");
    self->request(st.sink, st.cfg.sink_timeout, atoms::created_v, ev)
      .then([self, receipt](bool) { answered(self, receipt, false); },
            [self, receipt](caf::error& err) {
              if (final_refusal(err)) {
                count(self, "rejected");
                say(self, true,
                    "event for an object vidflow does not wait for: "
                      + messages::message_of(err) + "; deleted");
                answered(self, receipt, false);
              } else {
                answered(self, receipt, true);
              }
            });
  }
}

/// False when SQS refused the deletes for now (the source backs off).
bool flush_deletes(source_ptr self) {
  auto& st = self->state;
  while (!st.to_delete.empty()) {
    auto n = std::min<size_t>(st.to_delete.size(), 10);
    std::vector<std::string> chunk(
      st.to_delete.begin(), st.to_delete.begin() + static_cast<ptrdiff_t>(n));
    auto failed = sqs_delete(st.cfg.queue, chunk);
    auto drop_chunk = [&] {
      st.to_delete.erase(st.to_delete.begin(),
                         st.to_delete.begin() + static_cast<ptrdiff_t>(n));
    };
    if (!failed) {
      count(self, "delete_error");
      auto why = messages::message_of(failed.error());
      if (messages::errc_of(failed.error()) == errc::invalid_argument) {
        // Refused for good (no permission, no such queue): these messages
        // come back after their visibility timeout and are handled again
        // as duplicates; keeping the receipts would only repeat this.
        say(self, true,
            why + "; " + std::to_string(n)
              + " message(s) will be delivered again");
        drop_chunk();
        continue;
      }
      // Kept for the next try; if the receipts expire meanwhile, SQS
      // delivers the messages again and the orchestrator sees duplicates.
      if (!st.delete_failing)
        say(self, true, why + "; trying again");
      st.delete_failing = true;
      return false;
    }
    if (st.delete_failing)
      say(self, false, "SQS deletes work again");
    st.delete_failing = false;
    drop_chunk();
    for (size_t i = 0; i < n - failed->size(); ++i)
      count(self, "deleted");
    for (size_t i = 0; i < failed->size(); ++i)
      count(self, "delete_error");
  }
  return true;
}

void extend_visibility(source_ptr self) {
  auto& st = self->state;
  auto now = steady_clock::now();
  auto half = milliseconds{st.cfg.visibility_s * 500};
  std::vector<std::string> due;
  for (auto& [receipt, p] : st.inflight)
    if (now - p.extended_at >= half)
      due.push_back(receipt);
  for (size_t at = 0; at < due.size(); at += 10) {
    std::vector<std::string> chunk(
      due.begin() + static_cast<ptrdiff_t>(at),
      due.begin() + static_cast<ptrdiff_t>(std::min(at + 10, due.size())));
    auto failed = sqs_extend(st.cfg.queue, chunk, st.cfg.visibility_s);
    if (!failed) {
      if (!st.extend_failing)
        say(self, true,
            messages::message_of(failed.error())
              + "; messages may be delivered again while "
                "their events are being recorded");
      st.extend_failing = true;
      // Tried again on a later tick, not on every one.
      for (auto& r : chunk)
        st.inflight[r].extended_at = now - half / 2;
      return;
    }
    st.extend_failing = false;
    for (auto& r : chunk)
      if (std::find(failed->begin(), failed->end(), r) == failed->end()) {
        st.inflight[r].extended_at = now;
        count(self, "extended");
      }
  }
}

void step(source_ptr self) {
  auto& st = self->state;
  st.tick_pending = false;
  auto deletes_ok = flush_deletes(self);
  extend_visibility(self);
  // Receipts waiting for their delete count too: they are messages taken.
  auto taken = st.inflight.size() + st.to_delete.size();
  if (!deletes_ok || taken >= st.cfg.max_inflight) {
    st.backoff = deletes_ok
                   ? milliseconds{100}
                   : std::min(std::max(st.backoff * 2, milliseconds{500}),
                              milliseconds{10000});
    schedule(self, st.backoff);
    return;
  }
  auto room = std::min<size_t>(10, st.cfg.max_inflight - taken);
  // Wait long only when nothing else needs this actor.
  auto idle = st.inflight.empty() && st.to_delete.empty();
  auto asked = steady_clock::now();
  auto got = sqs_receive(st.cfg.queue, static_cast<uint32_t>(room),
                         idle ? st.cfg.wait_s : 0, st.cfg.visibility_s);
  if (!got) {
    count(self, "receive_error");
    st.backoff = std::min(std::max(st.backoff * 2, milliseconds{500}),
                          milliseconds{10000});
    if (!st.failing)
      say(self, true,
          messages::message_of(got.error())
            + "; trying again (backing off up to 10 s)");
    st.failing = true;
    schedule(self, st.backoff);
    return;
  }
  if (st.failing)
    say(self, false, "SQS receives work again");
  st.failing = false;
  st.backoff = milliseconds{0};
  for (auto& m : *got)
    take(self, m, asked);
  // Received after a long poll, a message may be due for its extension
  // already: the next step comes at once.
  if (!got->empty() || !st.to_delete.empty())
    schedule(self, milliseconds{0});
  else if (!st.inflight.empty())
    schedule(self, milliseconds{100});
  else
    schedule(self, milliseconds{st.cfg.wait_s == 0 ? 200 : 0});
}

sqs_source_actor::behavior_type sqs_source(source_ptr self,
                                           sqs_source_config cfg,
                                           messages::object_sink_actor sink) {
  self->state.cfg = std::move(cfg);
  self->state.sink = std::move(sink);
  schedule(self, milliseconds{0});
  return {
    [self](atoms::tick) { step(self); },
  };
}

} // namespace

sqs_source_actor spawn_sqs_source(caf::actor_system& sys, sqs_source_config cfg,
                                  messages::object_sink_actor sink) {
  return sys.spawn<caf::detached>(sqs_source, std::move(cfg), std::move(sink));
}

} // namespace vf::adapters::aws
