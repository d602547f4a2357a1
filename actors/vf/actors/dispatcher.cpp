// vf/actors/dispatcher.cpp

#include "vf/actors/dispatcher.hpp"

#include "caf/sec.hpp"

#include "vf/messages/errc.hpp"

#include <algorithm>

namespace vf::actors {

namespace {

/// Whether `w` may run `t`: its kind, and every label the task requires.
bool fits(const worker_entry& w, const messages::task& t) {
  auto& info = w.info;
  if (w.draining || w.busy >= info.slots)
    return false;
  if (std::find(info.kinds.begin(), info.kinds.end(), t.kind)
      == info.kinds.end())
    return false;
  for (auto& label : t.labels)
    if (std::find(info.labels.begin(), info.labels.end(), label)
        == info.labels.end())
      return false;
  return true;
}

/// Builds the outcome of a lease the worker never answered.
messages::task_outcome lost_outcome(const messages::task& t,
                                    messages::errc code, std::string msg,
                                    std::string worker) {
  messages::task_outcome out;
  out.job_id = t.job_id;
  out.lease_id = t.lease_id;
  out.kind = t.kind;
  out.ok = false;
  out.error_code = to_string(code);
  out.error_message = std::move(msg);
  out.transient = true;
  out.worker = std::move(worker);
  return out;
}

void try_dispatch(dispatcher_impl* self);

/// Ends a lease exactly once: frees the slot, reports, answers, and hands
/// the slot to the next queued task.
void finish(dispatcher_impl* self, uint64_t lease_id,
            messages::task_outcome out) {
  auto& st = self->state;
  auto i = st.leases.find(lease_id);
  if (i == st.leases.end())
    return; // Ended already (e.g. worker down before its late answer).
  auto w = st.workers.find(i->second.worker);
  if (w != st.workers.end() && w->second.busy > 0)
    --w->second.busy;
  if (st.cfg.metrics)
    self->send(st.cfg.metrics, atoms::observe_v, out);
  i->second.promise.deliver(std::move(out));
  st.leases.erase(i);
  try_dispatch(self);
}

void try_dispatch(dispatcher_impl* self) {
  auto& st = self->state;
  auto q = st.queue.begin();
  while (q != st.queue.end()) {
    auto& t = q->second.job_task;
    // Prefer the worker with the most free slots: spreads load over nodes.
    worker_entry* best = nullptr;
    for (auto& [addr, w] : st.workers) {
      if (!fits(w, t))
        continue;
      if (best == nullptr
          || w.info.slots - w.busy > best->info.slots - best->busy)
        best = &w;
    }
    if (best == nullptr) {
      ++q; // No worker for this kind right now; lower priorities may fit.
      continue;
    }
    ++best->busy;
    auto lease_id = t.lease_id;
    auto addr = best->handle.address();
    auto worker_name = best->info.name;
    auto timeout = std::chrono::milliseconds{t.timeout_ms} + st.cfg.lease_grace;
    st.leases.emplace(lease_id, lease{t, std::move(q->second.promise), addr});
    if (st.cfg.prepare)
      st.cfg.prepare(t, best->info, best->handle.node() != self->node());
    auto deadline = st.cfg.expire_leases ? caf::duration{timeout}
                                         : caf::duration{caf::infinite};
    self->request(best->handle, deadline, atoms::run_v, std::move(t))
      .then(
        [=](messages::task_outcome& out) {
          finish(self, lease_id, std::move(out));
        },
        [=](caf::error& err) {
          auto i = self->state.leases.find(lease_id);
          if (i == self->state.leases.end())
            return;
          auto& lt = i->second.job_task;
          if (err == caf::sec::request_timeout)
            finish(self, lease_id,
                   lost_outcome(lt, messages::errc::timeout,
                                "lease expired: worker " + worker_name
                                  + " did not answer in time",
                                worker_name));
          else
            finish(self, lease_id,
                   lost_outcome(lt, messages::errc::worker_lost,
                                "worker " + worker_name
                                  + " failed: " + to_string(err),
                                worker_name));
        });
    q = st.queue.erase(q);
  }
}

} // namespace

messages::dispatcher_actor::behavior_type
dispatcher(dispatcher_impl* self, dispatcher_config cfg) {
  self->state.cfg = std::move(cfg);
  self->set_down_handler([=](caf::down_msg& msg) {
    auto& st = self->state;
    auto w = st.workers.find(msg.source);
    if (w == st.workers.end())
      return;
    auto name = w->second.info.name;
    // Forget the worker first so that freed slots never go back to it.
    st.workers.erase(w);
    // Hand back every lease it held: remote deaths never fail in-flight
    // requests by themselves (CAF-NOTES §3).
    std::vector<uint64_t> held;
    for (auto& [id, l] : st.leases)
      if (l.worker == msg.source)
        held.push_back(id);
    for (auto id : held)
      finish(self, id,
             lost_outcome(st.leases[id].job_task, messages::errc::worker_lost,
                          "worker " + name + " went down: "
                            + to_string(msg.reason),
                          name));
  });
  return {
    [=](atoms::submit,
        messages::task& t) -> caf::result<messages::task_outcome> {
      auto rp = self->make_response_promise<messages::task_outcome>();
      auto& st = self->state;
      auto key = std::make_pair(-static_cast<int64_t>(t.priority),
                                st.arrivals++);
      st.queue.emplace(key, queued_task{std::move(t), rp});
      try_dispatch(self);
      return rp;
    },
    [=](atoms::join, messages::worker_actor& hdl,
        messages::worker_info& info) -> caf::result<bool> {
      if (!hdl)
        return messages::make_error(messages::errc::invalid_argument,
                                    "join without a worker handle");
      if (info.slots == 0 || info.kinds.empty())
        return messages::make_error(messages::errc::invalid_argument,
                                    "a worker needs at least one slot and "
                                    "one task kind");
      auto& st = self->state;
      auto addr = hdl.address();
      auto [i, added] = st.workers.try_emplace(addr);
      if (added)
        self->monitor(hdl);
      // A worker that joins again keeps its busy count: its leases stand.
      i->second.handle = std::move(hdl);
      i->second.info = std::move(info);
      i->second.draining = false;
      try_dispatch(self);
      return true;
    },
    [=](atoms::cancel, uint64_t lease_id) {
      auto& st = self->state;
      for (auto i = st.queue.begin(); i != st.queue.end(); ++i) {
        if (i->second.job_task.lease_id == lease_id) {
          auto out = lost_outcome(i->second.job_task, messages::errc::cancelled,
                                  "cancelled before it started", "");
          out.transient = false;
          i->second.promise.deliver(std::move(out));
          st.queue.erase(i);
          return;
        }
      }
      auto l = st.leases.find(lease_id);
      if (l == st.leases.end())
        return;
      auto w = st.workers.find(l->second.worker);
      if (w != st.workers.end())
        self->send(w->second.handle, atoms::cancel_v, lease_id);
    },
    [=](atoms::drain, const std::string& node) {
      auto& st = self->state;
      uint64_t held = 0;
      for (auto& [addr, w] : st.workers) {
        if (w.info.node != node)
          continue;
        w.draining = true;
        for (auto& [id, l] : st.leases)
          if (l.worker == addr)
            ++held;
      }
      return held;
    },
    [=](atoms::stats) {
      auto& st = self->state;
      messages::dispatcher_stats s;
      s.queued = st.queue.size();
      s.leased = st.leases.size();
      s.workers = st.workers.size();
      for (auto& [addr, w] : st.workers)
        if (!w.draining)
          s.free_slots += w.info.slots > w.busy ? w.info.slots - w.busy : 0;
      return s;
    },
  };
}

} // namespace vf::actors
