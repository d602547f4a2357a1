// vf/adapters/aws/dynamodb_store.cpp

#include "vf/adapters/aws/dynamodb_store.hpp"

#include "caf/typed_event_based_actor.hpp"

#include "vf/adapters/aws/dynamodb_jobs.hpp"
#include "vf/messages/errc.hpp"
#include "vf/messages/task.hpp"

#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <vector>

namespace vf::adapters::aws {

namespace {

using messages::attempt_record;
using messages::errc;
using nlohmann::json;

int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

json attempt_item(const attempt_record& x) {
  return json{
    {"pk", ddb_s("job#" + x.job_id)},
    {"sk", ddb_s("attempt#" + ddb_time_key(x.finished_at) + "#"
                 + ddb_padded(x.lease_id, 20))},
    {"job_id", ddb_s(x.job_id)},
    {"lease_id", ddb_n(x.lease_id)},
    {"object_version", ddb_s(x.object_version)},
    {"series", ddb_n(uint64_t{x.series})},
    {"kind", ddb_s(messages::to_string(x.kind))},
    {"attempt", ddb_n(uint64_t{x.attempt})},
    {"ok", ddb_bool(x.ok)},
    {"output", ddb_s(x.output)},
    {"error_code", ddb_s(messages::to_string(x.error_code))},
    {"error_message", ddb_s(x.error_message)},
    {"worker", ddb_s(x.worker)},
    {"finished_at", ddb_n(x.finished_at)},
    {"duration_us", ddb_n(x.duration_us)},
    {"leased_at", ddb_n(x.leased_at)},
  };
}

attempt_record attempt_of(const json& item) {
  attempt_record x;
  x.job_id = ddb_get_s(item, "job_id");
  x.lease_id = ddb_get_u(item, "lease_id");
  x.object_version = ddb_get_s(item, "object_version");
  x.series = static_cast<uint32_t>(ddb_get_u(item, "series"));
  if (!messages::from_string(ddb_get_s(item, "kind"), x.kind))
    x.kind = messages::task_kind::probe;
  x.attempt = static_cast<uint32_t>(ddb_get_u(item, "attempt"));
  x.ok = ddb_get_bool(item, "ok");
  x.output = ddb_get_s(item, "output");
  x.error_code = messages::errc_from_string(ddb_get_s(item, "error_code"));
  x.error_message = ddb_get_s(item, "error_message");
  x.worker = ddb_get_s(item, "worker");
  x.finished_at = ddb_get_n(item, "finished_at");
  x.duration_us = ddb_get_u(item, "duration_us");
  x.leased_at = ddb_get_n(item, "leased_at");
  return x;
}

/// Errors as the ports promise them: `not_found`, `duplicate` and
/// `invalid_argument` of our own checks as they are; anything the table did
/// not take is `storage_unavailable` (the callers retry those), with the
/// reason.
caf::error as_port_error(caf::error err) {
  switch (messages::errc_of(err)) {
    case errc::storage_unavailable:
    case errc::not_found:
    case errc::duplicate:
      return err;
    default:
      return messages::make_error(errc::storage_unavailable,
                                  messages::message_of(err));
  }
}

template <class T>
caf::result<T> answer(caf::expected<T>&& x) {
  if (!x)
    return as_port_error(std::move(x.error()));
  return std::move(*x);
}

using messages::job;
using strings = std::vector<std::string>;

/// Puts attempt `x` into the ledger; an ok one also goes to the effects
/// log (test only) once it is in the table.
caf::error record(const dynamodb_config& cfg,
                  const std::shared_ptr<common::effects_log>& effects,
                  const attempt_record& x) {
  if (auto err = ddb_record(cfg, x))
    return err;
  if (x.ok && effects)
    effects->record(x);
  return caf::error{};
}

/// Two writes, the result first: a failure between them leaves the result
/// without the job's end, which the orchestrator's retry writes (the
/// result's own write is then a no-op). The answer is the result's.
caf::expected<bool> put_result_and_job(const dynamodb_config& cfg,
                                       const messages::job_result& r,
                                       const job& x) {
  auto inserted = ddb_put_result(cfg, r);
  if (!inserted)
    return inserted;
  if (auto put = ddb_put_job(cfg, x); !put)
    return std::move(put.error());
  return inserted;
}

dynamodb_store_actor::behavior_type
store_worker(dynamodb_store_actor::pointer,
             std::shared_ptr<const dynamodb_config> cfg,
             std::shared_ptr<common::effects_log> effects) {
  return {
    // -- claims and the ledger -----------------------------------------------
    [cfg](atoms::claim, const std::string& key,
          const std::string& job_id) -> caf::result<bool> {
      return answer(ddb_claim(*cfg, key, job_id, unix_ms()));
    },
    [cfg, effects](atoms::record,
                   const attempt_record& x) -> caf::result<bool> {
      if (auto err = record(*cfg, effects, x))
        return as_port_error(std::move(err));
      return true;
    },
    [cfg](atoms::attempts, const std::string& job_id)
      -> caf::result<std::vector<attempt_record>> {
      return answer(ddb_attempts(*cfg, job_id));
    },
    // -- jobs -----------------------------------------------------------------
    [cfg](atoms::create, const job& x) -> caf::result<bool> {
      return answer(ddb_create_job(*cfg, x));
    },
    [cfg](atoms::create_keyed, const job& x, const std::string& key,
          const std::string& request_hash,
          int64_t since_ms) -> caf::result<strings> {
      return answer(ddb_create_keyed_job(*cfg, x, key, request_hash, since_ms));
    },
    [cfg](atoms::find_key, const std::string& owner, const std::string& key,
          int64_t since_ms) -> caf::result<strings> {
      return answer(ddb_find_key(*cfg, owner, key, since_ms));
    },
    [cfg](atoms::find_reuse, const std::string& owner,
          const std::string& sha256, const std::string& recipe,
          const std::string& job_id) -> caf::result<strings> {
      return answer(ddb_find_reuse(*cfg, owner, sha256, recipe, job_id));
    },
    [cfg](atoms::get, const std::string& id) -> caf::result<job> {
      return answer(ddb_get_job(*cfg, id));
    },
    // A bad listing or search is the caller's (invalid_argument), not
    // DynamoDB's: refused here, before `answer` maps errors to the port's.
    [cfg](atoms::history, const std::string& owner, uint32_t limit,
          const std::string& kind) -> caf::result<std::vector<job>> {
      if (auto problem = messages::listing_kind_problem(owner, kind))
        return messages::make_error(errc::invalid_argument, *problem);
      return answer(ddb_history(*cfg, owner, limit, kind));
    },
    [cfg](atoms::events, const std::string& id,
          uint64_t after_seq) -> caf::result<std::vector<messages::job_event>> {
      return answer(ddb_events(*cfg, id, after_seq));
    },
    [cfg](atoms::deliveries_due, int64_t now_ms,
          uint32_t limit) -> caf::result<std::vector<messages::delivery>> {
      return answer(ddb_deliveries_due(*cfg, now_ms, limit));
    },
    [cfg](atoms::record_delivery, const messages::delivery& x)
      -> caf::result<bool> { return answer(ddb_record_delivery(*cfg, x)); },
    [cfg](atoms::deliveries, const std::string& id)
      -> caf::result<std::vector<messages::delivery>> {
      return answer(ddb_deliveries(*cfg, id));
    },
    [cfg](atoms::put, const job& x) -> caf::result<bool> {
      return answer(ddb_put_job(*cfg, x));
    },
    [cfg](atoms::put_result, const messages::job_result& x)
      -> caf::result<bool> { return answer(ddb_put_result(*cfg, x)); },
    [cfg](atoms::put_result, const messages::job_result& r,
          const job& x) -> caf::result<bool> {
      if (r.job_id != x.id)
        return messages::make_error(errc::invalid_argument,
                                    "result of " + r.job_id
                                      + " does not belong to job " + x.id);
      return answer(put_result_and_job(*cfg, r, x));
    },
    [cfg, effects](atoms::put_result, const messages::job_result& r,
                   const job& x,
                   const attempt_record& a) -> caf::result<bool> {
      if (r.job_id != x.id || a.job_id != x.id)
        return messages::make_error(errc::invalid_argument,
                                    "result of " + r.job_id + " or attempt of "
                                      + a.job_id
                                      + " does not belong to job " + x.id);
      // The attempt first, as the orchestrator recorded it before: a
      // retry after a later failure puts the same item again.
      if (auto err = record(*cfg, effects, a))
        return as_port_error(std::move(err));
      return answer(put_result_and_job(*cfg, r, x));
    },
    [cfg](atoms::get_result,
          const std::string& id) -> caf::result<messages::job_result> {
      return answer(ddb_get_result(*cfg, id));
    },
    [cfg](atoms::active) -> caf::result<std::vector<job>> {
      return answer(ddb_active(*cfg));
    },
    [cfg](atoms::find_jobs,
          const messages::job_query& q) -> caf::result<std::vector<job>> {
      if (auto problem = messages::job_query_problem(q))
        return messages::make_error(errc::invalid_argument, *problem);
      return answer(ddb_find_jobs(*cfg, q));
    },
    [cfg](atoms::counts) -> caf::result<messages::status_counts> {
      return answer(ddb_counts(*cfg));
    },
    [cfg](atoms::expire_old, int64_t before_ms,
          uint32_t limit) -> caf::result<std::vector<job>> {
      return answer(ddb_expire_old(*cfg, before_ms, limit));
    },
    [cfg](atoms::expire, const std::vector<job>& xs) -> caf::result<uint64_t> {
      return answer(ddb_expire(*cfg, xs));
    },
    [cfg](atoms::usage,
          const std::string& owner) -> caf::result<messages::user_usage> {
      return answer(ddb_usage(*cfg, owner));
    },
    [cfg](atoms::purgeable, int64_t before_ms,
          uint32_t limit) -> caf::result<std::vector<job>> {
      return answer(ddb_purgeable(*cfg, before_ms, limit));
    },
    [cfg](atoms::purged, const std::string& id, int64_t at_ms)
      -> caf::result<bool> { return answer(ddb_purged(*cfg, id, at_ms)); },
    [cfg](atoms::erase, const std::string& id) -> caf::result<bool> {
      return answer(ddb_erase_job(*cfg, id));
    },
    // -- dead letters ---------------------------------------------------------
    [cfg](atoms::bury, const messages::dead_letter& dl, const job& x)
      -> caf::result<bool> { return answer(ddb_bury(*cfg, dl, x)); },
    [cfg](atoms::dlq_list, int64_t since_ms,
          uint32_t limit) -> caf::result<std::vector<messages::dead_letter>> {
      return answer(ddb_dlq_list(*cfg, since_ms, limit));
    },
    [cfg](atoms::dlq_get,
          const std::string& job_id) -> caf::result<messages::dead_letter> {
      return answer(ddb_dlq_get(*cfg, job_id));
    },
    [cfg](atoms::redriven, const std::string& job_id, uint32_t series,
          int64_t at_ms) -> caf::result<bool> {
      return answer(ddb_redriven(*cfg, job_id, series, at_ms));
    },
    [cfg](atoms::dlq_remove, const std::string& job_id) -> caf::result<bool> {
      return answer(ddb_dlq_remove(*cfg, job_id));
    },
  };
}

struct front_state {
  std::vector<dynamodb_store_actor> workers;
  size_t next = 0;
  /// The worker of everything about `key` (a job id, an owner, a claim):
  /// one job's writes keep their order.
  dynamodb_store_actor& of(const std::string& key) {
    return workers[std::hash<std::string>{}(key) % workers.size()];
  }
  /// Any worker, in turn: listings that belong to no job.
  dynamodb_store_actor& any() {
    return workers[next++ % workers.size()];
  }
};

dynamodb_store_actor::behavior_type
store_front(dynamodb_store_actor::stateful_pointer<front_state> self,
            std::shared_ptr<const dynamodb_config> cfg, uint32_t workers,
            std::shared_ptr<common::effects_log> effects) {
  for (uint32_t i = 0; i < std::max<uint32_t>(workers, 1); ++i) {
    auto w
      = self->spawn<caf::detached + caf::linked>(store_worker, cfg, effects);
    self->state.workers.push_back(std::move(w));
  }
  auto& st = self->state;
  return {
    [self, &st](atoms::claim, const std::string& key,
                const std::string& job_id) {
      return self->delegate(st.of(key), atoms::claim_v, key, job_id);
    },
    [self, &st](atoms::record, const attempt_record& x) {
      return self->delegate(st.of(x.job_id), atoms::record_v, x);
    },
    [self, &st](atoms::attempts, const std::string& job_id) {
      return self->delegate(st.of(job_id), atoms::attempts_v, job_id);
    },
    [self, &st](atoms::create, const job& x) {
      return self->delegate(st.of(x.id), atoms::create_v, x);
    },
    [self, &st](atoms::create_keyed, const job& x, const std::string& key,
                const std::string& hash, int64_t since_ms) {
      // By owner: one owner's keyed creations run one at a time.
      return self->delegate(st.of(x.owner), atoms::create_keyed_v, x, key, hash,
                            since_ms);
    },
    [self, &st](atoms::find_key, const std::string& owner,
                const std::string& key, int64_t since_ms) {
      return self->delegate(st.of(owner), atoms::find_key_v, owner, key,
                            since_ms);
    },
    [self, &st](atoms::find_reuse, const std::string& owner,
                const std::string& sha256, const std::string& recipe,
                const std::string& job_id) {
      return self->delegate(st.of(job_id), atoms::find_reuse_v, owner, sha256,
                            recipe, job_id);
    },
    [self, &st](atoms::get, const std::string& id) {
      return self->delegate(st.of(id), atoms::get_v, id);
    },
    [self, &st](atoms::history, const std::string& owner, uint32_t limit,
                const std::string& kind) {
      return self->delegate(st.of(owner), atoms::history_v, owner, limit,
                            kind);
    },
    [self, &st](atoms::events, const std::string& id, uint64_t after_seq) {
      return self->delegate(st.of(id), atoms::events_v, id, after_seq);
    },
    [self, &st](atoms::deliveries_due, int64_t now_ms, uint32_t limit) {
      return self->delegate(st.any(), atoms::deliveries_due_v, now_ms, limit);
    },
    [self, &st](atoms::record_delivery, const messages::delivery& x) {
      return self->delegate(st.of(x.job_id), atoms::record_delivery_v, x);
    },
    [self, &st](atoms::deliveries, const std::string& id) {
      return self->delegate(st.of(id), atoms::deliveries_v, id);
    },
    [self, &st](atoms::put, const job& x) {
      return self->delegate(st.of(x.id), atoms::put_v, x);
    },
    [self, &st](atoms::put_result, const messages::job_result& x) {
      return self->delegate(st.of(x.job_id), atoms::put_result_v, x);
    },
    [self, &st](atoms::put_result, const messages::job_result& r,
                const job& x, const attempt_record& a) {
      return self->delegate(st.of(x.id), atoms::put_result_v, r, x, a);
    },
    [self, &st](atoms::put_result, const messages::job_result& r,
                const job& x) {
      return self->delegate(st.of(x.id), atoms::put_result_v, r, x);
    },
    [self, &st](atoms::get_result, const std::string& id) {
      return self->delegate(st.of(id), atoms::get_result_v, id);
    },
    [self, &st](atoms::active) {
      return self->delegate(st.any(), atoms::active_v);
    },
    [self, &st](atoms::find_jobs, const messages::job_query& q) {
      return self->delegate(st.any(), atoms::find_jobs_v, q);
    },
    [self, &st](atoms::counts) {
      return self->delegate(st.any(), atoms::counts_v);
    },
    [self, &st](atoms::expire_old, int64_t before_ms, uint32_t limit) {
      return self->delegate(st.any(), atoms::expire_old_v, before_ms, limit);
    },
    [self, &st](atoms::expire, const std::vector<job>& xs) {
      return self->delegate(st.any(), atoms::expire_v, xs);
    },
    [self, &st](atoms::usage, const std::string& owner) {
      return self->delegate(st.of(owner), atoms::usage_v, owner);
    },
    [self, &st](atoms::purgeable, int64_t before_ms, uint32_t limit) {
      return self->delegate(st.any(), atoms::purgeable_v, before_ms, limit);
    },
    [self, &st](atoms::purged, const std::string& id, int64_t at_ms) {
      return self->delegate(st.of(id), atoms::purged_v, id, at_ms);
    },
    [self, &st](atoms::erase, const std::string& id) {
      return self->delegate(st.of(id), atoms::erase_v, id);
    },
    [self, &st](atoms::bury, const messages::dead_letter& dl, const job& x) {
      return self->delegate(st.of(x.id), atoms::bury_v, dl, x);
    },
    [self, &st](atoms::dlq_list, int64_t since_ms, uint32_t limit) {
      return self->delegate(st.any(), atoms::dlq_list_v, since_ms, limit);
    },
    [self, &st](atoms::dlq_get, const std::string& job_id) {
      return self->delegate(st.of(job_id), atoms::dlq_get_v, job_id);
    },
    [self, &st](atoms::redriven, const std::string& job_id, uint32_t series,
                int64_t at_ms) {
      return self->delegate(st.of(job_id), atoms::redriven_v, job_id, series,
                            at_ms);
    },
    [self, &st](atoms::dlq_remove, const std::string& job_id) {
      return self->delegate(st.of(job_id), atoms::dlq_remove_v, job_id);
    },
  };
}

} // namespace

caf::expected<bool> ddb_claim(const dynamodb_config& cfg,
                              const std::string& key, const std::string& job_id,
                              int64_t now_ms) {
  json body{{"TableName", cfg.table},
            {"Item",
             {{"pk", ddb_s("claim#" + key)},
              {"sk", ddb_s("claim")},
              {"job_id", ddb_s(job_id)},
              {"claimed_at", ddb_n(now_ms)},
              // Found again when the job is erased.
              {"gsi1pk", ddb_s("claimsof#" + job_id)},
              {"gsi1sk", ddb_s("claim#" + key)}}},
            {"ConditionExpression", "attribute_not_exists(pk)"}};
  auto res = ddb_call(cfg, "PutItem", body);
  if (res)
    return true;
  if (messages::errc_of(res.error()) == errc::conflict)
    return false;
  return std::move(res.error());
}

caf::error ddb_record(const dynamodb_config& cfg, const attempt_record& x) {
  auto res = ddb_call(
    cfg, "PutItem", json{{"TableName", cfg.table}, {"Item", attempt_item(x)}});
  return res ? caf::error{} : std::move(res.error());
}

caf::expected<std::vector<attempt_record>>
ddb_attempts(const dynamodb_config& cfg, const std::string& job_id) {
  auto items = ddb_query(cfg,
                         ddb_query_body(cfg, nullptr, "pk", "job#" + job_id,
                                        "sk", "begins_with", "attempt#"),
                         100000);
  if (!items)
    return std::move(items.error());
  std::vector<attempt_record> out;
  out.reserve(items->size());
  for (auto& item : *items)
    out.push_back(attempt_of(item));
  return out;
}

namespace {

std::string dl_sk(uint32_t series) {
  return "dl#" + ddb_padded(series, 10);
}

json dead_letter_item(const messages::dead_letter& x) {
  json attempts = json::array();
  for (auto& a : x.attempts) {
    auto item = attempt_item(a);
    item.erase("pk");
    item.erase("sk");
    attempts.push_back(json{{"M", std::move(item)}});
  }
  json item{
    {"pk", ddb_s("job#" + x.job_id)},
    {"sk", ddb_s(dl_sk(x.series))},
    {"job_id", ddb_s(x.job_id)},
    {"filename", ddb_s(x.filename)},
    {"series", ddb_n(uint64_t{x.series})},
    {"kind", ddb_s(messages::to_string(x.kind))},
    {"error_code", ddb_s(messages::to_string(x.error_code))},
    {"error_message", ddb_s(x.error_message)},
    {"attempts", {{"L", std::move(attempts)}}},
    {"probe_output", ddb_s(x.probe_output)},
    {"created_at", ddb_n(x.created_at)},
    {"redriven_at", ddb_n(x.redriven_at)},
    // Every dead letter by creation time, for the analyzer and /dlq.
    {"gsi2pk", ddb_s("deadletters")},
    {"gsi2sk", ddb_s(ddb_time_key(x.created_at) + "#" + x.job_id + "#"
                     + ddb_padded(x.series, 10))},
  };
  ddb_put_object(item, x.object);
  return item;
}

messages::dead_letter dead_letter_of(const json& item) {
  messages::dead_letter x;
  x.job_id = ddb_get_s(item, "job_id");
  x.object = ddb_object_of(item);
  x.filename = ddb_get_s(item, "filename");
  x.series = static_cast<uint32_t>(ddb_get_u(item, "series"));
  if (!messages::from_string(ddb_get_s(item, "kind"), x.kind))
    x.kind = messages::task_kind::probe;
  x.error_code = messages::errc_from_string(ddb_get_s(item, "error_code"));
  x.error_message = ddb_get_s(item, "error_message");
  if (auto i = item.find("attempts");
      i != item.end() && i->contains("L") && (*i)["L"].is_array())
    for (auto& a : (*i)["L"])
      if (a.contains("M"))
        x.attempts.push_back(attempt_of(a["M"]));
  x.probe_output = ddb_get_s(item, "probe_output");
  x.created_at = ddb_get_n(item, "created_at");
  x.redriven_at = ddb_get_n(item, "redriven_at");
  return x;
}

caf::expected<std::vector<json>> dead_letter_items(const dynamodb_config& cfg,
                                                   const std::string& job_id,
                                                   size_t limit) {
  return ddb_query(cfg,
                   ddb_query_body(cfg, nullptr, "pk", "job#" + job_id, "sk",
                                  "begins_with", "dl#", true),
                   limit);
}

} // namespace

caf::expected<bool> ddb_bury(const dynamodb_config& cfg,
                             const messages::dead_letter& dl,
                             const messages::job& x) {
  if (dl.job_id != x.id)
    return messages::make_error(errc::invalid_argument,
                                "dead letter of " + dl.job_id
                                  + " buried with job " + x.id);
  // The job must exist before its record is written.
  if (auto old = ddb_get_job(cfg, x.id); !old)
    return std::move(old.error());
  auto put
    = ddb_call(cfg, "PutItem",
               json{{"TableName", cfg.table}, {"Item", dead_letter_item(dl)}});
  if (!put)
    return std::move(put.error());
  return ddb_put_job(cfg, x);
}

caf::expected<std::vector<messages::dead_letter>>
ddb_dlq_list(const dynamodb_config& cfg, int64_t since_ms, uint32_t limit) {
  auto items
    = ddb_query(cfg,
                ddb_query_body(cfg, "by_status", "gsi2pk", "deadletters",
                               "gsi2sk", ">=", ddb_time_key(since_ms), true),
                limit);
  if (!items)
    return std::move(items.error());
  std::vector<messages::dead_letter> out;
  for (auto& item : *items)
    out.push_back(dead_letter_of(item));
  return out;
}

caf::expected<messages::dead_letter> ddb_dlq_get(const dynamodb_config& cfg,
                                                 const std::string& job_id) {
  auto items = dead_letter_items(cfg, job_id, 1);
  if (!items)
    return std::move(items.error());
  if (items->empty())
    return messages::make_error(errc::not_found,
                                "no dead letter of job " + job_id);
  return dead_letter_of(items->front());
}

caf::expected<bool> ddb_redriven(const dynamodb_config& cfg,
                                 const std::string& job_id, uint32_t series,
                                 int64_t at_ms) {
  if (at_ms == 0)
    return messages::make_error(errc::invalid_argument,
                                "redriven at 0 (0 means open)");
  json key{{"pk", ddb_s("job#" + job_id)}, {"sk", ddb_s(dl_sk(series))}};
  auto res
    = ddb_call(cfg, "UpdateItem",
               json{{"TableName", cfg.table},
                    {"Key", key},
                    {"UpdateExpression", "SET redriven_at = :at"},
                    {"ConditionExpression",
                     "attribute_exists(pk) AND redriven_at = :zero"},
                    {"ExpressionAttributeValues",
                     {{":at", ddb_n(at_ms)}, {":zero", ddb_n(int64_t{0})}}}});
  if (res)
    return true;
  if (messages::errc_of(res.error()) != errc::conflict)
    return std::move(res.error());
  auto item = ddb_get_item(cfg, "job#" + job_id, dl_sk(series));
  if (!item)
    return std::move(item.error());
  if (!*item)
    return messages::make_error(errc::not_found, "no dead letter "
                                                   + std::to_string(series)
                                                   + " of job " + job_id);
  return false;
}

caf::expected<bool> ddb_dlq_remove(const dynamodb_config& cfg,
                                   const std::string& job_id) {
  auto items = dead_letter_items(cfg, job_id, 100000);
  if (!items)
    return std::move(items.error());
  for (auto& item : *items) {
    auto res
      = ddb_call(cfg, "DeleteItem",
                 json{{"TableName", cfg.table},
                      {"Key", {{"pk", item["pk"]}, {"sk", item["sk"]}}}});
    if (!res)
      return std::move(res.error());
  }
  return !items->empty();
}

dynamodb_store_actor
spawn_dynamodb_store(caf::actor_system& sys, dynamodb_config cfg,
                     uint32_t workers,
                     std::shared_ptr<common::effects_log> effects) {
  auto shared = std::make_shared<const dynamodb_config>(std::move(cfg));
  return sys.spawn(store_front, std::move(shared), workers, std::move(effects));
}

} // namespace vf::adapters::aws
