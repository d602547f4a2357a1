// vf/adapters/http/api_server.cpp
//
// The transport: acceptor, connections, HTTP/1.1 framing and limits (Beast).
// The only translation unit that includes Beast, to keep builds fast.

#include "vf/adapters/http/api_server.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <openssl/rand.h>
#include <prometheus/registry.h>

#include "caf/sec.hpp"

#include "vf/adapters/common/accept_backoff.hpp"
#include "vf/adapters/common/asio_bridge.hpp"
#include "vf/adapters/common/connection_gate.hpp"
#include "vf/adapters/common/http_framing.hpp"
#include "vf/adapters/common/refuse_connection.hpp"
#include "vf/adapters/common/text.hpp"
#include "vf/adapters/common/thread_name.hpp"
#include "vf/adapters/common/trusted_proxies.hpp"
#include "vf/adapters/http/json_views.hpp"
#include "vf/adapters/http/router.hpp"
#include "vf/messages/errc.hpp"

#include <atomic>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <unordered_set>
#include <vector>

namespace vf::adapters::http {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using work_guard = asio::executor_work_guard<asio::io_context::executor_type>;

/// Longest request target we accept (414 beyond).
constexpr size_t max_target_bytes = 8 * 1024;

/// Largest total of header fields we accept (431 beyond).
constexpr size_t max_field_bytes = 16 * 1024;

/// Budget of the request line and the header fields together.
constexpr size_t header_budget = max_target_bytes + max_field_bytes + 1024;

/// How much a closing connection reads and discards so the peer sees our
/// answer instead of a reset.
constexpr size_t max_drain_bytes = 1 << 20;

/// How long a closing connection waits for the peer to finish.
constexpr auto drain_timeout = std::chrono::seconds{1};

constexpr std::string_view continue_line = "HTTP/1.1 100 Continue\r\n\r\n";

/// The head of an event stream: no length (it ends when the connection
/// does), nothing cached or buffered on the way, and the reconnect delay
/// EventSource clients should use.
constexpr std::string_view sse_head
  = "HTTP/1.1 200 OK\r\n"
    "Content-Type: text/event-stream; charset=utf-8\r\n"
    "Cache-Control: no-store\r\n"
    "X-Accel-Buffering: no\r\n"
    "X-Content-Type-Options: nosniff\r\n"
    "Connection: close\r\n"
    "\r\n"
    "retry: 2000\n\n";

/// The id of a request: the client's `X-Request-ID` when it is a sane
/// token (so it can be grepped for and cannot forge log lines), else a
/// fresh random one.
std::string pick_request_id(std::string_view given) {
  auto ok = !given.empty() && given.size() <= 128;
  for (char c : given)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
          || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':'
          || c == '-'))
      ok = false;
  if (ok)
    return std::string{given};
  unsigned char bytes[12];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1)
    return "req-unknown";
  std::string result = "req-";
  static constexpr char hex[] = "0123456789abcdef";
  for (auto b : bytes) {
    result += hex[b >> 4];
    result += hex[b & 0x0f];
  }
  return result;
}

/// Largest message a WebSocket client may send us (we read none; pings
/// and close frames are tiny).
constexpr size_t max_ws_message = 4096;

class session;

/// One I/O thread: its io_context, CAF bridge, router and connections.
struct io_unit {
  asio::io_context ioc{1};
  std::optional<work_guard> guard;
  std::unique_ptr<common::asio_bridge> bridge;
  std::unique_ptr<router> routes;
  http_metrics::cache metrics_cache;
  /// Owns every open connection; actor callbacks only hold weak pointers,
  /// so closing a connection here frees it even with requests in flight.
  std::unordered_set<std::shared_ptr<session>> sessions;
  bool stopping = false;
  std::thread thread;
};

http_method to_method(bhttp::verb x) {
  switch (x) {
    case bhttp::verb::get:
      return http_method::get;
    case bhttp::verb::post:
      return http_method::post;
    case bhttp::verb::head:
      return http_method::head;
    case bhttp::verb::put:
      return http_method::put;
    case bhttp::verb::delete_:
      return http_method::del;
    case bhttp::verb::patch:
      return http_method::patch;
    case bhttp::verb::options:
      return http_method::options;
    default:
      return http_method::other;
  }
}

std::string_view view(beast::string_view x) {
  return {x.data(), x.size()};
}

/// Returns the rate-limiting key of `addr` (see `client_address`): the
/// same key the connection gate counts by.
client_address client_key(const asio::ip::address& addr) {
  static_assert(std::is_same_v<client_address, common::conn_key>);
  return common::make_conn_key(addr);
}

/// The route code's handle on a streaming session; forwards while the
/// session lives.
class session_sink final : public event_sink {
public:
  explicit session_sink(std::weak_ptr<session> s) : session_(std::move(s)) {
    // nop
  }

  bool send(std::string_view id, std::string_view name,
            std::string_view data) override;
  bool heartbeat() override;
  std::chrono::steady_clock::time_point stalled_since() const override;
  bool closed() const override;
  void finish() override;
  void abort() override;

private:
  std::weak_ptr<session> session_;
};

/// One client connection: reads a request, lets the router answer it,
/// writes the response, repeats while keep-alive holds. A request may turn
/// the connection into an event stream (SSE or WebSocket) until it ends.
class session final : public exchange,
                      public std::enable_shared_from_this<session> {
public:
  session(const api_state& state, io_unit& unit, tcp::socket sock,
          const common::trusted_proxies& proxies,
          common::connection_gate::slot slot)
    : state_(state), unit_(unit), stream_(std::move(sock)), proxies_(proxies),
      slot_(std::move(slot)) {
    // Once per connection: the address does not change between requests.
    beast::error_code ec;
    auto peer = stream_.socket().remote_endpoint(ec);
    if (!ec) {
      peer_ = peer.address();
      has_peer_ = true;
      client_ = client_key(peer_);
      try {
        client_name_ = peer_.to_string();
      } catch (const std::exception&) {
        // Leaves the name empty: the key still works.
      }
    }
    if (client_name_.empty())
      client_name_ = "unknown";
    behind_proxy_ = has_peer_ && !proxies_.empty() && proxies_.contains(peer_);
  }

  void start() {
    read_header();
  }

  void respond(http_response&& r) override {
    if (phase_ != phase::handling)
      return;
    busy_.reset();
    phase_ = phase::writing;
    auto elapsed = std::chrono::duration<double>(
                     std::chrono::steady_clock::now() - started_)
                     .count();
    state_.metrics.observe_request(unit_.metrics_cache, route_, request_.method,
                                   r.status, elapsed);
    if (unit_.stopping)
      keep_alive_ = false;
    res_ = {};
    res_.version(11);
    res_.result(r.status);
    res_.set(bhttp::field::content_type,
             beast::string_view{r.content_type.data(), r.content_type.size()});
    if (!r.allow.empty())
      res_.set(bhttp::field::allow,
               beast::string_view{r.allow.data(), r.allow.size()});
    if (r.challenge)
      res_.set(bhttp::field::www_authenticate, "Bearer");
    if (r.retry_after > 0)
      res_.set(bhttp::field::retry_after, std::to_string(r.retry_after));
    res_.set("X-Content-Type-Options", "nosniff");
    if (!r.csp.empty()) {
      res_.set("Content-Security-Policy",
               beast::string_view{r.csp.data(), r.csp.size()});
      res_.set("Referrer-Policy", "no-referrer");
    }
    if (!r.cache_control.empty())
      res_.set(bhttp::field::cache_control,
               beast::string_view{r.cache_control.data(),
                                  r.cache_control.size()});
    if (!request_id_.empty())
      res_.set("X-Request-ID", request_id_);
    res_.keep_alive(keep_alive_);
    if (request_.method == http_method::head) {
      // A HEAD answer announces the length but carries no body.
      res_.content_length(r.body.size());
    } else {
      res_.body() = std::move(r.body);
      res_.prepare_payload();
    }
    stream_.expires_after(state_.config.idle_timeout);
    bhttp::async_write(
      stream_, res_, [self = shared_from_this()](beast::error_code ec, size_t) {
        self->on_write(ec);
      });
  }

  std::shared_ptr<event_sink> open_stream(stream_kind kind) override {
    // Not while stopping: a stream would outlive stop()'s sweep of the
    // connections and hold it for the whole grace period.
    if (phase_ != phase::handling || unit_.stopping)
      return nullptr;
    if (kind == stream_kind::websocket
        && !beast::websocket::is_upgrade(parser_->get()))
      return nullptr;
    busy_.reset();
    auto elapsed = std::chrono::duration<double>(
                     std::chrono::steady_clock::now() - started_)
                     .count();
    state_.metrics.observe_request(unit_.metrics_cache, route_, request_.method,
                                   kind == stream_kind::sse ? 200 : 101,
                                   elapsed);
    phase_ = phase::streaming;
    kind_ = kind;
    // Streams have no deadline of their own: the route code drops one that
    // stalls (see `event_sink::stalled_since`), heartbeats find dead peers.
    stream_.expires_never();
    if (kind == stream_kind::sse) {
      std::string head{sse_head};
      // The request id goes with the other fields, before the blank line.
      head.insert(head.find("\r\n\r\n") + 2,
                  "X-Request-ID: " + request_id_ + "\r\n");
      out_bytes_ = head.size();
      out_.emplace_back(std::chrono::steady_clock::now(), std::move(head));
      flush();
      read_while_streaming();
    } else {
      namespace ws = beast::websocket;
      ws_.emplace(stream_);
      ws_->set_option(ws::stream_base::timeout::suggested(
        beast::role_type::server));
      ws_->read_message_max(max_ws_message);
      ws_->async_accept(parser_->get(),
                        [self = shared_from_this()](beast::error_code ec) {
                          if (self->phase_ == phase::closed)
                            return;
                          if (ec) {
                            self->close();
                            return;
                          }
                          self->ws_open_ = true;
                          self->read_while_streaming();
                          self->flush();
                          // Finished before the handshake was done: end
                          // once what was queued went out.
                          if (self->finishing_ && !self->writing_)
                            self->end_stream();
                        });
    }
    return std::make_shared<session_sink>(weak_from_this());
  }

  // -- the event stream (see `event_sink`) ----------------------------------

  bool stream_send(std::string_view id, std::string_view name,
                   std::string_view data) {
    if (phase_ != phase::streaming || finishing_)
      return false;
    std::string frame;
    if (kind_ == stream_kind::sse) {
      frame.reserve(id.size() + name.size() + data.size() + 24);
      frame += "id: ";
      frame += id;
      frame += "\nevent: ";
      frame += name;
      frame += "\ndata: ";
      frame += data;
      frame += "\n\n";
    } else {
      frame.reserve(id.size() + name.size() + data.size() + 32);
      frame += R"({"id":")";
      frame += id;
      frame += R"(","event":")";
      frame += name;
      frame += R"(","data":)";
      frame += data;
      frame += '}';
    }
    return enqueue(std::move(frame));
  }

  bool stream_heartbeat() {
    if (phase_ != phase::streaming || finishing_)
      return false;
    if (kind_ == stream_kind::websocket)
      return true;
    return enqueue(": keep-alive\n\n");
  }

  std::chrono::steady_clock::time_point stream_stalled_since() const {
    // When the oldest byte not yet written was queued.
    if (writing_)
      return inflight_since_;
    return out_.empty() ? std::chrono::steady_clock::time_point{}
                        : out_.front().first;
  }

  bool stream_closed() const {
    return phase_ != phase::streaming;
  }

  void stream_finish() {
    if (phase_ != phase::streaming || finishing_)
      return;
    finishing_ = true;
    // A WebSocket still shaking hands ends in the handshake's handler.
    if (kind_ == stream_kind::websocket && !ws_open_)
      return;
    if (!writing_) {
      end_stream();
      return;
    }
    // Nobody checks for stalls after the end (the feed is done): a client
    // that never reads the last events must not hold the connection. A
    // timer of its own: the stream's deadline may not change while a read
    // (the one that notices the client leaving) and a write are both
    // pending (Beast asserts it).
    if (kind_ == stream_kind::sse) {
      finish_timer_.emplace(stream_.get_executor());
      finish_timer_->expires_after(state_.config.stream_stall_timeout);
      finish_timer_->async_wait(
        [self = shared_from_this()](beast::error_code ec) {
          if (!ec && self->phase_ == phase::streaming)
            self->close();
        });
    }
  }

  /// Closes the connection if it waits for a new request, or streams
  /// events (shutdown).
  void close_if_idle() {
    if ((phase_ == phase::reading_header && !parser_->got_some()
         && buffer_.size() == 0)
        || phase_ == phase::streaming)
      close();
  }

  /// Closes the socket and forgets the connection.
  void close() {
    if (phase_ == phase::closed)
      return;
    phase_ = phase::closed;
    busy_.reset();
    if (finish_timer_)
      finish_timer_->cancel();
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
    slot_ = {};
    unit_.sessions.erase(shared_from_this());
  }

private:
  enum class phase {
    reading_header,
    reading_body,
    handling,
    writing,
    draining,
    streaming,
    closed,
  };

  // Queues a frame of the stream; drops a client over `max_unsent`.
  bool enqueue(std::string frame) {
    if (out_bytes_ + frame.size() > event_sink::max_unsent) {
      close();
      return false;
    }
    out_bytes_ += frame.size();
    out_.emplace_back(std::chrono::steady_clock::now(), std::move(frame));
    flush();
    return true;
  }

  // Writes what is queued: SSE frames all at once, WebSocket messages one
  // by one (once the handshake is done).
  void flush() {
    if (writing_ || out_.empty() || phase_ != phase::streaming)
      return;
    if (kind_ == stream_kind::websocket && !ws_open_)
      return;
    writing_ = true;
    wbuf_.clear();
    inflight_since_ = out_.front().first;
    if (kind_ == stream_kind::sse) {
      for (auto& x : out_)
        wbuf_ += x.second;
      out_.clear();
      asio::async_write(stream_, asio::buffer(wbuf_),
                        [self = shared_from_this()](beast::error_code ec,
                                                    size_t) {
                          self->on_stream_write(ec);
                        });
      return;
    }
    wbuf_ = std::move(out_.front().second);
    out_.pop_front();
    ws_->text(true);
    ws_->async_write(asio::buffer(wbuf_),
                     [self = shared_from_this()](beast::error_code ec,
                                                 size_t) {
                       self->on_stream_write(ec);
                     });
  }

  void on_stream_write(beast::error_code ec) {
    writing_ = false;
    if (phase_ != phase::streaming)
      return;
    if (ec) {
      close();
      return;
    }
    out_bytes_ -= std::min(out_bytes_, wbuf_.size());
    wbuf_.clear();
    if (!out_.empty()) {
      flush();
      return;
    }
    if (finishing_)
      end_stream();
  }

  // Everything went out: closes the stream (a WebSocket with a close frame).
  void end_stream() {
    if (kind_ == stream_kind::websocket && ws_open_) {
      writing_ = true;
      ws_->async_close(beast::websocket::close_code::normal,
                       [self = shared_from_this()](beast::error_code) {
                         self->close();
                       });
      return;
    }
    close();
  }

  // While a stream runs, reads only to notice the client leaving (and, for
  // a WebSocket, to answer pings and see the close frame); what the client
  // sends is ignored.
  void read_while_streaming() {
    auto next = [self = shared_from_this()](beast::error_code ec, size_t) {
      if (self->phase_ != phase::streaming)
        return;
      if (ec) {
        self->close();
        return;
      }
      self->read_while_streaming();
    };
    if (kind_ == stream_kind::websocket) {
      ws_buf_.clear();
      ws_->async_read(ws_buf_, std::move(next));
      return;
    }
    buffer_.clear();
    stream_.async_read_some(buffer_.prepare(1024), std::move(next));
  }

  void read_header() {
    if (unit_.stopping) {
      close();
      return;
    }
    phase_ = phase::reading_header;
    request_ = http_request{};
    request_id_.clear();
    route_ = route::unmatched;
    parser_.emplace();
    // One budget for the request line and the fields; both are checked
    // separately once the header is in.
    parser_->header_limit(static_cast<uint32_t>(header_budget));
    parser_->body_limit(state_.config.max_body_bytes);
    // One deadline for the whole request (header and body), not one per
    // read: a client dribbling bytes cannot keep a connection (slowloris).
    stream_.expires_after(state_.config.idle_timeout);
    scan_header();
  }

  /// Reads until the header block is complete (or over the budget) and
  /// checks its framing on the raw bytes, before Beast's parser sees them:
  /// Beast accepts duplicate Content-Length values, obs-fold lines and
  /// unknown transfer-codings before `chunked`.
  void scan_header() {
    auto data = buffer_.data();
    std::string_view text{static_cast<const char*>(data.data()), data.size()};
    if (auto n = common::header_block_size(text); n > 0) {
      if (auto err = common::check_framing(text.substr(0, n))) {
        fail(err->status, err->code, err->detail);
        return;
      }
      parse_header();
      return;
    }
    if (text.size() >= header_budget) {
      parse_header();
      return;
    }
    stream_.async_read_some(
      buffer_.prepare(4096),
      [self = shared_from_this()](beast::error_code ec, size_t n) {
        if (self->phase_ == phase::closed)
          return;
        if (ec) {
          self->on_read_error(ec);
          return;
        }
        self->buffer_.commit(n);
        self->scan_header();
      });
  }

  void parse_header() {
    bhttp::async_read_header(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code ec, size_t) {
        self->on_header(ec);
      });
  }

  void on_header(beast::error_code ec) {
    if (phase_ == phase::closed)
      return;
    if (ec) {
      on_read_error(ec);
      return;
    }
    auto& req = parser_->get();
    request_.method = to_method(req.method());
    if (req.target().size() > max_target_bytes) {
      fail(414, "uri_too_long",
           "request target longer than 8 KiB; shorten the URL");
      return;
    }
    size_t field_bytes = 0;
    for (auto& field : req)
      field_bytes += field.name_string().size() + field.value().size() + 4;
    if (field_bytes > max_field_bytes) {
      fail(431, "header_too_large",
           "request header fields larger than 16 KiB; send fewer or "
           "smaller headers");
      return;
    }
    if (parser_->is_done()) {
      handle();
      return;
    }
    phase_ = phase::reading_body;
    auto expect = req[bhttp::field::expect];
    if (!expect.empty() && common::iequals(view(expect), "100-continue")) {
      asio::async_write(
        stream_, asio::buffer(continue_line.data(), continue_line.size()),
        [self = shared_from_this()](beast::error_code ec, size_t) {
          if (ec)
            self->close();
          else
            self->read_body();
        });
      return;
    }
    read_body();
  }

  void read_body() {
    bhttp::async_read(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code ec, size_t) {
        if (self->phase_ == phase::closed)
          return;
        if (ec)
          self->on_read_error(ec);
        else
          self->handle();
      });
  }

  void on_read_error(beast::error_code ec) {
    if (ec == bhttp::error::header_limit) {
      // A request line that alone exceeds the budget is a target too long
      // (414), not a header too large (431). Beast parses the request line
      // as soon as it is complete; if it did, the target tells. If it did
      // not, nothing was consumed and the buffer still starts with it.
      auto target = parser_->get().target();
      bool long_line = false;
      if (!target.empty()) {
        long_line = target.size() > max_target_bytes;
      } else {
        auto data = buffer_.data();
        std::string_view head{static_cast<const char*>(data.data()),
                              data.size()};
        // Method, blanks and "HTTP/1.1" take well under 64 bytes.
        constexpr size_t max_line = max_target_bytes + 64;
        auto eol = head.find('\n');
        long_line = eol == std::string_view::npos ? head.size() > max_line
                                                  : eol > max_line;
      }
      if (long_line) {
        fail(414, "uri_too_long",
             "request target longer than 8 KiB; shorten the URL");
        return;
      }
      fail(431, "header_too_large",
           "request header larger than 24 KiB; send fewer or smaller "
           "headers and a target under 8 KiB");
    } else if (ec == bhttp::error::body_limit) {
      fail(413, "payload_too_large",
           "request body larger than "
             + std::to_string(state_.config.max_body_bytes) + " bytes");
    } else if (ec.category()
                 == bhttp::make_error_code(bhttp::error::bad_target).category()
               && ec != bhttp::error::end_of_stream
               && ec != bhttp::error::partial_message) {
      fail(400, "bad_request", "malformed HTTP request: " + ec.message());
    } else {
      // Peer closed, reset, timed out, or we closed it: nobody to answer.
      close();
    }
  }

  // Answers a request we could not read completely, then closes.
  void fail(unsigned status, std::string_view code, std::string_view detail) {
    keep_alive_ = false;
    phase_ = phase::handling;
    started_ = std::chrono::steady_clock::now();
    http_response res;
    res.status = status;
    res.body = error_json(code, detail);
    respond(std::move(res));
  }

  void handle() {
    auto& req = parser_->get();
    keep_alive_ = req.keep_alive();
    auto target = view(req.target());
    auto q = target.find('?');
    request_.path = target.substr(0, q);
    if (q != std::string_view::npos)
      request_.query = target.substr(q + 1);
    request_.authorization = view(req[bhttp::field::authorization]);
    request_.content_type = view(req[bhttp::field::content_type]);
    request_.signature = view(req["X-Vidflow-Signature"]);
    request_.idempotency_key = view(req["Idempotency-Key"]);
    request_.idempotency_keys = req.count("Idempotency-Key");
    request_.last_event_id = view(req["Last-Event-ID"]);
    request_id_ = pick_request_id(view(req["X-Request-ID"]));
    request_.request_id = request_id_;
    request_.websocket_upgrade = beast::websocket::is_upgrade(req);
    request_.body = req.body();
    request_.client = client_;
    request_.client_name = client_name_;
    if (behind_proxy_) {
      // The proxy's peer is the client: believe X-Forwarded-For, but only
      // as far as it was written by proxies we trust.
      std::string forwarded;
      auto range = req.equal_range("X-Forwarded-For");
      for (auto i = range.first; i != range.second; ++i) {
        if (!forwarded.empty())
          forwarded += ',';
        forwarded.append(i->value().data(), i->value().size());
      }
      auto addr = proxies_.client_of(peer_, forwarded);
      request_.client = client_key(addr);
      try {
        forwarded_name_ = addr.to_string();
      } catch (const std::exception&) {
        forwarded_name_ = "unknown";
      }
      request_.client_name = forwarded_name_;
    }
    phase_ = phase::handling;
    started_ = std::chrono::steady_clock::now();
    stream_.expires_never();
    // Actor replies are not Asio work: keep the io_context running until
    // this request was answered.
    busy_.emplace(unit_.ioc.get_executor());
    unit_.routes->handle(shared_from_this());
  }

  void on_write(beast::error_code ec) {
    if (phase_ == phase::closed)
      return;
    if (ec) {
      close();
      return;
    }
    if (keep_alive_) {
      read_header();
      return;
    }
    // Half-close and drain, so a peer still sending (e.g. an oversized
    // body) reads our answer instead of a connection reset.
    phase_ = phase::draining;
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    drained_ = 0;
    stream_.expires_after(drain_timeout);
    drain();
  }

  void drain() {
    buffer_.clear();
    stream_.async_read_some(
      buffer_.prepare(16 * 1024),
      [self = shared_from_this()](beast::error_code ec, size_t n) {
        if (self->phase_ == phase::closed)
          return;
        self->drained_ += n;
        if (ec || self->drained_ >= max_drain_bytes)
          self->close();
        else
          self->drain();
      });
  }

  const api_state& state_;
  io_unit& unit_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  bhttp::response<bhttp::string_body> res_;
  phase phase_ = phase::reading_header;
  bool keep_alive_ = true;
  size_t drained_ = 0;
  client_address client_{};
  std::string client_name_;
  const common::trusted_proxies& proxies_;
  /// This connection's place under the connection limits.
  common::connection_gate::slot slot_;
  asio::ip::address peer_;
  bool has_peer_ = false;
  /// Whether the peer is a trusted proxy (see `api_config::trusted_proxies`).
  bool behind_proxy_ = false;
  /// The client named by `X-Forwarded-For` for the current request.
  std::string forwarded_name_;
  std::chrono::steady_clock::time_point started_;
  std::optional<work_guard> busy_;
  /// The current request's id (see `http_request::request_id`).
  std::string request_id_;
  // -- event streams --------------------------------------------------------
  stream_kind kind_ = stream_kind::sse;
  /// The WebSocket over `stream_` (WebSocket streams only).
  std::optional<beast::websocket::stream<beast::tcp_stream&>> ws_;
  beast::flat_buffer ws_buf_;
  bool ws_open_ = false;
  /// Frames queued and not yet being written, and the bytes of all frames
  /// not written yet (queued and in flight).
  std::deque<std::pair<std::chrono::steady_clock::time_point, std::string>>
    out_;
  size_t out_bytes_ = 0;
  /// The frame(s) being written.
  std::string wbuf_;
  bool writing_ = false;
  bool finishing_ = false;
  /// Ends a finished SSE stream whose client does not read its last events.
  std::optional<asio::steady_timer> finish_timer_;
  /// When the oldest frame of the write in flight was queued.
  std::chrono::steady_clock::time_point inflight_since_;
};

bool session_sink::send(std::string_view id, std::string_view name,
                        std::string_view data) {
  auto s = session_.lock();
  return s && s->stream_send(id, name, data);
}

bool session_sink::heartbeat() {
  auto s = session_.lock();
  return s && s->stream_heartbeat();
}

std::chrono::steady_clock::time_point session_sink::stalled_since() const {
  auto s = session_.lock();
  return s ? s->stream_stalled_since()
           : std::chrono::steady_clock::time_point{};
}

bool session_sink::closed() const {
  auto s = session_.lock();
  return !s || s->stream_closed();
}

void session_sink::finish() {
  if (auto s = session_.lock())
    s->stream_finish();
}

void session_sink::abort() {
  if (auto s = session_.lock())
    s->close();
}

} // namespace

struct api_server::impl {
  caf::actor_system& sys;
  api_config config;
  api_handles handles;
  std::shared_ptr<prometheus::Registry> registry;
  std::unique_ptr<api_state> state;
  std::vector<std::unique_ptr<io_unit>> units;
  std::optional<tcp::acceptor> acceptor;
  std::optional<asio::steady_timer> accept_retry;
  /// Connection limits (total and per client).
  std::shared_ptr<common::connection_gate> gate;
  /// Proxies whose X-Forwarded-For is believed; exempt from the per-client
  /// connection cap (they carry many clients).
  common::trusted_proxies proxies;
  /// Waits and log throttling when accept fails (out of descriptors).
  common::accept_backoff backoff;
  /// Refused connections lingering until the client read the answer.
  std::shared_ptr<common::refusal_budget> refusals
    = std::make_shared<common::refusal_budget>();
  /// Last time a refusal was logged (at most one line per 5 s).
  std::optional<std::chrono::steady_clock::time_point> last_refusal_log;
  size_t refused_since_log = 0;
  size_t next_unit = 0;
  uint16_t port = 0;
  bool running = false;
  bool used = false;
  std::mutex mtx;
  std::condition_variable cv;
  size_t finished = 0;

  impl(caf::actor_system& sys, api_config cfg, api_handles hdl,
       std::shared_ptr<prometheus::Registry> reg)
    : sys(sys), config(std::move(cfg)), handles(std::move(hdl)),
      registry(std::move(reg)) {
    if (!registry)
      registry = std::make_shared<prometheus::Registry>();
  }

  void log(const std::string& line) {
    if (config.log)
      config.log(line);
  }

  std::string where() const {
    return config.host + ":" + std::to_string(config.port);
  }

  caf::error validate() const {
    using messages::errc;
    auto bad = [](std::string msg) {
      return messages::make_error(errc::invalid_argument, std::move(msg));
    };
    if (config.jwt_secret.empty())
      return bad("http api: jwt_secret must not be empty");
    if (config.threads == 0 || config.threads > 256)
      return bad("http api: threads must be between 1 and 256");
    if (!config.presign_upload)
      return bad("http api: presign_upload is not set");
    if (!config.parse_webhook)
      return bad("http api: parse_webhook is not set");
    if (config.max_body_bytes == 0)
      return bad("http api: max_body_bytes must be positive");
    if (!config.webhook_token.empty() && !handles.events)
      return bad("http api: a webhook token is set but no event sink "
                 "(handles.events) takes the events");
    if (!std::isfinite(config.rate_limit) || config.rate_limit < 0
        || config.rate_limit > 1e9)
      return bad("http api: rate_limit must be between 0 (off) and 1e9 "
                 "requests per second");
    if (config.rate_burst > 1'000'000'000)
      return bad("http api: rate_burst must be at most 1e9");
    if (config.max_connections == 0)
      return bad("http api: max_connections must be positive");
    if (config.max_streams == 0 || config.max_streams_per_user == 0)
      return bad("http api: max_streams and max_streams_per_user must be "
                 "positive");
    if (config.stream_interval < std::chrono::milliseconds{250})
      return bad("http api: stream_interval must be at least 250 ms (at "
                 "most 4 progress events per second)");
    if (config.idle_timeout.count() <= 0)
      return bad("http api: idle_timeout must be positive");
    common::trusted_proxies probe;
    std::string why;
    if (!probe.parse(config.trusted_proxies, why))
      return bad("http api: trusted_proxies: " + why);
    for (auto& u : config.users) {
      if (u.name.empty())
        return bad("http api: a user has an empty name");
      if (!u.role.empty() && u.role != "user" && u.role != "admin")
        return bad("http api: user '" + u.name + "' has role '" + u.role
                   + "'; use 'user' or 'admin'");
    }
    return caf::none;
  }

  caf::error listen() {
    auto& ioc = units.front()->ioc;
    beast::error_code ec;
    tcp::resolver resolver{ioc};
    auto results = resolver.resolve(config.host, std::to_string(config.port),
                                    tcp::resolver::passive, ec);
    if (ec || results.empty())
      return caf::make_error(caf::sec::cannot_open_port,
                             "http api: cannot resolve " + where() + ": "
                               + ec.message());
    auto ep = results.begin()->endpoint();
    acceptor.emplace(ioc);
    auto failed = [&](const char* what) {
      auto msg = "http api: cannot " + std::string{what} + " " + where() + ": "
                 + ec.message();
      acceptor.reset();
      return caf::make_error(caf::sec::cannot_open_port, std::move(msg));
    };
    if (acceptor->open(ep.protocol(), ec); ec)
      return failed("open a socket for");
    if (acceptor->set_option(asio::socket_base::reuse_address{true}, ec); ec)
      return failed("set SO_REUSEADDR on");
    if (acceptor->bind(ep, ec); ec)
      return failed("bind");
    if (acceptor->listen(asio::socket_base::max_listen_connections, ec); ec)
      return failed("listen on");
    port = acceptor->local_endpoint(ec).port();
    return caf::none;
  }

  void accept() {
    auto& target = *units[next_unit++ % units.size()];
    acceptor->async_accept(
      target.ioc, [this, &target](beast::error_code ec, tcp::socket sock) {
        if (ec == asio::error::operation_aborted || !acceptor->is_open())
          return;
        if (ec) {
          // E.g. out of file descriptors: back off (longer while it goes
          // on) instead of spinning, and log once per interval.
          std::string line;
          auto wait = backoff.failed(ec.message(),
                                     std::chrono::steady_clock::now(), line);
          if (!line.empty())
            log("http api: WARN " + line);
          accept_retry->expires_after(wait);
          accept_retry->async_wait([this](beast::error_code ec) {
            if (!ec && acceptor->is_open())
              accept();
          });
          return;
        }
        backoff.succeeded();
        admit(target, std::move(sock));
        accept();
      });
  }

  /// Runs the connection limits on an accepted socket (acceptor thread):
  /// a connection over a limit is answered 503 at once and closed.
  void admit(io_unit& target, tcp::socket sock) {
    beast::error_code ec;
    auto peer = sock.remote_endpoint(ec);
    if (ec) {
      sock.close(ec);
      return;
    }
    auto addr = peer.address();
    common::connection_gate::slot slot;
    auto verdict = common::connection_gate::try_enter(
      gate, common::make_conn_key(addr), proxies.contains(addr), slot);
    if (verdict == common::connection_gate::verdict::ok) {
      asio::post(target.ioc, [this, &target, s = std::move(sock),
                              slot = std::move(slot)]() mutable {
        open_session(target, std::move(s), std::move(slot));
      });
      return;
    }
    bool per_client = verdict == common::connection_gate::verdict::client_full;
    note_refusal(per_client, addr);
    auto response = per_client ? refusal(true) : refusal(false);
    asio::post(target.ioc, [s = std::move(sock), response,
                            budget = refusals]() mutable {
      common::refuse_connection(std::move(s), response, budget);
    });
  }

  /// The fixed answer to a connection over a limit.
  static std::shared_ptr<const std::string> refusal(bool per_client) {
    auto make = [](std::string_view detail) {
      auto body = error_json("too_many_connections", detail);
      return std::make_shared<const std::string>(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: "
        "application/json\r\nRetry-After: 1\r\nConnection: "
        "close\r\nContent-Length: "
        + std::to_string(body.size()) + "\r\n\r\n" + body);
    };
    static const auto client = make(
      "too many open connections from this address; close idle "
      "connections or retry later");
    static const auto total = make(
      "the server has too many open connections; retry later");
    return per_client ? client : total;
  }

  void note_refusal(bool per_client, const asio::ip::address& addr) {
    ++refused_since_log;
    auto now = std::chrono::steady_clock::now();
    if (last_refusal_log && now - *last_refusal_log < std::chrono::seconds{5})
      return;
    last_refusal_log = now;
    std::string who;
    try {
      who = addr.to_string();
    } catch (const std::exception&) {
      who = "unknown";
    }
    log("http api: WARN refused " + std::to_string(refused_since_log)
        + " connection(s) over the limit (last: "
        + (per_client ? "client " + who + " holds "
                          + std::to_string(config.max_connections_per_client)
                          + " connections"
                      : std::to_string(config.max_connections)
                          + " connections open in total")
        + ")");
    refused_since_log = 0;
  }

  void open_session(io_unit& unit, tcp::socket sock,
                    common::connection_gate::slot slot) {
    beast::error_code ec;
    if (unit.stopping) {
      sock.close(ec);
      return;
    }
    sock.set_option(tcp::no_delay{true}, ec);
    auto s = std::make_shared<session>(*state, unit, std::move(sock), proxies,
                                       std::move(slot));
    unit.sessions.insert(s);
    s->start();
  }

  void run(io_unit& unit) {
    for (;;) {
      try {
        unit.ioc.run();
        break;
      } catch (const std::exception& e) {
        // A handler threw past every guard; keep serving the others.
        log(std::string{"http api: I/O thread caught: "} + e.what());
      } catch (...) {
        log("http api: ERROR I/O thread caught an unknown exception");
      }
    }
    std::lock_guard<std::mutex> guard{mtx};
    ++finished;
    cv.notify_all();
  }

  caf::error start() {
    if (used)
      return messages::make_error(messages::errc::conflict,
                                  "http api: start() was called before");
    used = true;
    if (auto err = validate())
      return err;
    try {
      state = std::make_unique<api_state>(config, handles, registry);
    } catch (const std::exception& e) {
      return messages::make_error(messages::errc::invalid_argument,
                                  std::string{"http api: metrics: "}
                                    + e.what());
    }
    gate = std::make_shared<common::connection_gate>(
      config.max_connections, config.max_connections_per_client);
    {
      std::string why;
      proxies.parse(config.trusted_proxies, why);
    }
    for (size_t i = 0; i < config.threads; ++i)
      units.push_back(std::make_unique<io_unit>());
    if (auto err = listen()) {
      units.clear();
      return err;
    }
    try {
      for (auto& unit : units) {
        unit->bridge = std::make_unique<common::asio_bridge>(sys, unit->ioc);
        unit->routes
          = std::make_unique<router>(*state, *unit->bridge, unit->ioc);
        unit->guard.emplace(unit->ioc.get_executor());
      }
    } catch (const std::exception& e) {
      teardown();
      return messages::make_error(messages::errc::internal,
                                  std::string{"http api: "} + e.what());
    }
    accept_retry.emplace(units.front()->ioc);
    accept();
    running = true;
    for (auto& unit : units)
      unit->thread = std::thread{[this, u = unit.get()] {
        common::name_this_thread("vf.api");
        run(*u);
      }};
    log("http api: listening on " + config.host + ":" + std::to_string(port)
        + " with " + std::to_string(units.size()) + " I/O thread(s)");
    return caf::none;
  }

  void stop() {
    if (!running) {
      teardown();
      return;
    }
    running = false;
    asio::post(units.front()->ioc, [this] {
      beast::error_code ec;
      acceptor->close(ec);
      accept_retry->cancel();
    });
    for (auto& unit : units) {
      asio::post(unit->ioc, [u = unit.get()] {
        u->stopping = true;
        u->guard.reset();
        // close() erases from the set: iterate over a copy.
        std::vector<std::shared_ptr<session>> open{u->sessions.begin(),
                                                   u->sessions.end()};
        for (auto& s : open)
          s->close_if_idle();
      });
    }
    {
      std::unique_lock<std::mutex> guard{mtx};
      cv.wait_for(guard, config.shutdown_grace,
                  [this] { return finished == units.size(); });
    }
    for (auto& unit : units)
      unit->ioc.stop();
    for (auto& unit : units)
      if (unit->thread.joinable())
        unit->thread.join();
    teardown();
    log("http api: stopped");
  }

  // Order matters: connections (sockets) go while their io_context lives;
  // bridges go before the actor system; io_contexts last.
  void teardown() {
    for (auto& unit : units) {
      std::vector<std::shared_ptr<session>> open{unit->sessions.begin(),
                                                 unit->sessions.end()};
      for (auto& s : open)
        s->close();
      unit->sessions.clear();
    }
    acceptor.reset();
    accept_retry.reset();
    for (auto& unit : units) {
      unit->guard.reset();
      unit->bridge.reset();
      unit->routes.reset();
    }
    units.clear();
  }
};

api_server::api_server(caf::actor_system& sys, api_config cfg,
                       api_handles handles,
                       std::shared_ptr<prometheus::Registry> metrics)
  : impl_(std::make_unique<impl>(sys, std::move(cfg),
                                 std::move(handles),
                                 std::move(metrics))) {
  // nop
}

api_server::~api_server() {
  stop();
}

caf::error api_server::start() {
  return impl_->start();
}

uint16_t api_server::port() const {
  return impl_->port;
}

void api_server::stop() {
  impl_->stop();
}

} // namespace vf::adapters::http
