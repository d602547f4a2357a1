#define CAF_SUITE adapters.sqlite

#include "vf/adapters/sqlite/database.hpp"
#include "vf/adapters/sqlite/job_store.hpp"
#include "vf/messages/errc.hpp"
#include "vf/messages/job.hpp"
#include "vf_test.hpp"

#include "caf/actor_system.hpp"
#include "caf/exit_reason.hpp"
#include "caf/scoped_actor.hpp"

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

using namespace std::chrono_literals;

namespace atoms = vf::atoms;
namespace sqlite = vf::adapters::sqlite;
using vf::messages::errc;
using vf::messages::job;
using vf::messages::job_result;
using vf::messages::job_status;
using vf::messages::job_store_actor;
using vf::messages::status_counts;

namespace {

/// Generous: every write waits for an fsync on a shared, busy machine.
constexpr auto timeout = 10s;

job make_job(std::string id, int64_t created_at = 1000,
             job_status status = job_status::awaiting_upload) {
  job x;
  x.id = std::move(id);
  x.owner = "alice";
  x.filename = "clip.mp4";
  x.content_type = "video/mp4";
  x.bucket = "uploads";
  x.key = "uploads/" + x.id + "/clip.mp4";
  x.status = status;
  x.created_at = created_at;
  x.updated_at = created_at;
  return x;
}

bool same(const job& x, const job& y) {
  return x.id == y.id && x.owner == y.owner && x.filename == y.filename
         && x.content_type == y.content_type && x.bucket == y.bucket
         && x.key == y.key && x.status == y.status
         && x.created_at == y.created_at && x.updated_at == y.updated_at
         && x.object == y.object && x.attempts == y.attempts && x.step == y.step
         && x.next_attempt_at == y.next_attempt_at
         && x.error_code == y.error_code && x.error_message == y.error_message;
}

std::vector<std::string> ids_of(const std::vector<job>& xs) {
  std::vector<std::string> result;
  result.reserve(xs.size());
  for (auto& x : xs)
    result.push_back(x.id);
  return result;
}

struct fixture {
  fixture() : sys(cfg), self(sys) {
    auto tmpl
      = (std::filesystem::temp_directory_path() / "vf-sqlite-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr)
      CAF_FAIL("mkdtemp failed for " << tmpl);
    dir = tmpl;
    path = dir + "/jobs.db";
    store = spawn();
  }

  ~fixture() {
    stop();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }

  /// Spawns a store on `path` or fails the test.
  job_store_actor spawn(uint32_t max_batch = 512) {
    auto hdl = sqlite::spawn_job_store(sys, {path, max_batch});
    if (!hdl)
      CAF_FAIL("spawn_job_store failed: " << sys.render(hdl.error()));
    return std::move(*hdl);
  }

  /// Shuts the store down and waits until it is gone (file closed).
  void stop() {
    if (store) {
      self->send_exit(store, caf::exit_reason::user_shutdown);
      self->wait_for(store);
      store = nullptr;
    }
  }

  /// Sends a request and waits for its single reply.
  template <class T, class... Ts>
  caf::expected<T> ask(Ts&&... xs) {
    caf::expected<T> result{caf::make_error(caf::sec::request_timeout)};
    self->request(store, timeout, std::forward<Ts>(xs)...)
      .receive([&](T& x) { result = std::move(x); },
               [&](caf::error& err) { result = std::move(err); });
    return result;
  }

  /// Reads (commits, writes) through the store's own `stats` message.
  std::pair<uint64_t, uint64_t> stats() {
    auto hdl = caf::actor_cast<sqlite::sqlite_job_store_actor>(store);
    std::pair<uint64_t, uint64_t> result{0, 0};
    self->request(hdl, timeout, atoms::stats_v)
      .receive(
        [&](uint64_t commits, uint64_t writes) {
          result = {commits, writes};
        },
        [&](caf::error& err) {
          CAF_FAIL("stats failed: " << sys.render(err));
        });
    return result;
  }

  vf::testing::config cfg;
  caf::actor_system sys;
  caf::scoped_actor self;
  std::string dir;
  std::string path;
  job_store_actor store;
};

/// Checks that `x` failed with `code`.
#define CHECK_ERRC(x, code)                                                    \
  do {                                                                         \
    auto&& res_ = (x);                                                         \
    if (res_)                                                                  \
      CAF_FAIL("expected " << vf::messages::to_string(code)                    \
                           << ", got a value");                                \
    CAF_CHECK_EQUAL(                                                           \
      vf::messages::to_string(vf::messages::errc_of(res_.error())),            \
      vf::messages::to_string(code));                                          \
  } while (false)

} // namespace

CAF_TEST_FIXTURE_SCOPE(sqlite_job_store_tests, fixture)

CAF_TEST(create and get round trip every field) {
  auto x = make_job("j-1", 1700000000123, job_status::processing);
  x.updated_at = 1700000000456;
  x.object = {"raw", "uploads/j-1/clip.mp4", "v7", "\"etag-1\"",
              (uint64_t{1} << 40) + 3};
  x.attempts = 4;
  x.step = "thumbnail";
  x.next_attempt_at = 1700000009999;
  x.error_code = "timeout";
  x.error_message
    = std::string{"took too long: \xc3\xa9t\xc3\xa9 "} + '\0' + " tail";
  CAF_CHECK_EQUAL(ask<bool>(atoms::create_v, x), true);
  auto y = ask<job>(atoms::get_v, x.id);
  CAF_REQUIRE(y);
  CAF_CHECK(same(x, *y));
  CAF_CHECK_EQUAL(y->error_message.size(), x.error_message.size());
}

CAF_TEST(get of an unknown id is not_found) {
  CHECK_ERRC(ask<job>(atoms::get_v, std::string{"nope"}), errc::not_found);
}

CAF_TEST(duplicate create fails alone in its batch) {
  CAF_CHECK_EQUAL(ask<bool>(atoms::create_v, make_job("a")), true);
  // Fire without waiting so that all four land in one (or few) batches.
  auto r1 = self->request(store, timeout, atoms::create_v, make_job("b"));
  auto r2 = self->request(store, timeout, atoms::create_v, make_job("a"));
  auto r3 = self->request(store, timeout, atoms::create_v, make_job("b"));
  auto r4 = self->request(store, timeout, atoms::create_v, make_job("c"));
  auto expect_ok = [&](auto& rh) {
    rh.receive([](bool x) { CAF_CHECK_EQUAL(x, true); },
               [&](caf::error& err) {
                 CAF_FAIL("unexpected error: " << sys.render(err));
               });
  };
  auto expect_duplicate = [&](auto& rh) {
    rh.receive([](bool) { CAF_FAIL("duplicate create succeeded"); },
               [](caf::error& err) {
                 CAF_CHECK(vf::messages::errc_of(err) == errc::duplicate);
               });
  };
  expect_ok(r1);
  expect_duplicate(r2);
  expect_duplicate(r3);
  expect_ok(r4);
  CAF_CHECK(ask<job>(atoms::get_v, std::string{"b"}));
  CAF_CHECK(ask<job>(atoms::get_v, std::string{"c"}));
  auto counts = ask<status_counts>(atoms::counts_v);
  CAF_REQUIRE(counts);
  CAF_CHECK_EQUAL(counts->at(0), 3u);
}

CAF_TEST(put replaces the stored state) {
  auto x = make_job("j-put", 5000, job_status::submitted);
  CAF_CHECK_EQUAL(ask<bool>(atoms::create_v, x), true);
  x.status = job_status::failed;
  x.attempts = 3;
  x.updated_at = 6000;
  x.step = "probe";
  x.error_code = "bad_media";
  x.error_message = "moov atom not found";
  x.object.version = "v2";
  CAF_CHECK_EQUAL(ask<bool>(atoms::put_v, x), true);
  auto y = ask<job>(atoms::get_v, x.id);
  CAF_REQUIRE(y);
  CAF_CHECK(same(x, *y));
}

CAF_TEST(put of an unknown id is not_found) {
  CHECK_ERRC(ask<bool>(atoms::put_v, make_job("ghost")), errc::not_found);
  CHECK_ERRC(ask<job>(atoms::get_v, std::string{"ghost"}), errc::not_found);
}

CAF_TEST(history is newest first and limited) {
  for (int i = 1; i <= 5; ++i)
    CAF_CHECK_EQUAL(ask<bool>(atoms::create_v, make_job("h" + std::to_string(i),
                                                        int64_t{i} * 100)),
                    true);
  // Same millisecond as h5: the later insert counts as newer.
  CAF_CHECK_EQUAL(ask<bool>(atoms::create_v, make_job("h6", 500)), true);
  auto xs = ask<std::vector<job>>(atoms::history_v, uint32_t{3});
  CAF_REQUIRE(xs);
  CAF_CHECK_EQUAL(ids_of(*xs), (std::vector<std::string>{"h6", "h5", "h4"}));
  xs = ask<std::vector<job>>(atoms::history_v, uint32_t{200});
  CAF_REQUIRE(xs);
  CAF_CHECK_EQUAL(xs->size(), 6u);
  xs = ask<std::vector<job>>(atoms::history_v, uint32_t{0});
  CAF_REQUIRE(xs);
  CAF_CHECK(xs->empty());
}

CAF_TEST(put_result first write wins) {
  job_result r{"j-r", R"({"format":{},"streams":[]})", "first", 42};
  CAF_CHECK_EQUAL(ask<bool>(atoms::put_result_v, r), true);
  auto second = r;
  second.summary = "second";
  second.created_at = 43;
  CAF_CHECK_EQUAL(ask<bool>(atoms::put_result_v, second), false);
  auto y = ask<job_result>(atoms::get_result_v, std::string{"j-r"});
  CAF_REQUIRE(y);
  CAF_CHECK_EQUAL(y->job_id, "j-r");
  CAF_CHECK_EQUAL(y->metadata, r.metadata);
  CAF_CHECK_EQUAL(y->summary, "first");
  CAF_CHECK_EQUAL(y->created_at, 42);
}

CAF_TEST(get_result of an unknown job is not_found) {
  CHECK_ERRC(ask<job_result>(atoms::get_result_v, std::string{"none"}),
             errc::not_found);
}

CAF_TEST(claim is true once then false) {
  std::string key = "raw/uploads/j/clip.mp4@v1";
  CAF_CHECK_EQUAL(ask<bool>(atoms::claim_v, key, std::string{"j"}), true);
  CAF_CHECK_EQUAL(ask<bool>(atoms::claim_v, key, std::string{"j"}), false);
  CAF_CHECK_EQUAL(ask<bool>(atoms::claim_v, key, std::string{"other"}), false);
  // A new version of the same object is new work.
  CAF_CHECK_EQUAL(ask<bool>(atoms::claim_v,
                            std::string{"raw/uploads/j/"
                                        "clip.mp4@v2"},
                            std::string{"j"}),
                  true);
}

CAF_TEST(active returns only submitted and processing jobs) {
  for (size_t i = 0; i < vf::messages::job_status_count; ++i) {
    auto status = static_cast<job_status>(i);
    CAF_CHECK_EQUAL(
      ask<bool>(atoms::create_v,
                make_job(to_string(status), static_cast<int64_t>(i), status)),
      true);
  }
  auto xs = ask<std::vector<job>>(atoms::active_v);
  CAF_REQUIRE(xs);
  CAF_CHECK_EQUAL(ids_of(*xs),
                  (std::vector<std::string>{"SUBMITTED", "PROCESSING"}));
}

CAF_TEST(counts are indexed by status) {
  auto add = [&](const std::string& id, job_status status) {
    CAF_CHECK_EQUAL(ask<bool>(atoms::create_v, make_job(id, 1, status)), true);
  };
  add("a", job_status::submitted);
  add("b", job_status::submitted);
  add("c", job_status::succeeded);
  add("d", job_status::expired);
  auto counts = ask<status_counts>(atoms::counts_v);
  CAF_REQUIRE(counts);
  CAF_CHECK_EQUAL(*counts, (status_counts{0, 2, 0, 1, 0, 0, 1}));
}

CAF_TEST(data survives close and reopen) {
  CAF_CHECK_EQUAL(ask<bool>(atoms::create_v, make_job("keep", 7)), true);
  CAF_CHECK_EQUAL(
    ask<bool>(atoms::put_result_v, job_result{"keep", "{}", "sum", 8}), true);
  CAF_CHECK_EQUAL(
    ask<bool>(atoms::claim_v, std::string{"k1"}, std::string{"keep"}), true);
  stop();
  store = spawn();
  auto x = ask<job>(atoms::get_v, std::string{"keep"});
  CAF_REQUIRE(x);
  CAF_CHECK(same(*x, make_job("keep", 7)));
  auto r = ask<job_result>(atoms::get_result_v, std::string{"keep"});
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->summary, "sum");
  CAF_CHECK_EQUAL(
    ask<bool>(atoms::claim_v, std::string{"k1"}, std::string{"keep"}), false);
  CHECK_ERRC(ask<bool>(atoms::create_v, make_job("keep")), errc::duplicate);
}

CAF_TEST(shutdown commits the open batch) {
  constexpr int n = 50;
  for (int i = 0; i < n; ++i)
    self->send(store, atoms::create_v, make_job("s" + std::to_string(i)));
  // Same sender, so the exit message queues behind every create.
  stop();
  store = spawn();
  auto counts = ask<status_counts>(atoms::counts_v);
  CAF_REQUIRE(counts);
  CAF_CHECK_EQUAL(counts->at(0), static_cast<uint64_t>(n));
}

CAF_TEST(group commit batches a burst of writes) {
  constexpr size_t n = 200;
  using handle
    = decltype(self->request(store, timeout, atoms::create_v, job{}));
  std::vector<handle> pending;
  pending.reserve(n);
  for (size_t i = 0; i < n; ++i)
    pending.emplace_back(self->request(store, timeout, atoms::create_v,
                                       make_job("g" + std::to_string(i))));
  size_t ok = 0;
  for (auto& rh : pending)
    rh.receive(
      [&](bool x) { ok += x ? 1 : 0; },
      [&](caf::error& err) { CAF_FAIL("create failed: " << sys.render(err)); });
  CAF_CHECK_EQUAL(ok, n);
  auto [commits, writes] = stats();
  CAF_MESSAGE(n << " creates took " << commits << " commits");
  CAF_CHECK_EQUAL(writes, n);
  CAF_CHECK_GREATER_OR_EQUAL(commits, 1u);
  // One fsync per request would be 200; batching must beat that by far.
  CAF_CHECK_LESS(commits, n / 10);
}

CAF_TEST(max_batch caps a batch) {
  stop();
  store = spawn(10);
  constexpr size_t n = 100;
  using handle
    = decltype(self->request(store, timeout, atoms::create_v, job{}));
  std::vector<handle> pending;
  for (size_t i = 0; i < n; ++i)
    pending.emplace_back(self->request(store, timeout, atoms::create_v,
                                       make_job("m" + std::to_string(i))));
  for (auto& rh : pending)
    rh.receive(
      [](bool x) { CAF_CHECK(x); },
      [&](caf::error& err) { CAF_FAIL("create failed: " << sys.render(err)); });
  auto [commits, writes] = stats();
  CAF_CHECK_EQUAL(writes, n);
  CAF_CHECK_GREATER_OR_EQUAL(commits, n / 10);
}

CAF_TEST(a read in the same burst sees the earlier write) {
  auto w = self->request(store, timeout, atoms::create_v, make_job("rw"));
  auto r = self->request(store, timeout, atoms::get_v, std::string{"rw"});
  auto h = self->request(store, timeout, atoms::history_v, uint32_t{10});
  r.receive([](job& x) { CAF_CHECK_EQUAL(x.id, "rw"); },
            [&](caf::error& err) {
              CAF_FAIL("read missed the write: " << sys.render(err));
            });
  h.receive(
    [](std::vector<job>& xs) { CAF_CHECK_EQUAL(xs.size(), 1u); },
    [&](caf::error& err) { CAF_FAIL("history failed: " << sys.render(err)); });
  w.receive(
    [](bool x) { CAF_CHECK(x); },
    [&](caf::error& err) { CAF_FAIL("create failed: " << sys.render(err)); });
  // The reads were answered only after the commit that made the write durable.
  CAF_CHECK_EQUAL(stats().first, 1u);
}

CAF_TEST(a bad path fails spawn and names the path) {
  auto bad = dir + "/no-such-dir/jobs.db";
  auto hdl = sqlite::spawn_job_store(sys, {bad, 512});
  CAF_REQUIRE(!hdl);
  CAF_CHECK(vf::messages::errc_of(hdl.error()) == errc::storage_unavailable);
  auto msg = vf::messages::message_of(hdl.error());
  CAF_MESSAGE("error: " << msg);
  CAF_CHECK_NOT_EQUAL(msg.find(bad), std::string::npos);
}

CAF_TEST(a file that is not a database fails spawn) {
  auto bad = dir + "/garbage.db";
  {
    std::FILE* f = std::fopen(bad.c_str(), "wb");
    CAF_REQUIRE(f != nullptr);
    std::string junk(8192, 'x');
    std::fwrite(junk.data(), 1, junk.size(), f);
    std::fclose(f);
  }
  auto hdl = sqlite::spawn_job_store(sys, {bad, 512});
  CAF_REQUIRE(!hdl);
  auto msg = vf::messages::message_of(hdl.error());
  CAF_MESSAGE("error: " << msg);
  CAF_CHECK_NOT_EQUAL(msg.find(bad), std::string::npos);
}

CAF_TEST(a schema newer than this build fails spawn) {
  stop();
  {
    auto db = sqlite::database::open(path);
    CAF_REQUIRE(db);
    CAF_REQUIRE(!(*db)->exec("PRAGMA user_version=99", "set version"));
  }
  auto hdl = sqlite::spawn_job_store(sys, {path, 512});
  CAF_REQUIRE(!hdl);
  auto msg = vf::messages::message_of(hdl.error());
  CAF_MESSAGE("error: " << msg);
  CAF_CHECK_NOT_EQUAL(msg.find("99"), std::string::npos);
}

CAF_TEST_FIXTURE_SCOPE_END()
