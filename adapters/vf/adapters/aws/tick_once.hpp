// vf/adapters/aws/tick_once.hpp
//
// The self-driven loop of the SQS actors: at most one `tick` pending at a
// time, now or after a delay.

#pragma once

#include "vf/messages/type_ids.hpp"

#include <chrono>

namespace vf::adapters::aws {

/// Sends `tick` to `self` after `delay` unless one is pending already;
/// `pending` is the actor's flag, cleared by its tick handler.
template <class Self>
void tick_once(Self self, bool& pending, std::chrono::milliseconds delay) {
  if (pending)
    return;
  pending = true;
  if (delay.count() <= 0)
    self->send(self, atoms::tick_v);
  else
    self->delayed_send(self, delay, atoms::tick_v);
}

} // namespace vf::adapters::aws
