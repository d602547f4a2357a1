// vf/messages/user_usage.hpp

#pragma once

#include "caf/meta/type_name.hpp"

#include <cstdint>

namespace vf::messages {

/// What one user holds right now, for the per-user limits checked when a
/// job is created (`limits.jobs_in_flight_per_user`,
/// `limits.bytes_per_user`).
struct user_usage {
  /// Jobs in AWAITING_UPLOAD, SUBMITTED or PROCESSING.
  uint64_t jobs_in_flight = 0;
  /// Sum of the sizes of the user's uploaded objects that are still stored.
  uint64_t bytes_stored = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, user_usage& x) {
  return f(caf::meta::type_name("user_usage"), x.jobs_in_flight,
           x.bytes_stored);
}

} // namespace vf::messages
