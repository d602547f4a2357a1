// vf/messages/task.cpp

#include "vf/messages/task.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace vf::messages {

namespace {

constexpr std::array<const char*, 5> kind_names{{"probe", "summarize",
                                                 "sleep", "render",
                                                 "compose"}};

} // namespace

std::string to_string(task_kind x) {
  auto i = static_cast<size_t>(x);
  return i < kind_names.size() ? kind_names[i] : "unknown";
}

bool is_valid_name(const std::string& x) {
  if (x.empty() || x.size() > 64)
    return false;
  return std::all_of(x.begin(), x.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_'
           || c == '.';
  });
}

bool from_string(const std::string& str, task_kind& x) {
  for (size_t i = 0; i < kind_names.size(); ++i) {
    if (str == kind_names[i]) {
      x = static_cast<task_kind>(i);
      return true;
    }
  }
  return false;
}

task_progress progress_of(const task& t) {
  task_progress x;
  x.job_id = t.job_id;
  x.lease_id = t.lease_id;
  x.kind = t.kind;
  x.series = t.series;
  x.object_version = t.object.version;
  for (auto& o : t.outputs)
    x.outputs.push_back(o.key);
  return x;
}

} // namespace vf::messages
