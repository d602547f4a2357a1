// vf/messages/job.cpp

#include "vf/messages/job.hpp"

#include <array>
#include <utility>

namespace vf::messages {

namespace {

constexpr std::array<const char*, job_status_count> status_names{{
  "AWAITING_UPLOAD",
  "SUBMITTED",
  "PROCESSING",
  "SUCCEEDED",
  "FAILED",
  "CANCELLED",
  "EXPIRED",
}};

} // namespace

std::string to_string(job_status x) {
  auto i = static_cast<size_t>(x);
  return i < status_names.size() ? status_names[i] : "UNKNOWN";
}

bool from_string(const std::string& str, job_status& x) {
  for (size_t i = 0; i < status_names.size(); ++i) {
    if (str == status_names[i]) {
      x = static_cast<job_status>(i);
      return true;
    }
  }
  return false;
}

std::string priority_name(int32_t x) {
  if (x == priority_high)
    return "high";
  if (x == priority_low)
    return "low";
  return "default";
}

bool priority_from_name(const std::string& str, int32_t& x) {
  if (str == "high")
    x = priority_high;
  else if (str == "default")
    x = priority_default;
  else if (str == "low")
    x = priority_low;
  else
    return false;
  return true;
}

std::optional<std::string> listing_kind_problem(const std::string& owner,
                                                const std::string& kind) {
  if (!is_job_kind(kind))
    return "kind must be empty, composition or asset";
  if (!kind.empty() && owner.empty())
    return "a listing by kind is one user's: it needs an owner";
  return std::nullopt;
}

std::optional<std::string> job_query_problem(const job_query& q) {
  job_status status;
  if (!q.status.empty() && !from_string(q.status, status))
    return "state must be a job status: AWAITING_UPLOAD, SUBMITTED, "
           "PROCESSING, SUCCEEDED, FAILED, CANCELLED or EXPIRED";
  for (auto [what, term] :
       {std::pair{"owner", &q.owner}, std::pair{"name", &q.name}}) {
    if (term->size() > max_query_term)
      return std::string{what} + " must be at most "
             + std::to_string(max_query_term) + " bytes";
    for (unsigned char ch : *term)
      if (ch < 0x20 || ch == 0x7f)
        return std::string{what} + " must not hold control characters";
  }
  if (q.limit < 1 || q.limit > max_query_limit)
    return "limit must be between 1 and " + std::to_string(max_query_limit);
  if (q.status.empty() && q.owner.empty() && q.name.empty())
    return "a job search needs a state, an owner or a name";
  return std::nullopt;
}

bool matches(const job_query& q, const job& j) {
  return (q.status.empty() || to_string(j.status) == q.status)
         && (q.owner.empty() || j.owner == q.owner)
         && (q.name.empty() || j.filename.find(q.name) != std::string::npos);
}

} // namespace vf::messages
