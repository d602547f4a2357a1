// vf/adapters/webhooks/callback_client.cpp

#include "vf/adapters/webhooks/callback_client.hpp"

#include "caf/actor_system.hpp"
#include "caf/typed_event_based_actor.hpp"

#include "vf/messages/atoms.hpp"

#include <curl/curl.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <boost/asio/ip/address.hpp>

#include <chrono>
#include <memory>
#include <mutex>
#include <vector>

namespace vf::adapters::webhooks {

namespace {

namespace ip = boost::asio::ip;

/// Most bytes of a receiver's answer read (and dropped).
constexpr size_t max_answer_bytes = 64 * 1024;

struct curl_deleter {
  void operator()(CURL* h) const {
    curl_easy_cleanup(h);
  }
};

struct slist_deleter {
  void operator()(curl_slist* x) const {
    curl_slist_free_all(x);
  }
};

size_t drop_answer(char*, size_t size, size_t n, void* user) {
  auto& total = *static_cast<size_t*>(user);
  total += size * n;
  // More than an acknowledgement needs: stop reading (the status counts).
  return total > max_answer_bytes ? 0 : size * n;
}

messages::delivery_attempt failure(std::string why, bool permanent = false) {
  messages::delivery_attempt result;
  result.permanent = permanent;
  result.error = std::move(why);
  return result;
}

/// Every address `host` resolves to, or an error text.
std::vector<ip::address> resolve(const std::string& host, std::string& why) {
  std::vector<ip::address> result;
  boost::system::error_code ec;
  auto literal = ip::make_address(host, ec);
  if (!ec) {
    result.push_back(literal);
    return result;
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  auto rc = getaddrinfo(host.c_str(), nullptr, &hints, &found);
  if (rc != 0) {
    why = "cannot resolve " + host + ": " + gai_strerror(rc);
    return result;
  }
  for (auto* p = found; p != nullptr; p = p->ai_next) {
    char text[INET6_ADDRSTRLEN] = {};
    if (p->ai_family == AF_INET)
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(p->ai_addr)->sin_addr,
                text, sizeof(text));
    else if (p->ai_family == AF_INET6)
      inet_ntop(AF_INET6,
                &reinterpret_cast<sockaddr_in6*>(p->ai_addr)->sin6_addr, text,
                sizeof(text));
    else
      continue;
    auto addr = ip::make_address(text, ec);
    if (!ec)
      result.push_back(addr);
  }
  freeaddrinfo(found);
  if (result.empty())
    why = "cannot resolve " + host + ": no address";
  return result;
}

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

} // namespace

messages::delivery_attempt send_callback(const callback_client_config& cfg,
                                         const messages::delivery& d) {
  std::string why;
  auto target = parse_callback_url(d.url, why);
  if (!target)
    return failure("not a callback URL: " + why, true);
  auto addrs = resolve(target->host, why);
  if (addrs.empty())
    return failure(why);
  // Every address must be allowed: which one curl would pick is not ours
  // to guess, and a name that also resolves inside is a probe.
  for (auto& a : addrs)
    if (!cfg.policy.allows(a))
      return failure("refused: " + target->host + " resolves to "
                       + a.to_string()
                       + ", which is not a public address (webhooks.allow)",
                     true);
  global_init();
  std::unique_ptr<CURL, curl_deleter> h{curl_easy_init()};
  if (!h)
    return failure("libcurl: no handle");
  // Connect to the addresses that were checked, not to a second
  // resolution (which a DNS server could answer differently: rebinding).
  // An IP literal needs no pin (and curl could not parse one: the host
  // part of the entry ends at its first ':').
  std::unique_ptr<curl_slist, slist_deleter> pin;
  boost::system::error_code literal_ec;
  ip::make_address(target->host, literal_ec);
  if (literal_ec) {
    auto entry = target->host + ":" + std::to_string(target->port) + ":";
    for (size_t i = 0; i < addrs.size(); ++i) {
      if (i > 0)
        entry += ',';
      entry += addrs[i].is_v6() ? "[" + addrs[i].to_string() + "]"
                                : addrs[i].to_string();
    }
    pin.reset(curl_slist_append(nullptr, entry.c_str()));
    if (!pin)
      return failure("libcurl: out of memory");
  }
  auto t = cfg.now ? cfg.now()
                   : std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  auto secret = owner_secret(cfg.secret, d.owner);
  std::vector<std::string> lines{
    "Content-Type: application/json",
    "User-Agent: vidflow-webhooks/1",
    "X-Vidflow-Signature: " + signature(secret, t, d.body),
    "X-Vidflow-Delivery: " + d.id,
    "Expect:",
  };
  std::unique_ptr<curl_slist, slist_deleter> headers;
  for (auto& line : lines) {
    auto* next = curl_slist_append(headers.get(), line.c_str());
    if (next == nullptr)
      return failure("libcurl: out of memory");
    static_cast<void>(headers.release());
    headers.reset(next);
  }
  char errbuf[CURL_ERROR_SIZE] = {};
  size_t answer = 0;
  auto* c = h.get();
  CURLcode rc = CURLE_OK;
  auto set = [&](CURLoption opt, auto value) {
    if (rc == CURLE_OK)
      rc = curl_easy_setopt(c, opt, value);
  };
  set(CURLOPT_URL, d.url.c_str());
  if (pin)
    set(CURLOPT_RESOLVE, pin.get());
  // No proxy from the environment (http_proxy, ALL_PROXY): a proxy would
  // resolve and reach the host itself, past the address check.
  set(CURLOPT_PROXY, "");
  set(CURLOPT_PROTOCOLS_STR, "http,https");
  set(CURLOPT_FOLLOWLOCATION, 0L);
  set(CURLOPT_NOSIGNAL, 1L);
  set(CURLOPT_POST, 1L);
  set(CURLOPT_POSTFIELDS, d.body.data());
  set(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(d.body.size()));
  set(CURLOPT_HTTPHEADER, headers.get());
  set(CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(cfg.connect_timeout.count()));
  set(CURLOPT_TIMEOUT_MS, static_cast<long>(cfg.timeout.count()));
  set(CURLOPT_WRITEFUNCTION, drop_answer);
  set(CURLOPT_WRITEDATA, &answer);
  set(CURLOPT_ERRORBUFFER, errbuf);
  if (rc != CURLE_OK)
    return failure(std::string{"libcurl: "} + curl_easy_strerror(rc));
  rc = curl_easy_perform(c);
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  messages::delivery_attempt result;
  result.status = static_cast<uint32_t>(status);
  if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && status > 0)) {
    result.error = std::string{errbuf[0] != '\0' ? errbuf
                                                 : curl_easy_strerror(rc)};
    return result;
  }
  result.ok = status >= 200 && status < 300;
  if (!result.ok)
    result.error = "the receiver answered " + std::to_string(status);
  return result;
}

messages::callback_actor spawn_callback_client(caf::actor_system& sys,
                                               callback_client_config cfg) {
  auto shared = std::make_shared<const callback_client_config>(std::move(cfg));
  return sys.spawn<caf::detached>(
    [shared]() -> messages::callback_actor::behavior_type {
      return {
        [shared](atoms::deliver, const messages::delivery& d) {
          return send_callback(*shared, d);
        },
      };
    });
}

} // namespace vf::adapters::webhooks
