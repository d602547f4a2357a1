// vf/runtime/summarizer_settings.hpp — the `summarizer.*`, `bedrock.*` and
// `aws.*` settings shared by `vidflow serve` and `vidflow worker` (see
// docs/aws.md).

#pragma once

#include "caf/expected.hpp"

#include "vf/adapters/aws/bedrock.hpp"
#include "vf/runtime/settings.hpp"

#include <string>
#include <vector>

namespace vf::runtime {

/// Which summarizer a node's workers use, and how Bedrock is reached.
struct summarizer_settings {
  /// `summarizer.kind = bedrock`; false: the mock.
  bool bedrock = false;
  /// Model, region, endpoint, limits (its `creds` is set when spawned).
  adapters::aws::bedrock_config bedrock_cfg;
  /// `aws.profile`: profile of the shared credentials file (empty:
  /// `AWS_PROFILE`, else `default`).
  std::string profile;
};

/// The keys: `summarizer.kind`, `bedrock.model_id`, `bedrock.region`,
/// `bedrock.endpoint`, `bedrock.max_tokens`, `bedrock.timeout_ms`,
/// `bedrock.retries`, `bedrock.concurrency`, `aws.profile`.
const std::vector<setting_spec>& summarizer_specs();

/// Parses and checks them; the error names the setting. The region falls
/// back to `AWS_REGION`, then `AWS_DEFAULT_REGION`, then `us-east-1`.
caf::expected<summarizer_settings> summarizer_settings_of(const settings& xs);

} // namespace vf::runtime
