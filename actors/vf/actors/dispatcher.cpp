// vf/actors/dispatcher.cpp

#include "vf/actors/dispatcher.hpp"

#include "caf/actor_cast.hpp"
#include "caf/sec.hpp"
#include "caf/send.hpp"

#include "vf/messages/errc.hpp"

#include <algorithm>
#include <memory>
#include <set>
#include <string>

namespace vf::actors {

namespace {

/// Whether `w` runs tasks like `t` at all: it is not leaving, offers the
/// kind and has every label the task requires (busy or not).
/// Whose budget a lease of `w` counts against: its node, by CAF node and
/// name, so that a node naming itself like another shares nothing with it.
std::string load_key(const worker_entry& w) {
  return to_string(w.handle.node()) + '|' + w.info.node;
}

bool runs_kind(const worker_entry& w, const messages::task& t) {
  auto& info = w.info;
  if (w.draining
      || std::find(info.kinds.begin(), info.kinds.end(), t.kind)
           == info.kinds.end())
    return false;
  return std::all_of(
    t.labels.begin(), t.labels.end(), [&info](const std::string& label) {
      return std::find(info.labels.begin(), info.labels.end(), label)
             != info.labels.end();
    });
}

/// Whether `w` could ever run `t`: it runs its kind with its labels, is
/// not draining, and its node's memory budget holds the task.
bool offers(const worker_entry& w, const messages::task& t) {
  return runs_kind(w, t)
         && (w.info.memory_mb == 0 || t.memory_mb <= w.info.memory_mb);
}

/// Whether the node of `w` admits `t` next to what it runs: within its
/// memory budget, and within its cores unless it runs nothing that needs
/// one (a task wanting more cores than a node has still runs there, alone).
bool admits(const dispatcher_state& st, const worker_entry& w,
            const messages::task& t) {
  auto i = st.loads.find(load_key(w));
  if (i == st.loads.end())
    return true;
  auto& used = i->second;
  if (w.info.memory_mb > 0 && used.memory_mb + t.memory_mb > w.info.memory_mb)
    return false;
  return w.info.cores == 0 || t.threads == 0 || used.threads == 0
         || used.threads + t.threads <= w.info.cores;
}

/// Whether `t` costs more than its slot (a render): only such tasks count
/// against a node's cores and memory, and only they respect reservations.
bool costly(const messages::task& t) {
  return t.threads > 0 || t.memory_mb > 0;
}

/// Most parts a render is split into (queue keys leave room for them).
constexpr size_t max_parts = 7;

/// Nodes (load keys) kept free of new costly tasks during one dispatch
/// pass, for costly tasks ahead of them that did not fit.
using reservations = std::set<std::string>;

/// Whether `w` may run `t` now: it offers it, has a free slot, its node
/// admits the task's cost and, for a costly task, is not reserved.
bool fits(const dispatcher_state& st, const worker_entry& w,
          const messages::task& t, const reservations& held) {
  return w.busy < w.info.slots && offers(w, t) && admits(st, w, t)
         && (!costly(t) || held.count(load_key(w)) == 0);
}

/// Whether some worker runs tasks like `t`, busy or not.
bool offered(const dispatcher_state& st, const messages::task& t) {
  return std::any_of(st.workers.begin(), st.workers.end(),
                     [&t](const auto& kv) { return offers(kv.second, t); });
}

/// Why nobody will run `t`: its kind and labels, and what to do.
std::string no_worker_message(const dispatcher_state& st,
                              const messages::task& t) {
  std::string what = "'" + to_string(t.kind) + "'";
  if (!t.labels.empty()) {
    what += " with labels [";
    for (size_t i = 0; i < t.labels.size(); ++i)
      what += (i > 0 ? ", " : "") + t.labels[i];
    what += "]";
  }
  auto waited = std::chrono::duration_cast<std::chrono::seconds>(
                  st.cfg.unrunnable_after)
                  .count();
  uint64_t largest = 0;
  bool kind_ok = false;
  for (auto& [addr, w] : st.workers)
    if (runs_kind(w, t)) {
      kind_ok = true;
      largest = std::max(largest, w.info.memory_mb);
    }
  if (kind_ok)
    return "no worker node can admit this " + to_string(t.kind)
           + " task: it needs about " + std::to_string(t.memory_mb)
           + " MiB of memory and the largest budget of a node that runs it "
             "is "
           + std::to_string(largest)
           + " MiB; raise workers.memory_budget (worker.memory_budget on "
             "worker nodes) on a node with that much memory, or ask for "
             "smaller renditions, then redrive the job";
  auto msg = "no worker runs " + what + " tasks: none of the "
             + std::to_string(st.workers.size())
             + " workers that joined offered it within "
             + std::to_string(waited) + " s";
  if (t.kind == messages::task_kind::render
      || t.kind == messages::task_kind::compose)
    msg += "; " + to_string(t.kind) + " tasks run on workers with that kind "
           "(workers.count > 0 on the coordinator, or worker nodes with "
           + to_string(t.kind) + " in worker.kinds)";
  return msg + "; start such a worker, then redrive the job";
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
  out.error_code = code;
  out.error_message = std::move(msg);
  out.transient = true;
  out.worker = std::move(worker);
  return out;
}

/// Ends lease `t` as refused when `out` answers another lease, job, step,
/// upload or series: a worker can only ever end the lease it was given.
/// The worker's name is the one it registered, never what it claims.
messages::task_outcome checked(const messages::task& t,
                               const std::string& worker,
                               messages::task_outcome out) {
  if (out.lease_id != t.lease_id || out.job_id != t.job_id
      || out.kind != t.kind || out.object_version != t.object.version
      || out.series != t.series) {
    auto refused = lost_outcome(t, messages::errc::forbidden,
                                "worker " + worker + " answered lease "
                                  + std::to_string(t.lease_id)
                                  + " with the outcome of another task",
                                worker);
    refused.object_version = t.object.version;
    refused.series = t.series;
    return refused;
  }
  out.worker = worker;
  return out;
}

/// Whether `out` answers the remote lease `r` recorded under its id.
bool answers(const lease_record& r, const messages::task_outcome& out) {
  return out.job_id == r.job_id && out.kind == r.kind
         && out.object_version == r.object_version && out.series == r.series;
}

/// Remembers a lease given to a worker on `node`, forgetting the oldest.
void remember(dispatcher_impl* self, const messages::task& t,
              const caf::node_id& node) {
  auto& st = self->state;
  if (st.cfg.recent_leases == 0)
    return;
  auto [i, added] = st.recent.insert_or_assign(
    t.lease_id, lease_record{t.job_id, t.kind, t.object.version, t.series,
                             t.leased_at, node});
  static_cast<void>(i);
  if (added)
    st.recent_order.push_back(t.lease_id);
  while (st.recent_order.size() > st.cfg.recent_leases) {
    st.recent.erase(st.recent_order.front());
    st.recent_order.pop_front();
  }
}

/// One remote lease: the relay sends `run` to the worker, so the worker's
/// node learns the relay's handle instead of the dispatcher's; all it can
/// send the relay is a second `run`, which is refused, and `progress` on
/// its own lease.
/// State of a lease relay: whether it took its one `run`.
struct relay_state {
  static inline const char* name = "vf.lease_relay";
  bool used = false;
  /// The lease it runs (0 before its `run`).
  uint64_t lease = 0;
};

/// Sends `t` to the worker and passes its answer on to `rp`, then quits.
void relay_run(messages::lease_relay_actor::stateful_pointer<relay_state> self,
               const messages::worker_actor& worker, caf::duration deadline,
               messages::task t,
               caf::typed_response_promise<messages::task_outcome> rp) {
  self->request(worker, deadline, atoms::run_v, std::move(t))
    .then(
      [=](messages::task_outcome& out) mutable {
        rp.deliver(std::move(out));
        self->quit();
      },
      [=](caf::error& err) mutable {
        rp.deliver(std::move(err));
        self->quit();
      });
}

/// Adds a presigned GET `url` to each of `t.sources` (an earlier job's
/// outputs a render may copy), then runs `t` through `relay_run`; the
/// first presign that fails answers `rp` instead.
void presign_sources_then_run(
  messages::lease_relay_actor::stateful_pointer<relay_state> self,
  const messages::worker_actor& worker, caf::duration deadline,
  const messages::presigner_actor& presigner, messages::task t,
  caf::typed_response_promise<messages::task_outcome> rp) {
  if (t.sources.empty()) {
    relay_run(self, worker, deadline, std::move(t), rp);
    return;
  }
  auto pending = std::make_shared<size_t>(t.sources.size());
  auto shared = std::make_shared<messages::task>(std::move(t));
  for (size_t i = 0; i < shared->sources.size(); ++i) {
    auto src = shared->sources[i];
    self->request(presigner, deadline, atoms::presign_v, std::move(src))
      .then(
        [=](std::string& url) mutable {
          if (*pending == 0)
            return; // One failed: answered already.
          shared->sources[i].url = std::move(url);
          if (--*pending == 0)
            relay_run(self, worker, deadline, std::move(*shared), rp);
        },
        [=](caf::error& err) mutable {
          if (*pending == 0)
            return;
          *pending = 0;
          rp.deliver(std::move(err));
          self->quit();
        });
  }
}

messages::lease_relay_actor::behavior_type
lease_relay(messages::lease_relay_actor::stateful_pointer<relay_state> self,
            messages::worker_actor worker, caf::duration deadline,
            caf::strong_actor_ptr dispatcher,
            messages::presigner_actor presigner) {
  // Not linked: a node that kills its relay must not take the dispatcher
  // with it. A relay whose dispatcher is gone has nobody to answer.
  auto owner = caf::actor_cast<caf::actor_addr>(dispatcher);
  self->monitor(dispatcher);
  self->set_down_handler([=](caf::down_msg& msg) {
    if (msg.source == owner)
      self->quit(msg.reason);
  });
  return {
    [=](atoms::run,
        messages::task& t) -> caf::result<messages::task_outcome> {
      if (self->state.used)
        return messages::make_error(messages::errc::forbidden,
                                    "a lease relay runs one lease only");
      self->state.used = true;
      self->state.lease = t.lease_id;
      auto rp = self->make_response_promise<messages::task_outcome>();
      // A worker on another node holds no store credentials: a probe or a
      // render reads its upload by a presigned GET, valid for the lease, a
      // render stores each output by a presigned PUT, valid until its
      // deadline, and reads the earlier outputs it may copy (content
      // reuse) by presigned GETs.
      if (!presigner
          || (t.kind != messages::task_kind::probe
              && t.kind != messages::task_kind::render
              && t.kind != messages::task_kind::compose)) {
        relay_run(self, worker, deadline, std::move(t), rp);
        return rp;
      }
      auto fail = [=](caf::error& err) mutable {
        rp.deliver(std::move(err));
        self->quit();
      };
      auto obj = t.object;
      self->request(presigner, deadline, atoms::presign_v, std::move(obj))
        .then(
          [=](std::string& url) mutable {
            t.object.url = std::move(url);
            if (t.outputs.empty()) {
              presign_sources_then_run(self, worker, deadline, presigner,
                                       std::move(t), rp);
              return;
            }
            auto outs = t.outputs;
            self
              ->request(presigner, deadline, atoms::presign_put_v,
                        std::move(outs), t.lease_id)
              .then(
                [=](std::vector<std::string>& urls) mutable {
                  if (urls.size() != t.outputs.size()) {
                    rp.deliver(messages::make_error(
                      messages::errc::internal,
                      "the presigner answered " + std::to_string(urls.size())
                        + " URLs for " + std::to_string(t.outputs.size())
                        + " outputs"));
                    self->quit();
                    return;
                  }
                  for (size_t i = 0; i < urls.size(); ++i)
                    t.outputs[i].url = std::move(urls[i]);
                  presign_sources_then_run(self, worker, deadline, presigner,
                                           std::move(t), rp);
                },
                fail);
          },
          fail);
      return rp;
    },
    [=](atoms::progress, uint64_t lease_id, uint8_t percent) {
      // Only its worker, only on its lease: a node cannot move another
      // node's leases by guessing relays.
      if (lease_id == 0 || lease_id != self->state.lease
          || caf::actor_cast<caf::actor_addr>(self->current_sender())
               != worker.address())
        return;
      self->send(caf::actor_cast<messages::progress_sink_actor>(dispatcher),
                 atoms::progress_v, lease_id, percent);
    },
  };
}


void try_dispatch(dispatcher_impl* self);

} // namespace

uint64_t dispatcher_state::held_by(const std::string& node) const {
  uint64_t n = 0;
  for (auto& [id, l] : leases)
    if (l.node == node)
      ++n;
  return n;
}

namespace {

/// The first id after `from` that names no lease, split render, part or
/// queued task.
uint64_t unused_lease_id(const dispatcher_state& st, uint64_t from) {
  auto queued = [&st](uint64_t x) {
    return std::any_of(st.queue.begin(), st.queue.end(), [x](auto& kv) {
      return kv.second.job_task.lease_id == x;
    });
  };
  auto id = from;
  do
    ++id;
  while (id == 0 || st.leases.count(id) > 0 || st.splits.count(id) > 0
         || st.part_of.count(id) > 0 || queued(id));
  return id;
}

/// One part of a split render ended with `out`: keeps its output; a part
/// lost with its worker (or whose lease expired) is queued again alone,
/// `part_retries` times at most; otherwise the first failure answers the
/// render (and cancels the other parts), the last success answers it with
/// the merged outputs.
void part_done(dispatcher_impl* self, uint64_t parent, uint64_t part,
               messages::task_outcome out) {
  auto& st = self->state;
  auto s = st.splits.find(parent);
  if (s == st.splits.end())
    return;
  auto& sp = s->second;
  auto idx = static_cast<size_t>(
    std::find(sp.parts.begin(), sp.parts.end(), part) - sp.parts.begin());
  if (idx >= sp.parts.size())
    return;
  if (!sp.answered && !out.ok
      && (out.error_code == messages::errc::worker_lost
          || out.error_code == messages::errc::timeout)
      && sp.retries < st.cfg.part_retries
      && st.queue.count(sp.keys[idx]) == 0) {
    // Under a new id: a late answer to the lost lease must not be taken
    // for the new one. Back at its own place in the queue, i.e. before
    // whatever arrived after the render. Leased once this lease has been
    // let go (the caller dispatches then).
    ++sp.retries;
    auto id = unused_lease_id(st, part);
    auto again = sp.tasks[idx];
    again.lease_id = id;
    sp.parts[idx] = id;
    st.part_of[id] = parent;
    st.queue.emplace(sp.keys[idx], queued_task{std::move(again), {}, sp.since});
    return;
  }
  if (!sp.answered) {
    if (!out.ok) {
      sp.answered = true;
      // Sent, not called: a queued part answers at once, and this entry
      // must stay as it is until this call is over.
      for (auto other : sp.parts)
        if (other != part)
          self->send(self, atoms::cancel_v, other);
      out.job_id = sp.job_task.job_id;
      out.lease_id = parent;
      sp.promise.deliver(std::move(out));
    } else {
      sp.outputs[idx] = std::move(out.output);
      sp.workers[idx] = std::move(out.worker);
      sp.duration_us = std::max(sp.duration_us, out.duration_us);
      if (sp.leased_at == 0 || (out.leased_at != 0 && out.leased_at < sp.leased_at))
        sp.leased_at = out.leased_at;
    }
  }
  if (++sp.done < sp.parts.size())
    return;
  if (!sp.answered) {
    messages::task_outcome m;
    m.job_id = sp.job_task.job_id;
    m.lease_id = parent;
    m.kind = sp.job_task.kind;
    m.ok = true;
    m.output = st.cfg.merge_render(sp.job_task, sp.inputs, sp.outputs,
                                   sp.workers);
    for (auto& w : sp.workers)
      m.worker += (m.worker.empty() ? "" : "+") + w;
    m.duration_us = sp.duration_us;
    m.object_version = sp.job_task.object.version;
    m.series = sp.job_task.series;
    m.leased_at = sp.leased_at;
    sp.promise.deliver(std::move(m));
  }
  st.splits.erase(s);
}

/// Answers the task of lease `lease_id` with `out`: its requester, or, for
/// a part of a split render, the render.
void answer(dispatcher_impl* self,
            caf::typed_response_promise<messages::task_outcome>& rp,
            uint64_t lease_id, messages::task_outcome out) {
  auto& st = self->state;
  if (auto p = st.part_of.find(lease_id); p != st.part_of.end()) {
    auto parent = p->second;
    st.part_of.erase(p);
    part_done(self, parent, lease_id, std::move(out));
    return;
  }
  rp.deliver(std::move(out));
}

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
  out.leased_at = i->second.job_task.leased_at; // Whoever made it.
  if (st.cfg.metrics)
    self->send(st.cfg.metrics, atoms::observe_v, out);
  answer(self, i->second.promise, lease_id, std::move(out));
  if (i->second.relay) // Ended without its answer: stop waiting for it.
    self->send_exit(i->second.relay, caf::exit_reason::user_shutdown);
  auto node = std::move(i->second.node);
  if (auto l = st.loads.find(i->second.load_key); l != st.loads.end()) {
    auto& t = i->second.job_task;
    l->second.threads -= std::min(l->second.threads, t.threads);
    l->second.memory_mb -= std::min(l->second.memory_mb, t.memory_mb);
    if (l->second.threads == 0 && l->second.memory_mb == 0)
      st.loads.erase(l);
  }
  if (st.cfg.on_end)
    st.cfg.on_end(i->second.job_task);
  st.leases.erase(i);
  try_dispatch(self);
  if (auto nw = st.node_waiters.find(node);
      nw != st.node_waiters.end() && st.held_by(node) == 0) {
    for (auto& rp : nw->second)
      rp.deliver(uint64_t{0});
    st.node_waiters.erase(nw);
  }
  if (!st.drain_waiters.empty() && st.leases.empty()) {
    for (auto& rp : st.drain_waiters)
      rp.deliver(uint64_t{0});
    st.drain_waiters.clear();
  }
}

/// The worker with the most free slots that can run `t` (spreads load over
/// nodes), or null.
worker_entry* best_worker(dispatcher_state& st, const messages::task& t,
                          const reservations& held) {
  // A part of a split render goes to a node its sibling parts are not on
  // when one fits: that is the point of splitting it.
  std::set<std::string> taken;
  if (auto p = st.part_of.find(t.lease_id); p != st.part_of.end())
    if (auto s = st.splits.find(p->second); s != st.splits.end())
      for (auto id : s->second.parts)
        if (auto l = st.leases.find(id); l != st.leases.end())
          if (auto w = st.workers.find(l->second.worker);
              w != st.workers.end())
            taken.insert(load_key(w->second));
  worker_entry* best = nullptr;
  bool best_apart = false;
  for (auto& [addr, w] : st.workers) {
    if (!fits(st, w, t, held))
      continue;
    bool apart = taken.count(load_key(w)) == 0;
    if (best == nullptr || (apart && !best_apart)
        || (apart == best_apart
            && w.info.slots - w.busy > best->info.slots - best->busy)) {
      best = &w;
      best_apart = apart;
    }
  }
  return best;
}

/// The task that arrived first among those some worker can run now,
/// whatever its priority, or `queue.end()`.
dispatcher_state::queue_type::iterator
oldest_runnable(dispatcher_state& st, const reservations& held) {
  auto result = st.queue.end();
  for (auto i = st.queue.begin(); i != st.queue.end(); ++i)
    if ((result == st.queue.end() || i->first.second < result->first.second)
        && best_worker(st, i->second.job_task, held) != nullptr)
      result = i;
  return result;
}

/// Keeps room for costly task `t`, which no node admits now: the node that
/// could hold it and is least loaded takes no other costly task in this
/// pass, so the renders it runs end and `t` fits there next.
void reserve_for(const dispatcher_state& st, const messages::task& t,
                 reservations& held) {
  const worker_entry* best = nullptr;
  uint64_t best_used = 0;
  for (auto& [addr, w] : st.workers) {
    if (!offers(w, t))
      continue;
    auto key = load_key(w);
    if (held.count(key) > 0)
      return; // Held already for a task ahead of it.
    uint64_t used = 0;
    if (auto i = st.loads.find(key); i != st.loads.end())
      used = i->second.memory_mb;
    if (best == nullptr || used < best_used) {
      best = &w;
      best_used = used;
    }
  }
  if (best != nullptr)
    held.insert(load_key(*best));
}

/// How many nodes have a free worker that runs tasks like `t`.
size_t free_nodes(const dispatcher_state& st, const messages::task& t,
                  const reservations& held) {
  std::set<std::string> nodes;
  for (auto& [addr, w] : st.workers)
    if (w.busy < w.info.slots && runs_kind(w, t)
        && held.count(load_key(w)) == 0)
      nodes.insert(load_key(w));
  return nodes.size();
}

/// Replaces render `pick` (still in the queue; the caller erases it) by
/// `parts`, queued right behind it with their own lease ids.
void split(dispatcher_impl* self, dispatcher_state::queue_type::iterator pick,
           std::vector<messages::task> parts) {
  auto& st = self->state;
  auto parent = pick->second.job_task.lease_id;
  auto& sp = st.splits[parent];
  sp.job_task = pick->second.job_task;
  sp.promise = std::move(pick->second.promise);
  sp.outputs.resize(parts.size());
  sp.workers.resize(parts.size());
  sp.since = pick->second.since;
  auto id = parent;
  for (size_t i = 0; i < parts.size(); ++i) {
    id = unused_lease_id(st, id);
    auto& part = parts[i];
    part.lease_id = id;
    part.job_id = sp.job_task.job_id;
    part.kind = sp.job_task.kind;
    part.priority = sp.job_task.priority;
    st.part_of[id] = parent;
    sp.parts.push_back(id);
    sp.inputs.push_back(part.input);
    auto key = std::make_pair(pick->first.first, pick->first.second + 1 + i);
    sp.tasks.push_back(part);
    sp.keys.push_back(key);
    st.queue.emplace(key, queued_task{std::move(part), {}, pick->second.since});
  }
}

void try_dispatch(dispatcher_impl* self) {
  auto& st = self->state;
  auto now = self->clock().now();
  reservations held;
  auto q = st.queue.begin();
  while (q != st.queue.end()) {
    // Higher priority first, except every `fair_every`-th lease, which goes
    // to the oldest runnable task: a steady stream of high-priority work
    // slows low-priority work down but never stops it.
    auto pick = q;
    auto n = st.cfg.fair_every;
    if (n > 1 && st.leased_total % n == n - 1)
      if (auto o = oldest_runnable(st, held); o != st.queue.end())
        pick = o;
    auto& t = pick->second.job_task;
    worker_entry* best = best_worker(st, t, held);
    if (best == nullptr) {
      // A costly task that has waited long enough for room keeps a node
      // for itself: smaller costly tasks behind it no longer fill it up.
      if (pick == q && costly(t) && offered(st, t)
          && now - pick->second.since >= st.cfg.reserve_after)
        reserve_for(st, t, held);
      ++q; // No worker for this kind right now; lower priorities may fit.
      continue;
    }
    if (t.kind == messages::task_kind::render && st.cfg.split_render
        && st.cfg.merge_render && st.part_of.count(t.lease_id) == 0
        && free_nodes(st, t, held) >= 2) {
      auto parts
        = st.cfg.split_render(t, std::min(free_nodes(st, t, held), max_parts));
      if (parts.size() >= 2 && parts.size() <= max_parts) {
        split(self, pick, std::move(parts));
        st.queue.erase(pick);
        q = st.queue.begin(); // The parts go first, in order.
        continue;
      }
    }
    ++st.leased_total;
    ++best->busy;
    std::string key;
    if (t.threads > 0 || t.memory_mb > 0) {
      key = load_key(*best);
      auto& load = st.loads[key];
      load.threads += t.threads;
      load.memory_mb += t.memory_mb;
    }
    t.leased_at = st.clock.at(self->clock().now());
    auto lease_id = t.lease_id;
    auto addr = best->handle.address();
    auto worker_name = best->info.name;
    auto timeout = std::chrono::milliseconds{t.timeout_ms} + st.cfg.lease_grace;
    auto& l = st.leases
                .emplace(lease_id,
                         lease{t, std::move(pick->second.promise), addr, {},
                               best->info.node, 0, std::move(key)})
                .first->second;
    auto remote = best->handle.node() != self->node();
    auto deadline = st.cfg.expire_leases ? caf::duration{timeout}
                                         : caf::duration{caf::infinite};
    if (st.cfg.on_begin)
      st.cfg.on_begin(l.job_task);
    messages::lease_relay_actor runner;
    if (remote) {
      // A part of a split render is not a step: a late report of it must
      // never be taken for the render's outcome (it is done again).
      if (st.part_of.count(t.lease_id) == 0)
        remember(self, t, best->handle.node());
      l.relay = self->spawn(lease_relay, best->handle, deadline,
                            caf::actor_cast<caf::strong_actor_ptr>(self),
                            st.cfg.presigner);
      runner = l.relay;
    } else {
      runner = caf::actor_cast<messages::lease_relay_actor>(best->handle);
    }
    ask(self, st.timeouts, runner, deadline, atoms::run_v, std::move(t))
      .then(
        [=](messages::task_outcome& out) {
          auto i = self->state.leases.find(lease_id);
          if (i == self->state.leases.end())
            return; // Ended already (e.g. worker down before its answer).
          finish(self, lease_id,
                 checked(i->second.job_task, worker_name, std::move(out)));
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
    if (pick == q)
      q = st.queue.erase(q);
    else
      st.queue.erase(pick); // `q` stays valid: another element.
  }
}

} // namespace

messages::dispatcher_node_actor::behavior_type
dispatcher(dispatcher_impl* self, dispatcher_config cfg) {
  self->state.cfg = std::move(cfg);
  self->state.clock = wall_clock{self->state.cfg.wall_ms, self->clock().now()};
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
      // Arrivals leave room for the parts of a split render right after
      // it (see try_dispatch).
      auto key = std::make_pair(-static_cast<int64_t>(t.priority),
                                st.arrivals);
      st.arrivals += max_parts + 1;
      if (st.cfg.unrunnable_after.count() > 0 && !offered(st, t))
        self->delayed_send(self, st.cfg.unrunnable_after, atoms::unrunnable_v,
                           t.lease_id);
      st.queue.emplace(key,
                       queued_task{std::move(t), rp, self->clock().now()});
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
    [=](atoms::unrunnable, uint64_t lease_id) {
      auto& st = self->state;
      if (auto s = st.splits.find(lease_id); s != st.splits.end()) {
        // A split render: its queued parts are looked at instead.
        for (auto part : s->second.parts)
          self->send(self, atoms::unrunnable_v, part);
        return;
      }
      for (auto i = st.queue.begin(); i != st.queue.end(); ++i) {
        auto& t = i->second.job_task;
        if (t.lease_id != lease_id)
          continue;
        if (offered(st, t)) {
          // A worker for it joined: it waits its turn, and is looked at
          // again in case that worker leaves for good.
          self->delayed_send(self, st.cfg.unrunnable_after,
                             atoms::unrunnable_v, lease_id);
          return;
        }
        auto out = lost_outcome(t, messages::errc::no_worker,
                                no_worker_message(st, t), "");
        out.transient = false;
        auto rp = std::move(i->second.promise);
        st.queue.erase(i);
        answer(self, rp, lease_id, std::move(out));
        return;
      }
    },
    [=](atoms::cancel, uint64_t lease_id) {
      auto& st = self->state;
      if (auto s = st.splits.find(lease_id); s != st.splits.end()) {
        for (auto part : s->second.parts)
          self->send(self, atoms::cancel_v, part);
        return;
      }
      for (auto i = st.queue.begin(); i != st.queue.end(); ++i) {
        if (i->second.job_task.lease_id == lease_id) {
          auto out = lost_outcome(i->second.job_task, messages::errc::cancelled,
                                  "cancelled before it started", "");
          out.transient = false;
          auto rp = std::move(i->second.promise);
          st.queue.erase(i);
          answer(self, rp, lease_id, std::move(out));
          return;
        }
      }
      auto l = st.leases.find(lease_id);
      if (l == st.leases.end())
        return;
      l->second.revoked = true;
      auto w = st.workers.find(l->second.worker);
      // Anonymous: the worker (maybe on another node) must not learn the
      // dispatcher's handle.
      if (w != st.workers.end())
        caf::anon_send(w->second.handle, atoms::cancel_v, lease_id);
    },
    [=](atoms::report, const caf::node_id& node,
        std::vector<messages::task_outcome>& outs) {
      auto& st = self->state;
      std::vector<messages::task_outcome> kept;
      for (auto& out : outs) {
        auto r = st.recent.find(out.lease_id);
        if (r != st.recent.end() && r->second.node == node
            && answers(r->second, out)) {
          out.leased_at = r->second.leased_at;
          kept.push_back(std::move(out));
        }
      }
      return kept;
    },
    [=](atoms::drain, const std::string& node) {
      auto& st = self->state;
      for (auto& [addr, w] : st.workers)
        if (w.info.node == node)
          w.draining = true;
      return st.held_by(node);
    },
    [=](atoms::undrain, const std::string& node) {
      auto& st = self->state;
      for (auto& [addr, w] : st.workers)
        if (w.info.node == node)
          w.draining = false;
      try_dispatch(self);
      return st.held_by(node);
    },
    [=](atoms::drained, const std::string& node) -> caf::result<uint64_t> {
      auto& st = self->state;
      if (st.held_by(node) == 0)
        return uint64_t{0};
      auto rp = self->make_response_promise<uint64_t>();
      st.node_waiters[node].push_back(rp);
      return rp;
    },
    [=](atoms::drain) -> caf::result<uint64_t> {
      auto& st = self->state;
      if (st.leases.empty())
        return uint64_t{0};
      auto rp = self->make_response_promise<uint64_t>();
      st.drain_waiters.push_back(rp);
      return rp;
    },
    [=](atoms::progress, uint64_t lease_id, uint8_t percent) {
      auto& st = self->state;
      auto i = st.leases.find(lease_id);
      if (i == st.leases.end())
        return; // Ended meanwhile: reports may trail the outcome.
      auto& l = i->second;
      auto from = caf::actor_cast<caf::actor_addr>(self->current_sender());
      if (from != l.worker && (!l.relay || from != l.relay.address()))
        return;
      l.percent = std::max(l.percent, std::min(percent, uint8_t{100}));
    },
    [=](atoms::lease_of, const std::string& job_id) {
      auto& st = self->state;
      std::vector<messages::task_progress> xs;
      for (auto& [id, l] : st.leases) {
        if (l.job_task.job_id != job_id || l.revoked)
          continue;
        auto x = messages::progress_of(l.job_task);
        x.leased = true;
        auto w = st.workers.find(l.worker);
        if (w != st.workers.end())
          x.worker = w->second.info.name;
        x.node = l.node;
        x.leased_at = l.job_task.leased_at;
        x.percent = l.percent;
        xs.push_back(std::move(x));
      }
      for (auto& [key, q] : st.queue)
        if (q.job_task.job_id == job_id)
          xs.push_back(messages::progress_of(q.job_task));
      return xs;
    },
    [=](atoms::stats) {
      auto& st = self->state;
      messages::dispatcher_stats s;
      s.queued = st.queue.size();
      s.leased = st.leases.size();
      s.workers = st.workers.size();
      for (auto& [addr, w] : st.workers) {
        if (!w.draining)
          s.free_slots += w.info.slots > w.busy ? w.info.slots - w.busy : 0;
        s.busy_by_node[w.info.node] += w.busy;
      }
      auto now = self->clock().now();
      for (auto& [key, q] : st.queue) {
        auto c = messages::priority_class(q.job_task.priority);
        ++s.queued_by_priority[c];
        auto age = static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::milliseconds>(now - q.since)
            .count());
        s.oldest_ms_by_priority[c] = std::max(s.oldest_ms_by_priority[c], age);
      }
      return s;
    },
  };
}

} // namespace vf::actors
