// vf/adapters/http/password_hash.hpp
//
// Password hashes for the user table: scrypt (OpenSSL's EVP_PBE_scrypt) with
// a per-password random salt, written as one self-describing string
//
//   $scrypt$N=32768,r=8,p=1$<salt, base64>$<hash, base64>
//
// so the cost can be raised later without breaking stored hashes. A leaked
// users file then costs an attacker ~32 MiB and a sizeable fraction of a
// CPU-second per guess and per account, instead of one SHA-256.

#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace vf::adapters::http {

/// The cost of one scrypt hash.
struct kdf_params {
  /// CPU/memory cost, a power of two (memory is 128 * r * n bytes).
  uint64_t n = uint64_t{1} << 15;
  /// Block size.
  uint32_t r = 8;
  /// Parallelism.
  uint32_t p = 1;
};

/// Returns the encoded hash of `password` with a fresh 16-byte salt from
/// the OS CSPRNG; throws `std::runtime_error` if OpenSSL fails.
[[nodiscard]] std::string hash_password(std::string_view password,
                                        const kdf_params& params = {});

/// Returns whether `encoded` is a hash this module can check (right prefix,
/// parameters within bounds, salt and hash decode).
[[nodiscard]] bool is_password_hash(std::string_view encoded);

/// Returns whether `password` matches `encoded`; false for a malformed or
/// out-of-bounds `encoded`. The final comparison is constant-time.
[[nodiscard]] bool verify_password(std::string_view password,
                                   std::string_view encoded);

/// A well-formed hash of a random password with the default parameters:
/// logins for unknown names check against it so they take as long as
/// logins for real names.
[[nodiscard]] const std::string& dummy_password_hash();

} // namespace vf::adapters::http
