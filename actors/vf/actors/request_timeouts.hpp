// vf/actors/request_timeouts.hpp
//
// Request timeouts an actor keeps itself. CAF 0.17.6 sends every timed
// request's deadline to its clock thread (a mutex and a condition variable
// wake it), holds about 190 bytes there until the deadline passes, answered
// or not, and then sends the requester a timeout nobody waits for. With
// ~20 timed requests per job, CAF's message handling took 15-16 % of the
// node's CPU with them and 11 % without, and the node's RSS under load
// was a third lower (docs/performance.md, "Request timeouts off CAF's
// clock").
//
// `ask(self, timeouts, dest, timeout, xs...)` sends with `caf::infinite`
// (no clock entry) and keeps the deadline in the actor's own
// `request_timeouts`, which settles it when the response or error runs. One
// alarm on CAF's clock per actor stands for all of its deadlines: it is set
// for the earliest and, when it fires, fails the overdue requests with
// `sec::request_timeout` (exactly what CAF would have delivered) and is set
// again for the next.

#pragma once

#include "caf/detail/type_traits.hpp"
#include "caf/duration.hpp"
#include "caf/error.hpp"
#include "caf/message_id.hpp"
#include "caf/scheduled_actor.hpp"

#include <cstddef>
#include <cstdint>
#include <unordered_set>
#include <utility>
#include <vector>

namespace vf::actors {

/// The deadlines of the requests one actor sent with `ask`. Belongs to that
/// actor (its state) and is used only from inside it.
class request_timeouts {
public:
  using time_point = caf::actor_clock::time_point;

  /// Starts the clock of the request `self` sent whose response carries
  /// `id`: unless it is settled first, `self` receives `sec::request_timeout`
  /// as its response once `timeout` has passed.
  void track(caf::scheduled_actor* self, caf::message_id id,
             const caf::duration& timeout);

  /// Stops the clock of `id`: its response (or error) arrived.
  void settle(caf::message_id id);

  /// Returns how many requests wait for a response.
  size_t outstanding() const {
    return outstanding_.size();
  }

  /// Returns how many alarms were set on CAF's clock so far.
  uint64_t alarms() const {
    return alarms_;
  }

private:
  struct entry {
    time_point deadline;
    uint64_t id;
  };

  /// Orders the heap so that the earliest deadline is at the front.
  static bool later(const entry& x, const entry& y) {
    return x.deadline > y.deadline;
  }

  /// Drops settled entries from the front of the heap.
  void prune();

  /// Sets the alarm for `at`.
  void arm(caf::scheduled_actor* self, time_point at);

  /// Fails the overdue requests and sets the alarm for the next deadline.
  void expire(caf::scheduled_actor* self);

  /// Deadlines, a min-heap by deadline; settled entries leave lazily.
  std::vector<entry> heap_;
  /// The ids of the requests not settled yet.
  std::unordered_set<uint64_t> outstanding_;
  /// The response id of the alarm in force (0: none).
  uint64_t alarm_ = 0;
  /// When the alarm in force fires.
  time_point alarm_at_;
  uint64_t alarms_ = 0;
};

namespace detail {

template <class F, class Args>
struct settle_then;

// Settles the request, then runs `f`. CAF checks a handler against the
// response type through its signature, so it is spelled out from `f`'s.
template <class F, class... Ts>
struct settle_then<F, caf::detail::type_list<Ts...>> {
  F f;
  request_timeouts* timeouts;
  caf::message_id id;

  void operator()(Ts... xs) {
    timeouts->settle(id);
    f(xs...);
  }
};

template <class G>
struct settle_error {
  G g;
  request_timeouts* timeouts;
  caf::message_id id;

  void operator()(caf::error& err) {
    timeouts->settle(id);
    g(err);
  }
};

} // namespace detail

/// A request sent by `ask`, waiting for its handlers.
template <class Handle>
class timed_response {
public:
  timed_response(Handle h, request_timeouts* timeouts)
    : h_(std::move(h)), timeouts_(timeouts) {
    // nop
  }

  /// Runs `f` with the response or `g` with the error (a timeout too).
  template <class F, class G>
  void then(F f, G g) const {
    if (timeouts_ == nullptr) {
      h_.then(std::move(f), std::move(g));
      return;
    }
    using args = typename caf::detail::get_callable_trait<F>::arg_types;
    auto id = h_.id();
    h_.then(detail::settle_then<F, args>{std::move(f), timeouts_, id},
            detail::settle_error<G>{std::move(g), timeouts_, id});
  }

private:
  Handle h_;
  request_timeouts* timeouts_;
};

/// Sends `xs...` from `self` to `dest` as a request that fails with
/// `sec::request_timeout` after `timeout`, kept in `timeouts` (which must
/// belong to `self`) instead of CAF's clock; `caf::infinite` never times
/// out. Call `then(f, g)` on the result.
template <class Self, class Dest, class Duration, class... Ts>
auto ask(Self* self, request_timeouts& timeouts, const Dest& dest,
         const Duration& timeout, Ts&&... xs) {
  auto h = self->request(dest, caf::infinite, std::forward<Ts>(xs)...);
  caf::duration d{timeout};
  if (!d.valid())
    return timed_response<decltype(h)>{std::move(h), nullptr};
  timeouts.track(self, h.id(), d);
  return timed_response<decltype(h)>{std::move(h), &timeouts};
}

} // namespace vf::actors
