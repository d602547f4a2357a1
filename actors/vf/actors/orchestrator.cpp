// vf/actors/orchestrator.cpp

#include "vf/actors/orchestrator.hpp"

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

  /// Writes the run's snapshot; calls `then` once it is durable, `fail` if
  /// the store refused.
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
    auto lease = ++st().last_lease;
    run.lease = lease;
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
    auto m = *this;
    persist(
      j,
      [m, t]() mutable {
        m.self->request(m.dispatcher, dispatch_timeout, atoms::submit_v, t)
          .then(
            [m](messages::task_outcome& out) { m.on_outcome(std::move(out)); },
            [m, t](caf::error& err) {
              messages::task_outcome out;
              out.job_id = t.job_id;
              out.lease_id = t.lease_id;
              out.kind = t.kind;
              out.error_code = to_string(errc::worker_lost);
              out.error_message = "dispatcher failed: " + to_string(err);
              out.transient = true;
              m.on_outcome(std::move(out));
            });
      },
      [m, id, lease](caf::error& err) {
        // Not durable: treat as a transient failure of this attempt.
        messages::task_outcome out;
        out.job_id = id;
        out.lease_id = lease;
        out.error_code = to_string(errc::storage_unavailable);
        out.error_message = "could not record the attempt: "
                            + messages::message_of(err);
        out.transient = true;
        m.on_outcome(std::move(out));
      });
  }

  /// Handles the outcome of one lease.
  void on_outcome(messages::task_outcome out) const {
    auto i = st().runs.find(out.job_id);
    if (i == st().runs.end() || i->second.lease != out.lease_id)
      return; // Stale: cancelled, superseded, or already handled.
    auto& run = i->second;
    if (out.ok) {
      run.outputs[st().cfg.pipeline[run.step]] = std::move(out.output);
      if (run.step + 1 < st().cfg.pipeline.size()) {
        ++run.step;
        start_step(out.job_id, 1);
      } else {
        succeed(out.job_id);
      }
      return;
    }
    auto& j = run.snapshot;
    if (out.transient && j.attempts < st().cfg.max_attempts)
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
    auto lease = ++st().last_lease;
    run.lease = lease;
    j.error_code = code;
    j.error_message = msg;
    j.updated_at = now();
    j.next_attempt_at = j.updated_at + delay.count();
    auto m = *this;
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
          auto i = m.st().runs.find(id);
          if (i == m.st().runs.end() || i->second.lease != lease)
            return;
          auto j = i->second.snapshot;
          j.status = job_status::succeeded;
          j.step.clear();
          j.next_attempt_at = 0;
          j.error_code.clear();
          j.error_message.clear();
          j.updated_at = m.now();
          m.st().runs.erase(i);
          m.persist(j, [] {}, [](caf::error&) {});
        },
        [m, id, lease](caf::error& err) {
          // The result is idempotent (first write wins): retry the step.
          messages::task_outcome out;
          out.job_id = id;
          out.lease_id = lease;
          out.error_code = to_string(errc::storage_unavailable);
          out.error_message = "could not store the result: "
                              + messages::message_of(err);
          out.transient = true;
          m.on_outcome(std::move(out));
        });
  }

  /// Marks the job FAILED with the error of its last attempt.
  void fail_job(const std::string& id, const std::string& code,
                const std::string& msg) const {
    auto i = st().runs.find(id);
    if (i == st().runs.end())
      return;
    auto j = i->second.snapshot;
    j.status = job_status::failed;
    j.next_attempt_at = 0;
    j.error_code = code.empty() ? to_string(errc::internal) : code;
    j.error_message = msg;
    j.updated_at = now();
    st().runs.erase(i);
    persist(j, [] {}, [](caf::error&) {});
  }

  /// Moves `j` to SUBMITTED for object `obj`, durably; then starts work.
  void begin(messages::job j, const messages::object_ref& obj,
             caf::typed_response_promise<bool> rp,
             const std::string& ckey) const {
    auto& run = st().runs[j.id];
    run = job_run{};
    run.lease = ++st().last_lease; // Supersedes leases of an older object.
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
      [m, rp, ckey, id, lease]() mutable {
        m.st().claiming.erase(ckey);
        rp.deliver(true);
        auto i = m.st().runs.find(id);
        if (i != m.st().runs.end() && i->second.lease == lease)
          m.start_step(id, 1);
      },
      [m, rp, ckey, id, lease](caf::error& err) mutable {
        m.st().claiming.erase(ckey);
        auto i = m.st().runs.find(id);
        if (i != m.st().runs.end() && i->second.lease == lease)
          m.st().runs.erase(i);
        rp.deliver(err); // The source redelivers; the claim lets it through.
      });
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
  self->state.last_lease = self->state.cfg.lease_base;
  machine m{self, store, guard, dispatcher};
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
      self->request(store, store_timeout, atoms::get_v, *id)
        .then(
          [=](messages::job& j) mutable {
            if ((!obj.version.empty() && j.object.version == obj.version)
                || j.status == job_status::cancelled) {
              self->state.claiming.erase(ckey);
              rp.deliver(false);
              return;
            }
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
                  m.begin(std::move(j), obj, rp, ckey);
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
        self->state.runs.erase(j.id); // Later outcomes are stale.
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
    [=](atoms::recover) -> caf::result<uint64_t> {
      auto rp = self->make_response_promise<uint64_t>();
      self->request(store, store_timeout, atoms::active_v)
        .then(
          [=](std::vector<messages::job>& jobs) mutable {
            uint64_t resumed = 0;
            auto& st = self->state;
            for (auto& j : jobs) {
              if (st.runs.count(j.id) > 0)
                continue;
              auto& run = st.runs[j.id];
              run.snapshot = j;
              run.lease = ++st.last_lease;
              // Outputs of earlier steps were not kept: start over at the
              // first step, which is free of side effects.
              auto first = to_string(st.cfg.pipeline.front());
              auto attempt = j.step == first ? j.attempts + 1 : 1;
              if (attempt > st.cfg.max_attempts) {
                m.fail_job(j.id, to_string(errc::worker_lost),
                           "the node stopped during the last allowed "
                           "attempt");
                continue;
              }
              m.start_step(j.id, attempt);
              ++resumed;
            }
            rp.deliver(resumed);
          },
          [rp](caf::error& err) mutable { rp.deliver(err); });
      return rp;
    },
    [=](atoms::retry, const std::string& id, uint64_t lease) {
      auto i = self->state.runs.find(id);
      if (i == self->state.runs.end() || i->second.lease != lease)
        return; // Cancelled or superseded meanwhile.
      m.start_step(id, i->second.snapshot.attempts + 1);
    },
  };
}

} // namespace vf::actors
