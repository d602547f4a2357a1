#define CAF_SUITE adapters.http

#include "vf_test.hpp"
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <prometheus/registry.h>

#include "caf/actor_system.hpp"
#include "caf/send.hpp"
#include "caf/stateful_actor.hpp"
#include "caf/typed_event_based_actor.hpp"

#include "vf/actors/admin_console.hpp"
#include "vf/adapters/http/api_server.hpp"
#include "vf/adapters/http/json_views.hpp"
#include "vf/adapters/http/jwt.hpp"
#include "vf/adapters/http/password_hash.hpp"
#include "vf/adapters/http/rate_limiter.hpp"
#include "vf/adapters/http/user_table.hpp"
#include "vf/messages/atoms.hpp"
#include "vf/messages/errc.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <unistd.h>
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
  /// Every filename the registry was asked for, byte for byte.
  std::vector<std::string> filenames;
  /// `counts` fails with storage_unavailable (a broken database).
  bool counts_fail = false;
  /// Attempt ledgers by job id.
  std::map<std::string, std::vector<attempt_record>> attempts;
  /// Dead letters by job id.
  std::map<std::string, dead_letter> dlq;
  /// What the dispatcher says of each job's tasks (`lease_of`).
  std::map<std::string, std::vector<task_progress>> live;
  /// `lease_of` fails (the dispatcher does not answer).
  bool live_fails = false;
  /// Stored outputs of results (the render step's JSON) by job id.
  std::map<std::string, std::string> outputs;
  /// Idempotency-Keys: owner + '\n' + key -> {job id, request hash}.
  std::map<std::string, std::pair<std::string, std::string>> keys;
  /// Every keyed request the registry got.
  std::vector<job_request> keyed;
  /// Every `await_end` the registry got: job id, ms.
  std::vector<std::pair<std::string, uint32_t>> awaited;
  /// `await_end` ends the job (SUCCEEDED) and answers true, as if it ended
  /// while the request waited; else it answers false (the wait ran out).
  bool end_while_waiting = true;
  /// Arguments of the last `dlq_list` and `analyze`.
  int64_t last_since = -1;
  uint32_t last_limit = 0;
  int64_t last_window = -1;
};

using store_ptr = std::shared_ptr<fake_store>;

struct registry_state {
  /// Requests for job "hang": never answered (timeout tests).
  std::vector<caf::typed_response_promise<job>> hung;
};

/// Stores the job `req` asks for, as the registry would (caller holds the
/// lock).
job add_job(fake_store& store, const job_request& req) {
  job j;
  j.id = "job-" + std::to_string(++store.next);
  j.owner = req.owner;
  j.filename = req.filename;
  j.content_type = req.content_type;
  j.priority = req.priority;
  j.outputs = req.outputs;
  j.bucket = "uploads";
  j.key = "uploads/" + j.id + "/" + req.filename;
  j.created_at = 1'795'266'120'123; // 2026-11-21T13:02:00.123Z
  j.updated_at = j.created_at + store.next;
  store.jobs.emplace(j.id, j);
  store.order.push_back(j.id);
  return j;
}

job_registry_actor::behavior_type
fake_registry(job_registry_actor::stateful_pointer<registry_state> self,
              store_ptr store) {
  return {
    [=](atoms::create, job_request& req) -> caf::result<job> {
      std::lock_guard<std::mutex> guard{store->mtx};
      store->filenames.push_back(req.filename);
      if (req.filename.empty() || req.filename.find("..") != std::string::npos
          || req.filename.find('/') != std::string::npos)
        return make_error(errc::invalid_argument,
                          "filename must be a plain file name without '/' "
                          "or '..'");
      for (unsigned char c : req.filename)
        if (c < 0x20 || c == 0x7f)
          return make_error(errc::invalid_argument,
                            "filename must not contain control characters");
      if (req.filename == "over-jobs.mp4")
        return make_error(errc::quota_exceeded,
                          "limits.jobs_in_flight_per_user (2) reached");
      if (req.filename == "over-bytes.mp4")
        return make_error(errc::storage_quota_exceeded,
                          "limits.bytes_per_user (1000 bytes) reached");
      return add_job(*store, req);
    },
    [=](atoms::create_keyed, job_request& req) -> caf::result<job, bool> {
      std::lock_guard<std::mutex> guard{store->mtx};
      store->keyed.push_back(req);
      auto k = req.owner + "\n" + req.idempotency_key;
      if (auto i = store->keys.find(k); i != store->keys.end()) {
        if (i->second.second != req.request_hash)
          return make_error(errc::invalid_argument,
                            "Idempotency-Key was used for a different "
                            "request");
        return {store->jobs[i->second.first], false};
      }
      auto j = add_job(*store, req);
      store->keys[k] = {j.id, req.request_hash};
      return {j, true};
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
    [=](atoms::history, const std::string& owner, uint32_t limit,
        const std::string& kind) -> caf::result<std::vector<job>> {
      if (limit < 1 || limit > 1000)
        return make_error(errc::invalid_argument, "limit out of range");
      std::lock_guard<std::mutex> guard{store->mtx};
      std::vector<job> result;
      for (auto i = store->order.rbegin();
           i != store->order.rend() && result.size() < limit; ++i)
        if ((owner.empty() || store->jobs[*i].owner == owner)
            && vf::messages::is_of_kind(store->jobs[*i].outputs, kind))
          result.push_back(store->jobs[*i]);
      return result;
    },
    [=](atoms::events, const std::string& id, uint64_t after) {
      // One journal line per job: its current status.
      std::lock_guard<std::mutex> guard{store->mtx};
      std::vector<vf::messages::job_event> result;
      auto i = store->jobs.find(id);
      if (i != store->jobs.end() && after < 1) {
        vf::messages::job_event ev;
        ev.seq = 1;
        ev.status = i->second.status;
        ev.series = i->second.series;
        ev.at = i->second.updated_at;
        result.push_back(ev);
      }
      return result;
    },
    [=](atoms::intake, bool open) { return open; },
    [=](atoms::deliveries, const std::string&) {
      return std::vector<vf::messages::delivery>{};
    },
    [=](atoms::get_result, const std::string& id) -> caf::result<job_result> {
      std::lock_guard<std::mutex> guard{store->mtx};
      auto i = store->jobs.find(id);
      if (i == store->jobs.end())
        return make_error(errc::not_found);
      if (i->second.status != job_status::succeeded)
        return make_error(errc::conflict);
      return job_result{id, R"({"format":{"duration":"1.5"},"streams":[]})",
                        "a short clip", 1'795'266'121'000,
                        store->outputs[id]};
    },
    [=](atoms::counts) -> caf::result<status_counts> {
      std::lock_guard<std::mutex> guard{store->mtx};
      if (store->counts_fail)
        return make_error(errc::storage_unavailable, "database is locked");
      status_counts result(job_status_count, 0);
      for (auto& kvp : store->jobs)
        ++result[static_cast<size_t>(kvp.second.status)];
      return result;
    },
    [=](atoms::attempts, const std::string& id)
      -> caf::result<std::vector<attempt_record>> {
      std::lock_guard<std::mutex> guard{store->mtx};
      if (store->jobs.count(id) == 0)
        return make_error(errc::not_found);
      return store->attempts[id];
    },
    [=](atoms::dlq_list, int64_t since,
        uint32_t limit) -> caf::result<std::vector<dead_letter>> {
      std::lock_guard<std::mutex> guard{store->mtx};
      store->last_since = since;
      store->last_limit = limit;
      std::vector<dead_letter> result;
      for (auto& kvp : store->dlq)
        if (kvp.second.created_at >= since)
          result.push_back(kvp.second);
      std::sort(result.begin(), result.end(), [](auto& x, auto& y) {
        return x.created_at > y.created_at;
      });
      if (result.size() > limit)
        result.resize(limit);
      return result;
    },
    [=](atoms::dlq_get, const std::string& id) -> caf::result<dead_letter> {
      std::lock_guard<std::mutex> guard{store->mtx};
      auto i = store->dlq.find(id);
      if (i == store->dlq.end())
        return make_error(errc::not_found);
      return i->second;
    },
    [=](atoms::dlq_remove, const std::string& id) {
      std::lock_guard<std::mutex> guard{store->mtx};
      return store->dlq.erase(id) > 0;
    },
    [=](atoms::await_end, const std::string& id, uint32_t wait_ms) {
      std::lock_guard<std::mutex> guard{store->mtx};
      store->awaited.emplace_back(id, wait_ms);
      if (!store->end_while_waiting)
        return false;
      if (auto i = store->jobs.find(id); i != store->jobs.end())
        i->second.status = job_status::succeeded;
      return true;
    },
    [=](atoms::job_ended, const std::string&) {},
    [=](atoms::wait_over, const std::string&, uint64_t) {},
    [=](atoms::erase, const std::string& id) -> caf::result<uint64_t> {
      std::lock_guard<std::mutex> guard{store->mtx};
      auto i = store->jobs.find(id);
      if (i == store->jobs.end())
        return make_error(errc::not_found, "no job " + id);
      // What the real registry meets: the orchestrator stopped it first.
      if (!is_terminal(i->second.status))
        return make_error(errc::internal, "erased a running job");
      store->jobs.erase(i);
      return uint64_t{3};
    },
  };
}

/// Redrives one job like the real orchestrator: only a FAILED job with an
/// open dead letter, and only once.
caf::expected<job> redrive_job(fake_store& store, const std::string& id,
                               int64_t now_ms) {
  auto i = store.jobs.find(id);
  if (i == store.jobs.end())
    return make_error(errc::not_found);
  auto d = store.dlq.find(id);
  if (i->second.status != job_status::failed || d == store.dlq.end()
      || d->second.redriven_at != 0)
    return make_error(errc::conflict, "job " + id
                                        + " has no open dead letter");
  d->second.redriven_at = now_ms;
  auto& j = i->second;
  j.status = job_status::submitted;
  ++j.series;
  j.attempts = 0;
  j.error_code = vf::messages::errc::none;
  j.error_message.clear();
  return j;
}

dlq_analyzer_actor::behavior_type fake_analyzer(store_ptr store) {
  return {
    [=](atoms::analyze, int64_t window_ms) {
      std::lock_guard<std::mutex> guard{store->mtx};
      store->last_window = window_ms;
      incident_report r;
      r.generated_at = 1'795'266'130'000;
      r.window_start = window_ms == 0 ? 0 : r.generated_at - window_ms;
      r.window_end = r.generated_at;
      std::map<std::string, incident_category> cats;
      for (auto& [id, d] : store->dlq) {
        if (d.created_at < r.window_start)
          continue;
        auto code = to_string(d.error_code);
        auto& c = cats[code];
        if (c.count == 0) {
          c.name = code;
          c.first_seen = d.created_at;
          c.recommendation = "look at " + code;
        }
        ++c.count;
        c.first_seen = std::min(c.first_seen, d.created_at);
        c.last_seen = std::max(c.last_seen, d.created_at);
        c.samples.push_back(id + ": " + code + ": " + d.error_message);
        ++r.total;
      }
      for (auto& kvp : cats)
        r.categories.push_back(kvp.second);
      return r;
    },
    [=](atoms::get) { return incident_report{}; },
    [=](atoms::redrive, const std::string& category) -> caf::result<uint64_t> {
      if (category != "bad_media" && category != "timeout")
        return make_error(errc::invalid_argument,
                          "unknown category '" + category + "'");
      std::lock_guard<std::mutex> guard{store->mtx};
      uint64_t n = 0;
      for (auto& [id, d] : store->dlq)
        if (to_string(d.error_code) == category && redrive_job(*store, id, 1))
          ++n;
      return n;
    },
    [=](atoms::tick) {},
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
    [=](atoms::compose, const std::string&) -> caf::result<job> {
      return make_error(errc::not_found);
    },
    [=](atoms::recover) { return uint64_t{0}; },
    [=](atoms::redrive, const std::string& id) -> caf::result<job> {
      std::lock_guard<std::mutex> guard{store->mtx};
      auto j = redrive_job(*store, id, 1'795'266'140'000);
      if (!j)
        return std::move(j.error());
      return std::move(*j);
    },
    [=](atoms::report, task_outcome&) { return false; },
  };
}

// Takes an argument only because CAF 0.17 spawns argument-less functions
// through a null shared_ptr<tuple<>> (UBSan reports the dereference).
dispatcher_actor::behavior_type fake_dispatcher(store_ptr store) {
  return {
    [=](atoms::submit, const task&) -> caf::result<task_outcome> {
      return make_error(errc::internal);
    },
    [=](atoms::join, const worker_actor&, const worker_info&) { return true; },
    [=](atoms::stats) {
      return dispatcher_stats{3, 2, 1, 0};
    },
    [=](atoms::drain, const std::string&) { return uint64_t{0}; },
    [=](atoms::drained, const std::string&) { return uint64_t{0}; },
    [=](atoms::undrain, const std::string&) { return uint64_t{0}; },
    [=](atoms::cancel, uint64_t) {},
    [=](atoms::report, const caf::node_id&, std::vector<task_outcome>&) {
      return std::vector<task_outcome>{};
    },
    [=](atoms::lease_of,
        const std::string& id) -> caf::result<std::vector<task_progress>> {
      std::lock_guard<std::mutex> guard{store->mtx};
      if (store->live_fails)
        return make_error(errc::storage_unavailable);
      return store->live[id];
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

  /// Connects from the loopback address `from` (e.g. 127.0.0.2): another
  /// client as far as the server can tell.
  client(uint16_t port, const char* from) : sock_(ioc_) {
    sock_.open(tcp::v4());
    sock_.bind({asio::ip::make_address(from), 0});
    sock_.connect({asio::ip::make_address("127.0.0.1"), port});
  }

  reply call(bhttp::verb method, const std::string& target,
             const std::string& body = {}, const header_list& headers = {}) {
    bhttp::request<bhttp::string_body> req{method, target, 11};
    req.set(bhttp::field::host, "127.0.0.1");
    for (auto& [k, v] : headers)
      req.insert(k, v); // A name given twice is sent twice.
    if (!body.empty() || method == bhttp::verb::post) {
      if (req.find(bhttp::field::content_type) == req.end())
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
  /// What the injected storage check answers (`/readyz`, `POST /jobs`).
  std::atomic<bool> disk_full{false};
  std::shared_ptr<prometheus::Registry> registry
    = std::make_shared<prometheus::Registry>();
  api_handles handles;
  // The same actors with their full interfaces (the admin console needs
  // them; the API gets the narrow ones in `handles`).
  job_registry_actor full_registry;
  orchestrator_actor full_orchestrator;
  dispatcher_actor full_dispatcher;
  std::unique_ptr<api_server> server;
  std::vector<std::string> logs;
  std::mutex logs_mtx;
  /// The accounts, as written to `users_path` (cheap hashes: tests check
  /// the rules, not the cost).
  std::vector<user_account> accounts{
    {"alice", "user", hash_password("wonderland", {1024, 8, 1}),
     new_user_epoch()},
    {"bob", "user", hash_password("builder", {1024, 8, 1}), new_user_epoch()},
    {"root", "admin", hash_password("toor", {1024, 8, 1}), new_user_epoch()}};
  std::string users_dir = make_users_dir();
  std::string users_path = users_dir + "/users.json";

  static std::string make_users_dir() {
    char tmpl[] = "/tmp/vf-http-users-XXXXXX";
    auto dir = ::mkdtemp(tmpl);
    CAF_REQUIRE(dir != nullptr);
    return dir;
  }

  /// Rewrites the users file from `accounts`; the server sees it from the
  /// next second of `now` on.
  void write_accounts() {
    CAF_REQUIRE(!write_users_file(users_path, accounts));
  }

  user_account& account(const std::string& name) {
    for (auto& a : accounts)
      if (a.name == name)
        return a;
    CAF_FAIL("no account " << name);
    return accounts.front();
  }

  /// The real admin console over the fakes (the `/dlq` and `/admin`
  /// routes ask it); `analyzer` may be null.
  admin_console_actor spawn_console(dlq_analyzer_actor analyzer) {
    vf::actors::admin_console_config cfg;
    cfg.version = "test";
    cfg.registry = full_registry;
    cfg.dispatcher = full_dispatcher;
    cfg.orchestrator = full_orchestrator;
    cfg.analyzer = std::move(analyzer);
    return sys.spawn(vf::actors::admin_console, cfg);
  }

  fixture() {
    write_accounts();
    full_registry = sys.spawn(fake_registry, store);
    full_orchestrator = sys.spawn(fake_orchestrator, store);
    full_dispatcher = sys.spawn(fake_dispatcher, store);
    handles.registry = full_registry;
    handles.orchestrator = full_orchestrator;
    handles.dispatcher = full_dispatcher;
    handles.events = full_orchestrator;
    handles.analyzer = sys.spawn(fake_analyzer, store);
    handles.admin = spawn_console(handles.analyzer);
    server
      = std::make_unique<api_server>(sys, make_config(), handles, registry);
    auto err = server->start();
    if (err)
      CAF_FAIL("the API server did not start: " << sys.render(err));
    CAF_REQUIRE_NOT_EQUAL(server->port(), 0);
  }

  ~fixture() {
    server->stop();
    server.reset();
    caf::anon_send_exit(handles.registry, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(handles.orchestrator, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(handles.dispatcher, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(handles.analyzer, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(handles.admin, caf::exit_reason::user_shutdown);
    ::unlink(users_path.c_str());
    ::rmdir(users_dir.c_str());
  }

  api_config make_config() {
    api_config c;
    c.port = 0;
    c.threads = 2;
    c.jwt_secret = secret;
    c.accounts = std::make_shared<user_table>(users_path, nullptr);
    c.max_body_bytes = 4096;
    c.presign_upload = [](const job& j) {
      return "http://store.local/" + j.bucket + "/" + j.key
             + "?X-Amz-Signature=fake";
    };
    c.presign_download = [](const std::string& bucket, const std::string& key) {
      return "http://store.local/" + bucket + "/" + key + "?get=1";
    };
    c.parse_webhook = fake_parse;
    c.webhook_token = "hook-secret";
    c.webhook_max_records = 8;
    c.now = [this] {
      return now.load();
    };
    c.log = [this](const std::string& line) {
      std::lock_guard<std::mutex> guard{logs_mtx};
      logs.push_back(line);
    };
    c.check_storage = [this] {
      if (disk_full.load())
        return storage_status{false, "free space 10 bytes on /data is below "
                                     "limits.min_free_bytes (1024 bytes)"};
      return storage_status{};
    };
    // Long: a loaded machine must not turn a slow answer into a 503. The
    // one test about the deadline sets its own.
    c.request_timeout = std::chrono::seconds{10};
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

  /// Fails job `id` for good with `code`, leaving a dead letter.
  void bury(const std::string& id, const std::string& code,
            int64_t created_at, std::string probe_output = {}) {
    std::lock_guard<std::mutex> guard{store->mtx};
    auto& j = store->jobs[id];
    j.status = job_status::failed;
    j.error_code = vf::messages::errc_from_string(code);
    j.error_message = code + " happened";
    dead_letter d;
    d.job_id = id;
    d.object = {"uploads", j.key, "v1", "etag-1", 42, {}, {}};
    d.filename = j.filename;
    d.kind = task_kind::summarize;
    d.error_code = vf::messages::errc_from_string(code);
    d.error_message = code + " happened";
    attempt_record a;
    a.job_id = id;
    a.lease_id = 7;
    a.object_version = "v1";
    a.kind = task_kind::summarize;
    a.error_code = vf::messages::errc_from_string(code);
    a.error_message = "attempt failed";
    a.worker = "node/w1";
    a.finished_at = created_at - 5;
    a.duration_us = 1500;
    d.attempts = {a};
    d.probe_output = std::move(probe_output);
    d.created_at = created_at;
    store->dlq[id] = d;
  }

  /// An admin's token, logged in once per test.
  std::string admin() {
    if (admin_token.empty())
      admin_token = login("root", "toor");
    return admin_token;
  }

  std::string admin_token;
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
  r = call(bhttp::verb::put, "/jobs/abc");
  CAF_CHECK(is_error(r, 405, "method_not_allowed"));
  CAF_CHECK_EQUAL(r.header("Allow"), "GET, DELETE");
  r = call(bhttp::verb::post, "/healthz", "{}");
  CAF_CHECK_EQUAL(r.header("Allow"), "GET");
  CAF_CHECK_EQUAL(r.status, 405u);
}

CAF_TEST(readyz checks storage and database while healthz stays live) {
  auto r = call(bhttp::verb::get, "/readyz");
  CAF_CHECK_EQUAL(r.status, 200u);
  CAF_CHECK_EQUAL(r.doc()["status"].get<std::string>(), "ready");
  CAF_CHECK_EQUAL(r.doc()["checks"]["storage"]["ok"].get<bool>(), true);
  CAF_CHECK_EQUAL(r.doc()["checks"]["database"]["ok"].get<bool>(), true);
  auto token = login("alice", "wonderland");
  disk_full = true;
  r = call(bhttp::verb::get, "/readyz");
  CAF_CHECK_EQUAL(r.status, 503u);
  CAF_CHECK_EQUAL(r.doc()["status"].get<std::string>(), "not_ready");
  CAF_CHECK_EQUAL(r.doc()["code"].get<std::string>(), "not_ready");
  CAF_CHECK(contains(detail(r), "storage: free space"));
  CAF_CHECK(contains(detail(r), "limits.min_free_bytes"));
  CAF_CHECK_EQUAL(r.doc()["checks"]["storage"]["ok"].get<bool>(), false);
  CAF_CHECK_EQUAL(r.doc()["checks"]["database"]["ok"].get<bool>(), true);
  CAF_CHECK_EQUAL(r.header("Retry-After"), "5");
  // Liveness is not readiness: the process still serves.
  CAF_CHECK_EQUAL(call(bhttp::verb::get, "/healthz").status, 200u);
  // No upload URL for bytes the disk cannot hold.
  r = call(bhttp::verb::post, "/jobs", R"({"filename":"movie.mp4"})",
           bearer(token));
  CAF_CHECK(is_error(r, 507, "insufficient_storage"));
  CAF_CHECK(contains(detail(r), "limits.min_free_bytes"));
  CAF_CHECK_EQUAL(r.header("Retry-After"), "60");
  {
    std::lock_guard<std::mutex> guard{store->mtx};
    CAF_CHECK(store->jobs.empty());
  }
  disk_full = false;
  create_job(token);
  // A database that does not answer makes the node not ready too.
  {
    std::lock_guard<std::mutex> guard{store->mtx};
    store->counts_fail = true;
  }
  r = call(bhttp::verb::get, "/readyz");
  CAF_CHECK_EQUAL(r.status, 503u);
  CAF_CHECK(contains(detail(r), "database: "));
  CAF_CHECK(contains(detail(r), "database is locked"));
  CAF_CHECK_EQUAL(r.doc()["checks"]["storage"]["ok"].get<bool>(), true);
  CAF_CHECK_EQUAL(r.doc()["checks"]["database"]["ok"].get<bool>(), false);
  r = call(bhttp::verb::post, "/readyz", "{}");
  CAF_CHECK_EQUAL(r.status, 405u);
  CAF_CHECK_EQUAL(r.header("Allow"), "GET");
}

CAF_TEST(per user quotas answer 429 and 403 quota_exceeded) {
  auto token = login("alice", "wonderland");
  auto r = call(bhttp::verb::post, "/jobs", R"({"filename":"over-jobs.mp4"})",
                bearer(token));
  CAF_CHECK(is_error(r, 429, "quota_exceeded"));
  CAF_CHECK(contains(detail(r), "limits.jobs_in_flight_per_user"));
  r = call(bhttp::verb::post, "/jobs", R"({"filename":"over-bytes.mp4"})",
           bearer(token));
  CAF_CHECK(is_error(r, 403, "quota_exceeded"));
  CAF_CHECK(contains(detail(r), "limits.bytes_per_user"));
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
         {bhttp::verb::get, "/jobs/job-1/attempts"},
         {bhttp::verb::get, "/history"},
         {bhttp::verb::get, "/dlq"},
         {bhttp::verb::get, "/dlq/job-1"},
         {bhttp::verb::delete_, "/dlq/job-1"},
         {bhttp::verb::get, "/dlq/report"},
         {bhttp::verb::post, "/dlq/redrive"}}) {
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

CAF_TEST(create job with outputs and priority) {
  auto token = login("alice", "wonderland");
  auto post = [&](const std::string& body) {
    return call(bhttp::verb::post, "/jobs", body, bearer(token));
  };
  auto r = post(R"({"filename":"m.mp4","priority":"high","outputs":)"
                R"({"thumbnails":["small",{"width":200,"height":100}],)"
                R"("thumbnail_at":2.5,"renditions":["720p","360p"]}})");
  CAF_REQUIRE_EQUAL(r.status, 201u);
  auto id = r.doc()["job_id"].get<std::string>();
  {
    std::lock_guard<std::mutex> guard{store->mtx};
    auto& j = store->jobs[id];
    CAF_CHECK_EQUAL(j.priority, vf::messages::priority_high);
    auto recipe = nlohmann::json::parse(j.outputs);
    CAF_CHECK_EQUAL(recipe["thumbnails"][0]["name"], "small");
    CAF_CHECK_EQUAL(recipe["thumbnails"][0]["width"], 320);
    CAF_CHECK_EQUAL(recipe["thumbnails"][0]["height"], 180);
    CAF_CHECK_EQUAL(recipe["thumbnails"][1]["name"], "200x100");
    CAF_CHECK_EQUAL(recipe["thumbnail_at"], 2.5);
    CAF_CHECK_EQUAL(recipe["renditions"][1]["name"], "360p");
    CAF_CHECK_EQUAL(recipe["renditions"][1]["height"], 360);
  }
  // Nothing asked for is the same as no outputs.
  r = post(R"({"filename":"n.mp4","outputs":{"thumbnails":[]}})");
  CAF_REQUIRE_EQUAL(r.status, 201u);
  {
    std::lock_guard<std::mutex> guard{store->mtx};
    auto& j = store->jobs[r.doc()["job_id"].get<std::string>()];
    CAF_CHECK_EQUAL(j.outputs, "");
    CAF_CHECK_EQUAL(j.priority, vf::messages::priority_default);
  }
  // Every refusal is a 422 naming what is wrong, and creates nothing.
  size_t before = 0;
  {
    std::lock_guard<std::mutex> guard{store->mtx};
    before = store->jobs.size();
  }
  std::vector<std::pair<std::string, std::string>> bad{
    {R"({"filename":"a.mp4","priority":"urgent"})", "priority"},
    {R"({"filename":"a.mp4","priority":1})", "priority"},
    {R"({"filename":"a.mp4","colour":"red"})", "unknown field 'colour'"},
    {R"({"filename":"a.mp4","outputs":[]})", "outputs must be an object"},
    {R"({"filename":"a.mp4","outputs":{"gifs":[]}})", "unknown field 'gifs'"},
    {R"({"filename":"a.mp4","outputs":{"thumbnails":["huge"]}})",
     "thumbnails[0]: unknown preset"},
    {R"({"filename":"a.mp4","outputs":{"thumbnails":[{"width":8,"height":8}]}})",
     "thumbnails[0].width must be 16..3840"},
    {R"({"filename":"a.mp4","outputs":{"thumbnails":[{"width":100}]}})",
     "thumbnails[0].height is required"},
    {R"({"filename":"a.mp4","outputs":{"thumbnails":[{"width":100,"height":100,"x":1}]}})",
     "unknown field 'x'"},
    {R"({"filename":"a.mp4","outputs":{"thumbnails":["small","small"]}})",
     "'small' appears twice"},
    {R"({"filename":"a.mp4","outputs":{"renditions":["4320p"]}})",
     "renditions[0]: unknown preset"},
    {R"({"filename":"a.mp4","outputs":{"renditions":["720p","720p"]}})",
     "'720p' appears twice"},
    {R"({"filename":"a.mp4","outputs":{"thumbnail_at":-1}})", "thumbnail_at"},
    {R"({"filename":"a.mp4","outputs":{"thumbnail_at":"1"}})", "thumbnail_at"},
  };
  std::string many = R"({"filename":"a.mp4","outputs":{"thumbnails":[)";
  for (int i = 0; i < 17; ++i)
    many += (i > 0 ? "," : "") + std::string{R"({"width":)"}
            + std::to_string(100 + i) + R"(,"height":100})";
  bad.emplace_back(many + "]}}", "at most 16");
  bad.emplace_back(R"({"filename":"a.mp4","outputs":{"renditions":)"
                   R"(["2160p","1440p","1080p","720p","480p","360p","240p",)"
                   R"("240p","360p"]}})",
                   "at most 8");
  for (auto& [body, what] : bad) {
    auto res = post(body);
    CAF_CHECK(is_error(res, 422, "invalid_argument"));
    if (!contains(detail(res), what))
      CAF_FAIL("detail '" << detail(res) << "' does not name '" << what
                          << "' for " << body);
  }
  std::lock_guard<std::mutex> guard{store->mtx};
  CAF_CHECK_EQUAL(store->jobs.size(), before);
}

CAF_TEST(an idempotency key gets the same job back for the same request) {
  auto token = login("alice", "wonderland");
  auto post = [&](const std::string& body, header_list extra) {
    auto h = bearer(token);
    h.insert(h.end(), extra.begin(), extra.end());
    return call(bhttp::verb::post, "/jobs", body, h);
  };
  auto body = R"({"filename":"k.mp4","priority":"low",)"
              R"("outputs":{"renditions":["360p"]}})";
  auto first = post(body, {{"Idempotency-Key", "key-1"}});
  CAF_REQUIRE_EQUAL(first.status, 201u);
  auto first_doc = first.doc();
  // The same request, spelled differently: same job, 200, the same shape.
  auto again = post(R"({"outputs":{"renditions":["360p"]},)"
                    R"( "priority":"low", "filename":"k.mp4"})",
                    {{"Idempotency-Key", "key-1"}});
  CAF_REQUIRE_EQUAL(again.status, 200u);
  auto again_doc = again.doc();
  CAF_CHECK_EQUAL(again_doc["job_id"], first_doc["job_id"]);
  CAF_CHECK_EQUAL(again_doc["job_id"], "job-1");
  CAF_CHECK_EQUAL(again_doc["upload_url"], first_doc["upload_url"]);
  CAF_CHECK_EQUAL(again_doc["expires_in"], 900);
  // Another key, or none, is another job.
  auto other = post(body, {{"Idempotency-Key", "key-2"}});
  CAF_REQUIRE_EQUAL(other.status, 201u);
  auto other_doc = other.doc();
  CAF_CHECK_EQUAL(other_doc["job_id"], "job-2");
  CAF_CHECK_EQUAL(post(body, {}).status, 201u);
  // The edge hashed what was asked: every field counts.
  {
    std::lock_guard<std::mutex> guard{store->mtx};
    CAF_REQUIRE_EQUAL(store->keyed.size(), 3u);
    CAF_CHECK_EQUAL(store->keyed[0].idempotency_key, "key-1");
    CAF_CHECK_EQUAL(store->keyed[0].owner, "alice");
    CAF_CHECK_EQUAL(store->keyed[0].request_hash.size(), 64u);
    CAF_CHECK_EQUAL(store->keyed[0].request_hash,
                    store->keyed[1].request_hash);
  }
  std::vector<std::string> changed{
    R"({"filename":"k2.mp4","priority":"low","outputs":{"renditions":["360p"]}})",
    R"({"filename":"k.mp4","priority":"high","outputs":{"renditions":["360p"]}})",
    R"({"filename":"k.mp4","priority":"low","outputs":{"renditions":["480p"]}})",
    R"({"filename":"k.mp4","priority":"low"})",
    R"({"filename":"k.mp4","priority":"low","content_type":"video/mp4",)"
    R"("outputs":{"renditions":["360p"]}})",
  };
  for (auto& b : changed) {
    auto r = post(b, {{"Idempotency-Key", "key-1"}});
    CAF_CHECK(is_error(r, 422, "invalid_argument"));
    CAF_CHECK(contains(detail(r), "different request"));
  }
  // Malformed keys are refused before anything is created.
  size_t before = 0;
  {
    std::lock_guard<std::mutex> guard{store->mtx};
    before = store->jobs.size();
  }
  for (auto& bad : {std::string{}, std::string(256, 'a'),
                    std::string{"has space"}, std::string{"caf\xc3\xa9"}}) {
    auto r = post(body, {{"Idempotency-Key", bad}});
    CAF_CHECK(is_error(r, 422, "invalid_argument"));
    CAF_CHECK(contains(detail(r), "Idempotency-Key"));
  }
  auto two = post(body, {{"Idempotency-Key", "a"}, {"Idempotency-Key", "b"}});
  CAF_CHECK(is_error(two, 422, "invalid_argument"));
  CAF_CHECK(contains(detail(two), "one Idempotency-Key"));
  std::lock_guard<std::mutex> guard{store->mtx};
  CAF_CHECK_EQUAL(store->jobs.size(), before);
}

CAF_TEST(outputs null is the default recipe) {
  auto token = login("alice", "wonderland");
  auto r = call(bhttp::verb::post, "/jobs",
                R"({"filename":"z.mp4","outputs":null})", bearer(token));
  CAF_REQUIRE_EQUAL(r.status, 201u);
  std::lock_guard<std::mutex> guard{store->mtx};
  CAF_CHECK_EQUAL(store->jobs[r.doc()["job_id"].get<std::string>()].outputs,
                  "");
}

CAF_TEST(result lists outputs with fresh urls and download answers one) {
  auto token = login("alice", "wonderland");
  auto id = create_job(token)["job_id"].get<std::string>();
  auto dl = [&](const std::string& name) {
    return call(bhttp::verb::get, "/jobs/" + id + "/download/" + name, "",
                bearer(token));
  };
  CAF_CHECK(is_error(dl("720p"), 409, "conflict"));
  {
    std::lock_guard<std::mutex> guard{store->mtx};
    store->outputs[id]
      = R"({"thumbnails":[{"name":"small","width":320,"height":180,)"
        R"("content_type":"image/jpeg","bytes":1234,"bucket":"uploads",)"
        R"("key":"outputs/)"
        + id
        + R"(/small.jpg"}],"renditions":[{"name":"1080p","skipped":"source )"
          R"(is 720 pixels high; renditions are never upscaled"},{"name":)"
          R"("720p","width":1280,"height":720,"content_type":"video/mp4",)"
          R"("bytes":99,"bucket":"uploads","key":"outputs/)"
        + id
        + R"(/720p.mp4","duration":3.0,"video_codec":"h264",)"
          R"("audio_codec":"aac"}]})";
  }
  set_status(id, job_status::succeeded);
  auto r = call(bhttp::verb::get, "/jobs/" + id + "/result", "", bearer(token));
  CAF_REQUIRE_EQUAL(r.status, 200u);
  auto doc = r.doc();
  auto& thumb = doc["outputs"]["thumbnails"][0];
  CAF_CHECK_EQUAL(thumb["name"], "small");
  CAF_CHECK_EQUAL(thumb["url"],
                  "http://store.local/uploads/outputs/" + id
                    + "/small.jpg?get=1");
  CAF_CHECK(!thumb.contains("key"));
  CAF_CHECK(!thumb.contains("bucket"));
  CAF_CHECK_EQUAL(doc["outputs"]["renditions"][0]["name"], "1080p");
  CAF_CHECK(contains(doc["outputs"]["renditions"][0]["skipped"], "upscaled"));
  CAF_CHECK(!doc["outputs"]["renditions"][0].contains("url"));
  CAF_CHECK_EQUAL(doc["outputs"]["renditions"][1]["video_codec"], "h264");
  r = dl("720p");
  CAF_REQUIRE_EQUAL(r.status, 200u);
  doc = r.doc();
  CAF_CHECK_EQUAL(doc["download_url"], "http://store.local/uploads/outputs/"
                                         + id + "/720p.mp4?get=1");
  CAF_CHECK_EQUAL(doc["bytes"], 99);
  CAF_CHECK_EQUAL(doc["content_type"], "video/mp4");
  CAF_CHECK(doc["expires_at"].is_string());
  CAF_CHECK(is_error(dl("1080p"), 404, "not_found"));
  CAF_CHECK(contains(detail(dl("1080p")), "never upscaled"));
  CAF_CHECK(is_error(dl("4k"), 404, "not_found"));
  auto bob = login("bob", "builder");
  CAF_CHECK(is_error(call(bhttp::verb::get, "/jobs/" + id + "/download/720p",
                          "", bearer(bob)),
                     404, "not_found"));
}

CAF_TEST(delete cancels a running job then erases it once) {
  auto token = login("alice", "wonderland");
  auto id = create_job(token)["job_id"].get<std::string>();
  auto bob = login("bob", "builder");
  auto del = [&](const std::string& who) {
    return call(bhttp::verb::delete_, "/jobs/" + id, "", bearer(who));
  };
  // Someone else's job does not exist for them.
  CAF_CHECK(is_error(del(bob), 404, "not_found"));
  set_status(id, job_status::processing);
  auto r = del(token);
  CAF_REQUIRE_EQUAL(r.status, 200u);
  auto doc = r.doc();
  CAF_CHECK_EQUAL(doc["job_id"], id);
  CAF_CHECK_EQUAL(doc["deleted"], true);
  CAF_CHECK_EQUAL(doc["objects_deleted"], 3);
  CAF_CHECK(is_error(del(token), 404, "not_found"));
  CAF_CHECK(is_error(call(bhttp::verb::get, "/jobs/" + id, "", bearer(token)),
                     404, "not_found"));
  // A finished job is erased without a cancel.
  auto done = create_job(token)["job_id"].get<std::string>();
  set_status(done, job_status::succeeded);
  CAF_CHECK_EQUAL(
    call(bhttp::verb::delete_, "/jobs/" + done, "", bearer(token)).status,
    200u);
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
  CAF_CHECK_EQUAL(doc["series"], 0);
  CAF_CHECK_EQUAL(doc["step"], "");
  CAF_CHECK(doc["next_attempt_at"].is_null());
  CAF_CHECK(doc["error_code"].is_null());
  CAF_CHECK(doc["error_message"].is_null());
  CAF_CHECK(doc["object"].is_null());
  {
    std::lock_guard<std::mutex> guard{store->mtx};
    auto& j = store->jobs[id];
    j.next_attempt_at = 1'795'266'125'007;
    j.error_code = vf::messages::errc::timeout;
    j.error_message = "probe took \"too\" long";
    j.object = {"uploads", j.key, "v1", "etag-1", 99, {}, {}};
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

CAF_TEST(get job with wait answers once the job ended) {
  auto token = login("alice", "wonderland");
  auto id = create_job(token)["job_id"].get<std::string>();
  auto awaited = [this] {
    std::lock_guard<std::mutex> guard{store->mtx};
    return store->awaited;
  };
  using waits = std::vector<std::pair<std::string, uint32_t>>;
  // A copy: the check macro outlives a temporary document.
  auto status_of = [](const auto& r) {
    return r.doc().value("status", std::string{});
  };
  // Malformed: 422, and nothing waits.
  for (auto bad : {"31", "-1", "1.5", "abc", "", "100", "0x1"})
    CAF_CHECK(is_error(call(bhttp::verb::get,
                            "/jobs/" + id + "?wait=" + std::string{bad}, "",
                            bearer(token)),
                       422, "invalid_argument"));
  CAF_CHECK_EQUAL(awaited(), waits{});
  // wait=0 is a plain read.
  auto r = call(bhttp::verb::get, "/jobs/" + id + "?wait=0", "",
                bearer(token));
  CAF_CHECK_EQUAL(status_of(r), "AWAITING_UPLOAD");
  CAF_CHECK_EQUAL(awaited(), waits{});
  // Someone else's job is not there, and is not waited for.
  auto bob = login("bob", "builder");
  CAF_CHECK(is_error(call(bhttp::verb::get, "/jobs/" + id + "?wait=5", "",
                          bearer(bob)),
                     404, "not_found"));
  CAF_CHECK_EQUAL(awaited(), waits{});
  // The wait ran out: the job as it stands.
  {
    std::lock_guard<std::mutex> guard{store->mtx};
    store->end_while_waiting = false;
  }
  r = call(bhttp::verb::get, "/jobs/" + id + "?wait=2", "", bearer(token));
  CAF_CHECK_EQUAL(r.status, 200u);
  CAF_CHECK_EQUAL(status_of(r), "AWAITING_UPLOAD");
  CAF_CHECK_EQUAL(awaited(), (waits{{id, 2000}}));
  // It ended while the request waited: the answer is read after the end.
  {
    std::lock_guard<std::mutex> guard{store->mtx};
    store->end_while_waiting = true;
  }
  r = call(bhttp::verb::get, "/jobs/" + id + "?wait=30", "", bearer(token));
  CAF_CHECK_EQUAL(r.status, 200u);
  CAF_CHECK_EQUAL(status_of(r), "SUCCEEDED");
  CAF_CHECK_EQUAL(awaited(), (waits{{id, 2000}, {id, 30000}}));
  // An ended job is answered without waiting.
  r = call(bhttp::verb::get, "/jobs/" + id + "?wait=30", "", bearer(token));
  CAF_CHECK_EQUAL(status_of(r), "SUCCEEDED");
  CAF_CHECK_EQUAL(awaited().size(), 2u);
}

CAF_TEST(get job shows its progress step by step) {
  auto token = login("alice", "wonderland");
  auto r = call(bhttp::verb::post, "/jobs",
                R"({"filename":"m.mp4","outputs":{"thumbnails":["small"],)"
                R"("renditions":["720p","480p"]}})",
                bearer(token));
  CAF_REQUIRE_EQUAL(r.status, 201u);
  auto id = r.doc()["job_id"].get<std::string>();
  auto progress = [&] {
    auto res = call(bhttp::verb::get, "/jobs/" + id, "", bearer(token));
    CAF_REQUIRE_EQUAL(res.status, 200u);
    auto doc = res.doc();
    return doc["progress"];
  };
  // By value: a check must not hold a reference into a temporary document.
  auto field = [](const json& p, const std::string& name,
                  const std::string& key) {
    for (auto& s : p.at("steps"))
      if (s.value("name", "") == name) {
        auto i = s.find(key);
        return i != s.end() && i->is_string() ? i->get<std::string>()
                                              : std::string{"(not a string)"};
      }
    return std::string{"(no step " + name + ")"};
  };
  auto step = [](const json& p, const std::string& name) {
    for (auto& s : p.at("steps"))
      if (s.value("name", "") == name)
        return s;
    CAF_FAIL("no step " << name);
    return json{};
  };
  // Waiting for its upload: every step queued.
  auto p = progress();
  CAF_CHECK_EQUAL(p["percent"], 0);
  std::vector<std::string> names;
  for (auto& s : p["steps"]) {
    names.push_back(s["name"].get<std::string>());
    CAF_CHECK_EQUAL(s["state"], "queued");
    CAF_CHECK(s["node"].is_null());
    CAF_CHECK(s["started_at"].is_null());
  }
  CAF_CHECK_EQUAL(names,
                  (std::vector<std::string>{"probe", "summary",
                                            "thumbnail:small",
                                            "rendition:720p",
                                            "rendition:480p"}));
  auto record = [&](task_kind kind, bool ok, std::string output,
                    uint32_t series = 1) {
    attempt_record x;
    x.job_id = id;
    x.kind = kind;
    x.ok = ok;
    x.output = std::move(output);
    x.object_version = "v1";
    x.series = series;
    x.worker = "n1/w1";
    x.leased_at = 1'795'266'125'000;
    x.finished_at = 1'795'266'126'500;
    x.error_message = ok ? "" : "encoder said no";
    return x;
  };
  {
    std::lock_guard<std::mutex> guard{store->mtx};
    auto& j = store->jobs[id];
    j.status = job_status::processing;
    j.series = 1;
    j.object = {"uploads", j.key, "v1", "etag-1", 99, {}, {}};
    j.step = "render";
    auto& ledger = store->attempts[id];
    ledger.push_back(record(task_kind::probe, true, "{}"));
    ledger.push_back(record(task_kind::summarize, true, "a summary"));
    // An older series (before a redrive) counts for nothing.
    ledger.push_back(record(task_kind::render, true, "{}", 0));
    ledger.push_back(record(task_kind::render, false, ""));
    task_progress live;
    live.job_id = id;
    live.kind = task_kind::render;
    live.series = 1;
    live.object_version = "v1";
    live.leased = true;
    live.worker = "n2/w3";
    live.node = "n2";
    live.leased_at = 1'795'266'127'000;
    live.percent = 40;
    store->live[id] = {live};
  }
  p = progress();
  auto probe = step(p, "probe");
  CAF_CHECK_EQUAL(probe["state"], "done");
  CAF_CHECK_EQUAL(probe["percent"], 100);
  CAF_CHECK_EQUAL(probe["node"], "n1");
  CAF_CHECK_EQUAL(probe["worker"], "n1/w1");
  CAF_CHECK_EQUAL(probe["started_at"], "2026-11-21T13:02:05.000Z");
  CAF_CHECK_EQUAL(probe["finished_at"], "2026-11-21T13:02:06.500Z");
  CAF_CHECK_EQUAL(field(p, "summary", "state"), "done");
  for (auto name : {"thumbnail:small", "rendition:720p", "rendition:480p"}) {
    auto s = step(p, name);
    CAF_CHECK_EQUAL(s["state"], "running");
    CAF_CHECK_EQUAL(s["percent"], 40);
    CAF_CHECK_EQUAL(s["node"], "n2");
    CAF_CHECK_EQUAL(s["started_at"], "2026-11-21T13:02:07.000Z");
    CAF_CHECK(s["finished_at"].is_null());
  }
  // Renditions weigh ten: (100 + 100 + 40 + 10 * 40 * 2) / 23.
  CAF_CHECK_EQUAL(p["percent"], 45);
  // Without the dispatcher's view the ledger still tells what is done, and
  // the failed attempt shows as a retry.
  {
    std::lock_guard<std::mutex> guard{store->mtx};
    store->live_fails = true;
  }
  p = progress();
  CAF_CHECK_EQUAL(field(p, "probe", "state"), "done");
  auto waiting = step(p, "rendition:720p");
  CAF_CHECK_EQUAL(waiting["state"], "queued");
  CAF_CHECK(contains(waiting["reason"], "encoder said no"));
  // Done, one rendition not made.
  {
    std::lock_guard<std::mutex> guard{store->mtx};
    store->live_fails = false;
    store->live[id].clear();
    store->attempts[id].push_back(record(
      task_kind::render, true,
      R"({"thumbnails":[{"name":"small"}],"renditions":[{"name":"720p",)"
      R"("skipped":"source is 480 pixels high"},{"name":"480p"}]})"));
    store->jobs[id].status = job_status::succeeded;
  }
  p = progress();
  CAF_CHECK_EQUAL(p["percent"], 100);
  CAF_CHECK_EQUAL(field(p, "rendition:480p", "state"), "done");
  auto skipped = step(p, "rendition:720p");
  CAF_CHECK_EQUAL(skipped["state"], "skipped");
  CAF_CHECK_EQUAL(skipped["reason"], "source is 480 pixels high");
  CAF_CHECK_EQUAL(field(p, "thumbnail:small", "finished_at"),
                  "2026-11-21T13:02:06.500Z");
  // A job that failed at its render: those steps failed, with the reason.
  {
    std::lock_guard<std::mutex> guard{store->mtx};
    auto& j = store->jobs[id];
    j.status = job_status::failed;
    j.error_message = "render failed for good";
    store->attempts[id].pop_back();
  }
  p = progress();
  CAF_CHECK_LESS(p["percent"].get<int>(), 100);
  // A reason quoting bytes that are not UTF-8 (a worker on another node
  // wrote the message) is replaced, never a 500.
  {
    std::lock_guard<std::mutex> guard{store->mtx};
    store->jobs[id].error_message = "bad \xff\xfe bytes";
  }
  auto raw = call(bhttp::verb::get, "/jobs/" + id, "", bearer(token));
  CAF_CHECK_EQUAL(raw.status, 200u);
  p = progress();
  CAF_CHECK(contains(field(p, "rendition:480p", "reason"), "bytes"));
  {
    std::lock_guard<std::mutex> guard{store->mtx};
    store->jobs[id].error_message = "render failed for good";
  }
  p = progress();
  CAF_CHECK_EQUAL(field(p, "rendition:480p", "state"), "failed");
  CAF_CHECK_EQUAL(field(p, "rendition:480p", "reason"),
                  "render failed for good");
  CAF_CHECK_EQUAL(field(p, "summary", "state"), "done");
}

CAF_TEST(actor failures map to status codes) {
  auto token = login("alice", "wonderland");
  // No reply within request_timeout (300 ms on this server): 503, not a
  // hang.
  auto cfg = make_config();
  cfg.request_timeout = std::chrono::milliseconds{300};
  api_server quick{sys, cfg, handles, nullptr};
  CAF_REQUIRE(!quick.start());
  client c{quick.port()};
  auto r = c.call(bhttp::verb::get, "/jobs/hang", "", bearer(token));
  CAF_CHECK(is_error(r, 503, "timeout"));
  quick.stop();
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
  // Bob's newer job takes none of alice's two slots (the security review
  // saw another user's 201 new jobs empty a user's history).
  auto page = r.doc()["items"];
  CAF_REQUIRE_EQUAL(page.size(), 2u);
  CAF_CHECK_EQUAL(page[0]["filename"], "a2.mp4");
  CAF_CHECK_EQUAL(page[1]["filename"], "a1.mp4");
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
  CAF_CHECK_EQUAL(r.doc(), json({{"received", 0}}));
  // JSON only: a text/plain or form body is what a foreign web page can
  // make a browser send.
  for (auto type : {"text/plain", "application/x-www-form-urlencoded",
                    "multipart/form-data; boundary=x"}) {
    auto h = hook;
    h.emplace_back("Content-Type", type);
    CAF_CHECK(is_error(post(R"({"Records":[]})", h), 415,
                       "unsupported_media_type"));
  }
  {
    auto h = hook;
    h.emplace_back("Content-Type", "application/json; charset=utf-8");
    CAF_CHECK_EQUAL(post(R"({"Records":[]})", h).status, 200u);
  }
  // An HMAC-SHA256 of the body proves the secret as well as the bearer
  // token does; a signature of another body, or a bad one, does not.
  {
    std::string body = R"({"Records":[]})";
    auto sig = [](const std::string& key, const std::string& data) {
      unsigned char mac[32];
      unsigned int n = 0;
      HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(),
           mac, &n);
      static constexpr char hex[] = "0123456789abcdef";
      std::string out = "sha256=";
      for (unsigned i = 0; i < n; ++i) {
        out += hex[mac[i] >> 4];
        out += hex[mac[i] & 0x0f];
      }
      return out;
    };
    auto signed_by = [&](const std::string& x) {
      return header_list{{"X-Vidflow-Signature", x}};
    };
    CAF_CHECK_EQUAL(post(body, signed_by(sig("hook-secret", body))).status,
                    200u);
    CAF_CHECK(is_error(post(body, signed_by(sig("hook-secret", "{}"))), 401,
                       "unauthorized"));
    CAF_CHECK(is_error(post(body, signed_by(sig("wrong", body))), 401,
                       "unauthorized"));
    CAF_CHECK(is_error(post(body, signed_by("sha256=zz")), 401,
                       "unauthorized"));
  }
  // A cap on records per request (the fixture allows 8).
  {
    auto many = json::array();
    for (int i = 0; i < 9; ++i)
      many.push_back({{"key", "uploads/" + a + "/movie.mp4"},
                      {"version", "flood" + std::to_string(i)}});
    r = post(json{{"Records", many}}.dump(), hook);
    CAF_CHECK(is_error(r, 413, "too_many_records"));
    auto job = call(bhttp::verb::get, "/jobs/" + a, "", bearer(token)).doc();
    CAF_CHECK_EQUAL(job["status"], "AWAITING_UPLOAD");
  }
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
  // The same answer whatever happened to each record (it must not tell
  // whether a job exists); the metrics below tell operators. Both v1
  // events race: one is new work, the other its duplicate.
  CAF_CHECK_EQUAL(r.doc(), json({{"received", 6}}));
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
  // An idle keep-alive connection must not hold the stop up for the
  // shutdown grace. The grace here is a minute, so the bound below is about
  // that, not about how fast a loaded machine is.
  server->stop();
  auto cfg = make_config();
  cfg.shutdown_grace = std::chrono::seconds{60};
  server = std::make_unique<api_server>(sys, cfg, handles, nullptr);
  CAF_REQUIRE(!server->start());
  client idle{server->port()};
  CAF_CHECK_EQUAL(idle.call(bhttp::verb::get, "/healthz").status, 200u);
  auto port = server->port();
  auto t0 = std::chrono::steady_clock::now();
  server->stop();
  auto took = std::chrono::steady_clock::now() - t0;
  CAF_CHECK(took < std::chrono::seconds{30});
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

CAF_TEST(attempts) {
  auto alice = login("alice", "wonderland");
  auto id = create_job(alice)["job_id"].get<std::string>();
  auto target = "/jobs/" + id + "/attempts";
  auto r = call(bhttp::verb::get, target, "", bearer(alice));
  CAF_REQUIRE_EQUAL(r.status, 200u);
  CAF_CHECK_EQUAL(r.doc(), json({{"job_id", id}, {"items", json::array()}}));
  {
    std::lock_guard<std::mutex> guard{store->mtx};
    attempt_record probe;
    probe.job_id = id;
    probe.lease_id = 11;
    probe.object_version = "v1";
    probe.kind = task_kind::probe;
    probe.attempt = 1;
    probe.ok = true;
    probe.output = R"({"format":{"duration":"1.5"},"streams":[]})";
    probe.worker = "node-a/worker-1";
    probe.finished_at = 1'795'266'120'500;
    probe.duration_us = 2500;
    probe.leased_at = 1'795'266'120'000;
    auto broken = probe;
    broken.lease_id = 12;
    broken.series = 1;
    broken.output = R"({"format": trunc)";
    auto summary = probe;
    summary.lease_id = 13;
    summary.kind = task_kind::summarize;
    summary.attempt = 2;
    summary.output = R"({"looks":"like json"})";
    auto failed = probe;
    failed.lease_id = 14;
    failed.kind = task_kind::summarize;
    failed.ok = false;
    failed.output.clear();
    failed.error_code = vf::messages::errc::provider_error;
    failed.error_message = "HTTP 500 from \"bedrock\"";
    failed.leased_at = 0;
    store->attempts[id] = {probe, broken, summary, failed};
  }
  r = call(bhttp::verb::get, target, "", bearer(alice));
  CAF_REQUIRE_EQUAL(r.status, 200u);
  auto doc = r.doc();
  CAF_REQUIRE(doc.is_object());
  auto items = doc["items"];
  CAF_REQUIRE_EQUAL(items.size(), 4u);
  auto first = items[0];
  CAF_CHECK_EQUAL(first["job_id"], id);
  CAF_CHECK_EQUAL(first["lease_id"], 11);
  CAF_CHECK_EQUAL(first["object_version"], "v1");
  CAF_CHECK_EQUAL(first["series"], 0);
  CAF_CHECK_EQUAL(first["kind"], "probe");
  CAF_CHECK_EQUAL(first["attempt"], 1);
  CAF_CHECK_EQUAL(first["ok"], true);
  // Probe output is metadata: an object, not an escaped string.
  CAF_CHECK_EQUAL(first["output"]["format"]["duration"], "1.5");
  CAF_CHECK(first["error_code"].is_null());
  CAF_CHECK(first["error_message"].is_null());
  CAF_CHECK_EQUAL(first["worker"], "node-a/worker-1");
  CAF_CHECK_EQUAL(first["finished_at"], "2026-11-21T13:02:00.500Z");
  CAF_CHECK_EQUAL(first["duration_us"], 2500);
  CAF_CHECK_EQUAL(first["leased_at"], "2026-11-21T13:02:00.000Z");
  // Output that is not valid JSON stays a string; the answer stays valid.
  CAF_CHECK_EQUAL(items[1]["output"], R"({"format": trunc)");
  CAF_CHECK_EQUAL(items[1]["series"], 1);
  // A summary is text, even when it looks like JSON.
  CAF_CHECK_EQUAL(items[2]["output"], R"({"looks":"like json"})");
  CAF_CHECK_EQUAL(items[2]["kind"], "summarize");
  CAF_CHECK_EQUAL(items[3]["ok"], false);
  CAF_CHECK(items[3]["output"].is_null());
  CAF_CHECK_EQUAL(items[3]["error_code"], "provider_error");
  CAF_CHECK_EQUAL(items[3]["error_message"], "HTTP 500 from \"bedrock\"");
  CAF_CHECK(items[3]["leased_at"].is_null());
  // Owner or admin only; unknown jobs are 404.
  auto bob = login("bob", "builder");
  CAF_CHECK(
    is_error(call(bhttp::verb::get, target, "", bearer(bob)), 404, "not_found"));
  CAF_CHECK_EQUAL(call(bhttp::verb::get, target, "", bearer(admin())).status,
                  200u);
  CAF_CHECK(is_error(
    call(bhttp::verb::get, "/jobs/nope/attempts", "", bearer(alice)), 404,
    "not_found"));
  CAF_CHECK(is_error(call(bhttp::verb::get, target), 401, "unauthorized"));
  auto post = call(bhttp::verb::post, target, "{}", bearer(alice));
  CAF_CHECK(is_error(post, 405, "method_not_allowed"));
  CAF_CHECK_EQUAL(post.header("Allow"), "GET");
}

CAF_TEST(dlq routes are for admins) {
  auto alice = login("alice", "wonderland");
  for (auto [verb, target, body] :
       std::vector<std::tuple<bhttp::verb, std::string, std::string>>{
         {bhttp::verb::get, "/dlq", ""},
         {bhttp::verb::get, "/dlq?since=0&limit=5", ""},
         {bhttp::verb::get, "/dlq/job-1", ""},
         {bhttp::verb::delete_, "/dlq/job-1", ""},
         {bhttp::verb::get, "/dlq/report", ""},
         {bhttp::verb::post, "/dlq/redrive", R"({"job_id":"job-1"})"},
         {bhttp::verb::get, "/cluster/nodes", ""}}) {
    CAF_MESSAGE(target);
    auto r = call(verb, target, body);
    CAF_CHECK(is_error(r, 401, "unauthorized"));
    CAF_CHECK_EQUAL(r.header("WWW-Authenticate"), "Bearer");
    r = call(verb, target, body, bearer(alice));
    CAF_CHECK(is_error(r, 403, "forbidden"));
    CAF_CHECK(contains(detail(r), "admin"));
  }
  // A user's token with a forged role is a bad signature, not an admin.
  jwt_codec other{"another-secret"};
  auto forged = other.sign({"alice", "admin", now, now + 60, 0});
  CAF_CHECK(is_error(call(bhttp::verb::get, "/dlq", "", bearer(forged)), 401,
                     "unauthorized"));
  // Methods.
  for (auto [verb, target, allow] :
       std::vector<std::tuple<bhttp::verb, std::string, std::string>>{
         {bhttp::verb::delete_, "/dlq", "GET"},
         {bhttp::verb::post, "/dlq/report", "GET"},
         {bhttp::verb::get, "/dlq/redrive", "POST"},
         {bhttp::verb::put, "/dlq/job-1", "GET, DELETE"},
         {bhttp::verb::post, "/dlq/job-1", "GET, DELETE"}}) {
    auto r = call(verb, target, "", bearer(admin()));
    CAF_CHECK(is_error(r, 405, "method_not_allowed"));
    CAF_CHECK_EQUAL(r.header("Allow"), allow);
  }
  CAF_CHECK(is_error(call(bhttp::verb::get, "/dlq/", "", bearer(admin())),
                     404, "not_found"));
  CAF_CHECK(is_error(call(bhttp::verb::get, "/dlq/a/b", "", bearer(admin())),
                     404, "not_found"));
}

CAF_TEST(dlq list) {
  auto alice = login("alice", "wonderland");
  auto a = create_job(alice, "a.mp4")["job_id"].get<std::string>();
  auto b = create_job(alice, "b.mp4")["job_id"].get<std::string>();
  auto c = create_job(alice, "c.mp4")["job_id"].get<std::string>();
  bury(a, "bad_media", 1'795'266'100'000,
       R"({"format":{"format_name":"mov,mp4"},"streams":[]})");
  bury(b, "timeout", 1'795'266'200'000);
  bury(c, "bad_media", 1'795'266'300'000, "not json at all");
  auto r = call(bhttp::verb::get, "/dlq", "", bearer(admin()));
  CAF_REQUIRE_EQUAL(r.status, 200u);
  {
    std::lock_guard<std::mutex> guard{store->mtx};
    CAF_CHECK_EQUAL(store->last_since, 0);
    CAF_CHECK_EQUAL(store->last_limit, 50u);
  }
  auto doc = r.doc();
  auto items = doc["items"];
  CAF_REQUIRE_EQUAL(items.size(), 3u);
  CAF_CHECK_EQUAL(items[0]["job_id"], c); // newest first
  CAF_CHECK_EQUAL(items[2]["job_id"], a);
  auto d = items[2];
  CAF_CHECK_EQUAL(d["object"], json({{"bucket", "uploads"},
                                     {"key", "uploads/" + a + "/a.mp4"},
                                     {"version", "v1"},
                                     {"etag", "etag-1"},
                                     {"size", 42}}));
  CAF_CHECK_EQUAL(d["filename"], "a.mp4");
  CAF_CHECK_EQUAL(d["series"], 0);
  CAF_CHECK_EQUAL(d["kind"], "summarize");
  CAF_CHECK_EQUAL(d["error_code"], "bad_media");
  CAF_CHECK_EQUAL(d["error_message"], "bad_media happened");
  CAF_REQUIRE_EQUAL(d["attempts"].size(), 1u);
  CAF_CHECK_EQUAL(d["attempts"][0]["worker"], "node/w1");
  CAF_CHECK_EQUAL(d["attempts"][0]["lease_id"], 7);
  CAF_CHECK_EQUAL(d["probe_output"]["format"]["format_name"], "mov,mp4");
  CAF_CHECK_EQUAL(d["created_at"], "2026-11-21T13:01:40.000Z");
  CAF_CHECK(d["redriven_at"].is_null());
  CAF_CHECK(items[1]["probe_output"].is_null());
  CAF_CHECK_EQUAL(items[0]["probe_output"], "not json at all");
  // Paging.
  r = call(bhttp::verb::get, "/dlq?since=1795266200000&limit=1", "",
           bearer(admin()));
  CAF_REQUIRE_EQUAL(r.status, 200u);
  doc = r.doc();
  CAF_REQUIRE_EQUAL(doc["items"].size(), 1u);
  CAF_CHECK_EQUAL(doc["items"][0]["job_id"], c);
  {
    std::lock_guard<std::mutex> guard{store->mtx};
    CAF_CHECK_EQUAL(store->last_since, 1'795'266'200'000);
    CAF_CHECK_EQUAL(store->last_limit, 1u);
  }
  CAF_CHECK_EQUAL(
    call(bhttp::verb::get, "/dlq?limit=200", "", bearer(admin())).status, 200u);
  for (auto bad : {"limit=0", "limit=201", "limit=", "limit=abc", "limit=-1",
                   "limit=1e2", "since=-5", "since=abc", "since=",
                   "since=99999999999999999999", "since=1.5"}) {
    r = call(bhttp::verb::get, std::string{"/dlq?"} + bad, "",
             bearer(admin()));
    CAF_CHECK(is_error(r, 422, "invalid_argument"));
  }
}

CAF_TEST(dlq get and delete) {
  auto alice = login("alice", "wonderland");
  auto a = create_job(alice)["job_id"].get<std::string>();
  bury(a, "bad_media", 1'795'266'100'000);
  auto r = call(bhttp::verb::get, "/dlq/" + a, "", bearer(admin()));
  CAF_REQUIRE_EQUAL(r.status, 200u);
  auto doc = r.doc();
  CAF_CHECK_EQUAL(doc["job_id"], a);
  CAF_CHECK_EQUAL(doc["error_code"], "bad_media");
  r = call(bhttp::verb::get, "/dlq/nope", "", bearer(admin()));
  CAF_CHECK(is_error(r, 404, "not_found"));
  CAF_CHECK(contains(detail(r), "nope"));
  r = call(bhttp::verb::delete_, "/dlq/" + a, "", bearer(admin()));
  CAF_REQUIRE_EQUAL(r.status, 200u);
  CAF_CHECK_EQUAL(r.doc(), json({{"job_id", a}, {"removed", true}}));
  r = call(bhttp::verb::delete_, "/dlq/" + a, "", bearer(admin()));
  CAF_REQUIRE_EQUAL(r.status, 200u);
  CAF_CHECK_EQUAL(r.doc(), json({{"job_id", a}, {"removed", false}}));
  CAF_CHECK(is_error(call(bhttp::verb::get, "/dlq/" + a, "", bearer(admin())),
                     404, "not_found"));
}

CAF_TEST(cluster nodes need a registry) {
  // This node runs no cluster registry: a clear 503, never a hang or 500.
  auto r = call(bhttp::verb::get, "/cluster/nodes", "", bearer(admin()));
  CAF_CHECK(is_error(r, 503, "storage_unavailable"));
  CAF_CHECK(contains(detail(r), "cluster registry"));
  r = call(bhttp::verb::post, "/cluster/nodes", "", bearer(admin()));
  CAF_CHECK(is_error(r, 405, "method_not_allowed"));
  CAF_CHECK_EQUAL(r.header("Allow"), "GET");
}

CAF_TEST(dlq report) {
  auto alice = login("alice", "wonderland");
  auto a = create_job(alice)["job_id"].get<std::string>();
  auto b = create_job(alice)["job_id"].get<std::string>();
  auto c = create_job(alice)["job_id"].get<std::string>();
  bury(a, "bad_media", 1'795'266'100'000);
  bury(b, "bad_media", 1'795'266'110'000);
  bury(c, "timeout", 1'795'266'120'000);
  auto r = call(bhttp::verb::get, "/dlq/report", "", bearer(admin()));
  CAF_REQUIRE_EQUAL(r.status, 200u);
  {
    std::lock_guard<std::mutex> guard{store->mtx};
    CAF_CHECK_EQUAL(store->last_window, 0);
  }
  auto doc = r.doc();
  CAF_CHECK_EQUAL(doc["generated_at"], "2026-11-21T13:02:10.000Z");
  CAF_CHECK_EQUAL(doc["window"]["start"], "1970-01-01T00:00:00.000Z");
  CAF_CHECK_EQUAL(doc["window"]["end"], "2026-11-21T13:02:10.000Z");
  CAF_CHECK_EQUAL(doc["total"], 3);
  auto cats = doc["categories"];
  CAF_REQUIRE(cats.is_object());
  CAF_CHECK_EQUAL(cats.size(), 2u);
  auto bm = cats["bad_media"];
  CAF_CHECK_EQUAL(bm["count"], 2);
  CAF_CHECK_EQUAL(bm["first_seen"], "2026-11-21T13:01:40.000Z");
  CAF_CHECK_EQUAL(bm["last_seen"], "2026-11-21T13:01:50.000Z");
  CAF_CHECK_EQUAL(bm["recommendation"], "look at bad_media");
  CAF_REQUIRE_EQUAL(bm["samples"].size(), 2u);
  CAF_CHECK(contains(bm["samples"][0].get<std::string>(), "bad_media"));
  CAF_CHECK_EQUAL(cats["timeout"]["count"], 1);
  r = call(bhttp::verb::get, "/dlq/report?window_s=15", "", bearer(admin()));
  CAF_REQUIRE_EQUAL(r.status, 200u);
  {
    std::lock_guard<std::mutex> guard{store->mtx};
    CAF_CHECK_EQUAL(store->last_window, 15'000);
  }
  doc = r.doc();
  CAF_CHECK_EQUAL(doc["total"], 1);
  CAF_CHECK_EQUAL(doc["window"]["start"], "2026-11-21T13:01:55.000Z");
  for (auto bad : {"-1", "abc", "", "1.5", "9999999999999"}) {
    r = call(bhttp::verb::get, std::string{"/dlq/report?window_s="} + bad, "",
             bearer(admin()));
    CAF_CHECK(is_error(r, 422, "invalid_argument"));
  }
}

CAF_TEST(dlq redrive) {
  auto alice = login("alice", "wonderland");
  auto a = create_job(alice)["job_id"].get<std::string>();
  auto b = create_job(alice)["job_id"].get<std::string>();
  auto c = create_job(alice)["job_id"].get<std::string>();
  auto pending = create_job(alice)["job_id"].get<std::string>();
  bury(a, "timeout", 1'795'266'100'000);
  bury(b, "bad_media", 1'795'266'110'000);
  bury(c, "bad_media", 1'795'266'120'000);
  auto post = [&](const std::string& body) {
    return call(bhttp::verb::post, "/dlq/redrive", body, bearer(admin()));
  };
  // One job.
  auto r = post(json{{"job_id", a}}.dump());
  CAF_REQUIRE_EQUAL(r.status, 200u);
  auto doc = r.doc();
  CAF_CHECK_EQUAL(doc["job_id"], a);
  CAF_CHECK_EQUAL(doc["status"], "SUBMITTED");
  CAF_CHECK_EQUAL(doc["series"], 1);
  // Twice runs once.
  r = post(json{{"job_id", a}}.dump());
  CAF_CHECK(is_error(r, 409, "conflict"));
  // Not FAILED.
  CAF_CHECK(is_error(post(json{{"job_id", pending}}.dump()), 409, "conflict"));
  CAF_CHECK(is_error(post(R"({"job_id":"nope"})"), 404, "not_found"));
  // The redriven record shows when.
  doc = call(bhttp::verb::get, "/dlq/" + a, "", bearer(admin())).doc();
  CAF_CHECK_EQUAL(doc["redriven_at"], "2026-11-21T13:02:20.000Z");
  // A category.
  r = post(R"({"category":"bad_media"})");
  CAF_REQUIRE_EQUAL(r.status, 200u);
  CAF_CHECK_EQUAL(r.doc(), json({{"category", "bad_media"}, {"redriven", 2}}));
  r = post(R"({"category":"bad_media"})");
  CAF_CHECK_EQUAL(r.doc(), json({{"category", "bad_media"}, {"redriven", 0}}));
  r = post(R"({"category":"gremlins"})");
  CAF_CHECK(is_error(r, 422, "invalid_argument"));
  CAF_CHECK(contains(detail(r), "gremlins"));
  // Exactly one of the two, as strings.
  for (auto bad : {R"({})", R"({"job_id":"x","category":"timeout"})",
                   R"({"job_id":5})", R"({"category":["timeout"]})",
                   R"({"job_id":""})", R"({"job_id":null,"category":null})",
                   R"("job_id")", R"([])"}) {
    r = post(bad);
    CAF_CHECK(is_error(r, 422, "invalid_argument"));
  }
  CAF_CHECK(is_error(post(R"({"job_id":)"), 400, "invalid_json"));
  CAF_CHECK(is_error(post(""), 400, "invalid_json"));
}

CAF_TEST(dlq routes without an analyzer) {
  auto cfg = make_config();
  auto hdl = handles;
  hdl.analyzer = nullptr;
  hdl.admin = spawn_console(dlq_analyzer_actor{});
  api_server lean{sys, cfg, hdl, nullptr};
  CAF_REQUIRE(!lean.start());
  client c{lean.port()};
  auto r = c.call(bhttp::verb::get, "/dlq/report", "", bearer(admin()));
  CAF_CHECK(is_error(r, 503, "storage_unavailable"));
  r = c.call(bhttp::verb::post, "/dlq/redrive", R"({"category":"timeout"})",
             bearer(admin()));
  CAF_CHECK(is_error(r, 503, "storage_unavailable"));
  // The registry's routes still work.
  r = c.call(bhttp::verb::get, "/dlq", "", bearer(admin()));
  CAF_CHECK_EQUAL(r.status, 200u);
  lean.stop();
  caf::anon_send_exit(hdl.admin, caf::exit_reason::user_shutdown);
}

CAF_TEST(hostile filenames reach the registry intact) {
  auto alice = login("alice", "wonderland");
  auto post = [&](const std::string& body) {
    return call(bhttp::verb::post, "/jobs", body, bearer(alice));
  };
  // JSON escapes decode to the bytes they name, NUL included; the registry
  // judges them.
  for (auto [body, bytes] : std::vector<std::pair<std::string, std::string>>{
         {R"({"filename":"a\u0000b.mp4"})", std::string{"a\0b.mp4", 7}},
         {R"({"filename":"a\u001fb.mp4"})", "a\x1f" "b.mp4"},
         {R"({"filename":"a\nb.mp4"})", "a\nb.mp4"},
         {R"({"filename":"\u002e\u002e\u002fetc"})", "../etc"},
         {R"({"filename":"a\/b.mp4"})", "a/b.mp4"},
         {R"({"filename":"..\\x.mp4"})", "..\\x.mp4"}}) {
    auto r = post(body);
    CAF_CHECK(is_error(r, 422, "invalid_argument"));
    std::lock_guard<std::mutex> guard{store->mtx};
    CAF_REQUIRE(!store->filenames.empty());
    CAF_CHECK_EQUAL(store->filenames.back(), bytes);
  }
  // A content type with a line break would split a header downstream.
  for (auto ct : {R"(video/mp4\r\nX-Evil: 1)", R"(video/mp4\u0000)"}) {
    auto r = post(std::string{R"({"filename":"ok.mp4","content_type":")"} + ct
                  + "\"}");
    CAF_CHECK(is_error(r, 422, "invalid_argument"));
    CAF_CHECK(contains(detail(r), "content_type"));
  }
  // Not JSON at all: invalid UTF-8 inside a string, a raw control byte.
  CAF_CHECK(
    is_error(post("{\"filename\":\"a\xff.mp4\"}"), 400, "invalid_json"));
  CAF_CHECK(
    is_error(post(std::string{"{\"filename\":\"a\0b\"}", 16}), 400,
             "invalid_json"));
  // Valid but deeply nested JSON, within the body limit.
  auto deep = std::string(2000, '[') + std::string(2000, ']');
  CAF_CHECK(is_error(post(deep), 422, "invalid_argument"));
  // Unicode is fine.
  CAF_CHECK_EQUAL(post(R"({"filename":"caf\u00e9 \ud83c\udfac.mp4"})").status,
                  201u);
  CAF_CHECK_EQUAL(call(bhttp::verb::get, "/healthz").status, 200u);
}

CAF_TEST(hostile request lines) {
  // A target far over the header budget is still a 414, not a 431.
  client a{server->port()};
  auto r = a.raw("GET /jobs/" + std::string(40 * 1024, 'x')
                 + " HTTP/1.1\r\nHost: x\r\n\r\n");
  CAF_CHECK(is_error(r, 414, "uri_too_long"));
  // A short target with a huge header is a 431, however it arrives.
  for (auto kib : {30, 40, 64}) {
    client big{server->port()};
    r = big.raw("GET /history HTTP/1.1\r\nHost: x\r\nX-Big: "
                + std::string(kib * 1024, 'a') + "\r\n\r\n");
    CAF_CHECK(is_error(r, 431, "header_too_large"));
  }
  {
    // The request line alone in the first segment, the rest later.
    client split{server->port()};
    asio::write(split.socket(),
                asio::buffer(std::string{"GET /history HTTP/1.1\r\n"}));
    std::this_thread::sleep_for(std::chrono::milliseconds{50});
    r = split.raw("X-Big: " + std::string(40 * 1024, 'a') + "\r\n\r\n");
    CAF_CHECK(is_error(r, 431, "header_too_large"));
    client part{server->port()};
    asio::write(part.socket(), asio::buffer(std::string{"GET /hist"}));
    std::this_thread::sleep_for(std::chrono::milliseconds{50});
    r = part.raw("ory HTTP/1.1\r\nX-Big: " + std::string(40 * 1024, 'a')
                 + "\r\n\r\n");
    CAF_CHECK(is_error(r, 431, "header_too_large"));
  }
  // Unknown methods get 405 with the route's methods.
  client b{server->port()};
  r = b.raw("BREW /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  CAF_CHECK(is_error(r, 405, "method_not_allowed"));
  client c{server->port()};
  r = c.raw("GET /jobs/\x01 HTTP/1.1\r\nHost: x\r\n\r\n");
  CAF_CHECK(is_error(r, 400, "bad_request"));
  // Percent-escapes are not decoded into path separators.
  auto token = login("alice", "wonderland");
  r = call(bhttp::verb::get, "/jobs/..%2F..%2Fetc%2Fpasswd", "",
           bearer(token));
  CAF_CHECK(is_error(r, 404, "not_found"));
  r = call(bhttp::verb::get, "/jobs/%00", "", bearer(token));
  CAF_CHECK(is_error(r, 404, "not_found"));
  CAF_CHECK_EQUAL(call(bhttp::verb::get, "/healthz").status, 200u);
}

CAF_TEST(rate limiting per client) {
  auto cfg = make_config();
  cfg.rate_limit = 2;
  cfg.rate_burst = 3;
  // The limiter's clock stands still unless the test moves it: a slow
  // machine cannot refill the bucket between the burst and the refusal.
  auto steady = std::make_shared<std::atomic<int64_t>>(0);
  auto t0 = std::chrono::steady_clock::now();
  cfg.steady_now = [steady, t0] {
    return t0 + std::chrono::milliseconds{steady->load()};
  };
  api_server limited{sys, cfg, handles, nullptr};
  CAF_REQUIRE(!limited.start());
  client c{limited.port()};
  auto body = json{{"username", "alice"}, {"password", "wonderland"}}.dump();
  for (int i = 0; i < 3; ++i)
    CAF_CHECK_EQUAL(c.call(bhttp::verb::post, "/auth/login", body).status,
                    200u);
  auto r = c.call(bhttp::verb::post, "/auth/login", body);
  CAF_CHECK(is_error(r, 429, "rate_limited"));
  CAF_CHECK(contains(detail(r), "too many requests from 127.0.0.1"));
  auto retry = r.header("Retry-After");
  CAF_MESSAGE("Retry-After: " << retry);
  CAF_REQUIRE(!retry.empty());
  auto seconds = std::stoi(retry);
  CAF_CHECK_GREATER_OR_EQUAL(seconds, 1);
  CAF_CHECK(contains(detail(r), "retry after " + retry + " s"));
  // Unknown routes count too; the connection stays usable.
  CAF_CHECK(is_error(c.call(bhttp::verb::get, "/nope"), 429, "rate_limited"));
  // Another connection from the same address shares the bucket.
  client d{limited.port()};
  CAF_CHECK_EQUAL(d.call(bhttp::verb::post, "/auth/login", body).status, 429u);
  // Monitoring is never throttled.
  for (int i = 0; i < 20; ++i) {
    CAF_CHECK_EQUAL(c.call(bhttp::verb::get, "/healthz").status, 200u);
    CAF_CHECK_EQUAL(c.call(bhttp::verb::get, "/metrics").status, 200u);
  }
  // Waiting as told is enough, however hard the client pushed meanwhile.
  *steady += int64_t{seconds} * 1000;
  CAF_CHECK_EQUAL(c.call(bhttp::verb::post, "/auth/login", body).status,
                  200u);
  // Counted by route and status like any other answer.
  auto text = c.call(bhttp::verb::get, "/metrics").body;
  CAF_CHECK(contains(
    text,
    R"(vidflow_http_requests_total{method="POST",route="/auth/login",status="429"} 2)"));
  limited.stop();
  // The shared server (no limit) never answers 429.
  client e{server->port()};
  for (int i = 0; i < 50; ++i)
    CAF_CHECK_EQUAL(e.call(bhttp::verb::get, "/nope").status, 404u);
}

CAF_TEST(rate settings are validated) {
  for (auto [rate, burst] : std::vector<std::pair<double, uint32_t>>{
         {-1, 0}, {std::nan(""), 0}, {1e12, 0}, {5, 2'000'000'000}}) {
    auto cfg = make_config();
    cfg.rate_limit = rate;
    cfg.rate_burst = burst;
    api_server bad{sys, cfg, handles, nullptr};
    auto err = bad.start();
    CAF_REQUIRE(err);
    CAF_CHECK(contains(message_of(err), "rate_"));
  }
}

// -- connection limits, framing, proxies (issue 8) ----------------------------

CAF_TEST(connections over the per-client cap are refused at once) {
  auto cfg = make_config();
  cfg.max_connections_per_client = 3;
  api_server limited{sys, cfg, handles, nullptr};
  CAF_REQUIRE(!limited.start());
  // An answered request proves each connection holds its slot.
  std::vector<std::unique_ptr<client>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<client>(limited.port()));
    CAF_CHECK_EQUAL(held.back()->call(bhttp::verb::get, "/healthz").status,
                    200u);
  }
  // The fourth from the same address is answered without being read.
  client over{limited.port()};
  boost::beast::flat_buffer over_buf;
  auto r = read_reply(over.socket(), over_buf);
  CAF_CHECK(is_error(r, 503, "too_many_connections"));
  CAF_CHECK_EQUAL(r.header("Retry-After"), "1");
  CAF_CHECK(over.closed_by_peer());
  // Another client still gets through, on a fresh connection.
  client other{limited.port(), "127.0.0.2"};
  CAF_CHECK_EQUAL(other.call(bhttp::verb::get, "/healthz").status, 200u);
  // A slot is free again once a connection goes.
  held.pop_back();
  bool again = false;
  for (int i = 0; i < 100 && !again; ++i) {
    client c{limited.port()};
    again = c.call(bhttp::verb::get, "/healthz").status == 200u;
    if (!again)
      std::this_thread::sleep_for(std::chrono::milliseconds{20});
  }
  CAF_CHECK(again);
  limited.stop();
}

CAF_TEST(connections over the total cap are refused at once) {
  auto cfg = make_config();
  cfg.max_connections = 2;
  cfg.max_connections_per_client = 0;
  api_server limited{sys, cfg, handles, nullptr};
  CAF_REQUIRE(!limited.start());
  client a{limited.port()};
  client b{limited.port(), "127.0.0.2"};
  CAF_CHECK_EQUAL(a.call(bhttp::verb::get, "/healthz").status, 200u);
  CAF_CHECK_EQUAL(b.call(bhttp::verb::get, "/healthz").status, 200u);
  client c{limited.port(), "127.0.0.3"};
  boost::beast::flat_buffer buf;
  CAF_CHECK(is_error(read_reply(c.socket(), buf), 503,
                     "too_many_connections"));
  limited.stop();
}

CAF_TEST(a request header dribbled byte by byte is cut off) {
  auto cfg = make_config();
  cfg.idle_timeout = std::chrono::milliseconds{500};
  api_server limited{sys, cfg, handles, nullptr};
  CAF_REQUIRE(!limited.start());
  client c{limited.port()};
  asio::write(c.socket(), asio::buffer(std::string{"GET /healthz HTTP/1.1\r\n"}));
  // One byte every 50 ms, far longer than the deadline in total.
  boost::system::error_code ec;
  for (int i = 0; i < 40 && !ec; ++i) {
    asio::write(c.socket(), asio::buffer(std::string{"X"}), ec);
    std::this_thread::sleep_for(std::chrono::milliseconds{50});
  }
  CAF_CHECK(c.closed_by_peer());
  limited.stop();
}

CAF_TEST(ambiguous framing is refused and the connection closed) {
  struct variant {
    const char* head;
    const char* body;
    unsigned status;
  };
  std::vector<variant> variants{
    {"Transfer-Encoding: gzip, chunked\r\n", "0\r\n\r\n", 501},
    {"Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n",
     501},
    {"Content-Length: 2\r\nContent-Length: 2\r\n", "{}", 400},
    {"Content-Length: 2, 2\r\n", "{}", 400},
    {"Content-Length: 2\r\nContent-Length: 3\r\n", "{}x", 400},
    {"X-Folded: a\r\n  b\r\nContent-Length: 2\r\n", "{}", 400},
    {"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", "0\r\n\r\n", 400},
    {"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n", 400},
    {"Transfer-Encoding: identity\r\nContent-Length: 2\r\n", "{}", 400},
    {"Transfer-Encoding: chunked, chunked\r\n", "0\r\n\r\n", 400},
  };
  for (auto& v : variants) {
    CAF_MESSAGE("framing: " << v.head);
    client c{server->port()};
    auto r = c.raw(std::string{"POST /auth/login HTTP/1.1\r\nHost: x\r\n"}
                   + v.head + "\r\n" + v.body);
    CAF_CHECK_EQUAL(r.status, v.status);
    CAF_CHECK(is_error(r, v.status,
                       v.status == 501 ? "unsupported_transfer_coding"
                                       : "bad_request"));
    CAF_CHECK(!r.keep_alive);
    CAF_CHECK(c.closed_by_peer());
  }
  // Plain framing still works on the same server.
  CAF_CHECK_EQUAL(call(bhttp::verb::get, "/healthz").status, 200u);
}

CAF_TEST(X-Forwarded-For counts only behind a trusted proxy) {
  auto cfg = make_config();
  cfg.rate_limit = 0.001;
  cfg.rate_burst = 1;
  cfg.trusted_proxies = {"127.0.0.0/30", "10.0.0.0/8"};
  api_server behind{sys, cfg, handles, nullptr};
  CAF_REQUIRE(!behind.start());
  auto via = [&](const char* from, const std::string& xff) {
    client c{behind.port(), from};
    return c.call(bhttp::verb::get, "/nope", "",
                  {{"X-Forwarded-For", xff}});
  };
  // The right-most untrusted address is the client; left of it is forged.
  CAF_CHECK_EQUAL(via("127.0.0.1", "1.1.1.1, 198.51.100.7, 10.1.2.3").status,
                  404u);
  auto r = via("127.0.0.1", "2.2.2.2, 198.51.100.7");
  CAF_CHECK(is_error(r, 429, "rate_limited"));
  CAF_CHECK(contains(detail(r), "198.51.100.7"));
  // Another client behind the same proxy has its own budget.
  CAF_CHECK_EQUAL(via("127.0.0.1", "198.51.100.8").status, 404u);
  // An untrusted peer's X-Forwarded-For is ignored: its own address counts.
  CAF_CHECK_EQUAL(via("127.0.0.5", "203.0.113.1").status, 404u);
  r = via("127.0.0.5", "203.0.113.2");
  CAF_CHECK(is_error(r, 429, "rate_limited"));
  CAF_CHECK(contains(detail(r), "127.0.0.5"));
  behind.stop();
  // Nothing trusted (the default): the header never counts.
  cfg.trusted_proxies.clear();
  api_server direct{sys, cfg, handles, nullptr};
  CAF_REQUIRE(!direct.start());
  client c{direct.port()};
  CAF_CHECK_EQUAL(
    c.call(bhttp::verb::get, "/nope", "", {{"X-Forwarded-For", "9.9.9.9"}})
      .status,
    404u);
  r = c.call(bhttp::verb::get, "/nope", "", {{"X-Forwarded-For", "9.9.9.8"}});
  CAF_CHECK(is_error(r, 429, "rate_limited"));
  CAF_CHECK(contains(detail(r), "127.0.0.1"));
  direct.stop();
  // A bad entry is refused at start, naming the setting.
  cfg.trusted_proxies = {"10.0.0.0/33"};
  api_server bad{sys, cfg, handles, nullptr};
  auto err = bad.start();
  CAF_CHECK(err);
  CAF_CHECK(contains(vf::messages::message_of(err), "trusted_proxies"));
}


// -- accounts: the table is checked on every request (issue 8, #6) ----------

CAF_TEST(a removed account loses its tokens) {
  auto token = login("alice", "wonderland");
  CAF_CHECK_EQUAL(call(bhttp::verb::get, "/history", "", bearer(token)).status,
                  200u);
  accounts.erase(accounts.begin());
  write_accounts();
  now += 1;
  auto r = call(bhttp::verb::get, "/history", "", bearer(token));
  CAF_CHECK(is_error(r, 401, "unauthorized"));
  CAF_CHECK(contains(detail(r), "no longer exists"));
  CAF_CHECK(is_error(call(bhttp::verb::post, "/auth/login",
                          R"({"username":"alice","password":"wonderland"})"),
                     401, "unauthorized"));
  // Created again, even with the same password: the old token stays dead.
  accounts.push_back({"alice", "user", hash_password("wonderland", {1024, 8, 1}),
                      new_user_epoch()});
  write_accounts();
  now += 1;
  CAF_CHECK(is_error(call(bhttp::verb::get, "/history", "", bearer(token)),
                     401, "unauthorized"));
  auto fresh = login("alice", "wonderland");
  CAF_CHECK_EQUAL(call(bhttp::verb::get, "/history", "", bearer(fresh)).status,
                  200u);
}

CAF_TEST(a demoted admin loses the admin routes at once) {
  auto token = admin();
  CAF_CHECK_EQUAL(call(bhttp::verb::get, "/dlq", "", bearer(token)).status,
                  200u);
  account("root").role = "user";
  write_accounts();
  now += 1;
  auto r = call(bhttp::verb::get, "/dlq", "", bearer(token));
  CAF_CHECK(is_error(r, 403, "forbidden"));
  CAF_CHECK(contains(detail(r), "has role 'user'"));
  // And sees only its own jobs, like any user.
  auto job = create_job(login("alice", "wonderland"));
  CAF_CHECK(is_error(call(bhttp::verb::get,
                          "/jobs/" + job["job_id"].get<std::string>(), "",
                          bearer(token)),
                     404, "not_found"));
  // A user's token does not gain a role it never had by lying about it.
  jwt_codec ours{secret};
  jwt_claims lie{"bob", "admin", now, now + 60, 0};
  lie.gen = account("bob").epoch;
  CAF_CHECK(is_error(call(bhttp::verb::get, "/dlq", "", bearer(ours.sign(lie))),
                     403, "forbidden"));
}

CAF_TEST(a password change revokes older tokens) {
  auto old_token = login("bob", "builder");
  auto old_epoch = account("bob").epoch;
  account("bob").password_hash = hash_password("digger", {1024, 8, 1});
  account("bob").epoch = new_user_epoch();
  write_accounts();
  now += 1;
  auto r = call(bhttp::verb::get, "/history", "", bearer(old_token));
  CAF_CHECK(is_error(r, 401, "unauthorized"));
  CAF_CHECK(contains(detail(r), "revoked"));
  CAF_CHECK(is_error(call(bhttp::verb::post, "/auth/login",
                          R"({"username":"bob","password":"builder"})"),
                     401, "unauthorized"));
  auto token = login("bob", "digger");
  CAF_CHECK_EQUAL(call(bhttp::verb::get, "/history", "", bearer(token)).status,
                  200u);
  // Exact, whatever the clock says: the old epoch with a brand-new iat is
  // still refused, and tokens without an epoch (issued before this check
  // existed) too.
  jwt_codec ours{secret};
  jwt_claims same_second{"bob", "user", now, now + 60, 0};
  same_second.gen = old_epoch;
  CAF_CHECK(is_error(call(bhttp::verb::get, "/history", "",
                          bearer(ours.sign(same_second))),
                     401, "unauthorized"));
  CAF_CHECK(is_error(call(bhttp::verb::get, "/history", "",
                          bearer(ours.sign({"bob", "user", now, now + 60, 0}))),
                     401, "unauthorized"));
}

// -- password guessing (issue 8, #7) ------------------------------------------

CAF_TEST(failed logins are throttled with growing delays) {
  auto wrong = [&](const std::string& name) {
    return call(bhttp::verb::post, "/auth/login",
                json{{"username", name}, {"password", "guess"}}.dump());
  };
  for (int i = 0; i < 5; ++i)
    CAF_CHECK(is_error(wrong("alice"), 401, "unauthorized"));
  // The sixth attempt waits a second, right password or not.
  auto r = wrong("alice");
  CAF_CHECK(is_error(r, 429, "rate_limited"));
  CAF_CHECK_EQUAL(r.header("Retry-After"), "1");
  r = call(bhttp::verb::post, "/auth/login",
           R"({"username":"alice","password":"wonderland"})");
  CAF_CHECK(is_error(r, 429, "rate_limited"));
  now += 1;
  CAF_CHECK(is_error(wrong("alice"), 401, "unauthorized"));
  r = wrong("alice");
  CAF_CHECK(is_error(r, 429, "rate_limited"));
  CAF_CHECK_EQUAL(r.header("Retry-After"), "2");
  now += 2;
  // A success clears the name's count ...
  login("alice", "wonderland");
  // ... but not the client's: it has failed 6 times, whatever the names.
  CAF_CHECK(is_error(wrong("bob"), 401, "unauthorized"));
  r = call(bhttp::verb::post, "/auth/login",
           R"({"username":"root","password":"toor"})");
  CAF_CHECK(is_error(r, 429, "rate_limited"));
  CAF_CHECK_EQUAL(r.header("Retry-After"), "4");
  now += 4;
  login("root", "toor");
}

CAF_TEST_FIXTURE_SCOPE_END()

namespace {

client_address addr(unsigned char last, unsigned char second = 0) {
  client_address a{};
  a[10] = a[11] = 0xFF;
  a[12] = 10;
  a[14] = second;
  a[15] = last;
  return a;
}

} // namespace

CAF_TEST(rate limiter buckets) {
  using std::chrono::milliseconds;
  rate_limiter off{0, 0};
  CAF_CHECK(!off.enabled());
  auto t0 = rate_limiter::clock::time_point{} + std::chrono::hours{1};
  for (int i = 0; i < 100; ++i)
    CAF_CHECK_EQUAL(off.acquire(addr(1), t0), 0u);
  CAF_CHECK_EQUAL(off.size(), 0u);
  // 2 per second, bursts of 3.
  rate_limiter lim{2, 3};
  CAF_CHECK(lim.enabled());
  CAF_CHECK_EQUAL(lim.burst(), 3u);
  for (int i = 0; i < 3; ++i)
    CAF_CHECK_EQUAL(lim.acquire(addr(1), t0), 0u);
  CAF_CHECK_EQUAL(lim.acquire(addr(1), t0), 1u);
  // Others are not affected.
  CAF_CHECK_EQUAL(lim.acquire(addr(2), t0), 0u);
  // Half a second later one token is back, and only one.
  CAF_CHECK_EQUAL(lim.acquire(addr(1), t0 + milliseconds{500}), 0u);
  CAF_CHECK_EQUAL(lim.acquire(addr(1), t0 + milliseconds{500}), 1u);
  // Refused requests take nothing: hammering does not extend the wait.
  for (int i = 0; i < 1000; ++i)
    CAF_CHECK_EQUAL(lim.acquire(addr(1), t0 + milliseconds{600}), 1u);
  CAF_CHECK_EQUAL(lim.acquire(addr(1), t0 + milliseconds{1000}), 0u);
  // Refills stop at the burst.
  auto t1 = t0 + std::chrono::hours{1};
  for (int i = 0; i < 3; ++i)
    CAF_CHECK_EQUAL(lim.acquire(addr(1), t1), 0u);
  CAF_CHECK_NOT_EQUAL(lim.acquire(addr(1), t1), 0u);
  // A slow rate announces whole seconds, rounded up.
  rate_limiter slow{0.1, 1};
  CAF_CHECK_EQUAL(slow.acquire(addr(1), t0), 0u);
  CAF_CHECK_EQUAL(slow.acquire(addr(1), t0), 10u);
  CAF_CHECK_EQUAL(slow.acquire(addr(1), t0 + milliseconds{2500}), 8u);
  CAF_CHECK_EQUAL(slow.acquire(addr(1), t0 + milliseconds{10'000}), 0u);
  // Burst 0 means ceil(rate), at least 1.
  CAF_CHECK_EQUAL((rate_limiter{2.5, 0}.burst()), 3u);
  CAF_CHECK_EQUAL((rate_limiter{0.2, 0}.burst()), 1u);
}

CAF_TEST(rate limiter memory is bounded) {
  auto t0 = rate_limiter::clock::time_point{} + std::chrono::hours{1};
  // 16 stripes of 16 buckets.
  rate_limiter lim{1, 2, 256};
  // A throttled client...
  CAF_CHECK_EQUAL(lim.acquire(addr(1, 200), t0), 0u);
  CAF_CHECK_EQUAL(lim.acquire(addr(1, 200), t0), 0u);
  CAF_CHECK_EQUAL(lim.acquire(addr(1, 200), t0), 1u);
  // ...and a spread-out flood of fresh addresses, all at once.
  for (unsigned hi = 0; hi < 40; ++hi)
    for (unsigned lo = 0; lo < 250; ++lo)
      (void) lim.acquire(addr(static_cast<unsigned char>(lo),
                              static_cast<unsigned char>(hi)),
                         t0);
  CAF_CHECK_LESS_OR_EQUAL(lim.size(), 256u);
  // Eviction kept the client most in debt: still throttled.
  CAF_CHECK_EQUAL(lim.acquire(addr(1, 200), t0), 1u);
  // Idle buckets are dropped once they are full again (then they are the
  // same as none): after a while, new clients sweep the table.
  auto later = t0 + std::chrono::minutes{5};
  for (unsigned lo = 0; lo < 100; ++lo)
    (void) lim.acquire(addr(static_cast<unsigned char>(lo), 250), later);
  CAF_CHECK_LESS_OR_EQUAL(lim.size(), 100u);
}

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
