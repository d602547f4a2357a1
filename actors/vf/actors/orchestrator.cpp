// vf/actors/orchestrator.cpp

#include "vf/actors/orchestrator.hpp"

#include "vf/actors/secure_random.hpp"

#include "caf/sec.hpp"

#include "vf/messages/errc.hpp"

#include <algorithm>
#include <cmath>

namespace vf::actors {

using namespace std::chrono_literals;
using messages::errc;
using messages::job_status;
using messages::make_error;
using messages::task_kind;

namespace {

constexpr auto store_timeout = 30s;

/// The dispatcher answers every lease itself (deadline + grace); this bound
/// only catches a dispatcher that is gone.
constexpr auto dispatch_timeout = std::chrono::seconds{86400};

/// Builds a failed outcome for lease `lease` of job `id`.
messages::task_outcome failure(const std::string& id, uint64_t lease,
                               task_kind kind, errc code, std::string msg) {
  messages::task_outcome out;
  out.job_id = id;
  out.lease_id = lease;
  out.kind = kind;
  out.error_code = to_string(code);
  out.error_message = std::move(msg);
  out.transient = messages::is_transient(code);
  return out;
}

/// Everything one handler needs to drive the machine.
struct machine {
  orchestrator_impl* self;
  messages::job_store_actor store;
  messages::idempotency_guard_actor guard;
  messages::dispatcher_actor dispatcher;

  orchestrator_state& st() const {
    return self->state;
  }

  int64_t now() const {
    return st().clock.at(self->clock().now());
  }

  /// Returns the run of `id` if `lease` is still its current lease.
  job_run* current(const std::string& id, uint64_t lease) const {
    auto i = st().runs.find(id);
    if (i == st().runs.end() || i->second.lease != lease)
      return nullptr;
    return &i->second;
  }

  /// Writes `j`; calls `then` once it is durable, `fail` if the store
  /// refused.
  template <class Then, class Fail>
  void persist(const messages::job& j, Then then, Fail fail) const {
    self->request(store, store_timeout, atoms::put_v, j)
      .then([then](bool) mutable { then(); },
            [fail](caf::error& err) mutable { fail(err); });
  }

  /// Starts attempt `attempt` of the current step of job `id`.
  void start_step(const std::string& id, uint32_t attempt) const {
    auto i = st().runs.find(id);
    if (i == st().runs.end())
      return;
    auto& run = i->second;
    auto kind = st().cfg.pipeline[run.step];
    auto lease = st().next_lease();
    run.lease = lease;
    run.recording = false;
    auto& j = run.snapshot;
    j.status = job_status::processing;
    j.step = to_string(kind);
    j.attempts = attempt;
    j.next_attempt_at = 0;
    j.updated_at = now();
    messages::task t;
    t.job_id = id;
    t.kind = kind;
    t.object = j.object;
    t.filename = j.filename;
    if (kind == task_kind::sleep)
      t.input = st().cfg.sleep_input;
    else if (run.step > 0)
      t.input = run.outputs[st().cfg.pipeline[run.step - 1]];
    t.lease_id = lease;
    t.attempt = attempt;
    t.timeout_ms = st().cfg.task_timeout_ms;
    t.series = j.series;
    if (auto l = st().cfg.labels.find(kind); l != st().cfg.labels.end())
      t.labels = l->second;
    auto m = *this;
    persist(
      j,
      [m, t]() mutable {
        if (!m.current(t.job_id, t.lease_id))
          return; // Cancelled meanwhile.
        m.self->request(m.dispatcher, dispatch_timeout, atoms::submit_v, t)
          .then(
            [m, t](messages::task_outcome& out) {
              // The answer to lease t is about lease t, whatever it says:
              // never another job's (or step's) result.
              if (out.job_id != t.job_id || out.lease_id != t.lease_id
                  || out.kind != t.kind) {
                out = failure(t.job_id, t.lease_id, t.kind, errc::forbidden,
                              "the answer to lease "
                                + std::to_string(t.lease_id)
                                + " was the outcome of another task");
                out.transient = true; // The next worker may be honest.
              }
              m.on_outcome(std::move(out));
            },
            [m, t](caf::error& err) {
              m.on_outcome(failure(t.job_id, t.lease_id, t.kind,
                                   errc::worker_lost,
                                   "dispatcher failed: " + to_string(err)));
            });
      },
      [m, id, lease, kind](caf::error& err) {
        // Not durable: treat as a transient failure of this attempt.
        m.on_outcome(failure(id, lease, kind, errc::storage_unavailable,
                             "could not record the attempt: "
                               + messages::message_of(err)));
      });
  }

  /// Records the outcome of one lease in the ledger, then acts on it.
  void on_outcome(messages::task_outcome out) const {
    auto run = current(out.job_id, out.lease_id);
    if (run == nullptr || run->recording)
      return; // Stale: cancelled, superseded, or already being recorded.
    run->recording = true;
    auto& j = run->snapshot;
    messages::attempt_record rec;
    rec.job_id = out.job_id;
    rec.lease_id = out.lease_id;
    rec.object_version = j.object.version;
    rec.series = j.series;
    rec.kind = out.kind;
    rec.attempt = j.attempts;
    rec.ok = out.ok;
    if (out.ok)
      rec.output = out.output;
    rec.error_code = out.error_code;
    rec.error_message = out.error_message;
    rec.worker = out.worker;
    rec.finished_at = now();
    rec.duration_us = out.duration_us;
    auto m = *this;
    self->request(store, store_timeout, atoms::record_v, std::move(rec))
      .then([m, out](bool) mutable { m.after_record(std::move(out)); },
            [m, out](caf::error& err) {
              if (!out.ok) {
                // The failure stands whether or not the ledger has it.
                m.after_record(out);
                return;
              }
              // An effect that is not recorded did not happen: redo it.
              auto f = failure(out.job_id, out.lease_id, out.kind,
                               errc::storage_unavailable,
                               "could not record the result of "
                                 + to_string(out.kind) + ": "
                                 + messages::message_of(err));
              m.after_record(std::move(f));
            });
  }

  /// Acts on a recorded outcome: next step, success, retry or failure.
  void after_record(messages::task_outcome out) const {
    auto run = current(out.job_id, out.lease_id);
    if (run == nullptr)
      return;
    run->recording = false;
    if (out.ok) {
      run->outputs[st().cfg.pipeline[run->step]] = std::move(out.output);
      if (run->step + 1 < st().cfg.pipeline.size()) {
        ++run->step;
        start_step(out.job_id, 1);
      } else {
        succeed(out.job_id);
      }
      return;
    }
    if (out.transient && run->snapshot.attempts < st().cfg.max_attempts)
      schedule_retry(out.job_id, out.error_code, out.error_message);
    else
      fail_job(out.job_id, out.error_code, out.error_message);
  }

  /// Keeps the job PROCESSING and starts the next attempt after a backoff.
  void schedule_retry(const std::string& id, const std::string& code,
                      const std::string& msg) const {
    auto& run = st().runs[id];
    auto& j = run.snapshot;
    std::uniform_real_distribution<double> uniform{0.0, 1.0};
    auto delay = backoff_delay(st().cfg, j.attempts, uniform(st().rng));
    auto lease = st().next_lease();
    run.lease = lease;
    j.error_code = code;
    j.error_message = msg;
    j.updated_at = now();
    j.next_attempt_at = j.updated_at + delay.count();
    // The timer is armed whether or not the write lands: the retry itself
    // writes again, and losing a retry would strand the job.
    persist(j, [] {}, [](caf::error&) {});
    self->delayed_send(self, delay, atoms::retry_v, id, lease);
  }

  /// Writes the result, then marks the job SUCCEEDED.
  void succeed(const std::string& id) const {
    auto& run = st().runs[id];
    messages::job_result res;
    res.job_id = id;
    auto probe = run.outputs.find(task_kind::probe);
    res.metadata = probe != run.outputs.end() ? probe->second : "{}";
    auto sum = run.outputs.find(task_kind::summarize);
    if (sum != run.outputs.end())
      res.summary = sum->second;
    res.created_at = now();
    auto lease = run.lease;
    auto m = *this;
    self->request(store, store_timeout, atoms::put_result_v, res)
      .then(
        [m, id, lease](bool) {
          auto run = m.current(id, lease);
          if (run == nullptr)
            return;
          auto j = run->snapshot;
          j.status = job_status::succeeded;
          j.step.clear();
          j.next_attempt_at = 0;
          j.error_code.clear();
          j.error_message.clear();
          j.updated_at = m.now();
          m.st().runs.erase(id);
          m.persist(j, [] {}, [](caf::error&) {});
        },
        [m, id, lease](caf::error& err) {
          // The result is idempotent (first write wins) and the steps are
          // recorded: retrying only repeats this write.
          auto run = m.current(id, lease);
          if (run == nullptr)
            return;
          std::uniform_real_distribution<double> uniform{0.0, 1.0};
          auto delay = backoff_delay(m.st().cfg, run->snapshot.attempts,
                                     uniform(m.st().rng));
          m.self->delayed_send(m.self, delay, atoms::retry_v, id, lease);
          run->snapshot.error_code = to_string(errc::storage_unavailable);
          run->snapshot.error_message = "could not store the result: "
                                        + messages::message_of(err);
        });
  }

  /// Writes the dead letter and FAILED in one transaction.
  void fail_job(const std::string& id, const std::string& code,
                const std::string& msg) const {
    auto i = st().runs.find(id);
    if (i == st().runs.end())
      return;
    auto& run = i->second;
    auto lease = st().next_lease(); // Nothing else may act on the job now.
    run.lease = lease;
    auto j = run.snapshot;
    j.status = job_status::failed;
    j.next_attempt_at = 0;
    j.error_code = code.empty() ? to_string(errc::internal) : code;
    j.error_message = msg;
    j.updated_at = now();
    messages::dead_letter dl;
    dl.job_id = id;
    dl.object = j.object;
    dl.filename = j.filename;
    dl.series = j.series;
    dl.kind = st().cfg.pipeline[run.step];
    dl.error_code = j.error_code;
    dl.error_message = msg;
    if (auto p = run.outputs.find(task_kind::probe); p != run.outputs.end())
      dl.probe_output = p->second;
    dl.created_at = j.updated_at;
    auto m = *this;
    self->request(store, store_timeout, atoms::attempts_v, id)
      .then(
        [m, dl, j, lease](std::vector<messages::attempt_record>& ledger) mutable {
          for (auto& r : ledger)
            if (r.series == j.series && r.object_version == j.object.version)
              dl.attempts.push_back(std::move(r));
          m.bury(std::move(dl), std::move(j), lease);
        },
        [m, dl, j, lease](caf::error&) mutable {
          // The evidence matters more than its completeness.
          m.bury(std::move(dl), std::move(j), lease);
        });
  }

  void bury(messages::dead_letter dl, messages::job j, uint64_t lease) const {
    auto m = *this;
    auto id = j.id;
    self->request(store, store_timeout, atoms::bury_v, std::move(dl), j)
      .then(
        [m, id, lease](bool) {
          if (m.current(id, lease))
            m.st().runs.erase(id);
        },
        [m, id, lease, j](caf::error&) {
          // Not recorded: try again later rather than lose the failure.
          if (!m.current(id, lease))
            return;
          m.self->delayed_send(m.self, std::chrono::seconds{5}, atoms::retry_v,
                               id, lease);
          m.st().runs[id].snapshot.status = job_status::processing;
        });
  }

  /// Moves `j` to SUBMITTED durably (with `obj` and a fresh pipeline), then
  /// calls `done(error-or-none)`, then starts the first step.
  template <class Done>
  void begin(messages::job j, const messages::object_ref& obj,
             Done done) const {
    auto& run = st().runs[j.id];
    run = job_run{};
    run.lease = st().next_lease(); // Supersedes leases of an older object.
    j.object = obj;
    j.status = job_status::submitted;
    j.step.clear();
    j.attempts = 0;
    j.next_attempt_at = 0;
    j.error_code.clear();
    j.error_message.clear();
    j.updated_at = now();
    run.snapshot = j;
    auto m = *this;
    auto id = j.id;
    auto lease = run.lease;
    persist(
      j,
      [m, done, id, lease]() mutable {
        done(caf::error{});
        if (m.current(id, lease))
          m.start_step(id, 1);
      },
      [m, done, id, lease](caf::error& err) mutable {
        if (m.current(id, lease))
          m.st().runs.erase(id);
        done(err);
      });
  }

  /// Resumes `j` after the last step its ledger records as done.
  void resume(messages::job j,
              const std::vector<messages::attempt_record>& ledger) const {
    auto& cfg = st().cfg;
    auto& run = st().runs[j.id];
    run = job_run{};
    run.snapshot = j;
    run.lease = st().next_lease();
    auto same = [&](const messages::attempt_record& r) {
      return r.series == j.series && r.object_version == j.object.version;
    };
    for (auto& r : ledger)
      if (same(r) && r.ok)
        run.outputs[r.kind] = r.output;
    run.step = 0;
    while (run.step < cfg.pipeline.size()
           && run.outputs.count(cfg.pipeline[run.step]) > 0)
      ++run.step;
    if (run.step == cfg.pipeline.size()) {
      // Every step is recorded: only the result (idempotent) may be missing.
      run.step = cfg.pipeline.size() - 1;
      succeed(j.id);
      return;
    }
    uint32_t failed = 0;
    for (auto& r : ledger)
      if (same(r) && !r.ok && r.kind == cfg.pipeline[run.step])
        ++failed;
    if (failed >= cfg.max_attempts) {
      fail_job(j.id, to_string(errc::worker_lost),
               "the node stopped after the last allowed attempt");
      return;
    }
    start_step(j.id, failed + 1);
  }
};

} // namespace

std::optional<std::string> job_id_of(const std::string& key,
                                     const std::string& prefix) {
  if (key.size() <= prefix.size() + 1 || key.compare(0, prefix.size(), prefix)
      || key[prefix.size()] != '/')
    return std::nullopt;
  auto start = prefix.size() + 1;
  auto slash = key.find('/', start);
  if (slash == std::string::npos || slash == start || slash + 1 >= key.size())
    return std::nullopt;
  if (key.find('/', slash + 1) != std::string::npos)
    return std::nullopt;
  return key.substr(start, slash - start);
}

std::optional<std::string>
check_pipeline(const std::vector<task_kind>& pipeline) {
  if (pipeline.empty())
    return "the pipeline has no steps";
  for (size_t i = 0; i < pipeline.size(); ++i) {
    auto kind = pipeline[i];
    for (size_t j = 0; j < i; ++j)
      if (pipeline[j] == kind)
        return "step '" + to_string(kind) + "' appears twice";
    if (kind == task_kind::summarize
        && (i == 0 || pipeline[i - 1] != task_kind::probe))
      return "step 'summarize' reads the probe's metadata, so it must come "
             "right after 'probe' (e.g. probe,summarize or "
             "sleep,probe,summarize)";
  }
  return std::nullopt;
}

uint64_t orchestrator_state::next_lease() {
  for (;;) {
    auto x = cfg.lease_ids ? cfg.lease_ids() : secure_random_u64();
    if (x != 0) // 0 means "no lease" in job_run.
      return x;
  }
}

std::chrono::milliseconds backoff_delay(const orchestrator_config& cfg,
                                        uint32_t retry, double u) {
  auto exp = std::min<uint32_t>(retry > 0 ? retry - 1 : 0, 30);
  auto ceiling = std::min<double>(
    static_cast<double>(cfg.backoff_cap.count()),
    static_cast<double>(cfg.backoff_base.count()) * std::ldexp(1.0, exp));
  return std::chrono::milliseconds{static_cast<int64_t>(ceiling * u)};
}

messages::orchestrator_actor::behavior_type
orchestrator(orchestrator_impl* self, orchestrator_config cfg,
             messages::job_store_actor store,
             messages::idempotency_guard_actor guard,
             messages::dispatcher_actor dispatcher) {
  if (cfg.pipeline.empty())
    cfg.pipeline.push_back(task_kind::probe);
  self->state.cfg = std::move(cfg);
  self->state.clock = wall_clock{self->state.cfg.wall_ms, self->clock().now()};
  self->state.rng.seed(self->state.cfg.seed);
  machine m{self, store, guard, dispatcher};
  if (self->state.cfg.expire_interval.count() > 0)
    self->delayed_send(self, self->state.cfg.expire_interval,
                       atoms::expire_old_v);
  return {
    [=](atoms::created,
        const messages::object_event& ev) -> caf::result<bool> {
      auto& st = self->state;
      const auto& obj = ev.object;
      if (obj.bucket != st.cfg.bucket)
        return make_error(errc::invalid_argument,
                          "bucket '" + obj.bucket + "' is not vidflow's ('"
                            + st.cfg.bucket + "')");
      auto id = job_id_of(obj.key, st.cfg.key_prefix);
      if (!id)
        return make_error(errc::invalid_argument,
                          "object key '" + obj.key + "' is not of the form "
                            + st.cfg.key_prefix + "/<job_id>/<filename>");
      auto ckey = messages::claim_key(obj);
      if (st.claiming.count(ckey) > 0)
        return false; // The same event is being handled right now.
      st.claiming.insert(ckey);
      auto rp = self->make_response_promise<bool>();
      auto fail = [=](caf::error& err) mutable {
        self->state.claiming.erase(ckey);
        rp.deliver(err);
      };
      // Claims and starts work; `j` is a job waiting for this upload.
      auto start = [=](messages::job j) mutable {
        self->request(guard, store_timeout, atoms::claim_v, obj, j.id)
          .then(
            [=](bool first) mutable {
              // A claim without the transition means we crashed in
              // between: the job still waits, so the event is new.
              if (!first && j.status != job_status::awaiting_upload) {
                self->state.claiming.erase(ckey);
                rp.deliver(false);
                return;
              }
              m.begin(std::move(j), obj, [=](const caf::error& err) mutable {
                self->state.claiming.erase(ckey);
                if (err)
                  rp.deliver(err); // The source redelivers.
                else
                  rp.deliver(true);
              });
            },
            fail);
      };
      self->request(store, store_timeout, atoms::get_v, *id)
        .then(
          [=](messages::job& j) mutable {
            if (!obj.version.empty() && j.object.version == obj.version) {
              self->state.claiming.erase(ckey);
              rp.deliver(false); // A redelivery of the event we acted on.
              return;
            }
            // The job's own key only: another file under its id is not
            // its upload (and may be someone's attempt to swap it).
            if (obj.key != j.key) {
              self->state.claiming.erase(ckey);
              rp.deliver(make_error(errc::not_found,
                                    "job " + j.id + " expects no object '"
                                      + obj.key + "'"));
              return;
            }
            // An event only starts work for a job waiting for its upload: a
            // finished, failed, cancelled or expired job is never revived,
            // and a running one never gets its object replaced.
            if (j.status != job_status::awaiting_upload) {
              self->state.claiming.erase(ckey);
              rp.deliver(make_error(errc::conflict,
                                    "job " + j.id + " is "
                                      + to_string(j.status)
                                      + ", not waiting for an upload"));
              return;
            }
            auto checker = self->state.cfg.checker;
            if (!checker || ev.source == "builtin") {
              start(std::move(j));
              return;
            }
            // Outside sources are believed only when the store holds the
            // object they name, with the size and ETag they say.
            self->request(checker, store_timeout, atoms::head_v, obj)
              .then(
                [=](const messages::object_ref& now) mutable {
                  if (obj.etag.empty() || now.size != obj.size
                      || now.etag != obj.etag) {
                    self->state.claiming.erase(ckey);
                    rp.deliver(make_error(
                      errc::invalid_argument,
                      "the store's object does not match the event (size "
                        + std::to_string(now.size) + " vs "
                        + std::to_string(obj.size) + ", etag '" + now.etag
                        + "' vs '" + obj.etag + "')"));
                    return;
                  }
                  start(std::move(j));
                },
                fail);
          },
          fail);
      return rp;
    },
    [=](atoms::cancel,
        const std::string& id) -> caf::result<messages::job> {
      auto rp = self->make_response_promise<messages::job>();
      auto apply = [=](messages::job j) mutable {
        if (is_terminal(j.status)) {
          rp.deliver(make_error(errc::conflict,
                                "job is already " + to_string(j.status)));
          return;
        }
        auto i = self->state.runs.find(j.id);
        if (i != self->state.runs.end()) {
          // Interrupt the running task; its outcome is stale from now on.
          self->send(dispatcher, atoms::cancel_v, i->second.lease);
          self->state.runs.erase(i);
        }
        j.status = job_status::cancelled;
        j.next_attempt_at = 0;
        j.error_code = to_string(errc::cancelled);
        j.error_message = "cancelled on request";
        j.updated_at = m.now();
        m.persist(
          j, [rp, j]() mutable { rp.deliver(j); },
          [rp](caf::error& err) mutable { rp.deliver(err); });
      };
      auto i = self->state.runs.find(id);
      if (i != self->state.runs.end()) {
        apply(i->second.snapshot);
        return rp;
      }
      self->request(store, store_timeout, atoms::get_v, id)
        .then([apply](messages::job& j) mutable { apply(std::move(j)); },
              [rp](caf::error& err) mutable { rp.deliver(err); });
      return rp;
    },
    [=](atoms::redrive,
        const std::string& id) -> caf::result<messages::job> {
      auto rp = self->make_response_promise<messages::job>();
      if (self->state.runs.count(id) > 0) {
        rp.deliver(make_error(errc::conflict, "job is still running"));
        return rp;
      }
      self->request(store, store_timeout, atoms::get_v, id)
        .then(
          [=](messages::job& j) mutable {
            if (j.status != job_status::failed) {
              rp.deliver(make_error(errc::conflict,
                                    "only FAILED jobs can be redriven; job is "
                                      + to_string(j.status)));
              return;
            }
            // Mark the record first: of two redrives, one wins.
            self
              ->request(store, store_timeout, atoms::redriven_v, j.id,
                        j.series, m.now())
              .then(
                [=](bool first) mutable {
                  if (!first || self->state.runs.count(j.id) > 0) {
                    rp.deliver(make_error(errc::conflict,
                                          "the dead letter of job " + j.id
                                            + " was redriven already"));
                    return;
                  }
                  auto obj = j.object;
                  j.series += 1;
                  auto snapshot = j;
                  m.begin(std::move(j), obj,
                          [=](const caf::error& err) mutable {
                            if (err) {
                              rp.deliver(err);
                              return;
                            }
                            auto out = snapshot;
                            out.status = job_status::submitted;
                            out.attempts = 0;
                            out.step.clear();
                            out.error_code.clear();
                            out.error_message.clear();
                            rp.deliver(std::move(out));
                          });
                },
                [rp](caf::error& err) mutable { rp.deliver(err); });
          },
          [rp](caf::error& err) mutable { rp.deliver(err); });
      return rp;
    },
    [=](atoms::recover) -> caf::result<uint64_t> {
      auto rp = self->make_response_promise<uint64_t>();
      self->request(store, store_timeout, atoms::active_v)
        .then(
          [=](std::vector<messages::job>& jobs) mutable {
            uint64_t resumed = 0;
            for (auto& j : jobs) {
              if (self->state.runs.count(j.id) > 0)
                continue;
              ++resumed;
              // Claim the run now so events racing the ledger read wait.
              auto& run = self->state.runs[j.id];
              run.snapshot = j;
              auto lease = self->state.next_lease();
              run.lease = lease;
              self->request(store, store_timeout, atoms::attempts_v, j.id)
                .then(
                  [=](std::vector<messages::attempt_record>& ledger) {
                    if (m.current(j.id, lease))
                      m.resume(j, ledger);
                  },
                  [=](caf::error&) {
                    // Without the ledger, start over: steps are free of
                    // side effects, only their records count.
                    if (m.current(j.id, lease))
                      m.resume(j, {});
                  });
            }
            rp.deliver(resumed);
          },
          [rp](caf::error& err) mutable { rp.deliver(err); });
      return rp;
    },
    [=](atoms::report, messages::task_outcome& out) -> bool {
      auto i = self->state.runs.find(out.job_id);
      if (i == self->state.runs.end() || !out.ok)
        return false; // Finished, unknown, or a failure nobody waits for.
      auto& run = i->second;
      auto& pipeline = self->state.cfg.pipeline;
      if (run.recording || run.step >= pipeline.size()
          || pipeline[run.step] != out.kind
          || run.outputs.count(out.kind) > 0
          || out.object_version != run.snapshot.object.version
          || out.series != run.snapshot.series
          || run.snapshot.status != job_status::processing)
        return false; // Another step, upload or series, or recorded.
      if (out.lease_id != run.lease) {
        // The running (or scheduled) attempt of this step is redundant now.
        self->send(dispatcher, atoms::cancel_v, run.lease);
        run.lease = out.lease_id;
      }
      m.on_outcome(std::move(out));
      return true;
    },
    [=](atoms::retry, const std::string& id, uint64_t lease) {
      auto run = m.current(id, lease);
      if (run == nullptr)
        return; // Cancelled or superseded meanwhile.
      if (run->snapshot.status == job_status::failed
          || run->step >= self->state.cfg.pipeline.size()) {
        return;
      }
      if (run->snapshot.status == job_status::processing
          && !run->snapshot.error_code.empty()
          && run->snapshot.error_code == to_string(errc::storage_unavailable)
          && run->outputs.count(self->state.cfg.pipeline[run->step]) > 0) {
        // The last step is recorded; only the result write failed.
        m.succeed(id);
        return;
      }
      m.start_step(id, run->snapshot.attempts + 1);
    },
    [=](atoms::expire_old) {
      auto& cfg = self->state.cfg;
      auto now = m.now();
      self
        ->request(store, store_timeout, atoms::expire_old_v,
                  now - static_cast<int64_t>(cfg.upload_ttl.count()), now)
        .then([](uint64_t) {}, [](caf::error&) {});
      self->delayed_send(self, cfg.expire_interval, atoms::expire_old_v);
    },
  };
}

} // namespace vf::actors
