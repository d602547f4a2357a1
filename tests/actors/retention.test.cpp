#define CAF_SUITE actors.retention

#include "vf/actors/retention.hpp"

#include "vf_test.hpp"

#include "fakes.hpp"

#include <set>
#include <string>
#include <vector>

using namespace caf;
using namespace vf;
using messages::errc;
using messages::job_status;

namespace {

constexpr int64_t t0 = 1'800'000'000'000;
constexpr int64_t day_ms = 86'400'000;

using deleter_state = testing::fake_deleter_state;
using testing::fake_deleter;

struct fixture : testing::fixture_base {
  fixture() {
    store = sys.spawn(testing::fake_store);
    deleter = sys.spawn(fake_deleter);
    consume_messages();
  }

  ~fixture() {
    // The sweep re-arms its timer forever: stop it before the fixture
    // drains the scheduler.
    for (auto hdl : {actor_cast<actor>(sweep), actor_cast<actor>(deleter),
                     actor_cast<actor>(store)})
      if (hdl)
        anon_send_exit(hdl, exit_reason::user_shutdown);
    run();
  }

  void spawn_sweep(uint32_t batch = 100) {
    actors::retention_config cfg;
    cfg.keep = std::chrono::hours{24};
    cfg.interval = std::chrono::minutes{1};
    cfg.batch = batch;
    cfg.wall_ms = t0;
    sweep = sys.spawn(actors::retention, store, deleter, cfg);
    consume_messages();
  }

  void add(const std::string& id, job_status status, int64_t ended_at) {
    messages::job j;
    j.id = id;
    j.owner = "demo";
    j.bucket = "uploads";
    j.key = "uploads/" + id + "/clip.mp4";
    j.status = status;
    j.created_at = ended_at - 1000;
    j.updated_at = ended_at;
    j.object.size = 1234;
    store_state().jobs.emplace(id, j);
  }

  testing::fake_store_state& store_state() {
    return deref<testing::fake_store_impl>(store).state;
  }

  deleter_state& deleted() {
    return deref<messages::object_deleter_actor::stateful_base<deleter_state>>(
             deleter)
      .state;
  }

  /// Lets one sweep run: the timer fires and every reply is delivered.
  void next_sweep() {
    advance_time(std::chrono::minutes{1});
    consume_messages();
  }

  messages::store_actor store;
  messages::object_deleter_actor deleter;
  messages::retention_actor sweep;
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(retention_tests, fixture)

CAF_TEST(uploads of ended jobs go after the retention and records stay) {
  add("old-failed", job_status::failed, t0 - 2 * day_ms);
  add("old-cancelled", job_status::cancelled, t0 - 2 * day_ms);
  add("old-expired", job_status::expired, t0 - 2 * day_ms);
  add("young-failed", job_status::failed, t0 - day_ms / 2);
  add("old-succeeded", job_status::succeeded, t0 - 2 * day_ms);
  add("old-processing", job_status::processing, t0 - 2 * day_ms);
  spawn_sweep();
  CAF_CHECK(deleted().erased.empty());
  next_sweep();
  auto erased = std::set<std::string>(deleted().erased.begin(),
                                      deleted().erased.end());
  CAF_CHECK_EQUAL(erased,
                  (std::set<std::string>{
                    "uploads/uploads/old-failed/clip.mp4",
                    "uploads/uploads/old-cancelled/clip.mp4",
                    "uploads/uploads/old-expired/clip.mp4"}));
  auto& st = store_state();
  CAF_CHECK_EQUAL(st.purged.size(), 3u);
  CAF_CHECK_EQUAL(st.purged.count("young-failed"), 0u);
  // The records stay, unchanged.
  CAF_CHECK_EQUAL(st.jobs.size(), 6u);
  CAF_CHECK_EQUAL(st.jobs["old-failed"].status, job_status::failed);
  // Purged once: the next sweep deletes nothing again.
  next_sweep();
  CAF_CHECK_EQUAL(deleted().erased.size(), 3u);
  // Half a day later the young one is due too.
  advance_time(std::chrono::hours{12});
  consume_messages();
  CAF_CHECK_EQUAL(deleted().erased.size(), 4u);
  CAF_CHECK_EQUAL(store_state().purged.count("young-failed"), 1u);
}

CAF_TEST(a failed delete is not recorded and is tried again) {
  add("stuck", job_status::failed, t0 - 2 * day_ms);
  deleted().broken.insert("uploads/stuck/clip.mp4");
  spawn_sweep();
  next_sweep();
  CAF_CHECK(deleted().erased.empty());
  CAF_CHECK_EQUAL(store_state().purged.count("stuck"), 0u);
  deleted().broken.clear();
  next_sweep();
  CAF_CHECK_EQUAL(deleted().erased.size(), 1u);
  CAF_CHECK_EQUAL(store_state().purged.count("stuck"), 1u);
}

CAF_TEST(a full batch sweeps again at once) {
  for (int i = 0; i < 5; ++i)
    add("j" + std::to_string(i), job_status::failed, t0 - 2 * day_ms);
  spawn_sweep(2);
  next_sweep();
  CAF_CHECK_EQUAL(deleted().erased.size(), 5u);
  CAF_CHECK_EQUAL(store_state().purged.size(), 5u);
}

CAF_TEST_FIXTURE_SCOPE_END()
