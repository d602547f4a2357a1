// vf/adapters/aws/bedrock.hpp
//
// The Bedrock summarizer: `InvokeModel` on `bedrock-runtime`, SigV4-signed
// with credentials from the standard chain, the Anthropic messages body or
// the Amazon Titan text body by model family, retries with jittered
// backoff on throttling and 5xx within one deadline. Behind the same
// `summarizer_actor` port as the mock: `summarizer.kind` picks one.

#pragma once

#include <nlohmann/json.hpp>

#include "caf/actor_system.hpp"
#include "caf/expected.hpp"

#include "vf/adapters/aws/credentials.hpp"
#include "vf/adapters/aws/http_call.hpp"
#include "vf/messages/summarizer_actor.hpp"

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace vf::adapters::aws {

/// The request and response shape a model speaks.
enum class model_family { anthropic, titan };

/// The family of a Bedrock model id or inference profile
/// (`anthropic.claude-3-haiku-20240307-v1:0`, `us.anthropic.…`,
/// `amazon.titan-text-express-v1`); `errc::invalid_argument` for others.
caf::expected<model_family> family_of(std::string_view model_id);

/// Settings of the summarizer.
struct bedrock_config {
  std::string model_id = "anthropic.claude-3-haiku-20240307-v1:0";
  std::string region = "us-east-1";
  /// Empty: `https://bedrock-runtime.<region>.amazonaws.com`.
  std::string endpoint;
  uint32_t max_tokens = 300;
  /// Deadline of one summary, retries included.
  std::chrono::milliseconds timeout{30000};
  /// Attempts after the first on throttling, 5xx and transport failures.
  uint32_t retries = 4;
  /// First backoff and its cap (full jitter: a random wait up to
  /// min(cap, base * 2^attempt)).
  std::chrono::milliseconds backoff_base{250};
  std::chrono::milliseconds backoff_max{4000};
  /// Calls in flight at once (detached actors).
  uint32_t concurrency = 4;
  /// Where keys come from; shared by every call.
  std::shared_ptr<credential_chain> creds;
  /// Set when the summarizer stops: calls in retries give up (set by
  /// `spawn_bedrock_summarizer`).
  std::shared_ptr<std::atomic<bool>> stop;
};

/// The endpoint URL `cfg` talks to.
std::string endpoint_of(const bedrock_config& cfg);

/// The prompt for a clip: the probed facts (container, duration, size,
/// streams with codec, size, rate, channels), given to the model as data in
/// a JSON block it is told not to follow instructions from. Never throws.
std::string summary_prompt(const std::string& filename,
                           const nlohmann::json& metadata);

/// The `InvokeModel` body for `family`.
std::string request_body(model_family family, const std::string& prompt,
                         uint32_t max_tokens);

/// The summary in an `InvokeModel` answer: the text of the first `text`
/// block (Anthropic) or result (Titan), control characters dropped,
/// trimmed, at most 4000 bytes (cut at a UTF-8 boundary).
/// `errc::provider_error` when it is missing or empty.
caf::expected<std::string> parse_answer(model_family family,
                                        std::string_view body);

/// What one summary took (for logs and tests).
struct invoke_stats {
  uint32_t attempts = 0;
  uint32_t throttled = 0;
};

/// Sleeps between attempts; replaced in tests.
using sleeper = std::function<void(std::chrono::milliseconds)>;

/// Summarizes one clip, blocking: builds the prompt, signs and sends
/// `InvokeModel`, retries 429/`ThrottlingException`, 5xx and transport
/// failures with backoff until `retries` or the deadline. Errors:
/// `errc::throttled` (still throttled at the end), `errc::timeout` (no
/// answer in time), `errc::provider_error` (any other refusal, a malformed
/// answer, no credentials), `errc::invalid_argument` (metadata not JSON).
caf::expected<std::string> summarize(const bedrock_config& cfg,
                                     const std::string& filename,
                                     const std::string& metadata_json,
                                     invoke_stats* stats = nullptr,
                                     const sleeper& sleep = {});

/// Spawns the summarizer: a front actor spreading requests over
/// `cfg.concurrency` detached actors that call `summarize`.
vf::messages::summarizer_actor spawn_bedrock_summarizer(caf::actor_system& sys,
                                                        bedrock_config cfg);

} // namespace vf::adapters::aws
