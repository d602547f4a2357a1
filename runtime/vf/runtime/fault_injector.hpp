// vf/runtime/fault_injector.hpp

#pragma once

#include "vf/messages/media_actor.hpp"

#include "caf/actor_system.hpp"

#include <cstdint>
#include <string>

namespace vf::runtime {

/// Test-only failure injection (off by default): a media port in front of
/// the real one that fails a share of probes with a chosen error code, so
/// retries, backoff and dead letters can be exercised against the real
/// binary (`testing.fault_rate` > 0), and that aborts the whole process when
/// a probe of an object whose key contains `crash_on` starts, as a decoder
/// crashing on a poison upload would (`testing.crash_on`).
messages::media_actor spawn_fault_injector(caf::actor_system& sys,
                                           messages::media_actor inner,
                                           double rate, std::string code,
                                           uint64_t seed,
                                           std::string crash_on = {});

} // namespace vf::runtime
