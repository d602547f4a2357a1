#define CAF_SUITE adapters.jwt

#include "vf/adapters/http/jwt.hpp"

#include "vf_test.hpp"
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <string>
#include <vector>

using namespace vf::adapters::http;

namespace {

std::string b64url(std::string_view x) {
  static constexpr char alphabet[]
    = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  size_t i = 0;
  auto byte = [&](size_t k) {
    return static_cast<unsigned char>(x[k]);
  };
  for (; i + 3 <= x.size(); i += 3) {
    uint32_t v = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    for (int s = 18; s >= 0; s -= 6)
      out += alphabet[(v >> s) & 63];
  }
  if (x.size() - i == 1) {
    uint32_t v = byte(i) << 16;
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
  } else if (x.size() - i == 2) {
    uint32_t v = (byte(i) << 16) | (byte(i + 1) << 8);
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
  }
  return out;
}

// Builds a token by hand, HS256-signed with `secret` whatever the header
// says, so a rejection can only come from what the test changed.
std::string forge(std::string_view header, std::string_view payload,
                  std::string_view secret = "secret") {
  auto signing_input = b64url(header) + "." + b64url(payload);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(signing_input.data()),
       signing_input.size(), mac, &n);
  return signing_input + "." + b64url({reinterpret_cast<const char*>(mac), n});
}

constexpr std::string_view hs256 = R"({"alg":"HS256","typ":"JWT"})";
constexpr std::string_view good_payload
  = R"({"sub":"alice","role":"user","iat":1000,"exp":2000})";

// Returns the rejection message, or "accepted".
std::string verdict(jwt_codec& codec, std::string_view token,
                    int64_t now = 1500) {
  auto res = codec.verify(token, now);
  if (res)
    return "accepted";
  return vf::messages::message_of(res.error());
}

bool contains(const std::string& str, std::string_view what) {
  return str.find(what) != std::string::npos;
}

} // namespace

CAF_TEST(sign produces the RFC 7519 HS256 serialization) {
  jwt_codec codec{"secret"};
  jwt_claims claims{"alice", "user", 1000, 2000, 0};
  // Computed independently (Python hmac/hashlib).
  CAF_CHECK_EQUAL(codec.sign(claims),
                  "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
                  "eyJzdWIiOiJhbGljZSIsInJvbGUiOiJ1c2VyIiwiaWF0IjoxMDAwLCJleH"
                  "AiOjIwMDB9.7Bs1iygdQkwM70nSnMzrgNSEi_bt6frAKQ7X0okD7jo");
  // The keyed context is reused: a second signature must be identical.
  CAF_CHECK_EQUAL(codec.sign(claims), forge(hs256, good_payload));
}

CAF_TEST(round trip) {
  jwt_codec codec{"a-long-enough-secret-for-hs256-tokens"};
  jwt_claims claims{"bob \"the\" admin", "admin", 1000, 2000, 900};
  auto token = codec.sign(claims);
  for (int i = 0; i < 3; ++i) { // also through the verified-token cache
    auto res = codec.verify(token, 1500);
    CAF_REQUIRE(res);
    CAF_CHECK_EQUAL(res->sub, claims.sub);
    CAF_CHECK_EQUAL(res->role, "admin");
    CAF_CHECK_EQUAL(res->iat, 1000);
    CAF_CHECK_EQUAL(res->exp, 2000);
    CAF_CHECK_EQUAL(res->nbf, 900);
  }
  // A token verified before still expires.
  CAF_CHECK(contains(verdict(codec, token, 2000), "expired"));
}

CAF_TEST(expired tokens are rejected) {
  jwt_codec codec{"secret"};
  auto token = codec.sign({"alice", "user", 1000, 2000, 0});
  CAF_CHECK_EQUAL(verdict(codec, token, 1999), "accepted");
  CAF_CHECK(contains(verdict(codec, token, 2000), "expired"));
  CAF_CHECK(contains(verdict(codec, token, 5000), "expired"));
}

CAF_TEST(nbf in the future is rejected) {
  jwt_codec codec{"secret"};
  auto token = codec.sign({"alice", "user", 1000, 2000, 1600});
  CAF_CHECK(contains(verdict(codec, token, 1500), "not valid yet"));
  CAF_CHECK_EQUAL(verdict(codec, token, 1600), "accepted");
}

CAF_TEST(tokens of another key are rejected) {
  jwt_codec ours{"secret"};
  jwt_codec theirs{"other-secret"};
  auto token = theirs.sign({"alice", "admin", 1000, 2000, 0});
  CAF_CHECK(contains(verdict(ours, token), "signature"));
  // Tampering with the payload of our own token breaks the signature.
  auto good = ours.sign({"alice", "user", 1000, 2000, 0});
  auto dot1 = good.find('.');
  auto dot2 = good.find('.', dot1 + 1);
  auto tampered = good.substr(0, dot1 + 1)
                  + b64url(R"({"sub":"alice","role":"admin","exp":2000})")
                  + good.substr(dot2);
  CAF_CHECK(contains(verdict(ours, tampered), "signature"));
}

CAF_TEST(alg none and other algorithms are rejected) {
  jwt_codec codec{"secret"};
  auto none = b64url(R"({"alg":"none","typ":"JWT"})") + "."
              + b64url(good_payload) + ".";
  CAF_CHECK(contains(verdict(codec, none), "alg 'none'"));
  for (auto alg : {"HS512", "RS256", "hs256", "HS384", "ES256"}) {
    auto header = std::string{R"({"alg":")"} + alg + R"(","typ":"JWT"})";
    auto v = verdict(codec, forge(header, good_payload));
    CAF_CHECK(contains(v, "only HS256"));
  }
  CAF_CHECK(contains(verdict(codec, forge(R"({"typ":"JWT"})", good_payload)),
                     "no alg"));
}

CAF_TEST(malformed tokens are rejected with a reason) {
  jwt_codec codec{"secret"};
  struct row {
    std::string token;
    std::string_view reason;
  };
  std::vector<row> table{
    {"", "empty"},
    {"abc", "3 dot-separated parts"},
    {"abc.def", "3 dot-separated parts"},
    {"a.b.c.d", "3 dot-separated parts"},
    {"!!!." + b64url(good_payload) + ".sig", "header is not base64url"},
    {b64url(hs256) + ".a*b.c", "signature"},
    {b64url("{not json") + "." + b64url(good_payload) + ".x",
     "header is not a JSON object"},
    {b64url("[1,2]") + "." + b64url(good_payload) + ".x",
     "header is not a JSON object"},
    {forge(hs256, "{not json"), "payload is not a JSON object"},
    {forge(hs256, R"({"sub":"alice","iat":1000})"),
     "missing or non-numeric exp"},
    {forge(hs256, R"({"sub":"alice","exp":"2000"})"), "non-numeric exp"},
    {forge(hs256, R"({"exp":2000})"), "missing sub"},
    {forge(hs256, R"({"sub":"","exp":2000})"), "missing sub"},
    {forge(hs256, R"({"sub":"alice","exp":2000,"nbf":"x"})"), "nbf"},
    {b64url(hs256) + "." + b64url(good_payload) + ".", "signature"},
    {b64url(hs256) + "." + b64url(good_payload) + ".AAAA", "signature"},
    {b64url(hs256) + "=." + b64url(good_payload) + ".x", "base64url"},
  };
  for (auto& r : table) {
    auto v = verdict(codec, r.token);
    CAF_MESSAGE("token '" << r.token << "' -> " << v);
    CAF_CHECK(contains(v, r.reason));
  }
  // A non-integer exp is allowed by RFC 7519 (NumericDate).
  CAF_CHECK_EQUAL(
    verdict(codec, forge(hs256, R"({"sub":"alice","exp":2000.5})")),
    "accepted");
}

CAF_TEST(rejections carry errc unauthorized) {
  jwt_codec codec{"secret"};
  auto res = codec.verify("x.y", 0);
  CAF_REQUIRE(!res);
  CAF_CHECK(vf::messages::errc_of(res.error())
            == vf::messages::errc::unauthorized);
}

CAF_TEST(right key with another HMAC is still rejected) {
  // Alg confusion: an HS512 token made with our own secret. Only the header
  // check stands between it and acceptance, so it must run first.
  jwt_codec codec{"secret"};
  std::string_view secret = "secret";
  auto signing_input = b64url(R"({"alg":"HS512","typ":"JWT"})") + "."
                       + b64url(good_payload);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  HMAC(EVP_sha512(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(signing_input.data()),
       signing_input.size(), mac, &n);
  auto token
    = signing_input + "." + b64url({reinterpret_cast<const char*>(mac), n});
  CAF_CHECK(contains(verdict(codec, token), "only HS256"));
}

CAF_TEST(hostile token bytes are rejected without harm) {
  jwt_codec codec{"secret"};
  auto good = forge(hs256, good_payload);
  CAF_REQUIRE_EQUAL(verdict(codec, good), "accepted");
  std::vector<std::string> table{
    std::string{"\0\0\0", 3},
    good + std::string{"\0", 1},
    std::string{"\0", 1} + good,
    " " + good,
    good + "\n",
    good.substr(0, good.size() - 1),
    std::string(16 * 1024, 'A') + "." + std::string(16 * 1024, 'B') + ".C",
    "..",
    "...",
    forge(R"({"alg":["HS256"]})", good_payload),
    forge(R"({"alg":null})", good_payload),
    forge(R"({"alg":"HS256","crit":["exp"]})", good_payload),
    forge(hs256, R"({"sub":"alice","exp":1e400})"),
    forge(hs256, R"({"sub":"alice","exp":-1e300})"),
    forge(hs256, R"({"sub":"alice","exp":18446744073709551615})"),
    forge(hs256, R"({"sub":["alice"],"exp":2000})"),
    forge(hs256, R"({"sub":"alice","exp":2000,"role":{"admin":true}})"),
    forge(hs256, "\xff\xfe"),
  };
  for (auto& token : table) {
    auto v = verdict(codec, token);
    CAF_CHECK_NOT_EQUAL(v, "accepted");
  }
  // The rejections left the codec intact.
  CAF_CHECK_EQUAL(verdict(codec, good), "accepted");
}

namespace {

// Returns `token` with the last character of part `index` (0: header,
// 1: payload, 2: signature) replaced by its non-canonical twin: same bytes
// when decoded leniently, a set bit among the unused low ones.
std::string twin(std::string token, int index) {
  static constexpr std::string_view alphabet
    = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  size_t end = 0;
  for (int i = 0; i <= index; ++i)
    end = token.find('.', i == 0 ? 0 : end + 1);
  if (end == std::string::npos)
    end = token.size();
  auto start = index == 0 ? 0 : token.rfind('.', end - 1) + 1;
  auto len = end - start;
  CAF_REQUIRE(len % 4 == 2 || len % 4 == 3);
  auto& c = token[end - 1];
  auto v = alphabet.find(c);
  CAF_REQUIRE(v != std::string_view::npos);
  CAF_REQUIRE_EQUAL(v & (len % 4 == 2 ? 15u : 3u), 0u); // canonical now
  c = alphabet[v | 1];
  return token;
}

} // namespace

CAF_TEST(non canonical base64url is rejected) {
  jwt_codec codec{"secret"};
  // Signature: 32 bytes, 43 characters, 2 unused bits.
  auto token = codec.sign({"alice", "user", 1000, 2000, 0});
  CAF_REQUIRE_EQUAL(verdict(codec, token), "accepted");
  CAF_CHECK(contains(verdict(codec, twin(token, 2)), "signature"));
  // Header and payload twins, correctly signed over the twin bytes.
  auto payload = std::string{R"({"sub":"alice","role":"user","iat":1000,"exp":2000,"x":1})"};
  while (b64url(payload).size() % 4 < 2)
    payload.insert(payload.size() - 1, " ");
  auto odd = forge(R"({"alg":"HS256", "typ":"JWT"})", payload);
  // forge() signs what it encodes; re-sign the twin the same way.
  auto resign = [](std::string t) {
    auto dot2 = t.rfind('.');
    auto input = t.substr(0, dot2);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    HMAC(EVP_sha256(), "secret", 6,
         reinterpret_cast<const unsigned char*>(input.data()), input.size(),
         mac, &n);
    return input + "." + b64url({reinterpret_cast<const char*>(mac), n});
  };
  CAF_REQUIRE_EQUAL(verdict(codec, odd), "accepted");
  CAF_CHECK(contains(verdict(codec, resign(twin(odd, 1))), "payload"));
  CAF_CHECK(contains(verdict(codec, resign(twin(odd, 0))), "header"));
  // Padding and the standard alphabet stay refused.
  CAF_CHECK(!codec.verify(token + "=", 1500));
  auto plus = token;
  std::replace(plus.begin(), plus.end(), '-', '+');
  std::replace(plus.begin(), plus.end(), '_', '/');
  if (plus != token)
    CAF_CHECK(!codec.verify(plus, 1500));
}

CAF_TEST(the gen claim round trips) {
  jwt_codec codec{"secret"};
  jwt_claims claims{"alice", "user", 1000, 2000, 0};
  claims.gen = "00ff";
  auto res = codec.verify(codec.sign(claims), 1500);
  CAF_REQUIRE(res);
  CAF_CHECK_EQUAL(res->gen, "00ff");
  // Absent: empty; not a string: refused.
  res = codec.verify(codec.sign({"alice", "user", 1000, 2000, 0}), 1500);
  CAF_REQUIRE(res);
  CAF_CHECK_EQUAL(res->gen, "");
  CAF_CHECK(contains(
    verdict(codec,
            forge(hs256, R"({"sub":"a","iat":1000,"exp":2000,"gen":5})")),
    "gen"));
}
