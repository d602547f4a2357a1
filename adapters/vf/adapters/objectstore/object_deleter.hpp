// vf/adapters/objectstore/object_deleter.hpp
//
// Implements the `object_deleter_actor` port for the built-in store: removes
// `<data_dir>/objects/<bucket>/<key>` and its metadata file, in a detached
// actor (file I/O blocks).

#pragma once

#include "caf/fwd.hpp"

#include "vf/messages/retention_actor.hpp"

#include <string>

namespace vf::adapters::objectstore {

/// Spawns the deleter for the store under `data_dir`. A bucket or key that
/// cannot name an object answers `true` (nothing can be stored there); a
/// missing file counts as deleted.
messages::object_deleter_actor spawn_object_deleter(caf::actor_system& sys,
                                                    std::string data_dir);

} // namespace vf::adapters::objectstore
