// vf/adapters/common/digest.hpp
//
// SHA-256, HMAC-SHA256 and comparing secrets in constant time (OpenSSL), for
// the adapters that check tokens and signatures.

#pragma once

#include "caf/expected.hpp"

#include <array>
#include <atomic>
#include <string>
#include <string_view>

namespace vf::adapters::common {

/// A SHA-256 or HMAC-SHA256 value.
using sha256_digest = std::array<unsigned char, 32>;

/// Returns the SHA-256 of `x`.
sha256_digest sha256(std::string_view x);

/// The SHA-256 of the file at `path` as 64 lower-case hex digits, read in
/// 1 MiB pieces; stops with `errc::cancelled` when `cancel` is set.
/// Errors name the path (`errc::storage_unavailable`).
caf::expected<std::string> sha256_file_hex(const std::string& path,
                                           const std::atomic<bool>* cancel
                                           = nullptr);

/// Returns the HMAC-SHA256 of `data` under `key`.
sha256_digest hmac_sha256(std::string_view key, std::string_view data);

/// True if `x` and `y` are equal; takes the same time for every content of
/// equal-sized inputs (sizes are not secret).
bool constant_time_equal(std::string_view x, std::string_view y);

/// True if the digests are equal, in constant time.
bool constant_time_equal(const sha256_digest& x, const sha256_digest& y);

} // namespace vf::adapters::common
