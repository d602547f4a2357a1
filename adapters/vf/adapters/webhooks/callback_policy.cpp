// vf/adapters/webhooks/callback_policy.cpp

#include "vf/adapters/webhooks/callback_policy.hpp"

#include "vf/adapters/common/digest.hpp"
#include "vf/adapters/common/hex.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace vf::adapters::webhooks {

namespace {

namespace ip = boost::asio::ip;

constexpr size_t max_url_bytes = 2048;

bool in_v4(uint32_t addr, uint32_t net, unsigned prefix) {
  auto mask = prefix == 0 ? 0u : ~uint32_t{0} << (32 - prefix);
  return (addr & mask) == (net & mask);
}

bool public_v4(const ip::address_v4& a) {
  auto x = a.to_uint();
  // RFC 6890 special-purpose ranges and multicast.
  static constexpr std::array<std::pair<uint32_t, unsigned>, 15> blocked{{
    {0x00000000, 8},  // "this network"
    {0x0A000000, 8},  // private
    {0x64400000, 10}, // carrier-grade NAT
    {0x7F000000, 8},  // loopback
    {0xA9FE0000, 16}, // link-local (cloud metadata services live here)
    {0xAC100000, 12}, // private
    {0xC0000000, 24}, // IETF protocol assignments
    {0xC0000200, 24}, // documentation
    {0xC0A80000, 16}, // private
    {0xC6120000, 15}, // benchmarking
    {0xC6336400, 24}, // documentation
    {0xCB007100, 24}, // documentation
    {0xE0000000, 4},  // multicast
    {0xF0000000, 4},  // reserved
    {0xFFFFFFFF, 32}, // broadcast
  }};
  return std::none_of(blocked.begin(), blocked.end(), [x](auto& b) {
    return in_v4(x, b.first, b.second);
  });
}

bool public_v6(const ip::address_v6& a) {
  if (a.is_v4_mapped())
    return public_v4(ip::make_address_v4(ip::v4_mapped, a));
  if (a.is_unspecified() || a.is_loopback() || a.is_link_local()
      || a.is_site_local() || a.is_multicast())
    return false;
  auto b = a.to_bytes();
  if ((b[0] & 0xFE) == 0xFC) // fc00::/7, unique local
    return false;
  if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0D && b[3] == 0xB8)
    return false; // 2001:db8::/32, documentation
  if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xFF && b[3] == 0x9B)
    return false; // 64:ff9b::/96, NAT64 (reaches IPv4 ranges)
  if (b[0] == 0x20 && b[1] == 0x02)
    return false; // 2002::/16, 6to4 (embeds any IPv4 address)
  if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x00 && b[3] == 0x00)
    return false; // 2001::/32, Teredo (embeds an IPv4 address)
  // Only global unicast (2000::/3) is public.
  return (b[0] & 0xE0) == 0x20;
}

std::string lower(std::string_view x) {
  std::string result{x};
  for (auto& c : result)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return result;
}

} // namespace

std::optional<callback_target> parse_callback_url(std::string_view url,
                                                  std::string& why) {
  if (url.size() > max_url_bytes) {
    why = "longer than 2048 bytes";
    return std::nullopt;
  }
  for (unsigned char c : url)
    if (c <= 0x20 || c >= 0x7F) {
      why = "blanks, control characters and non-ASCII bytes must be "
            "percent-encoded";
      return std::nullopt;
    }
  callback_target t;
  auto sep = url.find("://");
  if (sep == std::string_view::npos) {
    why = "not an absolute http:// or https:// URL";
    return std::nullopt;
  }
  t.scheme = lower(url.substr(0, sep));
  if (t.scheme != "http" && t.scheme != "https") {
    why = "only http:// and https:// callbacks are sent";
    return std::nullopt;
  }
  auto rest = url.substr(sep + 3);
  if (rest.find('#') != std::string_view::npos) {
    why = "a fragment (#...) means nothing to a server";
    return std::nullopt;
  }
  auto authority = rest.substr(0, rest.find_first_of("/?"));
  if (authority.find('@') != std::string_view::npos) {
    why = "user info (user:password@) is not allowed: sign-in data would "
          "travel in every callback";
    return std::nullopt;
  }
  std::string_view host;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    auto end = authority.find(']');
    if (end == std::string_view::npos) {
      why = "unclosed '[' in the host";
      return std::nullopt;
    }
    host = authority.substr(1, end - 1);
    auto after = authority.substr(end + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        why = "malformed host";
        return std::nullopt;
      }
      port = after.substr(1);
    }
  } else {
    auto colon = authority.rfind(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos)
      port = authority.substr(colon + 1);
  }
  if (host.empty()) {
    why = "no host";
    return std::nullopt;
  }
  t.host = lower(host);
  t.port = t.scheme == "https" ? 443 : 80;
  if (!port.empty()) {
    uint32_t p = 0;
    for (char c : port) {
      if (c < '0' || c > '9' || p > 65535) {
        why = "malformed port";
        return std::nullopt;
      }
      p = p * 10 + static_cast<uint32_t>(c - '0');
    }
    if (p == 0 || p > 65535) {
      why = "port out of range";
      return std::nullopt;
    }
    t.port = static_cast<uint16_t>(p);
  }
  return t;
}

bool is_public(const ip::address& addr) {
  return addr.is_v4() ? public_v4(addr.to_v4()) : public_v6(addr.to_v6());
}

bool callback_policy::parse(const std::vector<std::string>& entries,
                            std::string& why) {
  public_ = entries.empty();
  std::vector<std::string> nets;
  for (auto& x : entries) {
    if (x == "public")
      public_ = true;
    else
      nets.push_back(x);
  }
  return nets_.parse(nets, why);
}

bool callback_policy::allows(const ip::address& addr) const {
  auto a = addr;
  if (a.is_v6() && a.to_v6().is_v4_mapped())
    a = ip::make_address_v4(ip::v4_mapped, a.to_v6());
  return (public_ && is_public(a)) || nets_.contains(a);
}

std::optional<std::string>
callback_policy::refuse(std::string_view url) const {
  std::string why;
  auto t = parse_callback_url(url, why);
  if (!t)
    return why;
  boost::system::error_code ec;
  auto addr = ip::make_address(t->host, ec);
  if (!ec && !allows(addr))
    return t->host + " is not a public address; callbacks go to public "
                     "addresses only (an operator may allow networks with "
                     "webhooks.allow)";
  return std::nullopt;
}

std::string owner_secret(std::string_view node_secret,
                         std::string_view owner) {
  std::string data{"vidflow-webhooks:"};
  data += owner;
  auto mac = common::hmac_sha256(node_secret, data);
  return common::to_hex(mac.data(), mac.size());
}

std::string signature(std::string_view secret, int64_t t,
                      std::string_view body) {
  auto ts = std::to_string(t);
  std::string data;
  data.reserve(ts.size() + 1 + body.size());
  data += ts;
  data += '.';
  data += body;
  auto mac = common::hmac_sha256(secret, data);
  return "t=" + ts + ",v1=" + common::to_hex(mac.data(), mac.size());
}

} // namespace vf::adapters::webhooks
