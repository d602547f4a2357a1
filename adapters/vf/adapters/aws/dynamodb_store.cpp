// vf/adapters/aws/dynamodb_store.cpp

#include "vf/adapters/aws/dynamodb_store.hpp"

#include "caf/typed_event_based_actor.hpp"

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

/// A fixed-width decimal, so string order is number order.
std::string padded(uint64_t x, int width) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%0*llu", width,
                static_cast<unsigned long long>(x));
  return buf;
}

json attempt_item(const attempt_record& x) {
  auto finished = static_cast<uint64_t>(std::max<int64_t>(x.finished_at, 0));
  return json{
    {"pk", ddb_s("job#" + x.job_id)},
    {"sk",
     ddb_s("attempt#" + padded(finished, 15) + "#" + padded(x.lease_id, 20))},
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

dynamodb_store_actor spawn_dynamodb_store(caf::actor_system& sys,
                                          dynamodb_config cfg,
                                          uint32_t workers) {
  auto shared = std::make_shared<const dynamodb_config>(std::move(cfg));
  return sys.spawn(store_front, std::move(shared), workers);
}

} // namespace vf::adapters::aws
