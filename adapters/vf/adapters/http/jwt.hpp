// vf/adapters/http/jwt.hpp
//
// HS256 JSON Web Tokens: the bearer tokens `POST /auth/login` hands out and
// every protected route checks. Only HS256 exists here on purpose: accepting
// the header's `alg` blindly is the classic JWT hole ("none", RS/HS mix-ups).

#pragma once

#include "caf/expected.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace vf::adapters::http {

/// The claims vidflow writes into, and requires from, an access token.
struct jwt_claims {
  /// Subject: the user name.
  std::string sub;
  /// `user` or `admin`; `user` when the token has none.
  std::string role;
  /// Issued at, Unix seconds.
  int64_t iat = 0;
  /// Expiry, Unix seconds; the token is invalid from this second on.
  int64_t exp = 0;
  /// Not before, Unix seconds; 0 when absent.
  int64_t nbf = 0;
  /// The account's epoch when the token was issued (see user_table.hpp);
  /// empty when absent. Written only when non-empty.
  std::string gen = {};
};

/// Signs and verifies HS256 tokens with one secret.
///
/// Keeps a keyed HMAC context and a small cache of verified tokens, so one
/// instance must only be used by one thread at a time: keep one per I/O
/// thread.
class jwt_codec {
public:
  /// Creates a codec for `secret` (any bytes; should be at least 32).
  explicit jwt_codec(std::string_view secret);

  /// Moves the keyed context.
  jwt_codec(jwt_codec&&) noexcept;

  /// Moves the keyed context.
  jwt_codec& operator=(jwt_codec&&) noexcept;

  /// Frees the keyed context.
  ~jwt_codec();

  /// Returns the compact serialization (`header.payload.signature`) of a
  /// token carrying `claims` (`nbf` only when non-zero).
  [[nodiscard]] std::string sign(const jwt_claims& claims);

  /// Returns the claims of `token` when it is well-formed, uses HS256, its
  /// signature matches, `exp > now` and `nbf <= now`; otherwise
  /// `errc::unauthorized` with a message naming the reason.
  [[nodiscard]] caf::expected<jwt_claims> verify(std::string_view token,
                                                 int64_t now);

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace vf::adapters::http
