// vf/adapters/webhooks/callback_policy.hpp
//
// Where callbacks may go (`webhooks.allow`) and how they are signed. A
// callback URL comes from a client: without a check, vidflow would POST to
// whatever it names, its own admin port or the cloud's metadata service
// included (server-side request forgery). So the target's addresses are
// checked, after DNS resolution, against an allow-list whose default is
// "public addresses only".

#pragma once

#include <boost/asio/ip/address.hpp>

#include "vf/adapters/common/trusted_proxies.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vf::adapters::webhooks {

/// The parts of a callback URL vidflow uses.
struct callback_target {
  /// `http` or `https`.
  std::string scheme;
  /// Host name or IP literal (IPv6 without brackets).
  std::string host;
  uint16_t port = 0;
};

/// Parses an absolute `http(s)://host[:port][/path][?query]` URL of at most
/// 2048 bytes without user info, fragment, blanks or control characters;
/// nullopt (and `why`) otherwise.
std::optional<callback_target> parse_callback_url(std::string_view url,
                                                  std::string& why);

/// Whether `addr` is a public unicast address: not loopback, private,
/// link-local, unique-local, carrier-grade NAT, multicast, reserved or
/// unspecified (IPv4-mapped IPv6 addresses count as their IPv4 address).
bool is_public(const boost::asio::ip::address& addr);

/// Which addresses callbacks may reach.
class callback_policy {
public:
  /// Public addresses only.
  callback_policy() = default;

  /// Parses `webhooks.allow`: `public` (every public address) and IP
  /// networks (`10.1.0.0/16`, `127.0.0.1`); an empty list means `public`.
  /// False and `why` for a bad entry.
  bool parse(const std::vector<std::string>& entries, std::string& why);

  /// Whether a callback may go to `addr`.
  bool allows(const boost::asio::ip::address& addr) const;

  /// Why `url` cannot be a callback at all (syntax, or an IP literal not
  /// allowed), or nullopt; host names are checked when resolved.
  std::optional<std::string> refuse(std::string_view url) const;

private:
  bool public_ = true;
  common::trusted_proxies nets_;
};

/// The signing secret of `owner`'s callbacks: hex HMAC-SHA256 of the
/// owner's name under the node's secret, so each user can verify their own
/// callbacks and no one else's.
std::string owner_secret(std::string_view node_secret, std::string_view owner);

/// The `X-Vidflow-Signature` value of `body` sent at Unix second `t`:
/// `t=<t>,v1=<hex HMAC-SHA256(secret, t + "." + body)>`.
std::string signature(std::string_view secret, int64_t t,
                      std::string_view body);

} // namespace vf::adapters::webhooks
