#define CAF_SUITE adapters.http_routes

#include "vf_test.hpp"

#include "vf/adapters/http/job_feed.hpp"
#include "vf/adapters/http/route_table.hpp"
#include "vf/adapters/http/routes.hpp"

#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

using namespace vf::adapters::http;

namespace {

void nop(call&) {
  // nop
}

void other(call&) {
  // nop
}

// Returns why the table of `xs` was refused, or an empty string.
std::string refusal(const std::vector<route_entry>& xs) {
  try {
    route_table table{xs};
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return {};
}

bool contains(const std::string& x, const std::string& y) {
  return x.find(y) != std::string::npos;
}

api_config with_webhook() {
  api_config cfg;
  cfg.webhook_token = "secret";
  return cfg;
}

// Returns the label of the route `path` matches (and its parameter).
route label_of(const route_table& table, std::string_view path,
               std::string_view* param = nullptr) {
  std::string_view p;
  std::string_view p2;
  auto res = table.match(path, p, p2);
  if (param != nullptr)
    *param = p;
  return res != nullptr ? res->label : route::unmatched;
}

} // namespace

// A route without a handler does not compile: there is no constructor that
// leaves it out (checked here as well as next to the type).
static_assert(!std::is_default_constructible<route_entry>::value);
static_assert(!std::is_constructible<route_entry, http_method, std::string_view,
                                     access>::value);
static_assert(std::is_constructible<route_entry, http_method, std::string_view,
                                    access, handler_fn>::value);

CAF_TEST(the API table is valid and labels every route) {
  route_table table{api_routes(with_webhook())};
  // Every label but `web` (the router serves the app before the table)
  // and `unmatched`.
  CAF_CHECK_EQUAL(table.size(), route_count - 2);
  for (size_t i = 0; i + 1 < route_count; ++i) {
    auto r = static_cast<route>(i);
    if (r == route::web)
      continue;
    std::string path{route_pattern(r)};
    // A concrete path for the pattern: any id in place of the parameter.
    for (auto name : {"{id}", "{job_id}", "{name}"})
      if (auto pos = path.find(name); pos != std::string::npos)
        path.replace(pos, std::string_view{name}.size(), "0c4a7e2f");
    CAF_CHECK_EQUAL(label_of(table, path), r);
  }
}

CAF_TEST(literal segments win over a parameter) {
  route_table table{api_routes(with_webhook())};
  std::string_view param;
  CAF_CHECK_EQUAL(label_of(table, "/dlq/report", &param), route::dlq_report);
  CAF_CHECK_EQUAL(param, "");
  CAF_CHECK_EQUAL(label_of(table, "/dlq/redrive"), route::dlq_redrive);
  CAF_CHECK_EQUAL(label_of(table, "/dlq/abc", &param), route::dlq_item);
  CAF_CHECK_EQUAL(param, "abc");
  CAF_CHECK_EQUAL(label_of(table, "/jobs/abc/result", &param),
                  route::job_result);
  CAF_CHECK_EQUAL(param, "abc");
}

CAF_TEST(a pattern may have two parameters) {
  route_table table{api_routes(with_webhook())};
  std::string_view param;
  std::string_view param2;
  auto res = table.match("/jobs/abc/download/720p", param, param2);
  CAF_REQUIRE(res != nullptr);
  CAF_CHECK_EQUAL(res->label, route::job_download);
  CAF_CHECK_EQUAL(param, "abc");
  CAF_CHECK_EQUAL(param2, "720p");
  CAF_CHECK(table.match("/jobs/abc/download/", param, param2) == nullptr);
  CAF_CHECK(table.match("/jobs/abc/download", param, param2) == nullptr);
  CAF_CHECK(table.match("/jobs/abc/download/a/b", param, param2) == nullptr);
}

CAF_TEST(paths that name no route do not match) {
  route_table table{api_routes(with_webhook())};
  for (auto path : {"", "jobs", "/", "/jobs/", "/jobs//result", "/jobs/a/",
                    "/jobs/a/b", "/dlq/", "/dlq/a/b", "/dlq/report/x", "//jobs",
                    "/Jobs", "/healthz/", "/cluster"})
    CAF_CHECK_EQUAL(label_of(table, path), route::unmatched);
}

CAF_TEST(the webhook exists only with a secret) {
  route_table open{api_routes(api_config{})};
  CAF_CHECK_EQUAL(label_of(open, "/minio/webhook"), route::unmatched);
  route_table closed{api_routes(with_webhook())};
  CAF_CHECK_EQUAL(label_of(closed, "/minio/webhook"), route::webhook);
}

CAF_TEST(methods and access come from the entries) {
  route_table table{api_routes(with_webhook())};
  std::string_view param;
  std::string_view param2;
  auto item = table.match("/dlq/x", param, param2);
  CAF_REQUIRE(item != nullptr);
  CAF_CHECK_EQUAL(item->allow, "GET, DELETE");
  CAF_CHECK(item->who[static_cast<size_t>(http_method::del)] == access::admin);
  auto health = table.match("/healthz", param, param2);
  CAF_REQUIRE(health != nullptr);
  CAF_CHECK(health->unlimited);
  CAF_CHECK(health->handlers[static_cast<size_t>(http_method::post)]
            == nullptr);
  auto login = table.match("/auth/login", param, param2);
  CAF_REQUIRE(login != nullptr);
  CAF_CHECK(!login->unlimited);
  CAF_CHECK_EQUAL(login->allow, "POST");
}

CAF_TEST(a route without a handler is refused at start) {
  auto why = refusal({{http_method::get, "/healthz", access::open, nullptr}});
  CAF_CHECK(contains(why, "GET /healthz: no handler"));
}

CAF_TEST(a route declared twice is refused) {
  auto why = refusal({{http_method::get, "/healthz", access::open, nop},
                      {http_method::get, "/healthz", access::open, other}});
  CAF_CHECK(contains(why, "GET /healthz: declared twice"));
  CAF_CHECK(refusal({{http_method::get, "/healthz", access::open, nop},
                     {http_method::post, "/healthz", access::open, other}})
              .empty());
}

CAF_TEST(malformed patterns are refused) {
  for (auto pattern :
       {"", "/", "healthz", "/healthz/", "//healthz", "/jobs/{}", "/jobs/{ID}",
        "/jobs/{id", "/jobs/{a}/{b}/{c}", "/Jobs", "/jobs/a b"}) {
    auto why = refusal({{http_method::get, pattern, access::open, nop}});
    CAF_CHECK(contains(why, "malformed pattern"));
  }
}

CAF_TEST(a pattern without a metric label is refused) {
  auto why = refusal({{http_method::get, "/jobs2", access::open, nop}});
  CAF_CHECK(contains(why, "no metric label"));
}

CAF_TEST(patterns that match the same paths are refused) {
  auto why = refusal({{http_method::get, "/dlq/{job_id}", access::admin, nop},
                      {http_method::get, "/jobs/{id}", access::user, nop},
                      {http_method::del, "/dlq/{id}", access::admin, nop}});
  CAF_CHECK(contains(why, "DELETE /dlq/{id}: matches the same paths as "
                          "/dlq/{job_id}"));
}

CAF_TEST(monitoring and other access do not mix on one pattern) {
  auto why = refusal({{http_method::get, "/metrics", access::monitoring, nop},
                      {http_method::post, "/metrics", access::admin, nop}});
  CAF_CHECK(contains(why, "POST /metrics: monitoring routes"));
}

CAF_TEST(only methods the API tells apart) {
  auto why = refusal({{http_method::other, "/healthz", access::open, nop}});
  CAF_CHECK(contains(why, "not a method"));
}

// -- live progress: event ids and event data (job_feed.hpp) -------------------

CAF_TEST(an event id says where a resumed stream goes on) {
  auto start = parse_event_id("");
  CAF_REQUIRE(start);
  CAF_CHECK_EQUAL(start->seq, 0u);
  CAF_CHECK(start->sample.empty());
  CAF_CHECK(!start->done);
  auto state = parse_event_id("42");
  CAF_REQUIRE(state);
  CAF_CHECK_EQUAL(state->seq, 42u);
  CAF_CHECK(state->sample.empty());
  auto sample = parse_event_id("42.0a1b2c3d");
  CAF_REQUIRE(sample);
  CAF_CHECK_EQUAL(sample->seq, 42u);
  CAF_CHECK_EQUAL(sample->sample, "42.0a1b2c3d");
  auto done = parse_event_id("7.done");
  CAF_REQUIRE(done);
  CAF_CHECK_EQUAL(done->seq, 7u);
  CAF_CHECK(done->done);
  // Anything this server never sends is refused, not guessed at.
  for (auto bad : {"abc", "-1", "4 2", "42.", ".42", "42.0A1B2C3D", "42.abc",
                   "42.0a1b2c3d4", "1.2.3", "42.DONE", "99999999999999999999",
                   "42\n", "0x10"})
    if (parse_event_id(bad))
      CAF_FAIL("accepted " << bad);
}

CAF_TEST(a sample id is its state and a digest of its data) {
  auto a = sample_id(5, R"({"percent":10})");
  auto b = sample_id(5, R"({"percent":11})");
  auto c = sample_id(6, R"({"percent":10})");
  CAF_CHECK_NOT_EQUAL(a, b);
  CAF_CHECK_NOT_EQUAL(a, c);
  CAF_CHECK_EQUAL(a, sample_id(5, R"({"percent":10})"));
  CAF_CHECK_EQUAL(a.substr(0, 2), "5.");
  CAF_CHECK_EQUAL(a.size(), 10u);
  // Every id the feed makes parses back to itself.
  auto back = parse_event_id(a);
  CAF_REQUIRE(back);
  CAF_CHECK_EQUAL(back->seq, 5u);
  CAF_CHECK_EQUAL(back->sample, a);
}

CAF_TEST(state and done events carry the documented fields on one line) {
  vf::messages::job_event ev;
  ev.seq = 3;
  ev.status = vf::messages::job_status::failed;
  ev.series = 1;
  ev.at = 1795266121000;
  ev.error_code = vf::messages::errc::bad_media;
  auto state = state_event_data(ev);
  CAF_CHECK_EQUAL(state, R"({"at":"2026-11-21T13:02:01.000Z","error_code":)"
                         R"("bad_media","series":1,"status":"FAILED"})");
  vf::messages::job j;
  j.id = "j1";
  j.status = vf::messages::job_status::succeeded;
  CAF_CHECK_EQUAL(done_event_data(j),
                  R"({"result":"/jobs/j1/result","status":"SUCCEEDED"})");
  j.status = vf::messages::job_status::failed;
  j.error_code = vf::messages::errc::bad_media;
  j.error_message = "line one\nline two \xff";
  auto failed = done_event_data(j);
  // One line (SSE data), bytes that are no UTF-8 replaced.
  CAF_CHECK_EQUAL(failed.find('\n'), std::string::npos);
  CAF_CHECK(contains(failed, R"("result":null)"));
  CAF_CHECK(contains(failed, R"("error_code":"bad_media")"));
  CAF_CHECK(contains(failed, R"(line one\nline two)"));
}
