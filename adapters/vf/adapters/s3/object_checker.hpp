// vf/adapters/s3/object_checker.hpp
//
// Implements `messages::object_checker_actor` against an S3-compatible
// store (MinIO, s3rver, AWS S3) with SigV4-signed HEAD requests.

#pragma once

#include "vf/adapters/s3/client.hpp"
#include "vf/messages/object_checker_actor.hpp"

#include "caf/actor_system.hpp"

#include <cstdint>

namespace vf::adapters::s3 {

/// Spawns a detached object checker (each HEAD blocks up to `timeout_ms`).
messages::object_checker_actor
spawn_object_checker(caf::actor_system& sys, client_config cfg,
                     int64_t timeout_ms);

} // namespace vf::adapters::s3
