// vf/adapters/media/libav_media.hpp

#pragma once

#include "vf/messages/job.hpp"
#include "vf/messages/media_actor.hpp"

#include "caf/actor_system.hpp"
#include "caf/expected.hpp"

#include <chrono>
#include <functional>
#include <string>

namespace vf::adapters::media {

/// Turns an object into a readable local path within `timeout`: the built-in
/// store's file, or a download from MinIO/S3. Supplied by the runtime, which
/// also owns (and removes) any temporary file. Called on the media actor's
/// own thread; may block. Errors: `errc::not_found`,
/// `errc::storage_unavailable`, `errc::timeout`.
using object_resolver = std::function<caf::expected<std::string>(
  const vf::messages::object_ref&, std::chrono::milliseconds timeout)>;

/// Spawns a detached actor (its own thread: libavformat blocks) that
/// implements `vf::messages::media_actor`. `(probe, object, timeout_ms)`
/// resolves the object, then probes it with `probe_file` within what is left
/// of `timeout_ms`, reporting the object's key as `format.filename`. One
/// actor probes one file at a time; spawn one per worker slot.
/// A media actor and the control port that cancels its probes.
struct media_handles {
  vf::messages::media_actor media;
  vf::messages::media_control_actor control;
};

/// Spawns the media actor and its control port (see `media_handles`).
media_handles spawn_media_actor(caf::actor_system& sys,
                                object_resolver resolver);

} // namespace vf::adapters::media
