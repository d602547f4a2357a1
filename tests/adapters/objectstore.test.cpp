// Tests of the built-in object store against a real store_server on an
// ephemeral port: presigned uploads, refusals, events, downloads, streaming.

#define CAF_SUITE adapters.objectstore

#include "vf_test.hpp"
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "caf/actor_system.hpp"
#include "caf/send.hpp"

#include "vf/adapters/objectstore/object_deleter.hpp"
#include "vf/adapters/objectstore/object_install.hpp"
#include "vf/adapters/objectstore/object_meta.hpp"
#include "vf/adapters/objectstore/object_paths.hpp"
#include "vf/adapters/objectstore/pending_journal.hpp"
#include "vf/adapters/objectstore/store_server.hpp"
#include "vf/adapters/sigv4/sigv4.hpp"
#include "vf/messages/errc.hpp"
#include "vf/messages/orchestrator_actor.hpp"
#include "vf/messages/upload_gate_actor.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <iterator>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace fs = std::filesystem;
using tcp = asio::ip::tcp;

using vf::adapters::objectstore::store_config;
using vf::adapters::objectstore::store_server;
using vf::messages::object_event;
using vf::messages::orchestrator_actor;

namespace {

constexpr const char* access_key = "AKIDEXAMPLE";
constexpr const char* secret_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
constexpr uint64_t small_limit = 1024 * 1024;

// -- helpers -----------------------------------------------------------------

std::string digest_hex(std::string_view data, const EVP_MD* md) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out, &len, md, nullptr);
  static constexpr char digits[] = "0123456789abcdef";
  std::string hex;
  for (unsigned i = 0; i < len; ++i) {
    hex += digits[out[i] >> 4];
    hex += digits[out[i] & 0x0F];
  }
  return hex;
}

std::string md5_hex(std::string_view data) {
  return digest_hex(data, EVP_md5());
}

std::string sha256_hex(std::string_view data) {
  return digest_hex(data, EVP_sha256());
}

/// Deterministic pseudo-random bytes, produced chunk by chunk.
struct byte_source {
  uint64_t state = 0x9E3779B97F4A7C15;
  void fill(char* dst, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      state ^= state << 13;
      state ^= state >> 7;
      state ^= state << 17;
      dst[i] = static_cast<char>(state & 0xFF);
    }
  }
  std::string make(size_t n) {
    std::string result(n, '\0');
    fill(result.data(), n);
    return result;
  }
};

std::string read_file(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  return {std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
}

size_t resident_bytes() {
  std::ifstream in{"/proc/self/statm"};
  size_t total = 0;
  size_t resident = 0;
  in >> total >> resident;
  return resident * static_cast<size_t>(::sysconf(_SC_PAGESIZE));
}

size_t entries_in(const std::string& dir) {
  std::error_code ec;
  size_t n = 0;
  for (fs::directory_iterator i{dir, ec}, end; !ec && i != end; i.increment(ec))
    ++n;
  return n;
}

// -- a fake orchestrator -----------------------------------------------------

/// What the fake orchestrator saw; shared with the test body.
struct recorder {
  std::mutex mtx;
  std::vector<object_event> events;
  std::atomic<bool> fail{false};
  std::atomic<bool> unknown{false};
  /// Records the event but never answers (as if the process died first).
  std::atomic<bool> hold{false};

  std::vector<object_event> snapshot() {
    std::lock_guard<std::mutex> guard{mtx};
    return events;
  }
};

orchestrator_actor::behavior_type
fake_orchestrator(orchestrator_actor::pointer self,
                  std::shared_ptr<recorder> rec) {
  // Promises withheld in `hold` mode; touched by this actor only.
  auto held = std::make_shared<std::vector<caf::typed_response_promise<bool>>>();
  return {
    [self, rec, held](vf::atoms::created,
                      object_event& evt) -> caf::result<bool> {
      {
        std::lock_guard<std::mutex> guard{rec->mtx};
        rec->events.push_back(evt);
      }
      if (rec->hold) {
        held->push_back(self->make_response_promise<bool>());
        return held->back();
      }
      if (rec->fail)
        return vf::messages::make_error(vf::messages::errc::storage_unavailable,
                                        "job store is down");
      if (rec->unknown)
        return vf::messages::make_error(vf::messages::errc::not_found,
                                        "no job for this key");
      return true;
    },
    [](vf::atoms::cancel,
       const std::string&) -> caf::result<vf::messages::job> {
      return vf::messages::make_error(vf::messages::errc::not_found);
    },
    [](vf::atoms::compose,
       const std::string&) -> caf::result<vf::messages::job> {
      return vf::messages::make_error(vf::messages::errc::not_found);
    },
    [](vf::atoms::recover) -> uint64_t { return 0; },
    [](vf::atoms::redrive,
       const std::string&) -> caf::result<vf::messages::job> {
      return vf::messages::make_error(vf::messages::errc::not_found);
    },
    [](vf::atoms::report, vf::messages::task_outcome&) { return false; },
  };
}

/// A gate like the real one, over what the fake orchestrator accepted: a
/// key whose event was acknowledged has its upload (only an identical
/// retry passes), any other key waits for one.
vf::messages::upload_gate_actor::behavior_type
fake_gate(vf::messages::upload_gate_actor::pointer,
          std::shared_ptr<recorder> rec) {
  return {
    [rec](vf::atoms::admit, const std::string& bucket, const std::string& key,
          uint64_t) -> vf::messages::object_ref {
      if (rec->fail || rec->hold)
        return {};
      std::lock_guard<std::mutex> guard{rec->mtx};
      for (auto& evt : rec->events)
        if (evt.object.bucket == bucket && evt.object.key == key)
          return evt.object;
      return {};
    },
  };
}

/// A gate for outputs: those of job `open` under lease 7 pass (it
/// renders), the rest are closed, like the real gate for a job that no
/// longer renders or a lease handed on; no lease at all is forbidden.
vf::messages::upload_gate_actor::behavior_type output_gate() {
  return {
    [](vf::atoms::admit, const std::string&, const std::string& key,
       uint64_t lease) -> caf::result<vf::messages::object_ref> {
      if (lease == 0)
        return vf::messages::make_error(vf::messages::errc::forbidden,
                                        "no lease");
      if (key.rfind("outputs/open/", 0) == 0 && lease == 7)
        return vf::messages::object_ref{};
      return vf::messages::make_error(vf::messages::errc::conflict,
                                      "the render lease of this URL is over");
    },
  };
}

/// A gate that admits outputs while `open` holds (a lease that ends while
/// its PUT is still under way).
vf::messages::upload_gate_actor::behavior_type
switch_gate(std::shared_ptr<std::atomic<bool>> open) {
  return {
    [open](vf::atoms::admit, const std::string&, const std::string&,
           uint64_t) -> caf::result<vf::messages::object_ref> {
      if (open->load())
        return vf::messages::object_ref{};
      return vf::messages::make_error(vf::messages::errc::conflict,
                                      "the render lease of this URL is over");
    },
  };
}

// -- a small HTTP client with deadlines --------------------------------------

struct reply {
  unsigned status = 0;
  std::string body;
  http::fields headers;
  bool ok = false;

  std::string header(http::field name) const {
    auto i = headers.find(name);
    return i == headers.end() ? std::string{} : std::string{i->value()};
  }
  std::string header(const char* name) const {
    auto i = headers.find(name);
    return i == headers.end() ? std::string{} : std::string{i->value()};
  }
};

/// Raw HTTP/1.1 over one connection, so tests control every byte (lying
/// lengths, chunking, aborts). Every operation has a deadline.
class client {
public:
  explicit client(uint16_t port) : sock_(ioc_) {
    sock_.connect({asio::ip::make_address("127.0.0.1"), port});
  }

  /// Connects from the loopback address `from` (another client).
  client(uint16_t port, const char* from) : sock_(ioc_) {
    sock_.open(tcp::v4());
    sock_.bind({asio::ip::make_address(from), 0});
    sock_.connect({asio::ip::make_address("127.0.0.1"), port});
  }

  /// Writes bytes; returns false if the server closed the connection.
  bool write(std::string_view data) {
    auto ec = await([&](auto handler) {
      asio::async_write(sock_, asio::buffer(data.data(), data.size()), handler);
    });
    return !ec;
  }

  /// Reads one response (`head`: expect no body).
  reply read(bool head = false) {
    reply result;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    parser.skip(head);
    auto ec = await(
      [&](auto handler) { http::async_read(sock_, buf_, parser, handler); });
    if (ec)
      return result;
    auto& msg = parser.get();
    result.status = msg.result_int();
    result.body = msg.body();
    for (auto& field : msg)
      result.headers.set(field.name_string(), field.value());
    result.ok = true;
    return result;
  }

  /// Returns whether the server closed the connection (EOF within 10 s).
  bool closed_by_peer() {
    char byte;
    auto ec = await([&](auto handler) {
      sock_.async_read_some(asio::buffer(&byte, 1), handler);
    });
    return ec == asio::error::eof || ec == asio::error::connection_reset;
  }

  void close() {
    boost::system::error_code ec;
    sock_.close(ec);
  }

private:
  template <class Start>
  boost::system::error_code await(Start start) {
    std::optional<boost::system::error_code> result;
    start([&](boost::system::error_code ec, size_t) { result = ec; });
    ioc_.restart();
    ioc_.run_for(std::chrono::seconds{30});
    if (!result) {
      close();
      ioc_.restart();
      ioc_.run();
      return asio::error::timed_out;
    }
    return *result;
  }

  asio::io_context ioc_;
  tcp::socket sock_;
  beast::flat_buffer buf_;
};

// -- fixture -----------------------------------------------------------------

struct fixture {
  vf::testing::config cfg;
  caf::actor_system sys{cfg};
  std::shared_ptr<recorder> rec = std::make_shared<recorder>();
  orchestrator_actor orch;
  std::string dir;
  std::shared_ptr<std::atomic<int64_t>> clock
    = std::make_shared<std::atomic<int64_t>>(1700000000);
  std::shared_ptr<std::mutex> log_mtx = std::make_shared<std::mutex>();
  std::shared_ptr<std::vector<std::string>> log_lines
    = std::make_shared<std::vector<std::string>>();
  std::unique_ptr<store_server> server;
  uint16_t port = 0;

  fixture() {
    char tmpl[] = "/tmp/vf-objectstore-XXXXXX";
    CAF_REQUIRE(::mkdtemp(tmpl) != nullptr);
    dir = tmpl;
    orch = sys.spawn(fake_orchestrator, rec);
    start(config());
  }

  ~fixture() {
    server.reset();
    caf::anon_send_exit(orch, caf::exit_reason::user_shutdown);
    orch = nullptr;
    std::error_code ec;
    fs::remove_all(dir, ec);
  }

  store_config config() {
    store_config result;
    result.host = "127.0.0.1";
    result.port = 0;
    result.data_dir = dir;
    result.buckets = {"uploads"};
    result.keys = {{access_key, secret_key, ""}};
    result.max_object_bytes = small_limit;
    result.announce_backoff_min = std::chrono::milliseconds{20};
    result.announce_backoff_max = std::chrono::milliseconds{160};
    auto now = clock;
    result.now = [now] {
      return now->load();
    };
    auto mtx = log_mtx;
    auto lines = log_lines;
    result.log = [mtx, lines](std::string line) {
      std::lock_guard<std::mutex> guard{*mtx};
      lines->push_back(std::move(line));
    };
    return result;
  }

  void start(store_config conf) {
    server.reset();
    server = std::make_unique<store_server>(sys, std::move(conf), orch);
    auto err = server->start();
    CAF_REQUIRE(!err);
    port = server->port();
    CAF_REQUIRE_NOT_EQUAL(port, 0u);
  }

  std::string endpoint() const {
    return "http://127.0.0.1:" + std::to_string(port);
  }

  /// Path plus query of a presigned URL.
  std::string presign(const std::string& method, const std::string& key,
                      std::optional<int64_t> signed_at = std::nullopt,
                      uint32_t expires = 900,
                      const std::string& bucket = "uploads",
                      vf::adapters::sigv4::pairs query = {}) {
    vf::adapters::sigv4::presign_params params;
    params.query = std::move(query);
    params.method = method;
    params.endpoint = endpoint();
    params.bucket = bucket;
    params.key = key;
    params.creds = {access_key, secret_key, ""};
    params.now = signed_at ? *signed_at : clock->load();
    params.expires = expires;
    auto url = vf::adapters::sigv4::presign_url(params);
    CAF_REQUIRE(url.compare(0, endpoint().size(), endpoint()) == 0);
    return url.substr(endpoint().size());
  }

  std::string request_head(const std::string& method, const std::string& target,
                           const std::string& extra = "") {
    return method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1:"
           + std::to_string(port) + "\r\n" + extra + "\r\n";
  }

  /// One PUT with a Content-Length body on a fresh connection.
  reply put(const std::string& target, const std::string& body,
            const std::string& extra = "") {
    client c{port};
    c.write(request_head("PUT", target,
                         "Content-Length: " + std::to_string(body.size())
                           + "\r\n" + extra)
            + body);
    return c.read();
  }

  reply get(const std::string& target, const std::string& method = "GET",
            const std::string& extra = "") {
    client c{port};
    c.write(request_head(method, target, extra));
    return c.read(method == "HEAD");
  }

  /// A presigned GET sending `Range: <range>` (not a signed header).
  reply get_range(const std::string& key, const std::string& range,
                  const std::string& extra = "") {
    return get(presign("GET", key), "GET", "Range: " + range + "\r\n" + extra);
  }

  /// Writes `content` to a file outside the store (as a worker would) and
  /// returns its path.
  std::string local_file(const std::string& name, const std::string& content) {
    auto path = dir + "/work/" + name;
    fs::create_directories(fs::path{path}.parent_path());
    std::ofstream{path, std::ios::binary} << content;
    return path;
  }

  std::string object_file(const std::string& key) {
    return store_server::object_path(config(), "uploads", key);
  }

  std::string partial_dir() const {
    return dir + "/objects/.partial";
  }

  std::string pending_dir() const {
    return dir + "/objects/.pending";
  }

  std::string journal_log() const {
    return pending_dir() + "/journal";
  }

  /// The versions with an open marker in the journal: `+` lines not
  /// followed by their `-` line, sorted; then the names of any other file
  /// in the journal folder (marker files of the old layout, leftovers).
  std::vector<std::string> markers() const {
    std::set<std::string> open;
    std::ifstream in{journal_log()};
    std::string line;
    while (std::getline(in, line)) {
      if (line.size() > 1 && line[0] == '+') {
        auto meta
          = vf::adapters::objectstore::object_meta_from_json(line.substr(1));
        open.insert(meta ? meta->version : "(unreadable) " + line);
      } else if (line.size() > 1 && line[0] == '-') {
        open.erase(line.substr(1));
      }
    }
    std::vector<std::string> names{open.begin(), open.end()};
    std::vector<std::string> others;
    std::error_code ec;
    for (fs::directory_iterator i{pending_dir(), ec}, end; !ec && i != end;
         i.increment(ec))
      if (i->path().filename() != "journal")
        others.push_back(i->path().filename().string());
    std::sort(others.begin(), others.end());
    names.insert(names.end(), others.begin(), others.end());
    return names;
  }

  /// Polls `pred` for up to 10 s.
  template <class Pred>
  bool eventually(Pred pred) {
    for (int i = 0; i < 500; ++i) {
      if (pred())
        return true;
      std::this_thread::sleep_for(std::chrono::milliseconds{20});
    }
    return pred();
  }

  bool journal_empty() {
    return eventually(
      [&] { return server->pending_count() == 0 && markers().empty(); });
  }

  /// Writes an object and its marker by hand, as a crash between commit
  /// and announcement leaves them; returns the marker's metadata.
  vf::adapters::objectstore::object_meta
  crashed_upload(const std::string& key, const std::string& body,
                 const std::string& version) {
    auto path = object_file(key);
    fs::create_directories(fs::path{path}.parent_path());
    std::ofstream{path, std::ios::binary} << body;
    struct stat st;
    CAF_REQUIRE_EQUAL(::stat(path.c_str(), &st), 0);
    vf::adapters::objectstore::object_meta meta;
    meta.bucket = "uploads";
    meta.key = key;
    meta.version = version;
    meta.etag = md5_hex(body);
    meta.size = body.size();
    meta.content_type = "video/mp4";
    meta.inode = static_cast<uint64_t>(st.st_ino);
    write_marker(meta);
    return meta;
  }

  /// Appends the marker line of `meta` to the journal's log, as `record`
  /// does.
  void write_marker(const vf::adapters::objectstore::object_meta& meta) {
    fs::create_directories(pending_dir());
    std::ofstream{journal_log(), std::ios::app}
      << "+" << vf::adapters::objectstore::to_json(meta) << "\n";
  }

  /// Writes the marker of `meta` as a file of its own, as stores before the
  /// log did.
  void write_old_marker(const vf::adapters::objectstore::object_meta& meta) {
    fs::create_directories(pending_dir());
    std::ofstream{pending_dir() + "/" + meta.version}
      << vf::adapters::objectstore::to_json(meta);
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(objectstore_tests, fixture)

CAF_TEST(a presigned PUT stores the bytes and announces the object) {
  byte_source src;
  auto body = src.make(300 * 1024);
  auto res = put(presign("PUT", "uploads/job1/clip one.mp4"), body);
  CAF_REQUIRE(res.ok);
  CAF_CHECK_EQUAL(res.status, 200u);
  auto etag = md5_hex(body);
  CAF_CHECK_EQUAL(res.header(http::field::etag), "\"" + etag + "\"");
  auto version = res.header("x-amz-version-id");
  CAF_CHECK_EQUAL(version.size(), 20u);
  CAF_CHECK(!res.header("x-amz-request-id").empty());
  auto path = object_file("uploads/job1/clip one.mp4");
  CAF_CHECK_EQUAL(path, dir + "/objects/uploads/uploads/job1/clip one.mp4");
  CAF_CHECK(read_file(path) == body);
  auto events = rec->snapshot();
  CAF_REQUIRE_EQUAL(events.size(), 1u);
  auto& evt = events.front();
  CAF_CHECK_EQUAL(evt.name, "s3:ObjectCreated:Put");
  CAF_CHECK_EQUAL(evt.source, "builtin");
  CAF_CHECK_EQUAL(evt.object.bucket, "uploads");
  CAF_CHECK_EQUAL(evt.object.key, "uploads/job1/clip one.mp4");
  CAF_CHECK_EQUAL(evt.object.size, body.size());
  CAF_CHECK_EQUAL(evt.object.etag, etag);
  // Hashed while the body streamed in, for content reuse; kept in the
  // metadata, so an announcement after a crash carries it too.
  CAF_CHECK_EQUAL(evt.object.sha256, sha256_hex(body));
  auto meta = vf::adapters::objectstore::find_object_meta(
    path, vf::adapters::objectstore::meta_file(dir, "uploads",
                                               "uploads/job1/clip one.mp4"));
  CAF_REQUIRE(meta);
  CAF_CHECK_EQUAL(meta->sha256, sha256_hex(body));
  CAF_CHECK_EQUAL(evt.object.version, version);
  CAF_CHECK_EQUAL(entries_in(partial_dir()), 0u);
  // Diagnostics go to the hook only.
  std::lock_guard<std::mutex> guard{*log_mtx};
  auto listening = "listening on 127.0.0.1:" + std::to_string(port);
  CAF_CHECK(std::any_of(log_lines->begin(), log_lines->end(),
                        [&](const std::string& line) {
                          return line.find(listening) != std::string::npos;
                        }));
}

CAF_TEST(uploading a key again gives a new increasing version) {
  auto first = put(presign("PUT", "a/b.bin"), "one");
  auto second = put(presign("PUT", "a/b.bin"), "two!");
  CAF_REQUIRE_EQUAL(first.status, 200u);
  CAF_REQUIRE_EQUAL(second.status, 200u);
  CAF_CHECK_LESS(first.header("x-amz-version-id"),
                 second.header("x-amz-version-id"));
  CAF_CHECK_EQUAL(read_file(object_file("a/b.bin")), "two!");
  CAF_CHECK_EQUAL(rec->snapshot().size(), 2u);
}

CAF_TEST(an empty object is fine) {
  auto res = put(presign("PUT", "empty"), "");
  CAF_CHECK_EQUAL(res.status, 200u);
  CAF_CHECK_EQUAL(res.header(http::field::etag),
                  "\"d41d8cd98f00b204e9800998ecf8427e\"");
  CAF_CHECK(fs::exists(object_file("empty")));
}

CAF_TEST(a tampered signature is refused before the body) {
  auto target = presign("PUT", "k1");
  auto& last = target.back();
  last = last == '0' ? '1' : '0';
  auto res = put(target, "data");
  CAF_REQUIRE(res.ok);
  CAF_CHECK_EQUAL(res.status, 403u);
  CAF_CHECK_EQUAL(res.header(http::field::content_type), "application/xml");
  CAF_CHECK(res.body.find("<Code>SignatureDoesNotMatch</Code>")
            != std::string::npos);
  CAF_CHECK(res.body.find("<RequestId>") != std::string::npos);
  CAF_CHECK(rec->snapshot().empty());
  CAF_CHECK(!fs::exists(object_file("k1")));
  CAF_CHECK_EQUAL(entries_in(partial_dir()), 0u);
}

CAF_TEST(a URL signed for another key is refused) {
  auto target = presign("PUT", "jobs/a.mp4");
  target.replace(target.find("jobs/a.mp4"), 10, "jobs/b.mp4");
  auto res = put(target, "data");
  CAF_CHECK_EQUAL(res.status, 403u);
  CAF_CHECK(res.body.find("SignatureDoesNotMatch") != std::string::npos);
  CAF_CHECK(!fs::exists(object_file("jobs/b.mp4")));
  CAF_CHECK(rec->snapshot().empty());
}

CAF_TEST(an expired URL is refused with a clear message) {
  auto target = presign("PUT", "late", clock->load() - 2000, 900);
  auto res = put(target, "data");
  CAF_CHECK_EQUAL(res.status, 403u);
  CAF_CHECK(res.body.find("<Code>AccessDenied</Code>") != std::string::npos);
  CAF_CHECK(res.body.find("expired") != std::string::npos);
  CAF_CHECK(!fs::exists(object_file("late")));
  // The same URL is fine while it is valid: time is what matters here.
  clock->store(clock->load() - 1500);
  CAF_CHECK_EQUAL(put(target, "data").status, 200u);
}

CAF_TEST(a URL whose lifetime was raised is refused) {
  auto target = presign("PUT", "longer");
  auto pos = target.find("X-Amz-Expires=900");
  CAF_REQUIRE_NOT_EQUAL(pos, std::string::npos);
  target.replace(pos, 17, "X-Amz-Expires=3600");
  auto res = put(target, "data");
  CAF_CHECK_EQUAL(res.status, 403u);
  CAF_CHECK(!fs::exists(object_file("longer")));
}

CAF_TEST(a URL signed for GET cannot upload) {
  auto res = put(presign("GET", "sneaky"), "data");
  CAF_CHECK_EQUAL(res.status, 403u);
  CAF_CHECK(!fs::exists(object_file("sneaky")));
}

CAF_TEST(unsigned requests are refused) {
  auto res = put("/uploads/anon", "data");
  CAF_CHECK_EQUAL(res.status, 403u);
  CAF_CHECK(res.body.find("Anonymous access") != std::string::npos);
  CAF_CHECK(!fs::exists(object_file("anon")));
}

CAF_TEST(a Content - Length above the limit gets 413 before the body) {
  client c{port};
  // Only the header: the answer must not wait for the body.
  c.write(request_head("PUT", presign("PUT", "big"),
                       "Content-Length: " + std::to_string(small_limit + 1)
                         + "\r\n"));
  auto res = c.read();
  CAF_REQUIRE(res.ok);
  CAF_CHECK_EQUAL(res.status, 413u);
  CAF_CHECK(res.body.find("<Code>EntityTooLarge</Code>") != std::string::npos);
  CAF_CHECK(rec->snapshot().empty());
  CAF_CHECK(!fs::exists(object_file("big")));
  CAF_CHECK_EQUAL(entries_in(partial_dir()), 0u);
}

CAF_TEST(a chunked body above the limit gets 413 and leaves nothing) {
  client c{port};
  c.write(request_head("PUT", presign("PUT", "chunky"),
                       "Transfer-Encoding: chunked\r\n"));
  byte_source src;
  auto chunk = src.make(64 * 1024);
  char size_line[32];
  std::snprintf(size_line, sizeof(size_line), "%zx\r\n", chunk.size());
  // The server stops reading at the limit; later writes may fail.
  for (uint64_t sent = 0; sent <= small_limit; sent += chunk.size())
    if (!c.write(size_line + chunk + "\r\n"))
      break;
  c.write("0\r\n\r\n");
  auto res = c.read();
  CAF_REQUIRE(res.ok);
  CAF_CHECK_EQUAL(res.status, 413u);
  CAF_CHECK(res.body.find("EntityTooLarge") != std::string::npos);
  CAF_CHECK(rec->snapshot().empty());
  CAF_CHECK(!fs::exists(object_file("chunky")));
  CAF_CHECK_EQUAL(entries_in(partial_dir()), 0u);
}

CAF_TEST(a chunked body within the limit is stored) {
  client c{port};
  c.write(request_head("PUT", presign("PUT", "chunked-ok"),
                       "Transfer-Encoding: chunked\r\n"));
  c.write("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
  auto res = c.read();
  CAF_CHECK_EQUAL(res.status, 200u);
  CAF_CHECK_EQUAL(read_file(object_file("chunked-ok")), "hello world");
  auto events = rec->snapshot();
  CAF_REQUIRE_EQUAL(events.size(), 1u);
  CAF_CHECK_EQUAL(events.front().object.size, 11u);
}

CAF_TEST(a PUT without length gets 411) {
  client c{port};
  c.write(request_head("PUT", presign("PUT", "nolength")));
  auto res = c.read();
  CAF_CHECK_EQUAL(res.status, 411u);
  CAF_CHECK(res.body.find("MissingContentLength") != std::string::npos);
}

CAF_TEST(an unknown bucket gets 404) {
  auto res
    = put(presign("PUT", "k", std::nullopt, 900, "nosuchbucket"), "data");
  CAF_CHECK_EQUAL(res.status, 404u);
  CAF_CHECK(res.body.find("<Code>NoSuchBucket</Code>") != std::string::npos);
  CAF_CHECK(!fs::exists(dir + "/objects/nosuchbucket"));
}

CAF_TEST(keys that could escape the bucket get 400) {
  for (auto key :
       {"a/../../../etc/passwd", "../x", "a//b", "a/./b", "a/", "tab\there"}) {
    CAF_MESSAGE("key: " << key);
    auto res = put(presign("PUT", key), "data");
    CAF_CHECK_EQUAL(res.status, 400u);
    CAF_CHECK(res.body.find("<Code>InvalidArgument</Code>")
              != std::string::npos);
  }
  CAF_CHECK(rec->snapshot().empty());
  CAF_CHECK(!fs::exists(dir + "/etc"));
  CAF_CHECK_EQUAL(store_server::object_path(config(), "uploads", "../x"), "");
}

CAF_TEST(an orchestrator error gives 503 and keeps the object) {
  rec->fail = true;
  auto res = put(presign("PUT", "kept"), "precious");
  CAF_CHECK_EQUAL(res.status, 503u);
  CAF_CHECK(res.body.find("<Code>ServiceUnavailable</Code>")
            != std::string::npos);
  CAF_CHECK(res.body.find("job store is down") != std::string::npos);
  CAF_CHECK_EQUAL(read_file(object_file("kept")), "precious");
  CAF_CHECK_EQUAL(rec->snapshot().size(), 1u);
  // The client retries once the orchestrator is back.
  rec->fail = false;
  CAF_CHECK_EQUAL(put(presign("PUT", "kept"), "precious").status, 200u);
}

CAF_TEST(an upload no job expects gives 409 and no retry advice) {
  rec->unknown = true;
  auto res = put(presign("PUT", "stray"), "data");
  CAF_CHECK_EQUAL(res.status, 409u);
  CAF_CHECK(res.body.find("<Code>NoSuchUpload</Code>") != std::string::npos);
  CAF_CHECK(res.body.find("no job expects it") != std::string::npos);
}

CAF_TEST(a presigned GET returns the bytes and HEAD the metadata) {
  byte_source src;
  auto body = src.make(200 * 1024 + 17);
  auto stored
    = put(presign("PUT", "dl/file.bin"), body, "Content-Type: video/mp4\r\n");
  CAF_REQUIRE_EQUAL(stored.status, 200u);
  auto res = get(presign("GET", "dl/file.bin"));
  CAF_REQUIRE(res.ok);
  CAF_CHECK_EQUAL(res.status, 200u);
  CAF_CHECK(res.body == body);
  CAF_CHECK_EQUAL(res.header(http::field::etag), "\"" + md5_hex(body) + "\"");
  CAF_CHECK_EQUAL(res.header("x-amz-version-id"),
                  stored.header("x-amz-version-id"));
  CAF_CHECK_EQUAL(res.header(http::field::content_type), "video/mp4");
  CAF_CHECK(!res.header(http::field::last_modified).empty());
  // HEAD: with a HEAD-signed URL and with the GET URL a worker holds.
  for (auto& target :
       {presign("HEAD", "dl/file.bin"), presign("GET", "dl/file.bin")}) {
    auto head = get(target, "HEAD");
    CAF_REQUIRE(head.ok);
    CAF_CHECK_EQUAL(head.status, 200u);
    CAF_CHECK_EQUAL(head.header(http::field::content_length),
                    std::to_string(body.size()));
    CAF_CHECK_EQUAL(head.header(http::field::etag),
                    res.header(http::field::etag));
    CAF_CHECK(head.body.empty());
  }
  auto missing = get(presign("GET", "dl/none.bin"));
  CAF_CHECK_EQUAL(missing.status, 404u);
  CAF_CHECK(missing.body.find("<Code>NoSuchKey</Code>") != std::string::npos);
  // A folder of deeper keys is not an object either.
  CAF_CHECK_EQUAL(get(presign("GET", "dl")).status, 404u);
  // A PUT URL cannot read.
  CAF_CHECK_EQUAL(get(presign("PUT", "dl/file.bin")).status, 403u);
}

CAF_TEST(GET recomputes metadata that does not match the file) {
  CAF_REQUIRE_EQUAL(put(presign("PUT", "m"), "first").status, 200u);
  // As after a crash between the object's and the metadata file's rename
  // (where the file system keeps no attributes), or a copy without them.
  fs::remove(dir + "/objects/.meta/uploads/m");
  ::removexattr(object_file("m").c_str(),
                vf::adapters::objectstore::meta_attribute);
  auto res = get(presign("GET", "m"));
  CAF_CHECK_EQUAL(res.status, 200u);
  CAF_CHECK_EQUAL(res.body, "first");
  CAF_CHECK_EQUAL(res.header(http::field::etag),
                  "\"" + md5_hex("first") + "\"");
  std::lock_guard<std::mutex> guard{*log_mtx};
  CAF_CHECK(std::any_of(log_lines->begin(), log_lines->end(),
                        [](const std::string& line) {
                          return line.find("recomputing its ETag")
                                 != std::string::npos;
                        }));
}

CAF_TEST(other methods get 405) {
  for (auto method : {"POST", "PATCH"}) {
    auto res = get(presign(method, "x"), method);
    CAF_CHECK_EQUAL(res.status, 405u);
    CAF_CHECK(res.body.find("<Code>MethodNotAllowed</Code>")
              != std::string::npos);
    CAF_CHECK_EQUAL(res.header(http::field::allow), "DELETE, GET, HEAD, PUT");
  }
}

CAF_TEST(a delete signed with the keys removes the object) {
  // S3 answers 204 whether or not there was an object.
  auto missing = get(presign("DELETE", "never-stored"), "DELETE");
  CAF_CHECK_EQUAL(missing.status, 204u);
  CAF_REQUIRE_EQUAL(put(presign("PUT", "gone"), "bytes").status, 200u);
  CAF_CHECK_EQUAL(get(presign("GET", "gone")).status, 200u);
  CAF_CHECK_EQUAL(get(presign("DELETE", "gone"), "DELETE").status, 204u);
  CAF_CHECK_EQUAL(get(presign("GET", "gone")).status, 404u);
  CAF_CHECK(!fs::exists(dir + "/objects/uploads/gone"));
  CAF_CHECK(!fs::exists(dir + "/objects/.meta/uploads/gone"));
  // Unsigned: refused, nothing removed.
  CAF_REQUIRE_EQUAL(put(presign("PUT", "kept"), "bytes").status, 200u);
  CAF_CHECK_EQUAL(get("/uploads/kept", "DELETE").status, 403u);
  CAF_CHECK_EQUAL(get(presign("GET", "kept")).status, 200u);
}

CAF_TEST(bad HTTP gets 400 and oversized headers 431) {
  {
    client c{port};
    c.write("THIS IS NOT HTTP\r\n\r\n");
    auto res = c.read();
    CAF_CHECK_EQUAL(res.status, 400u);
  }
  {
    client c{port};
    c.write(request_head("GET", presign("GET", "x"),
                         "X-Filler: " + std::string(20000, 'a') + "\r\n"));
    auto res = c.read();
    CAF_CHECK_EQUAL(res.status, 431u);
  }
}

CAF_TEST(keep - alive serves several requests on one connection) {
  client c{port};
  auto target = presign("PUT", "ka/1");
  c.write(request_head("PUT", target, "Content-Length: 3\r\n") + "one");
  CAF_CHECK_EQUAL(c.read().status, 200u);
  c.write(request_head("PUT", presign("PUT", "ka/2"), "Content-Length: 3\r\n")
          + "two");
  CAF_CHECK_EQUAL(c.read().status, 200u);
  c.write(request_head("GET", presign("GET", "ka/1")));
  auto res = c.read();
  CAF_CHECK_EQUAL(res.status, 200u);
  CAF_CHECK_EQUAL(res.body, "one");
  CAF_CHECK_EQUAL(rec->snapshot().size(), 2u);
}

CAF_TEST(Expect 100 - continue is honoured) {
  client c{port};
  c.write(request_head("PUT", presign("PUT", "expect"),
                       "Content-Length: 4\r\nExpect: 100-continue\r\n"));
  auto interim = c.read();
  CAF_CHECK_EQUAL(interim.status, 100u);
  c.write("body");
  CAF_CHECK_EQUAL(c.read().status, 200u);
  CAF_CHECK_EQUAL(read_file(object_file("expect")), "body");
}

CAF_TEST(an upload cut off mid - body leaves nothing and raises nothing) {
  {
    client c{port};
    c.write(
      request_head("PUT", presign("PUT", "cut"), "Content-Length: 100000\r\n")
      + std::string(50000, 'x'));
    // Let the server write what it got, then drop the connection.
    std::this_thread::sleep_for(std::chrono::milliseconds{100});
  }
  for (int i = 0; i < 100 && entries_in(partial_dir()) > 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds{50});
  CAF_CHECK_EQUAL(entries_in(partial_dir()), 0u);
  CAF_CHECK(!fs::exists(object_file("cut")));
  CAF_CHECK(rec->snapshot().empty());
}

CAF_TEST(two concurrent uploads both land) {
  byte_source src;
  auto body1 = src.make(400 * 1024);
  auto body2 = src.make(500 * 1024);
  client c1{port};
  client c2{port};
  c1.write(
    request_head("PUT", presign("PUT", "par/1"),
                 "Content-Length: " + std::to_string(body1.size()) + "\r\n"));
  c2.write(
    request_head("PUT", presign("PUT", "par/2"),
                 "Content-Length: " + std::to_string(body2.size()) + "\r\n"));
  // Interleave the two bodies so both uploads are open at once.
  size_t step = 64 * 1024;
  for (size_t off = 0; off < std::max(body1.size(), body2.size());
       off += step) {
    if (off < body1.size())
      c1.write(std::string_view{body1}.substr(off, step));
    if (off < body2.size())
      c2.write(std::string_view{body2}.substr(off, step));
  }
  auto r1 = c1.read();
  auto r2 = c2.read();
  CAF_CHECK_EQUAL(r1.status, 200u);
  CAF_CHECK_EQUAL(r2.status, 200u);
  CAF_CHECK(read_file(object_file("par/1")) == body1);
  CAF_CHECK(read_file(object_file("par/2")) == body2);
  CAF_CHECK_EQUAL(rec->snapshot().size(), 2u);
}

CAF_TEST(a 64 MiB upload streams without growing the process) {
  constexpr uint64_t total = 64 * 1024 * 1024;
  auto conf = config();
  conf.max_object_bytes = 128 * 1024 * 1024;
  conf.threads = 2;
  start(std::move(conf));
  // Warm up threads and allocators so the baseline is honest.
  CAF_REQUIRE_EQUAL(put(presign("PUT", "warmup"), "x").status, 200u);
  auto before = resident_bytes();
  client c{port};
  c.write(request_head("PUT", presign("PUT", "big/video.bin"),
                       "Content-Length: " + std::to_string(total) + "\r\n"));
  byte_source src;
  std::string chunk(64 * 1024, '\0');
  EVP_MD_CTX* md5 = EVP_MD_CTX_new();
  EVP_DigestInit_ex(md5, EVP_md5(), nullptr);
  bool all_written = true;
  for (uint64_t sent = 0; sent < total && all_written; sent += chunk.size()) {
    src.fill(chunk.data(), chunk.size());
    EVP_DigestUpdate(md5, chunk.data(), chunk.size());
    all_written = c.write(chunk);
  }
  CAF_REQUIRE(all_written);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(md5, digest, &len);
  EVP_MD_CTX_free(md5);
  std::string etag;
  for (unsigned i = 0; i < len; ++i) {
    char hex[3];
    std::snprintf(hex, sizeof(hex), "%02x", digest[i]);
    etag += hex;
  }
  auto res = c.read();
  auto after = resident_bytes();
  CAF_CHECK_EQUAL(res.status, 200u);
  CAF_CHECK_EQUAL(res.header(http::field::etag), "\"" + etag + "\"");
  CAF_CHECK_EQUAL(fs::file_size(object_file("big/video.bin")), total);
  auto events = rec->snapshot();
  CAF_REQUIRE_EQUAL(events.size(), 2u);
  CAF_CHECK_EQUAL(events.back().object.size, total);
  CAF_CHECK_EQUAL(events.back().object.etag, etag);
  CAF_MESSAGE("RSS before " << before / 1024 << " KiB, after " << after / 1024
                            << " KiB");
#if defined(__SANITIZE_ADDRESS__)
  // ASan's quarantine keeps every freed block (here: Asio's small per-read
  // handler allocations) out of reuse, so RSS says nothing about streaming.
  CAF_MESSAGE("RSS check skipped under AddressSanitizer");
#else
  auto growth = after > before ? after - before : 0;
  CAF_CHECK_LESS(growth, size_t{8 * 1024 * 1024});
#endif
}

CAF_TEST(start - up discards partial uploads and names a busy port) {
  server.reset();
  std::ofstream{partial_dir() + "/leftover.part"} << "half an upload";
  start(config());
  CAF_CHECK_EQUAL(entries_in(partial_dir()), 0u);
  auto conf = config();
  conf.port = port;
  store_server second{sys, conf, orch};
  auto err = second.start();
  CAF_REQUIRE(err);
  auto text = vf::messages::message_of(err);
  CAF_MESSAGE("error: " << text);
  CAF_CHECK(text.find("127.0.0.1:" + std::to_string(port))
            != std::string::npos);
  auto bad = config();
  bad.buckets = {"Not_A_Bucket"};
  store_server third{sys, bad, orch};
  auto bad_err = third.start();
  CAF_REQUIRE(bad_err);
  CAF_CHECK(vf::messages::message_of(bad_err).find("objectstore.buckets")
            != std::string::npos);
}

CAF_TEST(connections over the limit get 503 SlowDown) {
  auto conf = config();
  conf.max_connections = 2;
  start(std::move(conf));
  // A completed keep-alive request proves each session is open.
  client c1{port};
  client c2{port};
  for (auto* c : {&c1, &c2}) {
    c->write(request_head("GET", presign("GET", "nothing")));
    CAF_CHECK_EQUAL(c->read().status, 404u);
  }
  client c3{port};
  auto res = c3.read();
  CAF_REQUIRE(res.ok);
  CAF_CHECK_EQUAL(res.status, 503u);
  CAF_CHECK(res.body.find("<Code>SlowDown</Code>") != std::string::npos);
  // Room again once a connection goes.
  c1.close();
  for (int i = 0; i < 100; ++i) {
    client c4{port};
    c4.write(request_head("GET", presign("GET", "nothing")));
    if (c4.read().status == 404u)
      return;
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
  }
  CAF_FAIL("the server never accepted a connection again");
}

CAF_TEST(stop aborts open connections and returns) {
  client c{port};
  c.write(
    request_head("PUT", presign("PUT", "stopped"), "Content-Length: 1000\r\n")
    + "partial");
  std::this_thread::sleep_for(std::chrono::milliseconds{100});
  server->stop();
  CAF_CHECK(c.closed_by_peer());
  CAF_CHECK_EQUAL(entries_in(partial_dir()), 0u);
  CAF_CHECK(!fs::exists(object_file("stopped")));
}

// -- announcement journal ----------------------------------------------------

CAF_TEST(an acknowledged upload leaves no announcement marker) {
  auto res = put(presign("PUT", "j/ok.bin"), "fine");
  CAF_REQUIRE_EQUAL(res.status, 200u);
  CAF_CHECK(journal_empty());
  CAF_CHECK_EQUAL(rec->snapshot().size(), 1u);
}

CAF_TEST(markers left by a crash are announced once after announce_pending) {
  server.reset();
  auto live = crashed_upload("uploads/job1/a.mp4", "crashed bytes",
                             "00000000000000000100");
  // Marker written, but the crash came before the object's rename.
  auto missing = live;
  missing.key = "uploads/job2/never.mp4";
  missing.version = "00000000000000000101";
  write_marker(missing);
  // Marker of an object that a later upload replaced (other inode).
  auto replaced = crashed_upload("uploads/job3/b.mp4", "old", "00000000000000000102");
  fs::remove(object_file("uploads/job3/b.mp4"));
  std::ofstream{object_file("uploads/job3/b.mp4")} << "new bytes, other inode";
  // Acknowledged before the crash: its acknowledgement line follows it.
  auto acked = crashed_upload("uploads/job4/d.mp4", "done", "00000000000000000104");
  std::ofstream{journal_log(), std::ios::app} << "-" << acked.version << "\n";
  // Of a store from before the log: a marker file of its own, live; and
  // one torn by the crash.
  auto old = crashed_upload("uploads/job5/e.mp4", "old layout",
                            "00000000000000000099");
  fs::remove(journal_log());
  write_marker(live);
  write_marker(missing);
  write_marker(replaced);
  std::ofstream{journal_log(), std::ios::app} << "+" <<
    vf::adapters::objectstore::to_json(acked) << "\n-" << acked.version
    << "\n";
  write_old_marker(old);
  std::ofstream{pending_dir() + "/00000000000000000105"} << "{\"bucket\":";
  // A leftover temporary file, and a marker line torn by the crash.
  std::ofstream{pending_dir() + "/00000000000000000100.meta.tmp"} << "x";
  std::ofstream{journal_log(), std::ios::app} << "+{\"bucket\":\"upl";
  start(config());
  CAF_CHECK_EQUAL(server->pending_count(), 2u);
  // The old marker files are folded into the log and removed.
  CAF_CHECK_EQUAL(markers(),
                  (std::vector<std::string>{old.version, live.version}));
  // Nothing goes out before the runtime says the orchestrator recovered.
  std::this_thread::sleep_for(std::chrono::milliseconds{200});
  CAF_CHECK(rec->snapshot().empty());
  server->announce_pending();
  CAF_CHECK(journal_empty());
  auto events = rec->snapshot();
  CAF_REQUIRE_EQUAL(events.size(), 2u);
  std::sort(events.begin(), events.end(), [](const auto& x, const auto& y) {
    return x.object.version < y.object.version;
  });
  CAF_CHECK_EQUAL(events.front().object.key, old.key);
  CAF_CHECK_EQUAL(events.front().object.etag, md5_hex("old layout"));
  events.erase(events.begin());
  auto& evt = events.front();
  CAF_CHECK_EQUAL(evt.name, "s3:ObjectCreated:Put");
  CAF_CHECK_EQUAL(evt.source, "builtin");
  CAF_CHECK_EQUAL(evt.object.bucket, "uploads");
  CAF_CHECK_EQUAL(evt.object.key, live.key);
  CAF_CHECK_EQUAL(evt.object.version, live.version);
  CAF_CHECK_EQUAL(evt.object.etag, md5_hex("crashed bytes"));
  CAF_CHECK_EQUAL(evt.object.size, 13u);
  // Readers see the announced version: the metadata was rebuilt from the
  // marker.
  auto got = get(presign("GET", live.key));
  CAF_CHECK_EQUAL(got.status, 200u);
  CAF_CHECK_EQUAL(got.body, "crashed bytes");
  CAF_CHECK_EQUAL(got.header("x-amz-version-id"), live.version);
  CAF_CHECK_EQUAL(got.header(http::field::content_type), "video/mp4");
  // Calling it again (or restarting) raises nothing more.
  server->announce_pending();
  start(config());
  server->announce_pending();
  std::this_thread::sleep_for(std::chrono::milliseconds{200});
  CAF_CHECK_EQUAL(rec->snapshot().size(), 2u);
  CAF_CHECK_EQUAL(server->pending_count(), 0u);
}

CAF_TEST(a stop while the orchestrator withholds its answer is redone) {
  rec->hold = true;
  client c{port};
  c.write(request_head("PUT", presign("PUT", "uploads/job9/held.mp4"),
                       "Content-Length: 4\r\n")
          + "held");
  CAF_REQUIRE(eventually([&] { return rec->snapshot().size() == 1; }));
  auto first = rec->snapshot().front();
  CAF_CHECK_EQUAL(server->pending_count(), 1u);
  CAF_CHECK_EQUAL(markers(), std::vector<std::string>{first.object.version});
  // The process "dies" before the answer: the client never hears 200.
  server->stop();
  CAF_CHECK(c.closed_by_peer());
  CAF_CHECK_EQUAL(markers(), std::vector<std::string>{first.object.version});
  rec->hold = false;
  start(config());
  CAF_CHECK_EQUAL(server->pending_count(), 1u);
  server->announce_pending();
  CAF_CHECK(journal_empty());
  auto events = rec->snapshot();
  CAF_REQUIRE_EQUAL(events.size(), 2u);
  CAF_CHECK(events[1].object == first.object);
  CAF_CHECK_EQUAL(events[1].object.etag, md5_hex("held"));
}

CAF_TEST(an orchestrator error keeps the marker and is retried) {
  rec->fail = true;
  auto res = put(presign("PUT", "uploads/job4/retry.mp4"), "again");
  CAF_CHECK_EQUAL(res.status, 503u);
  auto version = res.header("x-amz-version-id");
  if (version.empty()) {
    auto events = rec->snapshot();
    CAF_REQUIRE_EQUAL(events.size(), 1u);
    version = events.front().object.version;
  }
  CAF_CHECK_EQUAL(server->pending_count(), 1u);
  CAF_CHECK_EQUAL(markers(), std::vector<std::string>{version});
  // Not retried before announce_pending.
  std::this_thread::sleep_for(std::chrono::milliseconds{200});
  CAF_CHECK_EQUAL(rec->snapshot().size(), 1u);
  server->announce_pending();
  CAF_REQUIRE(eventually([&] { return rec->snapshot().size() >= 4; }));
  CAF_CHECK_EQUAL(markers(), std::vector<std::string>{version});
  CAF_CHECK_EQUAL(server->pending_count(), 1u);
  // Backoff (20 ms doubling to 160 ms), not a busy loop.
  std::this_thread::sleep_for(std::chrono::milliseconds{500});
  auto during = rec->snapshot().size();
  CAF_MESSAGE(during << " announcements while failing");
  CAF_CHECK_LESS(during, 20u);
  rec->fail = false;
  CAF_CHECK(journal_empty());
  auto events = rec->snapshot();
  CAF_CHECK_GREATER(events.size(), during);
  for (auto& evt : events) {
    CAF_CHECK_EQUAL(evt.object.version, version);
    CAF_CHECK_EQUAL(evt.object.etag, md5_hex("again"));
  }
  // Acknowledged: no more announcements.
  auto settled = rec->snapshot().size();
  std::this_thread::sleep_for(std::chrono::milliseconds{300});
  CAF_CHECK_EQUAL(rec->snapshot().size(), settled);
}

CAF_TEST(a marker kept through a restart with a failing orchestrator) {
  rec->fail = true;
  CAF_REQUIRE_EQUAL(put(presign("PUT", "uploads/job5/x.mp4"), "x").status,
                    503u);
  server->announce_pending();
  CAF_REQUIRE(eventually([&] { return rec->snapshot().size() >= 2; }));
  // stop() ends the retries at once, the marker stays for the next run.
  auto t0 = std::chrono::steady_clock::now();
  server->stop();
  CAF_CHECK_LESS(std::chrono::steady_clock::now() - t0,
                 std::chrono::seconds{5});
  CAF_CHECK_EQUAL(markers().size(), 1u);
  rec->fail = false;
  start(config());
  server->announce_pending();
  CAF_CHECK(journal_empty());
}

CAF_TEST(a rejected event removes the marker) {
  rec->unknown = true;
  CAF_CHECK_EQUAL(put(presign("PUT", "stray/one"), "data").status, 409u);
  CAF_CHECK(journal_empty());
  // Rejected on re-announcement too: not retried.
  server.reset();
  crashed_upload("stray/two", "data", "00000000000000000200");
  start(config());
  server->announce_pending();
  CAF_CHECK(journal_empty());
  std::this_thread::sleep_for(std::chrono::milliseconds{200});
  CAF_CHECK_EQUAL(rec->snapshot().size(), 2u);
}

CAF_TEST(a retry racing the announcement of a crashed upload waits) {
  // kill -9 after the commit: the client never heard 200 and retries the
  // same bytes as soon as the node is back, while the journaled version is
  // still to be announced. The retry must neither replace the object the
  // announcement starts work on nor be refused once it has.
  server.reset();
  auto crashed = crashed_upload("uploads/job7/c.mp4", "crashed bytes",
                                "00000000000000000300");
  auto conf = config();
  conf.gate = sys.spawn(fake_gate, rec);
  start(conf);
  auto early = put(presign("PUT", crashed.key), "crashed bytes");
  CAF_CHECK_EQUAL(early.status, 503u);
  CAF_CHECK_EQUAL(early.header("x-amz-error-code"), "SlowDown");
  CAF_CHECK_EQUAL(early.header(http::field::retry_after), "1");
  CAF_CHECK_EQUAL(markers(), std::vector<std::string>{crashed.version});
  CAF_CHECK_EQUAL(get(presign("GET", crashed.key)).header("x-amz-version-id"),
                  crashed.version);
  server->announce_pending();
  CAF_CHECK(journal_empty());
  // Announced: the retry is the job's upload again, acknowledged as such.
  auto again = put(presign("PUT", crashed.key), "crashed bytes");
  CAF_CHECK_EQUAL(again.status, 200u);
  CAF_CHECK_EQUAL(again.header("x-amz-version-id"), crashed.version);
  CAF_CHECK_EQUAL(put(presign("PUT", crashed.key), "other bytes").status,
                  409u);
  CAF_CHECK_EQUAL(rec->snapshot().size(), 1u);
  CAF_CHECK_EQUAL(get(presign("GET", crashed.key)).body, "crashed bytes");
  caf::anon_send_exit(conf.gate, caf::exit_reason::user_shutdown);
}

CAF_TEST(a second upload to a key waits while the first is announced) {
  auto conf = config();
  conf.gate = sys.spawn(fake_gate, rec);
  start(conf);
  rec->hold = true;
  client first{port};
  first.write(request_head("PUT", presign("PUT", "uploads/job8/f.mp4"),
                           "Content-Length: 5\r\n")
              + "first");
  CAF_REQUIRE(eventually([&] { return rec->snapshot().size() == 1; }));
  auto second = put(presign("PUT", "uploads/job8/f.mp4"), "other");
  CAF_CHECK_EQUAL(second.status, 503u);
  CAF_CHECK_EQUAL(second.header("x-amz-error-code"), "SlowDown");
  // Other keys are not held up.
  rec->hold = false;
  CAF_CHECK_EQUAL(put(presign("PUT", "uploads/job9/g.mp4"), "g").status,
                  200u);
  CAF_CHECK_EQUAL(get(presign("GET", "uploads/job8/f.mp4")).body, "first");
  CAF_CHECK_EQUAL(rec->snapshot().size(), 2u);
  server.reset();
  caf::anon_send_exit(conf.gate, caf::exit_reason::user_shutdown);
}

CAF_TEST(a marker whose object was replaced is dropped unannounced) {
  rec->fail = true;
  auto first = put(presign("PUT", "uploads/job6/r.mp4"), "first");
  CAF_REQUIRE_EQUAL(first.status, 503u);
  // The client retries the upload: a new version replaces the object.
  rec->fail = false;
  auto second = put(presign("PUT", "uploads/job6/r.mp4"), "second");
  CAF_REQUIRE_EQUAL(second.status, 200u);
  auto v2 = second.header("x-amz-version-id");
  CAF_CHECK(eventually([&] { return server->pending_count() == 1; }));
  server->announce_pending();
  CAF_CHECK(journal_empty());
  std::this_thread::sleep_for(std::chrono::milliseconds{200});
  auto events = rec->snapshot();
  CAF_REQUIRE_EQUAL(events.size(), 2u);
  CAF_CHECK_EQUAL(events[1].object.version, v2);
}

CAF_TEST(the journal takes markers from many threads and is rewritten when long) {
  namespace os = vf::adapters::objectstore;
  auto jdir = dir + "/journal-test";
  fs::create_directories(os::pending_dir(jdir));
  auto version = [](int i) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%020d", i);
    return std::string{buf};
  };
  auto meta_of = [&](int i) {
    os::object_meta m;
    m.bucket = "uploads";
    m.key = "k/" + std::to_string(i);
    m.version = version(i);
    m.etag = "e";
    m.size = 1;
    m.inode = 1;
    return m;
  };
  {
    os::pending_journal j{jdir, 4096};
    // 8 threads with 25 uploads each committing at once.
    std::atomic<int> errors{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t)
      threads.emplace_back([&, t] {
        for (int k = 1; k <= 25; ++k)
          if (j.record(meta_of(t * 25 + k)))
            ++errors;
      });
    for (auto& t : threads)
      t.join();
    CAF_CHECK_EQUAL(errors.load(), 0);
    CAF_CHECK_EQUAL(j.count(), 200u);
    auto full = fs::file_size(j.log_path());
    CAF_MESSAGE("200 open markers: " << full << " bytes of log");
    CAF_CHECK_GREATER(full, 4096u);
    // Every one acknowledged: rewritten on the way (the 200 marker lines
    // alone pass 4096 bytes), so what is left is short.
    for (int i = 1; i <= 200; ++i)
      CAF_CHECK(!j.erase(version(i)));
    CAF_CHECK(!j.erase(version(1))); // twice: nothing to do
    CAF_CHECK_EQUAL(j.count(), 0u);
    CAF_CHECK_LESS(fs::file_size(j.log_path()), 4096u + 32u);
    // One upload in place, one never renamed into place.
    auto live = meta_of(1000);
    auto path = os::object_file(jdir, live.bucket, live.key);
    fs::create_directories(fs::path{path}.parent_path());
    std::ofstream{path} << "x";
    struct stat st;
    CAF_REQUIRE_EQUAL(::stat(path.c_str(), &st), 0);
    live.inode = static_cast<uint64_t>(st.st_ino);
    CAF_CHECK(!j.record(live));
    CAF_CHECK(!j.record(meta_of(1001)));
  }
  // A restart: only the upload in place is left, alone in the log.
  os::pending_journal again{jdir};
  auto found = again.scan({"uploads"});
  CAF_REQUIRE_EQUAL(found.live.size(), 1u);
  CAF_CHECK_EQUAL(found.live[0].version, version(1000));
  CAF_CHECK_EQUAL(found.stale, 1u);
  CAF_CHECK(found.problems.empty());
  CAF_CHECK_EQUAL(again.count(), 1u);
  std::ifstream in{again.log_path()};
  std::string text{std::istreambuf_iterator<char>{in}, {}};
  CAF_CHECK_EQUAL(std::count(text.begin(), text.end(), '\n'), 1);
  CAF_CHECK_EQUAL(text.rfind("+{", 0), 0u);
}

// -- connection limits, slow clients, framing (issue 8) ----------------------

CAF_TEST(a client over its connection cap gets 503 while others get in) {
  auto conf = config();
  conf.max_connections_per_client = 2;
  start(std::move(conf));
  client c1{port};
  client c2{port};
  for (auto* c : {&c1, &c2}) {
    c->write(request_head("GET", presign("GET", "nothing")));
    CAF_CHECK_EQUAL(c->read().status, 404u);
  }
  // Refused before a byte is read, so no request needs to be sent.
  client c3{port};
  auto res = c3.read();
  CAF_REQUIRE(res.ok);
  CAF_CHECK_EQUAL(res.status, 503u);
  CAF_CHECK(res.body.find("<Code>SlowDown</Code>") != std::string::npos);
  CAF_CHECK_EQUAL(res.header("Retry-After"), "1");
  // Another address uploads as usual.
  client other{port, "127.0.0.2"};
  other.write(request_head("PUT", presign("PUT", "other/1"),
                           "Content-Length: 5\r\n")
              + "hello");
  CAF_CHECK_EQUAL(other.read().status, 200u);
  CAF_CHECK_EQUAL(read_file(object_file("other/1")), "hello");
}

CAF_TEST(a request header dribbled byte by byte is cut off) {
  auto conf = config();
  conf.header_timeout = std::chrono::milliseconds{500};
  start(std::move(conf));
  client c{port};
  c.write("GET " + presign("GET", "x") + " HTTP/1.1\r\n");
  for (int i = 0; i < 30; ++i) {
    if (!c.write("X"))
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds{50});
  }
  CAF_CHECK(c.closed_by_peer());
}

CAF_TEST(an upload slower than min_rate is cut off within its window) {
  auto conf = config();
  conf.min_rate = 1000;
  conf.rate_window = std::chrono::milliseconds{500};
  start(std::move(conf));
  client c{port};
  c.write(request_head("PUT", presign("PUT", "slow"),
                       "Content-Length: 100000\r\n")
          + std::string(10, 'x'));
  // A byte every 100 ms: each read succeeds long before io_timeout (60 s),
  // but the average stays far below 1000 bytes/s.
  for (int i = 0; i < 15; ++i) {
    if (!c.write("x"))
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds{100});
  }
  CAF_CHECK(c.closed_by_peer());
  CAF_CHECK(eventually([&] { return entries_in(partial_dir()) == 0; }));
  CAF_CHECK(!fs::exists(object_file("slow")));
  CAF_CHECK(rec->snapshot().empty());
  // A client that keeps up is not affected.
  client fast{port};
  std::string body(3000, 'y');
  fast.write(request_head("PUT", presign("PUT", "fast"),
                          "Content-Length: 3000\r\n"));
  for (int i = 0; i < 3; ++i) {
    fast.write(body.substr(i * 1000, 1000));
    std::this_thread::sleep_for(std::chrono::milliseconds{200});
  }
  CAF_CHECK_EQUAL(fast.read().status, 200u);
  CAF_CHECK_EQUAL(read_file(object_file("fast")), body);
}

CAF_TEST(ambiguous framing is refused and the connection closed) {
  struct variant {
    const char* head;
    const char* body;
    unsigned status;
  };
  std::vector<variant> variants{
    {"Transfer-Encoding: gzip, chunked\r\n", "5\r\nhello\r\n0\r\n\r\n", 501},
    {"Content-Length: 5\r\nContent-Length: 5\r\n", "hello", 400},
    {"Content-Length: 5, 5\r\n", "hello", 400},
    {"X-Folded: a\r\n b\r\nContent-Length: 5\r\n", "hello", 400},
    {"Transfer-Encoding: gzip\r\nContent-Length: 5\r\n", "hello", 400},
    {"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
     "5\r\nhello\r\n0\r\n\r\n", 400},
  };
  int i = 0;
  for (auto& v : variants) {
    CAF_MESSAGE("framing: " << v.head);
    auto key = "framed/" + std::to_string(i++);
    client c{port};
    c.write(request_head("PUT", presign("PUT", key), v.head) + v.body);
    auto res = c.read();
    CAF_CHECK_EQUAL(res.status, v.status);
    CAF_CHECK(c.closed_by_peer());
    CAF_CHECK(!fs::exists(object_file(key)));
  }
  CAF_CHECK(rec->snapshot().empty());
}

// -- byte ranges -------------------------------------------------------------

CAF_TEST(a GET with one Range gets 206 with only those bytes) {
  byte_source src;
  auto body = src.make(1000);
  CAF_REQUIRE_EQUAL(
    put(presign("PUT", "r/obj"), body, "Content-Type: video/mp4\r\n").status,
    200u);
  auto etag = "\"" + md5_hex(body) + "\"";
  struct expectation {
    const char* range;
    uint64_t first;
    uint64_t last;
  };
  for (auto x : {expectation{"bytes=10-19", 10, 19},
                 expectation{"bytes=990-", 990, 999},
                 expectation{"bytes=-7", 993, 999},
                 expectation{"bytes=0-0", 0, 0},
                 expectation{"bytes=0-", 0, 999},
                 expectation{"bytes=-5000", 0, 999},
                 expectation{"bytes=500-999999", 500, 999},
                 expectation{"Bytes = 3-4 ", 3, 4}}) {
    CAF_MESSAGE("Range: " << x.range);
    auto res = get_range("r/obj", x.range);
    CAF_REQUIRE(res.ok);
    CAF_CHECK_EQUAL(res.status, 206u);
    auto len = x.last - x.first + 1;
    CAF_CHECK(res.body == body.substr(x.first, len));
    CAF_CHECK_EQUAL(res.header(http::field::content_range),
                    "bytes " + std::to_string(x.first) + "-"
                      + std::to_string(x.last) + "/1000");
    CAF_CHECK_EQUAL(res.header(http::field::content_length),
                    std::to_string(len));
    CAF_CHECK_EQUAL(res.header(http::field::accept_ranges), "bytes");
    CAF_CHECK_EQUAL(res.header(http::field::etag), etag);
    CAF_CHECK_EQUAL(res.header(http::field::content_type), "video/mp4");
    CAF_CHECK(!res.header(http::field::last_modified).empty());
  }
}

CAF_TEST(a range past the end of a small object is clamped) {
  CAF_REQUIRE_EQUAL(put(presign("PUT", "ten"), "0123456789").status, 200u);
  auto res = get_range("ten", "bytes=0-999999");
  CAF_CHECK_EQUAL(res.status, 206u);
  CAF_CHECK_EQUAL(res.body, "0123456789");
  CAF_CHECK_EQUAL(res.header(http::field::content_range), "bytes 0-9/10");
  CAF_CHECK_EQUAL(res.header(http::field::content_length), "10");
  res = get_range("ten", "bytes=8-99999999999999999999999999");
  CAF_CHECK_EQUAL(res.status, 206u);
  CAF_CHECK_EQUAL(res.body, "89");
  CAF_CHECK_EQUAL(res.header(http::field::content_range), "bytes 8-9/10");
}

CAF_TEST(a range of a large object streams across chunks) {
  byte_source src;
  auto body = src.make(300 * 1024 + 5);
  CAF_REQUIRE_EQUAL(put(presign("PUT", "big"), body).status, 200u);
  auto res = get_range("big", "bytes=30001-250000");
  CAF_REQUIRE_EQUAL(res.status, 206u);
  CAF_CHECK_EQUAL(res.body.size(), 220000u);
  CAF_CHECK(res.body == body.substr(30001, 220000));
  CAF_CHECK_EQUAL(res.header(http::field::content_range),
                  "bytes 30001-250000/" + std::to_string(body.size()));
}

CAF_TEST(an unsatisfiable range gets 416 with the object size) {
  CAF_REQUIRE_EQUAL(put(presign("PUT", "ten"), "0123456789").status, 200u);
  for (auto range : {"bytes=10-", "bytes=10-20", "bytes=99999999999999999999-",
                     "bytes=-0"}) {
    CAF_MESSAGE("Range: " << range);
    auto res = get_range("ten", range);
    CAF_REQUIRE(res.ok);
    CAF_CHECK_EQUAL(res.status, 416u);
    CAF_CHECK_EQUAL(res.header(http::field::content_range), "bytes */10");
    CAF_CHECK_EQUAL(res.header("x-amz-error-code"), "InvalidRange");
    CAF_CHECK(res.body.find("<Code>InvalidRange</Code>") != std::string::npos);
    CAF_CHECK(res.body.find("<Key>ten</Key>") != std::string::npos);
  }
  // Every range of an empty object is unsatisfiable.
  CAF_REQUIRE_EQUAL(put(presign("PUT", "empty"), "").status, 200u);
  for (auto range : {"bytes=0-", "bytes=0-0", "bytes=-1"}) {
    auto res = get_range("empty", range);
    CAF_CHECK_EQUAL(res.status, 416u);
    CAF_CHECK_EQUAL(res.header(http::field::content_range), "bytes */0");
  }
}

CAF_TEST(multiple or malformed ranges get the whole object) {
  CAF_REQUIRE_EQUAL(put(presign("PUT", "ten"), "0123456789").status, 200u);
  for (auto range :
       {"bytes=0-1,5-6", "bytes=0-1,", "bytes=abc", "bytes=5-2", "bytes=-",
        "bytes=1-2-3", "items=0-1", "0-1", "bytes=+1-2", "bytes= -1-"}) {
    CAF_MESSAGE("Range: " << range);
    auto res = get_range("ten", range);
    CAF_REQUIRE(res.ok);
    CAF_CHECK_EQUAL(res.status, 200u);
    CAF_CHECK_EQUAL(res.body, "0123456789");
    CAF_CHECK_EQUAL(res.header(http::field::content_range), "");
    CAF_CHECK_EQUAL(res.header(http::field::content_length), "10");
    CAF_CHECK_EQUAL(res.header(http::field::accept_ranges), "bytes");
  }
  // Two Range fields are as ambiguous as two ranges.
  auto res = get(presign("GET", "ten"), "GET",
                 "Range: bytes=0-1\r\nRange: bytes=2-3\r\n");
  CAF_CHECK_EQUAL(res.status, 200u);
  CAF_CHECK_EQUAL(res.body, "0123456789");
}

CAF_TEST(HEAD advertises ranges and the length and ignores Range) {
  CAF_REQUIRE_EQUAL(put(presign("PUT", "ten"), "0123456789").status, 200u);
  auto plain = get(presign("GET", "ten"));
  CAF_CHECK_EQUAL(plain.header(http::field::accept_ranges), "bytes");
  for (auto& extra : {std::string{}, std::string{"Range: bytes=0-1\r\n"}}) {
    auto head = get(presign("HEAD", "ten"), "HEAD", extra);
    CAF_REQUIRE(head.ok);
    CAF_CHECK_EQUAL(head.status, 200u);
    CAF_CHECK_EQUAL(head.header(http::field::accept_ranges), "bytes");
    CAF_CHECK_EQUAL(head.header(http::field::content_length), "10");
    CAF_CHECK_EQUAL(head.header(http::field::content_range), "");
    CAF_CHECK_EQUAL(head.header(http::field::etag),
                    "\"" + md5_hex("0123456789") + "\"");
    CAF_CHECK(head.body.empty());
  }
}

CAF_TEST(If - Range honours the range only for the current object) {
  CAF_REQUIRE_EQUAL(put(presign("PUT", "ten"), "0123456789").status, 200u);
  auto full = get(presign("GET", "ten"));
  auto etag = full.header(http::field::etag);
  auto modified = full.header(http::field::last_modified);
  auto res = get_range("ten", "bytes=2-3", "If-Range: " + etag + "\r\n");
  CAF_CHECK_EQUAL(res.status, 206u);
  CAF_CHECK_EQUAL(res.body, "23");
  res = get_range("ten", "bytes=2-3", "If-Range: " + modified + "\r\n");
  CAF_CHECK_EQUAL(res.status, 206u);
  res = get_range("ten", "bytes=2-3", "If-Range: \"0000\"\r\n");
  CAF_CHECK_EQUAL(res.status, 200u);
  CAF_CHECK_EQUAL(res.body, "0123456789");
  res = get_range("ten", "bytes=2-3", "If-Range: W/" + etag + "\r\n");
  CAF_CHECK_EQUAL(res.status, 200u);
}

CAF_TEST(a Range does not break signatures or keep - alive) {
  CAF_REQUIRE_EQUAL(put(presign("PUT", "ten"), "0123456789").status, 200u);
  client c{port};
  c.write(request_head("GET", presign("GET", "ten"), "Range: bytes=1-2\r\n"));
  auto res = c.read();
  CAF_CHECK_EQUAL(res.status, 206u);
  CAF_CHECK_EQUAL(res.body, "12");
  c.write(request_head("GET", presign("GET", "ten"), "Range: bytes=50-\r\n"));
  res = c.read();
  CAF_CHECK_EQUAL(res.status, 416u);
  c.write(request_head("GET", presign("GET", "ten")));
  res = c.read();
  CAF_CHECK_EQUAL(res.status, 200u);
  CAF_CHECK_EQUAL(res.body, "0123456789");
  // The Range header never rescues a bad signature.
  auto bad = presign("GET", "ten");
  bad.back() = bad.back() == '0' ? '1' : '0';
  res = get(bad, "GET", "Range: bytes=1-2\r\n");
  CAF_CHECK_EQUAL(res.status, 403u);
  CAF_CHECK(res.body.find("<Code>SignatureDoesNotMatch</Code>")
            != std::string::npos);
}

// -- installing outputs ------------------------------------------------------

CAF_TEST(an installed object is served like an upload and announces nothing) {
  byte_source src;
  auto body = src.make(100 * 1024 + 3);
  auto local = local_file("thumb.jpg", body);
  auto res = vf::adapters::objectstore::install_object(
    dir, "uploads", "outputs/job1/thumb.jpg", local, "image/jpeg");
  CAF_REQUIRE(res);
  CAF_CHECK_EQUAL(res->bucket, "uploads");
  CAF_CHECK_EQUAL(res->key, "outputs/job1/thumb.jpg");
  CAF_CHECK_EQUAL(res->etag, md5_hex(body));
  CAF_CHECK_EQUAL(res->size, body.size());
  CAF_CHECK_EQUAL(res->content_type, "image/jpeg");
  CAF_CHECK_EQUAL(res->version.size(), 20u);
  // Moved, not copied.
  CAF_CHECK(!fs::exists(local));
  auto got = get(presign("GET", "outputs/job1/thumb.jpg"));
  CAF_REQUIRE_EQUAL(got.status, 200u);
  CAF_CHECK(got.body == body);
  CAF_CHECK_EQUAL(got.header(http::field::etag), "\"" + md5_hex(body) + "\"");
  CAF_CHECK_EQUAL(got.header(http::field::content_type), "image/jpeg");
  CAF_CHECK_EQUAL(got.header("x-amz-version-id"), res->version);
  // Served from its metadata, not recomputed.
  {
    std::lock_guard<std::mutex> guard{*log_mtx};
    CAF_CHECK(std::none_of(log_lines->begin(), log_lines->end(),
                           [](const std::string& line) {
                             return line.find("recomputing")
                                    != std::string::npos;
                           }));
  }
  auto part = get_range("outputs/job1/thumb.jpg", "bytes=-3");
  CAF_CHECK_EQUAL(part.status, 206u);
  CAF_CHECK(part.body == body.substr(body.size() - 3));
  // Not an upload: no event, no marker.
  std::this_thread::sleep_for(std::chrono::milliseconds{100});
  CAF_CHECK(rec->snapshot().empty());
  CAF_CHECK(markers().empty());
  CAF_CHECK_EQUAL(entries_in(partial_dir()), 0u);
}

CAF_TEST(an output PUT by a worker node is stored and announces nothing) {
  auto conf = config();
  conf.gate = sys.spawn(output_gate);
  start(conf);
  byte_source src;
  auto body = src.make(70 * 1024 + 1);
  auto lease = [this](const std::string& key, const std::string& id) {
    return presign("PUT", key, std::nullopt, 900, "uploads",
                   {{"x-vf-lease", id}});
  };
  auto res = put(lease("outputs/open/small.jpg", "7"), body,
                 "Content-Type: image/jpeg\r\n");
  CAF_REQUIRE_EQUAL(res.status, 200u);
  CAF_CHECK_EQUAL(res.header(http::field::etag), "\"" + md5_hex(body) + "\"");
  auto got = get(presign("GET", "outputs/open/small.jpg"));
  CAF_REQUIRE_EQUAL(got.status, 200u);
  CAF_CHECK(got.body == body);
  CAF_CHECK_EQUAL(got.header(http::field::content_type), "image/jpeg");
  // A second run of the render replaces it: one object remains.
  CAF_REQUIRE_EQUAL(put(lease("outputs/open/small.jpg", "7"), "again").status,
                    200u);
  CAF_CHECK_EQUAL(get(presign("GET", "outputs/open/small.jpg")).body, "again");
  CAF_CHECK_EQUAL(entries_in(dir + "/objects/uploads/outputs/open"), 1u);
  // A job that no longer renders, or a lease handed on, takes no outputs.
  auto closed = put(lease("outputs/closed/small.jpg", "7"), body);
  CAF_CHECK_EQUAL(closed.status, 409u);
  CAF_CHECK_EQUAL(put(lease("outputs/open/small.jpg", "8"), body).status,
                  409u);
  CAF_CHECK_EQUAL(get(presign("GET", "outputs/closed/small.jpg")).status,
                  404u);
  // Without a lease, or one that is not a plain number: refused.
  CAF_CHECK_EQUAL(put(presign("PUT", "outputs/open/small.jpg"), body).status,
                  403u);
  for (auto bad : {"0", "x7", "7 ", "-7", "99999999999999999999999"})
    CAF_CHECK_EQUAL(put(lease("outputs/open/small.jpg", bad), body).status,
                    400u);
  // The lease is signed with the URL: changing it breaks the signature.
  auto url = lease("outputs/open/small.jpg", "8");
  auto at = url.find("x-vf-lease=8");
  CAF_REQUIRE(at != std::string::npos);
  url.replace(at, 12, "x-vf-lease=7");
  CAF_CHECK_EQUAL(put(url, body).status, 403u);
  CAF_CHECK_EQUAL(get(presign("GET", "outputs/open/small.jpg")).body, "again");
  // Not an upload: no event, no marker, no partial file.
  std::this_thread::sleep_for(std::chrono::milliseconds{100});
  CAF_CHECK(rec->snapshot().empty());
  CAF_CHECK(markers().empty());
  CAF_CHECK_EQUAL(entries_in(partial_dir()), 0u);
  server.reset();
  caf::anon_send_exit(conf.gate, caf::exit_reason::user_shutdown);
}

CAF_TEST(an output whose lease ended during its PUT is not stored) {
  auto open = std::make_shared<std::atomic<bool>>(true);
  auto conf = config();
  conf.gate = sys.spawn(switch_gate, open);
  start(conf);
  auto url = presign("PUT", "outputs/open/720p.mp4", std::nullopt, 900,
                     "uploads", {{"x-vf-lease", "7"}});
  client c{port};
  // Admitted with its headers; the lease ends before the body is in.
  CAF_REQUIRE(c.write(request_head("PUT", url, "Content-Length: 10\r\n")
                      + "first"));
  std::this_thread::sleep_for(std::chrono::milliseconds{200});
  open->store(false);
  CAF_REQUIRE(c.write(std::string_view{"-half"}));
  auto res = c.read();
  CAF_CHECK_EQUAL(res.status, 409u);
  CAF_CHECK_EQUAL(get(presign("GET", "outputs/open/720p.mp4")).status, 404u);
  CAF_CHECK_EQUAL(entries_in(partial_dir()), 0u);
  // The type of an output comes from its name, never from its sender.
  open->store(true);
  CAF_REQUIRE_EQUAL(put(url, "<script>x</script>",
                        "Content-Type: text/html\r\n")
                      .status,
                    200u);
  auto got = get(presign("GET", "outputs/open/720p.mp4"));
  CAF_CHECK_EQUAL(got.header(http::field::content_type), "video/mp4");
  CAF_CHECK_EQUAL(got.header("X-Content-Type-Options"), "nosniff");
  server.reset();
  caf::anon_send_exit(conf.gate, caf::exit_reason::user_shutdown);
}

CAF_TEST(installing a key twice leaves one object and no partial file) {
  auto key = std::string{"outputs/job2/r.mp4"};
  auto first = vf::adapters::objectstore::install_object(
    dir, "uploads", key, local_file("r1.mp4", "first run"), "video/mp4");
  CAF_REQUIRE(first);
  auto second = vf::adapters::objectstore::install_object(
    dir, "uploads", key, local_file("r2.mp4", "second run!"), "video/mp4");
  CAF_REQUIRE(second);
  CAF_CHECK_LESS(first->version, second->version);
  CAF_CHECK_EQUAL(entries_in(partial_dir()), 0u);
  CAF_CHECK_EQUAL(entries_in(dir + "/objects/uploads/outputs/job2"), 1u);
  auto stored = vf::adapters::objectstore::find_object_meta(
    object_file(key), vf::adapters::objectstore::meta_file(dir, "uploads", key));
  CAF_REQUIRE(stored);
  CAF_CHECK_EQUAL(stored->version, second->version);
  auto got = get(presign("GET", key));
  CAF_CHECK_EQUAL(got.status, 200u);
  CAF_CHECK_EQUAL(got.body, "second run!");
  CAF_CHECK_EQUAL(got.header(http::field::etag),
                  "\"" + md5_hex("second run!") + "\"");
  // An installed output may also replace an uploaded object.
  CAF_REQUIRE_EQUAL(put(presign("PUT", "outputs/job2/up"), "uploaded").status,
                    200u);
  CAF_REQUIRE(vf::adapters::objectstore::install_object(
    dir, "uploads", "outputs/job2/up", local_file("up", "installed"), ""));
  CAF_CHECK_EQUAL(get(presign("GET", "outputs/job2/up")).body, "installed");
  CAF_CHECK_EQUAL(entries_in(partial_dir()), 0u);
}

CAF_TEST(a file with other links or behind a symlink is copied) {
  auto local = local_file("linked.bin", "shared bytes");
  auto other = dir + "/work/other-name.bin";
  CAF_REQUIRE_EQUAL(::link(local.c_str(), other.c_str()), 0);
  auto res = vf::adapters::objectstore::install_object(
    dir, "uploads", "outputs/job3/a", local, "application/octet-stream");
  CAF_REQUIRE(res);
  // The object has its own inode: writing through the other name later
  // cannot change it.
  std::ofstream{other, std::ios::binary} << "changed!!!!!";
  CAF_CHECK_EQUAL(get(presign("GET", "outputs/job3/a")).body, "shared bytes");
  CAF_CHECK(!fs::exists(local));
  auto target = local_file("target.bin", "via symlink");
  auto link = dir + "/work/link.bin";
  fs::create_symlink(target, link);
  CAF_REQUIRE(vf::adapters::objectstore::install_object(dir, "uploads",
                                                        "outputs/job3/b", link,
                                                        "text/plain"));
  auto got = get(presign("GET", "outputs/job3/b"));
  CAF_CHECK_EQUAL(got.body, "via symlink");
  CAF_CHECK_EQUAL(got.header(http::field::content_type), "text/plain");
  struct stat st;
  CAF_REQUIRE_EQUAL(::lstat(object_file("outputs/job3/b").c_str(), &st), 0);
  CAF_CHECK(S_ISREG(st.st_mode));
  CAF_CHECK_EQUAL(entries_in(partial_dir()), 0u);
}

CAF_TEST(a file on another file system is copied) {
  struct stat here;
  struct stat shm;
  CAF_REQUIRE_EQUAL(::stat(dir.c_str(), &here), 0);
  if (::stat("/dev/shm", &shm) != 0 || shm.st_dev == here.st_dev) {
    CAF_MESSAGE("no second file system at /dev/shm; skipped");
    return;
  }
  char tmpl[] = "/dev/shm/vf-install-XXXXXX";
  CAF_REQUIRE(::mkstemp(tmpl) >= 0);
  std::string local = tmpl;
  std::ofstream{local, std::ios::binary} << "from tmpfs";
  auto res = vf::adapters::objectstore::install_object(
    dir, "uploads", "outputs/job4/x", local, "text/plain");
  CAF_REQUIRE(res);
  CAF_CHECK(!fs::exists(local));
  CAF_CHECK_EQUAL(get(presign("GET", "outputs/job4/x")).body, "from tmpfs");
  CAF_CHECK_EQUAL(entries_in(partial_dir()), 0u);
}

CAF_TEST(bad installs are refused and leave the local file) {
  using vf::messages::errc;
  using vf::messages::errc_of;
  namespace os = vf::adapters::objectstore;
  auto local = local_file("keep.bin", "keep me");
  for (auto key : {"", "../escape", "outputs/../../x", "a//b", "outputs/",
                   "/abs", "./x", "bad\x01key"}) {
    CAF_MESSAGE("key: " << key);
    auto res = os::install_object(dir, "uploads", key, local, "");
    CAF_REQUIRE(!res);
    CAF_CHECK_EQUAL(errc_of(res.error()), errc::invalid_argument);
  }
  for (auto bucket : {"UP", "..", ".meta", "a/b"}) {
    auto res = os::install_object(dir, bucket, "k", local, "");
    CAF_REQUIRE(!res);
    CAF_CHECK_EQUAL(errc_of(res.error()), errc::invalid_argument);
  }
  CAF_CHECK_EQUAL(read_file(local), "keep me");
  auto missing = os::install_object(dir, "uploads", "k", dir + "/work/none",
                                    "");
  CAF_REQUIRE(!missing);
  CAF_CHECK_EQUAL(errc_of(missing.error()), errc::not_found);
  auto folder = os::install_object(dir, "uploads", "k", dir + "/work", "");
  CAF_REQUIRE(!folder);
  CAF_CHECK_EQUAL(errc_of(folder.error()), errc::invalid_argument);
  // A key below an existing object clashes with it.
  CAF_REQUIRE(os::install_object(dir, "uploads", "outputs/j/file",
                                 local_file("f", "x"), ""));
  auto clash = os::install_object(dir, "uploads", "outputs/j/file/deeper",
                                  local, "");
  CAF_REQUIRE(!clash);
  CAF_CHECK_EQUAL(errc_of(clash.error()), errc::conflict);
  // A file of the store itself is never moved (that would lose an object).
  for (auto key : {"outputs/j/file", "outputs/j/other"}) {
    auto self = os::install_object(dir, "uploads", key,
                                   object_file("outputs/j/file"), "");
    CAF_REQUIRE(!self);
    CAF_CHECK_EQUAL(errc_of(self.error()), errc::invalid_argument);
  }
  CAF_CHECK_EQUAL(get(presign("GET", "outputs/j/file")).body, "x");
  CAF_CHECK_EQUAL(read_file(local), "keep me");
  CAF_CHECK_EQUAL(entries_in(partial_dir()), 0u);
  CAF_CHECK(rec->snapshot().empty());
}

CAF_TEST(delete_prefix removes only the objects under that prefix) {
  using vf::messages::errc;
  using vf::messages::errc_of;
  namespace os = vf::adapters::objectstore;
  for (auto key : {"outputs/j1/thumb.jpg", "outputs/j1/r/720p.mp4",
                   "outputs/j10/thumb.jpg", "outputs/j1x", "outputs/keep"})
    CAF_REQUIRE(os::install_object(dir, "uploads", key,
                                   local_file("src", key), "image/jpeg"));
  CAF_REQUIRE_EQUAL(put(presign("PUT", "outputs/j1/uploaded"), "up").status,
                    200u);
  // Stray metadata files of an object deleted half-way are swept too, and
  // those of objects outside the prefix are kept.
  fs::create_directories(dir + "/objects/.meta/uploads/outputs/j1/gone");
  std::ofstream{dir + "/objects/.meta/uploads/outputs/j1/gone/x"} << "{}";
  fs::create_directories(dir + "/objects/.meta/uploads/outputs/j10");
  std::ofstream{dir + "/objects/.meta/uploads/outputs/j10/thumb.jpg"} << "{}";
  auto removed = os::delete_prefix(dir, "uploads", "outputs/j1/");
  CAF_REQUIRE(removed);
  CAF_CHECK_EQUAL(*removed, 3u);
  for (auto key : {"outputs/j1/thumb.jpg", "outputs/j1/r/720p.mp4",
                   "outputs/j1/uploaded"})
    CAF_CHECK_EQUAL(get(presign("GET", key)).status, 404u);
  for (auto key : {"outputs/j10/thumb.jpg", "outputs/j1x", "outputs/keep"}) {
    auto got = get(presign("GET", key));
    CAF_CHECK_EQUAL(got.status, 200u);
    CAF_CHECK_EQUAL(got.body, key);
  }
  CAF_CHECK(!fs::exists(dir + "/objects/uploads/outputs/j1"));
  CAF_CHECK(!fs::exists(dir + "/objects/.meta/uploads/outputs/j1"));
  CAF_CHECK(fs::exists(dir + "/objects/.meta/uploads/outputs/j10/thumb.jpg"));
  // Again: nothing left, nothing removed.
  removed = os::delete_prefix(dir, "uploads", "outputs/j1/");
  CAF_REQUIRE(removed);
  CAF_CHECK_EQUAL(*removed, 0u);
  // A prefix must name a folder inside the bucket.
  for (auto prefix : {"", "/", "outputs/j1", "../", "outputs/../", "./",
                      "outputs//", "outputs/j10/../"}) {
    CAF_MESSAGE("prefix: " << prefix);
    auto res = os::delete_prefix(dir, "uploads", prefix);
    CAF_REQUIRE(!res);
    CAF_CHECK_EQUAL(errc_of(res.error()), errc::invalid_argument);
  }
  auto bad_bucket = os::delete_prefix(dir, ".meta", "outputs/");
  CAF_REQUIRE(!bad_bucket);
  CAF_CHECK_EQUAL(errc_of(bad_bucket.error()), errc::invalid_argument);
  // An object named like the folder is not under it.
  removed = os::delete_prefix(dir, "uploads", "outputs/keep/");
  CAF_REQUIRE(removed);
  CAF_CHECK_EQUAL(*removed, 0u);
  CAF_CHECK_EQUAL(get(presign("GET", "outputs/keep")).status, 200u);
  // Everything under outputs/.
  removed = os::delete_prefix(dir, "uploads", "outputs/");
  CAF_REQUIRE(removed);
  CAF_CHECK_EQUAL(*removed, 3u);
  CAF_CHECK(fs::exists(dir + "/objects/uploads"));
}

CAF_TEST_FIXTURE_SCOPE_END()
