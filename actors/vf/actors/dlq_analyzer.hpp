// vf/actors/dlq_analyzer.hpp

#pragma once

#include "caf/stateful_actor.hpp"
#include "caf/typed_event_based_actor.hpp"

#include "vf/actors/wall_clock.hpp"
#include "vf/messages/dead_letter_store_actor.hpp"
#include "vf/messages/dlq_analyzer_actor.hpp"
#include "vf/messages/orchestrator_actor.hpp"

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace vf::actors {

/// How the analyzer runs.
struct dlq_analyzer_config {
  /// How often the scheduled report is made; 0 disables the schedule.
  std::chrono::milliseconds interval{std::chrono::minutes{5}};
  /// Window of the scheduled report; 0 covers every record.
  std::chrono::milliseconds window{std::chrono::hours{24}};
  /// Samples per category in a report.
  size_t samples = 5;
  /// Records read per analysis at most.
  uint32_t max_records = 100000;
  /// Unix ms at spawn.
  int64_t wall_ms = 0;
  /// Hears each scheduled report that holds records (e.g. to keep it as
  /// an object in the store); must not block.
  std::function<void(const messages::incident_report&)> on_report;
};

/// The categories, in report order.
const std::vector<std::string>& dlq_categories();

/// Returns the category of a dead letter, from its error codes only
/// (never from message text): bad_media, timeout, provider_error,
/// dependency_unavailable, crash, cancelled or unexpected_exception.
std::string classify(const messages::dead_letter& x);

/// Returns what an operator should do about a category.
std::string recommendation(const std::string& category);

/// Builds a report from records (pure; the actor and tests use it).
messages::incident_report
make_report(const std::vector<messages::dead_letter>& records,
            int64_t generated_at, int64_t window_start, size_t samples);

/// State of the analyzer.
struct dlq_analyzer_state {
  static inline const char* name = "vf.dlq-analyzer";

  dlq_analyzer_config cfg;
  wall_clock clock;
  messages::incident_report last;
};

using dlq_analyzer_impl
  = messages::dlq_analyzer_actor::stateful_base<dlq_analyzer_state>;

/// Spawn with `sys.spawn(dlq_analyzer, cfg, store, orchestrator)`.
messages::dlq_analyzer_actor::behavior_type
dlq_analyzer(dlq_analyzer_impl* self, dlq_analyzer_config cfg,
             messages::dead_letter_store_actor store,
             messages::orchestrator_actor orchestrator);

} // namespace vf::actors
