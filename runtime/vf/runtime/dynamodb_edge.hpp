// vf/runtime/dynamodb_edge.hpp — `store.backend` and the `dynamodb.*`
// settings: where a coordinator keeps its durable state (see docs/aws.md,
// "DynamoDB").

#pragma once

#include "caf/expected.hpp"

#include "vf/adapters/aws/dynamodb.hpp"
#include "vf/runtime/settings.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace vf::runtime {

/// Where jobs, results, claims, the ledger and dead letters live.
struct state_backend {
  /// `store.backend = dynamodb`; false: SQLite in `data.dir`.
  bool dynamodb = false;
  /// The table and how to reach it (dynamodb only).
  adapters::aws::dynamodb_config table;
  /// `dynamodb.create_table`: make the table when it does not exist.
  bool create_table = false;
  /// `dynamodb.workers`: requests in flight at once.
  uint32_t workers = 16;
};

/// The keys: `store.backend`, `dynamodb.table`, `dynamodb.endpoint`,
/// `dynamodb.region`, `dynamodb.create_table`, `dynamodb.workers`.
const std::vector<setting_spec>& dynamodb_specs();

/// The backend the settings choose; the error names the setting.
/// `profile` is `aws.profile` (the credential chain's).
caf::expected<state_backend> state_backend_of(const settings& xs,
                                              const std::string& profile);

} // namespace vf::runtime
