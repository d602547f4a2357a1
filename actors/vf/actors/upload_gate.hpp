// vf/actors/upload_gate.hpp

#pragma once

#include "caf/typed_event_based_actor.hpp"

#include "vf/messages/dispatcher_actor.hpp"
#include "vf/messages/job_store_actor.hpp"
#include "vf/messages/upload_gate_actor.hpp"

#include <string>

namespace vf::actors {

/// Configuration of the upload gate.
struct upload_gate_config {
  /// The bucket uploads go to; any other bucket is refused.
  std::string bucket = "uploads";
  /// First path segment of every upload key.
  std::string key_prefix = "uploads";
  /// First path segment of every output key (`outputs/<job_id>/<file>`,
  /// see `messages::outputs_prefix`): admitted only while the job renders.
  std::string outputs_prefix = "outputs";
  /// Asked whether the lease an output PUT names is the job's current
  /// render lease (`lease_of`). Null (tests): the job's state decides.
  messages::dispatcher_actor dispatcher;
};

/// Spawn with `sys.spawn(upload_gate, store, cfg)`. Answers from the job
/// store's current record, so it never admits an upload for a job that is
/// past waiting (see `messages::upload_gate_actor`).
messages::upload_gate_actor::behavior_type
upload_gate(messages::upload_gate_actor::pointer self,
            messages::job_store_actor store, upload_gate_config cfg);

} // namespace vf::actors
