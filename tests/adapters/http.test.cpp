#define CAF_SUITE adapters.http

#include "vf_test.hpp"
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>
#include <prometheus/registry.h>

#include "caf/actor_system.hpp"
#include "caf/send.hpp"
#include "caf/stateful_actor.hpp"
#include "caf/typed_event_based_actor.hpp"

#include "vf/adapters/http/api_server.hpp"
#include "vf/adapters/http/json_views.hpp"
#include "vf/adapters/http/jwt.hpp"
#include "vf/messages/atoms.hpp"
#include "vf/messages/errc.hpp"

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace vf::adapters::http;
using namespace vf::messages;
using json = nlohmann::json;
namespace atoms = vf::atoms;

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

// -- fake domain --------------------------------------------------------------

/// Jobs shared by the fake registry and orchestrator (and the test).
struct fake_store {
  std::mutex mtx;
  std::map<std::string, job> jobs;
  std::vector<std::string> order;
  int next = 0;
};

using store_ptr = std::shared_ptr<fake_store>;

struct registry_state {
  /// Requests for job "hang": never answered (timeout tests).
  std::vector<caf::typed_response_promise<job>> hung;
};

job_registry_actor::behavior_type
fake_registry(job_registry_actor::stateful_pointer<registry_state> self,
              store_ptr store) {
  return {
    [=](atoms::create, job_request& req) -> caf::result<job> {
      if (req.filename.empty() || req.filename.find("..") != std::string::npos
          || req.filename.find('/') != std::string::npos)
        return make_error(errc::invalid_argument,
                          "filename must be a plain file name without '/' "
                          "or '..'");
      std::lock_guard<std::mutex> guard{store->mtx};
      job j;
      j.id = "job-" + std::to_string(++store->next);
      j.owner = req.owner;
      j.filename = req.filename;
      j.content_type = req.content_type;
      j.bucket = "uploads";
      j.key = "uploads/" + j.id + "/" + req.filename;
      j.created_at = 1'795'266'120'123; // 2026-11-21T13:02:00.123Z
      j.updated_at = j.created_at + store->next;
      store->jobs.emplace(j.id, j);
      store->order.push_back(j.id);
      return j;
    },
    [=](atoms::get, const std::string& id) -> caf::result<job> {
      if (id == "hang") {
        auto rp = self->make_response_promise<job>();
        self->state.hung.push_back(rp);
        return rp;
      }
      if (id == "boom")
        return make_error(errc::internal, "a bug");
      std::lock_guard<std::mutex> guard{store->mtx};
      auto i = store->jobs.find(id);
      if (i == store->jobs.end())
        return make_error(errc::not_found);
      return i->second;
    },
    [=](atoms::history, uint32_t limit) -> caf::result<std::vector<job>> {
      if (limit < 1 || limit > 200)
        return make_error(errc::invalid_argument, "limit out of range");
      std::lock_guard<std::mutex> guard{store->mtx};
      std::vector<job> result;
      for (auto i = store->order.rbegin();
           i != store->order.rend() && result.size() < limit; ++i)
        result.push_back(store->jobs[*i]);
      return result;
    },
    [=](atoms::get_result, const std::string& id) -> caf::result<job_result> {
      std::lock_guard<std::mutex> guard{store->mtx};
      auto i = store->jobs.find(id);
      if (i == store->jobs.end())
        return make_error(errc::not_found);
      if (i->second.status != job_status::succeeded)
        return make_error(errc::conflict);
      return job_result{id, R"({"format":{"duration":"1.5"},"streams":[]})",
                        "a short clip", 1'795'266'121'000};
    },
    [=](atoms::counts) {
      std::lock_guard<std::mutex> guard{store->mtx};
      status_counts result(job_status_count, 0);
      for (auto& kvp : store->jobs)
        ++result[static_cast<size_t>(kvp.second.status)];
      return result;
    },
  };
}

orchestrator_actor::behavior_type fake_orchestrator(store_ptr store) {
  return {
    [=](atoms::created, object_event& ev) -> caf::result<bool> {
      // Key shape: uploads/<job id>/<filename>.
      auto& key = ev.object.key;
      auto slash = key.find('/', 8);
      if (key.compare(0, 8, "uploads/") != 0 || slash == std::string::npos)
        return make_error(errc::invalid_argument, "not a job key");
      if (key.find("fail") != std::string::npos)
        return make_error(errc::storage_unavailable, "store is down");
      std::lock_guard<std::mutex> guard{store->mtx};
      auto i = store->jobs.find(key.substr(8, slash - 8));
      if (i == store->jobs.end())
        return make_error(errc::not_found);
      auto& j = i->second;
      if (j.object.version == ev.object.version)
        return false;
      j.object = ev.object;
      j.status = job_status::submitted;
      return true;
    },
    [=](atoms::cancel, const std::string& id) -> caf::result<job> {
      std::lock_guard<std::mutex> guard{store->mtx};
      auto i = store->jobs.find(id);
      if (i == store->jobs.end())
        return make_error(errc::not_found);
      if (is_terminal(i->second.status))
        return make_error(errc::conflict,
                          "job is already " + to_string(i->second.status));
      i->second.status = job_status::cancelled;
      return i->second;
    },
    [=](atoms::recover) { return uint64_t{0}; },
    [=](atoms::retry, const std::string&, uint64_t) {},
  };
}

dispatcher_actor::behavior_type fake_dispatcher() {
  return {
    [=](atoms::submit, const task&) -> caf::result<task_outcome> {
      return make_error(errc::internal);
    },
    [=](atoms::join, const worker_actor&, const worker_info&) { return true; },
    [=](atoms::stats) {
      return dispatcher_stats{3, 2, 1, 0};
    },
  };
}

/// Test double of the minio adapter's parser: `{"Records": [{"key", "version",
/// "event"?}]}`; records whose event is not "put" are ignored.
caf::expected<parsed_events> fake_parse(std::string_view body) {
  auto doc = json::parse(body);
  if (!doc.is_object() || !doc.contains("Records")
      || !doc["Records"].is_array())
    return make_error(errc::invalid_argument,
                      "not a MinIO notification: no Records array");
  parsed_events result;
  for (auto& rec : doc["Records"]) {
    if (rec.value("event", "put") != "put") {
      ++result.ignored;
      continue;
    }
    object_event ev;
    ev.name = "s3:ObjectCreated:Put";
    ev.source = "minio";
    ev.object.bucket = "uploads";
    ev.object.key = rec.at("key").get<std::string>();
    ev.object.version = rec.at("version").get<std::string>();
    ev.object.etag = "etag-" + ev.object.version;
    ev.object.size = 1234;
    result.events.push_back(std::move(ev));
  }
  return result;
}

// -- client -------------------------------------------------------------------

struct reply {
  unsigned status = 0;
  std::map<std::string, std::string> headers;
  std::string body;
  bool keep_alive = false;

  json doc() const {
    return json::parse(body, nullptr, false);
  }

  std::string header(const std::string& name) const {
    auto i = headers.find(name);
    return i == headers.end() ? std::string{} : i->second;
  }
};

using header_list = std::vector<std::pair<std::string, std::string>>;

reply read_reply(tcp::socket& sock, boost::beast::flat_buffer& buf) {
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(64 << 20);
  bhttp::read(sock, buf, parser);
  auto& res = parser.get();
  reply out;
  out.status = res.result_int();
  for (auto& f : res)
    out.headers[std::string{f.name_string()}] = std::string{f.value()};
  out.body = res.body();
  out.keep_alive = res.keep_alive();
  return out;
}

/// A keep-alive connection to the server.
class client {
public:
  explicit client(uint16_t port) : sock_(ioc_) {
    sock_.connect({asio::ip::make_address("127.0.0.1"), port});
  }

  reply call(bhttp::verb method, const std::string& target,
             const std::string& body = {}, const header_list& headers = {}) {
    bhttp::request<bhttp::string_body> req{method, target, 11};
    req.set(bhttp::field::host, "127.0.0.1");
    for (auto& [k, v] : headers)
      req.set(k, v);
    if (!body.empty() || method == bhttp::verb::post) {
      req.set(bhttp::field::content_type, "application/json");
      req.body() = body;
      req.prepare_payload();
    }
    bhttp::write(sock_, req);
    return read_reply(sock_, buf_);
  }

  /// Sends raw bytes and reads one response.
  reply raw(const std::string& bytes) {
    asio::write(sock_, asio::buffer(bytes));
    return read_reply(sock_, buf_);
  }

  /// Returns whether the server closed the connection (EOF or reset).
  bool closed_by_peer() {
    char c;
    boost::system::error_code ec;
    sock_.read_some(asio::buffer(&c, 1), ec);
    return ec == asio::error::eof || ec == asio::error::connection_reset;
  }

  tcp::socket& socket() {
    return sock_;
  }

private:
  asio::io_context ioc_;
  tcp::socket sock_;
  boost::beast::flat_buffer buf_;
};

header_list bearer(const std::string& token) {
  return {{"Authorization", "Bearer " + token}};
}

constexpr const char* secret = "test-secret-0123456789abcdef0123456789";

// -- fixture ------------------------------------------------------------------

struct fixture {
  vf::testing::config cfg;
  caf::actor_system sys{cfg};
  store_ptr store = std::make_shared<fake_store>();
  std::atomic<int64_t> now{1'800'000'000};
  std::shared_ptr<prometheus::Registry> registry
    = std::make_shared<prometheus::Registry>();
  api_handles handles;
  std::unique_ptr<api_server> server;
  std::vector<std::string> logs;
  std::mutex logs_mtx;

  fixture() {
    handles.registry = sys.spawn(fake_registry, store);
    handles.orchestrator = sys.spawn(fake_orchestrator, store);
    handles.dispatcher = sys.spawn(fake_dispatcher);
    server
      = std::make_unique<api_server>(sys, make_config(), handles, registry);
    auto err = server->start();
    CAF_REQUIRE(!err);
    CAF_REQUIRE_NOT_EQUAL(server->port(), 0);
  }

  ~fixture() {
    server->stop();
    server.reset();
    caf::anon_send_exit(handles.registry, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(handles.orchestrator, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(handles.dispatcher, caf::exit_reason::user_shutdown);
  }

  api_config make_config() {
    api_config c;
    c.port = 0;
    c.threads = 2;
    c.jwt_secret = secret;
    c.users = {{"alice", "wonderland", "user"},
               {"bob", "builder", "user"},
               {"root", "toor", "admin"}};
    c.max_body_bytes = 4096;
    c.presign_upload = [](const job& j) {
      return "http://store.local/" + j.bucket + "/" + j.key
             + "?X-Amz-Signature=fake";
    };
    c.parse_webhook = fake_parse;
    c.webhook_token = "hook-secret";
    c.now = [this] {
      return now.load();
    };
    c.log = [this](const std::string& line) {
      std::lock_guard<std::mutex> guard{logs_mtx};
      logs.push_back(line);
    };
    c.request_timeout = std::chrono::milliseconds{300};
    c.shutdown_grace = std::chrono::milliseconds{2000};
    return c;
  }

  reply call(bhttp::verb method, const std::string& target,
             const std::string& body = {}, const header_list& headers = {}) {
    client c{server->port()};
    return c.call(method, target, body, headers);
  }

  std::string login(const std::string& user, const std::string& password) {
    auto r = call(bhttp::verb::post, "/auth/login",
                  json{{"username", user}, {"password", password}}.dump());
    CAF_REQUIRE_EQUAL(r.status, 200u);
    return r.doc()["access_token"].get<std::string>();
  }

  json create_job(const std::string& token,
                  const std::string& filename = "movie.mp4") {
    auto r = call(bhttp::verb::post, "/jobs",
                  json{{"filename", filename}}.dump(), bearer(token));
    CAF_REQUIRE_EQUAL(r.status, 201u);
    return r.doc();
  }

  void set_status(const std::string& id, job_status status) {
    std::lock_guard<std::mutex> guard{store->mtx};
    store->jobs[id].status = status;
  }
};

bool is_error(const reply& r, unsigned status, const std::string& code) {
  auto doc = r.doc();
  auto ok = r.status == status && doc.is_object() && doc.size() == 2
            && doc.value("code", "") == code && doc.contains("detail")
            && doc["detail"].is_string()
            && !doc["detail"].get<std::string>().empty()
            && r.header("Content-Type") == "application/json";
  if (!ok)
    CAF_MESSAGE("unexpected reply: " << r.status << " " << r.body);
  return ok;
}

bool contains(const std::string& str, const std::string& what) {
  return str.find(what) != std::string::npos;
}

std::string detail(const reply& r) {
  return r.doc().value("detail", "");
}

} // namespace

CAF_TEST_FIXTURE_SCOPE(http_tests, fixture)

CAF_TEST(healthz unknown routes and wrong methods) {
  auto r = call(bhttp::verb::get, "/healthz");
  CAF_CHECK_EQUAL(r.status, 200u);
  CAF_CHECK_EQUAL(r.doc(), json({{"status", "ok"}}));
  CAF_CHECK(is_error(call(bhttp::verb::get, "/nope"), 404, "not_found"));
  CAF_CHECK(is_error(call(bhttp::verb::get, "/jobs/"), 404, "not_found"));
  CAF_CHECK(is_error(call(bhttp::verb::get, "/jobs/x/y"), 404, "not_found"));
  r = call(bhttp::verb::get, "/auth/login");
  CAF_CHECK(is_error(r, 405, "method_not_allowed"));
  CAF_CHECK_EQUAL(r.header("Allow"), "POST");
  r = call(bhttp::verb::delete_, "/jobs/abc");
  CAF_CHECK(is_error(r, 405, "method_not_allowed"));
  CAF_CHECK_EQUAL(r.header("Allow"), "GET");
  r = call(bhttp::verb::post, "/healthz", "{}");
  CAF_CHECK_EQUAL(r.header("Allow"), "GET");
  CAF_CHECK_EQUAL(r.status, 405u);
}

CAF_TEST(login) {
  auto r = call(bhttp::verb::post, "/auth/login",
                R"({"username":"alice","password":"wonderland"})");
  CAF_REQUIRE_EQUAL(r.status, 200u);
  auto doc = r.doc();
  CAF_CHECK_EQUAL(doc["token_type"], "bearer");
  CAF_CHECK_EQUAL(doc["expires_in"], 3600);
  jwt_codec codec{secret};
  auto claims = codec.verify(doc["access_token"].get<std::string>(), now);
  CAF_REQUIRE(claims);
  CAF_CHECK_EQUAL(claims->sub, "alice");
  CAF_CHECK_EQUAL(claims->role, "user");
  CAF_CHECK_EQUAL(claims->iat, now.load());
  CAF_CHECK_EQUAL(claims->exp, now.load() + 3600);
  // Wrong credentials.
  CAF_CHECK(is_error(call(bhttp::verb::post, "/auth/login",
                          R"({"username":"alice","password":"wonderlan"})"),
                     401, "unauthorized"));
  CAF_CHECK(is_error(call(bhttp::verb::post, "/auth/login",
                          R"({"username":"mallory","password":"x"})"),
                     401, "unauthorized"));
  // Bad input.
  r = call(bhttp::verb::post, "/auth/login", R"({"username":"alice",)");
  CAF_CHECK(is_error(r, 400, "invalid_json"));
  CAF_CHECK(contains(detail(r), "body is not valid JSON"));
  CAF_CHECK(
    is_error(call(bhttp::verb::post, "/auth/login", R"({"username":"alice"})"),
             422, "invalid_argument"));
  CAF_CHECK(is_error(call(bhttp::verb::post, "/auth/login",
                          R"({"username":"alice","password":5})"),
                     422, "invalid_argument"));
  CAF_CHECK(is_error(call(bhttp::verb::post, "/auth/login", "[]"), 422,
                     "invalid_argument"));
  CAF_CHECK(
    is_error(call(bhttp::verb::post, "/auth/login", ""), 400, "invalid_json"));
}

CAF_TEST(bearer authentication failures) {
  auto body = R"({"filename":"a.mp4"})";
  auto check_401 = [&](const header_list& headers, const std::string& what) {
    auto r = call(bhttp::verb::post, "/jobs", body, headers);
    CAF_CHECK(is_error(r, 401, "unauthorized"));
    CAF_CHECK_EQUAL(r.header("WWW-Authenticate"), "Bearer");
    CAF_CHECK(contains(detail(r), what));
  };
  check_401({}, "missing bearer token");
  check_401({{"Authorization", "Basic YWxpY2U6d29uZGVybGFuZA=="}}, "Bearer");
  check_401(bearer("garbage"), "malformed");
  jwt_codec other{"another-secret"};
  check_401(bearer(other.sign({"alice", "admin", now, now + 60, 0})),
            "signature");
  jwt_codec ours{secret};
  check_401(bearer(ours.sign({"alice", "user", now - 100, now, 0})), "expired");
  check_401(bearer(ours.sign({"alice", "user", now, now + 100, now + 50})),
            "not valid yet");
  // alg "none" with our claims.
  auto good = ours.sign({"alice", "user", now, now + 100, 0});
  auto dot1 = good.find('.');
  auto dot2 = good.find('.', dot1 + 1);
  auto none = std::string{"eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0"}
              // {"alg":"none","typ":"JWT"}
              + good.substr(dot1, dot2 - dot1) + ".";
  check_401(bearer(none), "alg");
  // A token that expires while in use.
  auto token = login("alice", "wonderland");
  CAF_CHECK_EQUAL(call(bhttp::verb::post, "/jobs", body, bearer(token)).status,
                  201u);
  now += 3600;
  check_401(bearer(token), "expired");
  // Every protected route checks.
  for (auto [verb, target] : std::vector<std::pair<bhttp::verb, std::string>>{
         {bhttp::verb::get, "/jobs/job-1"},
         {bhttp::verb::get, "/jobs/job-1/result"},
         {bhttp::verb::post, "/jobs/job-1/cancel"},
         {bhttp::verb::get, "/history"}}) {
    auto r = call(verb, target);
    CAF_CHECK(is_error(r, 401, "unauthorized"));
    CAF_CHECK_EQUAL(r.header("WWW-Authenticate"), "Bearer");
  }
}

CAF_TEST(create job) {
  auto token = login("alice", "wonderland");
  auto r = call(bhttp::verb::post, "/jobs",
                R"({"filename":"movie.mp4","content_type":"video/mp4"})",
                bearer(token));
  CAF_REQUIRE_EQUAL(r.status, 201u);
  auto doc = r.doc();
  CAF_CHECK_EQUAL(doc["job_id"], "job-1");
  CAF_CHECK_EQUAL(doc["s3_bucket"], "uploads");
  CAF_CHECK_EQUAL(doc["s3_key"], "uploads/job-1/movie.mp4");
  CAF_CHECK_EQUAL(doc["upload_url"], "http://store.local/uploads/uploads/"
                                     "job-1/movie.mp4?X-Amz-Signature=fake");
  CAF_CHECK_EQUAL(doc["expires_in"], 900);
  {
    std::lock_guard<std::mutex> guard{store->mtx};
    CAF_CHECK_EQUAL(store->jobs["job-1"].owner, "alice");
    CAF_CHECK_EQUAL(store->jobs["job-1"].content_type, "video/mp4");
  }
  auto post = [&](const std::string& body) {
    return call(bhttp::verb::post, "/jobs", body, bearer(token));
  };
  r = post(R"({"filename": )");
  CAF_CHECK(is_error(r, 400, "invalid_json"));
  CAF_CHECK_EQUAL(detail(r).rfind("body is not valid JSON", 0), 0u);
  CAF_CHECK(is_error(post("{}"), 422, "invalid_argument"));
  CAF_CHECK(is_error(post(R"({"filename":42})"), 422, "invalid_argument"));
  CAF_CHECK(is_error(post(R"({"filename":"a.mp4","content_type":7})"), 422,
                     "invalid_argument"));
  CAF_CHECK(is_error(post(R"(["a.mp4"])"), 422, "invalid_argument"));
  r = post(R"({"filename":"../x"})");
  CAF_CHECK(is_error(r, 422, "invalid_argument"));
  CAF_CHECK(contains(detail(r), "without '/'"));
  // Nesting deep enough to hurt a recursive parser.
  CAF_CHECK(is_error(post(std::string(4000, '[')), 400, "invalid_json"));
  // content_type is optional, null counts as absent.
  CAF_CHECK_EQUAL(post(R"({"filename":"b.mp4","content_type":null})").status,
                  201u);
}

CAF_TEST(body limit) {
  auto token = login("alice", "wonderland");
  auto big = json{{"filename", std::string(8000, 'a')}}.dump();
  auto r = call(bhttp::verb::post, "/jobs", big, bearer(token));
  CAF_CHECK(is_error(r, 413, "payload_too_large"));
  // Announced too large: answered before the body is sent.
  client c{server->port()};
  r = c.raw("POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n"
            "Authorization: Bearer "
            + token + "\r\n\r\n");
  CAF_CHECK(is_error(r, 413, "payload_too_large"));
  CAF_CHECK(!r.keep_alive);
  // Expect: 100-continue is honoured.
  client d{server->port()};
  auto body = std::string{R"({"filename":"c.mp4"})"};
  asio::write(d.socket(),
              asio::buffer("POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Length: "
                           + std::to_string(body.size())
                           + "\r\nExpect: 100-continue\r\nAuthorization: "
                             "Bearer "
                           + token + "\r\n\r\n"));
  std::string interim(25, '\0');
  asio::read(d.socket(), asio::buffer(interim));
  CAF_CHECK_EQUAL(interim, "HTTP/1.1 100 Continue\r\n\r\n");
  r = d.raw(body);
  CAF_CHECK_EQUAL(r.status, 201u);
}

CAF_TEST(get job) {
  auto token = login("alice", "wonderland");
  auto id = create_job(token)["job_id"].get<std::string>();
  auto r = call(bhttp::verb::get, "/jobs/" + id, "", bearer(token));
  CAF_REQUIRE_EQUAL(r.status, 200u);
  auto doc = r.doc();
  CAF_CHECK_EQUAL(doc["job_id"], id);
  CAF_CHECK_EQUAL(doc["status"], "AWAITING_UPLOAD");
  CAF_CHECK_EQUAL(doc["created_at"], "2026-11-21T13:02:00.123Z");
  CAF_CHECK_EQUAL(doc["updated_at"], "2026-11-21T13:02:00.124Z");
  CAF_CHECK_EQUAL(doc["s3_bucket"], "uploads");
  CAF_CHECK_EQUAL(doc["s3_key"], "uploads/" + id + "/movie.mp4");
  CAF_CHECK_EQUAL(doc["filename"], "movie.mp4");
  CAF_CHECK_EQUAL(doc["content_type"], "");
  CAF_CHECK_EQUAL(doc["attempts"], 0);
  CAF_CHECK_EQUAL(doc["step"], "");
  CAF_CHECK(doc["next_attempt_at"].is_null());
  CAF_CHECK(doc["error_code"].is_null());
  CAF_CHECK(doc["error_message"].is_null());
  CAF_CHECK(doc["object"].is_null());
  {
    std::lock_guard<std::mutex> guard{store->mtx};
    auto& j = store->jobs[id];
    j.next_attempt_at = 1'795'266'125'007;
    j.error_code = "timeout";
    j.error_message = "probe took \"too\" long";
    j.object = {"uploads", j.key, "v1", "etag-1", 99};
    j.attempts = 2;
    j.step = "probe";
  }
  doc = call(bhttp::verb::get, "/jobs/" + id, "", bearer(token)).doc();
  CAF_CHECK_EQUAL(doc["next_attempt_at"], "2026-11-21T13:02:05.007Z");
  CAF_CHECK_EQUAL(doc["error_code"], "timeout");
  CAF_CHECK_EQUAL(doc["error_message"], "probe took \"too\" long");
  CAF_CHECK_EQUAL(doc["object"],
                  json({{"version", "v1"}, {"etag", "etag-1"}, {"size", 99}}));
  CAF_CHECK_EQUAL(doc["attempts"], 2);
  CAF_CHECK_EQUAL(doc["step"], "probe");
  // Unknown, foreign, and as admin.
  CAF_CHECK(is_error(call(bhttp::verb::get, "/jobs/nope", "", bearer(token)),
                     404, "not_found"));
  auto bob = login("bob", "builder");
  CAF_CHECK(is_error(call(bhttp::verb::get, "/jobs/" + id, "", bearer(bob)),
                     404, "not_found"));
  auto root = login("root", "toor");
  CAF_CHECK_EQUAL(
    call(bhttp::verb::get, "/jobs/" + id, "", bearer(root)).status, 200u);
}

CAF_TEST(actor failures map to status codes) {
  auto token = login("alice", "wonderland");
  // No reply within request_timeout (300 ms here): 503, not a hang.
  auto r = call(bhttp::verb::get, "/jobs/hang", "", bearer(token));
  CAF_CHECK(is_error(r, 503, "timeout"));
  // An unexpected error is a bug: 500, and logged.
  r = call(bhttp::verb::get, "/jobs/boom", "", bearer(token));
  CAF_CHECK(is_error(r, 500, "internal"));
}

CAF_TEST(result) {
  auto token = login("alice", "wonderland");
  auto id = create_job(token)["job_id"].get<std::string>();
  auto target = "/jobs/" + id + "/result";
  auto r = call(bhttp::verb::get, target, "", bearer(token));
  CAF_CHECK(is_error(r, 409, "conflict"));
  CAF_CHECK(
    contains(detail(r), "job is not finished yet (status AWAITING_UPLOAD)"));
  set_status(id, job_status::succeeded);
  r = call(bhttp::verb::get, target, "", bearer(token));
  CAF_REQUIRE_EQUAL(r.status, 200u);
  auto doc = r.doc();
  CAF_CHECK_EQUAL(doc["job_id"], id);
  CAF_CHECK_EQUAL(doc["metadata"]["format"]["duration"], "1.5");
  CAF_CHECK(doc["metadata"]["streams"].is_array());
  CAF_CHECK_EQUAL(doc["summary"], "a short clip");
  CAF_CHECK_EQUAL(doc["created_at"], "2026-11-21T13:02:01.000Z");
  CAF_CHECK(
    is_error(call(bhttp::verb::get, "/jobs/nope/result", "", bearer(token)),
             404, "not_found"));
  auto bob = login("bob", "builder");
  CAF_CHECK(is_error(call(bhttp::verb::get, target, "", bearer(bob)), 404,
                     "not_found"));
}

CAF_TEST(cancel) {
  auto token = login("alice", "wonderland");
  auto id = create_job(token)["job_id"].get<std::string>();
  auto target = "/jobs/" + id + "/cancel";
  auto bob = login("bob", "builder");
  CAF_CHECK(is_error(call(bhttp::verb::post, target, "", bearer(bob)), 404,
                     "not_found"));
  auto r = call(bhttp::verb::post, target, "", bearer(token));
  CAF_REQUIRE_EQUAL(r.status, 200u);
  auto doc = r.doc(); // the check macros keep references: no temporaries
  CAF_CHECK_EQUAL(doc["status"], "CANCELLED");
  CAF_CHECK_EQUAL(doc["job_id"], id);
  r = call(bhttp::verb::post, target, "", bearer(token));
  CAF_CHECK(is_error(r, 409, "conflict"));
  CAF_CHECK(contains(detail(r), "CANCELLED"));
  CAF_CHECK(
    is_error(call(bhttp::verb::post, "/jobs/nope/cancel", "", bearer(token)),
             404, "not_found"));
  CAF_CHECK_EQUAL(call(bhttp::verb::get, target, "", bearer(token)).status,
                  405u);
}

CAF_TEST(history) {
  auto alice = login("alice", "wonderland");
  auto bob = login("bob", "builder");
  for (int i = 0; i < 3; ++i)
    create_job(alice, "a" + std::to_string(i) + ".mp4");
  create_job(bob, "b.mp4");
  auto r = call(bhttp::verb::get, "/history", "", bearer(alice));
  CAF_REQUIRE_EQUAL(r.status, 200u);
  auto items = r.doc()["items"];
  CAF_REQUIRE_EQUAL(items.size(), 3u);
  CAF_CHECK_EQUAL(items[0]["filename"], "a2.mp4"); // newest first
  CAF_CHECK_EQUAL(items[2]["filename"], "a0.mp4");
  CAF_CHECK_EQUAL(items[0]["status"], "AWAITING_UPLOAD");
  r = call(bhttp::verb::get, "/history?limit=2", "", bearer(alice));
  // Bob's newest job takes one of the two slots; alice sees only hers.
  CAF_CHECK_EQUAL(r.doc()["items"].size(), 1u);
  auto root = login("root", "toor");
  r = call(bhttp::verb::get, "/history?x=1&limit=200", "", bearer(root));
  CAF_CHECK_EQUAL(r.doc()["items"].size(), 4u);
  for (auto bad : {"0", "201", "abc", "", "-1", "1e2", "99999"}) {
    r = call(bhttp::verb::get, std::string{"/history?limit="} + bad, "",
             bearer(alice));
    CAF_CHECK(is_error(r, 422, "invalid_argument"));
  }
}

CAF_TEST(webhook) {
  auto token = login("alice", "wonderland");
  auto a = create_job(token)["job_id"].get<std::string>();
  auto b = create_job(token)["job_id"].get<std::string>();
  auto hook = header_list{{"Authorization", "Bearer hook-secret"}};
  auto post = [&](const std::string& body, const header_list& h) {
    return call(bhttp::verb::post, "/minio/webhook", body, h);
  };
  auto r = post(R"({"Records":[]})", {});
  CAF_CHECK(is_error(r, 401, "unauthorized"));
  CAF_CHECK(
    is_error(post(R"({"Records":[]})", bearer("wrong")), 401, "unauthorized"));
  CAF_CHECK(is_error(post("{nope", hook), 400, "invalid_json"));
  r = post(R"({"EventName":"x"})", hook);
  CAF_CHECK(is_error(r, 422, "invalid_argument"));
  CAF_CHECK(contains(detail(r), "no Records array"));
  // The parser throwing is bad input too, not a crash.
  r = post(R"({"Records":[{"nokey":1}]})", hook);
  CAF_CHECK(is_error(r, 422, "invalid_argument"));
  r = post(R"({"Records":[]})", hook);
  CAF_CHECK_EQUAL(r.status, 200u);
  CAF_CHECK_EQUAL(
    r.doc(),
    json(
      {{"accepted", 0}, {"duplicates", 0}, {"ignored", 0}, {"rejected", 0}}));
  auto records = json::array({
    {{"key", "uploads/" + a + "/movie.mp4"}, {"version", "v1"}},
    {{"key", "uploads/" + a + "/movie.mp4"}, {"version", "v1"}},
    {{"key", "uploads/" + b + "/movie.mp4"}, {"version", "v7"}},
    {{"key", "elsewhere/x"}, {"version", "v1"}},
    {{"key", "uploads/job-999/x.mp4"}, {"version", "v1"}},
    {{"key", "uploads/" + a + "/movie.mp4"}, {"event", "delete"}},
  });
  r = post(json{{"Records", records}}.dump(), hook);
  CAF_REQUIRE_EQUAL(r.status, 200u);
  // Both v1 events race: one is new work, the other its duplicate.
  CAF_CHECK_EQUAL(
    r.doc(),
    json(
      {{"accepted", 2}, {"duplicates", 1}, {"ignored", 1}, {"rejected", 2}}));
  auto job_a = call(bhttp::verb::get, "/jobs/" + a, "", bearer(token)).doc();
  CAF_CHECK_EQUAL(job_a["status"], "SUBMITTED");
  CAF_CHECK_EQUAL(job_a["object"]["version"], "v1");
  // A store failure makes MinIO redeliver.
  records = json::array({
    {{"key", "uploads/" + a + "/movie.mp4"}, {"version", "v2"}},
    {{"key", "uploads/" + b + "/fail.mp4"}, {"version", "v2"}},
  });
  r = post(json{{"Records", records}}.dump(), hook);
  CAF_CHECK(is_error(r, 503, "storage_unavailable"));
  // Counted by outcome.
  auto text = call(bhttp::verb::get, "/metrics").body;
  for (auto line : {
         R"(vidflow_object_events_total{outcome="accepted",source="minio"} 3)",
         R"(vidflow_object_events_total{outcome="duplicate",source="minio"} 1)",
         R"(vidflow_object_events_total{outcome="ignored",source="minio"} 1)",
         R"(vidflow_object_events_total{outcome="rejected",source="minio"} 2)",
         R"(vidflow_object_event_errors_total{source="minio"} 1)",
       })
    CAF_CHECK(contains(text, line));
}

CAF_TEST(metrics) {
  auto token = login("alice", "wonderland");
  auto id = create_job(token)["job_id"].get<std::string>();
  create_job(token);
  set_status(id, job_status::processing);
  call(bhttp::verb::get, "/jobs/" + id, "", bearer(token));
  call(bhttp::verb::get, "/nowhere/at/all");
  auto r = call(bhttp::verb::get, "/metrics");
  CAF_REQUIRE_EQUAL(r.status, 200u);
  CAF_CHECK(contains(r.header("Content-Type"), "text/plain"));
  auto& text = r.body;
  for (
    auto line : {
      "# TYPE vidflow_http_requests_total counter",
      "# TYPE vidflow_http_request_duration_seconds histogram",
      "# TYPE vidflow_object_events_total counter",
      R"(vidflow_http_requests_total{method="GET",route="/jobs/{id}",status="200"} 1)",
      R"(vidflow_http_requests_total{method="POST",route="/jobs",status="201"} 2)",
      R"(vidflow_http_requests_total{method="POST",route="/auth/login",status="200"} 1)",
      R"(vidflow_http_requests_total{method="GET",route="unmatched",status="404"} 1)",
      R"(vidflow_http_request_duration_seconds_bucket{route="/jobs",le="0.0001"})",
      R"(vidflow_http_request_duration_seconds_bucket{route="/jobs",le="10"})",
      R"(vidflow_jobs{status="AWAITING_UPLOAD"} 1)",
      R"(vidflow_jobs{status="PROCESSING"} 1)",
      R"(vidflow_jobs{status="SUCCEEDED"} 0)",
      "vidflow_queue_depth 3",
      "vidflow_leases 2",
      "vidflow_workers 1",
    })
    CAF_CHECK(contains(text, line));
  // Labels are patterns, never raw paths.
  CAF_CHECK(!contains(text, "/jobs/" + id));
  CAF_CHECK(!contains(text, "/nowhere"));
  // Outcomes of vidflow_object_events_total are the four of the webhook's
  // answer, nothing else.
  CAF_CHECK(!contains(text, R"(outcome="error")"));
}

CAF_TEST(limits on the request line and header) {
  client a{server->port()};
  auto r = a.raw("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: "
                 + std::string(20 * 1024, 'a') + "\r\n\r\n");
  CAF_CHECK(is_error(r, 431, "header_too_large"));
  CAF_CHECK(a.closed_by_peer());
  client b{server->port()};
  r = b.raw("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: "
            + std::string(64 * 1024, 'a') + "\r\n\r\n");
  CAF_CHECK(is_error(r, 431, "header_too_large"));
  client c{server->port()};
  r = c.raw("GET /healthz?" + std::string(9 * 1024, 'q')
            + " HTTP/1.1\r\nHost: x\r\n\r\n");
  CAF_CHECK(is_error(r, 414, "uri_too_long"));
  client d{server->port()};
  r = d.raw("BLAH /healthz HTTP/9.9 what\r\n\r\n");
  CAF_CHECK(is_error(r, 400, "bad_request"));
  client e{server->port()};
  r = e.raw("POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n"
            "Transfer-Encoding: chunked\r\n\r\nzz\r\n");
  CAF_CHECK_EQUAL(r.status, 400u);
  // The server survived all of it.
  CAF_CHECK_EQUAL(call(bhttp::verb::get, "/healthz").status, 200u);
}

CAF_TEST(keep alive and pipelining) {
  client c{server->port()};
  for (int i = 0; i < 5; ++i) {
    auto r = c.call(bhttp::verb::get, "/healthz");
    CAF_CHECK_EQUAL(r.status, 200u);
    CAF_CHECK(r.keep_alive);
  }
  auto two = std::string{"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"};
  asio::write(c.socket(), asio::buffer(two + two));
  boost::beast::flat_buffer buf;
  CAF_CHECK_EQUAL(read_reply(c.socket(), buf).status, 200u);
  CAF_CHECK_EQUAL(read_reply(c.socket(), buf).status, 200u);
  // HEAD: 405 announcing a length but sending no body keeps the framing.
  asio::write(c.socket(), asio::buffer(std::string{
                            "HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n"}));
  {
    bhttp::response_parser<bhttp::string_body> head;
    head.skip(true);
    bhttp::read(c.socket(), buf, head);
    CAF_CHECK_EQUAL(head.get().result_int(), 405u);
    CAF_CHECK_EQUAL(head.get()["Allow"], "GET");
    CAF_CHECK(head.get().body().empty());
  }
  CAF_CHECK_EQUAL(c.call(bhttp::verb::get, "/healthz").status, 200u);
  auto r = c.raw("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                 "\r\n");
  CAF_CHECK_EQUAL(r.status, 200u);
  CAF_CHECK(!r.keep_alive);
  CAF_CHECK(c.closed_by_peer());
}

CAF_TEST(concurrent clients) {
  auto token = login("alice", "wonderland");
  constexpr int clients = 8;
  constexpr int requests = 150;
  std::atomic<int> created{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < clients; ++i)
    threads.emplace_back([&] {
      client c{server->port()};
      for (int j = 0; j < requests; ++j)
        if (c.call(bhttp::verb::post, "/jobs", R"({"filename":"x.mp4"})",
                   bearer(token))
              .status
            == 201)
          ++created;
    });
  for (auto& t : threads)
    t.join();
  CAF_CHECK_EQUAL(created.load(), clients * requests);
  std::lock_guard<std::mutex> guard{store->mtx};
  CAF_CHECK_EQUAL(store->jobs.size(), static_cast<size_t>(clients * requests));
}

CAF_TEST(graceful stop) {
  client idle{server->port()};
  CAF_CHECK_EQUAL(idle.call(bhttp::verb::get, "/healthz").status, 200u);
  auto port = server->port();
  auto t0 = std::chrono::steady_clock::now();
  server->stop();
  auto took = std::chrono::steady_clock::now() - t0;
  CAF_CHECK(took < std::chrono::seconds{1});
  CAF_CHECK(idle.closed_by_peer());
  boost::system::error_code ec;
  asio::io_context ioc;
  tcp::socket s{ioc};
  s.connect({asio::ip::make_address("127.0.0.1"), port}, ec);
  CAF_CHECK(ec);
  server->stop(); // idempotent
}

CAF_TEST(start errors name the setting or the address) {
  auto cfg = make_config();
  cfg.port = server->port();
  api_server taken{sys, cfg, handles, nullptr};
  auto err = taken.start();
  CAF_REQUIRE(err);
  CAF_CHECK(
    contains(message_of(err), "127.0.0.1:" + std::to_string(server->port())));
  cfg = make_config();
  cfg.jwt_secret.clear();
  api_server unkeyed{sys, cfg, handles, nullptr};
  err = unkeyed.start();
  CAF_REQUIRE(err);
  CAF_CHECK(contains(message_of(err), "jwt_secret"));
}

CAF_TEST_FIXTURE_SCOPE_END()

CAF_TEST(iso8601 and json strings) {
  CAF_CHECK_EQUAL(iso8601(1'795'266'120'123), "2026-11-21T13:02:00.123Z");
  CAF_CHECK_EQUAL(iso8601(0), "1970-01-01T00:00:00.000Z");
  CAF_CHECK_EQUAL(iso8601(-1), "1969-12-31T23:59:59.999Z");
  CAF_CHECK_EQUAL(iso8601(951'782'400'000), "2000-02-29T00:00:00.000Z");
  CAF_CHECK_EQUAL(iso8601(4'102'444'800'000), "2100-01-01T00:00:00.000Z");
  CAF_CHECK_EQUAL(iso8601(-62'135'596'800'000), "0001-01-01T00:00:00.000Z");
  std::string out;
  append_json_string(out,
                     std::string_view{"a\"b\\c\n\x01\xC3\xA9\xFF\xE2\x82", 12});
  CAF_CHECK_EQUAL(
    out,
    "\"a\\\"b\\\\c\\n\\u0001\xC3\xA9\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");
  CAF_CHECK(!json::parse(out, nullptr, false).is_discarded());
  auto err = error_json("not_found", "job 'x' not found");
  CAF_CHECK_EQUAL(err, R"({"detail":"job 'x' not found","code":"not_found"})");
}
