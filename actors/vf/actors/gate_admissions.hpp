// vf/actors/gate_admissions.hpp — what the coordinator's gates for remote
// peers share (the operators' `admin_gate`, the ingestion nodes'
// `intake_gate`): which CAF nodes a signed `admit` let in, until when, and
// passing a request on to the actor behind the gate.

#pragma once

#include "caf/actor_addr.hpp"
#include "caf/actor_control_block.hpp"
#include "caf/error.hpp"
#include "caf/node_id.hpp"

#include "vf/actors/admin_signatures.hpp"
#include "vf/messages/errc.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>

namespace vf::actors {

/// The CAF nodes a gate admitted. An admission lasts until the actor that
/// asked for it goes down (the gate monitors it and calls `forget`; CAF
/// takes a remote actor down when its connection ends), at most
/// `admission_ms`.
class gate_admissions {
public:
  /// How long one admission lasts at most.
  static constexpr int64_t admission_ms = 3'600'000;

  /// True if `sender`'s node is admitted at `now` (Unix ms). Nobody is
  /// exempt, not even a sender that claims to be on this node: CAF 0.17's
  /// BASP takes a routed message's source node on the peer's word.
  bool admitted(const caf::strong_actor_ptr& sender, int64_t now) const {
    if (!sender)
      return false;
    auto i = until_.find(sender->node());
    return i != until_.end() && i->second.until > now;
  }

  /// Admits `sender`'s node until `now + admission_ms` if `mac` is
  /// `sign(payload)` made within a minute of `now` and never used before;
  /// `errc::unauthorized` naming `what` otherwise. The caller monitors the
  /// sender.
  caf::error admit(const caf::strong_actor_ptr& sender,
                   const std::function<std::string(const std::string&)>& sign,
                   const std::string& payload, int64_t at,
                   const std::string& mac, int64_t now,
                   const std::string& what) {
    if (!sender)
      return messages::make_error(messages::errc::unauthorized,
                                  "admit needs a sender");
    if (!signatures_.accept(sign, payload, at, mac, now))
      return messages::make_error(messages::errc::unauthorized,
                                  "the " + what
                                    + " signature is wrong, expired (clocks "
                                      "more than 60 s apart?) or used before");
    until_[sender->node()] = entry{now + admission_ms, sender->address()};
    return {};
  }

  /// Ends the admission `who` asked for, if it is still the node's latest
  /// (a late down message of an earlier connection leaves a new admission
  /// alone).
  void forget(const caf::actor_addr& who) {
    auto i = until_.find(who.node());
    if (i != until_.end() && i->second.by == who)
      until_.erase(i);
  }

private:
  struct entry {
    int64_t until = 0;
    caf::actor_addr by;
  };
  std::map<caf::node_id, entry> until_;
  admin_signatures signatures_;
};

/// Asks `dest` within `timeout` on behalf of the current request of `self`
/// and delivers the answer, or `on_error(error)`, to its sender.
template <class... Rs, class Self, class Handle, class OnError, class... Ts>
auto relay(Self* self, const Handle& dest, std::chrono::seconds timeout,
           OnError on_error, Ts&&... xs) {
  auto rp = self->template make_response_promise<Rs...>();
  self->request(dest, timeout, std::forward<Ts>(xs)...)
    .then([rp](Rs&... ys) mutable { rp.deliver(std::move(ys)...); },
          [rp, on_error](caf::error& err) mutable {
            rp.deliver(on_error(std::move(err)));
          });
  return rp;
}

} // namespace vf::actors
