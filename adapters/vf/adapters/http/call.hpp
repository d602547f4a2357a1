// vf/adapters/http/call.hpp
//
// What a route handler works with: the request (`call`), an answer that may
// come later (`reply`), and requests to actors (`reply::ask`). The chores
// every handler used to repeat live here once: a reply to a connection that
// is gone does nothing; every request's deadline is settled before its
// continuation runs; an error without a special answer goes through the
// error table; an exception in a continuation becomes a 500.

#pragma once

#include "caf/actor.hpp"
#include "caf/detail/type_traits.hpp"
#include "caf/error.hpp"
#include "caf/message_id.hpp"

#include "vf/adapters/common/asio_bridge.hpp"
#include "vf/adapters/common/request_deadlines.hpp"
#include "vf/adapters/http/api_state.hpp"
#include "vf/adapters/http/error_replies.hpp"
#include "vf/adapters/http/exchange.hpp"
#include "vf/adapters/http/jwt.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <utility>

namespace vf::adapters::http {

/// What one I/O thread's handlers share: not thread-safe, each thread has
/// its own.
struct thread_services {
  /// Builds the services of the thread running `ioc` and `bridge`.
  thread_services(const api_state& st, common::asio_bridge& br,
                  boost::asio::io_context& ioc)
    : state(st), bridge(br), ioc(ioc), jwt(st.config.jwt_secret),
      deadlines(br, ioc, st.config.request_timeout) {
    // nop
  }

  /// What all threads share.
  const api_state& state;
  /// Sends requests to actors from this thread.
  common::asio_bridge& bridge;
  /// Runs this thread's handlers and timers.
  boost::asio::io_context& ioc;
  /// Signs and checks tokens.
  jwt_codec jwt;
  /// Times out the requests sent with `reply::ask`.
  common::request_deadlines deadlines;
  /// A detached actor that runs the password KDF (tens of milliseconds of
  /// CPU), so logins never stall the other requests of this I/O thread.
  caf::actor kdf;
  /// Password checks sent to `kdf` and not answered yet: bounded, so a
  /// flood of logins queues neither memory nor minutes of CPU.
  size_t kdf_pending = 0;
  /// A detached actor that makes the API's own calls to the object store
  /// (multipart uploads: blocking HTTP), `(op, bucket, key, arg)` → text.
  caf::actor store_calls;
};

template <class Handle>
class pending;

/// The answer to one exchange, now or later. Copies are cheap and may
/// outlive the exchange: once the client is gone, sending does nothing.
class reply {
public:
  /// Answers `ex`.
  reply(thread_services& io, std::weak_ptr<exchange> ex)
    : io_(&io), ex_(std::move(ex)) {
    // nop
  }

  /// True if the connection is gone and nobody waits for an answer.
  bool gone() const {
    return ex_.expired();
  }

  /// Sends `res` unless the connection is gone.
  void send(http_response&& res) const {
    if (auto ex = ex_.lock())
      ex->respond(std::move(res));
  }

  /// Answers with a stream of events (see `exchange::open_stream`); null
  /// if the connection is gone or answered.
  std::shared_ptr<event_sink> open_stream(stream_kind kind) const {
    if (auto ex = ex_.lock())
      return ex->open_stream(kind);
    return nullptr;
  }

  /// Sends `status` with a JSON `body`.
  void send(unsigned status, std::string body) const {
    send(make_response(status, std::move(body)));
  }

  /// Sends an error `{"detail": detail, "code": code}`, with a
  /// `Retry-After` header when `retry_after` is not zero.
  void error(unsigned status, std::string_view code, std::string_view detail,
             uint32_t retry_after = 0) const {
    auto res = error_response(status, code, detail);
    res.retry_after = retry_after;
    send(std::move(res));
  }

  /// Sends what the error table says for `err`.
  void fail(const caf::error& err) const {
    send(from_error(io_->state, err));
  }

  /// Sends `if_not_found` for `errc::not_found`, else as `fail(err)`.
  void fail(const caf::error& err, http_response&& if_not_found) const;

  /// Runs `f`; an exception becomes a logged 500.
  template <class F>
  void guard(F&& f) const {
    try {
      f();
    } catch (const std::exception& e) {
      failed(e.what());
    } catch (...) {
      failed(nullptr);
    }
  }

  /// What all threads share.
  const api_state& state() const {
    return io_->state;
  }

  /// This thread's services.
  thread_services& services() const {
    return *io_;
  }

  /// Sends a request that times out after `api_config::request_timeout`;
  /// call `then` on the result.
  template <class Dest, class... Ts>
  auto ask(const Dest& dest, Ts&&... xs) const {
    auto h = io_->bridge.self()->request(dest, caf::infinite,
                                         std::forward<Ts>(xs)...);
    // caf::infinite: no CAF clock involved, deadlines times it out instead.
    io_->deadlines.track(h.id());
    return pending<decltype(h)>{std::move(h), *this, true};
  }

  /// Sends a request with its own `timeout` on CAF's clock (for probes and
  /// scrapes that must answer sooner than other requests).
  template <class Dest, class... Ts>
  auto ask_within(caf::timespan timeout, const Dest& dest, Ts&&... xs) const {
    auto h
      = io_->bridge.self()->request(dest, timeout, std::forward<Ts>(xs)...);
    return pending<decltype(h)>{std::move(h), *this, false};
  }

  /// Stops the deadline of request `id`.
  void settle(caf::message_id id) const {
    io_->deadlines.settle(id);
  }

private:
  void failed(const char* what) const;

  thread_services* io_;
  std::weak_ptr<exchange> ex_;
};

/// One request being handled: a `reply` plus the request, the path
/// parameter and, on `user` and `admin` routes, the caller.
class call : public reply {
public:
  /// Handles `ex`, whose path parameter is `param`.
  call(thread_services& io, const std::shared_ptr<exchange>& ex,
       std::string_view param, std::string_view param2 = {})
    : reply(io, ex), request_(ex->request()), param_(param), param2_(param2) {
    // nop
  }

  /// The request; valid while the handler runs, not in continuations.
  const http_request& request() const {
    return request_;
  }

  /// The `{param}` segment of the path; empty if the pattern has none.
  std::string_view param() const {
    return param_;
  }

  /// The `{param}` segment number `i` (0: the first, 1: the second); empty
  /// if the pattern has none there.
  std::string_view param(size_t i) const {
    return i == 0 ? param_ : i == 1 ? param2_ : std::string_view{};
  }

  /// The caller, checked by the router on `user` and `admin` routes; the
  /// role is the account's current one.
  jwt_claims& who() {
    return who_;
  }

private:
  const http_request& request_;
  std::string_view param_;
  std::string_view param2_;
  jwt_claims who_;
};

namespace detail {

template <class F, class Args>
struct on_value;

// Runs `f(reply&, results...)` after settling the request; CAF needs the
// result types spelled out, so they come from `f`'s own signature.
template <class F, class... Ts>
struct on_value<F, caf::detail::type_list<reply&, Ts...>> {
  F f;
  reply r;
  caf::message_id id;
  bool tracked;
  bool always;

  void operator()(Ts... xs) {
    if (tracked)
      r.settle(id);
    if (!always && r.gone())
      return;
    r.guard([&] { f(r, xs...); });
  }
};

template <class G>
struct on_error {
  G g;
  reply r;
  caf::message_id id;
  bool tracked;
  bool always;

  void operator()(caf::error& err) {
    if (tracked)
      r.settle(id);
    if (!always && r.gone())
      return;
    r.guard([&] { g(r, err); });
  }
};

template <class F>
using args_of = typename caf::detail::get_callable_trait<F>::arg_types;

} // namespace detail

/// A request sent by `reply::ask`, waiting for its continuation.
template <class Handle>
class pending {
public:
  /// Wraps `h`, answered through `r`.
  pending(Handle h, reply r, bool tracked)
    : h_(std::move(h)), r_(std::move(r)), tracked_(tracked) {
    // nop
  }

  /// Calls `f(reply&, results...)` with the result; errors go through the
  /// error table. Nothing runs once the connection is gone.
  template <class F>
  void then(F f) const {
    then(std::move(f), [](reply& r, caf::error& err) { r.fail(err); });
  }

  /// Calls `f(reply&, results...)` with the result or `g(reply&, error&)`.
  /// Nothing runs once the connection is gone.
  template <class F, class G>
  void then(F f, G g) const {
    attach(std::move(f), std::move(g), false);
  }

  /// As `then`, but runs also when the connection is gone (the reply then
  /// sends nothing): for continuations with effects beyond the answer.
  template <class F, class G>
  void then_always(F f, G g) const {
    attach(std::move(f), std::move(g), true);
  }

private:
  template <class F, class G>
  void attach(F f, G g, bool always) const {
    auto id = h_.id();
    h_.then(detail::on_value<F, detail::args_of<F>>{std::move(f), r_, id,
                                                    tracked_, always},
            detail::on_error<G>{std::move(g), r_, id, tracked_, always});
  }

  Handle h_;
  reply r_;
  bool tracked_;
};

} // namespace vf::adapters::http
