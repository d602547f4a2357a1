// vf/adapters/sqlite/job_store.cpp

#include "vf/adapters/sqlite/job_store.hpp"

#include "caf/exit_reason.hpp"
#include "caf/result.hpp"
#include "caf/spawn_options.hpp"

#include <algorithm>
#include <chrono>
#include <utility>

namespace vf::adapters::sqlite {

namespace {

using messages::attempt_record;
using messages::dead_letter;
using messages::errc;
using messages::job;
using messages::job_result;

/// Returns wall-clock Unix milliseconds. Claims record when they happened
/// for operators; nothing depends on it, so no actor clock is needed.
int64_t unix_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch())
    .count();
}

/// Answers `rp` with `x`, a value or an error.
template <class T>
void deliver(caf::typed_response_promise<T>& rp, caf::expected<T>&& x) {
  if (x)
    rp.deliver(std::move(*x));
  else
    rp.deliver(std::move(x.error()));
}

/// Answers the reads that waited for the batch that just ended.
void run_waiting_reads(job_store_pointer self) {
  auto& st = self->state;
  // Take the list first, so the loop stays valid whatever a callback queues.
  auto reads = std::move(st.waiting_reads);
  st.waiting_reads.clear();
  for (auto& f : reads)
    f(*st.tables);
}

/// Ends the open batch: COMMIT, then every held reply; on failure ROLLBACK
/// and `storage_unavailable` for every held write. Then the waiting reads.
void end_batch(job_store_pointer self) {
  auto& st = self->state;
  st.waited = false;
  if (st.batch_open) {
    st.batch_open = false;
    auto held = std::move(st.held);
    st.held.clear();
    if (auto err = st.tables->commit()) {
      // Never acknowledge a write that is not durable: all or nothing.
      if (auto rb_err = st.tables->rollback())
        err = messages::make_error(errc::storage_unavailable,
                                   messages::message_of(err) + "; "
                                     + messages::message_of(rb_err));
      for (auto& w : held)
        w.finish(&err);
    } else {
      ++st.commits;
      st.writes += held.size();
      st.last_batch = held.size();
      for (auto& w : held)
        w.finish(nullptr);
    }
  }
  run_waiting_reads(self);
}

/// Fails every held write after SQLite rolled the transaction back on its
/// own (I/O error, disk full, ...): none of them is durable any more.
void abort_batch(job_store_pointer self, const caf::error& cause) {
  auto& st = self->state;
  st.batch_open = false;
  st.waited = false;
  auto held = std::move(st.held);
  st.held.clear();
  auto err = messages::make_error(errc::storage_unavailable,
                                  "transaction rolled back: "
                                    + messages::message_of(cause));
  for (auto& w : held)
    w.finish(&err);
  run_waiting_reads(self);
}

/// Whether the open batch should stay open `commit_delay` longer: others
/// are writing too (the last batch held more than one write), this one is
/// still small, and it has not waited yet.
bool worth_waiting(const job_store_state& st) {
  return st.batch_open && !st.waited && st.config.commit_delay.count() > 0
         && st.last_batch > 1 && st.held.size() < st.small_batch;
}

/// Runs the write `op` inside the open batch (opening one if needed) and
/// holds its reply until the batch commits; `then` runs after that COMMIT
/// if `op` succeeded.
template <class T = bool, class Op>
caf::result<T> write(job_store_pointer self, Op op, after_commit then = {}) {
  auto& st = self->state;
  if (!st.batch_open) {
    if (auto err = st.tables->begin())
      return err;
    st.batch_open = true;
    if (!st.flush_pending) {
      // Lands behind every message already queued: those are this batch.
      self->send(self, atoms::flush_v);
      st.flush_pending = true;
    }
  }
  caf::expected<T> outcome = op(*st.tables);
  if (!outcome && !st.tables->in_transaction()) {
    abort_batch(self, outcome.error());
    return outcome.error();
  }
  auto rp = self->make_response_promise<T>();
  if (!outcome)
    then = nullptr;
  st.held.push_back(held_write{
    [rp, outcome{std::move(outcome)},
     then{std::move(then)}](const caf::error* failure) mutable {
      if (failure != nullptr) {
        rp.deliver(*failure);
        return;
      }
      if (then)
        then();
      deliver(rp, std::move(outcome));
    }});
  if (st.held.size() >= st.config.max_batch)
    end_batch(self);
  return rp;
}

/// Answers the read `query` now, or after the open batch has committed.
template <class T, class Query>
caf::result<T> read(job_store_pointer self, Query query) {
  auto& st = self->state;
  if (!st.batch_open)
    return query(*st.tables);
  auto rp = self->make_response_promise<T>();
  st.waiting_reads.emplace_back(
    [rp, query](job_tables& tables) mutable { deliver(rp, query(tables)); });
  return rp;
}

/// What runs after the COMMIT that made attempt `x` durable: its line in
/// the effects log (test only) if it succeeded, else nothing.
after_commit recorded_effect(const job_store_state& st,
                             const attempt_record& x) {
  if (!x.ok || !st.config.effects)
    return {};
  return [log{st.config.effects}, x] { log->record(x); };
}

} // namespace

sqlite_job_store_actor::behavior_type
job_store(job_store_pointer self, std::unique_ptr<job_tables> tables,
          job_store_config cfg) {
  self->state.tables = std::move(tables);
  cfg.max_batch = std::max(cfg.max_batch, uint32_t{1});
  self->state.config = std::move(cfg);
  // A shutdown commits what already ran instead of dropping the replies
  // (their requesters would only see a timeout).
  self->set_exit_handler([self](caf::exit_msg& msg) {
    // Like CAF's default handler: a linked actor's normal exit is no reason
    // to stop.
    if (!msg.reason)
      return;
    end_batch(self);
    self->quit(std::move(msg.reason));
  });
  return {
    // -- writes: replies held until the batch commits ------------------------
    [self](atoms::create, const job& x) {
      return write(self, [&x](job_tables& t) { return t.insert_job(x); });
    },
    [self](atoms::create_keyed, const job& x, const std::string& key,
           const std::string& request_hash, int64_t since_ms) {
      return write<std::vector<std::string>>(self, [&](job_tables& t) {
        return t.insert_keyed_job(x, key, request_hash, since_ms);
      });
    },
    [self](atoms::put, const job& x) {
      return write(self, [&x](job_tables& t) { return t.update_job(x); });
    },
    [self](atoms::put_result, const job_result& x) {
      return write(self, [&x](job_tables& t) { return t.insert_result(x); });
    },
    [self](atoms::put_result, const job_result& r, const job& x) {
      return write(self,
                   [&](job_tables& t) { return t.insert_result(r, x); });
    },
    [self](atoms::put_result, const job_result& r, const job& x,
           const attempt_record& a) {
      return write(
        self, [&](job_tables& t) { return t.insert_result(a, r, x); },
        recorded_effect(self->state, a));
    },
    [self](atoms::claim, const std::string& key, const std::string& job_id) {
      return write(self, [&](job_tables& t) {
        return t.insert_claim(key, job_id, unix_ms());
      });
    },
    [self](atoms::record, const attempt_record& x) {
      return write(
        self, [&x](job_tables& t) { return t.insert_attempt(x); },
        recorded_effect(self->state, x));
    },
    [self](atoms::bury, const dead_letter& dl, const job& x) {
      return write(self, [&](job_tables& t) { return t.bury(dl, x); });
    },
    [self](atoms::redriven, const std::string& job_id, uint32_t series,
           int64_t at_ms) {
      return write(self, [&](job_tables& t) {
        return t.mark_redriven(job_id, series, at_ms);
      });
    },
    [self](atoms::dlq_remove, const std::string& job_id) {
      return write(self, [&job_id](job_tables& t) {
        return t.remove_dead_letters(job_id);
      });
    },
    [self](atoms::expire, const std::vector<job>& xs) {
      return write<uint64_t>(self,
                             [&xs](job_tables& t) { return t.expire_jobs(xs); });
    },
    [self](atoms::purged, const std::string& id, int64_t at_ms) {
      return write<bool>(self,
                         [=](job_tables& t) { return t.mark_purged(id, at_ms); });
    },
    [self](atoms::erase, const std::string& id) {
      return write<bool>(self, [=](job_tables& t) { return t.erase_job(id); });
    },
    [self](atoms::record_delivery, const messages::delivery& x) {
      return write<bool>(self,
                         [x](job_tables& t) { return t.record_delivery(x); });
    },
    [self](atoms::add_view, const std::string& id) {
      return write<uint64_t>(
        self, [&id](job_tables& t) { return t.library().add_view(id); });
    },
    [self](atoms::set_like, const std::string& id, const std::string& user,
           bool on) {
      auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
      return write<uint64_t>(self, [&, now_ms](job_tables& t) {
        return t.library().set_like(id, user, on, now_ms);
      });
    },
    // -- reads: never see an uncommitted batch -------------------------------
    [self](atoms::get, const std::string& id) {
      return read<job>(self, [id](job_tables& t) { return t.find_job(id); });
    },
    [self](atoms::find_key, const std::string& owner, const std::string& key,
           int64_t since_ms) {
      return read<std::vector<std::string>>(
        self, [owner, key, since_ms](job_tables& t) {
          return t.find_key(owner, key, since_ms);
        });
    },
    [self](atoms::find_reuse, const std::string& owner,
           const std::string& sha256, const std::string& recipe,
           const std::string& job_id) {
      return read<std::vector<std::string>>(
        self, [owner, sha256, recipe, job_id](job_tables& t) {
          return t.find_reuse(owner, sha256, recipe, job_id);
        });
    },
    [self](atoms::events, const std::string& id, uint64_t after_seq) {
      return read<std::vector<messages::job_event>>(
        self, [id, after_seq](job_tables& t) {
          return t.find_events(id, after_seq);
        });
    },
    [self](atoms::deliveries_due, int64_t now_ms, uint32_t limit) {
      return read<std::vector<messages::delivery>>(
        self, [=](job_tables& t) { return t.due_deliveries(now_ms, limit); });
    },
    [self](atoms::deliveries, const std::string& id) {
      return read<std::vector<messages::delivery>>(
        self, [id](job_tables& t) { return t.job_deliveries(id); });
    },
    [self](atoms::videos, const messages::video_query& q) {
      return read<messages::video_page>(
        self, [q](job_tables& t) { return t.library().page(q); });
    },
    [self](atoms::video, const std::string& id, const std::string& viewer) {
      return read<messages::video_entry>(self, [id, viewer](job_tables& t) {
        return t.library().find(id, viewer);
      });
    },
    [self](atoms::lib_stats, const std::string& owner, uint32_t top,
           int64_t since_ms) {
      return read<messages::library_stats>(
        self, [owner, top, since_ms](job_tables& t) {
          return t.library().stats(owner, top, since_ms);
        });
    },
    [self](atoms::history, const std::string& owner, uint32_t limit,
           const std::string& kind) {
      return read<std::vector<job>>(self, [owner, limit, kind](job_tables& t) {
        return t.recent_jobs(owner, limit, kind);
      });
    },
    [self](atoms::get_result, const std::string& id) {
      return read<job_result>(
        self, [id](job_tables& t) { return t.find_result(id); });
    },
    [self](atoms::find_jobs, const messages::job_query& q) {
      return read<std::vector<job>>(
        self, [q](job_tables& t) { return t.find_jobs(q); });
    },
    [self](atoms::active) {
      return read<std::vector<job>>(
        self, [](job_tables& t) { return t.active_jobs(); });
    },
    [self](atoms::counts) {
      return read<messages::status_counts>(
        self, [](job_tables& t) { return t.count_jobs(); });
    },
    [self](atoms::expire_old, int64_t before_ms, uint32_t limit) {
      return read<std::vector<job>>(self, [=](job_tables& t) {
        return t.expiry_candidates(before_ms, limit);
      });
    },
    [self](atoms::purgeable, int64_t before_ms, uint32_t limit) {
      return read<std::vector<job>>(self, [=](job_tables& t) {
        return t.purgeable_jobs(before_ms, limit);
      });
    },
    [self](atoms::usage, const std::string& owner) {
      return read<messages::user_usage>(
        self, [owner](job_tables& t) { return t.usage_of(owner); });
    },
    [self](atoms::attempts, const std::string& job_id) {
      return read<std::vector<attempt_record>>(
        self, [job_id](job_tables& t) { return t.find_attempts(job_id); });
    },
    [self](atoms::dlq_list, int64_t since_ms, uint32_t limit) {
      return read<std::vector<dead_letter>>(self, [=](job_tables& t) {
        return t.recent_dead_letters(since_ms, limit);
      });
    },
    [self](atoms::dlq_get, const std::string& job_id) {
      return read<dead_letter>(self, [job_id](job_tables& t) {
        return t.latest_dead_letter(job_id);
      });
    },
    // -- own messages --------------------------------------------------------
    [self](atoms::flush) {
      auto& st = self->state;
      st.flush_pending = false;
      if (worth_waiting(st)) {
        st.waited = true;
        st.flush_pending = true;
        self->delayed_send(self, st.config.commit_delay, atoms::flush_v);
        return;
      }
      end_batch(self);
    },
    [self](atoms::stats) -> caf::result<uint64_t, uint64_t> {
      return {self->state.commits, self->state.writes};
    },
  };
}

caf::expected<messages::store_actor> spawn_job_store(caf::actor_system& sys,
                                                         job_store_config cfg) {
  // Open before spawning: a bad path fails start-up, not the first request.
  auto tables = job_tables::open(cfg.path);
  if (!tables)
    return std::move(tables.error());
  // Detached: SQLite blocks on disk, which must never stall the cooperative
  // scheduler's threads.
  sqlite_job_store_actor hdl
    = sys.spawn<caf::detached>(job_store, std::move(*tables), std::move(cfg));
  return messages::store_actor{hdl};
}

} // namespace vf::adapters::sqlite
