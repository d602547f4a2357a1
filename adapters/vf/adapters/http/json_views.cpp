// vf/adapters/http/json_views.cpp

#include "vf/adapters/http/json_views.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <vector>

namespace vf::adapters::http {

namespace {

constexpr char hex_digits[] = "0123456789abcdef";

// Returns the length of the valid UTF-8 sequence at the start of `x`, or 0.
size_t utf8_sequence(std::string_view x) {
  auto b = [&](size_t i) {
    return static_cast<unsigned char>(x[i]);
  };
  auto cont = [&](size_t i) {
    return i < x.size() && (b(i) & 0xC0) == 0x80;
  };
  auto c = b(0);
  if (c < 0x80)
    return 1;
  if (c >= 0xC2 && c <= 0xDF)
    return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2))
      return 0;
    // Rejects overlong forms and UTF-16 surrogates.
    if ((c == 0xE0 && b(1) < 0xA0) || (c == 0xED && b(1) > 0x9F))
      return 0;
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3))
      return 0;
    if ((c == 0xF0 && b(1) < 0x90) || (c == 0xF4 && b(1) > 0x8F))
      return 0;
    return 4;
  }
  return 0;
}

void append_uint(std::string& out, uint64_t x, int width) {
  char buf[24];
  int n = 0;
  do {
    buf[n++] = static_cast<char>('0' + x % 10);
    x /= 10;
  } while (x != 0);
  for (; n < width; ++n)
    buf[n] = '0';
  while (n > 0)
    out += buf[--n];
}

} // namespace

void append_json_string(std::string& out, std::string_view x) {
  out += '"';
  size_t i = 0;
  while (i < x.size()) {
    // Copies runs of plain ASCII in one go.
    size_t j = i;
    while (j < x.size()) {
      auto c = static_cast<unsigned char>(x[j]);
      if (c < 0x20 || c == '"' || c == '\\' || c >= 0x80)
        break;
      ++j;
    }
    out.append(x.data() + i, j - i);
    i = j;
    if (i == x.size())
      break;
    auto c = static_cast<unsigned char>(x[i]);
    if (c >= 0x80) {
      auto n = utf8_sequence(x.substr(i));
      if (n == 0) {
        out += "\xEF\xBF\xBD";
        ++i;
      } else {
        out.append(x.data() + i, n);
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += "\\u00";
        out += hex_digits[c >> 4];
        out += hex_digits[c & 0xF];
    }
    ++i;
  }
  out += '"';
}

void append_json_string_or_null(std::string& out, std::string_view x) {
  if (x.empty())
    out += "null";
  else
    append_json_string(out, x);
}

void append_iso8601(std::string& out, int64_t unix_ms) {
  // Floor division so times before 1970 still render correctly.
  int64_t secs = unix_ms / 1000;
  int64_t ms = unix_ms % 1000;
  if (ms < 0) {
    ms += 1000;
    --secs;
  }
  int64_t days = secs / 86400;
  int64_t rem = secs % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  // Howard Hinnant's civil_from_days.
  int64_t z = days + 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = yoe + era * 400;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int64_t d = doy - (153 * mp + 2) / 5 + 1;
  int64_t m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2)
    ++y;
  out += '"';
  if (y < 0) {
    out += '-';
    y = -y;
  }
  append_uint(out, static_cast<uint64_t>(y), 4);
  out += '-';
  append_uint(out, static_cast<uint64_t>(m), 2);
  out += '-';
  append_uint(out, static_cast<uint64_t>(d), 2);
  out += 'T';
  append_uint(out, static_cast<uint64_t>(rem / 3600), 2);
  out += ':';
  append_uint(out, static_cast<uint64_t>(rem / 60 % 60), 2);
  out += ':';
  append_uint(out, static_cast<uint64_t>(rem % 60), 2);
  out += '.';
  append_uint(out, static_cast<uint64_t>(ms), 3);
  out += "Z\"";
}

std::string iso8601(int64_t unix_ms) {
  std::string result;
  append_iso8601(result, unix_ms);
  return result.substr(1, result.size() - 2);
}

void append_job_json(std::string& out, const messages::job& x) {
  out += R"({"job_id":)";
  append_json_string(out, x.id);
  out += R"(,"owner":)";
  append_json_string(out, x.owner);
  out += R"(,"status":)";
  append_json_string(out, messages::to_string(x.status));
  out += R"(,"created_at":)";
  append_iso8601(out, x.created_at);
  out += R"(,"updated_at":)";
  append_iso8601(out, x.updated_at);
  out += R"(,"s3_bucket":)";
  append_json_string(out, x.bucket);
  out += R"(,"s3_key":)";
  append_json_string(out, x.key);
  out += R"(,"filename":)";
  append_json_string(out, x.filename);
  out += R"(,"content_type":)";
  append_json_string(out, x.content_type);
  out += R"(,"attempts":)";
  append_uint(out, x.attempts, 1);
  out += R"(,"series":)";
  append_uint(out, x.series, 1);
  out += R"(,"step":)";
  append_json_string(out, x.step);
  out += R"(,"next_attempt_at":)";
  if (x.next_attempt_at == 0)
    out += "null";
  else
    append_iso8601(out, x.next_attempt_at);
  out += R"(,"error_code":)";
  append_json_string_or_null(out, to_string(x.error_code));
  out += R"(,"error_message":)";
  append_json_string_or_null(out, x.error_message);
  out += R"(,"priority":)";
  append_json_string(out, messages::priority_name(x.priority));
  out += R"(,"outputs":)";
  // Stored canonical by `canonical_recipe`: spliced in once it proved valid.
  if (!x.outputs.empty() && nlohmann::json::accept(x.outputs))
    out += x.outputs;
  else
    out += "null";
  out += R"(,"callback_url":)";
  append_json_string_or_null(out, x.callback_url);
  out += R"(,"object":)";
  if (x.object.version.empty()) {
    out += "null";
  } else {
    out += R"({"version":)";
    append_json_string(out, x.object.version);
    out += R"(,"etag":)";
    append_json_string(out, x.object.etag);
    out += R"(,"size":)";
    append_uint(out, x.object.size, 1);
    out += '}';
  }
  out += '}';
}

std::string job_json(const messages::job& x) {
  std::string result;
  result.reserve(512);
  append_job_json(result, x);
  return result;
}

void append_json_object_or_string(std::string& out, std::string_view text) {
  if (text.empty()) {
    out += "null";
    return;
  }
  // accept() checks syntax and UTF-8 without building a DOM; the first
  // non-blank byte tells an object from other JSON values.
  auto first = text.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && text[first] == '{'
      && nlohmann::json::accept(text.begin(), text.end()))
    out.append(text.data(), text.size());
  else
    append_json_string(out, text);
}

void append_attempt_json(std::string& out, const messages::attempt_record& x) {
  out += R"({"job_id":)";
  append_json_string(out, x.job_id);
  out += R"(,"lease_id":)";
  append_uint(out, x.lease_id, 1);
  out += R"(,"object_version":)";
  append_json_string(out, x.object_version);
  out += R"(,"series":)";
  append_uint(out, x.series, 1);
  out += R"(,"kind":)";
  append_json_string(out, messages::to_string(x.kind));
  out += R"(,"attempt":)";
  append_uint(out, x.attempt, 1);
  out += R"(,"ok":)";
  out += x.ok ? "true" : "false";
  out += R"(,"output":)";
  // Probe output is ffprobe-shaped metadata: show it as JSON, not as an
  // escaped string; a summary stays text.
  if (x.kind == messages::task_kind::probe)
    append_json_object_or_string(out, x.output);
  else
    append_json_string_or_null(out, x.output);
  out += R"(,"error_code":)";
  append_json_string_or_null(out, to_string(x.error_code));
  out += R"(,"error_message":)";
  append_json_string_or_null(out, x.error_message);
  out += R"(,"worker":)";
  append_json_string(out, x.worker);
  out += R"(,"finished_at":)";
  append_iso8601(out, x.finished_at);
  out += R"(,"duration_us":)";
  append_uint(out, x.duration_us, 1);
  out += R"(,"leased_at":)";
  if (x.leased_at > 0)
    append_iso8601(out, x.leased_at);
  else
    out += "null"; // Never left the queue, or recorded before leases had times.
  out += '}';
}

void append_dead_letter_json(std::string& out, const messages::dead_letter& x) {
  out += R"({"job_id":)";
  append_json_string(out, x.job_id);
  out += R"(,"object":{"bucket":)";
  append_json_string(out, x.object.bucket);
  out += R"(,"key":)";
  append_json_string(out, x.object.key);
  out += R"(,"version":)";
  append_json_string(out, x.object.version);
  out += R"(,"etag":)";
  append_json_string(out, x.object.etag);
  out += R"(,"size":)";
  append_uint(out, x.object.size, 1);
  out += R"(},"filename":)";
  append_json_string(out, x.filename);
  out += R"(,"series":)";
  append_uint(out, x.series, 1);
  out += R"(,"kind":)";
  append_json_string(out, messages::to_string(x.kind));
  out += R"(,"error_code":)";
  append_json_string_or_null(out, to_string(x.error_code));
  out += R"(,"error_message":)";
  append_json_string_or_null(out, x.error_message);
  out += R"(,"attempts":)";
  append_json_array(out, x.attempts, append_attempt_json);
  out += R"(,"probe_output":)";
  append_json_object_or_string(out, x.probe_output);
  out += R"(,"created_at":)";
  append_iso8601(out, x.created_at);
  out += R"(,"redriven_at":)";
  if (x.redriven_at == 0)
    out += "null";
  else
    append_iso8601(out, x.redriven_at);
  out += '}';
}

std::string cluster_nodes_json(const std::vector<messages::cluster_node>& xs) {
  std::string out = R"({"nodes":[)";
  for (size_t i = 0; i < xs.size(); ++i) {
    auto& x = xs[i];
    if (i > 0)
      out += ',';
    out += R"({"name":)";
    append_json_string(out, x.name);
    out += R"(,"workers":)";
    append_uint(out, x.workers, 1);
    out += R"(,"slots":)";
    append_uint(out, x.slots, 1);
    out += R"(,"labels":)";
    append_json_array(out, x.labels, append_json_string);
    out += R"(,"draining":)";
    out += x.draining ? "true" : "false";
    out += R"(,"joined_at":)";
    append_iso8601(out, x.joined_at);
    out += R"(,"registrations":)";
    append_uint(out, x.registrations, 1);
    out += R"(,"kinds":)";
    append_json_array(out, x.kinds, append_json_string);
    out += R"(,"busy":)";
    append_uint(out, x.busy, 1);
    out += '}';
  }
  out += "]}";
  return out;
}

std::string incident_report_json(const messages::incident_report& x) {
  std::string out;
  out.reserve(256 + x.categories.size() * 512);
  out += R"({"generated_at":)";
  append_iso8601(out, x.generated_at);
  out += R"(,"window":{"start":)";
  append_iso8601(out, x.window_start);
  out += R"(,"end":)";
  append_iso8601(out, x.window_end);
  out += R"(},"total":)";
  append_uint(out, x.total, 1);
  out += R"(,"categories":{)";
  bool first = true;
  for (auto& c : x.categories) {
    if (!first)
      out += ',';
    first = false;
    append_json_string(out, c.name);
    out += R"(:{"count":)";
    append_uint(out, c.count, 1);
    out += R"(,"first_seen":)";
    append_iso8601(out, c.first_seen);
    out += R"(,"last_seen":)";
    append_iso8601(out, c.last_seen);
    out += R"(,"recommendation":)";
    append_json_string(out, c.recommendation);
    out += R"(,"samples":)";
    append_json_array(out, c.samples, append_json_string);
    out += '}';
  }
  out += "}}";
  return out;
}

std::string error_json(std::string_view code, std::string_view detail) {
  std::string result;
  result.reserve(32 + code.size() + detail.size());
  result += R"({"detail":)";
  append_json_string(result, detail);
  result += R"(,"code":)";
  append_json_string(result, code);
  result += '}';
  return result;
}

std::string admin_overview_json(const messages::admin_overview& x) {
  using nlohmann::json;
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
                     {"busy", n.busy},
                     {"kinds", n.kinds},
                     {"labels", n.labels},
                     {"draining", n.draining},
                     {"joined_at", iso8601(n.joined_at)}});
  json out = {{"version", x.version},
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
  return out.dump();
}

std::string active_jobs_json(const std::vector<messages::job>& xs,
                             int64_t now_ms) {
  std::string out = R"({"items":[)";
  bool first = true;
  for (auto& j : xs) {
    if (!first)
      out += ',';
    first = false;
    auto body = job_json(j);
    body.pop_back();
    body += R"(,"age_s":)";
    body += std::to_string(std::max<int64_t>(0, now_ms - j.created_at) / 1000);
    body += R"(,"in_state_s":)";
    body += std::to_string(std::max<int64_t>(0, now_ms - j.updated_at) / 1000);
    body += '}';
    out += body;
  }
  out += "]}";
  return out;
}

std::string job_detail_json(const messages::job& j,
                            const std::vector<messages::attempt_record>& xs) {
  std::string out = R"({"job":)";
  out += job_json(j);
  out += R"(,"attempts":)";
  append_json_array(out, xs, append_attempt_json);
  out += '}';
  return out;
}

std::string redriven_json(std::string_view category, uint64_t n) {
  std::string out = R"({"category":)";
  append_json_string(out, category);
  out += R"(,"redriven":)";
  out += std::to_string(n);
  out += '}';
  return out;
}

std::string node_drain_json(std::string_view node, bool draining,
                            uint64_t leases) {
  std::string out = R"({"node":)";
  append_json_string(out, node);
  out += draining ? R"(,"draining":true,"leases":)"
                  : R"(,"draining":false,"leases":)";
  out += std::to_string(leases);
  out += '}';
  return out;
}

} // namespace vf::adapters::http
