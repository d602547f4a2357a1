#define CAF_SUITE adapters.webhooks

#include "vf/adapters/webhooks/callback_client.hpp"
#include "vf/adapters/webhooks/callback_policy.hpp"

#include "vf_test.hpp"

#include <string>
#include <vector>

using namespace vf::adapters::webhooks;
namespace ip = boost::asio::ip;

namespace {

bool pub(const char* x) {
  return is_public(ip::make_address(x));
}

callback_policy policy_of(std::vector<std::string> entries) {
  callback_policy p;
  std::string why;
  if (!p.parse(entries, why))
    CAF_FAIL("allow-list refused: " << why);
  return p;
}

} // namespace

CAF_TEST(callback urls are absolute http or https without user info) {
  std::string why;
  auto t = parse_callback_url("https://Hooks.Example.org/in?x=1", why);
  CAF_REQUIRE(t);
  CAF_CHECK_EQUAL(t->scheme, "https");
  CAF_CHECK_EQUAL(t->host, "hooks.example.org");
  CAF_CHECK_EQUAL(t->port, 443);
  t = parse_callback_url("http://[2001:db8::1]:8080/x", why);
  CAF_REQUIRE(t);
  CAF_CHECK_EQUAL(t->host, "2001:db8::1");
  CAF_CHECK_EQUAL(t->port, 8080);
  t = parse_callback_url("http://example.org", why);
  CAF_REQUIRE(t);
  CAF_CHECK_EQUAL(t->port, 80);
  for (auto bad : {"ftp://example.org/", "example.org/hook", "//example.org",
                   "http://user:pw@example.org/", "http://example.org/#frag",
                   "http://example.org:0/", "http://example.org:65536/",
                   "http://example.org:8o/", "http:///path", "http://[::1/",
                   "http://exa mple.org/", "http://example.org/\n",
                   "file:///etc/passwd", "gopher://example.org/"}) {
    why.clear();
    if (parse_callback_url(bad, why))
      CAF_FAIL("accepted " << bad);
    CAF_CHECK(!why.empty());
  }
  CAF_CHECK(!parse_callback_url("https://example.org/" + std::string(2100, 'a'),
                                why));
}

CAF_TEST(only public unicast addresses are public) {
  for (auto x : {"93.184.216.34", "8.8.8.8", "2606:4700::1111"})
    if (!pub(x))
      CAF_FAIL(x << " not counted as public");
  for (auto x : {"127.0.0.1", "127.1.2.3", "10.0.0.1", "172.16.0.1",
                 "172.31.255.255", "192.168.1.1", "169.254.169.254",
                 "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255",
                 "198.18.0.1", "192.0.2.1", "::1", "::", "fe80::1", "fc00::1",
                 "fd12:3456::1", "ff02::1", "::ffff:127.0.0.1",
                 "::ffff:169.254.169.254", "::ffff:10.1.2.3", "2001:db8::1",
                 "64:ff9b::a9fe:a9fe", "2002:7f00:1::1", "2001:0:4136::1"})
    if (pub(x))
      CAF_FAIL(x << " counted as public");
  // Just outside the private ranges.
  CAF_CHECK(pub("172.32.0.1"));
  CAF_CHECK(pub("11.0.0.1"));
  CAF_CHECK(pub("::ffff:8.8.8.8"));
}

CAF_TEST(the allow list defaults to public and may add networks) {
  auto def = policy_of({});
  CAF_CHECK(def.allows(ip::make_address("8.8.8.8")));
  CAF_CHECK(!def.allows(ip::make_address("127.0.0.1")));
  auto lo = policy_of({"127.0.0.1"});
  CAF_CHECK(lo.allows(ip::make_address("127.0.0.1")));
  CAF_CHECK(lo.allows(ip::make_address("::ffff:127.0.0.1")));
  CAF_CHECK(!lo.allows(ip::make_address("127.0.0.2")));
  CAF_CHECK(!lo.allows(ip::make_address("8.8.8.8")));
  auto both = policy_of({"public", "10.1.0.0/16"});
  CAF_CHECK(both.allows(ip::make_address("8.8.8.8")));
  CAF_CHECK(both.allows(ip::make_address("10.1.2.3")));
  CAF_CHECK(!both.allows(ip::make_address("10.2.0.1")));
  callback_policy p;
  std::string why;
  CAF_CHECK(!p.parse({"not-a-net"}, why));
  CAF_CHECK(!why.empty());
  // The API refuses literal addresses at once, with the reason.
  auto refused = def.refuse("http://169.254.169.254/latest/meta-data/");
  CAF_REQUIRE(refused);
  CAF_CHECK(refused->find("169.254.169.254") != std::string::npos);
  CAF_CHECK(def.refuse("http://127.0.0.1:9000/"));
  CAF_CHECK(def.refuse("http://[::1]/"));
  CAF_CHECK(!def.refuse("https://hooks.example.org/in"));
  CAF_CHECK(!lo.refuse("http://127.0.0.1:9000/"));
}

CAF_TEST(signatures follow the documented scheme) {
  // Reference values computed with Python's hmac module (see the docs'
  // verification snippet).
  auto secret = owner_secret("node-secret-0123456789", "demo");
  CAF_CHECK_EQUAL(secret, "b49813b95869b516d7f455fdf1218ef1"
                          "26f78d6509c13818f91e100db7bf1381");
  CAF_CHECK_NOT_EQUAL(secret, owner_secret("node-secret-0123456789", "eve"));
  CAF_CHECK_EQUAL(signature(secret, 1700000000, R"({"id":"dlv_1"})"),
                  "t=1700000000,v1=9e53b976cae3396014484ec90682d74e"
                  "0c407e1100d1c803d7a1a0206832a23b");
}

CAF_TEST(a callback to a refused address is not sent and not retried) {
  callback_client_config cfg;
  cfg.secret = "node-secret-0123456789";
  vf::messages::delivery d;
  d.id = "dlv_1";
  d.owner = "demo";
  d.body = "{}";
  for (auto url : {"http://127.0.0.1:1/hook", "http://169.254.169.254/x",
                   "http://localhost:1/hook"}) {
    d.url = url;
    auto r = send_callback(cfg, d);
    CAF_CHECK(!r.ok);
    if (!r.permanent)
      CAF_FAIL(url << " not refused for good: " << r.error);
    CAF_CHECK_EQUAL(r.status, 0u);
    CAF_CHECK(r.error.find("not a public address") != std::string::npos);
  }
  d.url = "ftp://example.org/";
  auto r = send_callback(cfg, d);
  CAF_CHECK(r.permanent);
}
