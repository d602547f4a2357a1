#define CAF_SUITE runtime.storage_check

#include "vf_test.hpp"

#include "vf/runtime/storage_check.hpp"

#include <chrono>
#include <cstdlib>
#include <string>
#include <unistd.h>

using namespace vf;
using std::chrono::hours;
using std::chrono::milliseconds;

namespace {

std::string make_temp_dir() {
  std::string templ = "/tmp/vf-storage-check-XXXXXX";
  auto p = ::mkdtemp(templ.data());
  CAF_REQUIRE(p != nullptr);
  return templ;
}

} // namespace

CAF_TEST(a data directory with room is ready) {
  auto dir = make_temp_dir();
  auto check = runtime::make_storage_check(dir, 0);
  auto st = check();
  CAF_CHECK(st.ok);
  CAF_CHECK_GREATER(st.free_bytes, 0u);
  CAF_CHECK_GREATER_OR_EQUAL(st.total_bytes, st.free_bytes);
  ::rmdir(dir.c_str());
}

CAF_TEST(too little room is not ready and says the limit) {
  auto dir = make_temp_dir();
  auto check = runtime::make_storage_check(dir, UINT64_MAX);
  auto st = check();
  CAF_CHECK(!st.ok);
  CAF_CHECK_NOT_EQUAL(st.detail.find("limits.min_free_bytes"),
                      std::string::npos);
  ::rmdir(dir.c_str());
}

CAF_TEST(an answer is reused only while it is fresh) {
  auto dir = make_temp_dir();
  auto cached = runtime::make_storage_check(dir, 0, hours{1});
  auto uncached = runtime::make_storage_check(dir, 0, milliseconds{0});
  CAF_REQUIRE(cached().ok);
  CAF_REQUIRE(uncached().ok);
  // The directory goes away: the hour-long answer still says ready, the
  // one that is never fresh sees it at once.
  CAF_REQUIRE_EQUAL(::rmdir(dir.c_str()), 0);
  CAF_CHECK(cached().ok);
  auto st = uncached();
  CAF_CHECK(!st.ok);
  CAF_CHECK_NOT_EQUAL(st.detail.find("not writable"), std::string::npos);
}
