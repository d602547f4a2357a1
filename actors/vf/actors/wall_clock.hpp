// vf/actors/wall_clock.hpp

#pragma once

#include "caf/actor_clock.hpp"

#include <chrono>
#include <cstdint>

namespace vf::actors {

/// Turns an actor's clock into Unix milliseconds. Actors never read the system
/// clock: the runtime anchors this at spawn, tests anchor it at a fixed value
/// and move time with the test clock.
struct wall_clock {
  /// Unix milliseconds at `base`.
  int64_t base_ms = 0;
  /// Actor-clock time at which `base_ms` was taken.
  caf::actor_clock::time_point base;

  /// Returns Unix milliseconds for actor-clock time `now`.
  int64_t at(caf::actor_clock::time_point now) const {
    using namespace std::chrono;
    return base_ms + duration_cast<milliseconds>(now - base).count();
  }
};

} // namespace vf::actors
