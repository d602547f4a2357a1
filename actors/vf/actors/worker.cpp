// vf/actors/worker.cpp

#include "vf/actors/worker.hpp"

#include "caf/sec.hpp"
#include "caf/send.hpp"

#include "vf/messages/errc.hpp"

#include <algorithm>
#include <chrono>

namespace vf::actors {

namespace {

using std::chrono::duration_cast;
using std::chrono::microseconds;
using std::chrono::milliseconds;

/// Extra time a port gets beyond the task deadline to report the timeout
/// itself (its own cut-off is more precise than ours).
constexpr milliseconds port_grace{1000};

messages::task_outcome make_outcome(const messages::task& t,
                                    const std::string& worker) {
  messages::task_outcome out;
  out.job_id = t.job_id;
  out.lease_id = t.lease_id;
  out.kind = t.kind;
  out.worker = worker;
  out.object_version = t.object.version;
  out.series = t.series;
  out.leased_at = t.leased_at;
  return out;
}

/// How many answered outcomes a worker keeps for re-reporting.
constexpr size_t max_recent = 1024;

void fail(messages::task_outcome& out, const caf::error& err) {
  out.ok = false;
  messages::errc code;
  if (err == caf::sec::request_timeout)
    code = messages::errc::timeout;
  else if (err.category() == caf::atom("system"))
    code = messages::errc::worker_lost; // The port actor itself is gone.
  else
    code = messages::errc_of(err);
  out.error_code = code;
  out.error_message = messages::message_of(err);
  out.transient = messages::is_transient(code);
}

} // namespace

void worker_state::remember(const messages::task_outcome& out) {
  if (cfg.on_finished)
    cfg.on_finished(out);
  recent.push_back(out);
  if (recent.size() > max_recent)
    recent.pop_front();
}

worker_impl_actor::behavior_type worker(worker_impl* self, worker_config cfg) {
  self->state.cfg = std::move(cfg);
  return {
    [=](atoms::run,
        messages::task& t) -> caf::result<messages::task_outcome> {
      auto& cfg = self->state.cfg;
      // Before the promise, which takes the sender out of the message.
      auto requester = self->current_sender();
      auto rp = self->make_response_promise<messages::task_outcome>();
      auto started = self->clock().now();
      auto out = make_outcome(t, cfg.name);
      auto lease = t.lease_id;
      self->state.running.emplace(
        lease, worker_state::run_entry{t.kind, std::move(requester), 0});
      // What the trace lines need of the task, not its (large) input.
      messages::task brief;
      brief.job_id = t.job_id;
      brief.kind = t.kind;
      brief.lease_id = t.lease_id;
      brief.attempt = t.attempt;
      brief.request_id = t.request_id;
      if (cfg.trace)
        cfg.trace("started " + to_string(t.kind) + " attempt "
                    + std::to_string(t.attempt) + " (lease "
                    + std::to_string(t.lease_id) + ")",
                  brief);
      auto done = [=](messages::task_outcome o) mutable {
        self->state.running.erase(lease);
        o.duration_us = static_cast<uint64_t>(
          duration_cast<microseconds>(self->clock().now() - started).count());
        if (self->state.cfg.trace)
          self->state.cfg.trace(
            (o.ok ? "finished " + to_string(brief.kind)
                  : "failed " + to_string(brief.kind) + ": "
                      + to_string(o.error_code) + ": " + o.error_message)
              + " in " + std::to_string(o.duration_us / 1000) + " ms",
            brief);
        self->state.remember(o);
        rp.deliver(std::move(o));
      };
      auto timeout = milliseconds{t.timeout_ms} + port_grace;
      // Both ports answer with text on success; the outcome is the same.
      auto on_text = [=](std::string& text) mutable {
        auto o = out;
        o.ok = true;
        o.output = std::move(text);
        done(std::move(o));
      };
      auto on_error = [=](caf::error& err) mutable {
        auto o = out;
        fail(o, err);
        done(std::move(o));
      };
      switch (t.kind) {
        case messages::task_kind::probe:
          ask(self, self->state.timeouts, cfg.media, timeout, atoms::probe_v,
              t.object, t.input, t.timeout_ms, t.lease_id)
            .then(on_text, on_error);
          break;
        case messages::task_kind::render:
        case messages::task_kind::compose:
          // One media port for both: the input tells a composition apart.
          ask(self, self->state.timeouts, cfg.media, timeout, atoms::render_v,
              t.object, t.job_id, t.input, t.outputs, t.sources, t.timeout_ms,
              t.lease_id)
            .then(on_text, on_error);
          break;
        case messages::task_kind::summarize:
          ask(self, self->state.timeouts, cfg.summarizer, timeout,
              atoms::summarize_v, t.filename, t.input)
            .then(on_text, on_error);
          break;
        case messages::task_kind::sleep: {
          self->state.running.erase(lease);
          // Synthetic work for benchmarks: `input` is the duration in ms.
          uint64_t ms = 0;
          try {
            ms = std::stoull(t.input.empty() ? "0" : t.input);
          } catch (...) {
            fail(out, messages::make_error(messages::errc::invalid_argument,
                                           "sleep task needs a duration in "
                                           "ms as input"));
            return out;
          }
          self->state.sleeping.emplace(
            t.lease_id, worker_state::sleeper{t, rp, started});
          self->delayed_send(self, milliseconds{ms}, atoms::expire_v,
                             t.lease_id);
          return rp;
        }
        default:
          self->state.running.erase(lease);
          fail(out, messages::make_error(messages::errc::invalid_argument,
                                         "worker cannot run task kind "
                                           + to_string(t.kind)));
          return out;
      }
      return rp;
    },
    [=](atoms::cancel, uint64_t lease_id) {
      auto& st = self->state;
      if (auto i = st.sleeping.find(lease_id); i != st.sleeping.end()) {
        auto out = make_outcome(i->second.job_task, st.cfg.name);
        fail(out, messages::make_error(messages::errc::cancelled,
                                       "cancelled while running"));
        out.duration_us = static_cast<uint64_t>(
          duration_cast<microseconds>(self->clock().now()
                                      - i->second.started)
            .count());
        st.remember(out);
        i->second.promise.deliver(std::move(out));
        st.sleeping.erase(i);
        return;
      }
      auto i = st.running.find(lease_id);
      if (i != st.running.end()
          && (i->second.kind == messages::task_kind::probe
              || i->second.kind == messages::task_kind::render
              || i->second.kind == messages::task_kind::compose)
          && st.cfg.media_control)
        // Anonymous: the worker has no use for the acknowledgement.
        caf::anon_send(st.cfg.media_control, atoms::cancel_v, lease_id);
      // A summary takes microseconds: it is let to finish.
    },
    [=](atoms::progress, uint64_t lease_id, uint8_t percent) {
      auto& st = self->state;
      auto i = st.running.find(lease_id);
      if (i == st.running.end() || !i->second.requester
          || caf::actor_cast<caf::actor_addr>(self->current_sender())
               != st.cfg.media.address())
        return;
      percent = std::min(percent, uint8_t{100});
      // Whole percents only: a render reports every half percent, and a
      // remote lease pays a network message for each.
      if (percent <= i->second.percent)
        return;
      i->second.percent = percent;
      self->send(
        caf::actor_cast<messages::progress_sink_actor>(i->second.requester),
        atoms::progress_v, lease_id, percent);
    },
    [=](atoms::flush) {
      auto& rec = self->state.recent;
      std::vector<messages::task_outcome> xs{rec.begin(), rec.end()};
      rec.clear();
      return xs;
    },
    [=](atoms::expire, uint64_t lease_id) {
      auto& sl = self->state.sleeping;
      auto i = sl.find(lease_id);
      if (i == sl.end())
        return;
      auto out = make_outcome(i->second.job_task, self->state.cfg.name);
      out.ok = true;
      out.output = i->second.job_task.input;
      out.duration_us = static_cast<uint64_t>(
        duration_cast<microseconds>(self->clock().now() - i->second.started)
          .count());
      self->state.remember(out);
      i->second.promise.deliver(std::move(out));
      sl.erase(i);
    },
  };
}

} // namespace vf::actors
