// vf/adapters/http/http_metrics.cpp

#include "vf/adapters/http/http_metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace vf::adapters::http {

namespace {

constexpr std::array<const char*, event_outcome_count> outcome_names{{
  "accepted",
  "duplicate",
  "ignored",
  "rejected",
  "",
}};

// 100 µs .. 10 s in 1-2.5-5 steps.
const prometheus::Histogram::BucketBoundaries& duration_buckets() {
  static const prometheus::Histogram::BucketBoundaries buckets{
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
    0.05,   0.1,     0.25,   0.5,   1.0,    2.5,   5.0,  10.0};
  return buckets;
}

} // namespace

http_metrics::http_metrics(std::shared_ptr<prometheus::Registry> registry,
                           bool domain_gauges)
  : registry_(std::move(registry)) {
  auto& reg = *registry_;
  requests_ = &prometheus::BuildCounter()
                 .Name("vidflow_http_requests_total")
                 .Help("HTTP requests answered, by route pattern, method "
                       "and status")
                 .Register(reg);
  auto& durations = prometheus::BuildHistogram()
                      .Name("vidflow_http_request_duration_seconds")
                      .Help("Time from a parsed request to its response, by "
                            "route pattern")
                      .Register(reg);
  for (size_t i = 0; i < route_count; ++i)
    durations_[i] = &durations.Add(
      {{"route", std::string{route_pattern(static_cast<route>(i))}}},
      duration_buckets());
  auto& events = prometheus::BuildCounter()
                   .Name("vidflow_object_events_total")
                   .Help("Object events received, by source and outcome")
                   .Register(reg);
  for (size_t i = 0; i < event_outcome_count - 1; ++i)
    events_[i]
      = &events.Add({{"source", "minio"}, {"outcome", outcome_names[i]}});
  events_[static_cast<size_t>(event_outcome::error)]
    = &prometheus::BuildCounter()
         .Name("vidflow_object_event_errors_total")
         .Help("Object events that could not be recorded and are left for "
               "redelivery, by source")
         .Register(reg)
         .Add({{"source", "minio"}});
  if (!domain_gauges)
    unexported_ = std::make_shared<prometheus::Registry>();
  auto& dom = domain_gauges ? reg : *unexported_;
  auto& jobs = prometheus::BuildGauge()
                 .Name("vidflow_jobs")
                 .Help("Jobs by status, as of the last scrape")
                 .Register(dom);
  for (size_t i = 0; i < messages::job_status_count; ++i)
    jobs_[i] = &jobs.Add(
      {{"status", messages::to_string(static_cast<messages::job_status>(i))}});
  queue_depth_ = &prometheus::BuildGauge()
                    .Name("vidflow_queue_depth")
                    .Help("Tasks waiting for a worker")
                    .Register(dom)
                    .Add({});
  auto& by_priority = prometheus::BuildGauge()
                        .Name("vidflow_queue_depth_by_priority")
                        .Help("Tasks waiting for a worker, by job priority")
                        .Register(dom);
  auto& oldest = prometheus::BuildGauge()
                   .Name("vidflow_queue_oldest_seconds")
                   .Help("How long the oldest waiting task of each job "
                         "priority has waited (0: none waiting)")
                   .Register(dom);
  const char* names[] = {"high", "default", "low"};
  for (size_t i = 0; i < 3; ++i) {
    queue_by_priority_[i] = &by_priority.Add({{"priority", names[i]}});
    oldest_by_priority_[i] = &oldest.Add({{"priority", names[i]}});
  }
  leases_ = &prometheus::BuildGauge()
               .Name("vidflow_leases")
               .Help("Tasks leased to workers")
               .Register(dom)
               .Add({});
  workers_ = &prometheus::BuildGauge()
                .Name("vidflow_workers")
                .Help("Workers known to the dispatcher")
                .Register(dom)
                .Add({});
  storage_free_ = &prometheus::BuildGauge()
                     .Name("vidflow_storage_free_bytes")
                     .Help("Bytes free for new data on the file system of "
                           "data.dir, as of the last scrape")
                     .Register(dom)
                     .Add({});
  storage_total_ = &prometheus::BuildGauge()
                      .Name("vidflow_storage_total_bytes")
                      .Help("Size of the file system of data.dir")
                      .Register(dom)
                      .Add({});
  storage_ready_ = &prometheus::BuildGauge()
                      .Name("vidflow_storage_ready")
                      .Help("1 while data.dir is writable with more than "
                            "limits.min_free_bytes free, else 0")
                      .Register(dom)
                      .Add({});
  node_slots_ = &prometheus::BuildGauge()
                   .Name("vidflow_node_slots")
                   .Help("Worker slots each node offers (0 while it drains)")
                   .Register(dom);
  free_slots_ = &prometheus::BuildGauge()
                   .Name("vidflow_free_slots")
                   .Help("Worker slots free for a new task (draining nodes "
                         "excluded)")
                   .Register(dom)
                   .Add({});
  auto& nodes = prometheus::BuildGauge()
                  .Name("vidflow_cluster_nodes")
                  .Help("Worker nodes registered with the cluster registry, "
                        "by state")
                  .Register(dom);
  nodes_active_ = &nodes.Add({{"state", "active"}});
  nodes_draining_ = &nodes.Add({{"state", "draining"}});
}

void http_metrics::observe_request(cache& c, route r, http_method m,
                                   unsigned status, double seconds) {
  auto key = (static_cast<uint32_t>(r) << 24) | (static_cast<uint32_t>(m) << 16)
             | (status & 0xFFFF);
  auto i = c.counters_.find(key);
  if (i == c.counters_.end()) {
    auto& counter = requests_->Add({{"route", std::string{route_pattern(r)}},
                                    {"method", std::string{method_name(m)}},
                                    {"status", std::to_string(status)}});
    i = c.counters_.emplace(key, &counter).first;
  }
  i->second->Increment();
  durations_[static_cast<size_t>(r)]->Observe(seconds);
}

void http_metrics::count_event(event_outcome x, uint64_t n) {
  if (n > 0)
    events_[static_cast<size_t>(x)]->Increment(static_cast<double>(n));
}

void http_metrics::set_job_counts(const messages::status_counts& counts) {
  for (size_t i = 0; i < jobs_.size(); ++i)
    jobs_[i]->Set(i < counts.size() ? static_cast<double>(counts[i]) : 0.0);
}

void http_metrics::set_dispatcher_stats(
  const messages::dispatcher_stats& stats) {
  queue_depth_->Set(static_cast<double>(stats.queued));
  for (size_t i = 0; i < 3; ++i) {
    auto n = i < stats.queued_by_priority.size() ? stats.queued_by_priority[i]
                                                 : 0;
    auto ms = i < stats.oldest_ms_by_priority.size()
                ? stats.oldest_ms_by_priority[i]
                : 0;
    queue_by_priority_[i]->Set(static_cast<double>(n));
    oldest_by_priority_[i]->Set(static_cast<double>(ms) / 1000.0);
  }
  leases_->Set(static_cast<double>(stats.leased));
  workers_->Set(static_cast<double>(stats.workers));
  free_slots_->Set(static_cast<double>(stats.free_slots));
}

void http_metrics::set_cluster_nodes(
  const std::vector<messages::cluster_node>& nodes) {
  double draining = 0;
  for (auto& n : nodes)
    if (n.draining)
      ++draining;
  nodes_active_->Set(static_cast<double>(nodes.size()) - draining);
  nodes_draining_->Set(draining);
  // One series per node that is there; a node gone loses its series (a
  // stale value would read as slots that do not exist).
  std::lock_guard<std::mutex> guard{node_slots_mtx_};
  std::map<std::string, prometheus::Gauge*> next;
  for (auto& n : nodes) {
    auto i = node_slot_series_.find(n.name);
    auto* g = i != node_slot_series_.end()
                ? i->second
                : &node_slots_->Add({{"node", n.name}});
    g->Set(n.draining ? 0.0 : static_cast<double>(n.slots));
    next.emplace(n.name, g);
  }
  for (auto& [name, g] : node_slot_series_)
    if (next.count(name) == 0)
      node_slots_->Remove(g);
  node_slot_series_ = std::move(next);
}

void http_metrics::set_storage(const storage_status& st) {
  storage_ready_->Set(st.ok ? 1.0 : 0.0);
  if (st.total_bytes > 0) {
    storage_free_->Set(static_cast<double>(st.free_bytes));
    storage_total_->Set(static_cast<double>(st.total_bytes));
  }
}

std::string http_metrics::serialize() const {
  return prometheus::TextSerializer{}.Serialize(registry_->Collect());
}

} // namespace vf::adapters::http
