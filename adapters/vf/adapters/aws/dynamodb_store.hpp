// vf/adapters/aws/dynamodb_store.hpp
//
// vidflow's durable state in DynamoDB: every port of `messages::stores`
// (jobs and results, claims, the attempt ledger, dead letters) served by
// one actor over one table, as `store.backend = dynamodb` selects it
// (docs/aws.md, "DynamoDB"). Claims are conditional puts
// (`attribute_not_exists`), so a claim is made once across every node and
// restart.
//
// Each call blocks on HTTP: requests go to a pool of detached workers,
// chosen by the job id (or owner, or claim key), so the writes of one job
// keep their order while different jobs proceed in parallel. Every reply
// follows the write it reports (DynamoDB acknowledges a write once it is
// durable). Reads of one item are consistent; listings read global
// secondary indexes, which DynamoDB updates within a fraction of a second
// of a write (dynalite at once).

#pragma once

#include "caf/actor_system.hpp"

#include "vf/adapters/aws/dynamodb.hpp"
#include "vf/adapters/common/effects_log.hpp"
#include "vf/messages/dead_letter.hpp"
#include "vf/messages/job.hpp"
#include "vf/messages/stores.hpp"

#include <cstdint>
#include <memory>

namespace vf::adapters::aws {

/// The ports served by the DynamoDB store: all of them.
using dynamodb_store_actor = messages::store_actor;

/// Makes a claim: `true` the first time `key` is claimed, `false` ever
/// after. Errors as `ddb_call` (never `conflict`).
caf::expected<bool> ddb_claim(const dynamodb_config& cfg,
                              const std::string& key, const std::string& job_id,
                              int64_t now_ms);

/// Appends an attempt to its job's ledger; writing the same attempt again
/// (same job, finish time and lease) replaces it, so a retried write never
/// doubles it.
caf::error ddb_record(const dynamodb_config& cfg,
                      const messages::attempt_record& x);

/// A job's ledger, oldest first (by finish time, then lease).
caf::expected<std::vector<messages::attempt_record>>
ddb_attempts(const dynamodb_config& cfg, const std::string& job_id);

/// Stores dead letter `dl` (replacing the record of the same job and
/// series) and then the job's new state `x` (FAILED): in that order, so a
/// FAILED job never lacks its record; a crash between leaves a running job
/// with a dead letter of its current run, which its next failure replaces
/// (docs/aws.md, "DynamoDB"). `true`; `errc::not_found` if job `x.id` does
/// not exist (nothing written); `errc::invalid_argument` if `dl.job_id`
/// names another job.
caf::expected<bool> ddb_bury(const dynamodb_config& cfg,
                             const messages::dead_letter& dl,
                             const messages::job& x);

/// Dead letters created at or after `since_ms`, newest first, at most
/// `limit` (the `by_status` index, partition `deadletters`).
caf::expected<std::vector<messages::dead_letter>>
ddb_dlq_list(const dynamodb_config& cfg, int64_t since_ms, uint32_t limit);

/// The job's dead letter with the highest series; `errc::not_found`.
caf::expected<messages::dead_letter> ddb_dlq_get(const dynamodb_config& cfg,
                                                 const std::string& job_id);

/// Marks dead letter (`job_id`, `series`) redriven at `at_ms` unless it is
/// already: `true` if this call marked it, `false` if it was before;
/// `errc::not_found` without such a record; `errc::invalid_argument` for
/// `at_ms` 0.
caf::expected<bool> ddb_redriven(const dynamodb_config& cfg,
                                 const std::string& job_id, uint32_t series,
                                 int64_t at_ms);

/// Removes every dead letter of `job_id`: `true` if there was any.
caf::expected<bool> ddb_dlq_remove(const dynamodb_config& cfg,
                                   const std::string& job_id);

/// Spawns the store: a front actor and `workers` detached workers.
/// `effects` (test only; may be null) gets a "record" line for every ok
/// attempt the ledger took.
dynamodb_store_actor
spawn_dynamodb_store(caf::actor_system& sys, dynamodb_config cfg,
                     uint32_t workers,
                     std::shared_ptr<common::effects_log> effects = nullptr);

} // namespace vf::adapters::aws
