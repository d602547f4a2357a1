#define CAF_SUITE adapters.library

#include "vf/adapters/sqlite/job_store.hpp"
#include "vf/messages/errc.hpp"
#include "vf/messages/job.hpp"
#include "vf/messages/library_actor.hpp"
#include "vf_test.hpp"

#include "caf/actor_system.hpp"
#include "caf/exit_reason.hpp"
#include "caf/scoped_actor.hpp"

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace atoms = vf::atoms;
namespace sqlite = vf::adapters::sqlite;
using vf::messages::errc;
using vf::messages::job;
using vf::messages::job_result;
using vf::messages::job_status;
using vf::messages::library_actor;
using vf::messages::library_stats;
using vf::messages::store_actor;
using vf::messages::video_entry;
using vf::messages::video_order;
using vf::messages::video_page;
using vf::messages::video_query;

namespace {

constexpr auto timeout = 10s;

constexpr int64_t day_ms = 86'400'000;

struct fixture {
  fixture() : sys(cfg), self(sys) {
    auto tmpl = (std::filesystem::temp_directory_path() / "vf-library-XXXXXX")
                  .string();
    if (mkdtemp(tmpl.data()) == nullptr)
      CAF_FAIL("mkdtemp failed for " << tmpl);
    dir = tmpl;
    spawn();
  }

  ~fixture() {
    stop();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }

  void spawn() {
    auto hdl
      = sqlite::spawn_job_store(sys, {dir + "/jobs.db", 512, nullptr, {}});
    if (!hdl)
      CAF_FAIL("spawn_job_store failed: " << sys.render(hdl.error()));
    store = std::move(*hdl);
    library = caf::actor_cast<library_actor>(store);
  }

  void stop() {
    if (store) {
      self->send_exit(store, caf::exit_reason::user_shutdown);
      self->wait_for(store);
      store = nullptr;
      library = nullptr;
    }
  }

  template <class T, class Handle, class... Ts>
  caf::expected<T> ask(const Handle& hdl, Ts&&... xs) {
    caf::expected<T> result{caf::make_error(caf::sec::request_timeout)};
    self->request(hdl, timeout, std::forward<Ts>(xs)...)
      .receive([&](T& x) { result = std::move(x); },
               [&](caf::error& err) { result = std::move(err); });
    return result;
  }

  /// Stores a job of `owner` created at `created_at` in `status`, with a
  /// result (when SUCCEEDED) of `seconds` of video and a 1000-byte
  /// rendition and 100-byte thumbnail, its upload `size` bytes.
  void add_video(const std::string& id, const std::string& owner,
                 int64_t created_at, uint64_t size = 5000,
                 double seconds = 10,
                 job_status status = job_status::succeeded) {
    job x;
    x.id = id;
    x.owner = owner;
    x.filename = id + ".mp4";
    x.bucket = "uploads";
    x.key = "uploads/" + id + "/" + x.filename;
    x.status = job_status::awaiting_upload;
    x.created_at = created_at;
    x.updated_at = created_at;
    auto made = ask<bool>(store, atoms::create_v, x);
    CAF_REQUIRE(made);
    x.status = status;
    x.object.bucket = "uploads";
    x.object.key = x.key;
    x.object.version = "v1";
    x.object.size = size;
    auto put = ask<bool>(store, atoms::put_v, x);
    CAF_REQUIRE(put);
    if (status != job_status::succeeded)
      return;
    job_result r;
    r.job_id = id;
    r.metadata = R"({"format":{"duration":")" + std::to_string(seconds)
                 + R"("},"streams":[{"codec_type":"video","width":64,)"
                   R"("height":48}]})";
    r.summary = "a clip";
    r.created_at = created_at;
    r.outputs = R"({"thumbnails":[{"name":"t","bucket":"b","key":"k1",)"
                R"("bytes":100}],"renditions":[{"name":"r","bucket":"b",)"
                R"("key":"k2","bytes":1000,"height":48}]})";
    auto res = ask<bool>(store, atoms::put_result_v, r);
    CAF_REQUIRE(res);
  }

  std::vector<std::string> ids_of(const video_page& page) {
    std::vector<std::string> out;
    for (auto& x : page.items)
      out.push_back(x.source.id);
    return out;
  }

  video_page page_of(video_query q) {
    auto page = ask<video_page>(library, atoms::videos_v, q);
    if (!page)
      CAF_FAIL("videos failed: " << sys.render(page.error()));
    return *page;
  }

  vf::testing::config cfg;
  caf::actor_system sys;
  caf::scoped_actor self;
  std::string dir;
  store_actor store;
  library_actor library;
};

bool is_not_found(const caf::error& err) {
  return vf::messages::errc_of(err) == errc::not_found;
}

} // namespace

CAF_TEST_FIXTURE_SCOPE(library_tests, fixture)

CAF_TEST(a burst of views is counted exactly and shares commits) {
  add_video("v1", "alice", 1000);
  constexpr int n = 300;
  // All sent before any answer is read: one burst in the mailbox.
  using handle = decltype(self->request(library, timeout, atoms::add_view_v,
                                        std::string{}));
  std::vector<handle> pending;
  for (int i = 0; i < n; ++i)
    pending.push_back(
      self->request(library, timeout, atoms::add_view_v, std::string{"v1"}));
  uint64_t highest = 0;
  int answered = 0;
  std::vector<uint64_t> seen;
  for (auto& h : pending)
    h.receive(
      [&](uint64_t views) {
        ++answered;
        seen.push_back(views);
        highest = std::max(highest, views);
      },
      [&](caf::error& err) { CAF_FAIL("view failed: " << sys.render(err)); });
  CAF_CHECK_EQUAL(answered, n);
  CAF_CHECK_EQUAL(highest, static_cast<uint64_t>(n));
  // Every answer is a distinct count: no two views saw the same total.
  std::sort(seen.begin(), seen.end());
  CAF_CHECK(std::unique(seen.begin(), seen.end()) == seen.end());
  auto hdl = caf::actor_cast<sqlite::sqlite_job_store_actor>(store);
  self->request(hdl, timeout, atoms::stats_v)
    .receive(
      [&](uint64_t commits, uint64_t writes) {
        CAF_MESSAGE(writes << " writes in " << commits << " commits");
        CAF_CHECK_LESS(commits, writes);
      },
      [&](caf::error& err) { CAF_FAIL(sys.render(err)); });
  auto x = ask<video_entry>(library, atoms::video_v, std::string{"v1"},
                            std::string{"alice"});
  CAF_REQUIRE(x);
  CAF_CHECK_EQUAL(x->views, static_cast<uint64_t>(n));
}

CAF_TEST(views and likes of anything but a processed video are not found) {
  add_video("done", "alice", 1000);
  add_video("busy", "alice", 1000, 10, 1, job_status::processing);
  auto a = ask<uint64_t>(library, atoms::add_view_v, std::string{"nope"});
  CAF_REQUIRE(!a);
  CAF_CHECK(is_not_found(a.error()));
  auto b = ask<uint64_t>(library, atoms::add_view_v, std::string{"busy"});
  CAF_REQUIRE(!b);
  CAF_CHECK(is_not_found(b.error()));
  auto c = ask<uint64_t>(library, atoms::set_like_v, std::string{"busy"},
                         std::string{"bob"}, true);
  CAF_REQUIRE(!c);
  CAF_CHECK(is_not_found(c.error()));
  auto d = ask<video_entry>(library, atoms::video_v, std::string{"busy"},
                            std::string{});
  CAF_REQUIRE(!d);
  CAF_CHECK(is_not_found(d.error()));
  // The failed writes did not spoil their batch.
  auto e = ask<uint64_t>(library, atoms::add_view_v, std::string{"done"});
  CAF_REQUIRE(e);
  CAF_CHECK_EQUAL(*e, 1u);
}

CAF_TEST(a like is set once per user and cleared once) {
  add_video("v1", "alice", 1000);
  auto like = [&](const char* user, bool on) {
    auto x = ask<uint64_t>(library, atoms::set_like_v, std::string{"v1"},
                           std::string{user}, on);
    if (!x)
      CAF_FAIL("set_like failed: " << sys.render(x.error()));
    return *x;
  };
  CAF_CHECK_EQUAL(like("alice", false), 0u);
  CAF_CHECK_EQUAL(like("alice", true), 1u);
  CAF_CHECK_EQUAL(like("alice", true), 1u);
  CAF_CHECK_EQUAL(like("bob", true), 2u);
  CAF_CHECK_EQUAL(like("alice", false), 1u);
  CAF_CHECK_EQUAL(like("alice", false), 1u);
  auto seen = ask<video_entry>(library, atoms::video_v, std::string{"v1"},
                               std::string{"bob"});
  CAF_REQUIRE(seen);
  CAF_CHECK_EQUAL(seen->likes, 1u);
  CAF_CHECK(seen->liked);
  auto other = ask<video_entry>(library, atoms::video_v, std::string{"v1"},
                                std::string{"alice"});
  CAF_REQUIRE(other);
  CAF_CHECK(!other->liked);
}

CAF_TEST(pages sort by each order and page without overlap) {
  // created_at 1000..5000; views 0,5,2,9,1; likes 0,1,2,3,0 (by distinct
  // users): engagement 0, .2, 1, .33, 0.
  std::vector<std::string> ids{"a", "b", "c", "d", "e"};
  std::vector<int> views{0, 5, 2, 9, 1};
  std::vector<int> likes{0, 1, 2, 3, 0};
  for (size_t i = 0; i < ids.size(); ++i) {
    add_video(ids[i], "alice", 1000 * static_cast<int64_t>(i + 1));
    for (int k = 0; k < views[i]; ++k)
      CAF_REQUIRE(ask<uint64_t>(library, atoms::add_view_v, ids[i]));
    for (int k = 0; k < likes[i]; ++k)
      CAF_REQUIRE(ask<uint64_t>(library, atoms::set_like_v, ids[i],
                                "u" + std::to_string(k), true));
  }
  add_video("bobs", "bob", 9000);
  add_video("failed", "alice", 9500, 1, 1, job_status::failed);
  video_query q;
  q.owner = "alice";
  q.limit = 10;
  using list = std::vector<std::string>;
  // The check macros keep references: compare values held here.
  list got;
  auto by = [&](video_order o, bool desc) -> const list& {
    q.sort_by = o;
    q.descending = desc;
    got = ids_of(page_of(q));
    return got;
  };
  CAF_CHECK_EQUAL(by(video_order::created, true), (list{"e", "d", "c", "b", "a"}));
  CAF_CHECK_EQUAL(by(video_order::created, false), (list{"a", "b", "c", "d", "e"}));
  CAF_CHECK_EQUAL(by(video_order::views, true), (list{"d", "b", "c", "e", "a"}));
  CAF_CHECK_EQUAL(by(video_order::likes, true), (list{"d", "c", "b", "e", "a"}));
  // Ties (0 and 0) newest first, whatever the direction.
  CAF_CHECK_EQUAL(by(video_order::engagement, true),
                  (list{"c", "d", "b", "e", "a"}));
  CAF_CHECK_EQUAL(by(video_order::engagement, false),
                  (list{"e", "a", "b", "d", "c"}));
  // Pages of two: together exactly the whole list, total on each.
  q.sort_by = video_order::views;
  q.descending = true;
  q.limit = 2;
  list all;
  for (uint32_t off = 0; off < 6; off += 2) {
    q.offset = off;
    auto page = page_of(q);
    CAF_CHECK_EQUAL(page.total, 5u);
    for (auto& id : ids_of(page))
      all.push_back(id);
  }
  CAF_CHECK_EQUAL(all, (list{"d", "b", "c", "e", "a"}));
  // Everyone's: bob's video too, never the failed job.
  q.owner.clear();
  q.offset = 0;
  q.limit = 100;
  q.sort_by = video_order::created;
  auto everyone = page_of(q);
  CAF_CHECK_EQUAL(everyone.total, 6u);
  auto everyone_ids = ids_of(everyone);
  CAF_REQUIRE(!everyone_ids.empty());
  CAF_CHECK_EQUAL(everyone_ids.front(), std::string{"bobs"});
  // liked: for the viewer named only.
  q.owner = "alice";
  q.viewer = "u2";
  auto liked = page_of(q);
  for (auto& x : liked.items) {
    auto want = x.source.id == "d";
    CAF_CHECK_EQUAL(x.liked, want);
  }
}

CAF_TEST(stats add up the library of one owner) {
  auto now = 40 * day_ms;
  add_video("a", "alice", now - 2 * day_ms, 5000, 30);
  add_video("b", "alice", now - 2 * day_ms + 5, 7000, 90);
  add_video("c", "alice", now, 1000, 60);
  add_video("x", "bob", now, 1000, 600);
  add_video("old", "alice", now - 35 * day_ms, 1000, 60);
  add_video("f", "alice", now, 1, 1, job_status::failed);
  for (int k = 0; k < 4; ++k)
    CAF_REQUIRE(ask<uint64_t>(library, atoms::add_view_v, std::string{"b"}));
  CAF_REQUIRE(ask<uint64_t>(library, atoms::add_view_v, std::string{"c"}));
  CAF_REQUIRE(ask<uint64_t>(library, atoms::set_like_v, std::string{"c"},
                            std::string{"bob"}, true));
  auto st = ask<library_stats>(library, atoms::lib_stats_v,
                               std::string{"alice"}, uint32_t{2},
                               now - 29 * day_ms);
  CAF_REQUIRE(st);
  CAF_CHECK_EQUAL(st->videos, 4u);
  CAF_CHECK_EQUAL(st->views, 5u);
  CAF_CHECK_EQUAL(st->likes, 1u);
  // Uploads plus 1100 bytes of outputs each.
  CAF_CHECK_EQUAL(st->storage_bytes, 5000u + 7000 + 1000 + 1000 + 4 * 1100);
  CAF_CHECK(std::fabs(st->seconds - 240.0) < 1e-6);
  CAF_REQUIRE_EQUAL(st->top_views.size(), 2u);
  CAF_CHECK_EQUAL(st->top_views[0].source.id, std::string{"b"});
  CAF_CHECK_EQUAL(st->top_likes[0].source.id, std::string{"c"});
  CAF_CHECK_EQUAL(st->top_engagement[0].source.id, std::string{"c"});
  // Uploads per day: the failed job had an upload too; "old" is too old.
  CAF_REQUIRE_EQUAL(st->per_day.size(), 2u);
  CAF_CHECK_EQUAL(st->per_day[0].day, std::string{"1970-02-08"});
  CAF_CHECK_EQUAL(st->per_day[0].uploads, 2u);
  CAF_CHECK_EQUAL(st->per_day[1].day, std::string{"1970-02-10"});
  CAF_CHECK_EQUAL(st->per_day[1].uploads, 2u);
  auto everyone = ask<library_stats>(library, atoms::lib_stats_v,
                                     std::string{}, uint32_t{10}, int64_t{0});
  CAF_REQUIRE(everyone);
  CAF_CHECK_EQUAL(everyone->videos, 5u);
}

CAF_TEST(counts survive a restart and go with their job) {
  add_video("v1", "alice", 1000);
  CAF_REQUIRE(ask<uint64_t>(library, atoms::add_view_v, std::string{"v1"}));
  CAF_REQUIRE(ask<uint64_t>(library, atoms::set_like_v, std::string{"v1"},
                            std::string{"bob"}, true));
  stop();
  spawn();
  auto x = ask<video_entry>(library, atoms::video_v, std::string{"v1"},
                            std::string{"bob"});
  CAF_REQUIRE(x);
  CAF_CHECK_EQUAL(x->views, 1u);
  CAF_CHECK_EQUAL(x->likes, 1u);
  CAF_CHECK(x->liked);
  auto gone = ask<bool>(store, atoms::erase_v, std::string{"v1"});
  CAF_REQUIRE(gone);
  // The same id made again starts from nothing.
  add_video("v1", "alice", 2000);
  auto y = ask<video_entry>(library, atoms::video_v, std::string{"v1"},
                            std::string{"bob"});
  CAF_REQUIRE(y);
  CAF_CHECK_EQUAL(y->views, 0u);
  CAF_CHECK_EQUAL(y->likes, 0u);
  CAF_CHECK(!y->liked);
}

CAF_TEST_FIXTURE_SCOPE_END()
