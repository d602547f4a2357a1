// vf/adapters/http/json_views.hpp
//
// The API's JSON views of our messages, written straight into a string: the
// hot routes answer without building a JSON DOM first.

#pragma once

#include "vf/messages/admin_overview.hpp"
#include "vf/messages/dead_letter.hpp"
#include "vf/messages/job.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vf::adapters::http {

/// Appends `x` as a quoted JSON string; invalid UTF-8 becomes U+FFFD so the
/// output is always valid JSON.
void append_json_string(std::string& out, std::string_view x);

/// Appends `x` as a quoted JSON string, or `null` when `x` is empty.
void append_json_string_or_null(std::string& out, std::string_view x);

/// Appends Unix milliseconds as a quoted ISO-8601 UTC time with
/// milliseconds, e.g. `"2026-11-21T13:02:00.123Z"`.
void append_iso8601(std::string& out, int64_t unix_ms);

/// Returns Unix milliseconds as ISO-8601 UTC with milliseconds (unquoted).
std::string iso8601(int64_t unix_ms);

/// Appends `xs` as a JSON array, each element written by `append(out, x)`.
template <class List, class Append>
void append_json_array(std::string& out, const List& xs, Append append) {
  out += '[';
  bool first = true;
  for (auto& x : xs) {
    if (!first)
      out += ',';
    first = false;
    append(out, x);
  }
  out += ']';
}

/// Returns `{"items":[…]}`, each element written by `append(out, x)`;
/// `item_size` is a guess of an element's size, to reserve once.
template <class List, class Append>
std::string json_items(const List& xs, Append append, size_t item_size) {
  std::string out;
  out.reserve(16 + xs.size() * item_size);
  out += R"({"items":)";
  append_json_array(out, xs, append);
  out += '}';
  return out;
}

/// Appends the API view of a job (`GET /jobs/{id}`) as a JSON object.
void append_job_json(std::string& out, const messages::job& x);

/// Returns the API view of a job as a JSON object.
std::string job_json(const messages::job& x);

/// Appends `text` as JSON: spliced in as it is when it is a valid JSON
/// object, otherwise as a JSON string (`null` when empty). For stored JSON
/// texts (probe output) that must never make the answer invalid.
void append_json_object_or_string(std::string& out, std::string_view text);

/// Appends one attempt ledger entry (`GET /jobs/{id}/attempts`).
void append_attempt_json(std::string& out, const messages::attempt_record& x);

/// Appends one dead letter (`GET /dlq`, `GET /dlq/{job_id}`).
void append_dead_letter_json(std::string& out, const messages::dead_letter& x);

/// Returns an incident report (`GET /dlq/report`) as a JSON object with
/// categories keyed by name.
std::string incident_report_json(const messages::incident_report& x);

/// `{"nodes":[{"name","workers","slots","labels","draining","joined_at",
/// "registrations"}]}` for `GET /cluster/nodes`.
std::string cluster_nodes_json(const std::vector<messages::cluster_node>& xs);

/// Returns the body of every error response: `{"detail": …, "code": …}`.
std::string error_json(std::string_view code, std::string_view detail);

// The admin console's answers, as `/admin/...` sends them and `vidflow
// admin --cluster` prints them (one writer each, so both agree).

/// `GET /admin/status`.
std::string admin_overview_json(const messages::admin_overview& x);

/// `GET /admin/jobs`: `{"items": [job + age_s + in_state_s]}` at Unix ms
/// `now_ms`.
std::string active_jobs_json(const std::vector<messages::job>& xs,
                             int64_t now_ms);

/// `GET /admin/jobs/{id}`: `{"job": ..., "attempts": [...]}`.
std::string job_detail_json(const messages::job& j,
                            const std::vector<messages::attempt_record>& xs);

/// `POST /dlq/redrive` with a category: `{"category", "redriven"}`.
std::string redriven_json(std::string_view category, uint64_t n);

/// `POST /admin/nodes/{name}/drain|undrain`: `{"node", "draining",
/// "leases"}`.
std::string node_drain_json(std::string_view node, bool draining,
                            uint64_t leases);

} // namespace vf::adapters::http
