// vf/adapters/http/routes_admin.cpp
//
// `/admin/...`: the admin console actor over HTTP, for `vidflow admin` and
// for people. Admin role only.

#include "vf/adapters/http/call.hpp"
#include "vf/adapters/http/json_views.hpp"
#include "vf/adapters/http/routes.hpp"
#include "vf/messages/atoms.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace vf::adapters::http {

namespace {

using nlohmann::json;

/// Answers 503 and returns false when there is no console to ask.
bool has_console(call& c) {
  if (c.state().handles.admin)
    return true;
  c.error(503, "storage_unavailable",
          "this node runs no admin console (it is not a coordinator)");
  return false;
}

json overview_json(const messages::admin_overview& x) {
  json jobs = json::object();
  for (size_t i = 0; i < x.jobs.size() && i < messages::job_status_count; ++i)
    jobs[to_string(static_cast<messages::job_status>(i))] = x.jobs[i];
  const char* names[] = {"high", "default", "low"};
  json by_priority = json::object();
  for (size_t i = 0; i < 3; ++i)
    by_priority[names[i]]
      = {{"queued", i < x.queue.queued_by_priority.size()
                      ? x.queue.queued_by_priority[i]
                      : 0},
         {"oldest_s", i < x.queue.oldest_ms_by_priority.size()
                        ? x.queue.oldest_ms_by_priority[i] / 1000.0
                        : 0.0}};
  json nodes = json::array();
  for (auto& n : x.nodes)
    nodes.push_back({{"name", n.name},
                     {"workers", n.workers},
                     {"slots", n.slots},
                     {"labels", n.labels},
                     {"draining", n.draining},
                     {"joined_at", iso8601(n.joined_at)}});
  return {{"version", x.version},
          {"started_at", iso8601(x.started_at)},
          {"uptime_s", (x.now - x.started_at) / 1000},
          {"paused", x.paused},
          {"jobs", jobs},
          {"queue",
           {{"queued", x.queue.queued},
            {"leased", x.queue.leased},
            {"workers", x.queue.workers},
            {"free_slots", x.queue.free_slots},
            {"by_priority", by_priority}}},
          {"nodes", nodes}};
}

void status(call& c) {
  if (!has_console(c))
    return;
  c.ask(c.state().handles.admin, atoms::overview_v)
    .then([](reply& r, messages::admin_overview& x) {
      r.send(200, overview_json(x).dump());
    });
}

// Jobs in SUBMITTED or PROCESSING, oldest first, with their ages: where
// a stuck job shows.
void active_jobs(call& c) {
  if (!has_console(c))
    return;
  c.ask(c.state().handles.admin, atoms::active_v)
    .then([](reply& r, std::vector<messages::job>& xs) {
      auto now_ms = r.state().now() * 1000;
      std::string out = R"({"items":[)";
      bool first = true;
      for (auto& j : xs) {
        if (!first)
          out += ',';
        first = false;
        auto body = job_json(j);
        body.pop_back();
        body += R"(,"age_s":)";
        body += std::to_string(std::max<int64_t>(0, now_ms - j.created_at)
                               / 1000);
        body += R"(,"in_state_s":)";
        body += std::to_string(std::max<int64_t>(0, now_ms - j.updated_at)
                               / 1000);
        body += '}';
        out += body;
      }
      out += "]}";
      r.send(200, std::move(out));
    });
}

void job_detail(call& c) {
  if (!has_console(c))
    return;
  std::string id{c.param()};
  c.ask(c.state().handles.admin, atoms::get_v, id)
    .then(
      [](reply& r, messages::job& j,
         std::vector<messages::attempt_record>& attempts) {
        std::string out = R"({"job":)";
        out += job_json(j);
        out += R"(,"attempts":)";
        append_json_array(out, attempts, append_attempt_json);
        out += '}';
        r.send(200, std::move(out));
      },
      [id](reply& r, caf::error& err) { r.fail(err, not_found_job(id)); });
}

void set_intake(call& c, bool pause) {
  if (!has_console(c))
    return;
  auto then = [](reply& r, bool paused) {
    r.send(200, json{{"paused", paused}}.dump());
  };
  if (pause)
    c.ask(c.state().handles.admin, atoms::pause_v).then(then);
  else
    c.ask(c.state().handles.admin, atoms::resume_v).then(then);
}

void pause(call& c) {
  set_intake(c, true);
}

void resume(call& c) {
  set_intake(c, false);
}

} // namespace

std::vector<route_entry> admin_routes() {
  using m = http_method;
  return {{m::get, "/admin/status", access::admin, status},
          {m::get, "/admin/jobs", access::admin, active_jobs},
          {m::get, "/admin/jobs/{id}", access::admin, job_detail},
          {m::post, "/admin/pause", access::admin, pause},
          {m::post, "/admin/resume", access::admin, resume}};
}

} // namespace vf::adapters::http
