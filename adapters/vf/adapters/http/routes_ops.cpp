// vf/adapters/http/routes_ops.cpp
//
// For operators and their tools: GET /healthz (live), /readyz (ready for
// work), /metrics (Prometheus). Never rate limited, no token.

#include "vf/adapters/http/call.hpp"
#include "vf/adapters/http/json_views.hpp"
#include "vf/adapters/http/routes.hpp"
#include "vf/messages/atoms.hpp"

#include <chrono>
#include <memory>
#include <string>

namespace vf::adapters::http {

namespace {

void healthz(call& c) {
  c.send(200, R"({"status":"ok"})");
}

// Answers a readiness probe from the storage check and the database's.
void ready_or_not(reply& r, const storage_status& storage, bool db_ok,
                  const std::string& db_detail) {
  auto check = [](std::string& out, bool ok, const std::string& detail) {
    out += ok ? R"({"ok":true,"detail":)" : R"({"ok":false,"detail":)";
    append_json_string(out, detail);
    out += '}';
  };
  std::string checks = R"({"storage":)";
  check(checks, storage.ok, storage.detail);
  checks += R"(,"database":)";
  check(checks, db_ok, db_detail);
  checks += '}';
  if (storage.ok && db_ok) {
    r.send(200, R"({"status":"ready","checks":)" + checks + "}");
    return;
  }
  std::string detail;
  if (!storage.ok)
    detail = "storage: " + storage.detail;
  if (!db_ok) {
    if (!detail.empty())
      detail += "; ";
    detail += "database: " + db_detail;
  }
  std::string out = R"({"status":"not_ready","code":"not_ready","detail":)";
  append_json_string(out, detail);
  out += R"(,"checks":)";
  out += checks;
  out += '}';
  auto res = make_response(503, std::move(out));
  res.retry_after = 5;
  r.send(std::move(res));
}

void readyz(call& c) {
  // Readiness: can this node take new work? Storage is checked here (cheap
  // and synchronous, see api_config::check_storage); the database by one
  // short request, so a wedged store makes the node not ready instead of
  // stalling the probe.
  constexpr auto db_timeout = std::chrono::seconds{2};
  auto& state = c.state();
  storage_status storage;
  if (state.config.check_storage)
    storage = state.config.check_storage();
  if (state.config.intake_only || state.config.ingest_node) {
    // An ingestion node holds no jobs: ready while it can take webhooks
    // (whether Redis takes them shows in each answer, 503 + Retry-After).
    ready_or_not(c, storage, true, {});
    return;
  }
  if (!state.handles.registry) {
    ready_or_not(c, storage, false, "no job registry");
    return;
  }
  c.ask_within(db_timeout, state.handles.registry, atoms::counts_v)
    .then(
      [storage](reply& r, messages::status_counts&) {
        ready_or_not(r, storage, true, {});
      },
      [storage](reply& r, caf::error& err) {
        ready_or_not(r, storage, false,
                     "the job store did not answer: "
                       + messages::message_of(err));
      });
}

// Asks `dest` for one set of gauges and stores them with `set`; `done` runs
// either way. Always runs: the gauges are worth refreshing even if the
// client left.
template <class T, class Handle, class Atom, class Done>
void scrape(call& c, const Handle& dest, Atom what,
            void (http_metrics::*set)(const T&), Done done) {
  // A silent actor must not stall the scrape for long.
  constexpr auto scrape_timeout = std::chrono::seconds{2};
  if (!dest) {
    done(c);
    return;
  }
  c.ask_within(scrape_timeout, dest, what)
    .then_always(
      [set, done](reply& r, T& x) {
        (r.state().metrics.*set)(x);
        done(r);
      },
      [done](reply& r, caf::error&) { done(r); });
}

void metrics(call& c) {
  // Gauges are refreshed on scrape; one actor failing still leaves the rest.
  auto pending = std::make_shared<int>(3);
  auto done = [pending](reply& r) {
    if (--*pending > 0 || r.gone())
      return;
    http_response res;
    res.body = r.state().metrics.serialize();
    res.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.send(std::move(res));
  };
  if (auto& check = c.state().config.check_storage)
    c.state().metrics.set_storage(check());
  // An ingestion node's handles reach the coordinator, whose own /metrics
  // has those gauges: scraping them here too would count them twice.
  api_handles none;
  auto& hdl = c.state().config.ingest_node ? none : c.state().handles;
  scrape(c, hdl.registry, atoms::counts_v, &http_metrics::set_job_counts, done);
  scrape(c, hdl.dispatcher, atoms::stats_v, &http_metrics::set_dispatcher_stats,
         done);
  scrape(c, hdl.cluster, atoms::nodes_v, &http_metrics::set_cluster_nodes,
         done);
}

} // namespace

std::vector<route_entry> ops_routes() {
  return {{http_method::get, "/healthz", access::monitoring, healthz},
          {http_method::get, "/readyz", access::monitoring, readyz},
          {http_method::get, "/metrics", access::monitoring, metrics}};
}

} // namespace vf::adapters::http
