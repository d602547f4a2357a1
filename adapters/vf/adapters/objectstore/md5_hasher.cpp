// vf/adapters/objectstore/md5_hasher.cpp

#include "vf/adapters/objectstore/md5_hasher.hpp"

#include <openssl/evp.h>

#include "vf/adapters/common/hex.hpp"

#include <new>

namespace vf::adapters::objectstore {

namespace {

EVP_MD_CTX* as_ctx(void* ptr) {
  return static_cast<EVP_MD_CTX*>(ptr);
}

using common::to_hex;

} // namespace

digest_hasher::digest_hasher(algorithm a) : ctx_(EVP_MD_CTX_new()) {
  // Only allocation can fail here; a process without MD5 (FIPS-only
  // OpenSSL) cannot produce S3 ETags at all.
  auto md = a == algorithm::md5 ? EVP_md5() : EVP_sha256();
  if (ctx_ == nullptr || EVP_DigestInit_ex(as_ctx(ctx_), md, nullptr) != 1)
    throw std::bad_alloc{};
}

digest_hasher::~digest_hasher() {
  EVP_MD_CTX_free(as_ctx(ctx_));
}

void digest_hasher::update(const void* data, size_t size) {
  if (digest_.empty() && size > 0)
    EVP_DigestUpdate(as_ctx(ctx_), data, size);
}

const std::string& digest_hasher::hex_digest() {
  if (digest_.empty()) {
    unsigned char buf[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(as_ctx(ctx_), buf, &len);
    digest_ = to_hex(buf, len);
  }
  return digest_;
}

std::string md5_hex(std::string_view data) {
  md5_hasher hasher;
  hasher.update(data.data(), data.size());
  return hasher.hex_digest();
}

std::optional<std::string> content_md5_to_hex(std::string_view header) {
  // 16 bytes encode to 24 base64 characters ending in "==".
  if (header.size() != 24)
    return std::nullopt;
  unsigned char out[18];
  auto n = EVP_DecodeBlock(
    out, reinterpret_cast<const unsigned char*>(header.data()),
    static_cast<int>(header.size()));
  // EVP_DecodeBlock ignores padding in its count: 24 chars always yield 18.
  if (n != 18 || header[22] != '=' || header[23] != '=')
    return std::nullopt;
  return to_hex(out, 16);
}

} // namespace vf::adapters::objectstore
