// vf/adapters/http/http_metrics.hpp
//
// The Prometheus families the API owns or refreshes. Looking a labelled
// child up in a family takes a lock and hashes the labels, so each I/O thread
// keeps its own cache of the children it used.

#pragma once

#include "vf/adapters/http/api_server.hpp"
#include "vf/adapters/http/exchange.hpp"
#include "vf/messages/job.hpp"
#include "vf/messages/task.hpp"

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace prometheus {
class Counter;
class Gauge;
class Histogram;
class Registry;
template <class T>
class Family;
} // namespace prometheus

namespace vf::adapters::http {

/// What happened to one object event of a webhook; the `outcome` label of
/// `vidflow_object_events_total`.
enum class event_outcome : uint8_t {
  /// New work for the orchestrator.
  accepted,
  /// Seen before; nothing to do.
  duplicate,
  /// Not an object-created event.
  ignored,
  /// Not ours: a foreign key or an unknown job.
  rejected,
  /// Not recorded (e.g. store unavailable); MinIO will redeliver it. Counted
  /// in `vidflow_object_event_errors_total`, so that the outcomes of
  /// `vidflow_object_events_total` add up to the events finally handled.
  error,
};

/// Number of `event_outcome` values.
constexpr size_t event_outcome_count = 5;

/// The API's metric families in one registry; safe to share between threads
/// except for `cache`, which belongs to one thread.
class http_metrics {
public:
  /// Per-thread lookup table for request counters.
  class cache {
  public:
    friend class http_metrics;

  private:
    std::unordered_map<uint32_t, prometheus::Counter*> counters_;
  };

  /// Registers (or merges with) the families in `registry`. Throws
  /// `std::invalid_argument` if a family exists there with another type.
  /// `domain_gauges` false (ingestion nodes): the job, queue, storage and
  /// cluster gauges are kept off `registry` (the coordinator exports
  /// them; every ingestion node repeating them, at 0, would confuse sums
  /// and alerts); setting them is then harmless and invisible.
  explicit http_metrics(std::shared_ptr<prometheus::Registry> registry,
                        bool domain_gauges = true);

  /// Counts one answered request and observes its duration.
  void observe_request(cache& c, route r, http_method m, unsigned status,
                       double seconds);

  /// Counts one object event from `source` (`minio`).
  void count_event(event_outcome x, uint64_t n = 1);

  /// Refreshes `vidflow_jobs{status}`.
  void set_job_counts(const messages::status_counts& counts);

  /// Refreshes the dispatcher gauges.
  void set_dispatcher_stats(const messages::dispatcher_stats& stats);

  /// Refreshes `vidflow_cluster_nodes{state}`.
  void set_cluster_nodes(const std::vector<messages::cluster_node>& nodes);

  /// Refreshes `vidflow_storage_free_bytes`, `_total_bytes` and
  /// `vidflow_storage_ready` from a storage check.
  void set_storage(const storage_status& st);

  /// Returns every family of the registry in the Prometheus text format.
  std::string serialize() const;

private:
  std::shared_ptr<prometheus::Registry> registry_;
  /// Where the domain gauges go when they are not exported.
  std::shared_ptr<prometheus::Registry> unexported_;
  prometheus::Family<prometheus::Counter>* requests_;
  std::array<prometheus::Histogram*, route_count> durations_;
  std::array<prometheus::Counter*, event_outcome_count> events_;
  std::array<prometheus::Gauge*, messages::job_status_count> jobs_;
  prometheus::Gauge* queue_depth_;
  /// By priority class: high, default, low.
  std::array<prometheus::Gauge*, 3> queue_by_priority_;
  std::array<prometheus::Gauge*, 3> oldest_by_priority_;
  prometheus::Gauge* leases_;
  prometheus::Gauge* workers_;
  prometheus::Gauge* free_slots_;
  prometheus::Gauge* nodes_active_;
  prometheus::Gauge* nodes_draining_;
  prometheus::Gauge* storage_free_;
  prometheus::Gauge* storage_total_;
  prometheus::Gauge* storage_ready_;
  /// `vidflow_node_slots{node}`, and the nodes it has a series for.
  prometheus::Family<prometheus::Gauge>* node_slots_;
  std::map<std::string, prometheus::Gauge*> node_slot_series_;
  std::mutex node_slots_mtx_;
};

} // namespace vf::adapters::http
