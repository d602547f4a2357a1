// vf/messages/job.cpp

#include "vf/messages/job.hpp"

#include <array>

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

} // namespace vf::messages
