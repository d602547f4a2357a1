// vf/actors/secure_random.hpp

#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace vf::actors {

/// Fills `n` bytes at `out` from the operating system's CSPRNG
/// (`getrandom(2)`, blocking only until the kernel pool is initialized once
/// after boot). Identifiers that must not be guessed (job ids, lease ids)
/// come from here, never from a seeded generator: a user who sees enough
/// outputs of `std::mt19937_64` can recover its state and predict the ids
/// of other users' jobs.
/// @throws std::system_error if the kernel refuses (no fallback on purpose:
///         a predictable id is worse than a failed request).
void secure_random_fill(void* out, size_t n);

/// Returns 64 random bits from the OS CSPRNG.
[[nodiscard]] uint64_t secure_random_u64();

/// Returns a random UUID (RFC 4122 version 4, variant 1) as lowercase text,
/// 122 bits of it from the OS CSPRNG.
[[nodiscard]] std::string secure_uuid4();

} // namespace vf::actors
