// Integration test of vf::adapters::sigv4 (presigned PUT) and
// vf::adapters::s3 (header-signed GET/HEAD/PUT) against a real S3 server:
// @20minutes/s3rver 4.0.4 under node, started by s3rver-launcher.js on a free
// 127.0.0.1 port with a temporary directory.
//
// s3rver checks SigV4 signatures and expiry, but it accepts anonymous PUTs
// (no signature at all), so "anonymous upload refused" cannot be tested
// against it; the built-in store's tests cover that.

#define CAF_SUITE integration.s3rver

#include "node_process.hpp"
#include "vf_test.hpp"
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vf/adapters/s3/client.hpp"
#include "vf/adapters/sigv4/sigv4.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace fs = std::filesystem;

using namespace vf::adapters;
using vf::messages::errc;

using vf_test::slurp;

namespace {

constexpr const char* node_executable = VF_NODE_EXECUTABLE;
constexpr const char* s3rver_module = VF_S3RVER_MODULE;
constexpr const char* launcher_script = VF_S3RVER_LAUNCHER;

/// Unix seconds now.
int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

/// Result of a raw HTTP request made by the test itself.
struct http_result {
  long status = 0;
  std::string body;
  std::string error; // transport error, if any
};

size_t append_body(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

struct upload_state {
  const std::string* body;
  size_t offset = 0;
};

size_t read_body(char* buf, size_t size, size_t count, void* user) {
  auto* st = static_cast<upload_state*>(user);
  auto n = std::min(size * count, st->body->size() - st->offset);
  std::memcpy(buf, st->body->data() + st->offset, n);
  st->offset += n;
  return n;
}

/// PUTs `body` to `url` like a browser or `curl -T` would.
http_result http_put(const std::string& url, const std::string& body) {
  http_result result;
  CURL* h = curl_easy_init();
  if (h == nullptr) {
    result.error = "curl_easy_init failed";
    return result;
  }
  upload_state st{&body};
  curl_slist* headers = curl_slist_append(nullptr, "Expect:");
  CURLcode rc = CURLE_OK;
  auto set = [&](CURLoption opt, auto value) {
    if (rc == CURLE_OK)
      rc = curl_easy_setopt(h, opt, value);
  };
  set(CURLOPT_URL, url.c_str());
  set(CURLOPT_UPLOAD, 1L);
  set(CURLOPT_READFUNCTION, &read_body);
  set(CURLOPT_READDATA, static_cast<void*>(&st));
  set(CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(body.size()));
  set(CURLOPT_WRITEFUNCTION, &append_body);
  set(CURLOPT_WRITEDATA, static_cast<void*>(&result.body));
  set(CURLOPT_HTTPHEADER, headers);
  set(CURLOPT_NOSIGNAL, 1L);
  set(CURLOPT_TIMEOUT_MS, 10000L);
  if (rc == CURLE_OK)
    rc = curl_easy_perform(h);
  if (rc == CURLE_OK)
    rc = curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &result.status);
  if (rc != CURLE_OK)
    result.error = curl_easy_strerror(rc);
  curl_slist_free_all(headers);
  curl_easy_cleanup(h);
  return result;
}

/// A started s3rver plus the client configuration for it.
struct fixture {
  vf_test::node_process server{"s3rver", node_executable, launcher_script,
                               s3rver_module, "S3RVER_EXIT_ON_EOF"};
  std::string endpoint;
  s3::client_config cfg;

  /// Why s3rver did not start; empty once it runs.
  std::string start_error;

  fixture() {
    // Reported as a failure of each test (never a skip); CAF_FAIL would
    // throw out of the constructor and abort the whole run.
    start_error = server.start();
    if (!start_error.empty()) {
      CAF_ERROR("cannot start s3rver: " << start_error);
      return;
    }
    endpoint = "http://127.0.0.1:" + std::to_string(server.port());
    cfg.endpoint = endpoint;
    cfg.region = "us-east-1";
    cfg.creds = {"S3RVER", "S3RVER", ""};
    CAF_MESSAGE("s3rver on " << endpoint << " in " << server.dir());
  }

  /// Presigns a PUT of `key` into bucket `uploads`.
  std::string presign_put(const std::string& key, int64_t now,
                          uint32_t expires = 900) const {
    sigv4::presign_params p;
    p.method = "PUT";
    p.endpoint = endpoint;
    p.bucket = "uploads";
    p.key = key;
    p.creds = cfg.creds;
    p.region = "us-east-1";
    p.now = now;
    p.expires = expires;
    return sigv4::presign_url(p);
  }

  /// A file path in the temporary directory.
  std::string path(const std::string& name) const {
    return (server.dir() / name).string();
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(s3rver_tests, fixture)

CAF_TEST(presigned put is accepted and tampering is refused) {
  CAF_REQUIRE(start_error.empty());
  const std::string key = "videos/job 1/clip+1 \xc3\xbc.mp4";
  const std::string body = "vidflow presigned upload\n";
  auto now = unix_now();
  auto url = presign_put(key, now);
  CAF_REQUIRE(!url.empty());
  CAF_MESSAGE("url: " << url);
  auto ok = http_put(url, body);
  CAF_CHECK_EQUAL(ok.error, "");
  CAF_CHECK_EQUAL(ok.status, 200);
  if (ok.status != 200)
    CAF_MESSAGE("s3rver said: " << ok.body);
  // Our verifier agrees with s3rver about the URL it accepted.
  sigv4::incoming in;
  in.method = "PUT";
  in.target = url.substr(endpoint.size());
  in.headers = {{"Host", endpoint.substr(7)}};
  auto lookup = [](std::string_view key) -> std::optional<std::string> {
    if (key == "S3RVER")
      return std::string{"S3RVER"};
    return std::nullopt;
  };
  CAF_CHECK_EQUAL(std::string{sigv4::to_string(
                    sigv4::verify_presigned(in, lookup, "us-east-1", now))},
                  "ok");
  // Tampered signature: flip the last hex digit.
  auto tampered = url;
  tampered.back() = tampered.back() == '0' ? '1' : '0';
  auto bad = http_put(tampered, "evil");
  CAF_CHECK_EQUAL(bad.status, 403);
  CAF_CHECK(bad.body.find("SignatureDoesNotMatch") != std::string::npos);
  // Signed an hour ago for one minute: expired.
  auto expired = presign_put(key, now - 3600, 60);
  bad = http_put(expired, "late");
  CAF_CHECK_EQUAL(bad.status, 403);
  CAF_CHECK(bad.body.find("expired") != std::string::npos);
  // Another key under the same signature.
  auto moved = url;
  auto pos = moved.find("clip");
  moved.replace(pos, 4, "CLIP");
  bad = http_put(moved, "elsewhere");
  CAF_CHECK_EQUAL(bad.status, 403);
  // The stored object is the first upload, byte for byte.
  auto dest = path("downloaded.bin");
  auto got = s3::get_object_to_file(cfg, "uploads", key, dest, 10000);
  CAF_REQUIRE(got);
  CAF_CHECK_EQUAL(got->size, body.size());
  CAF_CHECK_EQUAL(slurp(dest), body);
  CAF_CHECK(!got->etag.empty());
  CAF_CHECK(got->etag.front() != '"');
  auto head = s3::head_object(cfg, "uploads", key, 10000);
  CAF_REQUIRE(head);
  CAF_CHECK_EQUAL(head->size, body.size());
  CAF_CHECK_EQUAL(head->etag, got->etag);
}

CAF_TEST(client put then get returns the same bytes) {
  CAF_REQUIRE(start_error.empty());
  std::string body;
  for (int i = 0; i < 200000; ++i)
    body += static_cast<char>('a' + i % 26);
  auto src = path("source.bin");
  {
    std::ofstream out{src, std::ios::binary};
    out << body;
  }
  auto put = s3::put_object_from_file(cfg, "uploads", "clips/big.bin", src,
                                      10000, "video/mp4");
  CAF_REQUIRE(put);
  CAF_CHECK_EQUAL(put->size, body.size());
  auto dest = path("big.out");
  auto got
    = s3::get_object_to_file(cfg, "uploads", "clips/big.bin", dest, 10000);
  CAF_REQUIRE(got);
  CAF_CHECK_EQUAL(got->size, body.size());
  CAF_CHECK_EQUAL(got->etag, put->etag);
  CAF_CHECK(slurp(dest) == body);
  auto head = s3::head_object(cfg, "uploads", "clips/big.bin", 10000);
  CAF_REQUIRE(head);
  CAF_CHECK_EQUAL(head->content_type, "video/mp4");
  // No temporary files are left next to the destination.
  size_t leftovers = 0;
  for (auto& entry : fs::directory_iterator{server.dir()})
    if (entry.path().filename().string().find(".part.") != std::string::npos)
      ++leftovers;
  CAF_CHECK_EQUAL(leftovers, 0u);
}

CAF_TEST(a presigned GET URL fetches the object without credentials) {
  CAF_REQUIRE(start_error.empty());
  std::string body(70000, 'v');
  auto src = path("for-url.bin");
  {
    std::ofstream out{src, std::ios::binary};
    out << body;
  }
  CAF_REQUIRE(s3::put_object_from_file(cfg, "uploads", "clips/url.bin", src,
                                       10000, "video/mp4"));
  sigv4::presign_params p;
  p.method = "GET";
  p.endpoint = endpoint;
  p.bucket = "uploads";
  p.key = "clips/url.bin";
  p.creds = cfg.creds;
  p.region = "us-east-1";
  p.now = static_cast<int64_t>(std::time(nullptr));
  p.expires = 300;
  auto url = sigv4::presign_url(p);
  auto dest = path("url.out");
  auto got = s3::get_url_to_file(url, dest, 10000);
  CAF_REQUIRE(got);
  CAF_CHECK_EQUAL(got->size, body.size());
  CAF_CHECK(slurp(dest) == body);
  // s3rver checks the signature: a tampered one is refused, and the error
  // never shows the signature.
  auto bad = url;
  auto sig = bad.find("X-Amz-Signature=");
  CAF_REQUIRE_NOT_EQUAL(sig, std::string::npos);
  auto at = sig + 16;
  bad[at] = bad[at] == '0' ? '1' : '0';
  auto refused = s3::get_url_to_file(bad, path("bad.out"), 10000);
  CAF_REQUIRE(!refused);
  CAF_CHECK_EQUAL(vf::messages::errc_of(refused.error()),
                  vf::messages::errc::forbidden);
  CAF_CHECK_EQUAL(vf::messages::message_of(refused.error())
                    .find("X-Amz-Signature"),
                  std::string::npos);
  // An expired URL is refused too.
  p.now -= 3600;
  p.expires = 60;
  CAF_CHECK(!s3::get_url_to_file(sigv4::presign_url(p), path("old.out"),
                                 10000));
  CHECK_ERRC(s3::get_url_to_file("ftp://x/y", path("x.out"), 1000),
             vf::messages::errc::invalid_argument);
}

CAF_TEST(large files go up in parts and come back whole) {
  CAF_REQUIRE(start_error.empty());
  // 12 MiB and a bit, in 5 MiB parts: three parts, the last one short.
  std::string body;
  body.reserve((12u << 20) + 4321);
  uint32_t x = 12345;
  while (body.size() < (12u << 20) + 4321) {
    x = x * 1103515245u + 12345u;
    body += static_cast<char>(x >> 24);
  }
  auto src = path("parts.bin");
  {
    std::ofstream out{src, std::ios::binary};
    out << body;
  }
  auto mp = cfg;
  mp.multipart_threshold = 5u << 20;
  mp.part_size = 5u << 20;
  // Keys come from a source asked once per request, with a session token
  // (s3rver checks the signature that covers it).
  int asked = 0;
  mp.keys = [&asked]() -> caf::expected<sigv4::credentials> {
    ++asked;
    return sigv4::credentials{"S3RVER", "S3RVER", "session-token-1"};
  };
  auto put = s3::put_object_from_file(mp, "uploads", "clips/parts.bin", src,
                                      30000, "video/mp4");
  CAF_REQUIRE(put);
  CAF_CHECK_EQUAL(put->size, body.size());
  // Create, three parts, complete.
  CAF_CHECK_EQUAL(asked, 5);
  auto dest = path("parts.out");
  auto got
    = s3::get_object_to_file(cfg, "uploads", "clips/parts.bin", dest, 30000);
  CAF_REQUIRE(got);
  CAF_CHECK_EQUAL(got->size, body.size());
  CAF_CHECK(slurp(dest) == body);
  // The type given when the upload was created is the object's.
  auto head = s3::head_object(cfg, "uploads", "clips/parts.bin", 10000);
  CAF_REQUIRE(head);
  CAF_CHECK_EQUAL(head->content_type, "video/mp4");
  // At the threshold exactly: one PUT.
  asked = 0;
  std::string small(5u << 20, 'p');
  {
    std::ofstream out{path("small.bin"), std::ios::binary};
    out << small;
  }
  CAF_REQUIRE(s3::put_object_from_file(mp, "uploads", "clips/small.bin",
                                       path("small.bin"), 30000));
  CAF_CHECK_EQUAL(asked, 1);
  // A source without keys fails the call before anything is sent, as a
  // passing condition (the caller tries again).
  mp.keys = []() -> caf::expected<sigv4::credentials> {
    return vf::messages::make_error(errc::unauthorized, "no keys today");
  };
  CHECK_ERRC(
    s3::put_object_from_file(mp, "uploads", "clips/none.bin", src, 30000),
    errc::storage_unavailable);
  CHECK_ERRC(s3::head_object(mp, "uploads", "clips/parts.bin", 10000),
             errc::storage_unavailable);
}

CAF_TEST(deleting an object and a folder of them) {
  CAF_REQUIRE(start_error.empty());
  auto src = path("tiny.bin");
  {
    std::ofstream out{src, std::ios::binary};
    out << "tiny";
  }
  // Five outputs of job j1 (one with characters URLs escape), one of job
  // j10, whose name starts like j1's. (Not '&' or '<': s3rver's listing
  // escapes them twice, S3 once; e2e_s3_aws lists such a key.)
  std::vector<std::string> keys{
    "outputs/j1/a.jpg",     "outputs/j1/b.mp4", "outputs/j1/c d+e=f.jpg",
    "outputs/j1/sub/f.jpg", "outputs/j1/g.jpg", "outputs/j10/a.jpg"};
  for (auto& key : keys)
    CAF_REQUIRE(s3::put_object_from_file(cfg, "uploads", key, src, 10000));
  auto listed = s3::list_keys(cfg, "uploads", "outputs/j1/", 10000, 100);
  if (!listed)
    CAF_MESSAGE("list: " << vf::messages::message_of(listed.error()));
  CAF_REQUIRE(listed);
  CAF_CHECK_EQUAL(listed->size(), 5u);
  CAF_CHECK(std::find(listed->begin(), listed->end(), "outputs/j1/c d+e=f.jpg")
            != listed->end());
  auto two = s3::list_keys(cfg, "uploads", "outputs/j1/", 10000, 2);
  CAF_REQUIRE(two);
  CAF_CHECK_EQUAL(two->size(), 2u);
  auto gone = s3::delete_prefix(cfg, "uploads", "outputs/j1/", 10000);
  if (!gone)
    CAF_MESSAGE("delete: " << vf::messages::message_of(gone.error()));
  CAF_REQUIRE(gone);
  CAF_CHECK_EQUAL(*gone, 5u);
  for (size_t i = 0; i + 1 < keys.size(); ++i)
    CHECK_ERRC(s3::head_object(cfg, "uploads", keys[i], 10000),
               errc::not_found);
  CAF_CHECK(s3::head_object(cfg, "uploads", "outputs/j10/a.jpg", 10000));
  // Again: nothing left, nothing deleted.
  gone = s3::delete_prefix(cfg, "uploads", "outputs/j1/", 10000);
  CAF_REQUIRE(gone);
  CAF_CHECK_EQUAL(*gone, 0u);
  // One object, twice: deleted both times (S3 answers 204 either way).
  CAF_CHECK(s3::delete_object(cfg, "uploads", "outputs/j10/a.jpg", 10000));
  CAF_CHECK(s3::delete_object(cfg, "uploads", "outputs/j10/a.jpg", 10000));
  CHECK_ERRC(s3::head_object(cfg, "uploads", "outputs/j10/a.jpg", 10000),
             errc::not_found);
  // Never the bucket, never a name that is not a folder.
  for (auto prefix : {"", "/", "outputs/j1", "/outputs/j1/", "outputs//"})
    CHECK_ERRC(s3::delete_prefix(cfg, "uploads", prefix, 10000),
               errc::invalid_argument);
  auto wrong = cfg;
  wrong.creds = {"S3RVER", "wrong-secret", ""};
  CHECK_ERRC(s3::delete_prefix(wrong, "uploads", "outputs/j1/", 10000),
             errc::forbidden);
}

CAF_TEST(errors map to errc) {
  CAF_REQUIRE(start_error.empty());
  auto dest = path("missing.out");
  CHECK_ERRC(
    s3::get_object_to_file(cfg, "uploads", "no/such/key.mp4", dest, 10000),
    errc::not_found);
  // A failed download leaves neither the destination nor a temporary file.
  CAF_CHECK(!fs::exists(dest));
  for (auto& entry : fs::directory_iterator{server.dir()})
    CAF_CHECK(entry.path().filename().string().find(".part.")
              == std::string::npos);
  CHECK_ERRC(s3::head_object(cfg, "uploads", "no/such/key.mp4", 10000),
             errc::not_found);
  CHECK_ERRC(s3::get_object_to_file(cfg, "nosuchbucket", "k", dest, 10000),
             errc::not_found);
  auto wrong = cfg;
  wrong.creds = {"S3RVER", "wrong-secret", ""};
  CHECK_ERRC(s3::get_object_to_file(wrong, "uploads", "k", dest, 10000),
             errc::forbidden);
  wrong.creds = {"NOBODY", "S3RVER", ""};
  CHECK_ERRC(s3::head_object(wrong, "uploads", "k", 10000), errc::forbidden);
  // Bad arguments never reach the network.
  CHECK_ERRC(s3::head_object(cfg, "", "k", 10000), errc::invalid_argument);
  CHECK_ERRC(s3::head_object(cfg, "uploads", "", 10000),
             errc::invalid_argument);
  CHECK_ERRC(s3::head_object(cfg, "uploads", "k", 0), errc::invalid_argument);
  auto bad_endpoint = cfg;
  bad_endpoint.endpoint = "127.0.0.1:9000";
  CHECK_ERRC(s3::head_object(bad_endpoint, "uploads", "k", 1000),
             errc::invalid_argument);
  CHECK_ERRC(
    s3::put_object_from_file(cfg, "uploads", "k", path("does-not-exist"), 1000),
    errc::invalid_argument);
  CHECK_ERRC(
    s3::get_object_to_file(cfg, "uploads", "k", path("no/such/dir/out"), 1000),
    errc::internal);
}

CAF_TEST(unreachable stores are storage_unavailable) {
  CAF_REQUIRE(start_error.empty());
  // A listening socket that never accepts: the TCP handshake completes in
  // the kernel's backlog, the request is never answered.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  CAF_REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  CAF_REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr))
              == 0);
  CAF_REQUIRE(::listen(fd, 4) == 0);
  socklen_t len = sizeof(addr);
  CAF_REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  auto silent = cfg;
  silent.endpoint = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  auto res = s3::get_object_to_file(silent, "uploads", "k", path("t.out"), 300);
  CHECK_ERRC(res, errc::storage_unavailable);
  if (!res)
    CAF_CHECK(vf::messages::message_of(res.error()).find("timed out")
              != std::string::npos);
  ::close(fd);
  // Nothing listens there any more: connection refused.
  res = s3::get_object_to_file(silent, "uploads", "k", path("r.out"), 2000);
  CHECK_ERRC(res, errc::storage_unavailable);
  if (!res)
    CAF_CHECK(vf::messages::message_of(res.error()).find("connection refused")
              != std::string::npos);
  // And once s3rver itself is gone.
  server.stop();
  CHECK_ERRC(s3::head_object(cfg, "uploads", "k", 2000),
             errc::storage_unavailable);
}

CAF_TEST_FIXTURE_SCOPE_END()
