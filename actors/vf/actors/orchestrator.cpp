// vf/actors/orchestrator.cpp

#include "vf/actors/orchestrator.hpp"

#include "vf/actors/job_lifecycle.hpp"
#include "vf/actors/secure_random.hpp"

#include "caf/sec.hpp"

#include "vf/messages/errc.hpp"
#include "vf/messages/upload_key.hpp"

#include <algorithm>
#include <cmath>
#include <tuple>

namespace vf::actors {

using namespace std::chrono_literals;
using messages::errc;
using messages::job_status;
using messages::make_error;
using messages::task_kind;

namespace {

constexpr auto store_timeout = 30s;

/// The dispatcher answers every lease itself (deadline + grace), however
/// long the task waits in its queue first, so a dispatch has no timeout of
/// its own. A dispatcher that is gone stops the node (`runtime::node::keep`)
/// and the next start recovers the runs. (A day-long bound on CAF's clock,
/// which keeps each timeout until it elapses, once held two entries per job
/// for a day: at 100 jobs/s, +2.2 MiB a minute. `ask` keeps none once
/// answered, but a bound would still only duplicate the dispatcher's.)
constexpr auto dispatch_timeout = caf::infinite;

/// A dead letter the store refused is written again this much later.
constexpr auto burial_backoff = std::chrono::seconds{5};

/// Expiry candidates per store round trip; a full batch sweeps on at once.
constexpr uint32_t expiry_batch = 500;

/// Builds a failed outcome for lease `lease` of job `id`.
/// The input of a render step: the job's recipe and the probe's metadata,
/// as `{"recipe": ..., "metadata": ...}` (both already JSON text).
std::string render_input(const std::string& recipe,
                         const std::string& metadata) {
  std::string out;
  out.reserve(32 + recipe.size() + metadata.size());
  out += R"({"recipe":)";
  out += recipe.empty() ? "{}" : recipe;
  out += R"(,"metadata":)";
  out += metadata.empty() ? "{}" : metadata;
  out += '}';
  return out;
}

messages::task_outcome failure(const std::string& id, uint64_t lease,
                               task_kind kind, errc code, std::string msg) {
  messages::task_outcome out;
  out.job_id = id;
  out.lease_id = lease;
  out.kind = kind;
  out.error_code = code;
  out.error_message = std::move(msg);
  out.transient = messages::is_transient(code);
  return out;
}

/// Everything one handler needs to drive the machine. Every change of a
/// job's status goes through `transit`, i.e. through the job lifecycle
/// table (`job_lifecycle.hpp`); the effects it answers say what to do.
struct machine {
  orchestrator_impl* self;
  messages::job_store_actor store;
  messages::ledger_actor ledger;
  messages::dead_letter_store_actor dead_letters;
  messages::idempotency_guard_actor guard;
  messages::dispatcher_actor dispatcher;

  orchestrator_state& st() const {
    return self->state;
  }

  int64_t now() const {
    return st().clock.at(self->clock().now());
  }

  /// Sends a request whose deadline the orchestrator keeps itself.
  template <class Dest, class Duration, class... Ts>
  auto ask(const Dest& dest, const Duration& timeout, Ts&&... xs) const {
    return actors::ask(self, st().timeouts, dest, timeout,
                       std::forward<Ts>(xs)...);
  }

  /// Returns the run of `id` if `lease` is still its current lease.
  job_run* current(const std::string& id, uint64_t lease) const {
    auto i = st().runs.find(id);
    if (i == st().runs.end() || i->second.lease != lease)
      return nullptr;
    return &i->second;
  }

  /// Applies `ev` to `j` by the lifecycle: the one place the orchestrator
  /// changes a status. Returns the effects, nullopt for an illegal pair
  /// (then `j` is unchanged and nothing may be written).
  std::optional<job_effect> transit(messages::job& j, job_event ev,
                                    job_event_data data = {}) const {
    data.now = now();
    return apply(j, ev, data);
  }

  /// Arms the run's backoff timer; `ev` is fed to the lifecycle when it
  /// fires for the run's current lease.
  void arm(const std::string& id, job_run& run, job_event ev,
           std::chrono::milliseconds delay) const {
    run.timer = ev;
    self->delayed_send(self, delay, atoms::retry_v, id, run.lease);
  }

  /// Returns the next full-jitter backoff after `attempts` attempts.
  std::chrono::milliseconds backoff(uint32_t attempts) const {
    std::uniform_real_distribution<double> uniform{0.0, 1.0};
    return backoff_delay(st().cfg, attempts, uniform(st().rng));
  }

  /// Writes `j`; calls `then` once it is durable, `fail` if the store
  /// refused.
  /// `since`: when the run took its upload, for a terminal status (0: as
  /// the run in `runs` says, if any).
  template <class Then, class Fail>
  void persist(const messages::job& j, Then then, Fail fail,
               int64_t since = 0) const {
    auto m = *this;
    auto ended = messages::is_terminal(j.status);
    if (ended && since == 0)
      since = submitted_at(j.id);
    // The whole job for a terminal status: the trace line and the
    // completion hooks (metrics, the Redis completions stream) read it.
    messages::job brief;
    if (ended)
      brief = j;
    ask(store, store_timeout, atoms::put_v, j)
      .then(
        [m, then, ended, brief, since](bool) mutable {
          if (ended)
            m.ended(brief, since);
          then();
        },
        [fail](caf::error& err) mutable { fail(err); });
  }

  /// When the run of `id` took its upload; 0 if unknown.
  int64_t submitted_at(const std::string& id) const {
    auto i = st().runs.find(id);
    return i != st().runs.end() ? i->second.submitted_at : 0;
  }

  /// Reports a durable terminal status of `j` (metrics, trace).
  void ended(const messages::job& j, int64_t since) const {
    auto ms = since > 0 ? now() - since : -1;
    if (st().cfg.on_job_end)
      st().cfg.on_job_end(j, ms);
    if (st().cfg.trace)
      st().cfg.trace("job ended " + to_string(j.status)
                       + (j.error_code != errc::none
                            ? ": " + to_string(j.error_code) + ": "
                                + j.error_message
                            : std::string{})
                       + (ms >= 0 ? " " + std::to_string(ms)
                                      + " ms after its upload"
                                  : std::string{}),
                     j);
  }

  /// Traces `text` for `j` (see `orchestrator_config::trace`).
  void trace(const std::string& text, const messages::job& j) const {
    if (st().cfg.trace)
      st().cfg.trace(text, j);
  }

  /// Starts attempt `attempt` of the current step of job `id`.
  void start_step(const std::string& id, uint32_t attempt) const {
    auto i = st().runs.find(id);
    if (i == st().runs.end())
      return;
    auto& run = i->second;
    auto& j = run.snapshot;
    auto fx = transit(j, job_event::attempt_started);
    if (!fx)
      return;
    auto kind = run.pipeline[run.step];
    auto lease = st().next_lease();
    run.lease = lease;
    run.recording = false;
    j.step = to_string(kind);
    j.attempts = attempt;
    messages::task t;
    t.job_id = id;
    t.kind = kind;
    t.object = j.object;
    t.filename = j.filename;
    if (kind == task_kind::sleep)
      t.input = st().cfg.sleep_input;
    else if (kind == task_kind::render) {
      auto& meta = run.outputs[task_kind::probe];
      t.input = st().cfg.render_input
                  ? st().cfg.render_input(j.outputs, meta, {}, {})
                  : render_input(j.outputs, meta);
      if (st().cfg.render_cost)
        std::tie(t.threads, t.memory_mb) = st().cfg.render_cost(j.outputs,
                                                                meta);
      if (st().cfg.output_keys)
        for (auto& key : st().cfg.output_keys(id, j.outputs))
          t.outputs.push_back(
            messages::object_ref{j.object.bucket, std::move(key), {}, {}, 0,
                                 {}, {}});
      run.reuse_job.clear();
    }
    else if (kind == task_kind::compose) {
      t.input = j.outputs;
      if (st().cfg.compose_sources)
        t.sources = st().cfg.compose_sources(j.outputs);
      if (st().cfg.render_cost)
        std::tie(t.threads, t.memory_mb) = st().cfg.render_cost(j.outputs,
                                                                {});
      if (st().cfg.output_keys)
        for (auto& key : st().cfg.output_keys(id, j.outputs))
          t.outputs.push_back(
            messages::object_ref{j.object.bucket, std::move(key), {}, {}, 0,
                                 {}, {}});
    }
    else if (kind == task_kind::probe && messages::is_asset_recipe(j.outputs))
      t.input = j.outputs; // The media port probes an image as a picture.
    else if (run.step > 0)
      t.input = run.outputs[run.pipeline[run.step - 1]];
    t.lease_id = lease;
    t.attempt = attempt;
    t.timeout_ms = kind == task_kind::render || kind == task_kind::compose
                     ? st().cfg.render_timeout_ms
                     : st().cfg.task_timeout_ms;
    t.priority = j.priority;
    t.series = j.series;
    t.request_id = j.request_id;
    trace("step " + to_string(kind) + " attempt " + std::to_string(attempt)
            + " queued (lease " + std::to_string(lease) + ")",
          j);
    if (attempt > 1 && st().cfg.on_retry)
      st().cfg.on_retry(kind);
    if (auto l = st().cfg.labels.find(kind); l != st().cfg.labels.end())
      t.labels = l->second;
    auto m = *this;
    persist(
      j,
      [m, t, owner = j.owner, recipe = j.outputs]() mutable {
        if (!m.current(t.job_id, t.lease_id))
          return; // Cancelled meanwhile.
        if (t.kind == task_kind::render)
          m.dispatch_render(std::move(t), owner, recipe);
        else
          m.dispatch(std::move(t));
      },
      [m, id, lease, kind](caf::error& err) {
        // Not durable: treat as a transient failure of this attempt.
        m.on_outcome(failure(id, lease, kind, errc::storage_unavailable,
                             "could not record the attempt: "
                               + messages::message_of(err)));
      });
  }

  /// Leases render `t`, telling it the outputs of an earlier job of the
  /// same owner with the same bytes and recipe, if there is one, to copy
  /// instead of encoding again (content reuse; the worker falls back to
  /// rendering when they are gone). A failed look-up only costs the reuse.
  void dispatch_render(messages::task t, const std::string& owner,
                       const std::string& recipe) const {
    if (!st().cfg.reuse_outputs || !st().cfg.render_input
        || t.object.sha256.empty()) {
      dispatch(std::move(t));
      return;
    }
    auto m = *this;
    auto sha = t.object.sha256;
    auto id = t.job_id;
    ask(store, store_timeout, atoms::find_reuse_v, owner, std::move(sha),
        recipe, std::move(id))
      .then(
        [m, t, recipe](std::vector<std::string>& found) mutable {
          if (!m.current(t.job_id, t.lease_id))
            return;
          if (found.size() == 2) {
            auto& run = m.st().runs[t.job_id];
            t.input = m.st().cfg.render_input(
              recipe, run.outputs[task_kind::probe], found[0], found[1]);
            run.reuse_job = found[0];
            // The same recipe: the earlier job's outputs have this job's
            // names under its own folder. A worker on another node gets a
            // presigned GET for each (its lease relay adds them).
            if (m.st().cfg.output_keys)
              for (auto& key : m.st().cfg.output_keys(found[0], recipe)) {
                messages::object_ref src;
                src.bucket = t.object.bucket;
                src.key = key;
                t.sources.push_back(std::move(src));
              }
          }
          m.dispatch(std::move(t));
        },
        [m, t](caf::error&) mutable {
          if (m.current(t.job_id, t.lease_id))
            m.dispatch(std::move(t));
        });
  }

  /// Leases `t` to the dispatcher; its answer is the lease's outcome.
  void dispatch(messages::task t) const {
    auto m = *this;
    ask(dispatcher, dispatch_timeout, atoms::submit_v, t)
      .then(
        [m, t](messages::task_outcome& out) {
          // The answer to lease t is about lease t, whatever it says:
          // never another job's (or step's) result.
          if (out.job_id != t.job_id || out.lease_id != t.lease_id
              || out.kind != t.kind) {
            auto leased_at = out.leased_at; // The dispatcher's stamp.
            out = failure(t.job_id, t.lease_id, t.kind, errc::forbidden,
                          "the answer to lease " + std::to_string(t.lease_id)
                            + " was the outcome of another task");
            out.transient = true; // The next worker may be honest.
            out.leased_at = leased_at;
          }
          m.on_outcome(std::move(out));
        },
        [m, t](caf::error& err) {
          m.on_outcome(failure(t.job_id, t.lease_id, t.kind,
                               errc::worker_lost,
                               "dispatcher failed: " + to_string(err)));
        });
  }

  /// Records the outcome of one lease in the ledger, then acts on it.
  void on_outcome(messages::task_outcome out) const {
    auto run = current(out.job_id, out.lease_id);
    if (run == nullptr || run->recording || run->finishing)
      return; // Stale: cancelled, superseded, or already being recorded.
    if (!next(run->snapshot.status, job_event::outcome_arrived))
      return;
    run->recording = true;
    auto& j = run->snapshot;
    if (out.ok
        && (out.kind == task_kind::render || out.kind == task_kind::compose)
        && st().cfg.check_render_output) {
      auto why = st().cfg.check_render_output(out.job_id, j.object.bucket,
                                              run->reuse_job, j.outputs,
                                              out.output);
      if (!why.empty()) {
        // Recorded as a failed attempt; the next worker may be honest.
        auto leased_at = out.leased_at;
        auto worker = out.worker;
        out = failure(out.job_id, out.lease_id, out.kind, errc::forbidden,
                      "render outcome refused: " + why);
        out.transient = true;
        out.leased_at = leased_at;
        out.worker = std::move(worker);
      }
    }
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
    else
      rec.error_code = out.error_code;
    rec.error_message = out.error_message;
    rec.worker = out.worker;
    // The lease time is the dispatcher's clock, anchored apart from this
    // one: a step quicker than their skew (a millisecond or two) would
    // otherwise end before it started.
    rec.finished_at = std::max(now(), out.leased_at);
    rec.duration_us = out.duration_us;
    rec.leased_at = out.leased_at;
    if (out.ok && run->step + 1 >= run->pipeline.size()) {
      // The last step: recorded by the job's end write (`succeed`).
      run->last_record = std::move(rec);
      after_record(std::move(out));
      return;
    }
    auto m = *this;
    ask(ledger, store_timeout, atoms::record_v, std::move(rec))
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
    if (!out.ok) {
      if (out.transient && run->snapshot.attempts < st().cfg.max_attempts)
        schedule_retry(out.job_id, out.error_code, out.error_message);
      else
        fail_job(out.job_id, out.error_code, out.error_message);
      return;
    }
    auto& pipeline = run->pipeline;
    if (pipeline[run->step] == task_kind::probe)
      learn_digest(run->snapshot, out.output);
    run->outputs[pipeline[run->step]] = std::move(out.output);
    auto last = run->step + 1 >= pipeline.size();
    auto fx = transit(run->snapshot, last ? job_event::last_step_succeeded
                                          : job_event::step_succeeded);
    if (!fx)
      return;
    if (has(*fx, job_effect::start_attempt)) {
      ++run->step;
      start_step(out.job_id, 1);
    }
    if (has(*fx, job_effect::store_result))
      succeed(out.job_id);
  }

  /// Takes the upload's SHA-256 from a probe's output for a job that has
  /// none (an upload that reached S3 or MinIO directly); it is written with
  /// the job's next change and carried by its tasks.
  void learn_digest(messages::job& j, const std::string& probe_output) const {
    if (!j.object.sha256.empty() || !st().cfg.content_digest)
      return;
    j.object.sha256 = st().cfg.content_digest(probe_output);
  }

  /// Keeps the job PROCESSING and starts the next attempt after a backoff.
  void schedule_retry(const std::string& id, errc code,
                      const std::string& msg) const {
    auto& run = st().runs[id];
    auto& j = run.snapshot;
    auto delay = backoff(j.attempts);
    job_event_data data;
    data.code = code;
    data.message = msg;
    data.next_attempt_at = now() + delay.count();
    auto fx = transit(j, job_event::transient_failure, data);
    if (!fx)
      return;
    run.lease = st().next_lease();
    // The timer is armed whether or not the write lands: the retry itself
    // writes again, and losing a retry would strand the job.
    if (has(*fx, job_effect::persist))
      persist(j, [] {}, [](caf::error&) {});
    if (has(*fx, job_effect::retry_attempt_later))
      arm(id, run, job_event::attempt_due, delay);
  }

  /// Writes the result and the job's SUCCEEDED in one store request, with
  /// the last step's ledger record when it has not been written yet.
  void succeed(const std::string& id) const {
    auto& run = st().runs[id];
    messages::job_result res;
    res.job_id = id;
    auto probe = run.outputs.find(task_kind::probe);
    res.metadata = probe != run.outputs.end() ? probe->second : "{}";
    auto sum = run.outputs.find(task_kind::summarize);
    if (sum != run.outputs.end())
      res.summary = sum->second;
    if (auto r = run.outputs.find(task_kind::render); r != run.outputs.end())
      res.outputs = r->second;
    if (auto r = run.outputs.find(task_kind::compose); r != run.outputs.end())
      res.outputs = r->second;
    res.created_at = now();
    // The job as it is once the result is stored, written with it.
    auto done = run.snapshot;
    auto fx = transit(done, job_event::result_stored);
    if (!fx)
      return;
    run.finishing = true;
    auto lease = run.lease;
    auto since = run.submitted_at;
    auto m = *this;
    auto stored = [m, id, lease, done, since, fx = *fx](bool) {
      auto run = m.current(id, lease);
      if (run == nullptr)
        return;
      // `result_stored` persists (the write above) and forgets.
      if (has(fx, job_effect::forget)) {
        m.st().runs.erase(id);
      } else {
        run->snapshot = done;
        run->finishing = false;
        run->last_record.reset();
      }
      m.ended(done, since);
    };
    auto failed = [m, id, lease](caf::error& err) {
      // The result is idempotent (first write wins) and the steps are
      // recorded or ride along again: retrying only repeats this write.
      auto run = m.current(id, lease);
      if (run == nullptr)
        return;
      run->finishing = false;
      job_event_data data;
      data.code = errc::storage_unavailable;
      data.message = "could not store the result: "
                     + messages::message_of(err);
      auto delay = m.backoff(run->snapshot.attempts);
      auto fx = m.transit(run->snapshot, job_event::result_failed, data);
      if (fx && has(*fx, job_effect::retry_result_later))
        m.arm(id, *run, job_event::result_due, delay);
    };
    if (run.last_record)
      ask(store, store_timeout, atoms::put_result_v, res, done,
          *run.last_record)
        .then(std::move(stored), std::move(failed));
    else
      ask(store, store_timeout, atoms::put_result_v, res, done)
        .then(std::move(stored), std::move(failed));
  }

  /// Moves the job to FAILED and writes its dead letter with FAILED in one
  /// transaction.
  void fail_job(const std::string& id, errc code,
                const std::string& msg) const {
    auto i = st().runs.find(id);
    if (i == st().runs.end())
      return;
    auto& run = i->second;
    job_event_data data;
    data.code = code;
    data.message = msg;
    auto fx = transit(run.snapshot, job_event::permanent_failure, data);
    if (!fx)
      return;
    auto lease = st().next_lease(); // Nothing else may act on the job now.
    run.lease = lease;
    auto& j = run.snapshot;
    messages::dead_letter dl;
    dl.job_id = id;
    dl.object = j.object;
    dl.filename = j.filename;
    dl.series = j.series;
    dl.kind = run.pipeline[run.step];
    dl.error_code = j.error_code;
    dl.error_message = msg;
    if (auto p = run.outputs.find(task_kind::probe); p != run.outputs.end())
      dl.probe_output = p->second;
    dl.created_at = j.updated_at;
    auto series = j.series;
    auto version = j.object.version;
    auto m = *this;
    auto keep = [m, id, lease](messages::dead_letter dl) {
      auto run = m.current(id, lease);
      if (run == nullptr)
        return;
      run->burial = std::move(dl);
      m.bury(id, lease);
    };
    ask(ledger, store_timeout, atoms::attempts_v, id)
      .then(
        [keep, dl, series,
         version](std::vector<messages::attempt_record>& ledger) mutable {
          for (auto& r : ledger)
            if (r.series == series && r.object_version == version)
              dl.attempts.push_back(std::move(r));
          keep(std::move(dl));
        },
        [keep, dl](caf::error&) mutable {
          // The evidence matters more than its completeness.
          keep(std::move(dl));
        });
  }

  /// Writes the run's dead letter and its FAILED record in one transaction;
  /// a refused write is tried again later. The job stays FAILED meanwhile:
  /// a burial is retried, never the step.
  void bury(const std::string& id, uint64_t lease) const {
    auto run = current(id, lease);
    if (run == nullptr || !run->burial)
      return;
    auto m = *this;
    auto since = run->submitted_at;
    ask(dead_letters, store_timeout, atoms::bury_v, *run->burial, run->snapshot)
      .then(
        [m, id, lease, since](bool) {
          if (auto run = m.current(id, lease)) {
            auto j = run->snapshot;
            m.st().runs.erase(id);
            m.ended(j, since);
          }
        },
        [m, id, lease](caf::error&) {
          // Not recorded: try again later rather than lose the failure.
          auto run = m.current(id, lease);
          if (run == nullptr)
            return;
          auto fx = m.transit(run->snapshot, job_event::burial_failed);
          if (fx && has(*fx, job_effect::retry_burial_later))
            m.arm(id, *run, job_event::burial_due, burial_backoff);
        });
  }

  /// Moves `j` by `ev` (`upload_arrived` or `redrive`) to SUBMITTED durably
  /// with `obj` and a fresh pipeline, then calls `done(error-or-none, job)`,
  /// then starts the first step.
  template <class Done>
  void begin(messages::job j, const messages::object_ref& obj, job_event ev,
             Done done) const {
    auto from = j.status;
    j.object = obj;
    auto fx = transit(j, ev);
    if (!fx) {
      done(make_error(errc::conflict,
                      "job " + j.id + " is " + to_string(from)),
           j);
      return;
    }
    auto& run = st().runs[j.id];
    run = job_run{};
    run.lease = st().next_lease(); // Supersedes leases of an older object.
    run.snapshot = j;
    run.submitted_at = now();
    run.pipeline = pipeline_of(st().cfg, j);
    auto m = *this;
    auto id = j.id;
    auto lease = run.lease;
    auto start = has(*fx, job_effect::start_attempt);
    persist(
      j,
      [m, done, j, lease, start]() mutable {
        m.trace("upload taken: " + j.object.bucket + "/" + j.object.key
                  + " version " + j.object.version + ", "
                  + std::to_string(j.object.size) + " bytes",
                j);
        done(caf::error{}, j);
        if (start && m.current(j.id, lease))
          m.start_step(j.id, 1);
      },
      [m, done, j, lease](caf::error& err) mutable {
        if (m.current(j.id, lease))
          m.st().runs.erase(j.id);
        done(err, j);
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
    if (auto p = run.outputs.find(task_kind::probe); p != run.outputs.end())
      learn_digest(run.snapshot, p->second);
    run.pipeline = pipeline_of(cfg, j);
    run.step = 0;
    while (run.step < run.pipeline.size()
           && run.outputs.count(run.pipeline[run.step]) > 0)
      ++run.step;
    if (run.step == run.pipeline.size()) {
      // Every step is recorded: only the result (idempotent) may be missing.
      run.step = run.pipeline.size() - 1;
      auto fx = transit(run.snapshot, job_event::last_step_succeeded);
      if (fx && has(*fx, job_effect::store_result))
        succeed(j.id);
      return;
    }
    auto kind = run.pipeline[run.step];
    uint32_t failed = 0;
    for (auto& r : ledger)
      if (same(r) && !r.ok && r.kind == kind)
        ++failed;
    // An attempt is persisted before it is dispatched; one the node died in
    // (a crash on this very input, say) left no record, yet it counts, or a
    // poison upload would crash the node on every restart for ever. One
    // that never left the dispatcher's queue did not run: it does not count
    // (with a backlog, a few restarts would otherwise fail healthy jobs).
    uint32_t used = failed;
    if (j.step == to_string(kind) && j.attempts > failed) {
      auto began = !cfg.began_before
                   || cfg.began_before(j.id, j.series, kind, j.attempts);
      used = began ? j.attempts : j.attempts - 1;
    }
    if (used >= cfg.max_attempts) {
      fail_job(j.id, errc::worker_lost,
               used > failed
                 ? "the node stopped during the last allowed attempt ("
                     + std::to_string(used) + " of "
                     + std::to_string(cfg.max_attempts)
                     + "), e.g. it crashed on this input"
                 : "the node stopped after the last allowed attempt");
      return;
    }
    start_step(j.id, used + 1);
  }

  // -- handlers ---------------------------------------------------------------

  /// `(created, object_event)`: see orchestrator_actor.hpp.
  caf::result<bool> on_created(const messages::object_event& ev) const {
    auto self = this->self;
    auto store = this->store;
    auto guard = this->guard;
    auto m = *this;
    auto& st = self->state;
    const auto& obj = ev.object;
    if (obj.bucket != st.cfg.bucket)
      return make_error(errc::invalid_argument,
                        "bucket '" + obj.bucket + "' is not vidflow's ('"
                          + st.cfg.bucket + "')");
    auto id = messages::job_id_of(obj.key, st.cfg.key_prefix);
    if (!id)
      return make_error(errc::invalid_argument,
                        "object key '" + obj.key + "' is not of the form "
                          + st.cfg.key_prefix + "/<job_id>/<filename>");
    auto ckey = messages::claim_key(obj);
    if (auto i = st.claiming.find(ckey); i != st.claiming.end()) {
      // The same event is being handled right now: answer with its
      // outcome once there is one.
      auto waiter = self->make_response_promise<bool>();
      i->second.push_back(waiter);
      return waiter;
    }
    st.claiming.emplace(ckey,
                        std::vector<caf::typed_response_promise<bool>>{});
    auto rp = self->make_response_promise<bool>();
    // Answers this request and those that waited for it (a duplicate once
    // recorded: `false`; an error: the same, so their sources retry too).
    auto done = [self, ckey, rp](auto result) mutable {
      auto& claiming = self->state.claiming;
      std::vector<caf::typed_response_promise<bool>> waiters;
      if (auto i = claiming.find(ckey); i != claiming.end()) {
        waiters = std::move(i->second);
        claiming.erase(i);
      }
      for (auto& w : waiters) {
        if constexpr (std::is_same_v<decltype(result), bool>)
          w.deliver(false);
        else
          w.deliver(result);
      }
      rp.deliver(result);
    };
    auto fail = [=](caf::error& err) mutable { done(err); };
    // Claims and starts work; `j` is a job waiting for this upload.
    auto start = [=](messages::job j) mutable {
      ask(guard, store_timeout, atoms::claim_v, obj, j.id)
        .then(
          [=](bool first) mutable {
            // A claim without the transition means we crashed in
            // between: the job still waits, so the event is new.
            if (!first && !next(j.status, job_event::upload_arrived)) {
              done(false);
              return;
            }
            m.begin(std::move(j), obj, job_event::upload_arrived,
                    [=](const caf::error& err,
                        const messages::job&) mutable {
                      if (err)
                        done(err); // The source redelivers.
                      else
                        done(true);
                    });
          },
          fail);
    };
    ask(store, store_timeout, atoms::get_v, *id)
      .then(
        [=](messages::job& j) mutable {
          if (!obj.version.empty() && j.object.version == obj.version) {
            done(false); // A redelivery of the event we acted on.
            return;
          }
          // The job's own key only: another file under its id is not
          // its upload (and may be someone's attempt to swap it).
          if (obj.key != j.key) {
            done(make_error(errc::not_found, "job " + j.id
                                                     + " expects no object '"
                                                     + obj.key + "'"));
            return;
          }
          // An event only starts work for a job waiting for its upload: a
          // finished, failed, cancelled or expired job is never revived,
          // and a running one never gets its object replaced.
          if (!next(j.status, job_event::upload_arrived)) {
            done(make_error(errc::conflict,
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
          ask(checker, store_timeout, atoms::head_v, obj)
            .then(
              [=](const messages::object_ref& now) mutable {
                if (obj.etag.empty() || now.size != obj.size
                    || now.etag != obj.etag) {
                  done(make_error(
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
  }

  /// `(cancel, job_id)`: see orchestrator_actor.hpp.
  caf::result<messages::job> on_cancel(const std::string& id) const {
    auto m = *this;
    auto rp = self->make_response_promise<messages::job>();
    auto apply_cancel = [m, rp](messages::job j) mutable {
      auto from = j.status;
      auto fx = m.transit(j, job_event::cancel);
      if (!fx) {
        rp.deliver(make_error(errc::conflict,
                              "job is already " + to_string(from)));
        return;
      }
      auto i = m.st().runs.find(j.id);
      int64_t since = 0;
      if (i != m.st().runs.end()) {
        since = i->second.submitted_at;
        // Interrupt the running task; its outcome is stale from now on.
        if (has(*fx, job_effect::cancel_lease))
          m.self->send(m.dispatcher, atoms::cancel_v, i->second.lease);
        if (has(*fx, job_effect::forget))
          m.st().runs.erase(i);
      }
      m.persist(
        j, [rp, j]() mutable { rp.deliver(j); },
        [rp](caf::error& err) mutable { rp.deliver(err); }, since);
    };
    auto i = st().runs.find(id);
    if (i != st().runs.end() && !i->second.finishing) {
      apply_cancel(i->second.snapshot);
      return rp;
    }
    // Not running, or its end is being written: the store's answer comes
    // after that write (SUCCEEDED: too late to cancel).
    ask(store, store_timeout, atoms::get_v, id)
      .then([apply_cancel](messages::job& j) mutable { apply_cancel(j); },
            [rp](caf::error& err) mutable { rp.deliver(err); });
    return rp;
  }

  /// `(compose, job_id)`: see orchestrator_actor.hpp.
  caf::result<messages::job> on_compose(const std::string& id) const {
    auto m = *this;
    auto rp = self->make_response_promise<messages::job>();
    // One start at a time per job: the second waits for nothing and is
    // refused (the first one's answer tells the truth).
    auto ckey = "compose:" + id;
    if (st().claiming.count(ckey) > 0) {
      rp.deliver(make_error(errc::conflict, "job " + id
                                              + " is being started already"));
      return rp;
    }
    st().claiming.emplace(ckey,
                          std::vector<caf::typed_response_promise<bool>>{});
    auto finish = [m, ckey, rp](const caf::error& err,
                                const messages::job& j) mutable {
      m.st().claiming.erase(ckey);
      if (err)
        rp.deliver(err);
      else
        rp.deliver(j);
    };
    ask(store, store_timeout, atoms::get_v, id)
      .then(
        [m, finish](messages::job& j) mutable {
          if (!messages::is_composition_recipe(j.outputs)) {
            finish(make_error(errc::conflict,
                              "job " + j.id + " is not a composition"),
                   j);
            return;
          }
          // A composition has no upload: its object stands for the start,
          // so leases and ledger rows carry a version like an upload's.
          messages::object_ref obj{j.bucket, j.key, "composition", {}, 0,
                                   {}, {}};
          m.begin(std::move(j), obj, job_event::upload_arrived, finish);
        },
        [finish](caf::error& err) mutable { finish(err, messages::job{}); });
    return rp;
  }

  /// `(redrive, job_id)`: see orchestrator_actor.hpp.
  caf::result<messages::job> on_redrive(const std::string& id) const {
    auto m = *this;
    auto rp = self->make_response_promise<messages::job>();
    if (st().runs.count(id) > 0) {
      rp.deliver(make_error(errc::conflict, "job is still running"));
      return rp;
    }
    auto redrive = [m, rp](messages::job j) mutable {
      auto obj = j.object;
      m.begin(std::move(j), obj, job_event::redrive,
              [rp](const caf::error& err, const messages::job& j) mutable {
                if (err)
                  rp.deliver(err);
                else
                  rp.deliver(j);
              });
    };
    ask(store, store_timeout, atoms::get_v, id)
      .then(
        [m, rp, redrive](messages::job& j) mutable {
          auto t = next(j.status, job_event::redrive);
          if (!t) {
            rp.deliver(make_error(errc::conflict,
                                  "only FAILED jobs can be redriven; job is "
                                    + to_string(j.status)));
            return;
          }
          // Mark the record first: of two redrives, one wins.
          m.ask(m.dead_letters, store_timeout, atoms::redriven_v, j.id,
                j.series, m.now())
            .then(
              [m, rp, redrive, j](bool first) mutable {
                if (!first || m.st().runs.count(j.id) > 0) {
                  rp.deliver(make_error(errc::conflict,
                                        "the dead letter of job " + j.id
                                          + " was redriven already"));
                  return;
                }
                redrive(std::move(j));
              },
              [rp](caf::error& err) mutable { rp.deliver(err); });
        },
        [rp](caf::error& err) mutable { rp.deliver(err); });
    return rp;
  }

  /// `(recover)`: see orchestrator_actor.hpp.
  caf::result<uint64_t> on_recover() const {
    auto m = *this;
    auto rp = self->make_response_promise<uint64_t>();
    ask(store, store_timeout, atoms::active_v)
      .then(
        [m, rp](std::vector<messages::job>& jobs) mutable {
          uint64_t resumed = 0;
          for (auto& j : jobs) {
            auto t = next(j.status, job_event::recover);
            if (!t || m.st().runs.count(j.id) > 0)
              continue;
            ++resumed;
            // Claim the run now so events racing the ledger read wait.
            auto& run = m.st().runs[j.id];
            run.snapshot = j;
            auto lease = m.st().next_lease();
            run.lease = lease;
            if (!has(t->effects, job_effect::read_ledger))
              continue;
            m.ask(m.ledger, store_timeout, atoms::attempts_v, j.id)
              .then(
                [m, j, lease](std::vector<messages::attempt_record>& ledger) {
                  if (m.current(j.id, lease))
                    m.resume(j, ledger);
                },
                [m, j, lease](caf::error&) {
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
  }

  /// `(report, outcome)`: see orchestrator_actor.hpp.
  bool on_report(messages::task_outcome& out) const {
    auto i = st().runs.find(out.job_id);
    if (i == st().runs.end() || !out.ok)
      return false; // Finished, unknown, or a failure nobody waits for.
    auto& run = i->second;
    auto& pipeline = run.pipeline;
    auto t = next(run.snapshot.status, job_event::report_adopted);
    if (!t || run.recording || run.step >= pipeline.size()
        || pipeline[run.step] != out.kind || run.outputs.count(out.kind) > 0
        || out.object_version != run.snapshot.object.version
        || out.series != run.snapshot.series)
      return false; // Another step, upload or series, or recorded.
    if (out.lease_id != run.lease) {
      // The running (or scheduled) attempt of this step is redundant now.
      if (has(t->effects, job_effect::cancel_lease))
        self->send(dispatcher, atoms::cancel_v, run.lease);
      run.lease = out.lease_id;
    }
    on_outcome(std::move(out));
    return true;
  }

  /// `(retry, job_id, lease)`: a backoff timer of the run fired.
  void on_timer(const std::string& id, uint64_t lease) const {
    auto run = current(id, lease);
    if (run == nullptr || run->step >= run->pipeline.size())
      return; // Cancelled or superseded meanwhile.
    auto fx = transit(run->snapshot, run->timer);
    if (!fx)
      return;
    if (has(*fx, job_effect::start_attempt))
      start_step(id, run->snapshot.attempts + 1);
    if (has(*fx, job_effect::store_result))
      succeed(id);
    if (has(*fx, job_effect::bury))
      bury(id, lease);
  }

  /// `(expire_old)`: expires the uploads that never came. The store lists
  /// candidates; the lifecycle decides; the store persists.
  void sweep() const {
    auto m = *this;
    auto before = now() - static_cast<int64_t>(st().cfg.upload_ttl.count());
    ask(store, store_timeout, atoms::expire_old_v, before, expiry_batch)
      .then(
        [m](std::vector<messages::job>& xs) {
          auto full = xs.size() >= expiry_batch;
          std::vector<messages::job> expired;
          for (auto& j : xs) {
            if (m.st().runs.count(j.id) > 0)
              continue; // Being started right now.
            auto fx = m.transit(j, job_event::expire);
            if (fx && has(*fx, job_effect::persist))
              expired.push_back(std::move(j));
          }
          if (expired.empty())
            return;
          m.ask(m.store, store_timeout, atoms::expire_v, std::move(expired))
            .then(
              [m, full](uint64_t n) {
                if (full && n > 0)
                  m.sweep(); // A backlog: on with the next batch.
              },
              [](caf::error&) {});
        },
        [](caf::error&) {});
  }
};

} // namespace

std::vector<task_kind> pipeline_of(const orchestrator_config& cfg,
                                   const messages::job& j) {
  if (messages::is_composition_recipe(j.outputs))
    return {task_kind::compose};
  if (messages::is_asset_recipe(j.outputs))
    return {task_kind::probe}; // Its metadata is all a composition needs.
  auto result = cfg.pipeline;
  if (!j.outputs.empty())
    result.push_back(task_kind::render);
  return result;
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
    if (kind == task_kind::render)
      return "step 'render' is not configured: a job gets it when it asks "
             "for media outputs (POST /jobs \"outputs\", or outputs.default)";
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

orchestrator_private_actor::behavior_type
orchestrator(orchestrator_impl* self, orchestrator_config cfg,
             messages::stores stores,
             messages::idempotency_guard_actor guard,
             messages::dispatcher_actor dispatcher) {
  if (cfg.pipeline.empty())
    cfg.pipeline.push_back(task_kind::probe);
  self->state.cfg = std::move(cfg);
  self->state.clock = wall_clock{self->state.cfg.wall_ms, self->clock().now()};
  self->state.rng.seed(self->state.cfg.seed);
  machine m{self, stores.jobs, stores.ledger, stores.dead_letters, guard,
            dispatcher};
  if (self->state.cfg.expire_interval.count() > 0)
    self->delayed_send(self, self->state.cfg.expire_interval,
                       atoms::expire_old_v);
  return {
    [m](atoms::created, const messages::object_event& ev) {
      return m.on_created(ev);
    },
    [m](atoms::cancel, const std::string& id) { return m.on_cancel(id); },
    [m](atoms::compose, const std::string& id) { return m.on_compose(id); },
    [m](atoms::redrive, const std::string& id) { return m.on_redrive(id); },
    [m](atoms::recover) { return m.on_recover(); },
    [m](atoms::report, messages::task_outcome& out) {
      return m.on_report(out);
    },
    // -- private: the actor's own timers ------------------------------------
    [m](atoms::retry, const std::string& id, uint64_t lease) {
      m.on_timer(id, lease);
    },
    [m](atoms::expire_old) {
      m.sweep();
      m.self->delayed_send(m.self, m.st().cfg.expire_interval,
                           atoms::expire_old_v);
    },
  };
}

} // namespace vf::actors
