// vf/adapters/common/trusted_proxies.cpp

#include "vf/adapters/common/trusted_proxies.hpp"

#include "vf/adapters/common/text.hpp"

#include <algorithm>
#include <cstdlib>

namespace vf::adapters::common {

namespace {

using address = boost::asio::ip::address;

/// IPv4 as IPv4-mapped IPv6, so one comparison serves both.
std::array<unsigned char, 16> bytes_of(const address& addr) {
  if (addr.is_v4())
    return boost::asio::ip::make_address_v6(boost::asio::ip::v4_mapped,
                                            addr.to_v4())
      .to_bytes();
  return addr.to_v6().to_bytes();
}

constexpr auto trim = trim_blanks;

bool parse_address(std::string_view text, address& out) {
  // "[v6]" and "v4:port" forms some proxies write.
  if (text.size() > 2 && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos)
      return false;
    text = text.substr(1, close - 1);
  } else if (std::count(text.begin(), text.end(), ':') == 1) {
    text = text.substr(0, text.find(':'));
  }
  boost::system::error_code ec;
  out = boost::asio::ip::make_address(std::string{text}, ec);
  return !ec;
}

} // namespace

bool trusted_proxies::parse(const std::vector<std::string>& entries,
                            std::string& error) {
  nets_.clear();
  for (auto& raw : entries) {
    auto entry = trim(raw);
    if (entry.empty())
      continue;
    auto slash = entry.find('/');
    boost::system::error_code ec;
    auto addr = boost::asio::ip::make_address(
      std::string{entry.substr(0, slash)}, ec);
    if (ec) {
      error = "'" + std::string{entry} + "' is not an IP address or CIDR";
      return false;
    }
    unsigned max = addr.is_v4() ? 32 : 128;
    unsigned prefix = max;
    if (slash != std::string_view::npos) {
      auto digits = std::string{entry.substr(slash + 1)};
      char* end = nullptr;
      auto n = std::strtoul(digits.c_str(), &end, 10);
      if (digits.empty() || *end != '\0' || n > max) {
        error = "'" + std::string{entry} + "' has a bad prefix length";
        return false;
      }
      prefix = static_cast<unsigned>(n);
    }
    nets_.push_back({bytes_of(addr), addr.is_v4() ? prefix + 96 : prefix});
  }
  return true;
}

bool trusted_proxies::contains(const address& addr) const {
  auto bytes = bytes_of(addr);
  for (auto& n : nets_) {
    unsigned bits = n.prefix;
    bool match = true;
    for (size_t i = 0; i < 16 && bits > 0 && match; ++i) {
      unsigned take = std::min(bits, 8u);
      auto mask = static_cast<unsigned char>(0xFF << (8 - take));
      match = (bytes[i] & mask) == (n.bytes[i] & mask);
      bits -= take;
    }
    if (match)
      return true;
  }
  return false;
}

address trusted_proxies::client_of(const address& peer,
                                   std::string_view forwarded) const {
  if (nets_.empty() || !contains(peer))
    return peer;
  auto client = peer;
  while (!forwarded.empty()) {
    auto comma = forwarded.rfind(',');
    auto entry = trim(comma == std::string_view::npos
                        ? forwarded
                        : forwarded.substr(comma + 1));
    forwarded = comma == std::string_view::npos ? std::string_view{}
                                                : forwarded.substr(0, comma);
    if (entry.empty())
      continue;
    address addr;
    if (!parse_address(entry, addr))
      return client;
    client = addr;
    if (!contains(addr))
      return client;
  }
  return client;
}

} // namespace vf::adapters::common
