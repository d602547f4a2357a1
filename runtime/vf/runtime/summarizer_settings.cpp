// vf/runtime/summarizer_settings.cpp

#include "vf/runtime/summarizer_settings.hpp"

#include "vf/messages/errc.hpp"

#include <cctype>
#include <cstdlib>

namespace vf::runtime {

using messages::errc;
using messages::make_error;

const std::vector<setting_spec>& summarizer_specs() {
  static const std::vector<setting_spec> specs{
    {"summarizer.kind", "--summarizer", "mock",
     "who writes summaries: mock (a fixed sentence from the metadata, free) "
     "or bedrock (Amazon Bedrock InvokeModel; credentials from the AWS "
     "chain: environment, shared file, ECS, EC2 instance role)"},
    {"bedrock.model_id", "--bedrock-model-id",
     "anthropic.claude-3-haiku-20240307-v1:0",
     "Bedrock model or inference profile: an Anthropic Claude model "
     "(anthropic.…, us.anthropic.…) or an Amazon Titan text model "
     "(amazon.titan-text-…)"},
    {"bedrock.region", "--bedrock-region", "",
     "AWS region of Bedrock (empty: AWS_REGION, AWS_DEFAULT_REGION, "
     "us-east-1)"},
    {"bedrock.endpoint", "--bedrock-endpoint", "",
     "bedrock-runtime endpoint URL (empty: "
     "https://bedrock-runtime.REGION.amazonaws.com; set for a VPC endpoint "
     "or a test double)"},
    {"bedrock.max_tokens", "--bedrock-max-tokens", "300",
     "longest summary the model may write, in tokens"},
    {"bedrock.timeout_ms", "--bedrock-timeout-ms", "30000",
     "deadline of one summary, retries included (keep it below "
     "workers.task_timeout_ms)"},
    {"bedrock.retries", "--bedrock-retries", "4",
     "attempts after the first when Bedrock throttles (429) or fails (5xx)"},
    {"bedrock.concurrency", "--bedrock-concurrency", "4",
     "Bedrock calls in flight at once per node"},
    {"aws.profile", "--aws-profile", "",
     "profile of the shared credentials file (empty: AWS_PROFILE, else "
     "default)"},
  };
  return specs;
}

namespace {

bool region_ok(const std::string& r) {
  if (r.empty() || r.size() > 32)
    return false;
  for (auto c : r)
    if (!std::islower(static_cast<unsigned char>(c))
        && !std::isdigit(static_cast<unsigned char>(c)) && c != '-')
      return false;
  return true;
}

} // namespace

caf::expected<summarizer_settings> summarizer_settings_of(const settings& xs) {
  auto bad = [&](const std::string& key, const std::string& why) {
    return make_error(errc::invalid_argument,
                      "setting " + key + " (" + xs.origin(key) + ") " + why);
  };
  summarizer_settings out;
  auto kind = xs.str("summarizer.kind");
  if (kind == "bedrock")
    out.bedrock = true;
  else if (kind != "mock")
    return bad("summarizer.kind", "is '" + kind + "': want mock or bedrock");
  auto& b = out.bedrock_cfg;
  b.model_id = xs.str("bedrock.model_id");
  if (auto fam = adapters::aws::family_of(b.model_id); !fam)
    return bad("bedrock.model_id", messages::message_of(fam.error()));
  b.region = xs.str("bedrock.region");
  if (b.region.empty())
    for (auto var : {"AWS_REGION", "AWS_DEFAULT_REGION"})
      if (auto* v = std::getenv(var); v != nullptr && *v != '\0') {
        b.region = v;
        break;
      }
  if (b.region.empty())
    b.region = "us-east-1";
  if (!region_ok(b.region))
    return bad("bedrock.region", "'" + b.region
                                   + "' is not a region name (e.g. "
                                     "us-east-1)");
  b.endpoint = xs.str("bedrock.endpoint");
  if (!b.endpoint.empty() && !adapters::sigv4::parse_endpoint(b.endpoint))
    return bad("bedrock.endpoint",
               "'" + b.endpoint + "' is not http(s)://host[:port]");
#define VF_UINT(var, key, lo, hi)                                              \
  auto var = xs.uint(key, lo, hi);                                             \
  if (!var)                                                                    \
    return std::move(var.error());
  VF_UINT(tokens, "bedrock.max_tokens", 1, 100000)
  VF_UINT(timeout, "bedrock.timeout_ms", 100, 3600000)
  VF_UINT(retries, "bedrock.retries", 0, 20)
  VF_UINT(conc, "bedrock.concurrency", 1, 256)
#undef VF_UINT
  b.max_tokens = static_cast<uint32_t>(*tokens);
  b.timeout = std::chrono::milliseconds{*timeout};
  b.retries = static_cast<uint32_t>(*retries);
  b.concurrency = static_cast<uint32_t>(*conc);
  out.profile = xs.str("aws.profile");
  return out;
}

} // namespace vf::runtime
