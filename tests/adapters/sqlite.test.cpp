#define CAF_SUITE adapters.sqlite

#include "vf/adapters/sqlite/checkpointer.hpp"
#include "vf/adapters/sqlite/database.hpp"
#include "vf/adapters/sqlite/job_store.hpp"
#include "vf/adapters/sqlite/schema.hpp"
#include "vf/messages/dead_letter.hpp"
#include "vf/messages/errc.hpp"
#include "vf/messages/job.hpp"
#include "vf/messages/task.hpp"
#include "vf_test.hpp"

#include "caf/actor_system.hpp"
#include "caf/exit_reason.hpp"
#include "caf/scoped_actor.hpp"

#include <sqlite3.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <optional>
#include <nlohmann/json.hpp>

#include <string>
#include <thread>
#include <utility>
#include <vector>

using namespace std::chrono_literals;

namespace atoms = vf::atoms;
namespace sqlite = vf::adapters::sqlite;
using vf::messages::attempt_record;
using vf::messages::dead_letter;
using vf::messages::errc;
using vf::messages::job;
using vf::messages::job_event;
using vf::messages::job_result;
using vf::messages::job_status;
using vf::messages::store_actor;
using vf::messages::user_usage;
using vf::messages::status_counts;
using vf::messages::task_kind;

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
         && x.error_code == y.error_code && x.error_message == y.error_message
         && x.series == y.series && x.priority == y.priority
         && x.outputs == y.outputs && x.object.sha256 == y.object.sha256;
}

/// Bytes that must survive: UTF-8, an embedded NUL and invalid UTF-8.
std::string nasty(const std::string& prefix) {
  return prefix + " \xc3\xa9t\xc3\xa9 " + '\0' + " \xff\xfe tail";
}

attempt_record make_attempt(std::string job_id, uint32_t attempt,
                            bool ok = false, uint32_t series = 0) {
  attempt_record x;
  x.job_id = std::move(job_id);
  x.lease_id = 1000 + attempt;
  x.object_version = "v1";
  x.series = series;
  x.kind = task_kind::probe;
  x.attempt = attempt;
  x.ok = ok;
  if (ok) {
    x.output = R"({"format":{"duration":"1.5"},"streams":[]})";
  } else {
    x.error_code = vf::messages::errc::timeout;
    x.error_message = "probe took longer than 30000 ms";
  }
  x.worker = "node-1/probe-" + std::to_string(attempt);
  x.finished_at = 1700000000000 + attempt;
  x.duration_us = 250000 + attempt;
  x.leased_at = 1699999999000 + attempt;
  return x;
}

bool same(const attempt_record& x, const attempt_record& y) {
  return x.job_id == y.job_id && x.lease_id == y.lease_id
         && x.object_version == y.object_version && x.series == y.series
         && x.kind == y.kind && x.attempt == y.attempt && x.ok == y.ok
         && x.output == y.output && x.error_code == y.error_code
         && x.error_message == y.error_message && x.worker == y.worker
         && x.finished_at == y.finished_at && x.duration_us == y.duration_us
         && x.leased_at == y.leased_at;
}

bool same(const std::vector<attempt_record>& xs,
          const std::vector<attempt_record>& ys) {
  if (xs.size() != ys.size())
    return false;
  for (size_t i = 0; i < xs.size(); ++i)
    if (!same(xs[i], ys[i]))
      return false;
  return true;
}

/// A dead letter of `id` (series `series`) with two failed attempts.
dead_letter make_dead_letter(std::string id, int64_t created_at,
                             uint32_t series = 0) {
  dead_letter x;
  x.job_id = std::move(id);
  x.object = {"raw", "uploads/" + x.job_id + "/clip.mp4", "v1", "\"e1\"",
              12345, {}, {}};
  x.filename = "clip.mp4";
  x.series = series;
  x.kind = task_kind::summarize;
  x.error_code = vf::messages::errc::provider_error;
  x.error_message = "summarizer answered 500";
  x.attempts = {make_attempt(x.job_id, 1, false, series),
                make_attempt(x.job_id, 2, false, series)};
  x.attempts[0].kind = task_kind::summarize;
  x.attempts[1].kind = task_kind::summarize;
  x.probe_output = R"({"format":{},"streams":[]})";
  x.created_at = created_at;
  return x;
}

bool same(const dead_letter& x, const dead_letter& y) {
  return x.job_id == y.job_id && x.object == y.object
         && x.filename == y.filename && x.series == y.series
         && x.kind == y.kind && x.error_code == y.error_code
         && x.error_message == y.error_message && same(x.attempts, y.attempts)
         && x.probe_output == y.probe_output && x.created_at == y.created_at
         && x.redriven_at == y.redriven_at;
}

/// The job's state as buried along with `dl`.
job failed_job(const std::string& id, int64_t at) {
  auto x = make_job(id, 1000, job_status::failed);
  x.updated_at = at;
  x.attempts = 2;
  x.step = "summarize";
  x.error_code = vf::messages::errc::provider_error;
  x.error_message = "summarizer answered 500";
  return x;
}

std::vector<std::string> ids_of(const std::vector<dead_letter>& xs) {
  std::vector<std::string> result;
  for (auto& x : xs)
    result.push_back(x.job_id + "/" + std::to_string(x.series));
  return result;
}

/// Returns `PRAGMA user_version` of the file at `path`.
int64_t user_version(const std::string& path) {
  auto db = vf::adapters::sqlite::database::open(path);
  if (!db)
    return -1;
  auto stmt = (*db)->prepare("PRAGMA user_version");
  if (!stmt || stmt->step() != SQLITE_ROW)
    return -1;
  vf::adapters::sqlite::statement::use guard{*stmt};
  return stmt->column_int64(0);
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
  store_actor
  spawn(uint32_t max_batch = 512,
        std::shared_ptr<vf::adapters::common::effects_log> effects = nullptr,
        std::chrono::microseconds commit_delay = {}) {
    auto hdl = sqlite::spawn_job_store(sys, {path, max_batch, effects,
                                             commit_delay});
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

  /// Takes the database's write lock from a second connection, so that the
  /// store blocks on its next BEGIN while requests pile up in its mailbox:
  /// everything sent before `release` then lands in one batch.
  struct write_lock {
    std::unique_ptr<sqlite::database> db;

    void release() {
      if (db) {
        CAF_CHECK(!db->exec("ROLLBACK", "release write lock"));
        db.reset();
      }
    }

    ~write_lock() {
      release();
    }
  };

  write_lock hold_write_lock() {
    auto db = sqlite::database::open(path);
    if (!db)
      CAF_FAIL("open second connection: " << sys.render(db.error()));
    if (auto err = (*db)->exec("BEGIN IMMEDIATE", "take write lock"))
      CAF_FAIL(sys.render(err));
    return write_lock{std::move(*db)};
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
  store_actor store;
};

/// Checks that `x` failed with `code`.

} // namespace

CAF_TEST_FIXTURE_SCOPE(sqlite_job_store_tests, fixture)

CAF_TEST(create and get round trip every field) {
  auto x = make_job("j-1", 1700000000123, job_status::processing);
  x.updated_at = 1700000000456;
  x.object = {"raw", "uploads/j-1/clip.mp4", "v7", "\"etag-1\"",
              (uint64_t{1} << 40) + 3, {}, std::string(64, 'e')};
  x.attempts = 4;
  x.step = "thumbnail";
  x.next_attempt_at = 1700000009999;
  x.error_code = vf::messages::errc::timeout;
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

CAF_TEST(an idempotency key makes its job once) {
  using names = std::vector<std::string>;
  auto keyed = [&](job j, std::string key, std::string hash, int64_t since) {
    return ask<names>(atoms::create_keyed_v, std::move(j), std::move(key),
                      std::move(hash), since);
  };
  auto find = [&](std::string owner, std::string key, int64_t since) {
    return ask<names>(atoms::find_key_v, std::move(owner), std::move(key),
                      since);
  };
  CAF_CHECK_EQUAL(find("alice", "k", 0), names{});
  auto first = keyed(make_job("a", 1000), "k", "h1", 0);
  CAF_REQUIRE(first);
  CAF_CHECK_EQUAL(*first, (names{"a", "h1"}));
  CAF_CHECK(ask<job>(atoms::get_v, std::string{"a"}));
  // The key names "a" now: "b" is not created, whatever its hash.
  auto second = keyed(make_job("b", 2000), "k", "h2", 0);
  CAF_REQUIRE(second);
  CAF_CHECK_EQUAL(*second, (names{"a", "h1"}));
  CHECK_ERRC(ask<job>(atoms::get_v, std::string{"b"}), errc::not_found);
  CAF_CHECK_EQUAL(find("alice", "k", 0), (names{"a", "h1"}));
  CAF_CHECK_EQUAL(find("alice", "k", 1001), names{});
  // Keys are per owner.
  auto bob = make_job("c", 4500);
  bob.owner = "bob";
  CAF_CHECK_EQUAL(keyed(bob, "k", "h1", 0), (names{"c", "h1"}));
  // A key older than the window is dropped and made again.
  CAF_CHECK_EQUAL(keyed(make_job("d", 5000), "k", "h3", 4000),
                  (names{"d", "h3"}));
  CAF_CHECK_EQUAL(find("alice", "k", 0), (names{"d", "h3"}));
  // A duplicate job id fails the whole write: no key is left behind.
  CHECK_ERRC(keyed(make_job("d", 6000), "k2", "h", 0), errc::duplicate);
  CAF_CHECK_EQUAL(find("alice", "k2", 0), names{});
  // Erasing the job frees its key.
  CAF_CHECK_EQUAL(ask<bool>(atoms::erase_v, std::string{"d"}), true);
  CAF_CHECK_EQUAL(find("alice", "k", 0), names{});
  CAF_CHECK_EQUAL(find("bob", "k", 0), (names{"c", "h1"}));
}

CAF_TEST(put replaces the stored state) {
  auto x = make_job("j-put", 5000, job_status::submitted);
  CAF_CHECK_EQUAL(ask<bool>(atoms::create_v, x), true);
  x.status = job_status::failed;
  x.attempts = 3;
  x.updated_at = 6000;
  x.step = "probe";
  x.error_code = vf::messages::errc::bad_media;
  x.error_message = "moov atom not found";
  x.object.version = "v2";
  CAF_CHECK_EQUAL(ask<bool>(atoms::put_v, x), true);
  auto y = ask<job>(atoms::get_v, x.id);
  CAF_REQUIRE(y);
  CAF_CHECK(same(x, *y));
}

CAF_TEST(the journal records each status change once in the same write) {
  auto x = make_job("j-ev", 5000);
  CAF_CHECK_EQUAL(ask<bool>(atoms::create_v, x), true);
  x.status = job_status::submitted;
  x.updated_at = 5100;
  CAF_CHECK_EQUAL(ask<bool>(atoms::put_v, x), true);
  // A put that changes no status (an attempt count, a step) adds nothing.
  x.attempts = 1;
  x.step = "probe";
  x.updated_at = 5150;
  CAF_CHECK_EQUAL(ask<bool>(atoms::put_v, x), true);
  x.status = job_status::failed;
  x.error_code = vf::messages::errc::bad_media;
  x.updated_at = 5200;
  CAF_CHECK_EQUAL(ask<bool>(atoms::put_v, x), true);
  // A redrive: same status name again would be no change, a new series is.
  x.series = 1;
  x.updated_at = 5300;
  CAF_CHECK_EQUAL(ask<bool>(atoms::put_v, x), true);
  auto other = make_job("j-other", 5001);
  CAF_CHECK_EQUAL(ask<bool>(atoms::create_v, other), true);
  auto evs = ask<std::vector<job_event>>(atoms::events_v, x.id, uint64_t{0});
  CAF_REQUIRE(evs);
  CAF_REQUIRE_EQUAL(evs->size(), 4u);
  auto all = *evs;
  CAF_CHECK_EQUAL(to_string(all[0].status), "AWAITING_UPLOAD");
  CAF_CHECK_EQUAL(all[0].at, 5000);
  CAF_CHECK_EQUAL(to_string(all[1].status), "SUBMITTED");
  CAF_CHECK_EQUAL(all[1].at, 5100);
  CAF_CHECK_EQUAL(to_string(all[2].status), "FAILED");
  CAF_CHECK(all[2].error_code == vf::messages::errc::bad_media);
  CAF_CHECK_EQUAL(all[2].series, 0u);
  CAF_CHECK_EQUAL(to_string(all[3].status), "FAILED");
  CAF_CHECK_EQUAL(all[3].series, 1u);
  for (size_t i = 1; i < all.size(); ++i)
    CAF_CHECK_LESS(all[i - 1].seq, all[i].seq);
  // After a sequence number: only what came later.
  auto later = ask<std::vector<job_event>>(atoms::events_v, x.id, all[1].seq);
  CAF_REQUIRE(later);
  CAF_REQUIRE_EQUAL(later->size(), 2u);
  auto first_later = (*later)[0].seq;
  CAF_CHECK_EQUAL(first_later, all[2].seq);
  auto none = ask<std::vector<job_event>>(atoms::events_v,
                                          std::string{"ghost"}, uint64_t{0});
  CAF_REQUIRE(none);
  CAF_CHECK(none->empty());
  // Erasing a job erases its journal, not another job's.
  CAF_CHECK_EQUAL(ask<bool>(atoms::erase_v, x.id), true);
  evs = ask<std::vector<job_event>>(atoms::events_v, x.id, uint64_t{0});
  CAF_REQUIRE(evs);
  CAF_CHECK(evs->empty());
  evs = ask<std::vector<job_event>>(atoms::events_v, other.id, uint64_t{0});
  CAF_REQUIRE(evs);
  CAF_CHECK_EQUAL(evs->size(), 1u);
}

CAF_TEST(a job with a callback gets one delivery per terminal status) {
  auto x = make_job("j-cb", 5000);
  x.callback_url = "https://example.org/hook?a=1";
  CAF_CHECK_EQUAL(ask<bool>(atoms::create_v, x), true);
  auto plain = make_job("j-plain", 5000);
  CAF_CHECK_EQUAL(ask<bool>(atoms::create_v, plain), true);
  x.status = job_status::processing;
  x.updated_at = 5100;
  CAF_CHECK_EQUAL(ask<bool>(atoms::put_v, x), true);
  using dvec = std::vector<vf::messages::delivery>;
  auto none = ask<dvec>(atoms::deliveries_v, x.id);
  CAF_REQUIRE(none);
  CAF_CHECK(none->empty());
  x.status = job_status::failed;
  x.error_code = vf::messages::errc::bad_media;
  x.error_message = "moov atom not found";
  x.updated_at = 1795266121123;
  CAF_CHECK_EQUAL(ask<bool>(atoms::put_v, x), true);
  plain.status = job_status::succeeded;
  CAF_CHECK_EQUAL(ask<bool>(atoms::put_v, plain), true);
  auto ds = ask<dvec>(atoms::deliveries_v, x.id);
  CAF_REQUIRE(ds);
  CAF_REQUIRE_EQUAL(ds->size(), 1u);
  auto d = ds->front();
  CAF_CHECK_EQUAL(d.job_id, x.id);
  CAF_CHECK_EQUAL(d.owner, x.owner);
  CAF_CHECK_EQUAL(d.url, x.callback_url);
  CAF_CHECK_EQUAL(d.state, "pending");
  CAF_CHECK_EQUAL(d.next_at, x.updated_at);
  CAF_CHECK_EQUAL(d.body.substr(0, 4), R"({"id)");
  auto body = nlohmann::json::parse(d.body);
  CAF_CHECK_EQUAL(body["id"].get<std::string>(), d.id);
  CAF_CHECK_EQUAL(body["type"].get<std::string>(), "job.failed");
  CAF_CHECK_EQUAL(body["job_id"].get<std::string>(), x.id);
  CAF_CHECK_EQUAL(body["status"].get<std::string>(), "FAILED");
  CAF_CHECK_EQUAL(body["error_code"].get<std::string>(), "bad_media");
  CAF_CHECK_EQUAL(body["error_message"].get<std::string>(),
                  "moov atom not found");
  CAF_CHECK(body["result"].is_null());
  CAF_CHECK_EQUAL(body["at"].get<std::string>(), "2026-11-21T13:02:01.123Z");
  // Due from its time on, oldest first; the job without a callback has none.
  auto early = ask<dvec>(atoms::deliveries_due_v, x.updated_at - 1,
                         uint32_t{10});
  CAF_REQUIRE(early);
  CAF_CHECK(early->empty());
  auto due = ask<dvec>(atoms::deliveries_due_v, x.updated_at, uint32_t{10});
  CAF_REQUIRE(due);
  CAF_REQUIRE_EQUAL(due->size(), 1u);
  // An attempt is recorded; a delivered one is no longer due.
  d.state = "delivered";
  d.attempts = 2;
  d.last_status = 200;
  d.delivered_at = x.updated_at + 10;
  CAF_CHECK_EQUAL(ask<bool>(atoms::record_delivery_v, d), true);
  due = ask<dvec>(atoms::deliveries_due_v, x.updated_at + 99, uint32_t{10});
  CAF_REQUIRE(due);
  CAF_CHECK(due->empty());
  ds = ask<dvec>(atoms::deliveries_v, x.id);
  CAF_REQUIRE(ds);
  auto back = ds->front();
  CAF_CHECK_EQUAL(back.attempts, 2u);
  CAF_CHECK_EQUAL(back.state, "delivered");
  // A redrive that ends again makes a second delivery.
  x.series = 1;
  x.status = job_status::succeeded;
  x.error_code = vf::messages::errc::none;
  x.error_message.clear();
  x.updated_at += 1000;
  CAF_CHECK_EQUAL(ask<bool>(atoms::put_v, x), true);
  ds = ask<dvec>(atoms::deliveries_v, x.id);
  CAF_REQUIRE(ds);
  CAF_REQUIRE_EQUAL(ds->size(), 2u);
  auto second = nlohmann::json::parse(ds->back().body);
  CAF_CHECK_EQUAL(second["type"].get<std::string>(), "job.succeeded");
  CAF_CHECK_EQUAL(second["result"].get<std::string>(),
                  "/jobs/" + x.id + "/result");
  CAF_CHECK(second["error_code"].is_null());
  // Erasing the job erases its deliveries; recording one then says so.
  CAF_CHECK_EQUAL(ask<bool>(atoms::erase_v, x.id), true);
  ds = ask<dvec>(atoms::deliveries_v, x.id);
  CAF_REQUIRE(ds);
  CAF_CHECK(ds->empty());
  CAF_CHECK_EQUAL(ask<bool>(atoms::record_delivery_v, d), false);
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
  auto xs = ask<std::vector<job>>(atoms::history_v, std::string{},
                                  uint32_t{3}, std::string{});
  CAF_REQUIRE(xs);
  CAF_CHECK_EQUAL(ids_of(*xs), (std::vector<std::string>{"h6", "h5", "h4"}));
  xs = ask<std::vector<job>>(atoms::history_v, std::string{}, uint32_t{200},
                             std::string{});
  CAF_REQUIRE(xs);
  CAF_CHECK_EQUAL(xs->size(), 6u);
  xs = ask<std::vector<job>>(atoms::history_v, std::string{},
                                  uint32_t{0}, std::string{});
  CAF_REQUIRE(xs);
  CAF_CHECK(xs->empty());
}

CAF_TEST(history of one owner is not crowded out by others) {
  // 3 of alice's jobs, then 250 newer ones of mallory's: alice's page
  // still holds all of hers (a filter after the LIMIT would show none).
  for (int i = 1; i <= 3; ++i) {
    auto j = make_job("a" + std::to_string(i), int64_t{i});
    j.owner = "alice";
    CAF_CHECK_EQUAL(ask<bool>(atoms::create_v, j), true);
  }
  for (int i = 0; i < 250; ++i) {
    auto j = make_job("m" + std::to_string(i), 1000 + int64_t{i});
    j.owner = "mallory";
    CAF_CHECK_EQUAL(ask<bool>(atoms::create_v, j), true);
  }
  auto xs = ask<std::vector<job>>(atoms::history_v, std::string{"alice"},
                                  uint32_t{200}, std::string{});
  CAF_REQUIRE(xs);
  CAF_CHECK_EQUAL(ids_of(*xs), (std::vector<std::string>{"a3", "a2", "a1"}));
  xs = ask<std::vector<job>>(atoms::history_v, std::string{"mallory"},
                             uint32_t{2}, std::string{});
  CAF_REQUIRE(xs);
  CAF_CHECK_EQUAL(ids_of(*xs), (std::vector<std::string>{"m249", "m248"}));
  xs = ask<std::vector<job>>(atoms::history_v, std::string{}, uint32_t{200},
                             std::string{});
  CAF_REQUIRE(xs);
  CAF_CHECK_EQUAL(xs->size(), 200u);
}

CAF_TEST(history by kind is not crowded out by other jobs) {
  // alice: 2 compositions and 2 assets, then 300 newer uploads; mallory:
  // a newer composition. Each kind's page holds all of alice's and only
  // hers (the uploads would fill a page of her newest 200 jobs).
  auto add = [&](std::string id, int64_t at, const char* owner,
                 std::string outputs) {
    auto j = make_job(std::move(id), at);
    j.owner = owner;
    j.outputs = std::move(outputs);
    CAF_CHECK_EQUAL(ask<bool>(atoms::create_v, j), true);
  };
  add("c1", 1, "alice", R"({"composition":{"clips":[]}})");
  add("a1", 2, "alice", R"({"asset":"audio"})");
  add("c2", 3, "alice", R"({"composition":{"clips":[]}})");
  add("a2", 4, "alice", R"({"asset":"image"})");
  for (int i = 0; i < 300; ++i)
    add("u" + std::to_string(i), 10 + i, "alice", R"({"renditions":[]})");
  add("mc", 1000, "mallory", R"({"composition":{"clips":[]}})");
  auto of = [&](const char* owner, uint32_t limit, const char* kind) {
    return ask<std::vector<job>>(atoms::history_v, std::string{owner}, limit,
                                 std::string{kind});
  };
  auto xs = of("alice", 1000, "composition");
  CAF_REQUIRE(xs);
  CAF_CHECK_EQUAL(ids_of(*xs), (std::vector<std::string>{"c2", "c1"}));
  xs = of("alice", 1000, "asset");
  CAF_REQUIRE(xs);
  CAF_CHECK_EQUAL(ids_of(*xs), (std::vector<std::string>{"a2", "a1"}));
  xs = of("alice", 1, "asset");
  CAF_REQUIRE(xs);
  CAF_CHECK_EQUAL(ids_of(*xs), (std::vector<std::string>{"a2"}));
  xs = of("mallory", 10, "composition");
  CAF_REQUIRE(xs);
  CAF_CHECK_EQUAL(ids_of(*xs), (std::vector<std::string>{"mc"}));
  xs = of("alice", 200, "");
  CAF_REQUIRE(xs);
  CAF_CHECK_EQUAL(xs->size(), 200u);
  CAF_CHECK_EQUAL(xs->front().id, "u299");
  // A kind needs an owner, and only two kinds exist.
  using kind_case = std::pair<const char*, const char*>;
  for (auto [owner, kind] :
       {kind_case{"", "asset"}, kind_case{"alice", "video"}}) {
    auto bad = of(owner, 10, kind);
    CAF_REQUIRE(!bad);
    CAF_CHECK_EQUAL(vf::messages::errc_of(bad.error()),
                    errc::invalid_argument);
  }
}

CAF_TEST(put_result first write wins) {
  job_result r{"j-r", R"({"format":{},"streams":[]})", "first", 42, ""};
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

CAF_TEST(put_result with the job writes both or neither) {
  CAF_CHECK_EQUAL(ask<bool>(atoms::create_v,
                            make_job("j-f", 1000, job_status::processing)),
                  true);
  job_result r{"j-f", R"({"format":{},"streams":[]})", "first", 42, ""};
  auto done = make_job("j-f", 1000, job_status::succeeded);
  done.updated_at = 5000;
  CAF_CHECK_EQUAL(ask<bool>(atoms::put_result_v, r, done), true);
  auto y = ask<job>(atoms::get_v, std::string{"j-f"});
  CAF_REQUIRE(y);
  CAF_CHECK(same(done, *y));
  auto stored = ask<job_result>(atoms::get_result_v, std::string{"j-f"});
  CAF_REQUIRE(stored);
  CAF_CHECK_EQUAL(stored->summary, "first");
  // The status change is journaled with it.
  auto evs = ask<std::vector<job_event>>(atoms::events_v, done.id,
                                         uint64_t{0});
  CAF_REQUIRE(evs && !evs->empty());
  CAF_CHECK_EQUAL(evs->back().status, job_status::succeeded);
  // A result that exists stays (first write wins); the job is written.
  auto second = r;
  second.summary = "second";
  done.updated_at = 6000;
  CAF_CHECK_EQUAL(ask<bool>(atoms::put_result_v, second, done), false);
  y = ask<job>(atoms::get_v, std::string{"j-f"});
  CAF_REQUIRE(y);
  CAF_CHECK_EQUAL(y->updated_at, 6000);
  auto kept = ask<job_result>(atoms::get_result_v, std::string{"j-f"});
  CAF_REQUIRE(kept);
  CAF_CHECK_EQUAL(kept->summary, "first");
  // No such job: neither is written.
  job_result ghost{"ghost", "{}", "boo", 1, ""};
  CHECK_ERRC(ask<bool>(atoms::put_result_v, ghost,
                       make_job("ghost", 1000, job_status::succeeded)),
             errc::not_found);
  CHECK_ERRC(ask<job_result>(atoms::get_result_v, std::string{"ghost"}),
             errc::not_found);
  // The result must be the job's own.
  CHECK_ERRC(ask<bool>(atoms::put_result_v, ghost, done),
             errc::invalid_argument);
  CHECK_ERRC(ask<job_result>(atoms::get_result_v, std::string{"ghost"}),
             errc::not_found);
}

CAF_TEST(put_result with the last attempt writes all three or none) {
  stop();
  auto log_path = dir + "/effects.jsonl";
  auto log = vf::adapters::common::effects_log::open(log_path);
  CAF_REQUIRE(log);
  store = spawn(512, *log);
  auto count_lines = [&] {
    std::ifstream in{log_path};
    size_t n = 0;
    for (std::string line; std::getline(in, line);)
      ++n;
    return n;
  };
  auto attempts_of = [&](const std::string& id) {
    auto xs = ask<std::vector<attempt_record>>(atoms::attempts_v, id);
    CAF_REQUIRE(xs);
    return *xs;
  };
  CAF_CHECK_EQUAL(ask<bool>(atoms::create_v,
                            make_job("j-a", 1000, job_status::processing)),
                  true);
  auto a = make_attempt("j-a", 2, true);
  a.kind = task_kind::summarize;
  job_result r{"j-a", "{}", "the summary", 42, ""};
  auto done = make_job("j-a", 1000, job_status::succeeded);
  CAF_CHECK_EQUAL(ask<bool>(atoms::put_result_v, r, done, a), true);
  CAF_CHECK(same(attempts_of("j-a"), std::vector<attempt_record>{a}));
  auto y = ask<job>(atoms::get_v, std::string{"j-a"});
  CAF_REQUIRE(y);
  CAF_CHECK_EQUAL(y->status, job_status::succeeded);
  auto stored = ask<job_result>(atoms::get_result_v, std::string{"j-a"});
  CAF_REQUIRE(stored);
  CAF_CHECK_EQUAL(stored->summary, "the summary");
  // The ok attempt is in the effects log once committed, as a `record`.
  CAF_CHECK_EQUAL(count_lines(), 1u);
  // No such job: none of the three.
  auto ghost_attempt = make_attempt("ghost", 1, true);
  job_result ghost{"ghost", "{}", "boo", 1, ""};
  CHECK_ERRC(ask<bool>(atoms::put_result_v, ghost,
                       make_job("ghost", 1000, job_status::succeeded),
                       ghost_attempt),
             errc::not_found);
  CAF_CHECK(attempts_of("ghost").empty());
  CHECK_ERRC(ask<job_result>(atoms::get_result_v, std::string{"ghost"}),
             errc::not_found);
  // The attempt must be the job's own.
  CHECK_ERRC(ask<bool>(atoms::put_result_v, r, done, ghost_attempt),
             errc::invalid_argument);
  CAF_CHECK(attempts_of("ghost").empty());
  CAF_CHECK_EQUAL(attempts_of("j-a").size(), 1u);
  // So must the result: the job's own attempt is not written either.
  auto b = make_attempt("j-a", 3, true);
  CHECK_ERRC(ask<bool>(atoms::put_result_v, ghost, done, b),
             errc::invalid_argument);
  CAF_CHECK_EQUAL(attempts_of("j-a").size(), 1u);
  CAF_CHECK_EQUAL(count_lines(), 1u);
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

CAF_TEST(the job search matches every term newest change first) {
  auto add = [&](const std::string& id, int64_t at, job_status status,
                 const std::string& owner, const std::string& filename) {
    auto x = make_job(id, at, status);
    x.owner = owner;
    x.filename = filename;
    CAF_CHECK_EQUAL(ask<bool>(atoms::create_v, x), true);
  };
  add("f1", 10, job_status::failed, "alice", "Holiday.mp4");
  add("f3", 30, job_status::failed, "bob", "holiday-2.mp4");
  add("f2", 20, job_status::failed, "alice", "talk.mov");
  add("s1", 40, job_status::succeeded, "alice", "Holiday-cut.mp4");
  add("s2", 50, job_status::succeeded, "bob", "50%_off.mp4");
  auto find = [&](std::string status, std::string owner, std::string name,
                  uint32_t limit) {
    auto xs = ask<std::vector<job>>(
      atoms::find_jobs_v,
      vf::messages::job_query{std::move(status), std::move(owner),
                              std::move(name), limit});
    CAF_REQUIRE(xs);
    return ids_of(*xs);
  };
  using ids = std::vector<std::string>;
  // By status, with a limit.
  CAF_CHECK_EQUAL(find("FAILED", "", "", 2), (ids{"f3", "f2"}));
  CAF_CHECK_EQUAL(find("CANCELLED", "", "", 10), ids{});
  // By owner, any status; with a status; with part of a name.
  CAF_CHECK_EQUAL(find("", "alice", "", 10), (ids{"s1", "f2", "f1"}));
  CAF_CHECK_EQUAL(find("FAILED", "alice", "", 10), (ids{"f2", "f1"}));
  CAF_CHECK_EQUAL(find("", "alice", "Holiday", 10), (ids{"s1", "f1"}));
  CAF_CHECK_EQUAL(find("", "carol", "", 10), ids{});
  // By part of a name: case-sensitive bytes, across owners and statuses;
  // LIKE's wildcards mean nothing here.
  CAF_CHECK_EQUAL(find("", "", "oliday", 10), (ids{"s1", "f3", "f1"}));
  CAF_CHECK_EQUAL(find("", "", "holiday", 10), (ids{"f3"}));
  CAF_CHECK_EQUAL(find("", "", "%", 10), (ids{"s2"}));
  CAF_CHECK_EQUAL(find("", "", "_", 10), (ids{"s2"}));
  CAF_CHECK_EQUAL(find("FAILED", "", "mp4", 10), (ids{"f3", "f1"}));
  CAF_CHECK_EQUAL(find("", "", "oliday", 1), (ids{"s1"}));
  // Bad queries.
  for (auto q : {vf::messages::job_query{"failed", "", "", 10},
                 vf::messages::job_query{"", "", "", 10},
                 vf::messages::job_query{"FAILED", "", "", 0},
                 vf::messages::job_query{"FAILED", "", "", 1001},
                 vf::messages::job_query{"", std::string(257, 'a'), "", 10},
                 vf::messages::job_query{"", "", "a\nb", 10}}) {
    auto bad = ask<std::vector<job>>(atoms::find_jobs_v, q);
    CAF_REQUIRE(!bad);
    CAF_CHECK_EQUAL(vf::messages::errc_of(bad.error()),
                    vf::messages::errc::invalid_argument);
  }
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

CAF_TEST(usage counts the jobs in flight and stored bytes of one owner) {
  auto add = [&](const std::string& id, const std::string& owner,
                 job_status status, uint64_t size) {
    auto j = make_job(id, 1, status);
    j.owner = owner;
    j.object.size = size;
    CAF_CHECK_EQUAL(ask<bool>(atoms::create_v, j), true);
  };
  add("a", "alice", job_status::awaiting_upload, 0);
  add("b", "alice", job_status::submitted, 100);
  add("c", "alice", job_status::processing, 200);
  add("d", "alice", job_status::succeeded, 400);
  add("e", "alice", job_status::failed, 800);
  add("f", "mallory", job_status::processing, 5000);
  auto u = ask<user_usage>(atoms::usage_v, std::string{"alice"});
  CAF_REQUIRE(u);
  CAF_CHECK_EQUAL(u->jobs_in_flight, 3u);
  CAF_CHECK_EQUAL(u->bytes_stored, 1500u);
  u = ask<user_usage>(atoms::usage_v, std::string{"nobody"});
  CAF_REQUIRE(u);
  CAF_CHECK_EQUAL(u->jobs_in_flight, 0u);
  CAF_CHECK_EQUAL(u->bytes_stored, 0u);
  // The counts follow every change of a row (kept by triggers, not by a
  // scan): an upload claimed, a job ended, a job erased.
  auto a = make_job("a", 1, job_status::submitted);
  a.owner = "alice";
  a.object.size = 50;
  CAF_CHECK_EQUAL(ask<bool>(atoms::put_v, a), true);
  auto c = make_job("c", 1, job_status::succeeded);
  c.owner = "alice";
  c.object.size = 200;
  CAF_CHECK_EQUAL(ask<bool>(atoms::put_v, c), true);
  CAF_CHECK_EQUAL(ask<bool>(atoms::erase_v, std::string{"e"}), true);
  u = ask<user_usage>(atoms::usage_v, std::string{"alice"});
  CAF_REQUIRE(u);
  CAF_CHECK_EQUAL(u->jobs_in_flight, 2u); // a, b
  CAF_CHECK_EQUAL(u->bytes_stored, 50u + 100u + 200u + 400u);
  u = ask<user_usage>(atoms::usage_v, std::string{"mallory"});
  CAF_REQUIRE(u);
  CAF_CHECK_EQUAL(u->jobs_in_flight, 1u);
  CAF_CHECK_EQUAL(u->bytes_stored, 5000u);
}

CAF_TEST(purgeable lists ended unpurged jobs and purged records once) {
  auto add = [&](const std::string& id, job_status status, int64_t at,
                 uint64_t size) {
    auto j = make_job(id, at, status);
    j.object.size = size;
    CAF_CHECK_EQUAL(ask<bool>(atoms::create_v, j), true);
  };
  add("f-old", job_status::failed, 100, 10);
  add("c-old", job_status::cancelled, 200, 20);
  add("e-old", job_status::expired, 300, 0);
  add("f-new", job_status::failed, 5000, 40);
  add("s-old", job_status::succeeded, 100, 80);
  add("p-old", job_status::processing, 100, 160);
  auto xs = ask<std::vector<job>>(atoms::purgeable_v, int64_t{1000},
                                  uint32_t{10});
  CAF_REQUIRE(xs);
  CAF_CHECK_EQUAL(ids_of(*xs),
                  (std::vector<std::string>{"f-old", "c-old", "e-old"}));
  xs = ask<std::vector<job>>(atoms::purgeable_v, int64_t{1000}, uint32_t{2});
  CAF_REQUIRE(xs);
  CAF_CHECK_EQUAL(xs->size(), 2u);
  CAF_CHECK_EQUAL(ask<bool>(atoms::purged_v, std::string{"f-old"},
                            int64_t{7000}),
                  true);
  CAF_CHECK_EQUAL(ask<bool>(atoms::purged_v, std::string{"f-old"},
                            int64_t{8000}),
                  false);
  // Only ended jobs are purged.
  CAF_CHECK_EQUAL(ask<bool>(atoms::purged_v, std::string{"p-old"},
                            int64_t{8000}),
                  false);
  xs = ask<std::vector<job>>(atoms::purgeable_v, int64_t{1000}, uint32_t{10});
  CAF_REQUIRE(xs);
  CAF_CHECK_EQUAL(ids_of(*xs), (std::vector<std::string>{"c-old", "e-old"}));
  // The record stays; its bytes no longer count against the owner.
  auto j = ask<job>(atoms::get_v, std::string{"f-old"});
  CAF_REQUIRE(j);
  CAF_CHECK_EQUAL(j->status, job_status::failed);
  auto u = ask<user_usage>(atoms::usage_v, std::string{"alice"});
  CAF_REQUIRE(u);
  CAF_CHECK_EQUAL(u->bytes_stored, 20u + 40u + 80u + 160u);
}

CAF_TEST(data survives close and reopen) {
  CAF_CHECK_EQUAL(ask<bool>(atoms::create_v, make_job("keep", 7)), true);
  CAF_CHECK_EQUAL(
    ask<bool>(atoms::put_result_v, job_result{"keep", "{}", "sum", 8, ""}), true);
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
  // The store blocks on its first BEGIN while the burst piles up in its
  // mailbox (request enqueues synchronously), so batching does not depend
  // on how the scheduler happens to interleave the two threads.
  auto lock = hold_write_lock();
  for (size_t i = 0; i < n; ++i)
    pending.emplace_back(self->request(store, timeout, atoms::create_v,
                                       make_job("g" + std::to_string(i))));
  lock.release();
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
  // One fsync per request would be 200; with the burst queued behind one
  // blocked BEGIN it takes at most the first request's batch and one more
  // (the default max_batch is 512).
  CAF_CHECK_LESS_OR_EQUAL(commits, 2u);
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

CAF_TEST(commit_delay never holds a lone writer) {
  stop();
  // Longer than the requests' timeout: a held batch would fail them.
  store = spawn(512, nullptr, std::chrono::minutes{1});
  for (int i = 0; i < 3; ++i)
    CAF_CHECK_EQUAL(ask<bool>(atoms::create_v,
                              make_job("lone" + std::to_string(i))),
                    true);
  CAF_CHECK_EQUAL(stats(), std::make_pair(uint64_t{3}, uint64_t{3}));
}

CAF_TEST(commit_delay keeps a batch open for writes that come later) {
  stop();
  store = spawn(512, nullptr, std::chrono::seconds{2});
  using handle
    = decltype(self->request(store, timeout, atoms::create_v, job{}));
  auto receive_all = [&](std::vector<handle>& xs) {
    for (auto& rh : xs)
      rh.receive([](bool x) { CAF_CHECK(x); },
                 [&](caf::error& err) {
                   CAF_FAIL("create failed: " << sys.render(err));
                 });
    xs.clear();
  };
  // A batch of two (queued behind a blocked BEGIN): others write too.
  std::vector<handle> pending;
  {
    auto lock = hold_write_lock();
    for (auto id : {"busy1", "busy2"})
      pending.emplace_back(
        self->request(store, timeout, atoms::create_v, make_job(id)));
  }
  receive_all(pending);
  auto before = stats().first;
  // The next batch waits: a write sent well after the first, which alone
  // would have committed by then, joins it.
  pending.emplace_back(
    self->request(store, timeout, atoms::create_v, make_job("late1")));
  std::this_thread::sleep_for(std::chrono::milliseconds{200});
  pending.emplace_back(
    self->request(store, timeout, atoms::create_v, make_job("late2")));
  receive_all(pending);
  CAF_CHECK_EQUAL(stats().first, before + 1);
  CAF_CHECK_EQUAL(stats().second, 4u);
}

CAF_TEST(a read in the same burst sees the earlier write) {
  auto w = self->request(store, timeout, atoms::create_v, make_job("rw"));
  auto r = self->request(store, timeout, atoms::get_v, std::string{"rw"});
  auto h = self->request(store, timeout, atoms::history_v,
                         std::string{}, uint32_t{10}, std::string{});
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
  auto hdl = sqlite::spawn_job_store(sys, {bad, 512, nullptr, {}});
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
  auto hdl = sqlite::spawn_job_store(sys, {bad, 512, nullptr, {}});
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
  auto hdl = sqlite::spawn_job_store(sys, {path, 512, nullptr, {}});
  CAF_REQUIRE(!hdl);
  auto msg = vf::messages::message_of(hdl.error());
  CAF_MESSAGE("error: " << msg);
  CAF_CHECK_NOT_EQUAL(msg.find("99"), std::string::npos);
}

// -- series, attempt ledger, dead letters, expiry (schema version 2) ---------

CAF_TEST(series round trips through create put and reopen) {
  auto x = make_job("j-series", 10, job_status::submitted);
  x.series = 3;
  CAF_CHECK_EQUAL(ask<bool>(atoms::create_v, x), true);
  auto y = ask<job>(atoms::get_v, x.id);
  CAF_REQUIRE(y);
  CAF_CHECK_EQUAL(y->series, 3u);
  x.series = std::numeric_limits<uint32_t>::max();
  CAF_CHECK_EQUAL(ask<bool>(atoms::put_v, x), true);
  stop();
  store = spawn();
  y = ask<job>(atoms::get_v, x.id);
  CAF_REQUIRE(y);
  CAF_CHECK(same(x, *y));
  auto xs = ask<std::vector<job>>(atoms::active_v);
  CAF_REQUIRE(xs);
  CAF_REQUIRE_EQUAL(xs->size(), 1u);
  CAF_CHECK_EQUAL(xs->front().series, x.series);
}

CAF_TEST(the effects log gets a line for each committed ok attempt) {
  stop();
  auto log_path = dir + "/effects.jsonl";
  auto log = vf::adapters::common::effects_log::open(log_path);
  CAF_REQUIRE(log);
  store = spawn(512, *log);
  auto failed = make_attempt("e", 1);
  auto ok = make_attempt("e", 2, true);
  auto other = make_attempt("f", 1, true);
  other.kind = task_kind::summarize;
  other.series = 3;
  // One burst: a failure, two ok steps and a write that is no attempt.
  auto r1 = self->request(store, timeout, atoms::record_v, failed);
  auto r2 = self->request(store, timeout, atoms::record_v, ok);
  auto r3 = self->request(store, timeout, atoms::record_v, other);
  auto r4 = self->request(store, timeout, atoms::create_v,
                          make_job("e", 1, job_status::awaiting_upload));
  for (auto* r : {&r1, &r2, &r3, &r4})
    r->receive([](bool x) { CAF_CHECK(x); },
               [](caf::error& err) { CAF_FAIL(err); });
  std::vector<std::string> lines;
  {
    std::ifstream in{log_path};
    for (std::string line; std::getline(in, line);)
      lines.push_back(line);
  }
  // The replies went out after the COMMIT, and the lines before them.
  CAF_REQUIRE_EQUAL(lines.size(), 2u);
  auto has = [](const std::string& line, const std::string& part) {
    if (line.find(part) != std::string::npos)
      return true;
    CAF_MESSAGE(part << " is not in " << line);
    return false;
  };
  CAF_CHECK(has(lines[0], R"("e":"record")"));
  CAF_CHECK(has(lines[0], R"("job":"e")"));
  CAF_CHECK(has(lines[0], R"("lease":1002)"));
  CAF_CHECK(has(lines[0], R"("kind":"probe")"));
  CAF_CHECK(has(lines[0], R"("version":"v1")"));
  CAF_CHECK(has(lines[0], R"("series":0)"));
  CAF_CHECK(has(lines[1], R"("job":"f")"));
  CAF_CHECK(has(lines[1], R"("kind":"summarize")"));
  CAF_CHECK(has(lines[1], R"("series":3)"));
}

CAF_TEST(attempt records round trip every field oldest first) {
  auto a1 = make_attempt("a", 1);
  a1.lease_id = std::numeric_limits<uint64_t>::max();
  a1.duration_us = (uint64_t{1} << 63) + 7;
  a1.error_message = nasty("bad");
  a1.finished_at = -5;
  auto a2 = make_attempt("a", 2, true, 1);
  a2.kind = task_kind::sleep;
  a2.output = nasty("out");
  a2.object_version = "v9";
  a2.worker = "node-2/sleep-0";
  auto b1 = make_attempt("b", 1, true);
  auto a3 = make_attempt("a", 3, true, 1);
  a3.kind = task_kind::summarize;
  // One burst: the read must wait for the commit and then see all three.
  auto r1 = self->request(store, timeout, atoms::record_v, a1);
  auto r2 = self->request(store, timeout, atoms::record_v, a2);
  auto r3 = self->request(store, timeout, atoms::record_v, b1);
  auto r4 = self->request(store, timeout, atoms::record_v, a3);
  auto q = self->request(store, timeout, atoms::attempts_v, std::string{"a"});
  q.receive(
    [&](std::vector<attempt_record>& xs) {
      CAF_CHECK(same(xs, std::vector<attempt_record>{a1, a2, a3}));
      CAF_REQUIRE_EQUAL(xs.size(), 3u);
      CAF_CHECK_EQUAL(xs[0].error_message.size(), a1.error_message.size());
      CAF_CHECK_EQUAL(xs[0].lease_id, a1.lease_id);
      CAF_CHECK_EQUAL(xs[0].duration_us, a1.duration_us);
    },
    [&](caf::error& err) { CAF_FAIL("attempts failed: " << sys.render(err)); });
  for (auto* rh : {&r1, &r2, &r3, &r4})
    rh->receive(
      [](bool x) { CAF_CHECK(x); },
      [&](caf::error& err) { CAF_FAIL("record failed: " << sys.render(err)); });
  auto bs = ask<std::vector<attempt_record>>(atoms::attempts_v,
                                             std::string{"b"});
  CAF_REQUIRE(bs);
  CAF_CHECK(same(*bs, std::vector<attempt_record>{b1}));
  auto none = ask<std::vector<attempt_record>>(atoms::attempts_v,
                                               std::string{"nobody"});
  CAF_REQUIRE(none);
  CAF_CHECK(none->empty());
  // The ledger is append-only: a record equal to an earlier one is a new row.
  CAF_CHECK_EQUAL(ask<bool>(atoms::record_v, a1), true);
  auto as = ask<std::vector<attempt_record>>(atoms::attempts_v,
                                             std::string{"a"});
  CAF_REQUIRE(as);
  CAF_CHECK(same(*as, std::vector<attempt_record>{a1, a2, a3, a1}));
  CAF_CHECK_EQUAL(stats().second, 5u);
}

CAF_TEST(bury stores the dead letter and the job together) {
  CAF_CHECK_EQUAL(ask<bool>(atoms::create_v, make_job("j-b")), true);
  auto dl = make_dead_letter("j-b", 5000);
  dl.object.size = std::numeric_limits<uint64_t>::max();
  dl.error_message = nasty("dl");
  dl.probe_output = nasty("probe");
  dl.attempts[1].output = nasty("partial");
  dl.redriven_at = 0;
  auto x = failed_job("j-b", 5000);
  CAF_CHECK_EQUAL(ask<bool>(atoms::bury_v, dl, x), true);
  auto y = ask<job>(atoms::get_v, x.id);
  CAF_REQUIRE(y);
  CAF_CHECK(same(x, *y));
  auto got = ask<dead_letter>(atoms::dlq_get_v, x.id);
  CAF_REQUIRE(got);
  CAF_CHECK(same(dl, *got));
  CAF_CHECK_EQUAL(got->error_message.size(), dl.error_message.size());
  // Both survive a restart.
  stop();
  store = spawn();
  got = ask<dead_letter>(atoms::dlq_get_v, x.id);
  CAF_REQUIRE(got);
  CAF_CHECK(same(dl, *got));
  // A dead letter must belong to the job it is buried with.
  CHECK_ERRC(ask<bool>(atoms::bury_v, make_dead_letter("other", 1), x),
             errc::invalid_argument);
  CHECK_ERRC(ask<dead_letter>(atoms::dlq_get_v, std::string{"other"}),
             errc::not_found);
}

CAF_TEST(bury of an unknown job writes neither and spares its batch) {
  CAF_CHECK_EQUAL(ask<bool>(atoms::create_v, make_job("keep")), true);
  CAF_CHECK_EQUAL(ask<bool>(atoms::create_v, make_job("other")), true);
  auto commits_before = stats().first;
  auto lock = hold_write_lock();
  auto updated = make_job("other", 1000, job_status::submitted);
  updated.updated_at = 2000;
  auto r1 = self->request(store, timeout, atoms::put_v, updated);
  auto r2 = self->request(store, timeout, atoms::bury_v,
                          make_dead_letter("ghost", 3000),
                          failed_job("ghost", 3000));
  auto r3 = self->request(store, timeout, atoms::bury_v,
                          make_dead_letter("keep", 3000),
                          failed_job("keep", 3000));
  auto r4 = self->request(store, timeout, atoms::record_v,
                          make_attempt("keep", 1));
  auto r5 = self->request(store, timeout, atoms::create_v, make_job("new"));
  // Let every request reach the mailbox while the store waits for the lock.
  std::this_thread::sleep_for(200ms);
  lock.release();
  auto expect_ok = [&](auto& rh) {
    rh.receive([](bool x) { CAF_CHECK_EQUAL(x, true); },
               [&](caf::error& err) {
                 CAF_FAIL("unexpected error: " << sys.render(err));
               });
  };
  expect_ok(r1);
  r2.receive([](bool) { CAF_FAIL("bury of an unknown job succeeded"); },
             [](caf::error& err) {
               CAF_CHECK(vf::messages::errc_of(err) == errc::not_found);
             });
  expect_ok(r3);
  expect_ok(r4);
  expect_ok(r5);
  // All five were one transaction: the failed bury undid only itself.
  auto [commits, writes] = stats();
  CAF_CHECK_EQUAL(commits, commits_before + 1);
  CAF_CHECK_EQUAL(writes, 7u);
  CHECK_ERRC(ask<job>(atoms::get_v, std::string{"ghost"}), errc::not_found);
  CHECK_ERRC(ask<dead_letter>(atoms::dlq_get_v, std::string{"ghost"}),
             errc::not_found);
  auto other = ask<job>(atoms::get_v, std::string{"other"});
  CAF_REQUIRE(other);
  CAF_CHECK(same(updated, *other));
  auto keep = ask<job>(atoms::get_v, std::string{"keep"});
  CAF_REQUIRE(keep);
  CAF_CHECK(same(failed_job("keep", 3000), *keep));
  auto dl = ask<dead_letter>(atoms::dlq_get_v, std::string{"keep"});
  CAF_REQUIRE(dl);
  CAF_CHECK(same(make_dead_letter("keep", 3000), *dl));
  CAF_CHECK(ask<job>(atoms::get_v, std::string{"new"}));
  auto ledger = ask<std::vector<attempt_record>>(atoms::attempts_v,
                                                 std::string{"keep"});
  CAF_REQUIRE(ledger);
  CAF_CHECK_EQUAL(ledger->size(), 1u);
  auto all = ask<std::vector<dead_letter>>(atoms::dlq_list_v, int64_t{0},
                                           uint32_t{100});
  CAF_REQUIRE(all);
  CAF_CHECK_EQUAL(ids_of(*all), (std::vector<std::string>{"keep/0"}));
}

CAF_TEST(a bury failing halfway undoes its job update) {
  auto before = make_job("half", 1000, job_status::processing);
  CAF_CHECK_EQUAL(ask<bool>(atoms::create_v, before), true);
  CAF_CHECK_EQUAL(ask<bool>(atoms::create_v, make_job("fine")), true);
  {
    // Makes the dead-letter INSERT fail after the job UPDATE already ran.
    auto db = sqlite::database::open(path);
    CAF_REQUIRE(db);
    CAF_REQUIRE(!(*db)->exec(
      "CREATE TRIGGER fail_boom BEFORE INSERT ON dead_letters "
      "WHEN NEW.job_id = 'half' BEGIN SELECT RAISE(ABORT, 'boom'); END",
      "create trigger"));
  }
  auto boom = make_dead_letter("half", 2000);
  auto lock = hold_write_lock();
  auto r1 = self->request(store, timeout, atoms::bury_v, boom,
                          failed_job("half", 2000));
  auto r2 = self->request(store, timeout, atoms::bury_v,
                          make_dead_letter("fine", 2000),
                          failed_job("fine", 2000));
  std::this_thread::sleep_for(100ms);
  lock.release();
  r1.receive([](bool) { CAF_FAIL("bury through the trigger succeeded"); },
             [&](caf::error& err) {
               CAF_MESSAGE("failed bury: " << sys.render(err));
             });
  r2.receive([](bool x) { CAF_CHECK(x); },
             [&](caf::error& err) { CAF_FAIL(sys.render(err)); });
  auto x = ask<job>(atoms::get_v, std::string{"half"});
  CAF_REQUIRE(x);
  CAF_CHECK(same(before, *x));
  CHECK_ERRC(ask<dead_letter>(atoms::dlq_get_v, std::string{"half"}),
             errc::not_found);
  auto fine = ask<job>(atoms::get_v, std::string{"fine"});
  CAF_REQUIRE(fine);
  CAF_CHECK(same(failed_job("fine", 2000), *fine));
  CAF_CHECK(ask<dead_letter>(atoms::dlq_get_v, std::string{"fine"}));
}

CAF_TEST(dlq_list filters by window newest first and limits) {
  auto bury = [&](const std::string& id, int64_t at) {
    CAF_CHECK_EQUAL(ask<bool>(atoms::create_v, make_job(id)), true);
    CAF_CHECK_EQUAL(ask<bool>(atoms::bury_v, make_dead_letter(id, at),
                              failed_job(id, at)),
                    true);
  };
  bury("d1", 100);
  bury("d2", 200);
  bury("d3", 300);
  bury("d4", 400);
  // Same millisecond as d3: the later write counts as newer.
  bury("d5", 300);
  // Redriven records are listed too.
  CAF_CHECK_EQUAL(ask<bool>(atoms::redriven_v, std::string{"d2"}, uint32_t{0},
                            int64_t{900}),
                  true);
  auto list = [&](int64_t since, uint32_t limit) {
    auto xs = ask<std::vector<dead_letter>>(atoms::dlq_list_v, since, limit);
    if (!xs)
      CAF_FAIL("dlq_list failed: " << sys.render(xs.error()));
    return ids_of(*xs);
  };
  using strings = std::vector<std::string>;
  CAF_CHECK_EQUAL(list(200, 10), (strings{"d4/0", "d5/0", "d3/0", "d2/0"}));
  CAF_CHECK_EQUAL(list(0, 2), (strings{"d4/0", "d5/0"}));
  CAF_CHECK_EQUAL(list(0, 100).size(), 5u);
  CAF_CHECK_EQUAL(list(400, 10), (strings{"d4/0"}));
  CAF_CHECK(list(401, 10).empty());
  CAF_CHECK(list(0, 0).empty());
  // Listed records carry their attempts and redrive mark.
  auto xs = ask<std::vector<dead_letter>>(atoms::dlq_list_v, int64_t{200},
                                          uint32_t{1000});
  CAF_REQUIRE(xs);
  CAF_REQUIRE_EQUAL(xs->size(), 4u);
  CAF_CHECK(same(make_dead_letter("d4", 400), xs->front()));
  CAF_CHECK_EQUAL(xs->back().redriven_at, 900);
  CAF_CHECK_EQUAL(xs->back().attempts.size(), 2u);
}

CAF_TEST(dlq_get returns the latest series and bury replaces a series) {
  CAF_CHECK_EQUAL(ask<bool>(atoms::create_v, make_job("s")), true);
  for (uint32_t series : {0u, 2u, 1u}) {
    auto at = 100 + int64_t{series} * 100;
    auto x = failed_job("s", at);
    x.series = series;
    CAF_CHECK_EQUAL(
      ask<bool>(atoms::bury_v, make_dead_letter("s", at, series), x), true);
  }
  auto got = ask<dead_letter>(atoms::dlq_get_v, std::string{"s"});
  CAF_REQUIRE(got);
  CAF_CHECK(same(make_dead_letter("s", 300, 2), *got));
  // Burying series 2 again replaces its record, attempts included.
  auto again = make_dead_letter("s", 700, 2);
  again.error_code = vf::messages::errc::timeout;
  again.kind = task_kind::probe;
  again.attempts = {make_attempt("s", 1, false, 2)};
  auto x = failed_job("s", 700);
  x.series = 2;
  CAF_CHECK_EQUAL(ask<bool>(atoms::bury_v, again, x), true);
  got = ask<dead_letter>(atoms::dlq_get_v, std::string{"s"});
  CAF_REQUIRE(got);
  CAF_CHECK(same(again, *got));
  auto all = ask<std::vector<dead_letter>>(atoms::dlq_list_v, int64_t{0},
                                           uint32_t{100});
  CAF_REQUIRE(all);
  CAF_CHECK_EQUAL(ids_of(*all),
                  (std::vector<std::string>{"s/2", "s/1", "s/0"}));
  CHECK_ERRC(ask<dead_letter>(atoms::dlq_get_v, std::string{"nobody"}),
             errc::not_found);
}

CAF_TEST(redriven marks a record once) {
  CAF_CHECK_EQUAL(ask<bool>(atoms::create_v, make_job("r")), true);
  CAF_CHECK_EQUAL(ask<bool>(atoms::bury_v, make_dead_letter("r", 100),
                            failed_job("r", 100)),
                  true);
  auto mark = [&](const std::string& id, uint32_t series, int64_t at) {
    return ask<bool>(atoms::redriven_v, id, series, at);
  };
  // Two redrives racing in one batch: exactly one wins.
  auto r1 = self->request(store, timeout, atoms::redriven_v, std::string{"r"},
                          uint32_t{0}, int64_t{500});
  auto r2 = self->request(store, timeout, atoms::redriven_v, std::string{"r"},
                          uint32_t{0}, int64_t{600});
  bool first = false;
  bool second = true;
  r1.receive([&](bool x) { first = x; },
             [&](caf::error& err) { CAF_FAIL(sys.render(err)); });
  r2.receive([&](bool x) { second = x; },
             [&](caf::error& err) { CAF_FAIL(sys.render(err)); });
  CAF_CHECK_EQUAL(first, true);
  CAF_CHECK_EQUAL(second, false);
  CAF_CHECK_EQUAL(mark("r", 0, 700), false);
  auto got = ask<dead_letter>(atoms::dlq_get_v, std::string{"r"});
  CAF_REQUIRE(got);
  CAF_CHECK_EQUAL(got->redriven_at, 500);
  CHECK_ERRC(mark("r", 1, 800), errc::not_found);
  CHECK_ERRC(mark("ghost", 0, 800), errc::not_found);
  CHECK_ERRC(mark("r", 0, 0), errc::invalid_argument);
  // A new series of the same job is a new, open record.
  auto x = failed_job("r", 900);
  x.series = 1;
  CAF_CHECK_EQUAL(
    ask<bool>(atoms::bury_v, make_dead_letter("r", 900, 1), x), true);
  CAF_CHECK_EQUAL(mark("r", 1, 1000), true);
}

CAF_TEST(dlq_remove drops every record of the job) {
  for (auto id : {"x", "y"})
    CAF_CHECK_EQUAL(ask<bool>(atoms::create_v, make_job(id)), true);
  for (uint32_t series : {0u, 1u}) {
    auto x = failed_job("x", 100);
    x.series = series;
    CAF_CHECK_EQUAL(
      ask<bool>(atoms::bury_v, make_dead_letter("x", 100, series), x), true);
  }
  CAF_CHECK_EQUAL(ask<bool>(atoms::bury_v, make_dead_letter("y", 200),
                            failed_job("y", 200)),
                  true);
  CAF_CHECK_EQUAL(ask<bool>(atoms::dlq_remove_v, std::string{"x"}), true);
  CAF_CHECK_EQUAL(ask<bool>(atoms::dlq_remove_v, std::string{"x"}), false);
  CAF_CHECK_EQUAL(ask<bool>(atoms::dlq_remove_v, std::string{"nobody"}), false);
  CHECK_ERRC(ask<dead_letter>(atoms::dlq_get_v, std::string{"x"}),
             errc::not_found);
  CAF_CHECK(ask<dead_letter>(atoms::dlq_get_v, std::string{"y"}));
  // The job itself stays.
  CAF_CHECK(ask<job>(atoms::get_v, std::string{"x"}));
  // Burying again starts clean: no attempts left over from removed records.
  auto fresh = make_dead_letter("x", 300);
  fresh.attempts.resize(1);
  CAF_CHECK_EQUAL(ask<bool>(atoms::bury_v, fresh, failed_job("x", 300)), true);
  auto got = ask<dead_letter>(atoms::dlq_get_v, std::string{"x"});
  CAF_REQUIRE(got);
  CAF_CHECK(same(fresh, *got));
}

CAF_TEST(expiry lists only old jobs awaiting upload and persists them) {
  auto add = [&](const std::string& id, int64_t created_at, job_status st) {
    auto x = make_job(id, created_at, st);
    CAF_CHECK_EQUAL(ask<bool>(atoms::create_v, x), true);
    return x;
  };
  add("old-1", 100, job_status::awaiting_upload);
  add("old-2", 999, job_status::awaiting_upload);
  auto edge = add("edge", 1000, job_status::awaiting_upload);
  auto young = add("young", 2000, job_status::awaiting_upload);
  auto sub = add("old-submitted", 100, job_status::submitted);
  auto fail = add("old-failed", 100, job_status::failed);
  // The store lists candidates; the job lifecycle decides (here: what the
  // orchestrator's lifecycle writes for `expire`), the store persists.
  // `stale`: a candidate listed earlier that stopped waiting since (its
  // upload came); a late expiry must not overwrite it.
  auto expire = [&](int64_t before, int64_t at,
                    std::optional<job> stale = std::nullopt) {
    auto xs = ask<std::vector<job>>(atoms::expire_old_v, before, uint32_t{100});
    CAF_REQUIRE(xs);
    if (stale)
      xs->push_back(*stale);
    for (auto& x : *xs) {
      x.status = job_status::expired;
      x.updated_at = at;
      x.error_code = vf::messages::errc::expired;
      x.error_message = "no upload arrived before the upload URL expired";
    }
    return ask<uint64_t>(atoms::expire_v, *xs);
  };
  CAF_CHECK_EQUAL(expire(int64_t{1000}, int64_t{5000}), 2u);
  for (auto id : {"old-1", "old-2"}) {
    auto x = ask<job>(atoms::get_v, std::string{id});
    CAF_REQUIRE(x);
    CAF_CHECK(x->status == job_status::expired);
    CAF_CHECK_EQUAL(x->updated_at, 5000);
    CAF_CHECK_EQUAL(x->error_code, vf::messages::errc::expired);
    CAF_CHECK_EQUAL(x->error_message,
                    "no upload arrived before the upload URL expired");
  }
  for (auto& x : {edge, young, sub, fail}) {
    auto y = ask<job>(atoms::get_v, x.id);
    CAF_REQUIRE(y);
    CAF_CHECK(same(x, *y));
  }
  CAF_CHECK_EQUAL(expire(int64_t{1000}, int64_t{6000}, sub), 0u);
  auto counts = ask<status_counts>(atoms::counts_v);
  CAF_REQUIRE(counts);
  CAF_CHECK_EQUAL(*counts, (status_counts{2, 1, 0, 0, 1, 0, 2}));
  CAF_CHECK_EQUAL(stats().second, 8u);
}

CAF_TEST(priority recipe and outputs round trip) {
  auto j = make_job("media", 7);
  j.priority = vf::messages::priority_low;
  j.outputs = R"({"thumbnails":[{"name":"small","width":320,"height":180}]})";
  CAF_CHECK_EQUAL(ask<bool>(atoms::create_v, j), true);
  auto x = ask<job>(atoms::get_v, std::string{"media"});
  CAF_REQUIRE(x);
  CAF_CHECK(same(j, *x));
  CAF_CHECK_EQUAL(x->priority, -1);
  job_result r{"media", "{}", "sum", 9, R"({"thumbnails":[]})"};
  CAF_CHECK_EQUAL(ask<bool>(atoms::put_result_v, r), true);
  auto y = ask<job_result>(atoms::get_result_v, std::string{"media"});
  CAF_REQUIRE(y);
  CAF_CHECK_EQUAL(y->outputs, r.outputs);
}

CAF_TEST(reuse finds the newest succeeded job of the owner with the same bytes and recipe) {
  const std::string recipe = R"({"renditions":[{"name":"360p","height":360}]})";
  const std::string sha(64, 'a');
  auto add = [&](std::string id, int64_t at, std::string owner,
                 std::string digest, std::string r, job_status status,
                 bool with_outputs) {
    auto j = make_job(id, at, status);
    j.owner = std::move(owner);
    j.updated_at = at;
    j.outputs = std::move(r);
    j.object = {"raw", "uploads/" + id + "/a.mp4", "v1", "e", 5, {},
                std::move(digest)};
    CAF_REQUIRE_EQUAL(ask<bool>(atoms::create_v, j), true);
    job_result res{id, "{}", "sum", at,
                   with_outputs ? R"({"renditions":[{"name":"360p"}]})" : ""};
    CAF_REQUIRE_EQUAL(ask<bool>(atoms::put_result_v, res), true);
  };
  using names = std::vector<std::string>;
  auto find = [&](std::string owner, std::string digest, std::string r,
                  std::string self) {
    auto x = ask<names>(atoms::find_reuse_v, std::move(owner),
                        std::move(digest), std::move(r), std::move(self));
    CAF_REQUIRE(x);
    return *x;
  };
  add("old", 10, "alice", sha, recipe, job_status::succeeded, true);
  add("new", 20, "alice", sha, recipe, job_status::succeeded, true);
  add("failed", 30, "alice", sha, recipe, job_status::failed, true);
  add("bob", 40, "bob", sha, recipe, job_status::succeeded, true);
  add("other", 50, "alice", std::string(64, 'b'), recipe,
      job_status::succeeded, true);
  add("bare", 60, "alice", sha, "", job_status::succeeded, false);
  auto hit = find("alice", sha, recipe, "me");
  CAF_REQUIRE_EQUAL(hit.size(), 2u);
  CAF_CHECK_EQUAL(hit[0], "new");
  CAF_CHECK_EQUAL(hit[1], R"({"renditions":[{"name":"360p"}]})");
  // Never the asking job itself, never another owner's, nor another
  // recipe's, nor a job without a digest.
  auto older = find("alice", sha, recipe, "new");
  CAF_REQUIRE_EQUAL(older.size(), 2u);
  CAF_CHECK_EQUAL(older[0], "old");
  CAF_CHECK(find("carol", sha, recipe, "me").empty());
  CAF_CHECK(find("alice", sha, R"({"thumbnails":[]})", "me").empty());
  CAF_CHECK(find("alice", "", "", "me").empty());
  // Gone with its job.
  CAF_CHECK_EQUAL(ask<bool>(atoms::erase_v, std::string{"new"}), true);
  auto left = find("alice", sha, recipe, "me");
  CAF_REQUIRE_EQUAL(left.size(), 2u);
  CAF_CHECK_EQUAL(left[0], "old");
}

CAF_TEST(erase removes a job and every record of it) {
  auto j = make_job("gone", 7, job_status::failed);
  CAF_CHECK_EQUAL(ask<bool>(atoms::create_v, j), true);
  CAF_CHECK_EQUAL(ask<bool>(atoms::put_result_v,
                            job_result{"gone", "{}", "s", 9, ""}),
                  true);
  CAF_CHECK_EQUAL(ask<bool>(atoms::claim_v, std::string{"b/k@v"},
                            std::string{"gone"}),
                  true);
  CAF_CHECK_EQUAL(ask<bool>(atoms::record_v, make_attempt("gone", 1)), true);
  CAF_CHECK_EQUAL(ask<bool>(atoms::bury_v, make_dead_letter("gone", 50, 0), j),
                  true);
  auto keep = make_job("kept", 8);
  CAF_CHECK_EQUAL(ask<bool>(atoms::create_v, keep), true);
  CAF_CHECK_EQUAL(ask<bool>(atoms::erase_v, std::string{"gone"}), true);
  CAF_CHECK(!ask<job>(atoms::get_v, std::string{"gone"}));
  CAF_CHECK(!ask<job_result>(atoms::get_result_v, std::string{"gone"}));
  CAF_CHECK(!ask<dead_letter>(atoms::dlq_get_v, std::string{"gone"}));
  auto ledger = ask<std::vector<attempt_record>>(atoms::attempts_v,
                                                 std::string{"gone"});
  CAF_REQUIRE(ledger);
  CAF_CHECK(ledger->empty());
  // The claim went too: the key may be claimed again.
  CAF_CHECK_EQUAL(ask<bool>(atoms::claim_v, std::string{"b/k@v"},
                            std::string{"other"}),
                  true);
  CAF_CHECK(ask<job>(atoms::get_v, std::string{"kept"}));
  CAF_CHECK_EQUAL(ask<bool>(atoms::erase_v, std::string{"gone"}), false);
}

CAF_TEST(a version 1 database opens and migrates) {
  auto old_path = dir + "/v1.db";
  {
    auto db = sqlite::database::open(old_path);
    CAF_REQUIRE(db);
    // Exactly what a build of schema version 1 left behind.
    CAF_REQUIRE(!sqlite::configure(**db));
    CAF_REQUIRE(!sqlite::migrate(**db, 1));
    CAF_REQUIRE(!(*db)->exec(
      "INSERT INTO jobs VALUES ('old', 'alice', 'clip.mp4', 'video/mp4', "
      "'uploads', 'uploads/old/clip.mp4', 'SUBMITTED', 10, 20, 'raw', "
      "'uploads/old/clip.mp4', 'v1', 'e', 7, 1, 'probe', 0, '', '');"
      "INSERT INTO results VALUES ('old', '{}', 'sum', 30);"
      "INSERT INTO claims VALUES ('raw/old@v1', 'old', 40);",
      "fill version 1"));
  }
  CAF_REQUIRE_EQUAL(user_version(old_path), 1);
  stop();
  auto hdl = sqlite::spawn_job_store(sys, {old_path, 512, nullptr, {}});
  if (!hdl)
    CAF_FAIL("spawn on a version 1 file: " << sys.render(hdl.error()));
  store = std::move(*hdl);
  auto x = ask<job>(atoms::get_v, std::string{"old"});
  CAF_REQUIRE(x);
  auto expected = make_job("old", 10, job_status::submitted);
  expected.updated_at = 20;
  expected.object = {"raw", "uploads/old/clip.mp4", "v1", "e", 7, {}, {}};
  expected.attempts = 1;
  expected.step = "probe";
  CAF_CHECK(same(expected, *x));
  CAF_CHECK_EQUAL(x->series, 0u);
  auto r = ask<job_result>(atoms::get_result_v, std::string{"old"});
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->summary, "sum");
  // Version 6 columns read as "no outputs, default priority".
  CAF_CHECK_EQUAL(r->outputs, "");
  CAF_CHECK_EQUAL(x->priority, 0);
  CAF_CHECK_EQUAL(x->outputs, "");
  // Version 9: the journal of an old job starts with its current status.
  auto evs = ask<std::vector<job_event>>(atoms::events_v, std::string{"old"},
                                         uint64_t{0});
  CAF_REQUIRE(evs);
  CAF_REQUIRE_EQUAL(evs->size(), 1u);
  auto migrated = evs->front();
  CAF_CHECK_EQUAL(to_string(migrated.status), "SUBMITTED");
  CAF_CHECK_EQUAL(migrated.at, 20);
  CAF_CHECK_EQUAL(ask<bool>(atoms::claim_v, std::string{"raw/old@v1"},
                            std::string{"old"}),
                  false);
  // The new tables work on the migrated file.
  CAF_CHECK_EQUAL(ask<bool>(atoms::record_v, make_attempt("old", 1)), true);
  auto buried = failed_job("old", 50);
  buried.series = 1;
  CAF_CHECK_EQUAL(
    ask<bool>(atoms::bury_v, make_dead_letter("old", 50, 1), buried), true);
  auto dl = ask<dead_letter>(atoms::dlq_get_v, std::string{"old"});
  CAF_REQUIRE(dl);
  CAF_CHECK(same(make_dead_letter("old", 50, 1), *dl));
  stop();
  CAF_CHECK_EQUAL(user_version(old_path), sqlite::schema_version);
  CAF_CHECK_EQUAL(sqlite::schema_version, 14);
  // Opening the migrated file again changes nothing.
  hdl = sqlite::spawn_job_store(sys, {old_path, 512, nullptr, {}});
  CAF_REQUIRE(hdl);
  store = std::move(*hdl);
  x = ask<job>(atoms::get_v, std::string{"old"});
  CAF_REQUIRE(x);
  CAF_CHECK(same(buried, *x));
  auto ledger = ask<std::vector<attempt_record>>(atoms::attempts_v,
                                                 std::string{"old"});
  CAF_REQUIRE(ledger);
  CAF_CHECK(same(*ledger, std::vector<attempt_record>{make_attempt("old", 1)}));
}

CAF_TEST(a version 4 ledger keeps its rows with no lease time) {
  auto old_path = dir + "/v4.db";
  {
    auto db = sqlite::database::open(old_path);
    CAF_REQUIRE(db);
    // What a build of schema version 4 left behind: one attempt row, and
    // one row of a dead letter's attempts, without `leased_at`.
    CAF_REQUIRE(!sqlite::configure(**db));
    CAF_REQUIRE(!sqlite::migrate(**db, 4));
    CAF_REQUIRE(!(*db)->exec(
      "INSERT INTO attempts (job_id, lease_id, object_version, series, kind,"
      " attempt, ok, output, error_code, error_message, worker, finished_at,"
      " duration_us) VALUES ('old', 1001, 'v1', 0, 'probe', 1, 0, '',"
      " 'timeout', 'probe took longer than 30000 ms', 'node-1/probe-1',"
      " 1700000000001, 250001);",
      "fill version 4"));
  }
  CAF_REQUIRE_EQUAL(user_version(old_path), 4);
  stop();
  auto hdl = sqlite::spawn_job_store(sys, {old_path, 512, nullptr, {}});
  if (!hdl)
    CAF_FAIL("spawn on a version 4 file: " << sys.render(hdl.error()));
  store = std::move(*hdl);
  auto ledger = ask<std::vector<attempt_record>>(atoms::attempts_v,
                                                 std::string{"old"});
  CAF_REQUIRE(ledger);
  auto expected = make_attempt("old", 1);
  expected.leased_at = 0; // Unknown for rows older than schema 5.
  CAF_CHECK(same(*ledger, std::vector<attempt_record>{expected}));
  // New rows keep theirs, next to the old one.
  CAF_CHECK_EQUAL(ask<bool>(atoms::record_v, make_attempt("old", 2, true)),
                  true);
  ledger = ask<std::vector<attempt_record>>(atoms::attempts_v,
                                            std::string{"old"});
  CAF_REQUIRE(ledger);
  CAF_CHECK(same(*ledger, std::vector<attempt_record>{
                            expected, make_attempt("old", 2, true)}));
  CAF_CHECK_EQUAL(user_version(old_path), sqlite::schema_version);
}

CAF_TEST(the checkpointer copies the log into the database on its thread) {
  // A file of its own: the fixture's store has its own checkpointer.
  auto file = dir + "/ckpt.db";
  auto db = sqlite::database::open(file);
  CAF_REQUIRE(db);
  CAF_REQUIRE(!sqlite::configure(**db));
  CAF_REQUIRE(!(*db)->exec("CREATE TABLE t (x BLOB)", "create"));
  constexpr int pages = 10;
  auto ckpt = sqlite::checkpointer::start(**db, pages);
  if (!ckpt)
    CAF_FAIL("checkpointer: " << sys.render(ckpt.error()));
  // 200 commits of 8 KiB: 600 log pages and more without a checkpoint.
  for (int i = 0; i < 200; ++i)
    CAF_REQUIRE(!(*db)->exec("INSERT INTO t VALUES (randomblob(8192))",
                             "insert"));
  for (int i = 0; i < 1000 && (*ckpt)->runs() == 0; ++i)
    std::this_thread::sleep_for(10ms);
  CAF_CHECK_GREATER((*ckpt)->runs(), 0u);
  // The log started over instead of growing: SQLite's own threshold (1000
  // pages) would have let it reach 600 pages here; the writer's backstop
  // caps it near 8 * pages, the thread usually far below.
  auto wal = std::filesystem::file_size(file + "-wal");
  CAF_CHECK_LESS(wal, uintmax_t{8 * pages + 20} * (4096 + 24) + 32);
  ckpt->reset();
  db->reset();
  // Everything committed is there for a new connection.
  auto again = sqlite::database::open(file);
  CAF_REQUIRE(again);
  auto count = (*again)->prepare("SELECT count(*) FROM t");
  CAF_REQUIRE(count);
  CAF_REQUIRE_EQUAL(count->step(), SQLITE_ROW);
  CAF_CHECK_EQUAL(count->column_int64(0), 200);
}

CAF_TEST_FIXTURE_SCOPE_END()
