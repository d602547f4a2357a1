// vf/adapters/aws/dynamodb_jobs.cpp

#include "vf/adapters/aws/dynamodb_jobs.hpp"

#include "vf/messages/errc.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>

namespace vf::adapters::aws {

namespace {

using messages::errc;
using messages::job;
using messages::job_status;
using messages::make_error;
using nlohmann::json;

std::string pk_of(const std::string& id) {
  return "job#" + id;
}

/// `2026-12-05T19:31:13.169Z`.
std::string iso_ms(int64_t ms) {
  auto secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  auto n = std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof(buf) - n, ".%03dZ",
                static_cast<int>(((ms % 1000) + 1000) % 1000));
  return buf;
}

json job_item(const job& x, uint64_t seq) {
  auto status = messages::to_string(x.status);
  json item{
    {"pk", ddb_s(pk_of(x.id))},
    {"sk", ddb_s("job")},
    {"id", ddb_s(x.id)},
    {"owner", ddb_s(x.owner)},
    {"filename", ddb_s(x.filename)},
    {"content_type", ddb_s(x.content_type)},
    {"bucket", ddb_s(x.bucket)},
    {"key", ddb_s(x.key)},
    {"status", ddb_s(status)},
    {"created_at", ddb_n(x.created_at)},
    {"updated_at", ddb_n(x.updated_at)},
    {"attempts", ddb_n(uint64_t{x.attempts})},
    {"step", ddb_s(x.step)},
    {"next_attempt_at", ddb_n(x.next_attempt_at)},
    {"error_code", ddb_s(messages::to_string(x.error_code))},
    {"error_message", ddb_s(x.error_message)},
    {"series", ddb_n(uint64_t{x.series})},
    {"priority", ddb_n(int64_t{x.priority})},
    {"outputs", ddb_s(x.outputs)},
    {"callback_url", ddb_s(x.callback_url)},
    {"request_id", ddb_s(x.request_id)},
    {"event_seq", ddb_n(seq)},
    {"gsi1pk", ddb_s("owner#" + x.owner)},
    {"gsi1sk", ddb_s(ddb_time_key(x.created_at) + "#" + x.id)},
    {"gsi2pk", ddb_s("status#" + status)},
    {"gsi2sk", ddb_s(ddb_time_key(x.updated_at) + "#" + x.id)},
  };
  ddb_put_object(item, x.object);
  return item;
}

job job_of(const json& item) {
  job x;
  x.id = ddb_get_s(item, "id");
  x.owner = ddb_get_s(item, "owner");
  x.filename = ddb_get_s(item, "filename");
  x.content_type = ddb_get_s(item, "content_type");
  x.bucket = ddb_get_s(item, "bucket");
  x.key = ddb_get_s(item, "key");
  messages::from_string(ddb_get_s(item, "status"), x.status);
  x.created_at = ddb_get_n(item, "created_at");
  x.updated_at = ddb_get_n(item, "updated_at");
  x.object = ddb_object_of(item);
  x.attempts = static_cast<uint32_t>(ddb_get_u(item, "attempts"));
  x.step = ddb_get_s(item, "step");
  x.next_attempt_at = ddb_get_n(item, "next_attempt_at");
  x.error_code = messages::errc_from_string(ddb_get_s(item, "error_code"));
  x.error_message = ddb_get_s(item, "error_message");
  x.series = static_cast<uint32_t>(ddb_get_u(item, "series"));
  x.priority = static_cast<int32_t>(ddb_get_n(item, "priority"));
  x.outputs = ddb_get_s(item, "outputs");
  x.callback_url = ddb_get_s(item, "callback_url");
  x.request_id = ddb_get_s(item, "request_id");
  return x;
}

/// A journal line, as an element of the job item's `events` list.
json event_entry(const job& x, uint64_t seq) {
  return json{{"M",
               {{"seq", ddb_n(seq)},
                {"status", ddb_s(messages::to_string(x.status))},
                {"series", ddb_n(uint64_t{x.series})},
                {"at", ddb_n(x.updated_at)},
                {"error_code", ddb_s(messages::to_string(x.error_code))}}}};
}

messages::job_event event_of(const json& item) {
  messages::job_event x;
  x.seq = ddb_get_u(item, "seq");
  messages::from_string(ddb_get_s(item, "status"), x.status);
  x.series = static_cast<uint32_t>(ddb_get_u(item, "series"));
  x.at = ddb_get_n(item, "at");
  x.error_code = messages::errc_from_string(ddb_get_s(item, "error_code"));
  return x;
}

/// The delivery a terminal journal line of a job with a callback makes
/// (an element of the job item's `deliveries` list): the same body the
/// SQLite store builds, fixed now for every attempt.
json delivery_entry(const job& x, uint64_t seq) {
  auto id = "dlv_" + x.id + "_" + std::to_string(seq);
  auto status = messages::to_string(x.status);
  auto lower = status;
  for (auto& ch : lower)
    ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  auto code = messages::to_string(x.error_code);
  nlohmann::ordered_json body{
    {"id", id},
    {"type", "job." + lower},
    {"job_id", x.id},
    {"status", status},
    {"series", x.series},
    {"error_code",
     code.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(code)},
    {"error_message", x.error_message.empty()
                        ? nlohmann::ordered_json()
                        : nlohmann::ordered_json(x.error_message)},
    {"result", x.status == job_status::succeeded
                 ? nlohmann::ordered_json("/jobs/" + x.id + "/result")
                 : nlohmann::ordered_json()},
    {"at", iso_ms(x.updated_at)}};
  return json{{"M",
               {{"id", ddb_s(id)},
                {"job_id", ddb_s(x.id)},
                {"owner", ddb_s(x.owner)},
                {"url", ddb_s(x.callback_url)},
                {"body", ddb_s(body.dump(-1, ' ', false,
                                         json::error_handler_t::replace))},
                {"state", ddb_s("pending")},
                {"attempts", ddb_n(uint64_t{0})},
                {"next_at", ddb_n(x.updated_at)},
                {"created_at", ddb_n(x.updated_at)},
                {"last_status", ddb_n(uint64_t{0})},
                {"last_error", ddb_s("")},
                {"delivered_at", ddb_n(int64_t{0})}}}};
}

messages::delivery delivery_of(const json& item) {
  messages::delivery x;
  x.id = ddb_get_s(item, "id");
  x.job_id = ddb_get_s(item, "job_id");
  x.owner = ddb_get_s(item, "owner");
  x.url = ddb_get_s(item, "url");
  x.body = ddb_get_s(item, "body");
  x.state = ddb_get_s(item, "state");
  x.attempts = static_cast<uint32_t>(ddb_get_u(item, "attempts"));
  x.next_at = ddb_get_n(item, "next_at");
  x.created_at = ddb_get_n(item, "created_at");
  x.last_status = static_cast<uint32_t>(ddb_get_u(item, "last_status"));
  x.last_error = ddb_get_s(item, "last_error");
  x.delivered_at = ddb_get_n(item, "delivered_at");
  return x;
}

/// The list attribute `name` of `item` (made empty if absent).
json& list_of(json& item, const char* name) {
  auto& attr = item[name];
  if (!attr.is_object() || !attr.contains("L") || !attr["L"].is_array())
    attr = json{{"L", json::array()}};
  return attr["L"];
}

/// Carries the journal and deliveries of `old` (null: a new job) into the
/// job item `item`, adds journal line `seq` when `changed` (and the
/// delivery of a terminal status with a callback), and keys the item in
/// the `by_due` index while a delivery is pending. One item holds it all,
/// so one conditional write changes the job, its journal and its
/// deliveries together: DynamoDB's transactions are not needed (and
/// dynalite has none).
void journal(json& item, const json* old, const job& x, uint64_t seq,
             bool changed) {
  auto& events = list_of(item, "events");
  auto& deliveries = list_of(item, "deliveries");
  if (old != nullptr) {
    if (auto i = old->find("events"); i != old->end() && i->contains("L"))
      events = (*i)["L"];
    if (auto i = old->find("deliveries"); i != old->end() && i->contains("L"))
      deliveries = (*i)["L"];
  }
  if (changed) {
    events.push_back(event_entry(x, seq));
    if (messages::is_terminal(x.status) && !x.callback_url.empty())
      deliveries.push_back(delivery_entry(x, seq));
  }
  int64_t due = -1;
  for (auto& d : deliveries)
    if (d.contains("M") && ddb_get_s(d["M"], "state") == "pending") {
      auto at = ddb_get_n(d["M"], "next_at");
      due = due < 0 ? at : std::min(due, at);
    }
  if (due >= 0) {
    item["gsi3pk"] = ddb_s("delivery#pending");
    item["gsi3sk"] = ddb_s(ddb_time_key(due) + "#" + x.id);
  } else {
    item.erase("gsi3pk");
    item.erase("gsi3sk");
  }
}

/// The job item of `id` (consistent read); `errc::not_found`.
caf::expected<json> job_item_of(const dynamodb_config& cfg,
                                const std::string& id) {
  auto item = ddb_get_item(cfg, pk_of(id), "job");
  if (!item)
    return std::move(item.error());
  if (!*item)
    return make_error(errc::not_found, "no job " + id);
  return std::move(**item);
}

caf::expected<std::vector<job>>
jobs_of(caf::expected<std::vector<json>> items) {
  if (!items)
    return std::move(items.error());
  std::vector<job> out;
  out.reserve(items->size());
  for (auto& item : *items)
    out.push_back(job_of(item));
  return out;
}

/// Jobs whose `pk` attribute of index `index` is `value`, in the index's
/// sort order or newest first.
caf::expected<std::vector<job>> by_index(const dynamodb_config& cfg,
                                         const char* index, const char* pk,
                                         const std::string& value,
                                         bool newest_first, size_t limit) {
  json body{{"TableName", cfg.table},
            {"IndexName", index},
            {"KeyConditionExpression", std::string{pk} + " = :v"},
            {"ExpressionAttributeValues", {{":v", ddb_s(value)}}},
            {"ScanIndexForward", !newest_first}};
  return jobs_of(ddb_query(cfg, std::move(body), limit));
}

caf::expected<std::vector<job>> in_status(const dynamodb_config& cfg,
                                          job_status status, bool newest_first,
                                          size_t limit) {
  return by_index(cfg, "by_status", "gsi2pk",
                  "status#" + messages::to_string(status), newest_first, limit);
}

} // namespace

caf::expected<bool> ddb_create_job(const dynamodb_config& cfg, const job& x) {
  auto item = job_item(x, 1);
  journal(item, nullptr, x, 1, true);
  auto res
    = ddb_call(cfg, "PutItem",
               json{{"TableName", cfg.table},
                    {"Item", std::move(item)},
                    {"ConditionExpression", "attribute_not_exists(pk)"}});
  if (res)
    return true;
  if (messages::errc_of(res.error()) == errc::conflict)
    return make_error(errc::duplicate, "job " + x.id + " exists");
  return std::move(res.error());
}

caf::expected<job> ddb_get_job(const dynamodb_config& cfg,
                               const std::string& id) {
  auto item = job_item_of(cfg, id);
  if (!item)
    return std::move(item.error());
  return job_of(*item);
}

caf::expected<bool> ddb_put_job(const dynamodb_config& cfg, const job& x) {
  for (int round = 0; round < 5; ++round) {
    auto old_item = job_item_of(cfg, x.id);
    if (!old_item)
      return std::move(old_item.error());
    auto old = job_of(*old_item);
    auto old_seq = ddb_get_u(*old_item, "event_seq");
    bool changed = old.status != x.status || old.series != x.series;
    auto seq = changed ? old_seq + 1 : old_seq;
    auto item = job_item(x, seq);
    journal(item, &*old_item, x, seq, changed);
    auto res = ddb_call(
      cfg, "PutItem",
      json{{"TableName", cfg.table},
           {"Item", std::move(item)},
           {"ConditionExpression", "event_seq = :seq"},
           {"ExpressionAttributeValues", {{":seq", ddb_n(old_seq)}}}});
    if (res)
      return true;
    // Another writer moved the journal on: write over its state again.
    if (messages::errc_of(res.error()) != errc::conflict)
      return std::move(res.error());
  }
  return make_error(errc::storage_unavailable,
                    "job " + x.id + ": changed by others on every try");
}

caf::expected<std::vector<messages::job_event>>
ddb_events(const dynamodb_config& cfg, const std::string& id,
           uint64_t after_seq) {
  std::vector<messages::job_event> out;
  auto item = job_item_of(cfg, id);
  if (!item)
    return messages::errc_of(item.error()) == errc::not_found
             ? caf::expected<std::vector<messages::job_event>>{out}
             : caf::expected<std::vector<messages::job_event>>{
               std::move(item.error())};
  for (auto& e : list_of(*item, "events")) {
    if (!e.contains("M"))
      continue;
    auto x = event_of(e["M"]);
    if (x.seq > after_seq && out.size() < 100)
      out.push_back(x);
  }
  return out;
}

caf::expected<std::vector<messages::delivery>>
ddb_deliveries(const dynamodb_config& cfg, const std::string& id) {
  std::vector<messages::delivery> out;
  auto item = job_item_of(cfg, id);
  if (!item)
    return messages::errc_of(item.error()) == errc::not_found
             ? caf::expected<std::vector<messages::delivery>>{out}
             : caf::expected<std::vector<messages::delivery>>{
               std::move(item.error())};
  for (auto& d : list_of(*item, "deliveries"))
    if (d.contains("M"))
      out.push_back(delivery_of(d["M"]));
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.created_at != b.created_at ? a.created_at < b.created_at
                                        : a.id < b.id;
  });
  return out;
}

caf::expected<std::vector<job>> ddb_history(const dynamodb_config& cfg,
                                            const std::string& owner,
                                            uint32_t limit) {
  if (!owner.empty())
    return by_index(cfg, "by_owner", "gsi1pk", "owner#" + owner, true, limit);
  std::vector<job> all;
  for (size_t i = 0; i < messages::job_status_count; ++i) {
    auto some = in_status(cfg, static_cast<job_status>(i), true, limit);
    if (!some)
      return std::move(some.error());
    all.insert(all.end(), some->begin(), some->end());
  }
  std::sort(all.begin(), all.end(), [](const job& a, const job& b) {
    return a.created_at != b.created_at ? a.created_at > b.created_at
                                        : a.id > b.id;
  });
  if (all.size() > limit)
    all.resize(limit);
  return all;
}

caf::expected<std::vector<job>>
ddb_in_status(const dynamodb_config& cfg, job_status status, uint32_t limit) {
  return in_status(cfg, status, true, limit);
}

caf::expected<std::vector<job>> ddb_active(const dynamodb_config& cfg) {
  std::vector<job> all;
  for (auto status : {job_status::submitted, job_status::processing}) {
    auto some = in_status(cfg, status, false, 1000000);
    if (!some)
      return std::move(some.error());
    all.insert(all.end(), some->begin(), some->end());
  }
  std::sort(all.begin(), all.end(), [](const job& a, const job& b) {
    return a.updated_at != b.updated_at ? a.updated_at < b.updated_at
                                        : a.id < b.id;
  });
  return all;
}

caf::expected<messages::status_counts> ddb_counts(const dynamodb_config& cfg) {
  messages::status_counts out(messages::job_status_count, 0);
  for (size_t i = 0; i < out.size(); ++i) {
    json body{
      {"TableName", cfg.table},
      {"IndexName", "by_status"},
      {"KeyConditionExpression", "gsi2pk = :v"},
      {"ExpressionAttributeValues",
       {{":v",
         ddb_s("status#" + messages::to_string(static_cast<job_status>(i)))}}},
      {"Select", "COUNT"}};
    for (;;) {
      auto doc = ddb_call(cfg, "Query", body);
      if (!doc)
        return std::move(doc.error());
      out[i] += doc->value("Count", uint64_t{0});
      auto last = doc->find("LastEvaluatedKey");
      if (last == doc->end() || !last->is_object() || last->empty())
        break;
      body["ExclusiveStartKey"] = std::move(*last);
    }
  }
  return out;
}

caf::expected<bool> ddb_put_result(const dynamodb_config& cfg,
                                   const messages::job_result& x) {
  json item{{"pk", ddb_s(pk_of(x.job_id))}, {"sk", ddb_s("result")},
            {"job_id", ddb_s(x.job_id)},    {"metadata", ddb_s(x.metadata)},
            {"summary", ddb_s(x.summary)},  {"created_at", ddb_n(x.created_at)},
            {"outputs", ddb_s(x.outputs)}};
  auto res
    = ddb_call(cfg, "PutItem",
               json{{"TableName", cfg.table},
                    {"Item", std::move(item)},
                    {"ConditionExpression", "attribute_not_exists(pk)"}});
  if (res)
    return true;
  if (messages::errc_of(res.error()) == errc::conflict)
    return false;
  return std::move(res.error());
}

caf::expected<messages::job_result> ddb_get_result(const dynamodb_config& cfg,
                                                   const std::string& id) {
  auto found = ddb_get_item(cfg, pk_of(id), "result");
  if (!found)
    return std::move(found.error());
  if (!*found)
    return make_error(errc::not_found, "no result for job " + id);
  auto* item = &**found;
  messages::job_result x;
  x.job_id = ddb_get_s(*item, "job_id");
  x.metadata = ddb_get_s(*item, "metadata");
  x.summary = ddb_get_s(*item, "summary");
  x.created_at = ddb_get_n(*item, "created_at");
  x.outputs = ddb_get_s(*item, "outputs");
  return x;
}

void ddb_put_object(json& item, const messages::object_ref& x) {
  item["obj_bucket"] = ddb_s(x.bucket);
  item["obj_key"] = ddb_s(x.key);
  item["obj_version"] = ddb_s(x.version);
  item["obj_etag"] = ddb_s(x.etag);
  item["obj_size"] = ddb_n(x.size);
  item["obj_sha256"] = ddb_s(x.sha256);
}

messages::object_ref ddb_object_of(const json& item) {
  messages::object_ref x;
  x.bucket = ddb_get_s(item, "obj_bucket");
  x.key = ddb_get_s(item, "obj_key");
  x.version = ddb_get_s(item, "obj_version");
  x.etag = ddb_get_s(item, "obj_etag");
  x.size = ddb_get_u(item, "obj_size");
  x.sha256 = ddb_get_s(item, "obj_sha256");
  return x;
}

} // namespace vf::adapters::aws
