// vf/adapters/http/job_progress.cpp

#include "vf/adapters/http/job_progress.hpp"

#include "vf/adapters/http/json_views.hpp"

#include <algorithm>
#include <cmath>
#include <string>

namespace vf::adapters::http {

namespace {

using messages::job_status;
using messages::task_kind;
using nlohmann::json;

/// A rendition costs about this many probes, thumbnails or summaries.
constexpr double rendition_weight = 10.0;

json time_or_null(int64_t unix_ms) {
  return unix_ms > 0 ? json(iso8601(unix_ms)) : json(nullptr);
}

json text_or_null(const std::string& x) {
  return x.empty() ? json(nullptr) : json(x);
}

std::string node_of(const std::string& worker) {
  return worker.substr(0, worker.find('/'));
}

/// Where one task of the pipeline stands.
struct task_state {
  std::string state = "queued";
  int percent = 0;
  std::string worker;
  std::string node;
  int64_t started_at = 0;
  int64_t finished_at = 0;
  std::string reason;
  /// The successful attempt's output (the render's list of outputs).
  std::string output;
};

std::string why_not_run(job_status x) {
  switch (x) {
    case job_status::failed:
      return "not run: an earlier step failed";
    case job_status::cancelled:
      return "the job was cancelled";
    case job_status::expired:
      return "not run: the upload never arrived";
    default:
      return "not run";
  }
}

task_state
state_of(const messages::job& j, task_kind kind,
         const std::vector<messages::attempt_record>& ledger,
         const std::vector<messages::task_progress>& live) {
  const messages::attempt_record* ok = nullptr;
  const messages::attempt_record* bad = nullptr;
  uint32_t failures = 0;
  for (auto& r : ledger) {
    if (r.kind != kind || r.series != j.series
        || r.object_version != j.object.version)
      continue;
    if (r.ok) {
      ok = &r;
    } else {
      ++failures;
      if (bad == nullptr || r.finished_at >= bad->finished_at)
        bad = &r;
    }
  }
  const messages::task_progress* now = nullptr;
  for (auto& x : live)
    if (x.kind == kind && x.series == j.series
        && x.object_version == j.object.version
        && (now == nullptr || x.leased))
      now = &x;
  task_state s;
  if (ok != nullptr) {
    s.state = "done";
    s.percent = 100;
    s.worker = ok->worker;
    s.node = node_of(ok->worker);
    s.started_at = ok->leased_at;
    s.finished_at = ok->finished_at;
    s.output = ok->output;
  } else if (now != nullptr && now->leased) {
    s.state = "running";
    s.percent = std::min<int>(now->percent, 100);
    s.worker = now->worker;
    s.node = now->node;
    s.started_at = now->leased_at;
  } else if (j.status == job_status::failed
             && j.step == messages::to_string(kind)) {
    s.state = "failed";
    s.reason = !j.error_message.empty() ? j.error_message
               : bad != nullptr        ? bad->error_message
                                       : std::string{"failed"};
    if (bad != nullptr) {
      s.worker = bad->worker;
      s.node = node_of(bad->worker);
      s.started_at = bad->leased_at;
      s.finished_at = bad->finished_at;
    }
  } else if (messages::is_terminal(j.status)
             && j.status != job_status::succeeded) {
    s.state = "skipped";
    s.reason = why_not_run(j.status);
  } else if (bad != nullptr) {
    // Queued again (or waiting out its back-off) after a failed attempt.
    s.reason = "retrying: attempt " + std::to_string(failures) + " failed: "
               + bad->error_message;
  }
  return s;
}

json step_json(const std::string& name, const task_state& s) {
  json x;
  x["name"] = name;
  x["state"] = s.state;
  x["percent"] = s.percent;
  x["node"] = text_or_null(s.node);
  x["worker"] = text_or_null(s.worker);
  x["started_at"] = time_or_null(s.started_at);
  x["finished_at"] = time_or_null(s.finished_at);
  if (!s.reason.empty())
    x["reason"] = s.reason;
  return x;
}

const char* step_name(task_kind k) {
  switch (k) {
    case task_kind::summarize:
      return "summary";
    default:
      return nullptr;
  }
}

/// The entry named `name` in the render's list `list`, or null.
const json* find_entry(const json& made, const char* list,
                       const std::string& name) {
  if (!made.is_object())
    return nullptr;
  auto l = made.find(list);
  if (l == made.end() || !l->is_array())
    return nullptr;
  for (auto& e : *l)
    if (e.is_object() && e.value("name", "") == name)
      return &e;
  return nullptr;
}

/// The live task of job `j` that makes the output stored as `file` (a
/// render spread over parts lists its keys per part), or null.
const messages::task_progress*
live_part(const messages::job& j,
          const std::vector<messages::task_progress>& live,
          const std::string& file) {
  for (auto& x : live) {
    if (x.kind != task_kind::render || x.series != j.series
        || x.object_version != j.object.version)
      continue;
    for (auto& key : x.outputs)
      if (key.size() > file.size()
          && key.compare(key.size() - file.size(), file.size(), file) == 0
          && key[key.size() - file.size() - 1] == '/')
        return &x;
  }
  return nullptr;
}

/// Appends one step per output of the render step `s` (`recipe` is the
/// job's canonical recipe): a render spread over parts shows each output
/// with its own part (`live`), a finished one with the worker that made it.
void add_outputs(json& steps, double& done, double& total,
                 const std::string& recipe, const task_state& s,
                 const messages::job& j,
                 const std::vector<messages::task_progress>& live) {
  auto r = json::parse(recipe, nullptr, false);
  if (!r.is_object())
    return;
  auto made = s.state == "done" ? json::parse(s.output, nullptr, false)
                                : json{};
  auto add = [&](const char* list, const char* prefix, const char* ext,
                 double weight) {
    auto l = r.find(list);
    if (l == r.end() || !l->is_array())
      return;
    for (auto& x : *l) {
      if (!x.is_object() || !x.contains("name") || !x["name"].is_string())
        continue;
      auto name = x["name"].get<std::string>();
      auto one = s;
      auto e = find_entry(made, list, name);
      if (e != nullptr && e->contains("skipped")) {
        one.state = "skipped";
        one.reason = (*e)["skipped"].is_string()
                       ? (*e)["skipped"].get<std::string>()
                       : std::string{"not made"};
      } else if (e != nullptr && e->contains("worker")
                 && (*e)["worker"].is_string()) {
        one.worker = (*e)["worker"].get<std::string>();
        one.node = node_of(one.worker);
      } else if (s.state == "running") {
        if (auto p = live_part(j, live, name + ext); p != nullptr) {
          one.state = p->leased ? "running" : "queued";
          one.percent = p->leased ? std::min<int>(p->percent, 100) : 0;
          one.worker = p->worker;
          one.node = p->node;
          one.started_at = p->leased ? p->leased_at : 0;
        }
      }
      steps.push_back(step_json(prefix + name, one));
      total += weight;
      done += weight * one.percent;
    }
  };
  add("thumbnails", "thumbnail:", ".jpg", 1.0);
  add("renditions", "rendition:", ".mp4", rendition_weight);
}

} // namespace

json job_progress(const messages::job& j,
                  const std::vector<task_kind>& pipeline,
                  const std::vector<messages::attempt_record>& ledger,
                  const std::vector<messages::task_progress>& live) {
  // The orchestrator's `pipeline_of`: a composition runs one compose step,
  // an asset one probe.
  auto kinds = pipeline;
  if (messages::is_composition_recipe(j.outputs))
    kinds = {task_kind::compose};
  else if (messages::is_asset_recipe(j.outputs))
    kinds = {task_kind::probe};
  else if (!j.outputs.empty()
           && std::find(kinds.begin(), kinds.end(), task_kind::render)
                == kinds.end())
    kinds.push_back(task_kind::render);
  json steps = json::array();
  double done = 0;
  double total = 0;
  for (auto kind : kinds) {
    auto s = state_of(j, kind, ledger, live);
    if (kind == task_kind::render) {
      add_outputs(steps, done, total, j.outputs, s, j, live);
      continue;
    }
    auto name = step_name(kind);
    steps.push_back(step_json(name ? name : messages::to_string(kind), s));
    total += 1.0;
    done += s.percent;
  }
  int percent = 0;
  if (j.status == job_status::succeeded)
    percent = 100;
  else if (total > 0)
    percent = std::min(99, static_cast<int>(std::floor(done / total)));
  json out;
  out["percent"] = percent;
  out["steps"] = std::move(steps);
  return out;
}

} // namespace vf::adapters::http
