// tests/actors/fakes.hpp: in-memory stand-ins for ports, for deterministic
// actor tests. They implement the same typed interfaces as the adapters.

#pragma once

#include "vf/messages/dispatcher_actor.hpp"
#include "vf/messages/errc.hpp"
#include "vf/messages/retention_actor.hpp"
#include "vf/messages/stores.hpp"
#include "vf/messages/media_actor.hpp"
#include "vf/messages/worker_actor.hpp"

#include "caf/stateful_actor.hpp"
#include "caf/typed_event_based_actor.hpp"
#include "caf/typed_response_promise.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace vf::testing {

/// State of the fake store: plain maps plus failure switches. One fake
/// serves all four store ports (jobs, claims, ledger, dead letters) over one
/// in-memory "database", as SQLite does (`bury` writes a job and a dead
/// letter together); tests hand out its ports with `messages::stores_of`.
struct fake_store_state {
  std::vector<messages::attempt_record> ledger;
  std::map<std::pair<std::string, uint32_t>, messages::dead_letter> dead;
  std::map<std::string, messages::job> jobs;
  std::map<std::string, messages::job_result> results;
  std::set<std::string> claims;
  /// Claim requests that reached the store (failed ones included).
  size_t claim_calls = 0;
  /// `(record)` requests that reached the store (failed ones included); an
  /// attempt recorded by the job's end write is not one.
  size_t record_calls = 0;
  /// Every put, in order (to check the transitions a job went through).
  std::vector<messages::job> puts;
  /// Callback deliveries by id (tests put them here).
  std::map<std::string, messages::delivery> deliveries;
  /// The journal of status changes, as the SQLite store's triggers keep it.
  std::vector<std::pair<std::string, messages::job_event>> events;
  size_t result_writes = 0;
  bool fail_writes = false;
  /// Jobs whose object the retention sweep deleted, with when.
  std::map<std::string, int64_t> purged;
  /// Idempotency-Keys: (owner, key) -> {job_id, request_hash, created_at}.
  std::map<std::pair<std::string, std::string>,
           std::tuple<std::string, std::string, int64_t>>
    keys;
};

using fake_store_impl
  = messages::store_actor::stateful_base<fake_store_state>;

/// Journals `j`'s status as the SQLite store's triggers do.
inline void journal(fake_store_state& st, const messages::job& j) {
  messages::job_event ev;
  ev.seq = st.events.size() + 1;
  ev.status = j.status;
  ev.series = j.series;
  ev.at = j.updated_at;
  ev.error_code = j.error_code;
  st.events.emplace_back(j.id, ev);
}

/// Replaces stored job `j` as `put` does, journaling a status change;
/// false if there is no such job.
inline bool replace_job(fake_store_state& st, const messages::job& j) {
  auto i = st.jobs.find(j.id);
  if (i == st.jobs.end())
    return false;
  if (i->second.status != j.status || i->second.series != j.series)
    journal(st, j);
  i->second = j;
  st.puts.push_back(j);
  return true;
}

/// `(put_result, r, j)`: the result (first write wins) and the job, or
/// neither if the job does not exist (false: no such job).
inline std::optional<bool> put_result_and_job(fake_store_state& st,
                                              const messages::job_result& r,
                                              const messages::job& j) {
  if (st.jobs.count(j.id) == 0)
    return std::nullopt;
  ++st.result_writes;
  auto inserted = st.results.emplace(r.job_id, r).second;
  replace_job(st, j);
  return inserted;
}

inline messages::store_actor::behavior_type
fake_store(fake_store_impl* self) {
  using messages::errc;
  using messages::make_error;
  auto down = [] {
    return make_error(errc::storage_unavailable, "fake store: writes off");
  };
  return {
    [=](atoms::create, messages::job& j) -> caf::result<bool> {
      if (self->state.fail_writes)
        return down();
      if (!self->state.jobs.emplace(j.id, j).second)
        return make_error(errc::duplicate, "exists");
      journal(self->state, j);
      return true;
    },
    [=](atoms::create_keyed, messages::job& j, const std::string& key,
        const std::string& hash,
        int64_t since) -> caf::result<std::vector<std::string>> {
      auto& st = self->state;
      if (st.fail_writes)
        return down();
      auto k = std::make_pair(j.owner, key);
      if (auto i = st.keys.find(k);
          i != st.keys.end() && std::get<2>(i->second) >= since)
        return std::vector<std::string>{std::get<0>(i->second),
                                        std::get<1>(i->second)};
      if (!st.jobs.emplace(j.id, j).second)
        return make_error(errc::duplicate, "exists");
      journal(st, j);
      st.keys[k] = {j.id, hash, j.created_at};
      return std::vector<std::string>{j.id, hash};
    },
    [=](atoms::find_key, const std::string& owner, const std::string& key,
        int64_t since) {
      auto& st = self->state;
      if (auto i = st.keys.find(std::make_pair(owner, key));
          i != st.keys.end() && std::get<2>(i->second) >= since)
        return std::vector<std::string>{std::get<0>(i->second),
                                        std::get<1>(i->second)};
      return std::vector<std::string>{};
    },
    [=](atoms::find_reuse, const std::string& owner, const std::string& sha,
        const std::string& recipe, const std::string& job_id) {
      auto& st = self->state;
      std::vector<std::string> found;
      int64_t newest = 0;
      for (auto& [id, j] : st.jobs) {
        auto r = st.results.find(id);
        if (j.owner == owner && !sha.empty() && j.object.sha256 == sha
            && j.outputs == recipe && id != job_id
            && j.status == messages::job_status::succeeded
            && r != st.results.end() && !r->second.outputs.empty()
            && (found.empty() || j.updated_at >= newest)) {
          found = {id, r->second.outputs};
          newest = j.updated_at;
        }
      }
      return found;
    },
    [=](atoms::get, const std::string& id) -> caf::result<messages::job> {
      auto i = self->state.jobs.find(id);
      if (i == self->state.jobs.end())
        return make_error(errc::not_found, "no job " + id);
      return i->second;
    },
    [=](atoms::events, const std::string& id, uint64_t after) {
      std::vector<messages::job_event> xs;
      for (auto& [job_id, ev] : self->state.events)
        if (job_id == id && ev.seq > after)
          xs.push_back(ev);
      return xs;
    },
    [=](atoms::deliveries_due, int64_t now, uint32_t limit) {
      std::vector<messages::delivery> xs;
      for (auto& [id, d] : self->state.deliveries)
        if (d.state == "pending" && d.next_at <= now && xs.size() < limit)
          xs.push_back(d);
      return xs;
    },
    [=](atoms::record_delivery, messages::delivery& d) -> caf::result<bool> {
      if (self->state.fail_writes)
        return down();
      auto i = self->state.deliveries.find(d.id);
      if (i == self->state.deliveries.end())
        return false;
      i->second = d;
      return true;
    },
    [=](atoms::deliveries, const std::string& job_id) {
      std::vector<messages::delivery> xs;
      for (auto& [id, d] : self->state.deliveries)
        if (d.job_id == job_id)
          xs.push_back(d);
      return xs;
    },
    [=](atoms::history, const std::string& owner, uint32_t limit,
        const std::string& kind) {
      std::vector<messages::job> xs;
      for (auto& [id, j] : self->state.jobs)
        if ((owner.empty() || j.owner == owner)
            && messages::is_of_kind(j.outputs, kind))
          xs.push_back(j);
      std::sort(xs.begin(), xs.end(), [](auto& x, auto& y) {
        return x.created_at > y.created_at;
      });
      if (xs.size() > limit)
        xs.resize(limit);
      return xs;
    },
    [=](atoms::put, messages::job& j) -> caf::result<bool> {
      if (self->state.fail_writes)
        return down();
      if (!replace_job(self->state, j))
        return make_error(errc::not_found, "no job " + j.id);
      return true;
    },
    [=](atoms::put_result, messages::job_result& r) -> caf::result<bool> {
      if (self->state.fail_writes)
        return down();
      ++self->state.result_writes;
      return self->state.results.emplace(r.job_id, r).second;
    },
    [=](atoms::put_result, messages::job_result& r,
        messages::job& j) -> caf::result<bool> {
      if (self->state.fail_writes)
        return down();
      if (auto inserted = put_result_and_job(self->state, r, j))
        return *inserted;
      return make_error(errc::not_found, "no job " + j.id);
    },
    [=](atoms::put_result, messages::job_result& r, messages::job& j,
        messages::attempt_record& a) -> caf::result<bool> {
      if (self->state.fail_writes)
        return down();
      if (self->state.jobs.count(j.id) == 0)
        return make_error(errc::not_found, "no job " + j.id);
      self->state.ledger.push_back(std::move(a));
      return *put_result_and_job(self->state, r, j);
    },
    [=](atoms::get_result,
        const std::string& id) -> caf::result<messages::job_result> {
      auto i = self->state.results.find(id);
      if (i == self->state.results.end())
        return make_error(errc::not_found, "no result " + id);
      return i->second;
    },
    [=](atoms::find_jobs, const messages::job_query& q)
      -> caf::result<std::vector<messages::job>> {
      if (auto problem = messages::job_query_problem(q))
        return messages::make_error(messages::errc::invalid_argument,
                                    *problem);
      std::vector<messages::job> xs;
      for (auto& [id, j] : self->state.jobs)
        if (messages::matches(q, j))
          xs.push_back(j);
      std::sort(xs.begin(), xs.end(), [](const auto& x, const auto& y) {
        return x.updated_at > y.updated_at;
      });
      if (xs.size() > q.limit)
        xs.resize(q.limit);
      return xs;
    },
    [=](atoms::active) {
      std::vector<messages::job> xs;
      for (auto& [id, j] : self->state.jobs)
        if (j.status == messages::job_status::submitted
            || j.status == messages::job_status::processing)
          xs.push_back(j);
      return xs;
    },
    [=](atoms::counts) {
      messages::status_counts xs(messages::job_status_count, 0);
      for (auto& [id, j] : self->state.jobs)
        ++xs[static_cast<size_t>(j.status)];
      return xs;
    },
    [=](atoms::purgeable, int64_t before_ms, uint32_t limit) {
      std::vector<messages::job> xs;
      for (auto& [id, j] : self->state.jobs)
        if ((j.status == messages::job_status::failed
             || j.status == messages::job_status::cancelled
             || j.status == messages::job_status::expired)
            && j.updated_at < before_ms && self->state.purged.count(id) == 0
            && xs.size() < limit)
          xs.push_back(j);
      return xs;
    },
    [=](atoms::purged, const std::string& id,
        int64_t at_ms) -> caf::result<bool> {
      if (self->state.fail_writes)
        return down();
      return self->state.purged.emplace(id, at_ms).second;
    },
    [=](atoms::erase, const std::string& id) -> caf::result<bool> {
      if (self->state.fail_writes)
        return down();
      auto& st = self->state;
      st.results.erase(id);
      st.ledger.erase(std::remove_if(st.ledger.begin(), st.ledger.end(),
                                     [&](const messages::attempt_record& r) {
                                       return r.job_id == id;
                                     }),
                      st.ledger.end());
      for (auto i = st.keys.begin(); i != st.keys.end();)
        i = std::get<0>(i->second) == id ? st.keys.erase(i) : std::next(i);
      return st.jobs.erase(id) > 0;
    },
    [=](atoms::usage, const std::string& owner) {
      messages::user_usage x;
      for (auto& [id, j] : self->state.jobs) {
        if (j.owner != owner)
          continue;
        if (j.status == messages::job_status::awaiting_upload
            || j.status == messages::job_status::submitted
            || j.status == messages::job_status::processing)
          ++x.jobs_in_flight;
        x.bytes_stored += j.object.size;
      }
      return x;
    },
    [=](atoms::claim, const std::string& key,
        const std::string&) -> caf::result<bool> {
      ++self->state.claim_calls;
      if (self->state.fail_writes)
        return down();
      return self->state.claims.insert(key).second;
    },
    [=](atoms::record, messages::attempt_record& r) -> caf::result<bool> {
      ++self->state.record_calls;
      if (self->state.fail_writes)
        return down();
      self->state.ledger.push_back(std::move(r));
      return true;
    },
    [=](atoms::attempts, const std::string& id) {
      std::vector<messages::attempt_record> xs;
      for (auto& r : self->state.ledger)
        if (r.job_id == id)
          xs.push_back(r);
      return xs;
    },
    [=](atoms::bury, messages::dead_letter& dl,
        messages::job& j) -> caf::result<bool> {
      if (self->state.fail_writes)
        return down();
      if (!replace_job(self->state, j))
        return make_error(errc::not_found, "no job " + j.id);
      self->state.dead[{dl.job_id, dl.series}] = std::move(dl);
      return true;
    },
    [=](atoms::dlq_list, int64_t since, uint32_t limit) {
      std::vector<messages::dead_letter> xs;
      for (auto& [k, dl] : self->state.dead)
        if (dl.created_at >= since)
          xs.push_back(dl);
      std::sort(xs.begin(), xs.end(), [](auto& x, auto& y) {
        return x.created_at > y.created_at;
      });
      if (xs.size() > limit)
        xs.resize(limit);
      return xs;
    },
    [=](atoms::dlq_get,
        const std::string& id) -> caf::result<messages::dead_letter> {
      const messages::dead_letter* best = nullptr;
      for (auto& [k, dl] : self->state.dead)
        if (k.first == id && (best == nullptr || dl.series > best->series))
          best = &dl;
      if (best == nullptr)
        return make_error(errc::not_found, "no dead letter for " + id);
      return *best;
    },
    [=](atoms::redriven, const std::string& id, uint32_t series,
        int64_t at) -> caf::result<bool> {
      if (self->state.fail_writes)
        return down();
      auto i = self->state.dead.find({id, series});
      if (i == self->state.dead.end())
        return make_error(errc::not_found, "no dead letter for " + id);
      if (i->second.redriven_at != 0)
        return false;
      i->second.redriven_at = at;
      return true;
    },
    [=](atoms::dlq_remove, const std::string& id) {
      size_t n = 0;
      for (auto i = self->state.dead.begin(); i != self->state.dead.end();) {
        if (i->first.first == id) {
          i = self->state.dead.erase(i);
          ++n;
        } else {
          ++i;
        }
      }
      return n > 0;
    },
    [=](atoms::expire_old, int64_t before, uint32_t limit) {
      std::vector<messages::job> xs;
      for (auto& [id, j] : self->state.jobs)
        if (j.status == messages::job_status::awaiting_upload
            && j.created_at < before && xs.size() < limit)
          xs.push_back(j);
      return xs;
    },
    [=](atoms::expire,
        const std::vector<messages::job>& xs) -> caf::result<uint64_t> {
      if (self->state.fail_writes)
        return down();
      uint64_t n = 0;
      for (auto& x : xs) {
        auto i = self->state.jobs.find(x.id);
        if (i != self->state.jobs.end()
            && i->second.status == messages::job_status::awaiting_upload) {
          journal(self->state, x);
          i->second = x;
          ++n;
        }
      }
      return n;
    },
  };
}

/// State of the fake dispatcher: tasks wait until the test answers them.
struct fake_dispatcher_state {
  std::vector<std::pair<messages::task,
                        caf::typed_response_promise<messages::task_outcome>>>
    pending;
  /// Lease ids it was asked to cancel.
  std::vector<uint64_t> cancels;
};

/// The fake's interface: the real one plus `(dispatch, outcome)`, which
/// answers the pending task with that lease id. Promises must be delivered
/// from inside the actor (CAF 0.17.6 crashes otherwise).
using fake_dispatcher_actor = messages::dispatcher_actor::extend<
  caf::reacts_to<atoms::dispatch, messages::task_outcome>,
  caf::reacts_to<atoms::dispatch, uint64_t, messages::task_outcome>>;

using fake_dispatcher_impl
  = fake_dispatcher_actor::stateful_base<fake_dispatcher_state>;

/// Delivers `out` to the pending promise with the same lease id.
template <class Pending>
void answer_pending(Pending& pending, messages::task_outcome& out) {
  for (auto i = pending.begin(); i != pending.end(); ++i) {
    if (i->first.lease_id == out.lease_id) {
      auto rp = i->second;
      pending.erase(i);
      rp.deliver(std::move(out));
      return;
    }
  }
  CAF_FAIL("no pending task with lease " << out.lease_id);
}

inline fake_dispatcher_actor::behavior_type
fake_dispatcher(fake_dispatcher_impl* self) {
  return {
    [=](atoms::submit,
        messages::task& t) -> caf::result<messages::task_outcome> {
      auto rp = self->make_response_promise<messages::task_outcome>();
      self->state.pending.emplace_back(std::move(t), rp);
      return rp;
    },
    [=](atoms::join, messages::worker_actor&, messages::worker_info&) {
      return true;
    },
    [=](atoms::stats) { return messages::dispatcher_stats{}; },
    [=](atoms::drain, const std::string&) { return uint64_t{0}; },
    [=](atoms::drained, const std::string&) { return uint64_t{0}; },
    [=](atoms::undrain, const std::string&) { return uint64_t{0}; },
    [=](atoms::cancel, uint64_t lease) {
      self->state.cancels.push_back(lease);
    },
    [=](atoms::report, const caf::node_id&,
        std::vector<messages::task_outcome>& outs) { return outs; },
    [=](atoms::lease_of, const std::string& job_id) {
      std::vector<messages::task_progress> xs;
      for (auto& [t, rp] : self->state.pending)
        if (t.job_id == job_id)
          xs.push_back(messages::progress_of(t));
      return xs;
    },
    [=](atoms::dispatch, messages::task_outcome& out) {
      answer_pending(self->state.pending, out);
    },
    [=](atoms::dispatch, uint64_t lease, messages::task_outcome& out) {
      // Answers lease `lease` with whatever `out` says (a broken relay).
      auto& xs = self->state.pending;
      for (auto i = xs.begin(); i != xs.end(); ++i) {
        if (i->first.lease_id == lease) {
          auto rp = i->second;
          xs.erase(i);
          rp.deliver(std::move(out));
          return;
        }
      }
      CAF_FAIL("no pending task with lease " << lease);
    },
  };
}

/// State of a fake worker: runs hold until the test answers them.
struct fake_worker_state {
  std::vector<std::pair<messages::task,
                        caf::typed_response_promise<messages::task_outcome>>>
    running;
  /// Lease ids it was asked to cancel.
  std::vector<uint64_t> cancels;
  /// Who sent each `run` (the handle its node could talk back to).
  std::vector<caf::strong_actor_ptr> senders;
  /// `(progress, lease, percent)` reports it got, in order.
  std::vector<std::pair<uint64_t, uint8_t>> progress;
};

/// The fake's interface: the real one plus `(dispatch, outcome)`, and
/// `(dispatch, lease_id, outcome)` that answers lease `lease_id` with any
/// outcome (a misbehaving worker).
using fake_worker_actor = messages::worker_actor::extend<
  caf::reacts_to<atoms::dispatch, messages::task_outcome>,
  caf::reacts_to<atoms::dispatch, uint64_t, messages::task_outcome>>;

using fake_worker_impl = fake_worker_actor::stateful_base<fake_worker_state>;

inline fake_worker_actor::behavior_type fake_worker(fake_worker_impl* self) {
  return {
    [=](atoms::run, messages::task& t) -> caf::result<messages::task_outcome> {
      // Before the promise: making it takes the sender out of the message.
      self->state.senders.push_back(self->current_sender());
      auto rp = self->make_response_promise<messages::task_outcome>();
      self->state.running.emplace_back(std::move(t), rp);
      return rp;
    },
    [=](atoms::dispatch, messages::task_outcome& out) {
      answer_pending(self->state.running, out);
    },
    [=](atoms::dispatch, uint64_t lease, messages::task_outcome& out) {
      auto& xs = self->state.running;
      for (auto i = xs.begin(); i != xs.end(); ++i) {
        if (i->first.lease_id == lease) {
          auto rp = i->second;
          xs.erase(i);
          rp.deliver(std::move(out));
          return;
        }
      }
      CAF_FAIL("no running task with lease " << lease);
    },
    [=](atoms::cancel, uint64_t lease) {
      self->state.cancels.push_back(lease);
    },
    [=](atoms::flush) { return std::vector<messages::task_outcome>{}; },
    [=](atoms::progress, uint64_t lease, uint8_t percent) {
      self->state.progress.emplace_back(lease, percent);
    },
  };
}

/// Builds a successful outcome for `t`.
inline messages::task_outcome ok_outcome(const messages::task& t,
                                         std::string output) {
  messages::task_outcome out;
  out.job_id = t.job_id;
  out.lease_id = t.lease_id;
  out.kind = t.kind;
  out.ok = true;
  out.output = std::move(output);
  out.object_version = t.object.version;
  out.series = t.series;
  return out;
}

/// Builds a failed outcome for `t`.
inline messages::task_outcome failed_outcome(const messages::task& t,
                                             messages::errc code) {
  messages::task_outcome out;
  out.job_id = t.job_id;
  out.lease_id = t.lease_id;
  out.kind = t.kind;
  out.ok = false;
  out.error_code = code;
  out.error_message = "injected " + to_string(code);
  out.transient = messages::is_transient(code);
  // Like the real worker, which copies these from the task.
  out.object_version = t.object.version;
  out.series = t.series;
  return out;
}

/// Records what it was asked to delete; fails keys listed in `broken`.
struct fake_deleter_state {
  std::vector<std::string> erased;
  std::set<std::string> broken;
};

/// An object deleter that deletes nothing: it records `bucket/key` (and
/// `bucket/prefix*` for prefixes) in `erased`.
inline messages::object_deleter_actor::behavior_type fake_deleter(
  messages::object_deleter_actor::stateful_pointer<fake_deleter_state> self) {
  return {
    [=](atoms::erase, const std::string& bucket,
        const std::string& key) -> caf::result<bool> {
      if (self->state.broken.count(key) > 0)
        return messages::make_error(messages::errc::storage_unavailable,
                                    "disk says no");
      self->state.erased.push_back(bucket + "/" + key);
      return true;
    },
    [=](atoms::erase_prefix, const std::string& bucket,
        const std::string& prefix) -> caf::result<uint64_t> {
      if (self->state.broken.count(prefix) > 0)
        return messages::make_error(messages::errc::storage_unavailable,
                                    "disk says no");
      self->state.erased.push_back(bucket + "/" + prefix + "*");
      return uint64_t{2};
    },
  };
}

} // namespace vf::testing
