// vf/adapters/http/route_table.cpp

#include "vf/adapters/http/route_table.hpp"

#include <algorithm>
#include <stdexcept>

namespace vf::adapters::http {

namespace {

std::string describe(const route_entry& x) {
  std::string result{method_name(x.method)};
  result += ' ';
  result += x.pattern;
  return result;
}

[[noreturn]] void refuse(const route_entry& x, std::string_view why) {
  std::string msg = "route table: ";
  msg += describe(x);
  msg += ": ";
  msg += why;
  throw std::invalid_argument(msg);
}

bool is_param(std::string_view seg) {
  return seg.size() > 2 && seg.front() == '{' && seg.back() == '}';
}

bool valid_param_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || c == '_';
  });
}

bool valid_literal(std::string_view seg) {
  return !seg.empty() && std::all_of(seg.begin(), seg.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'
           || c == '_' || c == '.';
  });
}

// Splits a pattern into segments; refuses what could never match as meant.
std::vector<std::string_view> segments_of(const route_entry& x,
                                          size_t& param_index,
                                          size_t& param2_index) {
  auto pattern = x.pattern;
  if (pattern.size() < 2 || pattern.front() != '/')
    refuse(x, "malformed pattern: it must start with '/' and name a path");
  std::vector<std::string_view> result;
  param_index = route_table::npos;
  param2_index = route_table::npos;
  auto rest = pattern.substr(1);
  for (;;) {
    auto slash = rest.find('/');
    auto seg = rest.substr(0, slash);
    if (is_param(seg)) {
      if (!valid_param_name(seg.substr(1, seg.size() - 2)))
        refuse(x, "malformed pattern: a parameter is '{name}' in a-z and _");
      if (param2_index != route_table::npos)
        refuse(x, "malformed pattern: at most two '{param}' segments");
      if (param_index == route_table::npos)
        param_index = result.size();
      else
        param2_index = result.size();
    } else if (!valid_literal(seg)) {
      refuse(x, "malformed pattern: empty segment or a character outside "
                "a-z 0-9 - _ .");
    }
    result.push_back(seg);
    if (slash == std::string_view::npos)
      return result;
    rest.remove_prefix(slash + 1);
  }
}

// Two patterns match the same paths when they differ only in the name of
// their parameter.
bool same_shape(const route_table::resource& x,
                const route_table::resource& y) {
  if (x.segments.size() != y.segments.size() || x.param_index != y.param_index
      || x.param2_index != y.param2_index)
    return false;
  for (size_t i = 0; i < x.segments.size(); ++i)
    if (i != x.param_index && i != x.param2_index
        && x.segments[i] != y.segments[i])
      return false;
  return true;
}

} // namespace

route_table::route_table(const std::vector<route_entry>& entries) {
  for (auto& x : entries) {
    if (x.handler == nullptr)
      refuse(x, "no handler");
    if (x.method == http_method::other)
      refuse(x, "not a method the API tells apart");
    size_t param_index = npos;
    size_t param2_index = npos;
    auto segments = segments_of(x, param_index, param2_index);
    auto i
      = std::find_if(resources_.begin(), resources_.end(),
                     [&](const resource& r) { return r.pattern == x.pattern; });
    if (i == resources_.end()) {
      resource r;
      r.pattern = x.pattern;
      r.segments = std::move(segments);
      r.param_index = param_index;
      r.param2_index = param2_index;
      for (auto& other : resources_)
        if (same_shape(other, r))
          refuse(x, "matches the same paths as " + std::string{other.pattern});
      for (size_t k = 0; k < static_cast<size_t>(route::unmatched); ++k)
        if (route_pattern(static_cast<route>(k)) == x.pattern)
          r.label = static_cast<route>(k);
      if (r.label == route::unmatched)
        refuse(x, "no metric label: add the pattern to `route` in "
                  "exchange.hpp");
      r.unlimited = x.who == access::monitoring;
      resources_.push_back(std::move(r));
      i = resources_.end() - 1;
    }
    auto m = static_cast<size_t>(x.method);
    if (i->handlers[m] != nullptr)
      refuse(x, "declared twice");
    if (i->unlimited != (x.who == access::monitoring))
      refuse(x, "monitoring routes skip the rate limit, so every method of "
                "a pattern must be monitoring or none");
    i->handlers[m] = x.handler;
    i->who[m] = x.who;
  }
  for (auto& r : resources_)
    for (size_t m = 0; m < http_method_count; ++m)
      if (r.handlers[m] != nullptr) {
        if (!r.allow.empty())
          r.allow += ", ";
        r.allow += method_name(static_cast<http_method>(m));
      }
  // Literal patterns first: `/dlq/report` wins over `/dlq/{job_id}`.
  std::stable_sort(resources_.begin(), resources_.end(),
                   [](const resource& x, const resource& y) {
                     return (x.param_index == npos) > (y.param_index == npos);
                   });
}

const route_table::resource* route_table::match(std::string_view path,
                                                std::string_view& param,
                                                std::string_view& param2) const {
  if (path.empty() || path.front() != '/')
    return nullptr;
  auto path_rest = path.substr(1);
  for (auto& r : resources_) {
    auto rest = path_rest;
    std::string_view value;
    std::string_view value2;
    for (size_t i = 0; i < r.segments.size(); ++i) {
      auto slash = rest.find('/');
      auto seg = rest.substr(0, slash);
      auto is_param = i == r.param_index || i == r.param2_index;
      if (is_param ? seg.empty() : seg != r.segments[i])
        break;
      if (i == r.param_index)
        value = seg;
      else if (i == r.param2_index)
        value2 = seg;
      if (slash == std::string_view::npos) {
        if (i + 1 != r.segments.size())
          break;
        param = value;
        param2 = value2;
        return &r;
      }
      rest.remove_prefix(slash + 1);
    }
  }
  return nullptr;
}

} // namespace vf::adapters::http
