#define CAF_SUITE adapters.common

#include "vf/adapters/common/lease_journal.hpp"
#include "vf/adapters/common/upload_meter.hpp"
#include "vf/messages/errc.hpp"
#include "vf/messages/task.hpp"
#include "vf_test.hpp"
#include "vf_test_files.hpp"

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

using vf::adapters::common::lease_journal;
using vf::messages::task_kind;

namespace {

vf::messages::task task_of(const std::string& job, uint32_t attempt,
                           task_kind kind = task_kind::probe,
                           uint32_t series = 0) {
  vf::messages::task t;
  t.job_id = job;
  t.attempt = attempt;
  t.kind = kind;
  t.series = series;
  return t;
}

size_t lines_in(const std::string& path) {
  auto text = vf::testing::slurp(path);
  size_t n = 0;
  for (auto c : text)
    n += c == '\n' ? 1 : 0;
  return n;
}

} // namespace

CAF_TEST(a fresh journal knows of no earlier attempt) {
  auto path = vf::testing::temp_dir("journal") + "/leases.log";
  auto j = lease_journal::open(path);
  CAF_REQUIRE(j);
  CAF_CHECK_EQUAL((*j)->previous_count(), 0u);
  CAF_CHECK(!(*j)->began_before("job", 0, task_kind::probe, 1));
  CAF_CHECK_EQUAL(vf::testing::file_mode(path), 0600u);
}

CAF_TEST(attempts begun before a restart are known after it) {
  auto path = vf::testing::temp_dir("journal") + "/leases.log";
  {
    auto j = lease_journal::open(path);
    CAF_REQUIRE(j);
    (*j)->began(task_of("a", 1));
    (*j)->began(task_of("b", 2, task_kind::render, 1));
    (*j)->ended(task_of("a", 1)); // Ended: no less begun for that.
  } // The process dies here: no clean shutdown writes anything.
  auto j = lease_journal::open(path);
  CAF_REQUIRE(j);
  auto& x = **j;
  CAF_CHECK_EQUAL(x.previous_count(), 2u);
  CAF_CHECK(x.began_before("a", 0, task_kind::probe, 1));
  CAF_CHECK(x.began_before("b", 1, task_kind::render, 2));
  // Another attempt, series or step of the same job did not begin.
  CAF_CHECK(!x.began_before("a", 0, task_kind::probe, 2));
  CAF_CHECK(!x.began_before("b", 0, task_kind::render, 2));
  CAF_CHECK(!x.began_before("b", 1, task_kind::probe, 2));
  CAF_CHECK(!x.began_before("c", 0, task_kind::probe, 1));
}

CAF_TEST(what a run began is carried through one more restart only) {
  // A crash right after a restart, before the resumed attempts are
  // persisted again, must not forget what had begun; a run later it is old.
  auto path = vf::testing::temp_dir("journal") + "/leases.log";
  {
    auto j = lease_journal::open(path);
    CAF_REQUIRE(j);
    (*j)->began(task_of("a", 1));
  }
  {
    auto j = lease_journal::open(path);
    CAF_REQUIRE(j);
    CAF_CHECK((*j)->began_before("a", 0, task_kind::probe, 1));
  }
  {
    auto j = lease_journal::open(path);
    CAF_REQUIRE(j);
    CAF_CHECK((*j)->began_before("a", 0, task_kind::probe, 1));
  }
  auto j = lease_journal::open(path);
  CAF_REQUIRE(j);
  CAF_CHECK(!(*j)->began_before("a", 0, task_kind::probe, 1));
  CAF_CHECK_EQUAL((*j)->previous_count(), 0u);
}

CAF_TEST(a torn or foreign line is skipped and the rest is read) {
  auto path = vf::testing::temp_dir("journal") + "/leases.log";
  {
    std::ofstream out{path};
    out << "b\tgood\t0\tprobe\t1\n"
        << "garbage line\n"
        << "b\tx\tnot-a-number\tprobe\t1\n"
        << "b\t\t0\tprobe\t1\n"
        << "z\tother\t0\tprobe\t1\n"
        << "b\ttorn\t0\tpro"; // The write a kill cut short.
  }
  auto j = lease_journal::open(path);
  CAF_REQUIRE(j);
  CAF_CHECK_EQUAL((*j)->previous_count(), 1u);
  CAF_CHECK((*j)->began_before("good", 0, task_kind::probe, 1));
  CAF_CHECK(!(*j)->began_before("torn", 0, task_kind::probe, 1));
}

CAF_TEST(the file stays small: ended leases go when it is compacted) {
  auto path = vf::testing::temp_dir("journal") + "/leases.log";
  auto j = lease_journal::open(path, 4096);
  CAF_REQUIRE(j);
  auto& x = **j;
  x.began(task_of("still-running", 1));
  for (uint32_t i = 0; i < 1000; ++i) {
    auto t = task_of("job-" + std::to_string(i), 1);
    x.began(t);
    x.ended(t);
  }
  CAF_CHECK_LESS_OR_EQUAL(std::filesystem::file_size(path), 4096u);
  CAF_CHECK_LESS(lines_in(path), 200u);
  // The open lease survived every compaction.
  auto again = lease_journal::open(path);
  CAF_REQUIRE(again);
  CAF_CHECK((*again)->began_before("still-running", 0, task_kind::probe, 1));
  CAF_CHECK(!(*again)->began_before("job-0", 0, task_kind::probe, 1));
}

CAF_TEST(a journal in a directory that does not exist fails clearly) {
  auto j = lease_journal::open("/nonexistent-vf-dir/leases.log");
  CAF_REQUIRE(!j);
  CAF_CHECK_NOT_EQUAL(vf::messages::message_of(j.error())
                        .find("/nonexistent-vf-dir/leases.log"),
                      std::string::npos);
}

CAF_TEST(the upload meter follows single uploads and multipart parts) {
  auto meter = std::make_shared<vf::adapters::common::upload_meter>();
  {
    vf::adapters::common::metered_upload one{meter, "b", "single", uint64_t{100}};
    one.update(40);
    auto x = meter->find("b", "single");
    CAF_REQUIRE(x);
    CAF_CHECK_EQUAL(x->received, 40u);
    CAF_CHECK_EQUAL(x->expected, 100u);
  }
  CAF_CHECK(!meter->find("b", "single"));
  // Multipart: declared size, two parts streaming at once, one stored.
  meter->declare("b", "big", 12);
  {
    vf::adapters::common::metered_upload p1{meter, "b", "big", 1u};
    vf::adapters::common::metered_upload p2{meter, "b", "big", 2u};
    p1.update(3);
    p2.update(2);
    auto got1 = meter->find("b", "big")->received;
    CAF_CHECK_EQUAL(got1, 5u);
    p1.update(5);
    p1.stored(5);
    // p2's connection drops: its bytes no longer count.
  }
  auto x = meter->find("b", "big");
  CAF_REQUIRE(x);
  CAF_CHECK_EQUAL(x->received, 5u);
  CAF_CHECK_EQUAL(x->expected, 12u);
  {
    // Part 1 sent again: while it streams it counts as far as it got,
    // once stored it replaces the first copy, never twice.
    vf::adapters::common::metered_upload again{meter, "b", "big", 1u};
    again.update(1);
    auto got2 = meter->find("b", "big")->received;
    CAF_CHECK_EQUAL(got2, 1u);
    again.stored(5);
  }
  auto got3 = meter->find("b", "big")->received;
  CAF_CHECK_EQUAL(got3, 5u);
  meter->forget("b", "big");
  CAF_CHECK(!meter->find("b", "big"));
}

CAF_TEST(the upload meter forgets the stalest multipart upload when full) {
  vf::adapters::common::upload_meter meter;
  for (size_t i = 0; i <= vf::adapters::common::upload_meter::max_multipart;
       ++i)
    meter.declare("b", "k" + std::to_string(i), 10);
  CAF_CHECK(!meter.find("b", "k0"));
  CAF_CHECK(meter.find("b", "k1"));
  CAF_CHECK(meter.find("b", "k4096"));
}
