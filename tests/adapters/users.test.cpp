#define CAF_SUITE adapters.users

#include "vf/adapters/http/login_throttle.hpp"
#include "vf/adapters/http/password_hash.hpp"
#include "vf/adapters/http/user_table.hpp"

#include "vf_test.hpp"
#include "vf_test_files.hpp"

#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

#include "vf/messages/errc.hpp"

using namespace vf::adapters::http;
using vf::messages::errc;

using vf::testing::file_mode;
using vf::testing::slurp;
using vf::testing::temp_dir;

namespace {

// Cheap parameters: the format and the checks are what is tested here.
const kdf_params cheap{1024, 8, 1};

user_account account(std::string name, std::string role,
                     std::string_view password) {
  return {std::move(name), std::move(role), hash_password(password, cheap),
          new_user_epoch()};
}

client_address addr(unsigned char last) {
  client_address a{};
  a[15] = last;
  return a;
}

} // namespace

CAF_TEST(password hashes round trip) {
  auto h = hash_password("correct horse", cheap);
  CAF_CHECK_EQUAL(h.rfind("$scrypt$N=1024,r=8,p=1$", 0), 0u);
  CAF_CHECK(is_password_hash(h));
  CAF_CHECK(verify_password("correct horse", h));
  CAF_CHECK(!verify_password("correct horsE", h));
  CAF_CHECK(!verify_password("", h));
  // A fresh salt every time.
  auto h2 = hash_password("correct horse", cheap);
  CAF_CHECK_NOT_EQUAL(h, h2);
  CAF_CHECK(verify_password("correct horse", h2));
  // The default parameters are the strong ones.
  auto strong = hash_password("x");
  CAF_CHECK_EQUAL(strong.rfind("$scrypt$N=32768,r=8,p=1$", 0), 0u);
  CAF_CHECK(verify_password("x", strong));
  CAF_CHECK(is_password_hash(dummy_password_hash()));
  CAF_CHECK(!verify_password("", dummy_password_hash()));
}

CAF_TEST(malformed or costly hashes are refused) {
  auto h = hash_password("pw", cheap);
  auto bad = std::vector<std::string>{
    "",
    "pw",
    "$2b$10$abcdefghijklmnopqrstuv",
    h.substr(0, h.size() - 1),
    h + "$",
    // Parameters out of bounds: too cheap, too costly, not a power of two.
    "$scrypt$N=512,r=8,p=1" + h.substr(h.find('$', 8)),
    "$scrypt$N=4194304,r=8,p=1" + h.substr(h.find('$', 8)),
    "$scrypt$N=1000,r=8,p=1" + h.substr(h.find('$', 8)),
    "$scrypt$N=1024,r=99,p=1" + h.substr(h.find('$', 8)),
    "$scrypt$N=1024,p=1,r=8" + h.substr(h.find('$', 8)),
  };
  for (auto& x : bad) {
    CAF_CHECK(!is_password_hash(x));
    CAF_CHECK(!verify_password("pw", x));
  }
}

CAF_TEST(users file round trip mode and no plaintext) {
  auto dir = temp_dir("users");
  auto path = dir + "/users.json";
  auto missing = read_users_file(path);
  CAF_REQUIRE(!missing);
  CAF_CHECK(vf::messages::errc_of(missing.error()) == errc::not_found);
  std::vector<user_account> users{account("alice", "user", "s3cret-pw"),
                                  account("root", "admin", "toor-pw")};
  CAF_REQUIRE(!write_users_file(path, users));
  CAF_CHECK_EQUAL(file_mode(path), 0600u);
  auto text = slurp(path);
  CAF_CHECK_EQUAL(text.find("s3cret-pw"), std::string::npos);
  CAF_CHECK_EQUAL(text.find("toor-pw"), std::string::npos);
  auto back = read_users_file(path);
  CAF_REQUIRE(back);
  CAF_REQUIRE_EQUAL(back->size(), 2u);
  CAF_CHECK_EQUAL((*back)[0].name, "alice");
  CAF_CHECK_EQUAL((*back)[1].role, "admin");
  CAF_CHECK_EQUAL((*back)[1].epoch, users[1].epoch);
  CAF_CHECK(verify_password("toor-pw", (*back)[1].password_hash));
  // A file with a plaintext password (or any other fault) is refused.
  {
    std::ofstream out{path};
    out << R"({"version":1,"users":[{"name":"a","role":"user",)"
           R"("password_hash":"plain","epoch":"00"}]})";
  }
  auto bad = read_users_file(path);
  CAF_REQUIRE(!bad);
  CAF_CHECK(vf::messages::errc_of(bad.error()) == errc::invalid_argument);
  ::unlink(path.c_str());
  ::rmdir(dir.c_str());
}

CAF_TEST(a file backed table follows the file) {
  auto dir = temp_dir("users");
  auto path = dir + "/users.json";
  std::vector<user_account> users{account("alice", "user", "a-pw"),
                                  account("root", "admin", "r-pw")};
  CAF_REQUIRE(!write_users_file(path, users));
  std::vector<std::string> notes;
  user_table table{path, [&](bool trouble, const std::string& x) {
                     if (trouble)
                       notes.push_back(x);
                   }};
  int64_t now = 1000;
  CAF_CHECK_EQUAL(table.size(now), 2u);
  CAF_REQUIRE(table.find("root", now));
  // Bound to a local: CAF's CHECK macros outlive the temporary optional.
  auto root = table.find("root", now);
  CAF_CHECK_EQUAL(root->role, "admin");
  // Demote root, remove alice.
  users[1].role = "user";
  users.erase(users.begin());
  CAF_REQUIRE(!write_users_file(path, users));
  // Checked at most once per second: the same second still sees the old.
  CAF_CHECK(table.find("alice", now));
  ++now;
  CAF_CHECK(!table.find("alice", now));
  root = table.find("root", now);
  CAF_REQUIRE(root);
  CAF_CHECK_EQUAL(root->role, "user");
  CAF_CHECK(notes.empty()); // good reloads are no trouble
  // A broken file fails closed.
  {
    std::ofstream out{path};
    out << "{";
  }
  ++now;
  CAF_CHECK(!table.find("root", now));
  CAF_CHECK(!notes.empty());
  // A missing file too.
  ::unlink(path.c_str());
  ++now;
  CAF_CHECK_EQUAL(table.size(now), 0u);
  CAF_REQUIRE(!write_users_file(path, users));
  ++now;
  CAF_CHECK_EQUAL(table.size(now), 1u);
  ::unlink(path.c_str());
  ::rmdir(dir.c_str());
}

CAF_TEST(user names are checked) {
  CAF_CHECK(!check_user_name("alice"));
  CAF_CHECK(!check_user_name("a.b-c_d@example.com"));
  CAF_CHECK(check_user_name(""));
  CAF_CHECK(check_user_name("a:b"));
  CAF_CHECK(check_user_name("a,b"));
  CAF_CHECK(check_user_name("a b"));
  CAF_CHECK(check_user_name(std::string(65, 'a')));
}

CAF_TEST(throttle per name across clients) {
  login_throttle t;
  int64_t now = 5000;
  // Five free failures from five different clients.
  for (unsigned char i = 0; i < 5; ++i) {
    CAF_CHECK_EQUAL(t.check("alice", addr(i), now), 0u);
    t.failed("alice", addr(i), now);
  }
  // Now any client must wait, 1 s, then 2 s, 4 s, ...
  CAF_CHECK_EQUAL(t.check("alice", addr(99), now), 1u);
  CAF_CHECK_EQUAL(t.check("bob", addr(99), now), 0u);
  uint32_t expected = 1;
  for (int k = 0; k < 12; ++k) {
    now += t.check("alice", addr(99), now);
    CAF_CHECK_EQUAL(t.check("alice", addr(99), now), 0u);
    t.failed("alice", addr(static_cast<unsigned char>(100 + k)), now);
    expected = std::min<uint32_t>(expected * 2, 300);
    CAF_CHECK_EQUAL(t.check("alice", addr(99), now), expected);
  }
  // Capped at 5 minutes.
  CAF_CHECK_EQUAL(t.check("alice", addr(99), now), 300u);
  // A success clears the name's count.
  now += 300;
  t.succeeded("alice");
  t.failed("alice", addr(200), now);
  CAF_CHECK_EQUAL(t.check("alice", addr(201), now), 0u);
}

CAF_TEST(throttle per client across names) {
  login_throttle t;
  int64_t now = 5000;
  for (int i = 0; i < 5; ++i) {
    auto name = "user" + std::to_string(i);
    CAF_CHECK_EQUAL(t.check(name, addr(7), now), 0u);
    t.failed(name, addr(7), now);
  }
  CAF_CHECK_EQUAL(t.check("fresh-name", addr(7), now), 1u);
  CAF_CHECK_EQUAL(t.check("fresh-name", addr(8), now), 0u);
  // A success on one name does not reset the client.
  t.succeeded("user0");
  CAF_CHECK_EQUAL(t.check("other", addr(7), now), 1u);
  // Forgotten after a quiet period.
  now += 900;
  CAF_CHECK_EQUAL(t.check("other", addr(7), now), 0u);
  t.failed("other", addr(7), now);
  CAF_CHECK_EQUAL(t.check("other2", addr(7), now), 0u);
}

CAF_TEST(throttle memory is bounded) {
  login_throttle::policy p;
  p.max_entries = 100;
  login_throttle t{p};
  for (int i = 0; i < 1000; ++i)
    t.failed("name" + std::to_string(i), addr(static_cast<unsigned char>(i)),
             1);
  CAF_CHECK_LESS_OR_EQUAL(t.size(), 100u);
}
