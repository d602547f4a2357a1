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

/// Errors as the ports promise them: anything the table did not take is
/// `storage_unavailable` (the callers retry those), with the reason.
caf::error as_port_error(caf::error err) {
  if (messages::errc_of(err) == errc::storage_unavailable)
    return err;
  return messages::make_error(errc::storage_unavailable,
                              messages::message_of(err));
}

dynamodb_store_actor::behavior_type
store_worker(dynamodb_store_actor::pointer,
             std::shared_ptr<const dynamodb_config> cfg) {
  return {
    [cfg](atoms::claim, const std::string& key,
          const std::string& job_id) -> caf::result<bool> {
      auto res = ddb_claim(*cfg, key, job_id, unix_ms());
      if (!res)
        return as_port_error(std::move(res.error()));
      return *res;
    },
    [cfg](atoms::record, const attempt_record& x) -> caf::result<bool> {
      if (auto err = ddb_record(*cfg, x))
        return as_port_error(std::move(err));
      return true;
    },
    [cfg](atoms::attempts, const std::string& job_id)
      -> caf::result<std::vector<attempt_record>> {
      auto res = ddb_attempts(*cfg, job_id);
      if (!res)
        return as_port_error(std::move(res.error()));
      return std::move(*res);
    },
  };
}

struct front_state {
  std::vector<dynamodb_store_actor> workers;
  dynamodb_store_actor& of(const std::string& key) {
    return workers[std::hash<std::string>{}(key) % workers.size()];
  }
};

dynamodb_store_actor::behavior_type
store_front(dynamodb_store_actor::stateful_pointer<front_state> self,
            std::shared_ptr<const dynamodb_config> cfg, uint32_t workers) {
  for (uint32_t i = 0; i < std::max<uint32_t>(workers, 1); ++i) {
    auto w = self->spawn<caf::detached + caf::linked>(store_worker, cfg);
    self->state.workers.push_back(std::move(w));
  }
  return {
    [self](atoms::claim, const std::string& key, const std::string& job_id) {
      return self->delegate(self->state.of(key), atoms::claim_v, key, job_id);
    },
    [self](atoms::record, const attempt_record& x) {
      return self->delegate(self->state.of(x.job_id), atoms::record_v, x);
    },
    [self](atoms::attempts, const std::string& job_id) {
      return self->delegate(self->state.of(job_id), atoms::attempts_v, job_id);
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
              {"claimed_at", ddb_n(now_ms)}}},
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
  json body{{"TableName", cfg.table},
            {"KeyConditionExpression", "pk = :pk AND begins_with(sk, :a)"},
            {"ExpressionAttributeValues",
             {{":pk", ddb_s("job#" + job_id)}, {":a", ddb_s("attempt#")}}},
            {"ScanIndexForward", true},
            {"ConsistentRead", true}};
  auto items = ddb_query(cfg, std::move(body), 100000);
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
  json body{{"TableName", cfg.table},
            {"KeyConditionExpression", "pk = :pk AND begins_with(sk, :d)"},
            {"ExpressionAttributeValues",
             {{":pk", ddb_s("job#" + job_id)}, {":d", ddb_s("dl#")}}},
            {"ScanIndexForward", false},
            {"ConsistentRead", true}};
  return ddb_query(cfg, std::move(body), limit);
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
  json body{
    {"TableName", cfg.table},
    {"IndexName", "by_status"},
    {"KeyConditionExpression", "gsi2pk = :p AND gsi2sk >= :s"},
    {"ExpressionAttributeValues",
     {{":p", ddb_s("deadletters")}, {":s", ddb_s(ddb_time_key(since_ms))}}},
    {"ScanIndexForward", false}};
  auto items = ddb_query(cfg, std::move(body), limit);
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

dynamodb_store_actor spawn_dynamodb_store(caf::actor_system& sys,
                                          dynamodb_config cfg,
                                          uint32_t workers) {
  auto shared = std::make_shared<const dynamodb_config>(std::move(cfg));
  return sys.spawn(store_front, std::move(shared), workers);
}

} // namespace vf::adapters::aws
