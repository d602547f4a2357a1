// vf/adapters/http/routes_dead_letters.cpp
//
// The dead letters (admins only): list, read, remove, the incident report,
// and redriving by job or by category. Each asks the admin console, as
// `vidflow admin` does, so the CLI and the API never disagree.

#include "vf/adapters/http/call.hpp"
#include "vf/adapters/http/json_views.hpp"
#include "vf/adapters/http/request_parse.hpp"
#include "vf/adapters/http/routes.hpp"
#include "vf/messages/atoms.hpp"
#include "vf/messages/errc.hpp"

#include <string>

namespace vf::adapters::http {

namespace {

using messages::errc;

http_response no_dead_letter(std::string_view id) {
  return not_found("no dead letter for job '", id, "'; GET /dlq lists them");
}


void dlq_list(call& c) {
  auto query = c.request().query;
  int64_t since = 0;
  uint32_t limit = 50;
  if (auto str = query_param(query, "since")) {
    // 15 digits of Unix milliseconds reach the year 33658.
    auto value = parse_decimal(*str, 15);
    if (!value) {
      c.error(422, "invalid_argument",
              "since must be Unix milliseconds (a non-negative integer)");
      return;
    }
    since = static_cast<int64_t>(*value);
  }
  if (!query_limit(c, 3, limit) || !has_console(c))
    return;
  c.ask(c.state().handles.admin, atoms::dlq_list_v, since, limit)
    .then([](reply& r, std::vector<messages::dead_letter>& items) {
      r.send(200, json_items(items, append_dead_letter_json, 1024));
    });
}

void dlq_get(call& c) {
  if (!has_console(c))
    return;
  std::string id{c.param()};
  c.ask(c.state().handles.admin, atoms::dlq_get_v, id)
    .then(
      [](reply& r, messages::dead_letter& x) {
        std::string out;
        out.reserve(1024);
        append_dead_letter_json(out, x);
        r.send(200, std::move(out));
      },
      [id](reply& r, caf::error& err) { r.fail(err, no_dead_letter(id)); });
}

void dlq_remove(call& c) {
  if (!has_console(c))
    return;
  std::string id{c.param()};
  c.ask(c.state().handles.admin, atoms::dlq_remove_v, id)
    .then(
      [id](reply& r, bool removed) {
        std::string out = R"({"job_id":)";
        append_json_string(out, id);
        out += R"(,"removed":)";
        out += removed ? "true" : "false";
        out += '}';
        r.send(200, std::move(out));
      },
      [id](reply& r, caf::error& err) { r.fail(err, no_dead_letter(id)); });
}

void dlq_report(call& c) {
  int64_t window_ms = 0;
  if (auto str = query_param(c.request().query, "window_s")) {
    // 12 digits of seconds: 31,000 years, and no overflow in milliseconds.
    auto value = parse_decimal(*str, 12);
    if (!value) {
      c.error(422, "invalid_argument",
              "window_s must be a non-negative integer (seconds; 0 means "
              "all records)");
      return;
    }
    window_ms = static_cast<int64_t>(*value) * 1000;
  }
  if (!has_console(c))
    return;
  c.ask(c.state().handles.admin, atoms::analyze_v, window_ms)
    .then([](reply& r, messages::incident_report& report) {
      r.send(200, incident_report_json(report));
    });
}

void redrive_job(call& c, const std::string& job_id) {
  c.ask(c.state().handles.admin, atoms::redrive_v, job_id)
    .then([](reply& r, messages::job& j) { r.send(200, job_json(j)); },
          [jid = job_id](reply& r, caf::error& err) {
            auto code = messages::errc_of(err);
            if (code == errc::conflict || code == errc::duplicate)
              r.error(409, "conflict",
                      detail_of(err, "job '" + jid.substr(0, 128)
                                       + "' has no open dead letter: it is "
                                         "not FAILED or was redriven "
                                         "already"));
            else
              r.fail(err, not_found_job(jid));
          });
}

void redrive_category(call& c, const std::string& category) {
  c.ask(c.state().handles.admin, atoms::redrive_v, atoms::category_v,
        category)
    .then([name = category](reply& r, uint64_t n) {
      r.send(200, redriven_json(name, n));
    });
}

void dlq_redrive(call& c) {
  auto body = parse_strings(c, "job_id", "category");
  if (!body)
    return;
  auto job_id = body->first;
  auto category = body->second;
  if (body->bad() || (job_id == nullptr) == (category == nullptr)
      || (job_id != nullptr && job_id->empty())
      || (category != nullptr && category->empty())) {
    c.error(422, "invalid_argument",
            "send exactly one of job_id or category, as a non-empty string");
    return;
  }
  if (!has_console(c))
    return;
  if (job_id != nullptr)
    redrive_job(c, *job_id);
  else
    redrive_category(c, *category);
}

} // namespace

std::vector<route_entry> dead_letter_routes() {
  return {{http_method::get, "/dlq", access::admin, dlq_list},
          {http_method::get, "/dlq/{job_id}", access::admin, dlq_get},
          {http_method::del, "/dlq/{job_id}", access::admin, dlq_remove},
          {http_method::get, "/dlq/report", access::admin, dlq_report},
          {http_method::post, "/dlq/redrive", access::admin, dlq_redrive}};
}

} // namespace vf::adapters::http
