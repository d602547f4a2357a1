// vf/adapters/objectstore/session.hpp
//
// One client connection of the built-in store: reads requests one after
// another (keep-alive), verifies presigned URLs before reading any body,
// streams PUT bodies to a partial file, commits them off the I/O thread,
// announces them to the orchestrator through the CAF bridge, and streams
// objects (or one byte range of one) back for GET/HEAD. Internal to the
// object store.

#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "vf/adapters/common/asio_bridge.hpp"
#include "vf/adapters/common/connection_gate.hpp"
#include "vf/adapters/common/request_deadlines.hpp"
#include "vf/adapters/common/upload_meter.hpp"
#include "vf/adapters/objectstore/aws_chunked.hpp"
#include "vf/adapters/objectstore/file_range_body.hpp"
#include "vf/adapters/objectstore/multipart.hpp"
#include "vf/adapters/objectstore/object_meta.hpp"
#include "vf/adapters/objectstore/s3_error.hpp"
#include "vf/adapters/objectstore/store_context.hpp"
#include "vf/adapters/objectstore/upload_file.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

namespace vf::adapters::objectstore {

class session;

/// One I/O thread of the server: its own io_context (so each companion
/// bridge is only ever touched by one thread), the bridge, and the
/// connections it serves.
struct io_worker {
  /// Live sessions; touched only on this worker's thread (or after it
  /// ended). Declared first so that it outlives `ioc`, whose destruction
  /// destroys the sessions its pending handlers still hold.
  std::unordered_set<session*> sessions;
  /// The event loop; single-threaded by construction.
  boost::asio::io_context ioc{1};
  /// Keeps `ioc.run()` going while there is no I/O.
  std::optional<
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type>>
    guard;
  /// Times out the requests sent through `bridge` (instead of CAF's clock,
  /// see request_deadlines.hpp); declared before `bridge`, whose handlers
  /// settle it, and after `ioc`, which its timer uses.
  std::unique_ptr<common::request_deadlines> deadlines;
  /// CAF companion drained on this thread; created before the thread runs.
  std::unique_ptr<common::asio_bridge> bridge;
  /// The thread running `ioc`.
  std::thread thread;
};

/// Largest accepted request header in bytes; bigger ones get 431.
constexpr uint32_t max_header_bytes = 16 * 1024;

/// Size of the buffer a request body is read through (per connection).
constexpr size_t body_chunk_bytes = 64 * 1024;

/// Most bytes of an unwanted request body read (and dropped) after an early
/// error answer, so the client sees the answer rather than a reset.
constexpr uint64_t max_linger_bytes = 8 * 1024 * 1024;

/// One connection. Lives as long as an asynchronous operation, a pending
/// blocking job or an orchestrator request needs it.
class session : public std::enable_shared_from_this<session> {
public:
  /// Takes over an accepted socket whose executor is `worker.ioc`, and its
  /// place under the connection limits (released when the session goes).
  session(store_context& ctx, io_worker& worker,
          boost::asio::ip::tcp::socket sock,
          common::connection_gate::slot slot = {});

  session(const session&) = delete;
  session& operator=(const session&) = delete;

  /// Removes an unfinished upload's partial file.
  ~session();

  /// Registers with the worker and reads the first request. Call on the
  /// worker's thread.
  void start();

  /// Closes the connection at once (server shutdown); an unfinished upload
  /// is discarded when the session goes away. Call on the worker's thread.
  void abort();

private:
  /// What one request is about, kept after its header parser is gone.
  struct request_state {
    /// Request method.
    boost::beast::http::verb method = boost::beast::http::verb::unknown;
    /// Request method as sent (for signatures and messages).
    std::string method_name;
    /// Request target exactly as received.
    std::string target;
    /// Raw path, for `<Resource>`.
    std::string resource;
    /// Raw query string (after `?`), empty if none.
    std::string query;
    /// What a request without a key asks of `bucket`: ListObjectsV2 (GET
    /// with `list-type=`), HeadBucket (HEAD), GetBucketLocation (GET
    /// `?location`); `none` for object requests.
    enum class bucket_op {
      none,
      list,
      head,
      location
    } on_bucket
      = bucket_op::none;
    /// Decoded bucket name.
    std::string bucket;
    /// Decoded object key.
    std::string key;
    /// Id for `x-amz-request-id` and `<RequestId>`.
    std::string request_id;
    /// The `Origin` of a browser's request when `cors_origins` has it;
    /// empty otherwise (the answer then carries no CORS headers).
    std::string cors_origin;
    /// HTTP version as 10 or 11.
    unsigned http_version = 11;
    /// Whether the client wants the connection kept open.
    bool keep_alive = false;
    /// Whether body bytes of this request may still be unread on the wire;
    /// the connection cannot be reused then.
    bool body_pending = false;
    /// Hex MD5 the client announced in `Content-MD5`.
    std::string content_md5;
    /// The body's SHA-256 a header-signed request signed
    /// (`x-amz-content-sha256`, lower-case hex), checked once the body is
    /// in; empty: none (a presigned URL or `UNSIGNED-PAYLOAD`).
    std::string signed_sha256;
    /// `Content-Type` of the upload, kept for GET.
    std::string content_type;
    /// The GET's single `Range` header value, if it sent exactly one.
    std::optional<std::string> range;
    /// The GET's `If-Range` header value, if any.
    std::optional<std::string> if_range;
    /// Version id assigned to the upload.
    std::string version_id;
    /// Hex MD5 of the uploaded bytes.
    std::string etag;
    /// Size of the uploaded bytes.
    uint64_t size = 0;
    /// The upload's announcement marker (see `pending_journal`), valid once
    /// `marked`.
    object_meta marker;
    /// Whether the marker is on disk, i.e. this upload's event must reach
    /// the orchestrator eventually (here or through the announcer).
    bool marked = false;
    /// Set when the job already has its upload: this PUT is acknowledged
    /// only if it carries the very same bytes, and is never stored.
    std::optional<messages::object_ref> retry_of;
    /// Whether the key is under `store_config::outputs_prefix`: a render's
    /// output, stored like an upload but never announced (no marker, no
    /// ObjectCreated event).
    bool output = false;
    /// The render lease a PUT of an output names (`x-vf-lease`, signed
    /// with the URL); 0: none.
    uint64_t lease = 0;
    /// Set for an aws-chunked PUT (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD`):
    /// what its chunks are checked with, until the body is read.
    std::optional<sigv4::chunk_signing> chunks;
    /// Its object's size (`x-amz-decoded-content-length`).
    uint64_t decoded_length = 0;
    /// A multipart request (`multipart.hpp`): CreateMultipartUpload (POST
    /// `?uploads`), UploadPart (PUT `?partNumber=&uploadId=`), ListParts
    /// (GET `?uploadId=`), CompleteMultipartUpload (POST `?uploadId=`),
    /// AbortMultipartUpload (DELETE `?uploadId=`); `none` otherwise.
    enum class multipart_op {
      none,
      create,
      part,
      list,
      complete,
      abort
    } multipart
      = multipart_op::none;
    /// Its upload id (checked to be one this store could have made).
    std::string upload_id;
    /// UploadPart: the part's number, 1..10000.
    uint32_t part_number = 0;
    /// CompleteMultipartUpload: the stored parts it joins, in order.
    std::vector<part_info> parts;
  };

  /// Reads request headers only, so a request is judged before its body.
  using header_parser
    = boost::beast::http::request_parser<boost::beast::http::empty_body>;
  /// Reads a body through `chunk_`, never holding more than one chunk.
  using body_parser
    = boost::beast::http::request_parser<boost::beast::http::buffer_body>;
  /// Streams an object file (or one byte range of it) back.
  using file_response = boost::beast::http::response<file_range_body>;

  // -- request dispatch ------------------------------------------------------

  /// Resets per-request state and reads the next request header.
  void read_header();
  /// Reads until the raw header block is complete and checks its framing
  /// (see `common::check_framing`) before Beast parses it.
  void scan_header();
  /// Lets Beast parse the header block.
  void parse_header();
  /// Routes a request by method, or answers a malformed one.
  void on_header(boost::beast::error_code ec);
  /// Splits the target into bucket and key; refuses sub-resources.
  std::optional<s3_error> parse_target();
  /// Verifies the presigned URL, or the Authorization header, against the
  /// configured keys.
  std::optional<s3_error> authenticate();
  /// Checks that the bucket exists and the key may become a path.
  std::optional<s3_error> check_object_address();
  /// What every object request passes first: `parse_target`,
  /// `authenticate`, `check_object_address`.
  std::optional<s3_error> check_object_request();

  // -- PUT -------------------------------------------------------------------

  /// Validates a PUT, asks the upload gate, then calls `store_put`.
  void handle_put();
  /// Opens the partial file and starts streaming the body of an admitted
  /// PUT.
  void store_put(bool expect_continue);
  /// Reads the next body chunk (or finishes when the body is complete).
  void read_body();
  /// Writes a received chunk to the partial file; `n` bytes were read.
  void on_body(boost::beast::error_code ec, size_t n);
  /// Starts the first `min_rate` window of a body.
  void start_rate_window();
  /// Counts `n` body bytes; false if the body is slower than `min_rate`.
  bool rate_ok(size_t n);
  /// Bytes a body must deliver per `rate_window`.
  uint64_t window_quota() const;
  /// Ends an upload that failed mid-body; its partial file goes.
  void fail_body(boost::beast::error_code ec);
  /// Checks the digest and commits on the blocking pool.
  void finish_upload();
  /// Stores the received body: the atomic commit on the blocking pool.
  void commit_upload();
  /// Back on the I/O thread after the commit; `marker_kept` says whether
  /// a failed commit left a marker whose object is in place.
  void on_committed(std::optional<fs_error> err, const std::string& warning,
                    bool marker_kept);
  /// Sends ObjectCreated to the orchestrator through the bridge.
  void announce();
  /// Answers 200 with ETag and version id.
  void reply_stored();

  /// Asks the upload gate whether this key may take an upload now (see
  /// `handle_put`), then calls `next` with the job's upload if it has one
  /// already (empty `version`: it waits); answers a refusal itself.
  void admit_then(std::function<void(messages::object_ref)> next);

  // -- multipart -------------------------------------------------------------

  /// Routes a POST: CreateMultipartUpload or CompleteMultipartUpload.
  void handle_post();
  /// Returns `NoSuchUpload` unless `req_.upload_id` is an upload in
  /// progress for this very bucket and key.
  std::optional<s3_error> check_upload();
  /// CreateMultipartUpload: asks the gate, records the upload, answers its
  /// id.
  void handle_create();
  /// CompleteMultipartUpload: reads the (small) XML body.
  void read_complete();
  /// Checks the parts it names, asks the gate, then `join_parts`.
  void on_complete_body(boost::beast::error_code ec);
  /// Joins the parts into a partial file on the blocking pool, then
  /// commits and announces it as `commit_upload` does a PUT.
  void join_parts();
  /// UploadPart: stores the received body as the part (blocking pool).
  void commit_part();
  /// ListParts.
  void handle_list_parts();
  /// AbortMultipartUpload.
  void handle_abort();

  // -- GET / HEAD ------------------------------------------------------------

  /// Validates a GET or HEAD and opens the object.
  void handle_get();
  /// DeleteObject: removes the object and its metadata (S3 answers 204
  /// whether or not there was one).
  void handle_delete();

  /// A browser's CORS preflight (OPTIONS): allowed for the configured
  /// origins and the methods presigned URLs serve.
  void handle_options();

  /// Answers a ListObjectsV2 (`list_objects.hpp`), HeadBucket or
  /// GetBucketLocation, authenticated already.
  void handle_bucket();
  /// Sends the object (GET), the byte range a GET asked for (206 or 416),
  /// or the object's headers (HEAD).
  void send_object(const object_meta& meta, uint64_t size, int64_t mtime);
  /// Returns whether the GET's `If-Range` (if any) matches the object, i.e.
  /// whether its `Range` may be honoured.
  bool if_range_matches(const object_meta& meta, int64_t mtime) const;

  // -- responses -------------------------------------------------------------

  /// Sends an S3 XML error; a non-empty `range_header` goes out as the
  /// `Content-Range` header (416 answers).
  void send_error(const s3_error& err, const std::string& range_header = {});
  /// Sends a response, then continues with the next request or closes.
  template <class Body>
  void send(std::shared_ptr<boost::beast::http::response<Body>> res);
  /// Decides what follows a written response.
  void after_write(boost::beast::error_code ec, bool keep_alive);
  /// Half-closes and drops unread body bytes for a while before closing.
  void linger();
  /// One read of `linger`.
  void drain();
  /// Closes the socket (idempotent).
  void close();

  /// Shared server state.
  store_context& ctx_;
  /// The worker (thread, io_context, bridge) this connection lives on.
  io_worker& worker_;
  /// The connection, with per-operation deadlines.
  boost::beast::tcp_stream stream_;
  /// Bytes read from the socket but not parsed yet.
  boost::beast::flat_buffer buf_;
  /// Parser of the current request until its header is judged.
  std::optional<header_parser> header_;
  /// Parser of the current request's body (PUT).
  std::optional<body_parser> body_;
  /// Parser of a small XML request body (CompleteMultipartUpload).
  std::optional<
    boost::beast::http::request_parser<boost::beast::http::string_body>>
    text_body_;
  /// The current request.
  request_state req_;
  /// The current upload, if any.
  std::unique_ptr<upload_file> upload_;
  /// Decodes an aws-chunked body on its way to `upload_`; null otherwise.
  std::unique_ptr<aws_chunked_decoder> chunked_;
  /// Its entry in the upload meter (live progress), while its body streams.
  common::metered_upload metered_;
  /// The GET response while its metadata is being recomputed.
  std::shared_ptr<file_response> pending_get_;
  /// Body and drain buffer; allocated when first needed.
  std::vector<char> chunk_;
  /// Bytes dropped by `linger` so far.
  uint64_t drained_ = 0;
  /// Whether the socket is closed.
  bool closed_ = false;
  /// This connection's place under the connection limits.
  common::connection_gate::slot slot_;
  /// The current upload's claim on its key (see `store_context::
  /// try_hold_key`), from its admission until the next request.
  key_hold key_hold_;
  /// End of the current `min_rate` window of a body.
  std::chrono::steady_clock::time_point window_end_;
  /// Body bytes read in the current window.
  uint64_t window_bytes_ = 0;
  /// Keeps the session alive while only CAF (which holds weak references
  /// so that it can never outlive the I/O threads with a socket) waits on
  /// its behalf; released by the reply or by `abort`.
  std::shared_ptr<session> hold_;
};

} // namespace vf::adapters::objectstore
