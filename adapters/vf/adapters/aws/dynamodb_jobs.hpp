// vf/adapters/aws/dynamodb_jobs.hpp
//
// Jobs, their status journal, callback deliveries and results as items of
// vidflow's DynamoDB table (see dynamodb.hpp), as the job store port
// promises them: every status change is journaled with the change, a
// terminal status of a job with a callback makes its delivery with it, and
// listings are index queries. The job store actor that serves the port
// from these (with the dead letters, Idempotency-Keys, reuse, usage and
// the sweeps) is not built yet.
//
// The journal and the deliveries live in the job's own item (lists
// `events` and `deliveries`), so one conditional PutItem changes all three
// at once: no transaction is needed (dynalite, the emulator the tests use,
// has none). A job's journal is a few lines per run; the item stays far
// below DynamoDB's 400 KB.
//
// | item   | pk         | sk       | index keys                             |
// |--------|------------|----------|----------------------------------------|
// | job    | `job#<id>` | `job`    | by_owner: `owner#<owner>`, created;    |
// |        |            |          | by_status: `status#<STATUS>`, updated; |
// |        |            |          | by_due (while a delivery is pending):  |
// |        |            |          | `delivery#pending`, first due          |
// | result | `job#<id>` | `result` |                                        |
//
// Event sequence numbers count per job (1 is the creation); delivery ids
// are `dlv_<job id>_<seq>`.

#pragma once

#include "caf/expected.hpp"

#include "vf/adapters/aws/dynamodb.hpp"
#include "vf/messages/job.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace vf::adapters::aws {

/// Creates `x` with its first journal line (and its delivery if it is
/// created terminal with a callback): `true`; `errc::duplicate` if the id
/// exists.
caf::expected<bool> ddb_create_job(const dynamodb_config& cfg,
                                   const messages::job& x);

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

/// The journal of job `id` after `after_seq`, oldest first, at most 100;
/// empty for an unknown job.
caf::expected<std::vector<messages::job_event>>
ddb_events(const dynamodb_config& cfg, const std::string& id,
           uint64_t after_seq);

/// The deliveries of job `id`, oldest first.
caf::expected<std::vector<messages::delivery>>
ddb_deliveries(const dynamodb_config& cfg, const std::string& id);

/// Up to `limit` of `owner`'s jobs, newest first (every owner's when
/// `owner` is empty: the newest of each status, merged).
caf::expected<std::vector<messages::job>>
ddb_history(const dynamodb_config& cfg, const std::string& owner,
            uint32_t limit);

/// Up to `limit` jobs in `status`, the most recently changed first.
caf::expected<std::vector<messages::job>>
ddb_in_status(const dynamodb_config& cfg, messages::job_status status,
              uint32_t limit);

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
