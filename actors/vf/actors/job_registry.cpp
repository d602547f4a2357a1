// vf/actors/job_registry.cpp

#include "vf/actors/job_registry.hpp"

#include "vf/messages/upload_key.hpp"

#include "vf/actors/secure_random.hpp"
#include "vf/messages/errc.hpp"
#include "vf/messages/upload_key.hpp"

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace vf::actors {

using namespace std::chrono_literals;
using messages::errc;
using messages::make_error;

namespace {

constexpr auto store_timeout = 30s;

} // namespace

std::optional<std::string> check_filename(const std::string& filename) {
  if (filename.empty())
    return "filename must not be empty";
  if (filename.size() > 255)
    return "filename must be at most 255 bytes";
  if (filename == "." || filename == "..")
    return "filename must not be '.' or '..'";
  for (unsigned char c : filename) {
    if (c == '/' || c == '\\')
      return "filename must not contain '/' or '\\' (no paths, only a name)";
    if (c < 0x20 || c == 0x7f)
      return "filename must not contain control characters";
  }
  if (filename.find("..") != std::string::npos)
    return "filename must not contain '..'";
  return std::nullopt;
}

namespace {

/// Builds the job `req` asks for (not stored yet), or the error refusing it.
caf::expected<messages::job> new_job(job_registry_impl* self,
                                     messages::job_request& req) {
  if (self->state.paused)
    return make_error(errc::intake_paused,
                      "an operator paused intake: no new jobs until it is "
                      "resumed (uploads already accepted still process)");
  if (auto why = check_filename(req.filename))
    return make_error(errc::invalid_argument, *why);
  if (req.content_type.size() > 255)
    return make_error(errc::invalid_argument,
                      "content_type must be at most 255 bytes");
  auto& st = self->state;
  messages::job j;
  try {
    j.id = secure_uuid4();
  } catch (const std::exception& e) {
    return make_error(errc::internal,
                      std::string{"no random job id: "} + e.what());
  }
  j.owner = std::move(req.owner);
  j.filename = std::move(req.filename);
  j.content_type = std::move(req.content_type);
  j.priority = req.priority;
  j.outputs = std::move(req.outputs);
  j.callback_url = std::move(req.callback_url);
  j.request_id = std::move(req.request_id);
  j.bucket = st.cfg.bucket;
  auto key = messages::make_upload_key(st.cfg.key_prefix, j.id, j.filename);
  if (!key) // check_filename passed: only a bad key_prefix gets here.
    return make_error(errc::internal, "no upload key under prefix '"
                                        + st.cfg.key_prefix + "'");
  j.key = std::move(*key);
  j.status = messages::job_status::awaiting_upload;
  j.created_at = j.updated_at = st.clock.at(self->clock().now());
  return j;
}

/// Calls `create(done)` once `owner` is within the per-user limits (at once
/// when there are none); `create` calls `done` when the store answered.
/// The limits are checked here, next to the creation, so no other path
/// creates jobs around them. A refusal goes to `refuse`.
void within_limits(job_registry_impl* self, messages::job_store_actor store,
                   const std::string& owner,
                   std::function<void(std::function<void()>)> create,
                   std::function<void(caf::error)> refuse) {
  auto& st = self->state;
  if (st.cfg.jobs_in_flight_per_user == 0 && st.cfg.bytes_per_user == 0) {
    create([] {});
    return;
  }
  auto before = st.creating[owner]++;
  std::function<void()> done = [self, owner] {
    auto i = self->state.creating.find(owner);
    if (i != self->state.creating.end() && --i->second == 0)
      self->state.creating.erase(i);
  };
  ask(self, self->state.timeouts, store, store_timeout, atoms::usage_v, owner)
    .then(
      [=](const messages::user_usage& u) mutable {
        auto& cfg = self->state.cfg;
        auto in_flight = u.jobs_in_flight + before;
        if (cfg.jobs_in_flight_per_user > 0
            && in_flight >= cfg.jobs_in_flight_per_user) {
          done();
          refuse(make_error(
            errc::quota_exceeded,
            "you have " + std::to_string(in_flight)
              + " jobs waiting for an upload or in processing, the most "
                "limits.jobs_in_flight_per_user allows ("
              + std::to_string(cfg.jobs_in_flight_per_user)
              + "); retry when some finished"));
          return;
        }
        if (cfg.bytes_per_user > 0 && u.bytes_stored >= cfg.bytes_per_user) {
          done();
          refuse(make_error(
            errc::storage_quota_exceeded,
            "your stored uploads take " + std::to_string(u.bytes_stored)
              + " bytes, at or over limits.bytes_per_user ("
              + std::to_string(cfg.bytes_per_user)
              + " bytes); no new jobs until old uploads are deleted"));
          return;
        }
        create(done);
      },
      [=](caf::error& err) mutable {
        done();
        refuse(std::move(err));
      });
}

/// Answers `true` to every request waiting for the end of job `id`.
void wake(job_registry_impl* self, const std::string& id) {
  auto& st = self->state;
  auto i = st.waiters.find(id);
  if (i == st.waiters.end())
    return;
  auto waiters = std::move(i->second);
  st.waiters.erase(i);
  st.waiting -= waiters.size();
  for (auto& w : waiters)
    w.rp.deliver(true);
}

} // namespace

messages::job_registry_actor::behavior_type
job_registry(job_registry_impl* self, messages::stores stores,
             job_registry_config cfg) {
  self->state.cfg = std::move(cfg);
  self->state.clock = wall_clock{self->state.cfg.wall_ms, self->clock().now()};
  auto store = stores.jobs;
  return {
    [=](atoms::create,
        messages::job_request& req) -> caf::result<messages::job> {
      auto j = new_job(self, req);
      if (!j)
        return std::move(j.error());
      auto rp = self->make_response_promise<messages::job>();
      auto owner = j->owner; // Not from `j`: the lambda below takes it.
      within_limits(
        self, store, owner,
        [=, j{std::move(*j)}](std::function<void()> done) mutable {
          ask(self, self->state.timeouts, store, store_timeout, atoms::create_v,
              j)
            .then(
              [rp, j, done](bool) mutable {
                done();
                rp.deliver(std::move(j));
              },
              [rp, done](caf::error& err) mutable {
                done();
                rp.deliver(std::move(err));
              });
        },
        [rp](caf::error err) mutable { rp.deliver(std::move(err)); });
      return rp;
    },
    [=](atoms::create_keyed, messages::job_request& req)
      -> caf::result<messages::job, bool> {
      if (req.idempotency_key.empty())
        return make_error(errc::invalid_argument, "no Idempotency-Key");
      auto j = new_job(self, req);
      if (!j)
        return std::move(j.error());
      auto rp = self->make_response_promise<messages::job, bool>();
      auto key = req.idempotency_key;
      auto hash = req.request_hash;
      auto window = self->state.cfg.idempotency_window;
      auto since = j->created_at
                   - std::chrono::duration_cast<std::chrono::milliseconds>(
                       window)
                       .count();
      // Answers with the job an earlier request with this key made, as it
      // is now; a different request under the same key is refused.
      auto replay = [=](const std::vector<std::string>& hit) mutable {
        if (hit.size() != 2) {
          rp.deliver(make_error(errc::internal,
                                "the store answered an Idempotency-Key "
                                "look-up with "
                                  + std::to_string(hit.size()) + " values"));
          return;
        }
        if (hit[1] != hash) {
          rp.deliver(make_error(
            errc::invalid_argument,
            "Idempotency-Key '" + key.substr(0, 64)
              + "' was used for a different request (job " + hit[0]
              + ") in the last "
              + std::to_string(
                std::chrono::duration_cast<std::chrono::hours>(window)
                  .count())
              + " h; send a new key for a new job"));
          return;
        }
        ask(self, self->state.timeouts, store, store_timeout, atoms::get_v,
            hit[0])
          .then(
            [rp](messages::job& earlier) mutable {
              rp.deliver(std::move(earlier), false);
            },
            [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
      };
      auto owner = j->owner;
      ask(self, self->state.timeouts, store, store_timeout, atoms::find_key_v,
          owner, key, since)
        .then(
          [=, j{std::move(*j)}](std::vector<std::string>& hit) mutable {
            if (!hit.empty()) {
              replay(hit); // Creates nothing: no limit applies.
              return;
            }
            within_limits(
              self, store, j.owner,
              [=](std::function<void()> done) mutable {
                ask(self, self->state.timeouts, store, store_timeout,
                    atoms::create_keyed_v, j, key, hash, since)
                  .then(
                    [=](std::vector<std::string>& named) mutable {
                      done();
                      if (named.size() == 2 && named[0] == j.id)
                        rp.deliver(std::move(j), true);
                      else // A request with this key won the race.
                        replay(named);
                    },
                    [rp, done](caf::error& err) mutable {
                      done();
                      rp.deliver(std::move(err));
                    });
              },
              [rp](caf::error err) mutable { rp.deliver(std::move(err)); });
          },
          [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
      return rp;
    },
    [=](atoms::get, const std::string& id) {
      return self->delegate(store, atoms::get_v, id);
    },
    [=](atoms::history, std::string& owner, uint32_t limit,
        std::string& kind) -> caf::result<std::vector<messages::job>> {
      if (limit < 1 || limit > 1000)
        return make_error(errc::invalid_argument,
                          "limit must be between 1 and 1000");
      if (auto problem = messages::listing_kind_problem(owner, kind))
        return make_error(errc::invalid_argument, *problem);
      return self->delegate(store, atoms::history_v, std::move(owner), limit,
                            std::move(kind));
    },
    [=](atoms::intake, bool open) {
      self->state.paused = !open;
      return open;
    },
    [=](atoms::events, std::string& id, uint64_t after_seq) {
      return self->delegate(store, atoms::events_v, std::move(id), after_seq);
    },
    [=](atoms::deliveries, std::string& id) {
      return self->delegate(store, atoms::deliveries_v, std::move(id));
    },
    [=](atoms::get_result,
        const std::string& id) -> caf::result<messages::job_result> {
      auto rp = self->make_response_promise<messages::job_result>();
      ask(self, self->state.timeouts, store, store_timeout, atoms::get_v, id)
        .then(
          [=](const messages::job& j) mutable {
            if (j.status != messages::job_status::succeeded) {
              rp.deliver(make_error(errc::conflict,
                                    "job is not finished yet (status "
                                      + to_string(j.status) + ")"));
              return;
            }
            ask(self, self->state.timeouts, store, store_timeout,
                atoms::get_result_v, j.id)
              .then([rp](messages::job_result& r) mutable { rp.deliver(r); },
                    [rp](caf::error& err) mutable { rp.deliver(err); });
          },
          [rp](caf::error& err) mutable { rp.deliver(err); });
      return rp;
    },
    [=](atoms::counts) { return self->delegate(store, atoms::counts_v); },
    [=](atoms::attempts, const std::string& id) {
      return self->delegate(stores.ledger, atoms::attempts_v, id);
    },
    [=](atoms::dlq_list, int64_t since,
        uint32_t limit) -> caf::result<std::vector<messages::dead_letter>> {
      if (limit < 1 || limit > 200)
        return make_error(errc::invalid_argument,
                          "limit must be between 1 and 200");
      return self->delegate(stores.dead_letters, atoms::dlq_list_v, since, limit);
    },
    [=](atoms::dlq_get, const std::string& id) {
      return self->delegate(stores.dead_letters, atoms::dlq_get_v, id);
    },
    [=](atoms::dlq_remove, const std::string& id) {
      return self->delegate(stores.dead_letters, atoms::dlq_remove_v, id);
    },
    [=](atoms::await_end, const std::string& id,
        uint32_t wait_ms) -> caf::result<bool> {
      if (wait_ms < 1 || wait_ms > messages::max_end_wait_ms)
        return make_error(errc::invalid_argument,
                          "wait must be 1 to "
                            + std::to_string(messages::max_end_wait_ms)
                            + " ms");
      auto& st = self->state;
      if (st.waiting >= st.cfg.max_waiters)
        return false;
      auto rp = self->make_response_promise<bool>();
      auto token = ++st.next_waiter;
      st.waiters[id].push_back(end_waiter{token, rp});
      ++st.waiting;
      self->delayed_send(self, std::chrono::milliseconds{wait_ms},
                         atoms::wait_over_v, id, token);
      // Waiting before reading: an end after this read wakes the waiter,
      // an end before it is what the read finds.
      ask(self, self->state.timeouts, store, store_timeout, atoms::get_v, id)
        .then(
          [=](const messages::job& j) {
            if (messages::is_terminal(j.status))
              wake(self, id);
          },
          // Gone or unreadable: nothing to wait for; the caller's own read
          // says which.
          [=](caf::error&) { wake(self, id); });
      return rp;
    },
    [=](atoms::job_ended, const std::string& id) { wake(self, id); },
    [=](atoms::wait_over, const std::string& id, uint64_t token) {
      auto& st = self->state;
      auto i = st.waiters.find(id);
      if (i == st.waiters.end())
        return;
      auto& ws = i->second;
      for (auto w = ws.begin(); w != ws.end(); ++w) {
        if (w->token != token)
          continue;
        auto rp = w->rp;
        ws.erase(w);
        --st.waiting;
        if (ws.empty())
          st.waiters.erase(i);
        rp.deliver(false);
        return;
      }
    },
    [=](atoms::erase, const std::string& id) -> caf::result<uint64_t> {
      auto rp = self->make_response_promise<uint64_t>();
      auto fail = [rp](caf::error& err) mutable { rp.deliver(err); };
      // The records go last: a failure before leaves the job in place, so
      // the client's retry finds it and deletes what is left.
      auto drop_records = [=](uint64_t objects) mutable {
        ask(self, self->state.timeouts, store, store_timeout, atoms::erase_v,
            id)
          .then(
            [rp, objects, id](bool existed) mutable {
              if (existed)
                rp.deliver(objects);
              else
                rp.deliver(make_error(errc::not_found, "no job " + id));
            },
            fail);
      };
      ask(self, self->state.timeouts, store, store_timeout, atoms::get_v, id)
        .then(
          [=](const messages::job& j) mutable {
            auto deleter = self->state.cfg.deleter;
            if (!deleter) {
              drop_records(0);
              return;
            }
            ask(self, self->state.timeouts, deleter, store_timeout,
                atoms::erase_v, j.bucket, j.key)
              .then(
                [=](bool) mutable {
                  ask(self, self->state.timeouts, deleter, store_timeout,
                      atoms::erase_prefix_v, j.bucket,
                      messages::outputs_prefix(id))
                    .then(
                      [=](uint64_t outputs) mutable {
                        drop_records(outputs + 1);
                      },
                      fail);
                },
                fail);
          },
          fail);
      return rp;
    },
  };
}

} // namespace vf::actors
