// tests/vf_test.hpp: the one header every CAF-based suite includes instead of
// caf/test/dsl.hpp.

#pragma once

// CAF 0.17.6: test_coordinator_fixture::request<T>() calls an undefined FAIL().
#ifndef FAIL
#  define FAIL(msg) CAF_FAIL(msg)
#endif

#include "vf/messages/errc.hpp"
#include "vf/messages/register_types.hpp"
#include "vf/messages/type_ids.hpp"

#include "caf/test/dsl.hpp"

#include <string>

namespace vf::testing {

/// Registers our message types and error category exactly like production.
struct config : caf::actor_system_config {
  config() {
    messages::register_types(*this);
  }
};

/// Deterministic scheduler + clock; one instance per CAF_TEST.
using fixture_base = test_coordinator_fixture<config>;

/// Directory of test data copied into the project (tests/data).
inline std::string data_dir() {
  return VF_TEST_DATA_DIR;
}

} // namespace vf::testing
