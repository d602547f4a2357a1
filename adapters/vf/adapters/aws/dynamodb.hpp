// vf/adapters/aws/dynamodb.hpp
//
// A small DynamoDB client on the AWS JSON 1.0 protocol
// (`X-Amz-Target: DynamoDB_20120810.<Action>`), SigV4-signed for service
// `dynamodb`: calls with retries on throttling and 5xx, the one table
// vidflow keeps its state in, and attribute helpers. Blocking: call it
// from a detached actor.
//
// The table (single-table design, on-demand capacity):
//
// | item        | pk                | sk                                 |
// |-------------|-------------------|------------------------------------|
// | claim       | `claim#<key>`     | `claim`                            |
// | attempt     | `job#<id>`        | `attempt#<finished_ms>#<lease_id>` |
//
// Five global secondary indexes are part of the table from the start, for
// the job items (dynamodb_jobs.hpp): `by_owner` (`gsi1pk`, `gsi1sk`: a
// user's history, newest first; also the claims and Idempotency-Keys of a
// job, for erasing them), `by_status` (`gsi2pk`, `gsi2sk`: jobs in a status
// by time, for recovery and sweeps; also the dead letters), `by_due`
// (`gsi3pk`, `gsi3sk`: jobs with a pending callback delivery, by when it
// is due), `by_content` (`gsi4pk`, `gsi4sk`: an owner's SUCCEEDED jobs by
// the SHA-256 of their upload, for content reuse) and `by_purge` (`gsi5pk`,
// `gsi5sk`: ended jobs whose objects are not purged yet, for retention).
// The last three are sparse: an item is in them only while it qualifies.
// No read is a scan.

#pragma once

#include <nlohmann/json.hpp>

#include "caf/expected.hpp"

#include "vf/adapters/aws/credentials.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vf::adapters::aws {

/// Which table, and how to reach it.
struct dynamodb_config {
  /// `http(s)://host[:port]`; empty: `https://dynamodb.<region>.amazonaws.com`.
  std::string endpoint;
  /// Empty: `us-east-1`.
  std::string region;
  std::string table = "vidflow";
  std::shared_ptr<credential_chain> creds;
  /// Deadline of one call.
  std::chrono::milliseconds timeout{5000};
  /// Tries of a call that was throttled or failed transiently (5xx,
  /// transport), with full-jitter exponential backoff from `backoff_base`.
  uint32_t tries = 5;
  std::chrono::milliseconds backoff_base{25};
};

/// Checks `cfg` and fills `endpoint` and `region` when empty;
/// `errc::invalid_argument` names what is wrong.
caf::error complete(dynamodb_config& cfg);

/// One call with its retries. The table name is not added: `body` names
/// it. Errors (`vf::messages::errc`): `conflict` (a condition failed:
/// `ConditionalCheckFailedException`, or a cancelled transaction; the
/// message lists the reasons), `not_found` (`ResourceNotFoundException`
/// of `DescribeTable`: no such table; of any other call it is
/// `storage_unavailable`), `storage_unavailable` (throttled on every try, 5xx,
/// transport, no credentials), `invalid_argument` (`ValidationException`
/// and other 4xx: our request or our rights).
caf::expected<nlohmann::json> ddb_call(const dynamodb_config& cfg,
                                       const std::string& action,
                                       const nlohmann::json& body);

/// `GetItem` (`pk`, `sk`), consistent: the item, or nullopt if there is
/// none.
caf::expected<std::optional<nlohmann::json>>
ddb_get_item(const dynamodb_config& cfg, const std::string& pk,
             const std::string& sk);

/// The body of a `Query` of index `index` (null: the table itself, read
/// consistently): the items whose partition key `pk_attr` is `pk` and,
/// when `sk_op` is set, whose sort key `sk_attr` compares to `sk` by it
/// (`<`, `>=`, ... or `begins_with`); oldest first unless `descending`.
/// Add a filter or a projection as needed (`:pk` and `:sk` are taken).
nlohmann::json ddb_query_body(const dynamodb_config& cfg, const char* index,
                              const char* pk_attr, const std::string& pk,
                              const char* sk_attr = nullptr,
                              const char* sk_op = nullptr,
                              const std::string& sk = {},
                              bool descending = false);

/// `Query` through every page (`LastEvaluatedKey`) until `limit` items;
/// returns the items.
caf::expected<std::vector<nlohmann::json>>
ddb_query(const dynamodb_config& cfg, nlohmann::json body, size_t limit);

/// The `CreateTable` body of vidflow's table named `table`.
nlohmann::json table_definition(const std::string& table);

/// Checks that the table exists and is usable (`DescribeTable`); when it
/// does not and `create` is set, creates it and waits until it is ACTIVE
/// (up to `wait`). Errors name the table and what to do.
caf::error ensure_table(const dynamodb_config& cfg, bool create,
                        std::chrono::milliseconds wait
                        = std::chrono::seconds{60});

/// `x` as `width` decimal digits (more if it needs them), so that string
/// order is number order in sort keys.
std::string ddb_padded(uint64_t x, int width = 15);

/// A time in Unix milliseconds for a sort key (negative: 0).
inline std::string ddb_time_key(int64_t ms) {
  return ddb_padded(ms < 0 ? 0 : static_cast<uint64_t>(ms));
}

/// Attribute values.
nlohmann::json ddb_s(std::string_view str);
nlohmann::json ddb_n(int64_t x);
nlohmann::json ddb_n(uint64_t x);
nlohmann::json ddb_bool(bool x);

/// Reads attributes of an item; a missing or mistyped attribute is the
/// fallback.
std::string ddb_get_s(const nlohmann::json& item, const char* name);
int64_t ddb_get_n(const nlohmann::json& item, const char* name,
                  int64_t fallback = 0);
uint64_t ddb_get_u(const nlohmann::json& item, const char* name);
bool ddb_get_bool(const nlohmann::json& item, const char* name);

} // namespace vf::adapters::aws
