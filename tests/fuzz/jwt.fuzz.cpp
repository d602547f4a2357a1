// tests/fuzz/jwt.fuzz.cpp
//
// libFuzzer target: bearer-token verification. Every protected route runs
// jwt_codec::verify on a header value the client chose, before knowing who
// the client is, so any bytes must be refused cleanly.
//
// A random token never carries a valid signature, which would leave the
// claim parsing unexplored; so each input is used twice:
//  1. as the token itself (base64url, dots, signature checks);
//  2. as `header JSON \n payload JSON` (or just the payload JSON, with the
//     usual header, when there is no newline), encoded and signed with the
//     fuzzer's key, so verify reaches the header and claim checks.
// A token that verifies must honor the time rules and survive a sign/verify
// round trip with the same claims.

#include "fuzz_check.hpp"

#include "vf/adapters/http/jwt.hpp"

#include <openssl/hmac.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

namespace vh = vf::adapters::http;

constexpr std::string_view secret = "vidflow-fuzz-secret-0123456789abcdef";

// 2026-11-21T13:00:00Z; the seeds are valid around then.
constexpr int64_t fuzz_now = 1795266000;

std::string b64url(std::string_view in) {
  static constexpr char alphabet[]
    = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : in) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += alphabet[(acc >> bits) & 63];
    }
  }
  if (bits > 0)
    out += alphabet[(acc << (6 - bits)) & 63];
  return out;
}

std::string sign_parts(std::string_view header_json,
                       std::string_view payload_json) {
  auto token = b64url(header_json) + '.' + b64url(payload_json);
  unsigned char mac[32];
  unsigned len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(token.data()), token.size(), mac,
       &len);
  VF_FUZZ_CHECK(len == sizeof(mac));
  return token + '.'
         + b64url({reinterpret_cast<const char*>(mac), sizeof(mac)});
}

void check(vh::jwt_codec& codec, const caf::expected<vh::jwt_claims>& res) {
  if (!res)
    return;
  VF_FUZZ_CHECK(!res->sub.empty());
  VF_FUZZ_CHECK(res->exp > fuzz_now);
  VF_FUZZ_CHECK(res->nbf <= fuzz_now);
  auto again = codec.verify(codec.sign(*res), fuzz_now);
  VF_FUZZ_CHECK(static_cast<bool>(again));
  VF_FUZZ_CHECK(again->sub == res->sub && again->role == res->role
                && again->iat == res->iat && again->exp == res->exp
                && again->nbf == res->nbf);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // One codec for the whole run, as one I/O thread keeps one: its cache of
  // verified tokens is part of what is under test.
  static vh::jwt_codec codec{secret};
  std::string_view text{reinterpret_cast<const char*>(data), size};
  check(codec, codec.verify(text, fuzz_now));
  std::string token;
  if (auto nl = text.find('\n'); nl != std::string_view::npos)
    token = sign_parts(text.substr(0, nl), text.substr(nl + 1));
  else
    token = sign_parts(R"({"alg":"HS256","typ":"JWT"})", text);
  check(codec, codec.verify(token, fuzz_now));
  return 0;
}
