#define CAF_SUITE runtime.job_activity

#include "vf_test.hpp"

#include "vf/runtime/job_activity.hpp"

#include <nlohmann/json.hpp>

#include <string>

using namespace vf;
using vf::messages::job_status;

namespace {

messages::job ended_as(job_status st) {
  messages::job j;
  j.id = "j";
  j.status = st;
  return j;
}

} // namespace

CAF_TEST(ended jobs are counted in their minute) {
  int64_t now = 999'999'960'000; // a whole minute
  runtime::job_activity act{[&] { return now; }};
  act.ended(ended_as(job_status::succeeded), 40);
  act.ended(ended_as(job_status::succeeded), 60);
  act.ended(ended_as(job_status::failed), -1);
  act.ended(ended_as(job_status::processing), 10); // not an end: ignored
  now += 61'000;
  act.ended(ended_as(job_status::cancelled), 5);
  auto doc = nlohmann::json::parse(act.json());
  auto& ms = doc["minutes"];
  CAF_REQUIRE_EQUAL(ms.size(), runtime::job_activity::minutes);
  auto& last = ms.back();
  auto& before = ms[ms.size() - 2];
  CAF_CHECK_EQUAL(last["start"].get<int64_t>(), 1'000'000'020'000);
  CAF_CHECK_EQUAL(last["cancelled"].get<int>(), 1);
  CAF_CHECK_EQUAL(last["succeeded"].get<int>(), 0);
  CAF_CHECK_EQUAL(before["succeeded"].get<int>(), 2);
  CAF_CHECK_EQUAL(before["failed"].get<int>(), 1);
  // p95 of {40, 60} is the 60 ms bucket's bound, within 5 %.
  auto p95 = before["p95_ms"].get<int64_t>();
  CAF_CHECK_GREATER_OR_EQUAL(p95, 60);
  CAF_CHECK_LESS_OR_EQUAL(p95, 63);
  CAF_CHECK(ms[0]["p95_ms"].is_null());
}

CAF_TEST(the p95 is the 95th percentile) {
  int64_t now = 999'999'960'000;
  runtime::job_activity act{[&] { return now; }};
  for (int i = 1; i <= 100; ++i)
    act.ended(ended_as(job_status::succeeded), i * 10);
  auto doc = nlohmann::json::parse(act.json());
  auto p95 = doc["minutes"].back()["p95_ms"].get<int64_t>();
  CAF_CHECK_GREATER_OR_EQUAL(p95, 950);
  CAF_CHECK_LESS_OR_EQUAL(p95, 998);
}

CAF_TEST(minutes older than an hour are forgotten) {
  int64_t now = 999'999'960'000;
  runtime::job_activity act{[&] { return now; }};
  act.ended(ended_as(job_status::succeeded), 10);
  now += 60 * 60'000; // the same ring slot, an hour later
  auto doc = nlohmann::json::parse(act.json());
  int total = 0;
  for (auto& m : doc["minutes"])
    total += m["succeeded"].get<int>();
  CAF_CHECK_EQUAL(total, 0);
  act.ended(ended_as(job_status::succeeded), 10);
  doc = nlohmann::json::parse(act.json());
  CAF_CHECK_EQUAL(doc["minutes"].back()["succeeded"].get<int>(), 1);
}
