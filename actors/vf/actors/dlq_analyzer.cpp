// vf/actors/dlq_analyzer.cpp

#include "vf/actors/dlq_analyzer.hpp"

#include "vf/messages/errc.hpp"

#include <algorithm>
#include <map>
#include <memory>

namespace vf::actors {

using namespace std::chrono_literals;
using messages::errc;

namespace {

constexpr auto store_timeout = 30s;

} // namespace

const std::vector<std::string>& dlq_categories() {
  static const std::vector<std::string> names{
    "bad_media", "timeout",   "provider_error",      "dependency_unavailable",
    "crash",     "no_worker", "cancelled",           "unexpected_exception"};
  return names;
}

std::string classify(const messages::dead_letter& x) {
  switch (x.error_code) {
    case errc::bad_media:
    case errc::truncated:
    case errc::unsupported_codec:
      return "bad_media";
    case errc::timeout:
      return "timeout";
    case errc::provider_error:
    case errc::throttled:
      return "provider_error";
    case errc::storage_unavailable:
    case errc::not_found:
      return "dependency_unavailable";
    case errc::worker_lost:
      // The worker or its node died holding the lease: a crash or signal
      // inside decoding, or a node that went away.
      return "crash";
    case errc::no_worker:
      return "no_worker";
    case errc::cancelled:
      return "cancelled";
    default:
      return "unexpected_exception";
  }
}

std::string recommendation(const std::string& category) {
  if (category == "bad_media")
    return "The uploads are not readable media (or are cut short). Tell the "
           "uploader; redriving will fail again.";
  if (category == "timeout")
    return "Tasks ran past their deadline. Check worker load and "
           "workers.task_timeout_ms, then redrive the category.";
  if (category == "provider_error")
    return "The summarizer refused or throttled. Check the provider's quota "
           "and status, then redrive the category.";
  if (category == "dependency_unavailable")
    return "Storage or the object store was unreachable. Check disk space and "
           "the store endpoint, then redrive the category.";
  if (category == "crash")
    return "A worker or node died while holding the task. Look for crashes "
           "or OOM kills in the node logs; redrive once fixed.";
  if (category == "no_worker")
    return "No worker offers these tasks (a render on a coordinator without "
           "local workers, a label no node has). Start workers that do "
           "(workers.count > 0 on the coordinator, or a node with the "
           "labels), then redrive the category.";
  if (category == "cancelled")
    return "Cancelled on request; nothing to do unless it was a mistake.";
  return "An unexpected error, likely a bug. Keep the record, report it with "
         "its samples, and redrive only after a fix.";
}

messages::incident_report
make_report(const std::vector<messages::dead_letter>& records,
            int64_t generated_at, int64_t window_start, size_t samples) {
  messages::incident_report rep;
  rep.generated_at = generated_at;
  rep.window_start = window_start;
  rep.window_end = generated_at;
  std::map<std::string, messages::incident_category> by_name;
  for (auto& r : records) {
    if (r.created_at < window_start)
      continue;
    auto name = classify(r);
    auto& c = by_name[name];
    if (c.count == 0) {
      c.name = name;
      c.first_seen = c.last_seen = r.created_at;
      c.recommendation = recommendation(name);
    }
    ++c.count;
    c.first_seen = std::min(c.first_seen, r.created_at);
    c.last_seen = std::max(c.last_seen, r.created_at);
    if (c.samples.size() < samples)
      c.samples.push_back(r.job_id + ": " + to_string(r.error_code) + ": "
                          + r.error_message);
    ++rep.total;
  }
  for (auto& name : dlq_categories())
    if (auto i = by_name.find(name); i != by_name.end())
      rep.categories.push_back(std::move(i->second));
  return rep;
}

messages::dlq_analyzer_actor::behavior_type
dlq_analyzer(dlq_analyzer_impl* self, dlq_analyzer_config cfg,
             messages::dead_letter_store_actor store,
             messages::orchestrator_actor orchestrator) {
  self->state.cfg = cfg;
  self->state.clock = wall_clock{cfg.wall_ms, self->clock().now()};
  self->state.last.generated_at = cfg.wall_ms;
  auto now = [self] { return self->state.clock.at(self->clock().now()); };
  // Reads the records of `window_ms` (0: all) and hands over a report.
  auto analyze = [=](int64_t window_ms, auto deliver) {
    auto at = now();
    auto since = window_ms > 0 ? at - window_ms : int64_t{0};
    self
      ->request(store, store_timeout, atoms::dlq_list_v, since,
                self->state.cfg.max_records)
      .then(
        [=](std::vector<messages::dead_letter>& xs) mutable {
          deliver(make_report(xs, at, since, self->state.cfg.samples));
        },
        [=](caf::error& err) mutable { deliver(std::move(err)); });
  };
  if (cfg.interval.count() > 0)
    self->delayed_send(self, cfg.interval, atoms::tick_v);
  return {
    [=](atoms::analyze,
        int64_t window_ms) -> caf::result<messages::incident_report> {
      auto rp = self->make_response_promise<messages::incident_report>();
      analyze(window_ms, [rp](auto x) mutable { rp.deliver(std::move(x)); });
      return rp;
    },
    [=](atoms::get) { return self->state.last; },
    [=](atoms::redrive, const std::string& category) -> caf::result<uint64_t> {
      auto& names = dlq_categories();
      if (std::find(names.begin(), names.end(), category) == names.end())
        return messages::make_error(errc::invalid_argument,
                                    "unknown category '" + category + "'");
      auto rp = self->make_response_promise<uint64_t>();
      self
        ->request(store, store_timeout, atoms::dlq_list_v, int64_t{0},
                  self->state.cfg.max_records)
        .then(
          [=](std::vector<messages::dead_letter>& xs) mutable {
            std::vector<std::string> ids;
            for (auto& x : xs)
              if (x.redriven_at == 0 && classify(x) == category)
                ids.push_back(x.job_id);
            if (ids.empty()) {
              rp.deliver(uint64_t{0});
              return;
            }
            // Each through the orchestrator: it marks the record first, so
            // a record redriven twice runs once.
            auto pending = std::make_shared<size_t>(ids.size());
            auto done = std::make_shared<uint64_t>(0);
            for (auto& id : ids) {
              self->request(orchestrator, store_timeout, atoms::redrive_v, id)
                .then(
                  [=](messages::job&) mutable {
                    ++*done;
                    if (--*pending == 0)
                      rp.deliver(*done);
                  },
                  [=](caf::error&) mutable {
                    if (--*pending == 0)
                      rp.deliver(*done);
                  });
            }
          },
          [rp](caf::error& err) mutable { rp.deliver(err); });
      return rp;
    },
    [=](atoms::tick) {
      analyze(self->state.cfg.window.count(), [self](auto x) {
        if constexpr (std::is_same_v<decltype(x), messages::incident_report>) {
          if (self->state.cfg.on_report && x.total > 0)
            self->state.cfg.on_report(x);
          self->state.last = std::move(x);
        }
      });
      self->delayed_send(self, self->state.cfg.interval, atoms::tick_v);
    },
  };
}

} // namespace vf::actors
