// vf/adapters/aws/dynamodb.cpp

#include "vf/adapters/aws/dynamodb.hpp"

#include "vf/adapters/aws/json_protocol.hpp"
#include "vf/messages/errc.hpp"

#include <algorithm>
#include <cstdio>
#include <random>
#include <thread>

namespace vf::adapters::aws {

namespace {

using messages::errc;
using messages::make_error;
using nlohmann::json;

bool throttled(const std::string& type) {
  return type == "ProvisionedThroughputExceededException"
         || type == "ThrottlingException" || type == "RequestLimitExceeded"
         || type == "LimitExceededException";
}

/// The reasons of a cancelled transaction, `[Code, ...]`.
std::string reasons_of(const json& doc) {
  std::string out;
  auto i = doc.find("CancellationReasons");
  if (i == doc.end() || !i->is_array())
    return out;
  for (auto& r : *i) {
    if (!out.empty())
      out += ", ";
    out += r.is_object() ? r.value("Code", std::string{"?"}) : "?";
  }
  return "[" + out + "]";
}

} // namespace

caf::error complete(dynamodb_config& cfg) {
  if (cfg.region.empty())
    cfg.region = "us-east-1";
  if (cfg.endpoint.empty())
    cfg.endpoint = "https://dynamodb." + cfg.region + ".amazonaws.com";
  while (!cfg.endpoint.empty() && cfg.endpoint.back() == '/')
    cfg.endpoint.pop_back();
  if (cfg.endpoint.compare(0, 7, "http://") != 0
      && cfg.endpoint.compare(0, 8, "https://") != 0)
    return make_error(errc::invalid_argument,
                      "DynamoDB endpoint '" + cfg.endpoint
                        + "' is not http(s)://host[:port]");
  // Table names: 3-255 of [a-zA-Z0-9_.-].
  if (cfg.table.size() < 3 || cfg.table.size() > 255
      || cfg.table.find_first_not_of("abcdefghijklmnopqrstuvwxyz"
                                     "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
           != std::string::npos)
    return make_error(errc::invalid_argument,
                      "DynamoDB table name '" + cfg.table
                        + "' must be 3-255 characters of a-z, A-Z, 0-9, "
                          "'_', '.' and '-'");
  if (cfg.tries == 0)
    cfg.tries = 1;
  return caf::none;
}

caf::expected<json> ddb_call(const dynamodb_config& cfg,
                             const std::string& action, const json& body) {
  json_service svc{{cfg.endpoint, cfg.region, "dynamodb"},
                   "DynamoDB_20120810",
                   "DynamoDB",
                   cfg.creds,
                   cfg.timeout,
                   16 << 20};
  thread_local std::minstd_rand rng{std::random_device{}()};
  caf::error last;
  for (uint32_t attempt = 1; attempt <= cfg.tries; ++attempt) {
    if (attempt > 1) {
      // Full jitter: a random wait up to base * 2^(attempt-2).
      auto cap = cfg.backoff_base.count()
                 << std::min<uint32_t>(attempt - 2, 10);
      std::uniform_int_distribution<int64_t> pick{0, std::max<int64_t>(cap, 1)};
      std::this_thread::sleep_for(std::chrono::milliseconds{pick(rng)});
    }
    auto answer = json_call(svc, action, body);
    if (!answer) {
      auto code = messages::errc_of(answer.error());
      last = make_error(errc::storage_unavailable,
                        messages::message_of(answer.error()));
      if (code == errc::storage_unavailable || code == errc::timeout)
        continue;
      return last;
    }
    if (answer->status == 200)
      return std::move(answer->doc);
    auto msg = answer->describe("DynamoDB", action);
    auto& type = answer->type;
    if (type == "ConditionalCheckFailedException")
      return make_error(errc::conflict, std::move(msg));
    if (type == "TransactionCanceledException") {
      auto reasons = reasons_of(answer->doc);
      // A conflict with another transaction passes; a failed condition is
      // the answer.
      if (reasons.find("ConditionalCheckFailed") != std::string::npos)
        return make_error(errc::conflict, msg + " " + reasons);
      last = make_error(errc::storage_unavailable, msg + " " + reasons);
      continue;
    }
    // A missing table is news only to DescribeTable (ensure_table); to any
    // other call it means the state cannot be reached.
    if (type == "ResourceNotFoundException")
      return make_error(action == "DescribeTable" ? errc::not_found
                                                  : errc::storage_unavailable,
                        std::move(msg));
    if (throttled(type) || answer->status >= 500
        || type == "TransactionInProgressException") {
      last = make_error(errc::storage_unavailable, std::move(msg));
      continue;
    }
    return make_error(errc::invalid_argument, std::move(msg));
  }
  return make_error(errc::storage_unavailable,
                    messages::message_of(last) + " (after "
                      + std::to_string(cfg.tries) + " tries)");
}

caf::expected<std::optional<json>> ddb_get_item(const dynamodb_config& cfg,
                                                const std::string& pk,
                                                const std::string& sk) {
  auto doc = ddb_call(cfg, "GetItem",
                      json{{"TableName", cfg.table},
                           {"Key", {{"pk", ddb_s(pk)}, {"sk", ddb_s(sk)}}},
                           {"ConsistentRead", true}});
  if (!doc)
    return std::move(doc.error());
  auto item = doc->find("Item");
  if (item == doc->end() || !item->is_object())
    return std::optional<json>{};
  return std::optional<json>{std::move(*item)};
}

json ddb_query_body(const dynamodb_config& cfg, const char* index,
                    const char* pk_attr, const std::string& pk,
                    const char* sk_attr, const char* sk_op,
                    const std::string& sk, bool descending) {
  std::string condition = std::string{pk_attr} + " = :pk";
  json values{{":pk", ddb_s(pk)}};
  if (sk_op != nullptr && sk_attr != nullptr) {
    if (std::string_view{sk_op} == "begins_with")
      condition += std::string{" AND begins_with("} + sk_attr + ", :sk)";
    else
      condition += std::string{" AND "} + sk_attr + " " + sk_op + " :sk";
    values[":sk"] = ddb_s(sk);
  }
  json body{{"TableName", cfg.table},
            {"KeyConditionExpression", std::move(condition)},
            {"ExpressionAttributeValues", std::move(values)},
            {"ScanIndexForward", !descending}};
  if (index != nullptr)
    body["IndexName"] = index;
  else
    body["ConsistentRead"] = true;
  return body;
}

caf::expected<std::vector<json>> ddb_query(const dynamodb_config& cfg,
                                           json body, size_t limit) {
  std::vector<json> items;
  // Without a filter every item read is kept: read no more than asked for.
  if (!body.contains("FilterExpression") && !body.contains("Limit")
      && !body.contains("Select"))
    body["Limit"] = std::min<size_t>(std::max<size_t>(limit, 1), 1000);
  for (;;) {
    auto doc = ddb_call(cfg, "Query", body);
    if (!doc)
      return std::move(doc.error());
    if (auto i = doc->find("Items"); i != doc->end() && i->is_array())
      for (auto& item : *i) {
        if (items.size() >= limit)
          return items;
        items.push_back(std::move(item));
      }
    auto last = doc->find("LastEvaluatedKey");
    if (last == doc->end() || !last->is_object() || last->empty()
        || items.size() >= limit)
      return items;
    body["ExclusiveStartKey"] = std::move(*last);
  }
}

json table_definition(const std::string& table) {
  auto index = [](const char* name, const char* pk, const char* sk) {
    return json{{"IndexName", name},
                {"KeySchema",
                 json::array({{{"AttributeName", pk}, {"KeyType", "HASH"}},
                              {{"AttributeName", sk}, {"KeyType", "RANGE"}}})},
                {"Projection", {{"ProjectionType", "ALL"}}}};
  };
  json attrs = json::array();
  for (auto name : {"pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk",
                    "gsi3pk", "gsi3sk", "gsi4pk", "gsi4sk", "gsi5pk", "gsi5sk"})
    attrs.push_back({{"AttributeName", name}, {"AttributeType", "S"}});
  return json{
    {"TableName", table},
    {"BillingMode", "PAY_PER_REQUEST"},
    {"AttributeDefinitions", std::move(attrs)},
    {"KeySchema",
     json::array({{{"AttributeName", "pk"}, {"KeyType", "HASH"}},
                  {{"AttributeName", "sk"}, {"KeyType", "RANGE"}}})},
    {"GlobalSecondaryIndexes",
     json::array({index("by_owner", "gsi1pk", "gsi1sk"),
                  index("by_status", "gsi2pk", "gsi2sk"),
                  index("by_due", "gsi3pk", "gsi3sk"),
                  index("by_content", "gsi4pk", "gsi4sk"),
                  index("by_purge", "gsi5pk", "gsi5sk")})},
  };
}

caf::error ensure_table(const dynamodb_config& cfg, bool create,
                        std::chrono::milliseconds wait) {
  auto deadline = std::chrono::steady_clock::now() + wait;
  bool created = false;
  for (;;) {
    auto doc = ddb_call(cfg, "DescribeTable", json{{"TableName", cfg.table}});
    if (!doc && messages::errc_of(doc.error()) == errc::not_found && create
        && !created) {
      auto made = ddb_call(cfg, "CreateTable", table_definition(cfg.table));
      // Another node may have created it meanwhile (ResourceInUse is a
      // ValidationException-like 400): describe again either way.
      if (!made && messages::errc_of(made.error()) != errc::invalid_argument)
        return make_error(messages::errc_of(made.error()),
                          "cannot create DynamoDB table '" + cfg.table
                            + "': " + messages::message_of(made.error()));
      created = true;
      continue;
    }
    if (!doc) {
      if (messages::errc_of(doc.error()) == errc::not_found)
        return make_error(errc::not_found,
                          "DynamoDB table '" + cfg.table
                            + "' does not exist: create it (the Terraform in "
                              "deploy/terraform/aws does, or set "
                              "dynamodb.create_table = 1)");
      return std::move(doc.error());
    }
    auto status = doc->value("/Table/TableStatus"_json_pointer, std::string{});
    if (status == "ACTIVE")
      return caf::none;
    if (std::chrono::steady_clock::now() > deadline)
      return make_error(errc::storage_unavailable, "DynamoDB table '"
                                                     + cfg.table + "' is "
                                                     + status + ", not ACTIVE");
    std::this_thread::sleep_for(std::chrono::milliseconds{200});
  }
}

std::string ddb_padded(uint64_t x, int width) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%0*llu", width,
                static_cast<unsigned long long>(x));
  return buf;
}

json ddb_s(std::string_view str) {
  return json{{"S", std::string{str}}};
}

json ddb_n(int64_t x) {
  return json{{"N", std::to_string(x)}};
}

json ddb_n(uint64_t x) {
  return json{{"N", std::to_string(x)}};
}

json ddb_bool(bool x) {
  return json{{"BOOL", x}};
}

std::string ddb_get_s(const json& item, const char* name) {
  auto i = item.find(name);
  if (i == item.end() || !i->is_object())
    return {};
  auto s = i->find("S");
  return s != i->end() && s->is_string() ? s->get<std::string>()
                                         : std::string{};
}

namespace {

const json* number_of(const json& item, const char* name) {
  auto i = item.find(name);
  if (i == item.end() || !i->is_object())
    return nullptr;
  auto n = i->find("N");
  return n != i->end() && n->is_string() ? &*n : nullptr;
}

} // namespace

int64_t ddb_get_n(const json& item, const char* name, int64_t fallback) {
  auto* n = number_of(item, name);
  if (n == nullptr)
    return fallback;
  char* end = nullptr;
  auto& str = n->get_ref<const std::string&>();
  auto x = std::strtoll(str.c_str(), &end, 10);
  return end != str.c_str() && *end == '\0' ? x : fallback;
}

uint64_t ddb_get_u(const json& item, const char* name) {
  auto* n = number_of(item, name);
  if (n == nullptr)
    return 0;
  char* end = nullptr;
  auto& str = n->get_ref<const std::string&>();
  auto x = std::strtoull(str.c_str(), &end, 10);
  return end != str.c_str() && *end == '\0' ? x : 0;
}

bool ddb_get_bool(const json& item, const char* name) {
  auto i = item.find(name);
  if (i == item.end() || !i->is_object())
    return false;
  auto b = i->find("BOOL");
  return b != i->end() && b->is_boolean() && b->get<bool>();
}

} // namespace vf::adapters::aws
