// vf/adapters/aws/dynamodb_jobs.cpp

#include "vf/adapters/aws/dynamodb_jobs.hpp"

#include "vf/adapters/sigv4/sigv4.hpp"
#include "vf/messages/errc.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <thread>

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

bool is_purgeable(job_status x) {
  return x == job_status::failed || x == job_status::cancelled
         || x == job_status::expired;
}

/// Attributes of a job item that are not fields of `job`: carried from one
/// version of the item to the next.
constexpr const char* carried[]
  = {"events", "deliveries", "purged_at", "idem_pk"};

/// Completes the job item `item` (made by `job_item` from `x`) over `old`
/// (null: a new job): carries the attributes above, adds journal line
/// `seq` when `changed` (and the delivery of a terminal status with a
/// callback), counts the revision and keys the item in the sparse indexes
/// it qualifies for. One item holds it all, so one conditional write
/// changes the job, its journal and its deliveries together: DynamoDB's
/// transactions are not needed (and dynalite has none).
void complete_item(json& item, const json* old, const job& x, uint64_t seq,
                   bool changed) {
  if (old != nullptr)
    for (auto name : carried)
      if (auto i = old->find(name); i != old->end() && !item.contains(name))
        item[name] = *i;
  auto& events = list_of(item, "events");
  auto& deliveries = list_of(item, "deliveries");
  if (changed) {
    events.push_back(event_entry(x, seq));
    if (messages::is_terminal(x.status) && !x.callback_url.empty())
      deliveries.push_back(delivery_entry(x, seq));
  }
  if (!item.contains("purged_at"))
    item["purged_at"] = ddb_n(int64_t{0});
  item["rev"]
    = ddb_n(old == nullptr ? uint64_t{1} : ddb_get_u(*old, "rev") + 1);
  auto time_id = ddb_time_key(x.updated_at) + "#" + x.id;
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
  if (x.status == job_status::succeeded && !x.object.sha256.empty()) {
    item["gsi4pk"] = ddb_s("content#" + x.owner + "#" + x.object.sha256);
    item["gsi4sk"] = ddb_s(time_id);
  } else {
    item.erase("gsi4pk");
    item.erase("gsi4sk");
  }
  if (is_purgeable(x.status) && ddb_get_n(item, "purged_at") == 0) {
    item["gsi5pk"] = ddb_s("purge");
    item["gsi5sk"] = ddb_s(time_id);
  } else {
    item.erase("gsi5pk");
    item.erase("gsi5sk");
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
  return jobs_of(ddb_query(
    cfg,
    ddb_query_body(cfg, index, pk, value, nullptr, nullptr, {}, newest_first),
    limit));
}

caf::expected<std::vector<job>> in_status(const dynamodb_config& cfg,
                                          job_status status, bool newest_first,
                                          size_t limit) {
  return by_index(cfg, "by_status", "gsi2pk",
                  "status#" + messages::to_string(status), newest_first, limit);
}

} // namespace

caf::expected<bool> ddb_create_job(const dynamodb_config& cfg, const job& x,
                                   const std::string& idem_pk) {
  auto item = job_item(x, 1);
  if (!idem_pk.empty())
    item["idem_pk"] = ddb_s(idem_pk);
  complete_item(item, nullptr, x, 1, true);
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

caf::expected<bool> ddb_rewrite_job(const dynamodb_config& cfg,
                                    const std::string& id,
                                    const job_edit& edit) {
  for (int round = 0; round < 8; ++round) {
    auto old_item = job_item_of(cfg, id);
    if (!old_item)
      return std::move(old_item.error());
    auto old = job_of(*old_item);
    auto x = old;
    json attrs = json::object();
    for (auto name : carried)
      if (auto i = old_item->find(name); i != old_item->end())
        attrs[name] = *i;
    if (!edit(x, attrs))
      return false;
    x.id = old.id;
    auto old_seq = ddb_get_u(*old_item, "event_seq");
    bool changed = old.status != x.status || old.series != x.series;
    auto seq = changed ? old_seq + 1 : old_seq;
    auto item = job_item(x, seq);
    for (auto& [name, value] : attrs.items())
      item[name] = value;
    complete_item(item, &*old_item, x, seq, changed);
    auto res = ddb_call(cfg, "PutItem",
                        json{{"TableName", cfg.table},
                             {"Item", std::move(item)},
                             {"ConditionExpression", "#rev = :rev"},
                             {"ExpressionAttributeNames", {{"#rev", "rev"}}},
                             {"ExpressionAttributeValues",
                              {{":rev", ddb_n(ddb_get_u(*old_item, "rev"))}}}});
    if (res)
      return true;
    // Another writer changed the item meanwhile: edit its state again.
    if (messages::errc_of(res.error()) != errc::conflict)
      return std::move(res.error());
  }
  return make_error(errc::storage_unavailable,
                    "job " + id + ": changed by others on every try");
}

caf::expected<bool> ddb_put_job(const dynamodb_config& cfg, const job& x) {
  return ddb_rewrite_job(cfg, x.id, [&x](job& stored, json&) {
    stored = x;
    return true;
  });
}

caf::expected<uint64_t> ddb_expire(const dynamodb_config& cfg,
                                   const std::vector<job>& xs) {
  uint64_t n = 0;
  for (auto& x : xs) {
    auto res = ddb_rewrite_job(cfg, x.id, [&x](job& stored, json&) {
      // An upload or a cancel that landed since the listing wins.
      if (stored.status != job_status::awaiting_upload)
        return false;
      stored.status = x.status;
      stored.updated_at = x.updated_at;
      stored.error_code = x.error_code;
      stored.error_message = x.error_message;
      return true;
    });
    if (res && *res)
      ++n;
    else if (!res && messages::errc_of(res.error()) != errc::not_found)
      return std::move(res.error());
  }
  return n;
}

caf::expected<bool> ddb_purged(const dynamodb_config& cfg,
                               const std::string& id, int64_t at_ms) {
  auto res = ddb_rewrite_job(cfg, id, [at_ms](job& stored, json& attrs) {
    if (!is_purgeable(stored.status) || ddb_get_n(attrs, "purged_at") != 0)
      return false;
    attrs["purged_at"] = ddb_n(at_ms);
    return true;
  });
  if (!res && messages::errc_of(res.error()) == errc::not_found)
    return false;
  return res;
}

caf::expected<bool> ddb_record_delivery(const dynamodb_config& cfg,
                                        const messages::delivery& x) {
  auto res = ddb_rewrite_job(cfg, x.job_id, [&x](job&, json& attrs) {
    for (auto& d : list_of(attrs, "deliveries")) {
      if (!d.contains("M") || ddb_get_s(d["M"], "id") != x.id)
        continue;
      auto& m = d["M"];
      m["state"] = ddb_s(x.state);
      m["attempts"] = ddb_n(uint64_t{x.attempts});
      m["next_at"] = ddb_n(x.next_at);
      m["last_status"] = ddb_n(uint64_t{x.last_status});
      m["last_error"] = ddb_s(x.last_error);
      m["delivered_at"] = ddb_n(x.delivered_at);
      return true;
    }
    return false;
  });
  if (!res && messages::errc_of(res.error()) == errc::not_found)
    return false;
  return res;
}

caf::expected<std::vector<messages::delivery>>
ddb_deliveries_due(const dynamodb_config& cfg, int64_t now_ms, uint32_t limit) {
  auto items
    = ddb_query(cfg,
                ddb_query_body(cfg, "by_due", "gsi3pk", "delivery#pending",
                               "gsi3sk", "<", ddb_time_key(now_ms + 1)),
                limit);
  if (!items)
    return std::move(items.error());
  std::vector<messages::delivery> out;
  for (auto& item : *items)
    for (auto& d : list_of(item, "deliveries"))
      if (d.contains("M")) {
        auto x = delivery_of(d["M"]);
        if (x.state == "pending" && x.next_at <= now_ms)
          out.push_back(std::move(x));
      }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.next_at != b.next_at ? a.next_at < b.next_at : a.id < b.id;
  });
  if (out.size() > limit)
    out.resize(limit);
  return out;
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
                                            uint32_t limit,
                                            const std::string& kind) {
  if (auto problem = messages::listing_kind_problem(owner, kind))
    return make_error(errc::invalid_argument, *problem);
  if (!kind.empty()) {
    // The owner's items, newest first, filtered on the recipe's first
    // bytes: DynamoDB still reads (and bills) the owner's other jobs, a
    // page of up to 1 MB at a time, but only the kind comes back.
    auto body = ddb_query_body(cfg, "by_owner", "gsi1pk", "owner#" + owner,
                               nullptr, nullptr, {}, true);
    body["FilterExpression"] = "begins_with(#outputs, :kind)";
    body["ExpressionAttributeNames"] = json{{"#outputs", "outputs"}};
    body["ExpressionAttributeValues"][":kind"]
      = ddb_s(kind == messages::kind_composition
                ? messages::composition_recipe_prefix
                : messages::asset_recipe_prefix);
    return jobs_of(ddb_query(cfg, std::move(body), limit));
  }
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

namespace {

/// The query of `index` for `pk`, newest first, with `q`'s terms other
/// than the key as a filter (DynamoDB still reads, and bills, the items
/// the filter drops).
json search_body(const dynamodb_config& cfg, const char* index,
                 const char* pk_attr, const std::string& pk,
                 const messages::job_query& q) {
  auto body = ddb_query_body(cfg, index, pk_attr, pk, nullptr, nullptr, {},
                             true);
  std::vector<std::string> terms;
  json names = json::object();
  auto& values = body["ExpressionAttributeValues"];
  if (!q.owner.empty() && std::string_view{index} != "by_owner") {
    terms.emplace_back("#owner = :owner");
    names["#owner"] = "owner";
    values[":owner"] = ddb_s(q.owner);
  }
  if (!q.status.empty() && std::string_view{index} != "by_status") {
    terms.emplace_back("#status = :status");
    names["#status"] = "status";
    values[":status"] = ddb_s(q.status);
  }
  if (!q.name.empty()) {
    terms.emplace_back("contains(#filename, :name)");
    names["#filename"] = "filename";
    values[":name"] = ddb_s(q.name);
  }
  if (!terms.empty()) {
    std::string filter;
    for (auto& t : terms)
      filter += (filter.empty() ? "" : " AND ") + t;
    body["FilterExpression"] = std::move(filter);
    body["ExpressionAttributeNames"] = std::move(names);
  }
  return body;
}

void newest_change_first(std::vector<job>& xs, size_t limit) {
  std::sort(xs.begin(), xs.end(), [](const job& a, const job& b) {
    return a.updated_at != b.updated_at ? a.updated_at > b.updated_at
                                        : a.id > b.id;
  });
  if (xs.size() > limit)
    xs.resize(limit);
}

} // namespace

caf::expected<std::vector<job>>
ddb_find_jobs(const dynamodb_config& cfg, const messages::job_query& q) {
  if (auto problem = messages::job_query_problem(q))
    return make_error(errc::invalid_argument, *problem);
  // One status: its index is in the order asked for, the rest filters.
  if (!q.status.empty())
    return jobs_of(ddb_query(
      cfg, search_body(cfg, "by_status", "gsi2pk", "status#" + q.status, q),
      q.limit));
  // One owner: the owner's index is in creation order, so every matching
  // item of the owner is read and sorted by its last change.
  if (!q.owner.empty()) {
    auto all = jobs_of(ddb_query(
      cfg, search_body(cfg, "by_owner", "gsi1pk", "owner#" + q.owner, q),
      SIZE_MAX));
    if (all)
      newest_change_first(*all, q.limit);
    return all;
  }
  // A name alone: the newest matches of each status, merged.
  std::vector<job> all;
  for (size_t i = 0; i < messages::job_status_count; ++i) {
    auto status = messages::to_string(static_cast<job_status>(i));
    auto some = jobs_of(ddb_query(
      cfg, search_body(cfg, "by_status", "gsi2pk", "status#" + status, q),
      q.limit));
    if (!some)
      return std::move(some.error());
    all.insert(all.end(), some->begin(), some->end());
  }
  newest_change_first(all, q.limit);
  return all;
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
    auto body = ddb_query_body(
      cfg, "by_status", "gsi2pk",
      "status#" + messages::to_string(static_cast<job_status>(i)));
    body["Select"] = "COUNT";
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

namespace {

using strings = std::vector<std::string>;

/// The key item of an Idempotency-Key: hashed, so that any owner name and
/// key (up to the registry's limits) make a short, valid key.
std::string idem_pk_of(const std::string& owner, const std::string& key) {
  return "idem#" + sigv4::sha256_hex(owner + '\n' + key);
}

/// Idempotency-Keys live two days in the table: the window is one day,
/// and DynamoDB's TTL (attribute `ttl`, enabled by Terraform) deletes
/// them some time after they expired. Reads never trust the TTL: they
/// compare `created_at` with the window.
constexpr int64_t idem_ttl_s = 2 * 24 * 3600;
/// How long a key whose job is not written yet is left to its maker before
/// another request takes it over (its maker crashed between the puts).
constexpr int64_t idem_takeover_ms = 15000;

} // namespace

caf::expected<strings> ddb_find_key(const dynamodb_config& cfg,
                                    const std::string& owner,
                                    const std::string& key, int64_t since_ms) {
  auto item = ddb_get_item(cfg, idem_pk_of(owner, key), "idem");
  if (!item)
    return std::move(item.error());
  if (!*item || ddb_get_n(**item, "created_at") < since_ms)
    return strings{};
  // A key whose job was never written (a crash between the two puts)
  // names nothing.
  auto job_id = ddb_get_s(**item, "job_id");
  auto found = ddb_get_item(cfg, pk_of(job_id), "job");
  if (!found)
    return std::move(found.error());
  if (!*found)
    return strings{};
  return strings{job_id, ddb_get_s(**item, "request_hash")};
}

caf::expected<strings> ddb_create_keyed_job(const dynamodb_config& cfg,
                                            const job& x,
                                            const std::string& key,
                                            const std::string& request_hash,
                                            int64_t since_ms) {
  auto pk = idem_pk_of(x.owner, key);
  auto wall_ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
  };
  for (int round = 0; round < 60; ++round) {
    auto old = ddb_get_item(cfg, pk, "idem");
    if (!old)
      return std::move(old.error());
    json condition_values{{":since", ddb_n(since_ms)}};
    std::string condition = "attribute_not_exists(pk) OR created_at < :since";
    if (*old && ddb_get_n(**old, "created_at") >= since_ms) {
      auto earlier = ddb_find_key(cfg, x.owner, key, since_ms);
      if (!earlier || !earlier->empty())
        return earlier;
      // The key names a job not written (yet). Written a moment ago: its
      // maker is writing the job now; wait for it. Long ago (or by a
      // version that did not stamp keys): its maker crashed between the
      // two puts; take the key over, unless someone else does first.
      auto written = ddb_get_n(**old, "written_at");
      if (written > 0 && wall_ms() - written < idem_takeover_ms) {
        std::this_thread::sleep_for(
          std::chrono::milliseconds{std::min(50, 5 * (round + 1))});
        continue;
      }
      condition = "job_id = :stale";
      condition_values = json{{":stale", (**old)["job_id"]}};
    }
    json item{{"pk", ddb_s(pk)},
              {"sk", ddb_s("idem")},
              {"job_id", ddb_s(x.id)},
              {"request_hash", ddb_s(request_hash)},
              {"created_at", ddb_n(x.created_at)},
              {"written_at", ddb_n(wall_ms())},
              {"ttl", ddb_n(x.created_at / 1000 + idem_ttl_s)},
              {"gsi1pk", ddb_s("keysof#" + x.id)},
              {"gsi1sk", ddb_s(pk)}};
    auto put = ddb_call(cfg, "PutItem",
                        json{{"TableName", cfg.table},
                             {"Item", std::move(item)},
                             {"ConditionExpression", condition},
                             {"ExpressionAttributeValues", condition_values}});
    if (!put) {
      if (messages::errc_of(put.error()) == errc::conflict)
        continue; // Someone made the key meanwhile: answer with theirs.
      return std::move(put.error());
    }
    // The key is ours; now the job. Until it is written the key names
    // nothing (see ddb_find_key).
    auto made = ddb_create_job(cfg, x, pk);
    if (!made) {
      ddb_call(cfg, "DeleteItem",
               json{{"TableName", cfg.table},
                    {"Key", {{"pk", ddb_s(pk)}, {"sk", ddb_s("idem")}}},
                    {"ConditionExpression", "job_id = :j"},
                    {"ExpressionAttributeValues", {{":j", ddb_s(x.id)}}}});
      return std::move(made.error());
    }
    return strings{x.id, request_hash};
  }
  return make_error(errc::storage_unavailable,
                    "Idempotency-Key of " + x.owner
                      + ": changed by others on every try");
}

caf::expected<strings> ddb_find_reuse(const dynamodb_config& cfg,
                                      const std::string& owner,
                                      const std::string& sha256,
                                      const std::string& recipe,
                                      const std::string& job_id) {
  if (sha256.empty())
    return strings{};
  auto body = ddb_query_body(cfg, "by_content", "gsi4pk",
                             "content#" + owner + "#" + sha256, nullptr,
                             nullptr, {}, true);
  body["FilterExpression"] = "#o = :r AND #i <> :j";
  body["ExpressionAttributeNames"] = {{"#o", "outputs"}, {"#i", "id"}};
  body["ExpressionAttributeValues"][":r"] = ddb_s(recipe);
  body["ExpressionAttributeValues"][":j"] = ddb_s(job_id);
  auto items = ddb_query(cfg, std::move(body), 20);
  if (!items)
    return std::move(items.error());
  for (auto& item : *items) {
    auto id = ddb_get_s(item, "id");
    auto res = ddb_get_result(cfg, id);
    if (res && !res->outputs.empty())
      return strings{id, res->outputs};
    if (!res && messages::errc_of(res.error()) != errc::not_found)
      return std::move(res.error());
  }
  return strings{};
}

caf::expected<messages::user_usage> ddb_usage(const dynamodb_config& cfg,
                                              const std::string& owner) {
  auto body = ddb_query_body(cfg, "by_owner", "gsi1pk", "owner#" + owner);
  body["ProjectionExpression"] = "#s, obj_size, purged_at";
  body["ExpressionAttributeNames"] = {{"#s", "status"}};
  auto items = ddb_query(cfg, std::move(body), SIZE_MAX);
  if (!items)
    return std::move(items.error());
  messages::user_usage out;
  for (auto& item : *items) {
    job_status status = job_status::failed;
    messages::from_string(ddb_get_s(item, "status"), status);
    if (status == job_status::awaiting_upload || status == job_status::submitted
        || status == job_status::processing)
      ++out.jobs_in_flight;
    if (ddb_get_n(item, "purged_at") == 0)
      out.bytes_stored += ddb_get_u(item, "obj_size");
  }
  return out;
}

caf::expected<std::vector<job>>
ddb_expire_old(const dynamodb_config& cfg, int64_t before_ms, uint32_t limit) {
  // An AWAITING_UPLOAD job has not changed since it was made: its
  // `updated_at` (the index's sort key) is its `created_at`; the filter
  // keeps the promise anyway.
  auto body
    = ddb_query_body(cfg, "by_status", "gsi2pk", "status#AWAITING_UPLOAD",
                     "gsi2sk", "<", ddb_time_key(before_ms));
  body["FilterExpression"] = "created_at < :b";
  body["ExpressionAttributeValues"][":b"] = ddb_n(before_ms);
  auto out = jobs_of(ddb_query(cfg, std::move(body), limit));
  if (out)
    std::stable_sort(out->begin(), out->end(), [](const job& a, const job& b) {
      return a.created_at < b.created_at;
    });
  return out;
}

caf::expected<std::vector<job>>
ddb_purgeable(const dynamodb_config& cfg, int64_t before_ms, uint32_t limit) {
  return jobs_of(
    ddb_query(cfg,
              ddb_query_body(cfg, "by_purge", "gsi5pk", "purge", "gsi5sk", "<",
                             ddb_time_key(before_ms)),
              limit));
}

caf::expected<bool> ddb_erase_job(const dynamodb_config& cfg,
                                  const std::string& id) {
  auto exists = ddb_get_item(cfg, pk_of(id), "job");
  if (!exists)
    return std::move(exists.error());
  std::vector<json> keys;
  // The job's own items (job, result, attempts, dead letters) ...
  auto own_body = ddb_query_body(cfg, nullptr, "pk", pk_of(id));
  own_body["ProjectionExpression"] = "pk, sk";
  auto own = ddb_query(cfg, std::move(own_body), SIZE_MAX);
  if (!own)
    return std::move(own.error());
  // ... its claims and Idempotency-Keys, through by_owner.
  for (auto prefix : {"claimsof#", "keysof#"}) {
    auto more = ddb_query(
      cfg, ddb_query_body(cfg, "by_owner", "gsi1pk", prefix + id), SIZE_MAX);
    if (!more)
      return std::move(more.error());
    keys.insert(keys.end(), more->begin(), more->end());
  }
  // The index may lag behind a key just made: the job names its own.
  if (*exists)
    if (auto idem = ddb_get_s(**exists, "idem_pk"); !idem.empty())
      keys.push_back(json{{"pk", ddb_s(idem)}, {"sk", ddb_s("idem")}});
  // The job item last: until it is gone, a retried erase finds the rest.
  std::stable_partition(own->begin(), own->end(), [](const json& item) {
    return ddb_get_s(item, "sk") != "job";
  });
  keys.insert(keys.end(), own->begin(), own->end());
  for (auto& item : keys) {
    auto res
      = ddb_call(cfg, "DeleteItem",
                 json{{"TableName", cfg.table},
                      {"Key", {{"pk", item["pk"]}, {"sk", item["sk"]}}}});
    if (!res)
      return std::move(res.error());
  }
  return exists->has_value();
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
