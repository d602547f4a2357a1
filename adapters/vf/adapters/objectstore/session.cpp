// vf/adapters/objectstore/session.cpp

#include "vf/adapters/objectstore/session.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "caf/error.hpp"

#include "vf/adapters/common/http_framing.hpp"
#include "vf/adapters/common/text.hpp"
#include "vf/adapters/objectstore/aws_chunked.hpp"
#include "vf/adapters/objectstore/byte_range.hpp"
#include "vf/adapters/objectstore/list_objects.hpp"
#include "vf/adapters/objectstore/md5_hasher.hpp"
#include "vf/adapters/objectstore/object_deleter.hpp"
#include "vf/adapters/objectstore/object_paths.hpp"
#include "vf/messages/errc.hpp"
#include "vf/messages/object_event.hpp"

#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <limits>
#include <string_view>

namespace vf::adapters::objectstore {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr std::string_view continue_response = "HTTP/1.1 100 Continue\r\n\r\n";

// S3 sub-resources (query parameters that turn an object request into a
// different operation). Serving the plain object instead would silently do
// the wrong thing, so they are refused.
// (`uploads`, `uploadId` and `partNumber` are the multipart API.)
constexpr std::array<std::string_view, 17> unsupported_subresources{
  "acl",       "attributes", "cors",         "delete",   "legal-hold",
  "lifecycle", "logging",    "notification", "policy",   "restore",
  "retention", "select",     "tagging",      "torrent",  "versionId",
  "versioning", "website",
};

/// Unix ms now (upload records).
int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

s3_error no_such_upload() {
  return {http::status::not_found, "NoSuchUpload",
          "The specified upload does not exist. The upload ID may be "
          "invalid, or the upload may have been aborted or completed."};
}

bool is_http_parse_error(const beast::error_code& ec) {
  return ec.category() == make_error_code(http::error::bad_method).category()
         && ec != http::error::end_of_stream
         && ec != http::error::partial_message;
}

using common::iequals;

// RFC 7231 IMF-fixdate, spelled out rather than strftime'd so that the
// process locale cannot change it.
std::string http_date(int64_t unix_seconds) {
  static constexpr const char* days[]
    = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* months[]
    = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  auto t = static_cast<time_t>(unix_seconds);
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%s, %02d %s %04d %02d:%02d:%02d GMT",
                days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
                tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

s3_error storage_error(const fs_error& err) {
  if (is_out_of_space(err))
    return {http::status::insufficient_storage, "InsufficientStorage",
            "The store has no space left for this object"};
  if (is_path_conflict(err))
    return {http::status::conflict, "ObjectPathConflict",
            "The key clashes with an existing object: a prefix of it is an "
            "object, or it is a prefix of other objects"};
  return {http::status::internal_server_error, "InternalError",
          "We encountered an internal error storing the object. Please try "
          "again."};
}

template <class Message>
void set_object_headers(Message& msg, const object_meta& meta, int64_t mtime) {
  msg.set(http::field::etag, "\"" + meta.etag + "\"");
  if (!meta.version.empty())
    msg.set("x-amz-version-id", meta.version);
  msg.set(http::field::last_modified, http_date(mtime));
  msg.set(http::field::content_type, meta.content_type.empty()
                                       ? std::string{"binary/octet-stream"}
                                       : meta.content_type);
  msg.set(http::field::accept_ranges, "bytes");
  // A browser takes the stored type as it is, never a sniffed one.
  msg.set("X-Content-Type-Options", "nosniff");
}

/// Sends `xs...` to `dest` from `worker`'s bridge. The request's deadline is
/// kept by `worker.deadlines`, not CAF's clock: both of its handlers must
/// settle the returned handle's id first.
template <class Dest, class... Ts>
auto ask(io_worker& worker, const Dest& dest, Ts&&... xs) {
  auto h = worker.bridge->self()->request(dest, caf::infinite,
                                          std::forward<Ts>(xs)...);
  worker.deadlines->track(h.id());
  return h;
}

} // namespace

session::session(store_context& ctx, io_worker& worker, tcp::socket sock,
                 common::connection_gate::slot slot)
  : ctx_(ctx), worker_(worker), stream_(std::move(sock)),
    // Bounds what a client can make us buffer: a full header (16 KiB) plus
    // one read of body bytes.
    buf_(max_header_bytes + body_chunk_bytes), slot_(std::move(slot)) {
  ++ctx_.connections;
}

session::~session() {
  worker_.sessions.erase(this);
  --ctx_.connections;
}

void session::start() {
  worker_.sessions.insert(this);
  read_header();
}

void session::abort() {
  close();
  // May destroy this session once the function returns.
  auto keep = std::move(hold_);
}

// -- request dispatch --------------------------------------------------------

void session::read_header() {
  if (closed_)
    return;
  req_ = request_state{};
  key_hold_.reset();
  body_.reset();
  upload_.reset();
  pending_get_.reset();
  header_.emplace();
  header_->header_limit(max_header_bytes);
  // Boost 1.74 compares Content-Length against an unset body limit as if it
  // were 0, so "no limit yet" must be the largest value. The real limit
  // applies once the request is authenticated (see handle_put).
  header_->body_limit(std::numeric_limits<uint64_t>::max());
  // One deadline for the whole header: a client dribbling bytes cannot keep
  // the connection forever (slowloris).
  stream_.expires_after(ctx_.config().header_timeout);
  scan_header();
}

void session::scan_header() {
  if (closed_)
    return;
  auto data = buf_.data();
  std::string_view text{static_cast<const char*>(data.data()), data.size()};
  if (auto n = common::header_block_size(text); n > 0) {
    if (auto err = common::check_framing(text.substr(0, n))) {
      req_.request_id = ctx_.next_request_id();
      req_.body_pending = true;
      return send_error(
        {static_cast<http::status>(err->status),
         err->status == 501 ? "NotImplemented" : "InvalidRequest",
         err->detail});
    }
    return parse_header();
  }
  auto room = std::min<size_t>(4096, buf_.max_size() - buf_.size());
  if (text.size() >= max_header_bytes || room == 0)
    return parse_header();
  stream_.async_read_some(
    buf_.prepare(room),
    [self = shared_from_this()](beast::error_code ec, size_t n) {
      if (self->closed_)
        return;
      if (ec)
        return self->close();
      self->buf_.commit(n);
      self->scan_header();
    });
}

void session::parse_header() {
  http::async_read_header(
    stream_, buf_, *header_,
    [self = shared_from_this()](beast::error_code ec, size_t) {
      self->on_header(ec);
    });
}

void session::on_header(beast::error_code ec) {
  if (ec) {
    if (closed_)
      return;
    req_.request_id = ctx_.next_request_id();
    req_.body_pending = true;
    if (ec == http::error::header_limit)
      return send_error({http::status::request_header_fields_too_large,
                         "RequestHeaderSectionTooLarge",
                         "Your request header section exceeds the maximum "
                         "allowed size of "
                           + std::to_string(max_header_bytes) + " bytes"});
    if (is_http_parse_error(ec))
      return send_error({http::status::bad_request, "BadRequest",
                         "Malformed HTTP request: " + ec.message()});
    // The peer closed, reset or went silent between requests: there is no
    // one to answer.
    return close();
  }
  auto& msg = header_->get();
  req_.method = msg.method();
  req_.method_name = std::string{msg.method_string()};
  req_.target = std::string{msg.target()};
  req_.http_version = msg.version();
  req_.keep_alive = msg.keep_alive();
  req_.body_pending = !header_->is_done();
  req_.request_id = ctx_.next_request_id();
  req_.cors_origin.clear();
  if (auto origin = msg[http::field::origin]; !origin.empty())
    for (auto& allowed : ctx_.config().cors_origins)
      if (origin == allowed)
        req_.cors_origin = allowed;
  switch (req_.method) {
    case http::verb::options:
      return handle_options();
    case http::verb::put:
      return handle_put();
    case http::verb::get:
    case http::verb::head:
      return handle_get();
    case http::verb::delete_:
      return handle_delete();
    case http::verb::post:
      return handle_post();
    default:
      if (auto err = parse_target();
          err && err->status == http::status::bad_request)
        return send_error(*err);
      return send_error({http::status::method_not_allowed, "MethodNotAllowed",
                         "The method " + req_.method_name
                           + " is not allowed against this resource; the "
                             "built-in store supports GET, HEAD, PUT, "
                             "DELETE and the multipart POSTs"});
  }
}

std::optional<s3_error> session::parse_target() {
  std::string_view target = req_.target;
  auto qmark = target.find('?');
  auto path = target.substr(0, qmark);
  auto query = qmark == std::string_view::npos ? std::string_view{}
                                               : target.substr(qmark + 1);
  req_.resource = std::string{path};
  req_.query = std::string{query};
  if (path.empty() || path.front() != '/')
    return s3_error{http::status::bad_request, "InvalidURI",
                    "Couldn't parse the specified URI: expected a "
                    "path-style target /<bucket>/<key>"};
  while (!query.empty()) {
    auto part = next_query_part(query);
    auto eq = part.find('=');
    auto name = sigv4::uri_decode(part.substr(0, eq), true);
    if (!name)
      return s3_error{http::status::bad_request, "InvalidURI",
                      "Couldn't parse the specified URI: malformed "
                      "percent-encoding in the query"};
    if (*name == messages::output_lease_parameter) {
      // Signed with the URL (checked by authenticate): the render lease an
      // output PUT belongs to. Once, and a plain number.
      uint64_t lease = 0;
      auto value = eq == std::string_view::npos ? std::string_view{}
                                                : part.substr(eq + 1);
      auto [end, ec] = std::from_chars(value.data(),
                                       value.data() + value.size(), lease);
      if (req_.lease != 0 || ec != std::errc{}
          || end != value.data() + value.size() || lease == 0)
        return s3_error{http::status::bad_request, "InvalidArgument",
                        "Malformed or repeated lease parameter"};
      req_.lease = lease;
    }
    for (auto sub : unsupported_subresources)
      if (*name == sub)
        return s3_error{http::status::not_implemented, "NotImplemented",
                        "The built-in store does not support the '" + *name
                          + "' sub-resource"};
  }
  auto rest = path.substr(1);
  auto slash = rest.find('/');
  auto bucket = sigv4::uri_decode(rest.substr(0, slash));
  auto key = sigv4::uri_decode(slash == std::string_view::npos
                                 ? std::string_view{}
                                 : rest.substr(slash + 1));
  if (!bucket || !key)
    return s3_error{http::status::bad_request, "InvalidURI",
                    "Couldn't parse the specified URI: malformed "
                    "percent-encoding in the path"};
  req_.bucket = std::move(*bucket);
  req_.key = std::move(*key);
  if (req_.bucket.empty())
    return s3_error{http::status::not_implemented, "NotImplemented",
                    "Listing buckets is not supported by the built-in store"};
  using bucket_op = request_state::bucket_op;
  auto has_param = [this](std::string_view name) {
    std::string_view rest = req_.query;
    while (!rest.empty()) {
      auto part = next_query_part(rest);
      if (part.substr(0, part.find('=')) == name)
        return true;
    }
    return false;
  };
  // The decoded value of the first `name` parameter (empty if it has none).
  auto param = [this](std::string_view name) -> std::optional<std::string> {
    std::string_view rest = req_.query;
    while (!rest.empty()) {
      auto part = next_query_part(rest);
      auto eq = part.find('=');
      if (part.substr(0, eq) != name)
        continue;
      if (eq == std::string_view::npos)
        return std::string{};
      auto value = sigv4::uri_decode(part.substr(eq + 1), true);
      return value ? *value : std::string{"\x01"}; // Never a valid value.
    }
    return std::nullopt;
  };
  using multipart_op = request_state::multipart_op;
  if (auto id = param("uploadId")) {
    if (req_.key.empty())
      return s3_error{http::status::not_implemented, "NotImplemented",
                      "Listing multipart uploads is not supported by the "
                      "built-in store"};
    req_.upload_id = std::move(*id);
    switch (req_.method) {
      case http::verb::put: {
        auto n = param("partNumber");
        uint32_t number = 0;
        auto [end, ec] = std::from_chars(
          n ? n->data() : nullptr, n ? n->data() + n->size() : nullptr,
          number);
        if (!n || ec != std::errc{} || end != n->data() + n->size()
            || number < 1 || number > max_part_number)
          return s3_error{http::status::bad_request, "InvalidArgument",
                          "Part number must be an integer between 1 and "
                            + std::to_string(max_part_number)
                            + ", inclusive"};
        req_.part_number = number;
        req_.multipart = multipart_op::part;
        break;
      }
      case http::verb::get:
        req_.multipart = multipart_op::list;
        break;
      case http::verb::post:
        req_.multipart = multipart_op::complete;
        break;
      case http::verb::delete_:
        req_.multipart = multipart_op::abort;
        break;
      default:
        return s3_error{http::status::method_not_allowed, "MethodNotAllowed",
                        "The method " + req_.method_name
                          + " is not allowed against a multipart upload"};
    }
    if (!is_valid_upload_id(req_.upload_id))
      return no_such_upload();
    return std::nullopt;
  }
  if (has_param("uploads")) {
    if (req_.key.empty())
      return s3_error{http::status::not_implemented, "NotImplemented",
                      "Listing multipart uploads is not supported by the "
                      "built-in store"};
    if (req_.method != http::verb::post)
      return s3_error{http::status::method_not_allowed, "MethodNotAllowed",
                      "Start a multipart upload with POST ?uploads"};
    req_.multipart = multipart_op::create;
    return std::nullopt;
  }
  if (has_param("partNumber"))
    return s3_error{http::status::not_implemented, "NotImplemented",
                    "The built-in store does not serve parts of objects "
                    "(partNumber without uploadId); use a Range"};
  if (req_.method == http::verb::post)
    return s3_error{http::status::method_not_allowed, "MethodNotAllowed",
                    "POST is allowed only to start (?uploads) or complete "
                    "(?uploadId=) a multipart upload"};
  if (req_.key.empty() && req_.method == http::verb::get
      && has_param("list-type")) {
    // ListObjectsV2; its parameters are read once it is authenticated.
    req_.on_bucket = bucket_op::list;
    return std::nullopt;
  }
  if (req_.key.empty() && req_.method == http::verb::get
      && has_param("location")) {
    req_.on_bucket = bucket_op::location;
    return std::nullopt;
  }
  if (req_.key.empty() && req_.method == http::verb::head
      && req_.query.empty()) {
    req_.on_bucket = bucket_op::head;
    return std::nullopt;
  }
  if (!req_.key.empty() && has_param("location"))
    return s3_error{http::status::not_implemented, "NotImplemented",
                    "The built-in store does not support the 'location' "
                    "sub-resource on objects"};
  if (req_.key.empty())
    return s3_error{http::status::not_implemented, "NotImplemented",
                    "Bucket operations are not supported by the built-in "
                    "store; address an object as /<bucket>/<key>"};
  return std::nullopt;
}

std::optional<s3_error> session::authenticate() {
  auto& msg = header_->get();
  sigv4::incoming in;
  in.method = req_.method_name;
  in.target = req_.target;
  for (auto& field : msg)
    in.headers.emplace_back(std::string{field.name_string()},
                            std::string{field.value()});
  auto lookup = [this](std::string_view access_key) {
    return ctx_.secret_for(access_key);
  };
  auto region = ctx_.config().region;
  auto now = ctx_.now();
  if (req_.target.find("X-Amz-Signature=") == std::string::npos
      && msg.find(http::field::authorization) != msg.end()) {
    // Signed with the node's keys in an Authorization header, as SDKs and
    // tools (boto3, the AWS CLI, mc) sign.
    std::string payload;
    sigv4::chunk_signing chunks;
    auto result = sigv4::verify_header_signed(in, lookup, region, now, &payload,
                                              900, &chunks);
    if (result != sigv4::verify_error::ok)
      return auth_error(result);
    if (payload == "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
        && req_.method == http::verb::put) {
      // aws-chunked: every chunk signed, checked as the body streams in.
      auto i = msg.find("x-amz-decoded-content-length");
      uint64_t n = 0;
      auto value = i == msg.end()
                     ? std::string_view{}
                     : std::string_view{i->value().data(), i->value().size()};
      auto [end, ec]
        = std::from_chars(value.data(), value.data() + value.size(), n);
      if (value.empty() || ec != std::errc{}
          || end != value.data() + value.size())
        return s3_error{http::status::length_required, "MissingContentLength",
                        "An aws-chunked upload must send its object size in "
                        "x-amz-decoded-content-length"};
      req_.decoded_length = n;
      req_.chunks = std::move(chunks);
      return std::nullopt;
    }
    if (payload.rfind("STREAMING-", 0) == 0)
      return s3_error{http::status::not_implemented, "NotImplemented",
                      "The built-in store takes aws-chunked bodies signed "
                      "per chunk (STREAMING-AWS4-HMAC-SHA256-PAYLOAD), not '"
                        + payload.substr(0, 64)
                        + "'; or send the body whole (signed or "
                          "UNSIGNED-PAYLOAD)"};
    if (payload != "UNSIGNED-PAYLOAD") {
      if (payload.size() != 64
          || payload.find_first_not_of("0123456789abcdef") != std::string::npos)
        return s3_error{http::status::bad_request, "InvalidArgument",
                        "x-amz-content-sha256 must be a lower-case hex "
                        "SHA-256 or UNSIGNED-PAYLOAD"};
      req_.signed_sha256 = std::move(payload);
    }
    return std::nullopt;
  }
  auto result = sigv4::verify_presigned(in, lookup, region, now);
  if (result == sigv4::verify_error::signature_mismatch
      && req_.method == http::verb::head) {
    // A HEAD reveals less than a GET of the same object, so a URL presigned
    // for GET may also be used for HEAD (workers check sizes that way).
    in.method = "GET";
    if (sigv4::verify_presigned(in, lookup, region, now)
        == sigv4::verify_error::ok)
      result = sigv4::verify_error::ok;
  }
  if (result == sigv4::verify_error::ok)
    return std::nullopt;
  if (result == sigv4::verify_error::missing_parameter
      && req_.target.find("X-Amz-Signature=") == std::string::npos)
    return s3_error{http::status::forbidden, "AccessDenied",
                    "Anonymous access is not allowed; use a presigned URL "
                    "or sign the request with the store's keys"};
  return auth_error(result);
}

std::optional<s3_error> session::check_object_request() {
  if (auto err = parse_target())
    return err;
  if (auto err = authenticate())
    return err;
  return check_object_address();
}

std::optional<s3_error> session::check_object_address() {
  if (!ctx_.has_bucket(req_.bucket))
    return s3_error{http::status::not_found, "NoSuchBucket",
                    "The specified bucket does not exist"};
  if (req_.on_bucket != request_state::bucket_op::none)
    return std::nullopt;
  if (auto why = check_key(req_.key))
    return s3_error{http::status::bad_request, "InvalidArgument",
                    "Invalid object key: " + *why};
  return std::nullopt;
}

// -- PUT ---------------------------------------------------------------------

void session::handle_put() {
  // Everything about the request is checked before a single body byte is
  // read: a refused upload costs the server nothing.
  if (auto err = check_object_request())
    return send_error(*err);
  auto& msg = header_->get();
  // CopyObject and UploadPartCopy: storing their (empty) body instead
  // would silently do the wrong thing.
  if (msg.find("x-amz-copy-source") != msg.end())
    return send_error({http::status::not_implemented, "NotImplemented",
                       "The built-in store does not copy objects "
                       "(x-amz-copy-source); upload the bytes instead"});
  auto max = ctx_.config().max_object_bytes;
  auto length = header_->content_length();
  if (!length && !header_->chunked())
    return send_error({http::status::length_required, "MissingContentLength",
                       "You must provide the Content-Length HTTP header (or "
                       "send the body with chunked transfer encoding)"});
  // An aws-chunked body is larger than its object: the object counts.
  std::optional<uint64_t> object_length;
  if (req_.chunks)
    object_length = req_.decoded_length;
  else if (length)
    object_length = *length;
  if (object_length && *object_length > max)
    return send_error({http::status::payload_too_large, "EntityTooLarge",
                       "Your proposed upload of "
                         + std::to_string(*object_length)
                         + " bytes exceeds the maximum allowed object size of "
                         + std::to_string(max) + " bytes"});
  if (auto i = msg.find(http::field::content_md5); i != msg.end()) {
    auto value = i->value();
    auto hex = content_md5_to_hex({value.data(), value.size()});
    if (!hex)
      return send_error({http::status::bad_request, "InvalidDigest",
                         "The Content-MD5 you specified is not valid"});
    req_.content_md5 = std::move(*hex);
  }
  if (auto i = msg.find(http::field::content_type); i != msg.end())
    req_.content_type = std::string{i->value()};
  auto& outputs = ctx_.config().outputs_prefix;
  req_.output = !outputs.empty() && req_.key.rfind(outputs, 0) == 0;
  if (req_.output) {
    // A worker node sends it, and users' browsers open it: the type comes
    // from the name (what the render makes), never from the sender.
    auto ends = [this](std::string_view ext) {
      return req_.key.size() > ext.size()
             && req_.key.compare(req_.key.size() - ext.size(), ext.size(),
                                 ext)
                  == 0;
    };
    req_.content_type = ends(".jpg")   ? "image/jpeg"
                        : ends(".mp4") ? "video/mp4"
                        : ends(".mov") ? "video/quicktime"
                                       : "application/octet-stream";
  }
  bool expect_continue = false;
  if (auto i = msg.find(http::field::expect); i != msg.end())
    expect_continue
      = iequals({i->value().data(), i->value().size()}, "100-continue");
  if (req_.multipart == request_state::multipart_op::part) {
    // A part is no upload of its own: the gate and the key hold are asked
    // when the parts are joined (CompleteMultipartUpload).
    if (req_.output)
      return send_error({http::status::bad_request, "InvalidRequest",
                         "Outputs are stored with single PUTs"});
    if (auto err = check_upload())
      return send_error(*err);
    if (object_length && *object_length > max_part_bytes)
      return send_error({http::status::payload_too_large, "EntityTooLarge",
                         "A part may have at most "
                           + std::to_string(max_part_bytes) + " bytes"});
    return store_put(expect_continue);
  }
  auto& gate = ctx_.config().gate;
  if (!gate)
    return store_put(expect_continue);
  // A job takes one upload, and only while it waits for it: a URL that is
  // still valid after the job finished or was cancelled must not replace
  // the object its result describes. Asked before any body byte is read.
  // One upload per key at a time, and none while a stored version still
  // waits for its announcement (after a crash, say): otherwise a retry
  // admitted while the job waited could replace the bytes the first
  // version's event has just started work on.
  key_hold_ = ctx_.try_hold_key(req_.bucket, req_.key);
  if (!key_hold_)
    return send_error({http::status::service_unavailable, "SlowDown",
                       "Another upload to this key is being stored or "
                       "announced; retry shortly"});
  admit_then([this, expect_continue](messages::object_ref prior) {
    if (!prior.version.empty())
      req_.retry_of = std::move(prior);
    store_put(expect_continue);
  });
}

void session::admit_then(std::function<void(messages::object_ref)> next) {
  auto& gate = ctx_.config().gate;
  if (!gate)
    return next(messages::object_ref{});
  hold_ = shared_from_this();
  std::weak_ptr<session> weak = hold_;
  auto h
    = ask(worker_, gate, atoms::admit_v, req_.bucket, req_.key, req_.lease);
  h.then(
    [weak, next, dl = worker_.deadlines.get(),
     id = h.id()](messages::object_ref& prior) {
      dl->settle(id);
      // `next` captures the session's `this`: only while it lives.
      if (auto self = weak.lock()) {
        self->hold_.reset();
        next(std::move(prior));
      }
    },
    [weak, dl = worker_.deadlines.get(), id = h.id()](caf::error& err) {
      dl->settle(id);
      if (auto self = weak.lock()) {
        self->hold_.reset();
        auto code = messages::errc_of(err);
        auto what = messages::message_of(err);
        if (code == messages::errc::conflict)
          self->send_error({http::status::conflict, "OperationAborted",
                            "This upload URL is closed: " + what});
        else if (code == messages::errc::not_found)
          self->send_error({http::status::forbidden, "AccessDenied",
                            "No job expects an upload to this key"});
        else if (code == messages::errc::forbidden)
          self->send_error({http::status::forbidden, "AccessDenied",
                            "This upload is not allowed: " + what});
        else
          self->send_error(
            {http::status::service_unavailable, "ServiceUnavailable",
             "Could not check the upload (" + what + "); please retry"});
      }
    });
}

void session::store_put(bool expect_continue) {
  auto max = ctx_.config().max_object_bytes;
  req_.version_id = ctx_.next_version();
  upload_ = std::make_unique<upload_file>(partial_dir(ctx_.config().data_dir)
                                          + "/" + req_.version_id + ".part");
  if (auto err = upload_->open()) {
    ctx_.log("objectstore: ERROR " + err->what + ": " + err->code.message());
    upload_.reset();
    return send_error(storage_error(*err));
  }
  chunk_.resize(body_chunk_bytes);
  start_rate_window();
  if (req_.multipart == request_state::multipart_op::part)
    metered_ = common::metered_upload{ctx_.config().meter, req_.bucket,
                                      req_.key, req_.part_number};
  else if (!req_.output)
    metered_ = common::metered_upload{ctx_.config().meter, req_.bucket,
                                      req_.key,
                                      header_->content_length().value_or(0)};
  body_.emplace(std::move(*header_));
  header_.reset();
  // Counts decoded chunk data too, so chunked uploads stop at the limit.
  body_->body_limit(max);
  if (req_.chunks) {
    // The framing of an aws-chunked body: about 90 bytes a chunk, chunks
    // of 8 KiB or more but the last. The decoder holds the object to its
    // announced size.
    body_->body_limit(max + max / 64 + 4096);
    chunked_ = std::make_unique<aws_chunked_decoder>(std::move(*req_.chunks),
                                                     req_.decoded_length);
    req_.chunks.reset(); // The secret goes with it.
  }
  if (expect_continue && req_.http_version >= 11 && !body_->is_done()) {
    stream_.expires_after(ctx_.config().io_timeout);
    asio::async_write(
      stream_, asio::buffer(continue_response.data(), continue_response.size()),
      [self = shared_from_this()](beast::error_code ec, size_t) {
        if (ec)
          self->fail_body(ec);
        else {
          // The window starts once the client was told to send.
          self->start_rate_window();
          self->read_body();
        }
      });
    return;
  }
  read_body();
}

void session::read_body() {
  if (closed_)
    return;
  if (body_->is_done())
    return finish_upload();
  auto& body = body_->get().body();
  body.data = chunk_.data();
  body.size = chunk_.size();
  // A large upload may take long, a stalled or trickling one not: each
  // read waits at most io_timeout, and never past the end of a window that
  // has not delivered min_rate yet (or, if it has, past the next one).
  auto& cfg = ctx_.config();
  auto deadline = std::chrono::steady_clock::now() + cfg.io_timeout;
  if (cfg.min_rate > 0) {
    auto limit = window_end_;
    if (window_bytes_ >= window_quota())
      limit += cfg.rate_window;
    deadline = std::min(deadline, limit);
  }
  stream_.expires_at(deadline);
  http::async_read_some(stream_, buf_, *body_,
                        [self = shared_from_this()](beast::error_code ec,
                                                    size_t n) {
                          self->on_body(ec, n);
                        });
}

uint64_t session::window_quota() const {
  auto& cfg = ctx_.config();
  auto ms = static_cast<uint64_t>(cfg.rate_window.count());
  return cfg.min_rate * ms / 1000;
}

void session::start_rate_window() {
  window_end_ = std::chrono::steady_clock::now() + ctx_.config().rate_window;
  window_bytes_ = 0;
}

bool session::rate_ok(size_t n) {
  auto& cfg = ctx_.config();
  if (cfg.min_rate == 0)
    return true;
  window_bytes_ += n;
  auto now = std::chrono::steady_clock::now();
  if (now < window_end_)
    return true;
  if (window_bytes_ < window_quota() || now >= window_end_ + cfg.rate_window)
    return false;
  window_end_ += cfg.rate_window;
  window_bytes_ = 0;
  return true;
}

void session::on_body(beast::error_code ec, size_t n_read) {
  if (ec == http::error::need_buffer)
    ec = {};
  if (ec || closed_)
    return fail_body(ec);
  if (!rate_ok(n_read)) {
    // Slower than min_rate: the connection goes, and so does the upload.
    ctx_.log("objectstore: upload of " + req_.bucket + "/" + req_.key
             + " cut off: slower than "
             + std::to_string(ctx_.config().min_rate) + " bytes/s");
    upload_.reset();
    return close();
  }
  auto n = chunk_.size() - body_->get().body().size;
  if (n > 0) {
    std::optional<fs_error> failed;
    std::optional<s3_error> refused;
    if (chunked_) {
      refused = chunked_->feed(chunk_.data(), n,
                               [this, &failed](const char* data, size_t k) {
                                 failed = upload_->append(data, k);
                                 return !failed;
                               });
    } else {
      failed = upload_->append(chunk_.data(), n);
    }
    if (failed || refused) {
      if (failed)
        ctx_.log("objectstore: ERROR " + failed->what + ": "
                 + failed->code.message());
      metered_ = {};
      upload_.reset();
      chunked_.reset();
      req_.body_pending = !body_->is_done();
      return send_error(failed ? storage_error(*failed) : *refused);
    }
    metered_.update(upload_->size());
  }
  read_body();
}

void session::fail_body(beast::error_code ec) {
  // Whatever happened, this upload is over: its partial file goes now.
  metered_ = {};
  upload_.reset();
  req_.body_pending = true;
  if (closed_)
    return;
  if (ec == http::error::body_limit)
    return send_error({http::status::payload_too_large, "EntityTooLarge",
                       "Your upload exceeds the maximum allowed object size "
                       "of "
                         + std::to_string(ctx_.config().max_object_bytes)
                         + " bytes"});
  if (is_http_parse_error(ec))
    return send_error({http::status::bad_request, "IncompleteBody",
                       "Malformed request body: " + ec.message()});
  // Connection lost, reset or timed out mid-body: nobody left to answer
  // (a timed-out tcp_stream has closed the socket already).
  ctx_.log("objectstore: upload of " + req_.bucket + "/" + req_.key
           + " aborted: " + ec.message());
  close();
}

void session::finish_upload() {
  // A part counts once it is stored (commit_part); anything else is over.
  if (req_.multipart != request_state::multipart_op::part)
    metered_ = {};
  req_.body_pending = false;
  body_.reset();
  if (chunked_) {
    auto complete = chunked_->done();
    chunked_.reset();
    if (!complete) {
      upload_.reset();
      metered_ = {};
      return send_error({http::status::bad_request, "IncompleteBody",
                         "The aws-chunked body ended before its final "
                         "chunk"});
    }
  }
  req_.etag = upload_->etag();
  req_.size = upload_->size();
  if (!req_.content_md5.empty() && req_.content_md5 != req_.etag) {
    upload_.reset();
    metered_ = {};
    return send_error({http::status::bad_request, "BadDigest",
                       "The Content-MD5 you specified did not match what we "
                       "received"});
  }
  if (!req_.signed_sha256.empty() && req_.signed_sha256 != upload_->sha256()) {
    upload_.reset();
    metered_ = {};
    return send_error({http::status::bad_request, "XAmzContentSHA256Mismatch",
                       "The provided 'x-amz-content-sha256' header does not "
                       "match what was computed"});
  }
  if (req_.multipart == request_state::multipart_op::part)
    return commit_part();
  if (req_.retry_of) {
    // The job has its upload already: a client retrying a PUT whose answer
    // it never got (the node died after the commit) gets the same answer;
    // other bytes are refused. Nothing is stored either way.
    upload_.reset();
    auto& prior = *req_.retry_of;
    if (prior.etag != req_.etag || prior.size != req_.size)
      return send_error({http::status::conflict, "OperationAborted",
                         "This upload URL is closed: the job already has "
                         "its upload, and only a retry with the same bytes "
                         "is acknowledged"});
    req_.version_id = prior.version;
    return reply_stored();
  }
  auto& gate = ctx_.config().gate;
  if (!req_.output || !gate)
    return commit_upload();
  // An output PUT may have taken long: its lease must still be the job's
  // render when it lands, or a node whose lease was handed on would replace
  // what the current one stored.
  hold_ = shared_from_this();
  std::weak_ptr<session> weak = hold_;
  stream_.expires_never();
  auto h
    = ask(worker_, gate, atoms::admit_v, req_.bucket, req_.key, req_.lease);
  h.then(
    [weak, dl = worker_.deadlines.get(), id = h.id()](messages::object_ref&) {
      dl->settle(id);
      if (auto self = weak.lock()) {
        self->hold_.reset();
        self->commit_upload();
      }
    },
    [weak, dl = worker_.deadlines.get(), id = h.id()](caf::error& err) {
      dl->settle(id);
      if (auto self = weak.lock()) {
        self->hold_.reset();
        self->upload_.reset();
        auto code = messages::errc_of(err);
        if (code == messages::errc::conflict
            || code == messages::errc::forbidden
            || code == messages::errc::not_found)
          self->send_error({http::status::conflict, "OperationAborted",
                            "Not stored: " + messages::message_of(err)});
        else
          self->send_error({http::status::service_unavailable,
                            "ServiceUnavailable",
                            "Could not check the upload ("
                              + messages::message_of(err) + "); please retry"});
      }
    });
}

void session::commit_upload() {
  object_meta meta;
  meta.bucket = req_.bucket;
  meta.key = req_.key;
  meta.version = req_.version_id;
  meta.content_type = req_.content_type;
  // Hashed while the body streamed in: content reuse matches uploads by it.
  meta.sha256 = upload_->sha256();
  if (req_.multipart == request_state::multipart_op::complete)
    meta.etag = req_.etag; // The multipart ETag, not the MD5 of the whole.
  // The marker is the metadata itself, plus the inode the object will have.
  req_.marker = meta;
  req_.marker.etag = req_.etag;
  req_.marker.size = req_.size;
  req_.marked = false;
  auto& dir = ctx_.config().data_dir;
  auto object_path = object_file(dir, req_.bucket, req_.key);
  auto meta_path = meta_file(dir, req_.bucket, req_.key);
  // No read or write is pending until the commit is done and the
  // orchestrator has answered; the deadline is set again for the response.
  stream_.expires_never();
  // Runs on the blocking pool; the session touches req_ only after the
  // result is posted back, so the pool owns it meanwhile.
  auto job
    = [self = shared_from_this(), object_path = std::move(object_path),
       meta_path = std::move(meta_path), meta = std::move(meta)]() mutable {
        std::optional<fs_error> err;
        std::string warning;
        auto& journal = self->ctx_.journal();
        auto& marker = self->req_.marker;
        // Journal first: once the object is visible, its event must not be
        // lost to a crash before the orchestrator acknowledged it.
        auto before_rename = [&](uint64_t inode) -> std::optional<fs_error> {
          if (self->req_.output)
            return std::nullopt; // An output is never announced.
          marker.inode = inode;
          auto res = journal.record(marker);
          self->req_.marked = !res;
          return res;
        };
        try {
          err = self->upload_->commit(object_path, meta_path, std::move(meta),
                                      warning, before_rename);
        } catch (const std::exception& ex) {
          err = fs_error{std::error_code{EIO, std::generic_category()},
                         std::string{"cannot commit "} + object_path + ": "
                           + ex.what()};
        }
        bool marker_kept = false;
        if (err && self->req_.marked) {
          // Failed after the marker: keep it only if the object is in place
          // anyway (e.g. the folder fsync failed after the rename).
          marker_kept = journal.is_current(marker);
          if (!marker_kept) {
            self->req_.marked = false;
            if (auto rm_err = journal.erase(marker.version))
              self->ctx_.log("objectstore: ERROR " + rm_err->what + ": "
                             + rm_err->code.message());
          }
        }
        auto ex = self->stream_.get_executor();
        asio::post(ex, [self = std::move(self), err = std::move(err),
                        warning = std::move(warning), marker_kept] {
          self->on_committed(err, warning, marker_kept);
        });
      };
  asio::post(*ctx_.blocking, std::move(job));
}

void session::on_committed(std::optional<fs_error> err,
                           const std::string& warning, bool marker_kept) {
  if (!warning.empty())
    ctx_.log("objectstore: WARN " + warning
             + " (object kept; its metadata is recomputed on read)");
  // Committed or not, no partial file remains to clean up.
  upload_.reset();
  if (err) {
    ctx_.log("objectstore: ERROR " + err->what + ": " + err->code.message());
    if (marker_kept)
      ctx_.hand_over(req_.marker);
    return send_error(storage_error(*err));
  }
  if (req_.output) {
    // In place, and nothing to announce: the render that sent it reports
    // it with its outcome.
    if (!closed_)
      reply_stored();
    return;
  }
  if (closed_) {
    // Closed meanwhile (the server is stopping): the object is stored and
    // its marker on disk; the announcer takes it (or the next run does).
    ctx_.hand_over(req_.marker);
    return;
  }
  announce();
}

void session::announce() {
  messages::object_event evt{"s3:ObjectCreated:Put", "builtin",
                             messages::object_ref{req_.bucket, req_.key,
                                                  req_.version_id, req_.etag,
                                                  req_.size, {},
                                                  req_.marker.sha256}};
  // CAF holds only a weak reference (see hold_): after shutdown the
  // companion may outlive the I/O threads, a session must not.
  hold_ = shared_from_this();
  std::weak_ptr<session> weak = hold_;
  auto h = ask(worker_, ctx_.events(), atoms::created_v, std::move(evt));
  h.then(
    [weak, dl = worker_.deadlines.get(), id = h.id()](bool accepted) {
      dl->settle(id);
      if (auto self = weak.lock()) {
        self->hold_.reset();
        self->ctx_.count_event(accepted ? "accepted" : "duplicate");
        self->ctx_.release_pending(self->req_.version_id);
        self->reply_stored();
      }
    },
    [weak, dl = worker_.deadlines.get(), id = h.id()](caf::error& err) {
      dl->settle(id);
      if (auto self = weak.lock()) {
        self->hold_.reset();
        auto what = messages::message_of(err);
        self->ctx_.log("objectstore: WARN stored " + self->req_.bucket + "/"
                       + self->req_.key + " version " + self->req_.version_id
                       + " but the orchestrator refused the event: " + what);
        auto code = messages::errc_of(err);
        auto rejected = code == messages::errc::not_found
                        || code == messages::errc::invalid_argument
                        || code == messages::errc::conflict;
        self->ctx_.count_event(rejected ? "rejected" : "error");
        if (rejected) {
          // Retrying cannot help: no job expects this object, so its
          // marker goes too (and the parts of a multipart upload).
          self->ctx_.release_pending(self->req_.version_id);
          if (self->req_.multipart == request_state::multipart_op::complete)
            remove_upload(self->ctx_.config().data_dir, self->req_.upload_id);
          self->send_error({http::status::conflict, "NoSuchUpload",
                            "The object was stored as version "
                              + self->req_.version_id
                              + " but no job expects it (" + what + ")"});
          return;
        }
        // The marker stays and the announcer retries the event; if the
        // client retries the upload first, this version becomes stale and
        // is dropped.
        self->ctx_.hand_over(self->req_.marker);
        self->send_error(
          {http::status::service_unavailable, "ServiceUnavailable",
           "The object was stored as version " + self->req_.version_id
             + " but its upload could not be announced (" + what
             + "); please retry the upload"});
      }
    });
}

void session::reply_stored() {
  if (req_.multipart == request_state::multipart_op::complete) {
    // The object is stored and announced: its parts can go.
    asio::post(*ctx_.blocking, [dir = ctx_.config().data_dir,
                                id = req_.upload_id] {
      remove_upload(dir, id);
    });
    auto res = std::make_shared<http::response<http::string_body>>(
      http::status::ok, req_.http_version);
    res->set(http::field::content_type, "application/xml");
    res->set("x-amz-version-id", req_.version_id);
    res->body() = complete_xml("/" + req_.bucket + "/" + req_.key,
                               req_.bucket, req_.key, req_.etag);
    res->prepare_payload();
    return send(std::move(res));
  }
  auto res = std::make_shared<http::response<http::empty_body>>(
    http::status::ok, req_.http_version);
  res->set(http::field::etag, "\"" + req_.etag + "\"");
  res->set("x-amz-version-id", req_.version_id);
  res->content_length(0);
  send(std::move(res));
}

// -- GET / HEAD --------------------------------------------------------------

void session::handle_get() {
  if (auto err = check_object_request())
    return send_error(*err);
  if (req_.multipart == request_state::multipart_op::list)
    return handle_list_parts();
  if (req_.on_bucket != request_state::bucket_op::none)
    return handle_bucket();
  if (req_.method == http::verb::get) {
    // Range is not a signed header of our presigned URLs, so it is read
    // only now, after the signature was verified without it.
    auto& msg = header_->get();
    // Two Range fields are as good as a malformed one: ignored.
    if (msg.count(http::field::range) == 1)
      req_.range = std::string{msg[http::field::range]};
    if (auto i = msg.find(http::field::if_range); i != msg.end())
      req_.if_range = std::string{i->value()};
  }
  auto& dir = ctx_.config().data_dir;
  auto path = object_file(dir, req_.bucket, req_.key);
  auto res
    = std::make_shared<file_response>(http::status::ok, req_.http_version);
  beast::error_code ec;
  res->body().file.open(path.c_str(), beast::file_mode::scan, ec);
  s3_error no_such_key{http::status::not_found, "NoSuchKey",
                       "The specified key does not exist."};
  if (ec) {
    if (ec == beast::errc::no_such_file_or_directory
        || ec == beast::errc::not_a_directory)
      return send_error(no_such_key);
    ctx_.log("objectstore: ERROR cannot open " + path + ": " + ec.message());
    return send_error({http::status::internal_server_error, "InternalError",
                       "We encountered an internal error reading the "
                       "object. Please try again."});
  }
  auto fd = res->body().file.native_handle();
  struct stat st;
  // A folder of deeper keys is not an object.
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
    return send_error(no_such_key);
  auto size = static_cast<uint64_t>(st.st_size);
  auto mtime = static_cast<int64_t>(st.st_mtim.tv_sec);
  pending_get_ = std::move(res);
  auto meta = find_object_meta(fd, meta_file(dir, req_.bucket, req_.key));
  if (meta && meta->inode == static_cast<uint64_t>(st.st_ino)
      && meta->size == size)
    return send_object(*meta, size, mtime);
  // Metadata missing or describing another file (a crash or a failure
  // between the two renames of a commit): rehash the bytes, off the I/O
  // thread. The version falls back to the file's modification time.
  ctx_.log("objectstore: WARN metadata of " + req_.bucket + "/" + req_.key
           + " is missing or stale; recomputing its ETag");
  object_meta fallback;
  fallback.bucket = req_.bucket;
  fallback.key = req_.key;
  fallback.size = size;
  fallback.version = version_clock::format(
    static_cast<uint64_t>(st.st_mtim.tv_sec) * 1'000'000'000u
    + static_cast<uint64_t>(st.st_mtim.tv_nsec));
  auto job = [self = shared_from_this(), fd, size, mtime,
              fallback = std::move(fallback)]() mutable {
    bool ok = true;
    try {
      md5_hasher md5;
      uint64_t offset = 0;
      std::vector<char> buf(body_chunk_bytes);
      while (offset < size) {
        auto n
          = ::pread(fd, buf.data(), buf.size(), static_cast<off_t>(offset));
        if (n < 0 && errno == EINTR)
          continue;
        if (n <= 0) {
          ok = false;
          break;
        }
        md5.update(buf.data(), static_cast<size_t>(n));
        offset += static_cast<uint64_t>(n);
      }
      fallback.etag = md5.hex_digest();
    } catch (const std::exception&) {
      ok = false;
    }
    auto ex = self->stream_.get_executor();
    asio::post(ex, [self = std::move(self), ok, size, mtime,
                    fallback = std::move(fallback)] {
      if (self->closed_)
        return;
      if (!ok)
        return self->send_error({http::status::internal_server_error,
                                 "InternalError",
                                 "We encountered an internal error reading "
                                 "the object. Please try again."});
      self->send_object(fallback, size, mtime);
    });
  };
  asio::post(*ctx_.blocking, std::move(job));
}

// -- DELETE ------------------------------------------------------------------

void session::handle_delete() {
  if (auto err = check_object_request())
    return send_error(*err);
  if (req_.multipart == request_state::multipart_op::abort)
    return handle_abort();
  // Not while the key is being stored or waits for its announcement.
  key_hold_ = ctx_.try_hold_key(req_.bucket, req_.key);
  if (!key_hold_)
    return send_error({http::status::service_unavailable, "SlowDown",
                       "An upload to this key is being stored or announced; "
                       "retry shortly"});
  stream_.expires_never();
  auto job = [self = shared_from_this()]() {
    auto removed = delete_object(self->ctx_.config().data_dir,
                                 self->req_.bucket, self->req_.key);
    auto ex = self->stream_.get_executor();
    asio::post(ex, [self, ok = static_cast<bool>(removed)] {
      if (self->closed_)
        return;
      self->key_hold_.reset();
      if (!ok)
        return self->send_error({http::status::internal_server_error,
                                 "InternalError",
                                 "We encountered an internal error deleting "
                                 "the object. Please try again."});
      auto res = std::make_shared<http::response<http::empty_body>>(
        http::status::no_content, self->req_.http_version);
      self->send(std::move(res));
    });
  };
  asio::post(*ctx_.blocking, std::move(job));
}

// -- multipart ---------------------------------------------------------------

std::optional<s3_error> session::check_upload() {
  auto up = read_upload(ctx_.config().data_dir, req_.upload_id);
  if (!up || up->bucket != req_.bucket || up->key != req_.key)
    return no_such_upload();
  return std::nullopt;
}

void session::handle_post() {
  if (auto err = check_object_request())
    return send_error(*err);
  auto& outputs = ctx_.config().outputs_prefix;
  req_.output = !outputs.empty() && req_.key.rfind(outputs, 0) == 0;
  if (req_.output)
    return send_error({http::status::bad_request, "InvalidRequest",
                       "Outputs are stored with single PUTs"});
  if (req_.multipart == request_state::multipart_op::create)
    return handle_create();
  if (req_.multipart == request_state::multipart_op::complete)
    return read_complete();
  return send_error({http::status::method_not_allowed, "MethodNotAllowed",
                     "POST is allowed only to start or complete a multipart "
                     "upload"});
}

void session::handle_create() {
  auto& msg = header_->get();
  if (auto i = msg.find(http::field::content_type); i != msg.end())
    req_.content_type = std::string{i->value()};
  // The key must be one that may take an upload now, as for a PUT; asked
  // again when the parts are joined.
  admit_then([this](messages::object_ref prior) {
    if (!prior.version.empty())
      return send_error({http::status::conflict, "OperationAborted",
                         "This upload URL is closed: the job already has its "
                         "upload"});
    multipart_upload up{req_.bucket, req_.key, req_.content_type,
                        unix_ms_now()};
    std::string id;
    try {
      id = new_upload_id();
    } catch (const std::exception& ex) {
      ctx_.log(std::string{"objectstore: ERROR "} + ex.what());
      return send_error({http::status::internal_server_error,
                         "InternalError", "Could not start the upload"});
    }
    stream_.expires_never();
    auto job = [self = shared_from_this(), id, up]() {
      auto err = create_upload(self->ctx_.config().data_dir, id, up);
      asio::post(self->stream_.get_executor(), [self, id, err] {
        if (self->closed_)
          return;
        if (err) {
          self->ctx_.log("objectstore: ERROR " + err->what + ": "
                         + err->code.message());
          return self->send_error(storage_error(*err));
        }
        auto res = std::make_shared<http::response<http::string_body>>(
          http::status::ok, self->req_.http_version);
        res->set(http::field::content_type, "application/xml");
        res->body() = initiate_xml(self->req_.bucket, self->req_.key, id);
        res->prepare_payload();
        self->send(std::move(res));
      });
    };
    asio::post(*ctx_.blocking, std::move(job));
  });
}

void session::read_complete() {
  if (auto err = check_upload())
    return send_error(*err);
  if (req_.chunks)
    return send_error({http::status::bad_request, "InvalidRequest",
                       "Send the CompleteMultipartUpload body plainly, not "
                       "aws-chunked"});
  text_body_.emplace(std::move(*header_));
  header_.reset();
  // The list of up to 10000 parts is about 1 MB of XML.
  text_body_->body_limit(2 << 20);
  stream_.expires_after(ctx_.config().io_timeout);
  http::async_read(stream_, buf_, *text_body_,
                   [self = shared_from_this()](beast::error_code ec, size_t) {
                     self->on_complete_body(ec);
                   });
}

void session::on_complete_body(beast::error_code ec) {
  if (closed_)
    return;
  if (ec) {
    text_body_.reset();
    req_.body_pending = true;
    if (ec == http::error::body_limit)
      return send_error({http::status::bad_request, "MalformedXML",
                         "The CompleteMultipartUpload body is too large"});
    if (is_http_parse_error(ec))
      return send_error({http::status::bad_request, "IncompleteBody",
                         "Malformed request body: " + ec.message()});
    return close();
  }
  req_.body_pending = false;
  auto body = std::move(text_body_->get().body());
  text_body_.reset();
  if (!req_.signed_sha256.empty()) {
    sha256_hasher h;
    h.update(body.data(), body.size());
    if (h.hex_digest() != req_.signed_sha256)
      return send_error({http::status::bad_request,
                         "XAmzContentSHA256Mismatch",
                         "The provided 'x-amz-content-sha256' header does "
                         "not match what was computed"});
  }
  std::vector<std::pair<uint32_t, std::string>> asked;
  if (auto err = parse_complete_body(body, asked))
    return send_error(*err);
  auto& dir = ctx_.config().data_dir;
  auto stored = list_parts(dir, req_.upload_id);
  if (auto err = check_complete(asked, stored, min_part_bytes, req_.parts))
    return send_error(*err);
  uint64_t total = 0;
  for (auto& p : req_.parts)
    total += p.size;
  if (total > ctx_.config().max_object_bytes)
    return send_error({http::status::payload_too_large, "EntityTooLarge",
                       "The parts add up to " + std::to_string(total)
                         + " bytes, more than the maximum allowed object "
                           "size of "
                         + std::to_string(ctx_.config().max_object_bytes)});
  req_.etag = multipart_etag(req_.parts);
  req_.size = total;
  if (auto up = read_upload(dir, req_.upload_id))
    req_.content_type = up->content_type;
  // From here on as a PUT: one upload per key at a time, and only while
  // the job waits for it.
  key_hold_ = ctx_.try_hold_key(req_.bucket, req_.key);
  if (!key_hold_)
    return send_error({http::status::service_unavailable, "SlowDown",
                       "Another upload to this key is being stored or "
                       "announced; retry shortly"});
  admit_then([this](messages::object_ref prior) {
    if (!prior.version.empty()) {
      // A retried complete whose answer was lost: the same parts get the
      // same answer, anything else is refused.
      if (prior.etag != req_.etag || prior.size != req_.size)
        return send_error({http::status::conflict, "OperationAborted",
                           "This upload URL is closed: the job already has "
                           "its upload, and only a retry with the same "
                           "parts is acknowledged"});
      req_.version_id = prior.version;
      return reply_stored();
    }
    join_parts();
  });
}

void session::join_parts() {
  auto& dir = ctx_.config().data_dir;
  req_.version_id = ctx_.next_version();
  upload_ = std::make_unique<upload_file>(partial_dir(dir) + "/"
                                          + req_.version_id + ".part");
  stream_.expires_never();
  // The pool owns upload_ until the result is posted back.
  auto job = [self = shared_from_this(), dir]() {
    std::optional<fs_error> err = self->upload_->open();
    std::vector<char> buf(1 << 20);
    for (auto& p : self->req_.parts) {
      if (err)
        break;
      auto path = part_file(dir, self->req_.upload_id, p.number);
      int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        err = fs_error{std::error_code{errno, std::generic_category()},
                       "cannot open part " + path};
        break;
      }
      uint64_t left = p.size;
      while (left > 0 && !err) {
        auto n = ::read(fd, buf.data(), std::min<uint64_t>(buf.size(), left));
        if (n <= 0) {
          err = fs_error{std::error_code{n < 0 ? errno : EIO,
                                         std::generic_category()},
                         "cannot read part " + path};
          break;
        }
        err = self->upload_->append(buf.data(), static_cast<size_t>(n));
        left -= static_cast<uint64_t>(n);
      }
      ::close(fd);
    }
    asio::post(self->stream_.get_executor(), [self, err] {
      if (err) {
        self->upload_.reset();
        self->key_hold_.reset();
        self->ctx_.log("objectstore: ERROR " + err->what + ": "
                       + err->code.message());
        if (!self->closed_)
          self->send_error(storage_error(*err));
        return;
      }
      // Joined: the object's own event takes over from here.
      if (auto& meter = self->ctx_.config().meter)
        meter->forget(self->req_.bucket, self->req_.key);
      self->commit_upload();
    });
  };
  asio::post(*ctx_.blocking, std::move(job));
}

void session::commit_part() {
  auto& dir = ctx_.config().data_dir;
  auto path = part_file(dir, req_.upload_id, req_.part_number);
  auto meta_path = part_meta_file(dir, req_.upload_id, req_.part_number);
  stream_.expires_never();
  auto job = [self = shared_from_this(), path, meta_path, dir]() {
    std::optional<fs_error> err;
    std::string warning;
    bool gone = false;
    object_meta meta;
    meta.bucket = self->req_.bucket;
    meta.key = self->req_.key;
    meta.version = self->req_.version_id;
    // Completed or aborted meanwhile: nothing to add the part to.
    if (!read_upload(dir, self->req_.upload_id)) {
      gone = true;
    } else {
      try {
        err = self->upload_->commit(path, meta_path, std::move(meta), warning);
      } catch (const std::exception& ex) {
        err = fs_error{std::error_code{EIO, std::generic_category()},
                       std::string{"cannot commit "} + path + ": "
                         + ex.what()};
      }
      // A part without its metadata is not listed: report it as failed.
      if (!err && !warning.empty())
        err = fs_error{std::error_code{EIO, std::generic_category()},
                       warning};
    }
    asio::post(self->stream_.get_executor(), [self, err, gone] {
      self->upload_.reset();
      if (!err && !gone)
        self->metered_.stored(self->req_.size);
      else
        self->metered_ = {};
      if (self->closed_)
        return;
      if (gone)
        return self->send_error(no_such_upload());
      if (err) {
        self->ctx_.log("objectstore: ERROR " + err->what + ": "
                       + err->code.message());
        return self->send_error(storage_error(*err));
      }
      auto res = std::make_shared<http::response<http::empty_body>>(
        http::status::ok, self->req_.http_version);
      res->set(http::field::etag, "\"" + self->req_.etag + "\"");
      res->content_length(0);
      self->send(std::move(res));
    });
  };
  asio::post(*ctx_.blocking, std::move(job));
}

void session::handle_list_parts() {
  if (auto err = check_upload())
    return send_error(*err);
  uint32_t max_parts = 1000;
  uint32_t marker = 0;
  std::string_view rest = req_.query;
  while (!rest.empty()) {
    auto part = next_query_part(rest);
    auto eq = part.find('=');
    auto name = part.substr(0, eq);
    if (name != "max-parts" && name != "part-number-marker")
      continue;
    auto value = eq == std::string_view::npos ? std::string_view{}
                                              : part.substr(eq + 1);
    uint32_t n = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(),
                                     n);
    if (ec != std::errc{} || end != value.data() + value.size())
      return send_error({http::status::bad_request, "InvalidArgument",
                         std::string{name} + " must be a whole number"});
    if (name == "max-parts")
      max_parts = std::clamp<uint32_t>(n, 1, 1000);
    else
      marker = n;
  }
  auto parts = list_parts(ctx_.config().data_dir, req_.upload_id);
  auto res = std::make_shared<http::response<http::string_body>>(
    http::status::ok, req_.http_version);
  res->set(http::field::content_type, "application/xml");
  res->body() = list_parts_xml(req_.bucket, req_.key, req_.upload_id, parts,
                               marker, max_parts);
  res->prepare_payload();
  send(std::move(res));
}

void session::handle_abort() {
  if (auto err = check_upload())
    return send_error(*err);
  stream_.expires_never();
  if (auto& meter = ctx_.config().meter)
    meter->forget(req_.bucket, req_.key);
  auto job = [self = shared_from_this()]() {
    remove_upload(self->ctx_.config().data_dir, self->req_.upload_id);
    asio::post(self->stream_.get_executor(), [self] {
      if (self->closed_)
        return;
      auto res = std::make_shared<http::response<http::empty_body>>(
        http::status::no_content, self->req_.http_version);
      self->send(std::move(res));
    });
  };
  asio::post(*ctx_.blocking, std::move(job));
}

void session::handle_bucket() {
  using bucket_op = request_state::bucket_op;
  if (req_.on_bucket != bucket_op::list) {
    // HeadBucket: the bucket exists and the keys may use it (both checked
    // already). GetBucketLocation: the store's region.
    auto res = std::make_shared<http::response<http::string_body>>(
      http::status::ok, req_.http_version);
    res->set("x-amz-bucket-region", ctx_.config().region);
    if (req_.on_bucket == bucket_op::location) {
      res->set(http::field::content_type, "application/xml");
      // us-east-1 is an empty constraint in S3's answer.
      auto region = ctx_.config().region == "us-east-1"
                      ? std::string{}
                      : xml_escape(ctx_.config().region);
      res->body()
        = R"(<?xml version="1.0" encoding="UTF-8"?>)"
          "\n"
          R"(<LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/">)"
          + region + "</LocationConstraint>";
      res->prepare_payload();
    } else {
      res->content_length(0);
    }
    return send(std::move(res));
  }
  list_request list;
  if (auto err = parse_list_request(req_.query, list))
    return send_error(*err);
  auto page = list_bucket(ctx_.config().data_dir, req_.bucket, list);
  auto res = std::make_shared<http::response<http::string_body>>(
    http::status::ok, req_.http_version);
  res->set(http::field::content_type, "application/xml");
  res->body() = list_xml(req_.bucket, list, page);
  res->prepare_payload();
  send(std::move(res));
}

void session::send_object(const object_meta& meta, uint64_t size,
                          int64_t mtime) {
  auto res = std::move(pending_get_);
  if (req_.method == http::verb::head) {
    auto head = std::make_shared<http::response<http::empty_body>>(
      http::status::ok, req_.http_version);
    set_object_headers(*head, meta, mtime);
    head->content_length(size);
    return send(std::move(head));
  }
  // RFC 7233 3.1: only a GET's Range counts (handle_get reads no other).
  auto selection = range_selection{};
  if (req_.range && if_range_matches(meta, mtime))
    selection = select_range(*req_.range, size);
  switch (selection.verdict) {
    case range_verdict::unsatisfiable:
      return send_error(
        {http::status::range_not_satisfiable, "InvalidRange",
         "The requested range is not satisfiable: the object has "
           + std::to_string(size) + " bytes"},
        unsatisfied_content_range(size));
    case range_verdict::partial: {
      auto& range = selection.range;
      res->result(http::status::partial_content);
      set_object_headers(*res, meta, mtime);
      res->set(http::field::content_range, content_range(range, size));
      res->body().offset = range.first;
      res->body().length = range.length();
      res->content_length(range.length());
      return send(std::move(res));
    }
    case range_verdict::whole:
      break;
  }
  set_object_headers(*res, meta, mtime);
  res->body().offset = 0;
  res->body().length = size;
  res->content_length(size);
  send(std::move(res));
}

bool session::if_range_matches(const object_meta& meta, int64_t mtime) const {
  if (!req_.if_range)
    return true;
  // An entity tag must match ours exactly (a weak one never does); a date
  // must be exactly our Last-Modified. Anything else means the client's
  // copy is stale, so it gets the whole current object instead of a piece
  // of it spliced onto old bytes.
  auto value = common::trim_blanks(*req_.if_range);
  if (!value.empty() && value.front() == '"')
    return value == "\"" + meta.etag + "\"";
  return value == http_date(mtime);
}

// -- responses ---------------------------------------------------------------

void session::send_error(const s3_error& err,
                         const std::string& range_header) {
  auto res = std::make_shared<http::response<http::string_body>>(
    err.status, req_.http_version);
  res->set(http::field::content_type, "application/xml");
  if (!range_header.empty())
    res->set(http::field::content_range, range_header);
  res->set("x-amz-error-code", err.code);
  if (err.status == http::status::method_not_allowed)
    res->set(http::field::allow, "DELETE, GET, HEAD, PUT");
  if (err.status == http::status::service_unavailable)
    res->set(http::field::retry_after, "1");
  // A response to HEAD has no body; the status and the header say it all.
  if (req_.method != http::verb::head)
    res->body()
      = error_xml(err, req_.bucket, req_.key, req_.resource, req_.request_id);
  res->prepare_payload();
  send(std::move(res));
}

void session::handle_options() {
  auto& msg = header_->get();
  auto method = msg[http::field::access_control_request_method];
  auto headers = msg[http::field::access_control_request_headers];
  bool method_ok = method == "GET" || method == "PUT" || method == "HEAD";
  // Header names are tokens; anything else in the list is refused rather
  // than echoed.
  bool headers_ok = headers.size() <= 1024;
  for (char c : headers)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
          || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == ','
          || c == ' '))
      headers_ok = false;
  if (req_.cors_origin.empty() || !method_ok || !headers_ok) {
    std::string why = req_.cors_origin.empty()
                        ? "This origin may not call the store from a "
                          "browser (store.cors_origins)"
                        : "CORS allows GET, PUT and HEAD with plain "
                          "header names only";
    req_.cors_origin.clear(); // A refusal says nothing to the browser.
    return send_error({http::status::forbidden, "AccessForbidden", why});
  }
  auto res = std::make_shared<http::response<http::empty_body>>(
    http::status::ok, req_.http_version);
  res->set(http::field::access_control_allow_methods, "GET, PUT, HEAD");
  if (!headers.empty())
    res->set(http::field::access_control_allow_headers, headers);
  res->set(http::field::access_control_max_age, "600");
  res->prepare_payload();
  send(std::move(res));
}

template <class Body>
void session::send(std::shared_ptr<http::response<Body>> res) {
  if (closed_)
    return;
  bool keep_alive = req_.keep_alive && !req_.body_pending;
  res->keep_alive(keep_alive);
  res->set(http::field::server, "vidflow-objectstore");
  if (!req_.request_id.empty())
    res->set("x-amz-request-id", req_.request_id);
  if (!req_.cors_origin.empty()) {
    res->set(http::field::access_control_allow_origin, req_.cors_origin);
    res->set(http::field::access_control_expose_headers,
             "ETag, x-amz-version-id, x-amz-request-id");
    res->set(http::field::vary, "Origin");
  }
  stream_.expires_after(ctx_.config().io_timeout);
  auto& msg = *res;
  http::async_write(stream_, msg,
                    [self = shared_from_this(), res = std::move(res),
                     keep_alive](beast::error_code ec, size_t) {
                      self->after_write(ec, keep_alive);
                    });
}

void session::after_write(beast::error_code ec, bool keep_alive) {
  if (ec)
    return close();
  if (keep_alive)
    return read_header();
  if (req_.body_pending)
    return linger();
  close();
}

void session::linger() {
  // The client may still be sending a body we refused. Closing now would
  // make the kernel answer with a reset that can destroy our response
  // before the client reads it, so stop sending, read and drop for a while,
  // then close.
  beast::error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  if (ec)
    return close();
  drained_ = 0;
  if (chunk_.empty())
    chunk_.resize(16 * 1024);
  stream_.expires_after(std::chrono::seconds{5});
  drain();
}

void session::drain() {
  if (closed_)
    return;
  stream_.async_read_some(
    asio::buffer(chunk_),
    [self = shared_from_this()](beast::error_code ec, size_t n) {
      self->drained_ += n;
      if (ec || self->drained_ > max_linger_bytes)
        return self->close();
      self->drain();
    });
}

void session::close() {
  if (closed_)
    return;
  closed_ = true;
  beast::error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
  stream_.close();
}

} // namespace vf::adapters::objectstore
