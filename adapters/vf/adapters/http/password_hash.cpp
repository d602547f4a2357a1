// vf/adapters/http/password_hash.cpp

#include "vf/adapters/http/password_hash.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <cstdlib>
#include <stdexcept>
#include <vector>

namespace vf::adapters::http {

namespace {

constexpr std::string_view prefix = "$scrypt$";
constexpr size_t salt_size = 16;
constexpr size_t hash_size = 32;

// Bounds on what a stored hash may ask for: a crafted or corrupt users file
// must not make one login allocate gigabytes or spin for minutes.
constexpr uint64_t min_n = uint64_t{1} << 10;
constexpr uint64_t max_n = uint64_t{1} << 20;
constexpr uint32_t max_r = 16;
constexpr uint32_t max_p = 4;

uint64_t max_mem(const kdf_params& k) {
  return 128 * uint64_t{k.r} * (k.n + 2) + 128 * uint64_t{k.r} * k.p
         + (uint64_t{1} << 20);
}

bool in_bounds(const kdf_params& k) {
  return k.n >= min_n && k.n <= max_n && (k.n & (k.n - 1)) == 0 && k.r >= 1
         && k.r <= max_r && k.p >= 1 && k.p <= max_p;
}

std::string encode_b64(const unsigned char* data, size_t n) {
  std::string out(4 * ((n + 2) / 3) + 1, '\0');
  auto len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                             data, static_cast<int>(n));
  out.resize(static_cast<size_t>(len));
  return out;
}

// Standard base64 with padding, exactly `want` bytes, canonical only.
bool decode_b64(std::string_view in, size_t want, unsigned char* out) {
  if (in.size() != 4 * ((want + 2) / 3))
    return false;
  std::vector<unsigned char> buf(in.size());
  auto len = EVP_DecodeBlock(buf.data(),
                             reinterpret_cast<const unsigned char*>(in.data()),
                             static_cast<int>(in.size()));
  if (len < 0 || static_cast<size_t>(len) < want)
    return false;
  std::copy(buf.begin(), buf.begin() + static_cast<ptrdiff_t>(want), out);
  // EVP_DecodeBlock ignores what the padding hides; demand one spelling.
  return encode_b64(out, want) == in;
}

bool parse_uint(std::string_view text, uint64_t& out) {
  if (text.empty() || text.size() > 10)
    return false;
  out = 0;
  for (char c : text) {
    if (c < '0' || c > '9')
      return false;
    out = out * 10 + static_cast<uint64_t>(c - '0');
  }
  return true;
}

struct parsed_hash {
  kdf_params params;
  std::array<unsigned char, salt_size> salt{};
  std::array<unsigned char, hash_size> hash{};
};

bool parse(std::string_view encoded, parsed_hash& out) {
  if (encoded.substr(0, prefix.size()) != prefix)
    return false;
  encoded.remove_prefix(prefix.size());
  auto d1 = encoded.find('$');
  if (d1 == std::string_view::npos)
    return false;
  auto d2 = encoded.find('$', d1 + 1);
  if (d2 == std::string_view::npos
      || encoded.find('$', d2 + 1) != std::string_view::npos)
    return false;
  // Parameters: exactly N=...,r=...,p=... in this order.
  auto params = encoded.substr(0, d1);
  uint64_t vals[3];
  constexpr std::string_view names[3] = {"N=", "r=", "p="};
  for (size_t i = 0; i < 3; ++i) {
    if (params.substr(0, 2) != names[i])
      return false;
    params.remove_prefix(2);
    auto comma = params.find(',');
    if ((comma == std::string_view::npos) != (i == 2))
      return false;
    if (!parse_uint(params.substr(0, comma), vals[i]))
      return false;
    params = i == 2 ? std::string_view{} : params.substr(comma + 1);
  }
  if (vals[1] > max_r || vals[2] > max_p)
    return false;
  out.params = {vals[0], static_cast<uint32_t>(vals[1]),
                static_cast<uint32_t>(vals[2])};
  return in_bounds(out.params)
         && decode_b64(encoded.substr(d1 + 1, d2 - d1 - 1), salt_size,
                       out.salt.data())
         && decode_b64(encoded.substr(d2 + 1), hash_size, out.hash.data());
}

bool derive(std::string_view password, const kdf_params& k,
            const unsigned char* salt, unsigned char* out) {
  return EVP_PBE_scrypt(password.data(), password.size(), salt, salt_size,
                        k.n, k.r, k.p, max_mem(k), out, hash_size)
         == 1;
}

} // namespace

std::string hash_password(std::string_view password,
                          const kdf_params& params) {
  if (!in_bounds(params))
    throw std::invalid_argument("scrypt parameters out of bounds");
  std::array<unsigned char, salt_size> salt{};
  if (RAND_bytes(salt.data(), static_cast<int>(salt.size())) != 1)
    throw std::runtime_error("OpenSSL: RAND_bytes failed");
  std::array<unsigned char, hash_size> hash{};
  if (!derive(password, params, salt.data(), hash.data()))
    throw std::runtime_error("OpenSSL: EVP_PBE_scrypt failed");
  std::string out{prefix};
  out += "N=" + std::to_string(params.n) + ",r=" + std::to_string(params.r)
         + ",p=" + std::to_string(params.p) + "$";
  out += encode_b64(salt.data(), salt.size());
  out += '$';
  out += encode_b64(hash.data(), hash.size());
  OPENSSL_cleanse(hash.data(), hash.size());
  return out;
}

bool is_password_hash(std::string_view encoded) {
  parsed_hash tmp;
  return parse(encoded, tmp);
}

bool verify_password(std::string_view password, std::string_view encoded) {
  parsed_hash h;
  if (!parse(encoded, h))
    return false;
  std::array<unsigned char, hash_size> got{};
  if (!derive(password, h.params, h.salt.data(), got.data()))
    return false;
  auto ok = CRYPTO_memcmp(got.data(), h.hash.data(), hash_size) == 0;
  OPENSSL_cleanse(got.data(), got.size());
  return ok;
}

const std::string& dummy_password_hash() {
  static const std::string result = [] {
    std::array<unsigned char, 32> pw{};
    if (RAND_bytes(pw.data(), static_cast<int>(pw.size())) != 1)
      throw std::runtime_error("OpenSSL: RAND_bytes failed");
    return hash_password(
      std::string_view{reinterpret_cast<const char*>(pw.data()), pw.size()});
  }();
  return result;
}

} // namespace vf::adapters::http
