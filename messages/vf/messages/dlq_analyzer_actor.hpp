// vf/messages/dlq_analyzer_actor.hpp

#pragma once

#include "caf/replies_to.hpp"
#include "caf/typed_actor.hpp"

#include "vf/messages/type_ids.hpp"

#include <string>

namespace vf::messages {

/// Classifies dead letters by error code into incident reports, on a
/// schedule and on demand, and redrives a whole category. Reads records,
/// never removes them.
///
/// - `(analyze, window_ms)` → a fresh report over the records created in
///   the last `window_ms` (0: all records).
/// - `(get)` → the last scheduled report (an empty report before the first).
/// - `(redrive, category)` → how many open records of that category were
///   redriven (each through the orchestrator, so each runs once);
///   `errc::invalid_argument` for an unknown category.
/// - `(tick)`: its own schedule.
///
/// Sent by: the HTTP adapter (admin routes), the admin console.
using dlq_analyzer_actor = caf::typed_actor<
  caf::replies_to<atoms::analyze, int64_t>::with<incident_report>,
  caf::replies_to<atoms::get>::with<incident_report>,
  caf::replies_to<atoms::redrive, std::string>::with<uint64_t>,
  caf::reacts_to<atoms::tick>>;

} // namespace vf::messages
