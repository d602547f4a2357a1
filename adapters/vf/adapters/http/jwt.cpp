// vf/adapters/http/jwt.cpp

#include "vf/adapters/http/jwt.hpp"

#include <nlohmann/json.hpp>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "vf/adapters/http/json_views.hpp"
#include "vf/messages/errc.hpp"

#include <array>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <unordered_map>

namespace vf::adapters::http {

namespace {

using messages::errc;

constexpr size_t mac_size = 32;

// Bounds the verified-token cache; clearing it wholesale is cheaper than LRU
// bookkeeping and a miss only costs one HMAC.
constexpr size_t max_cached_tokens = 4096;

constexpr char b64url_alphabet[]
  = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void append_b64url(std::string& out, const unsigned char* data, size_t n) {
  out.reserve(out.size() + (n * 4 + 2) / 3);
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t v
      = (uint32_t{data[i]} << 16) | (uint32_t{data[i + 1]} << 8) | data[i + 2];
    out += b64url_alphabet[(v >> 18) & 63];
    out += b64url_alphabet[(v >> 12) & 63];
    out += b64url_alphabet[(v >> 6) & 63];
    out += b64url_alphabet[v & 63];
  }
  if (n - i == 1) {
    uint32_t v = uint32_t{data[i]} << 16;
    out += b64url_alphabet[(v >> 18) & 63];
    out += b64url_alphabet[(v >> 12) & 63];
  } else if (n - i == 2) {
    uint32_t v = (uint32_t{data[i]} << 16) | (uint32_t{data[i + 1]} << 8);
    out += b64url_alphabet[(v >> 18) & 63];
    out += b64url_alphabet[(v >> 12) & 63];
    out += b64url_alphabet[(v >> 6) & 63];
  }
}

constexpr std::array<int8_t, 256> make_b64url_table() {
  std::array<int8_t, 256> t{};
  for (auto& x : t)
    x = -1;
  for (int i = 0; i < 64; ++i)
    t[static_cast<unsigned char>(b64url_alphabet[i])] = static_cast<int8_t>(i);
  return t;
}

constexpr auto b64url_table = make_b64url_table();

// Strict RFC 7515 decoding: URL alphabet, no padding, no whitespace, and
// only the canonical spelling of the last character.
bool decode_b64url(std::string_view in, std::string& out) {
  if (in.size() % 4 == 1)
    return false;
  out.clear();
  out.reserve(in.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    auto v = b64url_table[static_cast<unsigned char>(c)];
    if (v < 0)
      return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  // The bits of the last character that fill no byte must be zero: else
  // several spellings decode to the same bytes, and a token would have
  // twins that compare unequal (caches, deny lists) yet verify.
  return bits == 0 || (acc & ((uint32_t{1} << bits) - 1)) == 0;
}

caf::error reject(std::string reason) {
  return messages::make_error(errc::unauthorized, std::move(reason));
}

// Reads a NumericDate claim; JWT allows non-integers, we truncate them.
bool get_seconds(const nlohmann::json& obj, const char* name, int64_t& out) {
  auto i = obj.find(name);
  if (i == obj.end())
    return false;
  if (i->is_number_integer()) {
    out = i->get<int64_t>();
    return true;
  }
  if (i->is_number_unsigned()) {
    auto v = i->get<uint64_t>();
    if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      return false;
    out = static_cast<int64_t>(v);
    return true;
  }
  if (i->is_number_float()) {
    auto v = i->get<double>();
    if (!std::isfinite(v) || v < -9.2e18 || v > 9.2e18)
      return false;
    out = static_cast<int64_t>(std::floor(v));
    return true;
  }
  return false;
}

} // namespace

struct jwt_codec::impl {
  EVP_MAC* mac = nullptr;
  EVP_MAC_CTX* ctx = nullptr;
  /// `base64url({"alg":"HS256","typ":"JWT"})`: the header we sign with; a
  /// token carrying exactly this header skips header parsing.
  std::string header_b64;
  std::unordered_map<std::string, jwt_claims> verified;
  std::string scratch;

  explicit impl(std::string_view secret) {
    mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    if (mac != nullptr)
      ctx = EVP_MAC_CTX_new(mac);
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_end(),
    };
    // A non-null pointer even for an empty secret: null means "keep the key".
    static const unsigned char empty_key = 0;
    auto key = secret.empty()
                 ? &empty_key
                 : reinterpret_cast<const unsigned char*>(secret.data());
    if (ctx == nullptr || EVP_MAC_init(ctx, key, secret.size(), params) != 1) {
      release();
      throw std::runtime_error("OpenSSL: cannot create an HMAC-SHA256 context");
    }
    static constexpr std::string_view header = R"({"alg":"HS256","typ":"JWT"})";
    append_b64url(header_b64,
                  reinterpret_cast<const unsigned char*>(header.data()),
                  header.size());
  }

  ~impl() {
    release();
  }

  void release() {
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    ctx = nullptr;
    mac = nullptr;
  }

  // Re-initializing with a null key reuses the precomputed key pads.
  bool compute(std::string_view data, unsigned char (&out)[mac_size]) {
    size_t n = 0;
    return EVP_MAC_init(ctx, nullptr, 0, nullptr) == 1
           && EVP_MAC_update(
                ctx, reinterpret_cast<const unsigned char*>(data.data()),
                data.size())
                == 1
           && EVP_MAC_final(ctx, out, &n, mac_size) == 1 && n == mac_size;
  }

  caf::error check_header(std::string_view b64) {
    if (b64 == header_b64)
      return caf::none;
    if (!decode_b64url(b64, scratch))
      return reject("malformed token: the header is not base64url");
    auto hdr = nlohmann::json::parse(scratch, nullptr, false);
    if (hdr.is_discarded() || !hdr.is_object())
      return reject("malformed token: the header is not a JSON object");
    auto alg = hdr.find("alg");
    if (alg == hdr.end() || !alg->is_string())
      return reject("malformed token: the header names no alg");
    auto& name = alg->get_ref<const std::string&>();
    if (name != "HS256")
      return reject("unsupported token alg '" + name
                    + "': only HS256 is accepted; log in again");
    if (hdr.contains("crit"))
      return reject("unsupported token: critical header extensions");
    return caf::none;
  }

  caf::expected<jwt_claims> parse_payload(std::string_view b64) {
    if (!decode_b64url(b64, scratch))
      return reject("malformed token: the payload is not base64url");
    auto body = nlohmann::json::parse(scratch, nullptr, false);
    if (body.is_discarded() || !body.is_object())
      return reject("malformed token: the payload is not a JSON object");
    jwt_claims result;
    auto sub = body.find("sub");
    if (sub == body.end() || !sub->is_string()
        || sub->get_ref<const std::string&>().empty())
      return reject("malformed token: missing sub claim");
    result.sub = sub->get<std::string>();
    if (!get_seconds(body, "exp", result.exp))
      return reject("malformed token: missing or non-numeric exp claim");
    if (body.contains("nbf") && !get_seconds(body, "nbf", result.nbf))
      return reject("malformed token: non-numeric nbf claim");
    if (body.contains("iat") && !get_seconds(body, "iat", result.iat))
      return reject("malformed token: non-numeric iat claim");
    if (auto gen = body.find("gen"); gen != body.end()) {
      if (!gen->is_string())
        return reject("malformed token: non-string gen claim");
      result.gen = gen->get<std::string>();
    }
    auto role = body.find("role");
    if (role == body.end())
      result.role = "user";
    else if (role->is_string())
      result.role = role->get<std::string>();
    else
      return reject("malformed token: non-string role claim");
    return result;
  }
};

jwt_codec::jwt_codec(std::string_view secret)
  : impl_(std::make_unique<impl>(secret)) {
  // nop
}

jwt_codec::jwt_codec(jwt_codec&&) noexcept = default;

jwt_codec& jwt_codec::operator=(jwt_codec&&) noexcept = default;

jwt_codec::~jwt_codec() = default;

std::string jwt_codec::sign(const jwt_claims& claims) {
  std::string payload;
  payload.reserve(112 + claims.sub.size() + claims.role.size()
                  + claims.gen.size());
  payload += R"({"sub":)";
  append_json_string(payload, claims.sub);
  payload += R"(,"role":)";
  append_json_string(payload, claims.role);
  payload += R"(,"iat":)";
  payload += std::to_string(claims.iat);
  payload += R"(,"exp":)";
  payload += std::to_string(claims.exp);
  if (claims.nbf != 0) {
    payload += R"(,"nbf":)";
    payload += std::to_string(claims.nbf);
  }
  if (!claims.gen.empty()) {
    payload += R"(,"gen":)";
    append_json_string(payload, claims.gen);
  }
  payload += '}';
  std::string token;
  token.reserve(impl_->header_b64.size() + payload.size() * 4 / 3 + 48);
  token += impl_->header_b64;
  token += '.';
  append_b64url(token, reinterpret_cast<const unsigned char*>(payload.data()),
                payload.size());
  unsigned char sig[mac_size];
  if (!impl_->compute(token, sig))
    throw std::runtime_error("OpenSSL: HMAC-SHA256 failed");
  token += '.';
  append_b64url(token, sig, mac_size);
  return token;
}

caf::expected<jwt_claims> jwt_codec::verify(std::string_view token,
                                            int64_t now) {
  auto check_time = [now](const jwt_claims& c) -> caf::error {
    if (c.exp <= now)
      return reject("token expired; log in again via POST /auth/login");
    if (c.nbf > now)
      return reject("token not valid yet (nbf is in the future)");
    return caf::none;
  };
  // Same bytes, same verdict: only the time checks depend on `now`.
  std::string key{token};
  if (auto i = impl_->verified.find(key); i != impl_->verified.end()) {
    if (auto err = check_time(i->second))
      return err;
    return i->second;
  }
  if (token.empty())
    return reject("malformed token: empty");
  auto dot1 = token.find('.');
  auto dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos
      || token.find('.', dot2 + 1) != std::string_view::npos)
    return reject("malformed token: expected 3 dot-separated parts");
  auto header = token.substr(0, dot1);
  auto payload = token.substr(dot1 + 1, dot2 - dot1 - 1);
  auto signature = token.substr(dot2 + 1);
  if (auto err = impl_->check_header(header))
    return err;
  std::string sig_bytes;
  if (!decode_b64url(signature, sig_bytes) || sig_bytes.size() != mac_size)
    return reject("invalid token signature");
  unsigned char expected[mac_size];
  if (!impl_->compute(token.substr(0, dot2), expected))
    return reject("token signature could not be checked");
  if (CRYPTO_memcmp(expected, sig_bytes.data(), mac_size) != 0)
    return reject("invalid token signature");
  auto claims = impl_->parse_payload(payload);
  if (!claims)
    return claims;
  if (auto err = check_time(*claims))
    return err;
  if (impl_->verified.size() >= max_cached_tokens)
    impl_->verified.clear();
  impl_->verified.emplace(std::move(key), *claims);
  return claims;
}

} // namespace vf::adapters::http
