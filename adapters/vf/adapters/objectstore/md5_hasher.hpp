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

/// Incremental MD5 (OpenSSL EVP), fed chunk by chunk.
class md5_hasher {
public:
  /// Starts an empty digest.
  md5_hasher();

  md5_hasher(const md5_hasher&) = delete;
  md5_hasher& operator=(const md5_hasher&) = delete;

  ~md5_hasher();

  /// Adds `size` bytes at `data` to the digest.
  void update(const void* data, size_t size);

  /// Finishes the digest and returns it as 32 lower-case hex characters.
  /// Later calls return the same value; `update` after it is ignored.
  const std::string& hex_digest();

private:
  /// The `EVP_MD_CTX` (kept opaque so OpenSSL stays out of this header).
  void* ctx_;
  /// The finished digest; empty until `hex_digest`.
  std::string digest_;
};

/// Returns the lower-case hex MD5 of `data` (convenience for small inputs).
std::string md5_hex(std::string_view data);

/// Decodes a `Content-MD5` header (base64 of the 16 digest bytes) into lower
/// case hex; nullopt if it is not exactly that.
std::optional<std::string> content_md5_to_hex(std::string_view header);

} // namespace vf::adapters::objectstore
