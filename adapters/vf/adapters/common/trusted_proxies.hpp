// vf/adapters/common/trusted_proxies.hpp
//
// The client address of a request that came through reverse proxies: taken
// from `X-Forwarded-For` only when the TCP peer is a proxy we trust, and then
// the right-most address that is not itself a trusted proxy (every address
// left of it was written by the client and may be forged).

#pragma once

#include <boost/asio/ip/address.hpp>

#include <array>
#include <string>
#include <string_view>
#include <vector>

namespace vf::adapters::common {

/// A set of IP networks (CIDRs or single addresses).
class trusted_proxies {
public:
  /// No trusted proxy: `X-Forwarded-For` is never believed.
  trusted_proxies() = default;

  /// Parses entries such as `10.0.0.0/8`, `192.168.1.7` or `fd00::/8`.
  /// Returns false and sets `error` (naming the bad entry) on failure.
  bool parse(const std::vector<std::string>& entries, std::string& error);

  /// Whether no network is configured.
  bool empty() const {
    return nets_.empty();
  }

  /// Whether `addr` lies in one of the networks.
  bool contains(const boost::asio::ip::address& addr) const;

  /// The client address behind `peer`: `peer` itself unless it is trusted;
  /// otherwise the right-most `X-Forwarded-For` entry (`forwarded` is every
  /// field's value joined with ',') that is not trusted. If every entry is
  /// trusted, the left-most; a malformed entry stops the walk and the last
  /// address checked (a trusted one) is the client.
  boost::asio::ip::address
  client_of(const boost::asio::ip::address& peer,
            std::string_view forwarded) const;

private:
  struct net {
    std::array<unsigned char, 16> bytes;
    unsigned prefix;
  };
  std::vector<net> nets_;
};

} // namespace vf::adapters::common
