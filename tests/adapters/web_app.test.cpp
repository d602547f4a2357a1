#define CAF_SUITE adapters.web_app

#include "vf_test.hpp"
#include "vf_test_files.hpp"

#include "vf/adapters/http/web_app.hpp"

#include <filesystem>
#include <fstream>
#include <string>

using namespace vf::adapters::http;

CAF_TEST(request paths map to the files of the app and nothing else) {
  CAF_CHECK(web_file_of("/") == "index.html");
  CAF_CHECK(web_file_of("/admin") == "admin.html");
  CAF_CHECK(web_file_of("/admin/") == "admin.html");
  CAF_CHECK(web_file_of("/web/app.css") == "static/app.css");
  CAF_CHECK(web_file_of("/web/js/user.js") == "static/js/user.js");
  // Not the app: API routes stay the API's.
  for (auto path : {"/jobs", "/admin/status", "/web", "/webx/a.js", ""})
    CAF_CHECK(web_file_of(path) == "");
  // Hostile names never reach the disk or the table.
  for (auto path :
       {"/web/../vidflow.db", "/web/..", "/web/a/../../b.js", "/web/.env.js",
        "/web//a.js", "/web/a.js/", "/web/%2e%2e/a.js", "/web/a b.js",
        "/web/a.js\\x", "/web/secret.db", "/web/noextension", "/web/"})
    CAF_CHECK(web_file_of(path) == "");
  CAF_CHECK(web_file_of("/web/" + std::string(600, 'a') + ".js") == "");
}

CAF_TEST(content types come from the extension) {
  std::string js{web_content_type("static/user.js")};
  CAF_CHECK_EQUAL(js, "text/javascript; charset=utf-8");
  std::string html{web_content_type("index.html")};
  CAF_CHECK_EQUAL(html, "text/html; charset=utf-8");
  CAF_CHECK(web_content_type("static/x.exe").empty());
}

CAF_TEST(the policy lets only the node and the store in) {
  auto csp = web_csp({"http://127.0.0.1:9000"});
  CAF_CHECK(csp.find("default-src 'none'") != std::string::npos);
  CAF_CHECK(csp.find("script-src 'self';") != std::string::npos);
  CAF_CHECK(csp.find("connect-src 'self' http://127.0.0.1:9000;")
            != std::string::npos);
  CAF_CHECK(csp.find("media-src 'self' blob: http://127.0.0.1:9000;")
            != std::string::npos);
  CAF_CHECK(csp.find("frame-ancestors 'none'") != std::string::npos);
  CAF_CHECK(csp.find("unsafe") == std::string::npos);
}

CAF_TEST(the compiled in app has its pages) {
  web_app app{"", web_csp({})};
  http_response res;
  CAF_REQUIRE(app.answer("/", res));
  CAF_CHECK_EQUAL(res.status, 200u);
  CAF_CHECK(res.body.find("<html") != std::string::npos);
  CAF_CHECK(res.csp == app.csp());
  CAF_REQUIRE(app.answer("/admin", res));
  CAF_CHECK_EQUAL(res.status, 200u);
  CAF_REQUIRE(app.answer("/web/nothing-here.js", res));
  CAF_CHECK_EQUAL(res.status, 404u);
  CAF_CHECK(res.csp.empty());
  CAF_REQUIRE(app.answer("/web/../x.js", res));
  CAF_CHECK_EQUAL(res.status, 404u);
  CAF_CHECK(!app.answer("/jobs", res));
}

CAF_TEST(a web dir is read on each request) {
  auto dir = vf::testing::temp_dir("web-app");
  std::ofstream{dir + "/index.html"} << "first";
  web_app app{dir, web_csp({})};
  http_response res;
  CAF_REQUIRE(app.answer("/", res));
  CAF_CHECK(res.body == "first");
  std::ofstream{dir + "/index.html"} << "second";
  CAF_REQUIRE(app.answer("/", res));
  CAF_CHECK(res.body == "second");
  CAF_REQUIRE(app.answer("/admin", res));
  CAF_CHECK_EQUAL(res.status, 404u);
  std::filesystem::remove_all(dir);
}
