// vf/adapters/s3/object_deleter.hpp
//
// Implements `messages::object_deleter_actor` against an S3-compatible
// store: DeleteObject for an upload, ListObjectsV2 plus DeleteObject for a
// job's outputs folder. The store's refusals come back as
// `storage_unavailable` naming the permission to grant, so a user's
// `DELETE /jobs/{id}` says "try again", never "you may not".

#pragma once

#include "caf/actor_system.hpp"

#include "vf/adapters/s3/client.hpp"
#include "vf/messages/retention_actor.hpp"

#include <cstdint>

namespace vf::adapters::s3 {

/// Spawns a detached deleter (each request blocks up to `timeout_ms`).
messages::object_deleter_actor spawn_object_deleter(caf::actor_system& sys,
                                                    client_config cfg,
                                                    int64_t timeout_ms);

} // namespace vf::adapters::s3
