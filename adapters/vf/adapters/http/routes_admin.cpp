// vf/adapters/http/routes_admin.cpp
//
// `/admin/...`: the admin console actor over HTTP, for `vidflow admin` and
// for people. Admin role only.

#include "vf/adapters/http/call.hpp"
#include "vf/adapters/http/json_views.hpp"
#include "vf/adapters/http/request_parse.hpp"
#include "vf/adapters/http/routes.hpp"
#include "vf/messages/atoms.hpp"

#include <string>
#include <utility>
#include <vector>

namespace vf::adapters::http {

bool has_console(call& c) {
  if (c.state().handles.admin)
    return true;
  c.error(503, "storage_unavailable",
          "this node runs no admin console (it is not a coordinator)");
  return false;
}

namespace {

void status(call& c) {
  if (!has_console(c))
    return;
  c.ask(c.state().handles.admin, atoms::overview_v)
    .then([](reply& r, messages::admin_overview& x) {
      r.send(200, admin_overview_json(x));
    });
}

// No term: the jobs in SUBMITTED or PROCESSING, oldest first, with their
// ages (where a stuck job shows). With `state`, `owner` or `name` (and
// `limit`, default 50): the search (messages::job_query), most recently
// changed first.
void active_jobs(call& c) {
  if (!has_console(c))
    return;
  auto then = [](reply& r, std::vector<messages::job>& xs) {
    r.send(200, active_jobs_json(xs, r.state().now() * 1000));
  };
  auto& query = c.request().query;
  messages::job_query q;
  for (auto [name, term] : {std::pair{"state", &q.status},
                            std::pair{"owner", &q.owner},
                            std::pair{"name", &q.name}}) {
    auto raw = query_param(query, name);
    if (!raw)
      continue;
    auto value = decode_query_value(*raw);
    if (!value) {
      c.error(400, "bad_request",
              std::string{name} + " has a malformed %-escape");
      return;
    }
    *term = std::move(*value);
  }
  if (q.status.empty() && q.owner.empty() && q.name.empty()) {
    c.ask(c.state().handles.admin, atoms::active_v).then(then);
    return;
  }
  if (!query_limit(c, 3, q.limit))
    return;
  if (auto problem = messages::job_query_problem(q)) {
    c.error(422, "invalid_argument", *problem);
    return;
  }
  c.ask(c.state().handles.admin, atoms::find_jobs_v, std::move(q)).then(then);
}

void job_detail(call& c) {
  if (!has_console(c))
    return;
  std::string id{c.param()};
  c.ask(c.state().handles.admin, atoms::get_v, id)
    .then(
      [](reply& r, messages::job& j,
         std::vector<messages::attempt_record>& attempts) {
        r.send(200, job_detail_json(j, attempts));
      },
      [id](reply& r, caf::error& err) { r.fail(err, not_found_job(id)); });
}

// The last hour of ended jobs, minute by minute: the console's charts.
void activity(call& c) {
  auto& minutes = c.state().config.activity;
  if (!minutes) {
    c.error(503, "storage_unavailable",
            "this node keeps no job activity (it is not a coordinator)");
    return;
  }
  c.send(200, minutes());
}

void set_intake(call& c, bool pause) {
  if (!has_console(c))
    return;
  auto then = [](reply& r, bool paused) {
    r.send(200, paused ? R"({"paused":true})" : R"({"paused":false})");
  };
  if (pause)
    c.ask(c.state().handles.admin, atoms::pause_v).then(then);
  else
    c.ask(c.state().handles.admin, atoms::resume_v).then(then);
}

void steer_node(call& c, bool drain) {
  if (!has_console(c))
    return;
  std::string node{c.param()};
  auto then = [node, drain](reply& r, uint64_t leases) {
    r.send(200, node_drain_json(node, drain, leases));
  };
  auto fail = [node](reply& r, caf::error& err) {
    r.fail(err, not_found("no node named '", node,
                          "' joined; GET /cluster/nodes lists them"));
  };
  if (drain)
    c.ask(c.state().handles.admin, atoms::drain_v, node).then(then, fail);
  else
    c.ask(c.state().handles.admin, atoms::undrain_v, node).then(then, fail);
}

void drain(call& c) {
  steer_node(c, true);
}

void undrain(call& c) {
  steer_node(c, false);
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
          {m::get, "/admin/activity", access::admin, activity},
          {m::post, "/admin/pause", access::admin, pause},
          {m::post, "/admin/resume", access::admin, resume},
          {m::post, "/admin/nodes/{name}/drain", access::admin, drain},
          {m::post, "/admin/nodes/{name}/undrain", access::admin, undrain}};
}

} // namespace vf::adapters::http
