// vf/adapters/s3/client.cpp

#include "vf/adapters/s3/client.hpp"

#include <curl/curl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vf/adapters/common/text.hpp"
#include "vf/messages/errc.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

namespace vf::adapters::s3 {

namespace {

using messages::errc;
using messages::make_error;

// Error bodies are only read for their <Code> and <Message>.
constexpr size_t max_error_body = 16 * 1024;

constexpr std::string_view unsigned_payload = "UNSIGNED-PAYLOAD";

// curl_global_init is not thread-safe; do it once before any handle.
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

struct file_closer {
  void operator()(FILE* ptr) const {
    std::fclose(ptr);
  }
};

using easy_ptr = std::unique_ptr<CURL, easy_deleter>;
using slist_ptr = std::unique_ptr<curl_slist, slist_deleter>;
using file_ptr = std::unique_ptr<FILE, file_closer>;

std::string trim(std::string_view str) {
  while (!str.empty() && (str.front() == ' ' || str.front() == '\t'))
    str.remove_prefix(1);
  while (!str.empty()
         && (str.back() == ' ' || str.back() == '\t' || str.back() == '\r'
             || str.back() == '\n'))
    str.remove_suffix(1);
  return std::string{str};
}

std::string unquote(std::string_view etag) {
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"')
    etag = etag.substr(1, etag.size() - 2);
  return std::string{etag};
}

// Text between <tag> and </tag> in an S3 XML error body, if any.
std::string xml_field(const std::string& body, const std::string& tag) {
  auto open = "<" + tag + ">";
  auto start = body.find(open);
  if (start == std::string::npos)
    return {};
  start += open.size();
  auto end = body.find("</" + tag + ">", start);
  if (end == std::string::npos)
    return {};
  return body.substr(start, end - start);
}

/// State shared with libcurl's callbacks during one transfer.
struct transfer {
  /// Status of the last status line seen (skips `100 Continue`).
  long status = 0;
  object_info info;
  std::optional<uint64_t> content_length;
  /// Destination of a successful GET body; null for HEAD and PUT.
  FILE* out = nullptr;
  uint64_t written = 0;
  /// errno of a failed local write, 0 if none.
  int write_errno = 0;
  /// Body of a non-2xx answer, or of a 2xx one without `out`, capped.
  std::string error_body;
  size_t body_cap = max_error_body;
  /// Source of a PUT body and how many bytes of it to send from its
  /// current position.
  FILE* in = nullptr;
  uint64_t in_left = UINT64_MAX;
  int read_errno = 0;
};

bool is_success(long status) {
  return status >= 200 && status < 300;
}

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* tr = static_cast<transfer*>(user);
  std::string_view line{data, size * count};
  if (line.substr(0, 5) == "HTTP/") {
    // A new response (after 100 Continue or a retry): start over.
    auto sp = line.find(' ');
    tr->status = sp == std::string_view::npos
                   ? 0
                   : std::strtol(std::string{line.substr(sp + 1, 3)}.c_str(),
                                 nullptr, 10);
    tr->info = object_info{};
    tr->content_length.reset();
    return size * count;
  }
  auto colon = line.find(':');
  if (colon == std::string_view::npos)
    return size * count;
  auto value = trim(line.substr(colon + 1));
  if (common::istarts_with(line, "content-length:")) {
    char* end = nullptr;
    errno = 0;
    auto len = std::strtoull(value.c_str(), &end, 10);
    if (errno == 0 && end != value.c_str() && *end == '\0')
      tr->content_length = len;
  } else if (common::istarts_with(line, "etag:")) {
    tr->info.etag = unquote(value);
  } else if (common::istarts_with(line, "content-type:")) {
    tr->info.content_type = value;
  } else if (common::istarts_with(line, "last-modified:")) {
    tr->info.last_modified = value;
  }
  return size * count;
}

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* tr = static_cast<transfer*>(user);
  auto n = size * count;
  if (is_success(tr->status) && tr->out != nullptr) {
    if (std::fwrite(data, 1, n, tr->out) != n) {
      tr->write_errno = errno != 0 ? errno : EIO;
      return 0; // makes libcurl fail with CURLE_WRITE_ERROR
    }
    tr->written += n;
    return n;
  }
  if (tr->error_body.size() < tr->body_cap)
    tr->error_body.append(data,
                          std::min(n, tr->body_cap - tr->error_body.size()));
  return n;
}

size_t on_read(char* buf, size_t size, size_t count, void* user) {
  auto* tr = static_cast<transfer*>(user);
  auto want
    = static_cast<size_t>(std::min<uint64_t>(size * count, tr->in_left));
  if (want == 0)
    return 0;
  auto n = std::fread(buf, 1, want, tr->in);
  if (n == 0 && std::ferror(tr->in) != 0) {
    tr->read_errno = errno != 0 ? errno : EIO;
    return CURL_READFUNC_ABORT;
  }
  tr->in_left -= n;
  return n;
}

/// One request to make.
struct call {
  const char* method;
  std::string bucket;
  std::string key;
  int64_t timeout_ms;
  std::string content_type; // PUT and POST
  /// A presigned URL to use as is (no header signing); empty: sign.
  std::string url;
  /// Query parameters (signed), e.g. `uploadId` and `partNumber`.
  sigv4::pairs query = {};
  /// Body of a POST.
  std::string body = {};
  /// A request on the bucket itself (a listing): the key may be empty.
  bool bucket_level = false;
  /// What we are doing, for messages: `GET uploads/a.mp4`.
  std::string what() const {
    if (!url.empty()) // Never the query: it carries the signature.
      return std::string{"s3 "} + method + " " + url.substr(0, url.find('?'));
    return std::string{"s3 "} + method + " " + bucket + "/" + key;
  }
};

caf::error check_args(const client_config& cfg, const call& c,
                      std::optional<sigv4::endpoint_parts>& ep,
                      std::string& bucket) {
  auto t = target_of(cfg.endpoint, c.bucket, cfg.style);
  bucket = std::move(t.bucket);
  ep = sigv4::parse_endpoint(t.endpoint);
  if (!ep)
    return make_error(errc::invalid_argument,
                      c.what() + ": malformed endpoint '" + cfg.endpoint
                        + "' (want http(s)://host[:port])");
  if (c.bucket.empty() || (c.key.empty() && !c.bucket_level))
    return make_error(errc::invalid_argument,
                      c.what() + ": bucket and key must not be empty");
  if (c.timeout_ms <= 0)
    return make_error(errc::invalid_argument,
                      c.what() + ": timeout must be positive");
  return caf::none;
}

caf::error status_error(const call& c, long status, const std::string& body) {
  auto code = xml_field(body, "Code");
  auto text = xml_field(body, "Message");
  auto msg = c.what() + ": HTTP " + std::to_string(status);
  if (!code.empty())
    msg += " " + code;
  if (!text.empty())
    msg += " (" + text + ")";
  if (status == 404)
    return make_error(errc::not_found, std::move(msg));
  if (status == 403)
    return make_error(errc::forbidden, std::move(msg));
  if (status == 401)
    return make_error(errc::unauthorized, std::move(msg));
  if (status >= 500 || status == 429)
    return make_error(errc::storage_unavailable, std::move(msg));
  if (status >= 400)
    return make_error(errc::invalid_argument, std::move(msg));
  return make_error(errc::internal, msg + " (unexpected status)");
}

caf::error transport_error(const call& c, CURLcode rc, const char* errbuf,
                           const transfer& tr) {
  if (rc == CURLE_WRITE_ERROR && tr.write_errno != 0)
    return make_error(errc::internal, c.what() + ": cannot write file: "
                                        + std::strerror(tr.write_errno));
  if (rc == CURLE_ABORTED_BY_CALLBACK || rc == CURLE_READ_ERROR)
    if (tr.read_errno != 0)
      return make_error(errc::internal, c.what() + ": cannot read file: "
                                          + std::strerror(tr.read_errno));
  std::string detail = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc);
  std::string msg = c.what() + ": ";
  switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
      msg += "timed out after " + std::to_string(c.timeout_ms) + " ms";
      break;
    case CURLE_COULDNT_CONNECT:
      msg += "connection refused";
      break;
    case CURLE_COULDNT_RESOLVE_HOST:
      msg += "cannot resolve host";
      break;
    default:
      msg += "transfer failed";
  }
  msg += " (" + detail + ")";
  return make_error(errc::storage_unavailable, std::move(msg));
}

// Sets one libcurl option, remembering the first failure.
template <class T>
void set(CURL* h, CURLoption opt, T value, CURLcode& rc) {
  if (rc == CURLE_OK)
    rc = curl_easy_setopt(h, opt, value);
}

/// Signs and performs one request; fills `tr`. `upload_size` is used by PUT.
caf::error perform(const client_config& cfg, const call& c, transfer& tr,
                   uint64_t upload_size = 0) {
  std::optional<sigv4::endpoint_parts> ep;
  std::string bucket; // Empty with virtual-hosted addressing.
  if (!c.url.empty()) {
    auto scheme_end = c.url.find("://");
    if (scheme_end == std::string::npos
        || (c.url.compare(0, 7, "http://") != 0
            && c.url.compare(0, 8, "https://") != 0)
        || c.url.find('/', scheme_end + 3) == std::string::npos)
      return make_error(errc::invalid_argument,
                        c.what() + ": not an http(s) URL of an object");
    if (c.timeout_ms <= 0)
      return make_error(errc::invalid_argument,
                        c.what() + ": timeout must be positive");
  } else if (auto err = check_args(cfg, c, ep, bucket)) {
    return err;
  }
  if (auto err = ensure_global_init())
    return err;
  slist_ptr headers;
  std::string url = c.url; // A presigned URL carries its signature.
  if (url.empty()) {
    sigv4::request req;
    req.method = c.method;
    req.path = sigv4::object_path(*ep, bucket, c.key);
    // The bucket itself is `/bucket` path-style (no trailing slash, which
    // s3rver does not sign) and `/` virtual-hosted.
    if (c.key.empty() && !bucket.empty())
      req.path.pop_back();
    req.query = c.query;
    req.headers.emplace_back("Host", ep->host);
    // S3 requires the payload hash header on header-signed requests.
    req.headers.emplace_back("x-amz-content-sha256",
                             std::string{unsigned_payload});
    if (!c.content_type.empty())
      req.headers.emplace_back("Content-Type", c.content_type);
    req.payload_hash = std::string{unsigned_payload};
    sigv4::scope sc;
    sc.region = cfg.region;
    sc.service = "s3";
    sc.normalize_path = false;
    auto now = std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
    sc.amz_date = sigv4::format_amz_date(now);
    // No keys now (temporary credentials that cannot be fetched) is a
    // passing condition: the caller tries again, nothing is refused for
    // good (an event would be dropped, a job dead-lettered).
    auto keys = keys_of(cfg);
    if (!keys)
      return make_error(
        errc::storage_unavailable,
        c.what() + ": no credentials: " + messages::message_of(keys.error()));
    auto signed_req = sigv4::sign_headers(std::move(req), *keys, sc);
    for (auto& [name, value] : signed_req.headers) {
      auto line = name + ": " + value;
      auto* next = curl_slist_append(headers.get(), line.c_str());
      if (next == nullptr)
        return make_error(errc::internal, c.what() + ": out of memory");
      static_cast<void>(headers.release());
      headers.reset(next);
    }
    url = ep->scheme + "://" + ep->host + signed_req.path;
    if (!signed_req.query.empty())
      url += "?" + sigv4::encode_query(signed_req.query);
  } else if (!c.content_type.empty()) {
    // A presigned URL signs only the host: the type goes along unsigned.
    auto line = "Content-Type: " + c.content_type;
    auto* next = curl_slist_append(headers.get(), line.c_str());
    if (next == nullptr)
      return make_error(errc::internal, c.what() + ": out of memory");
    static_cast<void>(headers.release());
    headers.reset(next);
  }
  // No `Expect: 100-continue` round trip before PUT bodies.
  if (auto* next = curl_slist_append(headers.get(), "Expect:")) {
    static_cast<void>(headers.release());
    headers.reset(next);
  } else {
    return make_error(errc::internal, c.what() + ": out of memory");
  }
  easy_ptr h{curl_easy_init()};
  if (!h)
    return make_error(errc::internal, c.what() + ": curl_easy_init failed");
  char errbuf[CURL_ERROR_SIZE] = {0};
  CURLcode rc = CURLE_OK;
  set(h.get(), CURLOPT_ERRORBUFFER, errbuf, rc);
  set(h.get(), CURLOPT_URL, url.c_str(), rc);
  // The key is signed as sent: no dot-segment removal by libcurl.
  set(h.get(), CURLOPT_PATH_AS_IS, 1L, rc);
  set(h.get(), CURLOPT_HTTPHEADER, headers.get(), rc);
  set(h.get(), CURLOPT_NOSIGNAL, 1L, rc);
  set(h.get(), CURLOPT_TIMEOUT_MS, static_cast<long>(c.timeout_ms), rc);
  set(h.get(), CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(c.timeout_ms), rc);
  set(h.get(), CURLOPT_FOLLOWLOCATION, 0L, rc);
  set(h.get(), CURLOPT_HEADERFUNCTION, &on_header, rc);
  set(h.get(), CURLOPT_HEADERDATA, static_cast<void*>(&tr), rc);
  set(h.get(), CURLOPT_WRITEFUNCTION, &on_body, rc);
  set(h.get(), CURLOPT_WRITEDATA, static_cast<void*>(&tr), rc);
  if (std::strcmp(c.method, "HEAD") == 0) {
    set(h.get(), CURLOPT_NOBODY, 1L, rc);
  } else if (std::strcmp(c.method, "POST") == 0) {
    set(h.get(), CURLOPT_POST, 1L, rc);
    set(h.get(), CURLOPT_POSTFIELDS, c.body.data(), rc);
    set(h.get(), CURLOPT_POSTFIELDSIZE_LARGE,
        static_cast<curl_off_t>(c.body.size()), rc);
  } else if (std::strcmp(c.method, "DELETE") == 0) {
    set(h.get(), CURLOPT_CUSTOMREQUEST, "DELETE", rc);
  } else if (std::strcmp(c.method, "PUT") == 0) {
    set(h.get(), CURLOPT_UPLOAD, 1L, rc);
    set(h.get(), CURLOPT_READFUNCTION, &on_read, rc);
    set(h.get(), CURLOPT_READDATA, static_cast<void*>(&tr), rc);
    set(h.get(), CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(upload_size),
        rc);
  } else {
    set(h.get(), CURLOPT_HTTPGET, 1L, rc);
  }
  if (rc != CURLE_OK)
    return make_error(errc::internal, c.what() + ": curl_easy_setopt: "
                                        + curl_easy_strerror(rc));
  rc = curl_easy_perform(h.get());
  if (rc != CURLE_OK)
    return transport_error(c, rc, errbuf, tr);
  long status = 0;
  rc = curl_easy_getinfo(h.get(), CURLINFO_RESPONSE_CODE, &status);
  if (rc != CURLE_OK)
    return make_error(errc::internal, c.what() + ": curl_easy_getinfo: "
                                        + curl_easy_strerror(rc));
  tr.status = status;
  if (!is_success(status))
    return status_error(c, status, tr.error_body);
  return caf::none;
}

call make_call(const char* method, std::string_view bucket,
               std::string_view key, int64_t timeout_ms) {
  call c{
    method, std::string{bucket}, std::string{key}, timeout_ms, {}, {}, {}, {},
    false};
  return c;
}

} // namespace

caf::expected<object_info> head_object(const client_config& cfg,
                                       std::string_view bucket,
                                       std::string_view key,
                                       int64_t timeout_ms) {
  auto c = make_call("HEAD", bucket, key, timeout_ms);
  transfer tr;
  if (auto err = perform(cfg, c, tr))
    return err;
  tr.info.size = tr.content_length.value_or(0);
  return tr.info;
}

namespace {

/// Runs the GET `c` into `dest_path` through a temporary file.
caf::expected<object_info> download(const client_config& cfg, const call& c,
                                    const std::string& dest_path) {
  if (dest_path.empty())
    return make_error(errc::invalid_argument,
                      c.what() + ": destination path is empty");
  // A unique temporary name next to the destination, so the final rename
  // stays on one file system and never exposes a partial object.
  std::string tmp = dest_path + ".part.XXXXXX";
  int fd = ::mkstemp(tmp.data());
  if (fd < 0)
    return make_error(errc::internal,
                      c.what() + ": cannot create a temporary file next to "
                        + dest_path + ": " + std::strerror(errno));
  file_ptr out{::fdopen(fd, "wb")};
  if (!out) {
    auto err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return make_error(errc::internal,
                      c.what() + ": fdopen: " + std::strerror(err));
  }
  transfer tr;
  tr.out = out.get();
  auto err = perform(cfg, c, tr);
  auto* raw = out.release();
  if (std::fclose(raw) != 0 && !err)
    err = make_error(errc::internal, c.what() + ": cannot write " + tmp + ": "
                                       + std::strerror(errno));
  if (!err && tr.content_length && *tr.content_length != tr.written)
    err = make_error(errc::storage_unavailable,
                     c.what() + ": got " + std::to_string(tr.written) + " of "
                       + std::to_string(*tr.content_length) + " bytes");
  if (!err && std::rename(tmp.c_str(), dest_path.c_str()) != 0)
    err
      = make_error(errc::internal, c.what() + ": cannot rename to " + dest_path
                                     + ": " + std::strerror(errno));
  if (err) {
    ::unlink(tmp.c_str());
    return err;
  }
  tr.info.size = tr.written;
  return tr.info;
}

} // namespace

caf::expected<object_info> get_object_to_file(const client_config& cfg,
                                              std::string_view bucket,
                                              std::string_view key,
                                              const std::string& dest_path,
                                              int64_t timeout_ms) {
  return download(cfg, make_call("GET", bucket, key, timeout_ms), dest_path);
}

caf::expected<object_info> get_url_to_file(const std::string& url,
                                           const std::string& dest_path,
                                           int64_t timeout_ms) {
  auto c = make_call("GET", "", "", timeout_ms);
  c.url = url;
  return download(client_config{}, c, dest_path);
}

namespace {

constexpr uint64_t min_part_size = uint64_t{5} << 20;
constexpr uint64_t max_parts = 10000;

/// Escapes the five XML special characters.
std::string xml_escape(std::string_view str) {
  std::string out;
  out.reserve(str.size());
  for (auto ch : str) {
    switch (ch) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out += ch;
    }
  }
  return out;
}

/// An `ETag` element's value without its quotes (plain or as `&quot;`).
std::string etag_field(const std::string& xml) {
  auto etag = unquote(xml_field(xml, "ETag"));
  if (etag.rfind("&quot;", 0) == 0 && etag.size() >= 12)
    etag = etag.substr(6, etag.size() - 12);
  return etag;
}

/// One `<Part>` of a CompleteMultipartUpload body.
std::string part_xml(const std::string& number, const std::string& etag) {
  return "<Part><PartNumber>" + xml_escape(number) + "</PartNumber><ETag>\""
         + xml_escape(etag) + "\"</ETag></Part>";
}

/// CompleteMultipartUpload of upload `upload_id` of `c`'s object with
/// `parts` (`<Part>` elements): the object's ETag. S3 may answer 200 and
/// still fail the completion in the body.
caf::expected<std::string> send_complete(const client_config& cfg,
                                         const call& c,
                                         const std::string& upload_id,
                                         const std::string& parts) {
  auto complete = make_call("POST", c.bucket, c.key, c.timeout_ms);
  complete.query = {{"uploadId", upload_id}};
  complete.content_type = "application/xml";
  complete.body = "<CompleteMultipartUpload>" + parts
                  + "</CompleteMultipartUpload>";
  transfer tr;
  if (auto err = perform(cfg, complete, tr))
    return err;
  if (tr.error_body.find("<Error>") != std::string::npos)
    return make_error(errc::storage_unavailable,
                      c.what() + ": CompleteMultipartUpload failed: "
                        + xml_field(tr.error_body, "Code") + " ("
                        + xml_field(tr.error_body, "Message") + ")");
  return etag_field(tr.error_body);
}

/// Tells S3 to drop the parts of an upload that will not complete (parts
/// are stored and billed until then). Best effort: a failure only leaves
/// what a bucket lifecycle rule cleans up.
void abort_upload(const client_config& cfg, const call& c,
                  const std::string& upload_id) {
  auto del = make_call("DELETE", c.bucket, c.key, c.timeout_ms);
  del.query = {{"uploadId", upload_id}};
  transfer tr;
  static_cast<void>(perform(cfg, del, tr));
}

/// Uploads `size` bytes of `in` as the parts of a multipart upload.
caf::expected<object_info> upload_parts(const client_config& cfg, const call& c,
                                        FILE* in, uint64_t size) {
  auto part_size = std::max(cfg.part_size, min_part_size);
  if ((size + part_size - 1) / part_size > max_parts)
    part_size = (size + max_parts - 1) / max_parts;
  // CreateMultipartUpload: the object's type is given here, once.
  auto create = make_call("POST", c.bucket, c.key, c.timeout_ms);
  create.query = {{"uploads", ""}};
  create.content_type = c.content_type;
  transfer created;
  if (auto err = perform(cfg, create, created))
    return err;
  auto upload_id = xml_field(created.error_body, "UploadId");
  if (upload_id.empty())
    return make_error(errc::storage_unavailable,
                      c.what()
                        + ": CreateMultipartUpload answered no "
                          "UploadId");
  std::string done;
  uint64_t offset = 0;
  for (uint64_t number = 1; offset < size; ++number) {
    auto len = std::min(part_size, size - offset);
    auto part = make_call("PUT", c.bucket, c.key, c.timeout_ms);
    part.query
      = {{"partNumber", std::to_string(number)}, {"uploadId", upload_id}};
    caf::error err;
    std::string etag;
    // A part is retried on transient failures: one lost connection should
    // not throw away the parts already sent.
    for (int attempt = 1; attempt <= 3; ++attempt) {
      if (std::fseek(in, static_cast<long>(offset), SEEK_SET) != 0) {
        err = make_error(errc::internal,
                         c.what() + ": cannot seek: " + std::strerror(errno));
        break;
      }
      transfer tr;
      tr.in = in;
      tr.in_left = len;
      err = perform(cfg, part, tr, len);
      if (!err) {
        etag = tr.info.etag;
        break;
      }
      if (messages::errc_of(err) != errc::storage_unavailable)
        break;
    }
    if (!err && etag.empty())
      err = make_error(errc::storage_unavailable,
                       c.what() + ": part " + std::to_string(number)
                         + " came back without an ETag");
    if (err) {
      abort_upload(cfg, c, upload_id);
      return err;
    }
    done += part_xml(std::to_string(number), etag);
    offset += len;
  }
  auto etag = send_complete(cfg, c, upload_id, done);
  if (!etag) {
    abort_upload(cfg, c, upload_id);
    return std::move(etag.error());
  }
  object_info info;
  info.size = size;
  info.etag = std::move(*etag);
  return info;
}

} // namespace

caf::expected<std::string>
create_multipart_upload(const client_config& cfg, std::string_view bucket,
                        std::string_view key, const std::string& content_type,
                        int64_t timeout_ms) {
  if (auto err = ensure_global_init())
    return err;
  auto create = make_call("POST", bucket, key, timeout_ms);
  create.query = {{"uploads", ""}};
  create.content_type = content_type;
  transfer tr;
  if (auto err = perform(cfg, create, tr))
    return err;
  auto id = xml_field(tr.error_body, "UploadId");
  if (id.empty())
    return make_error(errc::storage_unavailable,
                      create.what() + ": CreateMultipartUpload answered no "
                                      "UploadId");
  return id;
}

caf::expected<object_info> complete_multipart_upload(
  const client_config& cfg, std::string_view bucket, std::string_view key,
  const std::string& upload_id,
  const std::vector<std::pair<uint32_t, std::string>>& given,
  int64_t timeout_ms) {
  if (auto err = ensure_global_init())
    return err;
  std::string parts;
  size_t count = 0;
  uint64_t size = 0;
  for (auto& [number, etag] : given) {
    parts += part_xml(std::to_string(number), etag);
    ++count;
  }
  // Else every part stored, by ListParts pages.
  std::string marker = "0";
  while (given.empty()) {
    auto list = make_call("GET", bucket, key, timeout_ms);
    list.query = {{"part-number-marker", marker}, {"uploadId", upload_id}};
    transfer tr;
    if (auto err = perform(cfg, list, tr))
      return err;
    auto& xml = tr.error_body;
    for (size_t at = xml.find("<Part>"); at != std::string::npos;
         at = xml.find("<Part>", at + 6)) {
      auto end = xml.find("</Part>", at);
      if (end == std::string::npos)
        break;
      auto one = xml.substr(at, end - at);
      size += std::strtoull(xml_field(one, "Size").c_str(), nullptr, 10);
      parts += part_xml(xml_field(one, "PartNumber"), etag_field(one));
      ++count;
    }
    if (xml_field(xml, "IsTruncated") != "true")
      break;
    auto next = xml_field(xml, "NextPartNumberMarker");
    if (next.empty() || next == marker)
      break;
    marker = next;
  }
  if (count == 0)
    return make_error(errc::invalid_argument,
                      "no part of the upload has been stored yet");
  auto etag = send_complete(cfg, make_call("POST", bucket, key, timeout_ms),
                            upload_id, parts);
  if (!etag)
    return std::move(etag.error());
  object_info info;
  info.size = size;
  info.etag = std::move(*etag);
  return info;
}

caf::expected<bool>
abort_multipart_upload(const client_config& cfg, std::string_view bucket,
                       std::string_view key, const std::string& upload_id,
                       int64_t timeout_ms) {
  if (auto err = ensure_global_init())
    return err;
  auto del = make_call("DELETE", bucket, key, timeout_ms);
  del.query = {{"uploadId", upload_id}};
  transfer tr;
  if (auto err = perform(cfg, del, tr))
    return err;
  return true;
}

namespace {

/// Runs the PUT `c` with the file `src_path` as its body.
caf::expected<object_info> upload(const client_config& cfg, const call& c,
                                  const std::string& src_path) {
  file_ptr in{std::fopen(src_path.c_str(), "rb")};
  if (!in)
    return make_error(errc::invalid_argument, c.what() + ": cannot open "
                                                + src_path + ": "
                                                + std::strerror(errno));
  struct stat st {};
  if (::fstat(::fileno(in.get()), &st) != 0)
    return make_error(errc::invalid_argument, c.what() + ": cannot stat "
                                                + src_path + ": "
                                                + std::strerror(errno));
  if (!S_ISREG(st.st_mode))
    return make_error(errc::invalid_argument,
                      c.what() + ": " + src_path + " is not a regular file");
  auto size = static_cast<uint64_t>(st.st_size);
  if (c.url.empty() && cfg.multipart_threshold > 0
      && size > cfg.multipart_threshold)
    return upload_parts(cfg, c, in.get(), size);
  transfer tr;
  tr.in = in.get();
  if (auto err = perform(cfg, c, tr, size))
    return err;
  object_info info;
  info.size = size;
  info.etag = tr.info.etag;
  return info;
}

} // namespace

caf::expected<object_info>
put_object_from_file(const client_config& cfg, std::string_view bucket,
                     std::string_view key, const std::string& src_path,
                     int64_t timeout_ms, std::string_view content_type) {
  auto c = make_call("PUT", bucket, key, timeout_ms);
  c.content_type = std::string{content_type};
  return upload(cfg, c, src_path);
}

caf::expected<object_info> put_file_to_url(const std::string& url,
                                           const std::string& src_path,
                                           int64_t timeout_ms,
                                           std::string_view content_type) {
  auto c = make_call("PUT", "", "", timeout_ms);
  c.url = url;
  c.content_type = std::string{content_type};
  return upload(client_config{}, c, src_path);
}

std::optional<addressing> addressing_for(std::string_view mode,
                                         std::string_view endpoint,
                                         std::string_view bucket) {
  if (mode == "path")
    return addressing::path;
  if (mode == "virtual")
    return addressing::virtual_hosted;
  if (mode != "auto")
    return std::nullopt;
  auto ep = sigv4::parse_endpoint(endpoint);
  if (!ep)
    return addressing::path;
  auto host = std::string_view{ep->host};
  host = host.substr(0, host.rfind(':') == std::string_view::npos
                            || host.back() == ']'
                          ? host.size()
                          : host.rfind(':'));
  constexpr std::string_view aws = ".amazonaws.com";
  bool on_aws
    = host.size() > aws.size() && host.substr(host.size() - aws.size()) == aws;
  bool dns_label
    = !bucket.empty() && bucket.size() <= 63
      && bucket.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-")
           == std::string_view::npos
      && bucket.front() != '-' && bucket.back() != '-';
  return on_aws && dns_label ? addressing::virtual_hosted : addressing::path;
}

target target_of(const std::string& endpoint, const std::string& bucket,
                 addressing style) {
  if (style == addressing::path || bucket.empty())
    return {endpoint, bucket};
  auto ep = sigv4::parse_endpoint(endpoint);
  if (!ep)
    return {endpoint, bucket};
  return {ep->scheme + "://" + bucket + "." + ep->host + ep->base_path, {}};
}

caf::expected<sigv4::credentials> keys_of(const client_config& cfg) {
  if (cfg.keys)
    return cfg.keys();
  return cfg.creds;
}

namespace {

/// Replaces the XML entities S3 uses in a listing's text.
std::string xml_unescape(std::string_view str) {
  std::string out;
  out.reserve(str.size());
  for (size_t i = 0; i < str.size(); ++i) {
    if (str[i] != '&') {
      out += str[i];
      continue;
    }
    auto end = str.find(';', i);
    if (end == std::string_view::npos) {
      out += str.substr(i);
      break;
    }
    auto name = str.substr(i + 1, end - i - 1);
    if (name == "amp") {
      out += '&';
    } else if (name == "lt") {
      out += '<';
    } else if (name == "gt") {
      out += '>';
    } else if (name == "quot") {
      out += '"';
    } else if (name == "apos") {
      out += '\'';
    } else if (name.size() > 1 && name[0] == '#') {
      bool hex = name.size() > 2 && (name[1] == 'x' || name[1] == 'X');
      auto code = std::strtoul(std::string{name.substr(hex ? 2 : 1)}.c_str(),
                               nullptr, hex ? 16 : 10);
      // Keys are UTF-8; S3 escapes only control characters this way.
      if (code > 0 && code < 0x80)
        out += static_cast<char>(code);
      else
        out += str.substr(i, end - i + 1);
    } else {
      out += str.substr(i, end - i + 1);
    }
    i = end;
  }
  return out;
}

} // namespace

caf::expected<bool> delete_object(const client_config& cfg,
                                  std::string_view bucket, std::string_view key,
                                  int64_t timeout_ms) {
  auto c = make_call("DELETE", bucket, key, timeout_ms);
  transfer tr;
  auto err = perform(cfg, c, tr);
  // S3 answers 204 for a key it does not have; others may say 404.
  if (err && messages::errc_of(err) != errc::not_found)
    return err;
  return true;
}

caf::expected<std::vector<std::string>>
list_keys(const client_config& cfg, std::string_view bucket,
          std::string_view prefix, int64_t timeout_ms, size_t limit) {
  std::vector<std::string> keys;
  std::string token;
  for (;;) {
    auto c = make_call("GET", bucket, "", timeout_ms);
    c.bucket_level = true;
    c.query = {
      {"list-type", "2"}, {"max-keys", "200"}, {"prefix", std::string{prefix}}};
    if (!token.empty())
      c.query.emplace_back("continuation-token", token);
    transfer tr;
    tr.body_cap = size_t{1} << 20;
    if (auto err = perform(cfg, c, tr))
      return err;
    auto& body = tr.error_body;
    if (body.find("<ListBucketResult") == std::string::npos)
      return make_error(errc::storage_unavailable,
                        c.what() + ": the listing is not a ListBucketResult");
    for (size_t pos = 0;;) {
      auto open = body.find("<Key>", pos);
      if (open == std::string::npos)
        break;
      auto close = body.find("</Key>", open);
      if (close == std::string::npos)
        break;
      auto key = xml_unescape(
        std::string_view{body}.substr(open + 5, close - open - 5));
      // Only keys under the prefix, whatever the server sends.
      if (key.compare(0, prefix.size(), prefix) == 0)
        keys.push_back(std::move(key));
      pos = close;
      if (keys.size() >= limit)
        return keys;
    }
    if (xml_field(body, "IsTruncated") != "true")
      return keys;
    token = xml_unescape(xml_field(body, "NextContinuationToken"));
    if (token.empty())
      return make_error(errc::storage_unavailable,
                        c.what()
                          + ": a truncated listing without a "
                            "continuation token");
  }
}

caf::expected<uint64_t> delete_prefix(const client_config& cfg,
                                      std::string_view bucket,
                                      std::string_view prefix,
                                      int64_t timeout_ms) {
  // A folder, never the bucket: `outputs/<job>/`, not `outputs/<job>`
  // (which would take `outputs/<job>0/` along) and not `` or `/`.
  if (prefix.size() < 2 || prefix.back() != '/' || prefix.front() == '/'
      || prefix.find("//") != std::string_view::npos)
    return make_error(errc::invalid_argument,
                      "s3 delete of prefix '" + std::string{prefix}
                        + "': must name a folder (end in '/')");
  uint64_t deleted = 0;
  std::vector<std::string> last_round;
  // Listed and deleted in rounds: a prefix that grows meanwhile still ends
  // empty, and each round is bounded.
  for (;;) {
    auto keys = list_keys(cfg, bucket, prefix, timeout_ms, 200);
    if (!keys)
      return std::move(keys.error());
    if (keys->empty())
      return deleted;
    // S3 lists strongly consistently: a key deleted a round ago that is
    // listed again means the deletes do not take (a server that ignores
    // them); stop rather than loop.
    for (auto& key : *keys)
      if (std::find(last_round.begin(), last_round.end(), key)
          != last_round.end())
        return make_error(errc::storage_unavailable,
                          "s3 delete of " + std::string{bucket} + "/"
                            + std::string{prefix} + ": " + key
                            + " is still listed after its delete");
    last_round = *keys;
    for (auto& key : *keys) {
      auto res = delete_object(cfg, bucket, key, timeout_ms);
      if (!res)
        return std::move(res.error());
      ++deleted;
    }
  }
}

} // namespace vf::adapters::s3
