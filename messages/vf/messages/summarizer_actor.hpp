// vf/messages/summarizer_actor.hpp

#pragma once

#include "caf/replies_to.hpp"
#include "caf/typed_actor.hpp"

#include "vf/messages/type_ids.hpp"

#include <string>

namespace vf::messages {

/// Port: writes a summary of a video from its metadata.
///
/// - `(summarize, filename, metadata_json)` → summary text.
///   Errors: `errc::throttled`, `errc::provider_error`, `errc::timeout`,
///   `errc::invalid_argument` (metadata not JSON).
///
/// Sent by: a worker.
using summarizer_actor = caf::typed_actor<
  caf::replies_to<atoms::summarize, std::string, std::string>::with<
    std::string>>;

} // namespace vf::messages
