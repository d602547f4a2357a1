// vf/adapters/aws/dynamodb_jobs.hpp
//
// Jobs, their status journal, callback deliveries, results and
// Idempotency-Keys as items of vidflow's DynamoDB table (see dynamodb.hpp),
// as the job store port promises them: every status change is journaled
// with the change, a terminal status of a job with a callback makes its
// delivery with it, and listings are index queries. `dynamodb_store.hpp`
// serves the ports from these.
//
// The journal and the deliveries live in the job's own item (lists
// `events` and `deliveries`), so one conditional PutItem changes all three
// at once: no transaction is needed (dynalite, the emulator the tests use,
// has none). A job's journal is a few lines per run; the item stays far
// below DynamoDB's 400 KB. Every write of a job item is a read-modify-write
// conditional on its revision (`rev`), tried again on the new state when
// another writer came first.
//
// | item   | pk                  | sk       | index keys                     |
// |--------|---------------------|----------|--------------------------------|
// | job    | `job#<id>`          | `job`    | by_owner: `owner#<owner>`,     |
// |        |                     |          | created; by_status:            |
// |        |                     |          | `status#<STATUS>`, updated;    |
// |        |                     |          | by_due (a delivery pending):   |
// |        |                     |          | `delivery#pending`, first due; |
// |        |                     |          | by_content (SUCCEEDED, upload  |
// |        |                     |          | hashed): `content#<owner>#     |
// |        |                     |          | <sha256>`, updated; by_purge   |
// |        |                     |          | (ended, object not purged):    |
// |        |                     |          | `purge`, updated               |
// | result | `job#<id>`          | `result` |                                |
// | key    | `idem#<sha256(owner | `idem`   | by_owner: `keysof#<job id>`    |
// |        | \n key)>`           |          |                                |
//
// Event sequence numbers count per job (1 is the creation); delivery ids
// are `dlv_<job id>_<seq>`.

#pragma once

#include "caf/expected.hpp"

#include "vf/adapters/aws/dynamodb.hpp"
#include "vf/messages/job.hpp"
#include "vf/messages/user_usage.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace vf::adapters::aws {

/// Creates `x` with its first journal line (and its delivery if it is
/// created terminal with a callback): `true`; `errc::duplicate` if the id
/// exists.
caf::expected<bool> ddb_create_job(const dynamodb_config& cfg,
                                   const messages::job& x,
                                   const std::string& idem_pk = {});

/// The job `id`; `errc::not_found`.
caf::expected<messages::job> ddb_get_job(const dynamodb_config& cfg,
                                         const std::string& id);

/// Replaces the stored state of job `x.id`, journaling a change of status
/// or series (and making the delivery of a terminal status with a
/// callback) in the same transaction: `true`; `errc::not_found` if it was
/// never created. A concurrent writer is detected (the journal position is
/// the condition) and the write is tried again on the new state.
caf::expected<bool> ddb_put_job(const dynamodb_config& cfg,
                                const messages::job& x);

/// Edits a stored job in place: gets the job and its other attributes
/// (`events`, `deliveries`, `purged_at`, `idem_pk`, as attribute values)
/// and returns whether to write the result.
using job_edit = std::function<bool(messages::job&, nlohmann::json&)>;

/// Reads job `id`, applies `edit` and writes the result conditional on the
/// revision read (journaling a change of status or series), again on the
/// new state when another writer came first: `true` if written, `false`
/// if `edit` declined; `errc::not_found`.
caf::expected<bool> ddb_rewrite_job(const dynamodb_config& cfg,
                                    const std::string& id,
                                    const job_edit& edit);

/// Writes each of `xs` (EXPIRED by the lifecycle) over a job still
/// AWAITING_UPLOAD: how many were written.
caf::expected<uint64_t> ddb_expire(const dynamodb_config& cfg,
                                   const std::vector<messages::job>& xs);

/// Records the purge of job `id`'s object: `true` if now, `false` if
/// before, or if the job is not FAILED, CANCELLED or EXPIRED, or unknown.
caf::expected<bool> ddb_purged(const dynamodb_config& cfg,
                               const std::string& id, int64_t at_ms);

/// Writes the outcome of an attempt of delivery `x` into its job's item:
/// `true`; `false` if there is no such delivery.
caf::expected<bool> ddb_record_delivery(const dynamodb_config& cfg,
                                        const messages::delivery& x);

/// Up to `limit` pending deliveries due at `now_ms`, oldest due first.
caf::expected<std::vector<messages::delivery>>
ddb_deliveries_due(const dynamodb_config& cfg, int64_t now_ms, uint32_t limit);

/// `{job_id, request_hash}` of the job `owner`'s Idempotency-Key `key`
/// names if it was made at or after `since_ms`, else `{}`.
caf::expected<std::vector<std::string>> ddb_find_key(const dynamodb_config& cfg,
                                                     const std::string& owner,
                                                     const std::string& key,
                                                     int64_t since_ms);

/// Creates `x` under `x.owner`'s Idempotency-Key `key` unless the key
/// names a job made at or after `since_ms`: `{job_id, request_hash}` of
/// the job the key names afterwards. The key is written first
/// (conditionally: one of many concurrent callers wins), then the job; a
/// key whose job never got written names nothing and is taken over.
caf::expected<std::vector<std::string>>
ddb_create_keyed_job(const dynamodb_config& cfg, const messages::job& x,
                     const std::string& key, const std::string& request_hash,
                     int64_t since_ms);

/// `{job_id, outputs}` of the newest SUCCEEDED job of `owner`, other than
/// `job_id`, whose upload had SHA-256 `sha256` and whose recipe is
/// `recipe`, with its result's outputs (not empty); `{}` if none.
caf::expected<std::vector<std::string>>
ddb_find_reuse(const dynamodb_config& cfg, const std::string& owner,
               const std::string& sha256, const std::string& recipe,
               const std::string& job_id);

/// `owner`'s jobs in flight and the bytes of their objects not purged
/// (one query of the owner's index partition).
caf::expected<messages::user_usage> ddb_usage(const dynamodb_config& cfg,
                                              const std::string& owner);

/// Up to `limit` jobs AWAITING_UPLOAD created before `before_ms`, oldest
/// first.
caf::expected<std::vector<messages::job>>
ddb_expire_old(const dynamodb_config& cfg, int64_t before_ms, uint32_t limit);

/// Up to `limit` FAILED, CANCELLED or EXPIRED jobs not purged that ended
/// before `before_ms`, oldest first.
caf::expected<std::vector<messages::job>>
ddb_purgeable(const dynamodb_config& cfg, int64_t before_ms, uint32_t limit);

/// Deletes job `id` and every item of it (result, attempts, dead letters,
/// claims, Idempotency-Keys), the job item last: `true` if the job was
/// there.
caf::expected<bool> ddb_erase_job(const dynamodb_config& cfg,
                                  const std::string& id);

/// The journal of job `id` after `after_seq`, oldest first, at most 100;
/// empty for an unknown job.
caf::expected<std::vector<messages::job_event>>
ddb_events(const dynamodb_config& cfg, const std::string& id,
           uint64_t after_seq);

/// The deliveries of job `id`, oldest first.
caf::expected<std::vector<messages::delivery>>
ddb_deliveries(const dynamodb_config& cfg, const std::string& id);

/// Up to `limit` of `owner`'s jobs, newest first (every owner's when
/// `owner` is empty: the newest of each status, merged); only those of
/// `kind` unless it is empty (`messages::listing_kind_problem`).
caf::expected<std::vector<messages::job>>
ddb_history(const dynamodb_config& cfg, const std::string& owner,
            uint32_t limit, const std::string& kind = {});

/// Up to `q.limit` jobs matching every term of `q`, the most recently
/// changed first; `errc::invalid_argument` for a bad query. By status: that
/// status's index, filtered; by owner: every item of the owner is read.
caf::expected<std::vector<messages::job>>
ddb_find_jobs(const dynamodb_config& cfg, const messages::job_query& q);

/// Every job in SUBMITTED or PROCESSING, oldest change first.
caf::expected<std::vector<messages::job>>
ddb_active(const dynamodb_config& cfg);

/// Job counts indexed by `job_status` (a `Select: COUNT` query of the
/// status index per status: it reads the index, so call it at the pace of
/// a metrics scrape, not per request).
caf::expected<messages::status_counts> ddb_counts(const dynamodb_config& cfg);

/// Writes `x` unless job `x.job_id` has a result: `true` if written now.
caf::expected<bool> ddb_put_result(const dynamodb_config& cfg,
                                   const messages::job_result& x);

/// The result of job `id`; `errc::not_found`.
caf::expected<messages::job_result> ddb_get_result(const dynamodb_config& cfg,
                                                   const std::string& id);

/// Writes the stored fields of `x` (all but its URL) into `item` as
/// `obj_*` attributes, as job and dead letter items hold them.
void ddb_put_object(nlohmann::json& item, const messages::object_ref& x);

/// Reads what `ddb_put_object` wrote.
messages::object_ref ddb_object_of(const nlohmann::json& item);

} // namespace vf::adapters::aws
