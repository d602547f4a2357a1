// tests/fuzz/sigv4_presigned.fuzz.cpp
//
// libFuzzer target: request verification. The built-in object store runs
// verify_presigned (or verify_header_signed, for an Authorization header)
// on every request a client sends, before anything else looked at it, so
// any request head must be refused cleanly.
//
// Input: an HTTP request head without the version, as the seeds in
// corpus/sigv4_presigned show it:
//
//   GET /bucket/key?X-Amz-Algorithm=...&X-Amz-Signature=...
//   host: 127.0.0.1:9000
//   content-type: video/mp4
//
// The first line is `method target` (split at the first space); each further
// line is `name:value` (split at the first colon, value untrimmed). The time
// and keys are fixed; the seeds are signed for them, so mutations reach the
// canonical request and the signature comparison. The raw bytes also go
// through uri_decode, parse_amz_date and parse_endpoint, the helpers that
// read untrusted text.

#include "fuzz_check.hpp"

#include "vf/adapters/sigv4/sigv4.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace {

namespace sv = vf::adapters::sigv4;

// 2013-05-24T00:01:00Z: a minute after the AWS documentation's example
// (and the vidflow seeds) were signed.
constexpr int64_t fuzz_now = 1369353660;

std::optional<std::string> lookup(std::string_view access_key) {
  if (access_key == "AKIAIOSFODNN7EXAMPLE")
    return "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
  if (access_key == "vidflow")
    return "vidflow-fuzz-secret-0123456789abcdef";
  return std::nullopt;
}

sv::incoming parse_head(std::string_view text) {
  sv::incoming req;
  auto eol = text.find('\n');
  auto line = text.substr(0, eol);
  auto sp = line.find(' ');
  req.method = std::string{line.substr(0, sp)};
  if (sp != std::string_view::npos)
    req.target = std::string{line.substr(sp + 1)};
  while (eol != std::string_view::npos) {
    text.remove_prefix(eol + 1);
    eol = text.find('\n');
    line = text.substr(0, eol);
    auto colon = line.find(':');
    if (colon == std::string_view::npos)
      req.headers.emplace_back(std::string{line}, std::string{});
    else
      req.headers.emplace_back(std::string{line.substr(0, colon)},
                               std::string{line.substr(colon + 1)});
  }
  return req;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text{reinterpret_cast<const char*>(data), size};
  // Helpers over untrusted text.
  for (bool plus_is_space : {false, true}) {
    if (auto decoded = sv::uri_decode(text, plus_is_space))
      VF_FUZZ_CHECK(decoded->size() <= text.size());
  }
  for (bool encode_slash : {false, true}) {
    auto decoded = sv::uri_decode(sv::uri_encode(text, encode_slash));
    VF_FUZZ_CHECK(decoded && *decoded == text);
  }
  if (auto secs = sv::parse_amz_date(text))
    VF_FUZZ_CHECK(sv::format_amz_date(*secs) == text);
  if (auto ep = sv::parse_endpoint(text))
    static_cast<void>(sv::object_path(*ep, "bucket", "a/b c"));
  // The verifier itself.
  auto req = parse_head(text);
  auto res = sv::verify_presigned(req, lookup, "us-east-1", fuzz_now);
  VF_FUZZ_CHECK(sv::to_string(res) != std::string_view{"unknown"});
  // The same head as a header-signed request (the store runs this one when
  // there is an Authorization header and no X-Amz-Signature).
  std::string payload;
  auto hres
    = sv::verify_header_signed(req, lookup, "us-east-1", fuzz_now, &payload);
  VF_FUZZ_CHECK(sv::to_string(hres) != std::string_view{"unknown"});
  VF_FUZZ_CHECK(hres != sv::verify_error::ok || !payload.empty());
  return 0;
}
