#define CAF_SUITE adapters.common

#include "vf/adapters/common/lease_journal.hpp"
#include "vf/messages/errc.hpp"
#include "vf/messages/task.hpp"
#include "vf_test.hpp"
#include "vf_test_files.hpp"

#include <filesystem>
#include <fstream>
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
