// vf/adapters/aws/dynamodb_store.hpp
//
// vidflow's durable state in DynamoDB, port by port. Served so far: the
// claims of the idempotency guard (`claim_store_actor`: a conditional put,
// `attribute_not_exists`, so a claim is made once across every node and
// restart) and the attempt ledger (`ledger_actor`). The job store and the
// dead letters follow (docs/aws.md, "DynamoDB").
//
// Each call blocks on HTTP: requests go to a pool of detached workers,
// chosen by the claim key or job id, so the writes of one job keep their
// order while different jobs proceed in parallel.

#pragma once

#include "caf/actor_system.hpp"

#include "vf/adapters/aws/dynamodb.hpp"
#include "vf/messages/claim_store_actor.hpp"
#include "vf/messages/dead_letter.hpp"
#include "vf/messages/ledger_actor.hpp"

#include <cstdint>

namespace vf::adapters::aws {

/// The ports served by the DynamoDB store.
using dynamodb_store_actor
  = messages::claim_store_actor::extend_with<messages::ledger_actor>;

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

/// Spawns the store: a front actor and `workers` detached workers.
dynamodb_store_actor spawn_dynamodb_store(caf::actor_system& sys,
                                          dynamodb_config cfg,
                                          uint32_t workers);

} // namespace vf::adapters::aws
