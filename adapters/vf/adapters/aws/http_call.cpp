// vf/adapters/aws/http_call.cpp

#include "vf/adapters/aws/http_call.hpp"

#include <curl/curl.h>

#include "vf/messages/errc.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <memory>
#include <mutex>

namespace vf::adapters::aws {

namespace {

using messages::errc;
using messages::make_error;

caf::error ensure_global_init() {
  static std::once_flag flag;
  static CURLcode rc = CURLE_OK;
  std::call_once(flag, [] { rc = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (rc != CURLE_OK)
    return make_error(errc::internal, std::string{"curl_global_init: "}
                                        + curl_easy_strerror(rc));
  return caf::none;
}

struct easy_deleter {
  void operator()(CURL* ptr) const {
    curl_easy_cleanup(ptr);
  }
};

struct slist_deleter {
  void operator()(curl_slist* ptr) const {
    curl_slist_free_all(ptr);
  }
};

std::string trim(std::string_view str) {
  while (!str.empty() && (str.front() == ' ' || str.front() == '\t'))
    str.remove_prefix(1);
  while (!str.empty()
         && (str.back() == ' ' || str.back() == '\t' || str.back() == '\r'
             || str.back() == '\n'))
    str.remove_suffix(1);
  return std::string{str};
}

std::string lower(std::string_view str) {
  std::string out{str};
  for (auto& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

struct exchange {
  http_response resp;
  size_t max_response = 0;
  bool too_big = false;
};

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* ex = static_cast<exchange*>(user);
  std::string_view line{data, size * count};
  if (line.substr(0, 5) == "HTTP/") {
    ex->resp.headers.clear(); // a new response (after 100 Continue)
    return size * count;
  }
  auto colon = line.find(':');
  if (colon != std::string_view::npos && ex->resp.headers.size() < 200)
    ex->resp.headers.emplace_back(lower(line.substr(0, colon)),
                                  trim(line.substr(colon + 1)));
  return size * count;
}

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* ex = static_cast<exchange*>(user);
  auto n = size * count;
  if (ex->resp.body.size() + n > ex->max_response) {
    ex->too_big = true;
    return 0; // fails the transfer with CURLE_WRITE_ERROR
  }
  ex->resp.body.append(data, n);
  return n;
}

template <class T>
void set(CURL* h, CURLoption opt, T value, CURLcode& rc) {
  if (rc == CURLE_OK)
    rc = curl_easy_setopt(h, opt, value);
}

// The URL without its query: queries may carry signatures or tokens.
std::string shown(const std::string& url) {
  return url.substr(0, url.find('?'));
}

} // namespace

std::string http_response::header(std::string_view name) const {
  for (auto& [k, v] : headers)
    if (k == name)
      return v;
  return {};
}

caf::expected<http_response> perform(const http_request& req) {
  if (req.url.compare(0, 7, "http://") != 0
      && req.url.compare(0, 8, "https://") != 0)
    return make_error(errc::invalid_argument,
                      "not an http(s) URL: '" + shown(req.url) + "'");
  if (auto err = ensure_global_init())
    return err;
  std::unique_ptr<curl_slist, slist_deleter> headers;
  auto add = [&](const std::string& line) {
    auto* next = curl_slist_append(headers.get(), line.c_str());
    if (next == nullptr)
      return false;
    static_cast<void>(headers.release());
    headers.reset(next);
    return true;
  };
  for (auto& [name, value] : req.headers)
    if (!add(name + ": " + value))
      return make_error(errc::internal, "out of memory");
  if (!add("Expect:"))
    return make_error(errc::internal, "out of memory");
  // One handle per thread, reset for each call: its connection cache keeps
  // connections (and TLS sessions) to the endpoints open between calls, so
  // a DynamoDB or SQS call costs a round trip, not a TCP and TLS handshake.
  // Callers are detached actors and the credential chain: one call at a
  // time per thread.
  thread_local std::unique_ptr<CURL, easy_deleter> h{curl_easy_init()};
  if (!h)
    return make_error(errc::internal, "curl_easy_init failed");
  curl_easy_reset(h.get());
  exchange ex;
  ex.max_response = req.max_response;
  char errbuf[CURL_ERROR_SIZE] = {0};
  CURLcode rc = CURLE_OK;
  set(h.get(), CURLOPT_ERRORBUFFER, errbuf, rc);
  set(h.get(), CURLOPT_URL, req.url.c_str(), rc);
  set(h.get(), CURLOPT_PATH_AS_IS, 1L, rc); // signed as sent
  set(h.get(), CURLOPT_HTTPHEADER, headers.get(), rc);
  set(h.get(), CURLOPT_NOSIGNAL, 1L, rc);
  set(h.get(), CURLOPT_TIMEOUT_MS, static_cast<long>(req.timeout.count()), rc);
  set(h.get(), CURLOPT_CONNECTTIMEOUT_MS,
      static_cast<long>(std::min(req.connect_timeout, req.timeout).count()),
      rc);
  set(h.get(), CURLOPT_FOLLOWLOCATION, 0L, rc);
  set(h.get(), CURLOPT_HEADERFUNCTION, &on_header, rc);
  set(h.get(), CURLOPT_HEADERDATA, static_cast<void*>(&ex), rc);
  set(h.get(), CURLOPT_WRITEFUNCTION, &on_body, rc);
  set(h.get(), CURLOPT_WRITEDATA, static_cast<void*>(&ex), rc);
  if (req.no_proxy)
    set(h.get(), CURLOPT_NOPROXY, "*", rc);
  if (req.method == "GET") {
    set(h.get(), CURLOPT_HTTPGET, 1L, rc);
  } else if (req.method == "HEAD") {
    set(h.get(), CURLOPT_NOBODY, 1L, rc);
  } else {
    set(h.get(), CURLOPT_CUSTOMREQUEST, req.method.c_str(), rc);
    set(h.get(), CURLOPT_POSTFIELDS, req.body.data(), rc);
    set(h.get(), CURLOPT_POSTFIELDSIZE_LARGE,
        static_cast<curl_off_t>(req.body.size()), rc);
  }
  if (rc != CURLE_OK)
    return make_error(errc::internal, std::string{"curl_easy_setopt: "}
                                        + curl_easy_strerror(rc));
  rc = curl_easy_perform(h.get());
  auto where = req.method + " " + shown(req.url) + ": ";
  if (ex.too_big)
    return make_error(errc::provider_error, where + "response larger than "
                                              + std::to_string(req.max_response)
                                              + " bytes");
  if (rc != CURLE_OK) {
    std::string detail = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc);
    if (rc == CURLE_OPERATION_TIMEDOUT)
      return make_error(errc::timeout, where + "no answer within "
                                         + std::to_string(req.timeout.count())
                                         + " ms (" + detail + ")");
    return make_error(errc::storage_unavailable,
                      where + "transfer failed (" + detail + ")");
  }
  rc = curl_easy_getinfo(h.get(), CURLINFO_RESPONSE_CODE, &ex.resp.status);
  if (rc != CURLE_OK)
    return make_error(errc::internal, std::string{"curl_easy_getinfo: "}
                                        + curl_easy_strerror(rc));
  return std::move(ex.resp);
}

caf::expected<http_request>
signed_request(const service_endpoint& ep, std::string method, std::string path,
               sigv4::pairs headers, std::string body,
               const sigv4::credentials& creds, int64_t now) {
  auto parts = sigv4::parse_endpoint(ep.url);
  if (!parts)
    return make_error(errc::invalid_argument,
                      "malformed endpoint '" + ep.url
                        + "' (want http(s)://host[:port])");
  sigv4::request req;
  req.method = method;
  req.path = parts->base_path + path;
  req.headers = std::move(headers);
  req.headers.emplace_back("Host", parts->host);
  req.payload_hash = sigv4::sha256_hex(body);
  sigv4::scope sc;
  sc.region = ep.region;
  sc.service = ep.service;
  sc.amz_date = sigv4::format_amz_date(now);
  sc.normalize_path = ep.service != "s3";
  auto signed_req = sigv4::sign_headers(std::move(req), creds, sc);
  http_request out;
  out.method = std::move(method);
  out.url = parts->scheme + "://" + parts->host + signed_req.path;
  out.headers = std::move(signed_req.headers);
  out.body = std::move(body);
  return out;
}

} // namespace vf::adapters::aws
