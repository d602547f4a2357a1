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

/// Checks that an `expected` `x` holds an error with `errc` `code`, and
/// shows the error's message in the test's output.
#define CHECK_ERRC(x, code)                                                    \
  do {                                                                         \
    auto&& res___ = (x);                                                       \
    CAF_CHECK(!res___);                                                        \
    if (!res___) {                                                             \
      CAF_CHECK_EQUAL(vf::messages::to_string(                                 \
                        vf::messages::errc_of(res___.error())),                \
                      vf::messages::to_string(code));                          \
      CAF_MESSAGE("error: " << vf::messages::message_of(res___.error()));      \
    }                                                                          \
  } while (false)

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
