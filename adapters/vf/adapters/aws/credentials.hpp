// vf/adapters/aws/credentials.hpp
//
// AWS credentials from the standard chain, as the AWS SDKs resolve them:
// the environment, the shared credentials file and its profile, ECS
// container credentials, EC2 instance metadata (IMDSv2). Temporary
// credentials are fetched again before they expire. Keys never appear in a
// message, a log line or an error.

#pragma once

#include "caf/expected.hpp"

#include "vf/adapters/sigv4/sigv4.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace vf::adapters::aws {

/// A key pair with where it came from and until when it holds.
struct aws_credentials {
  sigv4::credentials keys;
  /// Unix seconds; nullopt for long-lived keys (environment, file).
  std::optional<int64_t> expires_at;
  /// `environment`, `shared file (profile NAME)`, `ecs`, `imds (role NAME)`.
  std::string source;
};

/// Reads an environment variable; nullopt when unset.
using env_lookup = std::function<std::optional<std::string>(const char*)>;

/// The process environment.
env_lookup process_env();

/// How the chain looks for credentials.
struct chain_config {
  /// Profile of the shared credentials file; empty: `AWS_PROFILE`, else
  /// `default`.
  std::string profile;
  env_lookup env = process_env();
  /// Temporary credentials are fetched again this long before they expire.
  std::chrono::seconds refresh_before{300};
  /// Deadline of one request to the ECS or instance metadata endpoint.
  std::chrono::milliseconds metadata_timeout{2000};
};

/// Parses an ISO 8601 UTC time (`2026-12-05T17:04:17Z`, fractional seconds
/// allowed) into Unix seconds.
std::optional<int64_t> parse_iso8601(std::string_view str);

/// Keys from `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and
/// `AWS_SESSION_TOKEN`; nullopt when no key id is set, an error when the
/// secret is missing.
caf::expected<std::optional<aws_credentials>>
from_environment(const env_lookup& env);

/// Keys of `profile` in the INI text of a shared credentials file
/// (`aws_access_key_id`, `aws_secret_access_key`, `aws_session_token`);
/// nullopt when the profile is absent, an error when it lacks a key.
caf::expected<std::optional<aws_credentials>>
from_shared_file_text(std::string_view text, const std::string& profile);

/// Keys from the JSON the ECS and instance metadata endpoints answer
/// (`AccessKeyId`, `SecretAccessKey`, `Token`, `Expiration`).
caf::expected<aws_credentials> from_metadata_json(std::string_view body,
                                                  std::string source);

/// The chain. Thread-safe: one instance serves every caller of a process;
/// a refresh blocks the callers that need it (up to the metadata timeout).
class credential_chain {
public:
  explicit credential_chain(chain_config cfg);

  /// Returns usable credentials at Unix time `now`: the cached ones, or,
  /// when none are cached or they expire within `refresh_before`, fresh
  /// ones from the first provider of the chain that is configured. A
  /// failed refresh keeps serving the old keys until they really expire.
  /// Errors (`errc::unauthorized`) say which providers were tried and what
  /// to set.
  caf::expected<aws_credentials> get(int64_t now);

  /// The cached credentials if they still hold at `now`, never fetching:
  /// for callers that must not block (the API's presigners, which run on
  /// the cooperative scheduler while a refresher calls `get` elsewhere).
  /// Without usable keys: the last fetch's error, or `errc::unauthorized`
  /// if none was tried yet.
  caf::expected<aws_credentials> peek(int64_t now) const;

  /// Times credentials were fetched (for tests and metrics).
  uint64_t fetches() const;

private:
  caf::expected<aws_credentials> resolve();
  caf::expected<aws_credentials> from_ecs(const std::string& uri);
  caf::expected<aws_credentials> from_imds(const std::string& endpoint);

  chain_config cfg_;
  mutable std::mutex mtx_;
  std::optional<aws_credentials> cached_;
  /// After a failure with nothing cached, the error is repeated for a few
  /// seconds rather than asking the endpoints again on every call.
  std::optional<caf::error> last_error_;
  int64_t last_error_at_ = 0;
  /// When a fetch was last tried (Unix seconds).
  int64_t attempted_at_ = 0;
  uint64_t fetches_ = 0;
};

} // namespace vf::adapters::aws
