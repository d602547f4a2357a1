#define CAF_SUITE runtime.users

#include "vf/runtime/users.hpp"

#include "vf/adapters/http/password_hash.hpp"
#include "vf/runtime/node_config.hpp"
#include "vf/runtime/settings.hpp"

#include "vf_test.hpp"
#include "vf_test_files.hpp"

#include <fstream>
#include <unistd.h>

using namespace vf;
namespace http = vf::adapters::http;

using vf::testing::file_mode;
using vf::testing::slurp;
using vf::testing::temp_dir;

namespace {

caf::expected<runtime::node_config> parse(std::vector<std::string> args) {
  std::vector<std::string> base{"--access-key", "ak", "--secret-key",
                                "secret-key-1", "--jwt-secret",
                                "0123456789abcdef"};
  base.insert(base.end(), args.begin(), args.end());
  auto xs = runtime::settings::load(runtime::serve_specs(), base);
  if (!xs)
    return xs.error();
  return runtime::make_node_config(*xs);
}

} // namespace

CAF_TEST(the first start seeds the users file and later ones keep it) {
  auto dir = temp_dir("runtime-users");
  auto path = dir + "/users.json";
  runtime::logger log;
  log.set_level(runtime::log_level::error);
  runtime::node_config cfg;
  cfg.data_dir = dir;
  cfg.users = {{"demo", "demo-pw", "user"}, {"boss", "boss-pw", "admin"}};
  auto table = runtime::open_user_table(cfg, log);
  CAF_REQUIRE(table);
  CAF_CHECK_EQUAL(file_mode(path), 0600u);
  auto text = slurp(path);
  CAF_CHECK_EQUAL(text.find("demo-pw"), std::string::npos);
  CAF_CHECK_EQUAL(text.find("boss-pw"), std::string::npos);
  auto boss = (*table)->find("boss", 1);
  CAF_REQUIRE(boss);
  CAF_CHECK_EQUAL(boss->role, "admin");
  CAF_CHECK(http::verify_password("boss-pw", boss->password_hash));
  // Once the file exists, auth.users is ignored: it does not bring back or
  // add anyone, and changes nothing in the file.
  cfg.users = {{"mallory", "m-pw", "admin"}};
  auto again = runtime::open_user_table(cfg, log);
  CAF_REQUIRE(again);
  CAF_CHECK(!(*again)->find("mallory", 1));
  auto boss_again = (*again)->find("boss", 1);
  CAF_REQUIRE(boss_again);
  CAF_CHECK_EQUAL(boss_again->epoch, boss->epoch);
  CAF_CHECK_EQUAL(slurp(path), text);
  // With the file there, auth.users may be empty; without, it may not.
  CAF_CHECK(parse({"--data-dir", dir}));
  auto empty = temp_dir("runtime-users");
  auto err = parse({"--data-dir", empty});
  CAF_REQUIRE(!err);
  CAF_CHECK_NOT_EQUAL(messages::message_of(err.error()).find("auth.users"),
                      std::string::npos);
  ::rmdir(empty.c_str());
  ::unlink(path.c_str());
  ::unlink((path + ".lock").c_str());
  ::rmdir(dir.c_str());
}

CAF_TEST(a bad users file stops the start) {
  auto dir = temp_dir("runtime-users");
  auto path = dir + "/users.json";
  std::ofstream{path} << R"({"version":1,"users":[{"name":"a"}]})";
  runtime::logger log;
  runtime::node_config cfg;
  cfg.data_dir = dir;
  auto table = runtime::open_user_table(cfg, log);
  CAF_REQUIRE(!table);
  CAF_CHECK_NOT_EQUAL(messages::message_of(table.error()).find(path),
                      std::string::npos);
  ::unlink(path.c_str());
  ::unlink((path + ".lock").c_str());
  ::rmdir(dir.c_str());
}
