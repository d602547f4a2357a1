// vf/adapters/objectstore/md5_hasher.hpp
//
// S3 reports a single-PUT object's ETag as the MD5 of its bytes; the store
// computes it while the body streams to disk, never over the whole object.

#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace vf::adapters::objectstore {

/// Incremental digest (OpenSSL EVP), fed chunk by chunk.
class digest_hasher {
public:
  enum class algorithm { md5, sha256 };

  /// Starts an empty digest.
  explicit digest_hasher(algorithm a);

  digest_hasher(const digest_hasher&) = delete;
  digest_hasher& operator=(const digest_hasher&) = delete;

  ~digest_hasher();

  /// Adds `size` bytes at `data` to the digest.
  void update(const void* data, size_t size);

  /// Finishes the digest and returns it in lower-case hex (32 characters
  /// for MD5, 64 for SHA-256).
  /// Later calls return the same value; `update` after it is ignored.
  const std::string& hex_digest();

private:
  /// The `EVP_MD_CTX` (kept opaque so OpenSSL stays out of this header).
  void* ctx_;
  /// The finished digest; empty until `hex_digest`.
  std::string digest_;
};

/// Incremental MD5: S3's ETag of a single-PUT object.
class md5_hasher : public digest_hasher {
public:
  md5_hasher() : digest_hasher(algorithm::md5) {
    // nop
  }
};

/// Incremental SHA-256: what content reuse matches uploads by.
class sha256_hasher : public digest_hasher {
public:
  sha256_hasher() : digest_hasher(algorithm::sha256) {
    // nop
  }
};

/// Returns the lower-case hex MD5 of `data` (convenience for small inputs).
std::string md5_hex(std::string_view data);

/// Decodes a `Content-MD5` header (base64 of the 16 digest bytes) into lower
/// case hex; nullopt if it is not exactly that.
std::optional<std::string> content_md5_to_hex(std::string_view header);

} // namespace vf::adapters::objectstore
