#define CAF_SUITE actors.job_registry

#include "vf/actors/job_registry.hpp"
#include "vf/actors/secure_random.hpp"

#include "vf_test.hpp"

#include "fakes.hpp"

#include <array>
#include <cstdlib>
#include <regex>
#include <set>

using namespace caf;
using namespace vf;
using messages::errc;
using messages::job_status;

namespace {

constexpr int64_t t0 = 1'800'000'000'000;

struct fixture : testing::fixture_base {
  fixture() {
    store = sys.spawn(testing::fake_store);
    actors::job_registry_config cfg;
    cfg.bucket = "media";
    cfg.key_prefix = "uploads";
    cfg.wall_ms = t0;
    reg = sys.spawn(actors::job_registry, messages::stores_of(store), cfg);
    consume_messages();
  }

  template <class T, class... Ts>
  expected<T> ask(Ts... xs) {
    self->send(reg, xs...);
    consume_messages();
    expected<T> result = messages::make_error(errc::internal, "no reply");
    self->receive([&](T& x) { result = std::move(x); },
                  [&](error& x) { result = std::move(x); },
                  after(std::chrono::seconds(0)) >> [] {});
    return result;
  }

  expected<messages::job> create(std::string filename) {
    return ask<messages::job>(atoms::create_v,
                              messages::job_request{"demo", filename,
                                                    "video/mp4", 0, "", "",
                                                    "", "", ""});
  }

  /// `(create_keyed, ...)`: the job and whether this call made it.
  expected<std::pair<messages::job, bool>>
  create_keyed(std::string owner, std::string key, std::string hash,
               std::string filename = "clip.mp4") {
    messages::job_request req{std::move(owner), std::move(filename),
                              "video/mp4",      0,
                              "",               std::move(key),
                              std::move(hash),  "", ""};
    self->send(reg, atoms::create_keyed_v, std::move(req));
    consume_messages();
    expected<std::pair<messages::job, bool>> result
      = messages::make_error(errc::internal, "no reply");
    self->receive(
      [&](messages::job& j, bool created) {
        result = std::make_pair(std::move(j), created);
      },
      [&](error& x) { result = std::move(x); },
      after(std::chrono::seconds(0)) >> [] {});
    return result;
  }

  messages::store_actor store;
  messages::job_registry_actor reg;
};

} // namespace

CAF_TEST(filenames are checked) {
  CAF_CHECK(!actors::check_filename("clip.mp4"));
  CAF_CHECK(!actors::check_filename("my clip (1).mp4"));
  std::vector<std::string> bad{"",    ".",    "..",   "../x", "a/b",
                               "a\\b", "x..y", "a\nb", "a\tb",
                               std::string(256, 'a')};
  for (auto& x : bad) {
    CAF_MESSAGE("filename: " << x);
    CAF_CHECK(actors::check_filename(x));
  }
  CAF_CHECK(actors::check_filename(std::string("a\0b", 3)));
}

CAF_TEST_FIXTURE_SCOPE(job_registry_tests, fixture)

CAF_TEST(create stores a job awaiting its upload) {
  auto j = create("clip.mp4");
  CAF_REQUIRE(j);
  static const std::regex uuid4{
    "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"};
  CAF_CHECK(std::regex_match(j->id, uuid4));
  CAF_CHECK_EQUAL(j->bucket, "media");
  CAF_CHECK_EQUAL(j->key, "uploads/" + j->id + "/clip.mp4");
  CAF_CHECK_EQUAL(j->status, job_status::awaiting_upload);
  CAF_CHECK_EQUAL(j->created_at, t0);
  CAF_CHECK_EQUAL(j->owner, "demo");
  auto& st = deref<testing::fake_store_impl>(store).state;
  CAF_CHECK_EQUAL(st.jobs.count(j->id), 1u);
  auto k = create("clip.mp4");
  CAF_REQUIRE(k);
  CAF_CHECK_NOT_EQUAL(j->id, k->id);
}

CAF_TEST(bad filenames are refused and nothing is stored) {
  auto j = create("../etc/passwd");
  CAF_REQUIRE(!j);
  CAF_CHECK_EQUAL(messages::errc_of(j.error()), errc::invalid_argument);
  CAF_CHECK(deref<testing::fake_store_impl>(store).state.jobs.empty());
}

CAF_TEST(a store failure fails the create) {
  deref<testing::fake_store_impl>(store).state.fail_writes = true;
  auto j = create("clip.mp4");
  CAF_REQUIRE(!j);
  CAF_CHECK_EQUAL(messages::errc_of(j.error()), errc::storage_unavailable);
}

CAF_TEST(history checks its limit) {
  CAF_REQUIRE(create("a.mp4"));
  auto xs = ask<std::vector<messages::job>>(atoms::history_v,
                                            std::string{"demo"}, uint32_t{10},
                                            std::string{});
  CAF_REQUIRE(xs);
  CAF_CHECK_EQUAL(xs->size(), 1u);
  xs = ask<std::vector<messages::job>>(atoms::history_v, std::string{"eve"},
                                       uint32_t{10}, std::string{});
  CAF_REQUIRE(xs);
  CAF_CHECK(xs->empty());
  // A plain upload is neither a composition nor an asset.
  xs = ask<std::vector<messages::job>>(atoms::history_v, std::string{"demo"},
                                       uint32_t{1000},
                                       std::string{messages::kind_composition});
  CAF_REQUIRE(xs);
  CAF_CHECK(xs->empty());
  for (uint32_t bad : {0u, 1001u}) {
    auto r = ask<std::vector<messages::job>>(atoms::history_v,
                                             std::string{"demo"}, bad,
                                             std::string{});
    CAF_REQUIRE(!r);
    CAF_CHECK_EQUAL(messages::errc_of(r.error()), errc::invalid_argument);
  }
  // An unknown kind, and a kind without an owner (admins list every job,
  // not every user's compositions at once).
  for (auto [owner, kind] :
       {std::pair<const char*, const char*>{"demo", "video"},
        std::pair<const char*, const char*>{"", "composition"}}) {
    auto r = ask<std::vector<messages::job>>(atoms::history_v,
                                             std::string{owner}, uint32_t{10},
                                             std::string{kind});
    CAF_REQUIRE(!r);
    CAF_CHECK_EQUAL(messages::errc_of(r.error()), errc::invalid_argument);
  }
}

CAF_TEST(results are only served for succeeded jobs) {
  auto j = create("a.mp4");
  CAF_REQUIRE(j);
  auto r = ask<messages::job_result>(atoms::get_result_v, j->id);
  CAF_REQUIRE(!r);
  CAF_CHECK_EQUAL(messages::errc_of(r.error()), errc::conflict);
  r = ask<messages::job_result>(atoms::get_result_v, std::string{"nope"});
  CAF_REQUIRE(!r);
  CAF_CHECK_EQUAL(messages::errc_of(r.error()), errc::not_found);
  auto& st = deref<testing::fake_store_impl>(store).state;
  st.jobs[j->id].status = job_status::succeeded;
  st.results[j->id] = messages::job_result{j->id, "{}", "sum", t0, ""};
  r = ask<messages::job_result>(atoms::get_result_v, j->id);
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->summary, "sum");
}

CAF_TEST(await_end answers once the job ends or its wait runs out) {
  auto& st = deref<testing::fake_store_impl>(store).state;
  // The replies to `self` so far: true, false, or an error's errc.
  auto answers = [this] {
    std::vector<std::string> xs;
    for (bool more = true; more;)
      self->receive([&](bool x) { xs.push_back(x ? "true" : "false"); },
                    [&](error& x) {
                      xs.push_back(to_string(messages::errc_of(x)));
                    },
                    after(std::chrono::seconds(0)) >> [&] { more = false; });
    return xs;
  };
  using strings = std::vector<std::string>;
  auto a = create("a.mp4");
  auto b = create("b.mp4");
  CAF_REQUIRE(a && b);
  auto await = [this](const std::string& id, uint32_t ms) {
    self->send(reg, atoms::await_end_v, id, ms);
    consume_messages();
  };
  // Running jobs: held.
  await(a->id, 5000);
  await(b->id, 2000);
  await(a->id, 30000);
  CAF_CHECK_EQUAL(answers(), strings{});
  // a ends: both of its waiters hear it, b's does not.
  st.jobs[a->id].status = job_status::succeeded;
  anon_send(reg, atoms::job_ended_v, a->id);
  consume_messages();
  CAF_CHECK_EQUAL(answers(), (strings{"true", "true"}));
  // b's wait runs out; a's timers fire later and answer nothing more.
  advance_time(std::chrono::seconds{2});
  consume_messages();
  CAF_CHECK_EQUAL(answers(), strings{"false"});
  advance_time(std::chrono::seconds{30});
  consume_messages();
  CAF_CHECK_EQUAL(answers(), strings{});
  // An ended job, or one that is not there: at once (the caller reads it
  // again and answers what it finds).
  await(a->id, 1000);
  await("nope", 1000);
  CAF_CHECK_EQUAL(answers(), (strings{"true", "true"}));
  // Out of range.
  await(b->id, 0);
  await(b->id, messages::max_end_wait_ms + 1);
  CAF_CHECK_EQUAL(answers(), (strings{"invalid_argument", "invalid_argument"}));
  // An end that lands between the caller's read and the wait is seen by
  // the registry's own read.
  st.jobs[b->id].status = job_status::failed;
  await(b->id, 30000);
  CAF_CHECK_EQUAL(answers(), strings{"true"});
}

CAF_TEST(await_end holds at most max_waiters requests) {
  actors::job_registry_config cfg;
  cfg.wall_ms = t0;
  cfg.max_waiters = 2;
  auto small = sys.spawn(actors::job_registry, messages::stores_of(store), cfg);
  auto a = create("a.mp4");
  CAF_REQUIRE(a);
  for (int i = 0; i < 3; ++i)
    self->send(small, atoms::await_end_v, a->id, uint32_t{1000});
  consume_messages();
  // The third is answered at once: the client gets the job as it stands.
  std::vector<bool> got;
  auto drain = [&] {
    for (bool more = true; more;)
      self->receive([&](bool x) { got.push_back(x); },
                    after(std::chrono::seconds(0)) >> [&] { more = false; });
  };
  drain();
  CAF_CHECK_EQUAL(got, std::vector<bool>{false});
  advance_time(std::chrono::seconds{1});
  consume_messages();
  drain();
  CAF_CHECK_EQUAL(got, (std::vector<bool>{false, false, false}));
  // The places are free again.
  self->send(small, atoms::await_end_v, a->id, uint32_t{1000});
  consume_messages();
  drain();
  CAF_CHECK_EQUAL(got.size(), 3u);
  anon_send_exit(small, caf::exit_reason::user_shutdown);
  consume_messages();
}

CAF_TEST(job ids come from the OS generator and not a seeded one) {
  // A registry spawned again with the very same configuration (what a
  // seeded generator would repeat exactly) must not repeat any id.
  std::vector<std::string> first;
  for (int i = 0; i < 64; ++i) {
    auto j = create("clip.mp4");
    CAF_REQUIRE(j);
    first.push_back(j->id);
  }
  actors::job_registry_config cfg;
  cfg.bucket = "media";
  cfg.key_prefix = "uploads";
  cfg.wall_ms = t0;
  reg = sys.spawn(actors::job_registry, messages::stores_of(store), cfg);
  consume_messages();
  std::set<std::string> seen(first.begin(), first.end());
  CAF_CHECK_EQUAL(seen.size(), first.size());
  for (int i = 0; i < 64; ++i) {
    auto j = create("clip.mp4");
    CAF_REQUIRE(j);
    CAF_CHECK(seen.insert(j->id).second);
  }
}

CAF_TEST(job ids are uniformly random in their 122 free bits) {
  // Monobit count per bit position over n ids: each free bit is set in
  // n/2 of them, give or take 5 standard deviations (sqrt(n)/2). A
  // counter, a clock or a badly masked generator fails this.
  constexpr int n = 4000;
  std::array<int, 128> ones{};
  std::set<std::string> ids;
  for (int i = 0; i < n; ++i) {
    auto id = actors::secure_uuid4();
    ids.insert(id);
    std::string hex;
    for (char c : id)
      if (c != '-')
        hex += c;
    CAF_REQUIRE_EQUAL(hex.size(), 32u);
    for (size_t k = 0; k < 32; ++k) {
      auto v = std::stoi(hex.substr(k, 1), nullptr, 16);
      for (int b = 0; b < 4; ++b)
        if (v & (8 >> b))
          ++ones[k * 4 + b];
    }
  }
  CAF_CHECK_EQUAL(ids.size(), static_cast<size_t>(n));
  auto fixed = [](size_t bit) {
    return (bit >= 48 && bit < 52) || bit == 64 || bit == 65;
  };
  int off = 0;
  for (size_t bit = 0; bit < 128; ++bit) {
    if (fixed(bit))
      continue;
    auto dev = std::abs(ones[bit] - n / 2);
    if (dev > 5 * 32) { // sqrt(4000)/2 ~ 31.6
      CAF_MESSAGE("bit " << bit << " set in " << ones[bit] << " of " << n);
      ++off;
    }
  }
  CAF_CHECK_EQUAL(off, 0);
  // Version 4 (0100) and variant 10.
  CAF_CHECK_EQUAL(ones[48], 0);
  CAF_CHECK_EQUAL(ones[49], n);
  CAF_CHECK_EQUAL(ones[50], 0);
  CAF_CHECK_EQUAL(ones[51], 0);
  CAF_CHECK_EQUAL(ones[64], n);
  CAF_CHECK_EQUAL(ones[65], 0);
}

CAF_TEST(per user limits refuse new jobs with quota errors) {
  // A registry with limits: 2 jobs in flight, 1000 bytes stored per user.
  actors::job_registry_config cfg;
  cfg.wall_ms = t0;
  cfg.jobs_in_flight_per_user = 2;
  cfg.bytes_per_user = 1000;
  reg = sys.spawn(actors::job_registry, messages::stores_of(store), cfg);
  auto a = create("a.mp4");
  auto b = create("b.mp4");
  CAF_REQUIRE(a && b);
  auto c = create("c.mp4");
  CAF_REQUIRE(!c);
  CAF_CHECK_EQUAL(messages::errc_of(c.error()), errc::quota_exceeded);
  auto text = messages::message_of(c.error());
  CAF_CHECK(text.find("limits.jobs_in_flight_per_user allows (2)")
            != std::string::npos);
  auto& jobs = deref<testing::fake_store_impl>(store).state.jobs;
  CAF_CHECK_EQUAL(jobs.size(), 2u);
  // Another user has their own budget.
  auto other = ask<messages::job>(
    atoms::create_v, messages::job_request{"eve", "e.mp4", "video/mp4", 0, "", "", "",
                           "", ""});
  CAF_CHECK(other);
  // A finished job leaves the in-flight count, but its bytes stay.
  jobs[a->id].status = job_status::succeeded;
  jobs[a->id].object.size = 600;
  auto d = create("d.mp4");
  CAF_REQUIRE(d);
  jobs[b->id].status = job_status::failed;
  jobs[b->id].object.size = 400;
  auto e = create("e.mp4");
  CAF_REQUIRE(!e);
  CAF_CHECK_EQUAL(messages::errc_of(e.error()),
                  errc::storage_quota_exceeded);
  CAF_CHECK(messages::message_of(e.error()).find("limits.bytes_per_user")
            != std::string::npos);
}

CAF_TEST(an idempotency key names one job per owner for a day) {
  auto a = create_keyed("demo", "k1", "h1");
  CAF_REQUIRE(a);
  CAF_CHECK(a->second);
  CAF_CHECK_EQUAL(a->first.status, job_status::awaiting_upload);
  auto again = create_keyed("demo", "k1", "h1", "other-name-same-hash.mp4");
  CAF_REQUIRE(again);
  CAF_CHECK(!again->second);
  CAF_CHECK_EQUAL(again->first.id, a->first.id);
  CAF_CHECK_EQUAL(again->first.filename, "clip.mp4"); // The stored job.
  // The job as it is now, not as it was made.
  auto& jobs = deref<testing::fake_store_impl>(store).state.jobs;
  jobs[a->first.id].status = job_status::processing;
  again = create_keyed("demo", "k1", "h1");
  CAF_REQUIRE(again);
  CAF_CHECK_EQUAL(again->first.status, job_status::processing);
  // The same key with another request: refused, nothing made.
  auto clash = create_keyed("demo", "k1", "h2");
  CAF_REQUIRE(!clash);
  CAF_CHECK_EQUAL(messages::errc_of(clash.error()), errc::invalid_argument);
  CAF_CHECK(messages::message_of(clash.error()).find("different request")
            != std::string::npos);
  CAF_CHECK(messages::message_of(clash.error()).find(a->first.id)
            != std::string::npos);
  // Keys are per owner.
  auto eve = create_keyed("eve", "k1", "h1");
  CAF_REQUIRE(eve);
  CAF_CHECK(eve->second);
  CAF_CHECK_NOT_EQUAL(eve->first.id, a->first.id);
  CAF_CHECK_EQUAL(jobs.size(), 2u);
  // After the window the key is free again.
  advance_time(std::chrono::hours{24} + std::chrono::seconds{1});
  auto later = create_keyed("demo", "k1", "h2");
  CAF_REQUIRE(later);
  CAF_CHECK(later->second);
  CAF_CHECK_NOT_EQUAL(later->first.id, a->first.id);
  // Validation comes first, as for every create.
  auto bad = create_keyed("demo", "k9", "h1", "../x");
  CAF_REQUIRE(!bad);
  CAF_CHECK_EQUAL(messages::errc_of(bad.error()), errc::invalid_argument);
}

CAF_TEST(a replay is answered even at the in flight limit) {
  actors::job_registry_config cfg;
  cfg.wall_ms = t0;
  cfg.jobs_in_flight_per_user = 1;
  reg = sys.spawn(actors::job_registry, messages::stores_of(store), cfg);
  auto a = create_keyed("demo", "k1", "h1");
  CAF_REQUIRE(a);
  CAF_CHECK(a->second);
  // The client lost the answer and retries: its own job fills the limit,
  // yet the retry gets it back instead of a 429.
  auto again = create_keyed("demo", "k1", "h1");
  CAF_REQUIRE(again);
  CAF_CHECK(!again->second);
  CAF_CHECK_EQUAL(again->first.id, a->first.id);
  auto more = create_keyed("demo", "k2", "h1");
  CAF_REQUIRE(!more);
  CAF_CHECK_EQUAL(messages::errc_of(more.error()), errc::quota_exceeded);
}

CAF_TEST(a burst of creates cannot pass one in flight check together) {
  actors::job_registry_config cfg;
  cfg.wall_ms = t0;
  cfg.jobs_in_flight_per_user = 3;
  reg = sys.spawn(actors::job_registry, messages::stores_of(store), cfg);
  for (int i = 0; i < 10; ++i)
    self->send(reg, atoms::create_v,
               messages::job_request{"demo", "x" + std::to_string(i) + ".mp4",
                                     "video/mp4", 0, "", "", "", "", ""});
  consume_messages();
  size_t ok = 0;
  size_t refused = 0;
  for (int i = 0; i < 10; ++i)
    self->receive([&](messages::job&) { ++ok; },
                  [&](error& err) {
                    if (messages::errc_of(err) == errc::quota_exceeded)
                      ++refused;
                  },
                  after(std::chrono::seconds(0)) >> [] {});
  CAF_CHECK_EQUAL(ok, 3u);
  CAF_CHECK_EQUAL(refused, 7u);
  CAF_CHECK_EQUAL(deref<testing::fake_store_impl>(store).state.jobs.size(),
                  3u);
}

CAF_TEST_FIXTURE_SCOPE_END()

namespace {

struct erase_fixture : fixture {
  erase_fixture() {
    deleter = sys.spawn(testing::fake_deleter);
    actors::job_registry_config cfg;
    cfg.bucket = "media";
    cfg.key_prefix = "uploads";
    cfg.wall_ms = t0;
    cfg.deleter = deleter;
    anon_send_exit(reg, exit_reason::user_shutdown);
    reg = sys.spawn(actors::job_registry, messages::stores_of(store), cfg);
    consume_messages();
  }

  ~erase_fixture() {
    anon_send_exit(deleter, exit_reason::user_shutdown);
  }

  testing::fake_deleter_state& deleted() {
    return deref<messages::object_deleter_actor::stateful_base<
      testing::fake_deleter_state>>(deleter)
      .state;
  }

  messages::object_deleter_actor deleter;
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(erase_tests, erase_fixture)

CAF_TEST(erase deletes the upload and outputs then the records) {
  auto j = create("clip.mp4");
  CAF_REQUIRE(j);
  auto& st = deref<testing::fake_store_impl>(store).state;
  st.results[j->id] = messages::job_result{j->id, "{}", "sum", t0, ""};
  CAF_CHECK_EQUAL(ask<uint64_t>(atoms::erase_v, j->id), uint64_t{3});
  CAF_CHECK_EQUAL(deleted().erased,
                  (std::vector<std::string>{"media/" + j->key,
                                            "media/outputs/" + j->id + "/*"}));
  CAF_CHECK_EQUAL(st.jobs.count(j->id), 0u);
  CAF_CHECK_EQUAL(st.results.count(j->id), 0u);
  // Twice: nothing left to delete.
  auto again = ask<uint64_t>(atoms::erase_v, j->id);
  CAF_REQUIRE(!again);
  CAF_CHECK_EQUAL(messages::errc_of(again.error()), errc::not_found);
}

CAF_TEST(a failed object delete keeps the records for a retry) {
  auto j = create("clip.mp4");
  CAF_REQUIRE(j);
  deleted().broken.insert("outputs/" + j->id + "/");
  auto res = ask<uint64_t>(atoms::erase_v, j->id);
  CAF_REQUIRE(!res);
  CAF_CHECK_EQUAL(messages::errc_of(res.error()), errc::storage_unavailable);
  auto& st = deref<testing::fake_store_impl>(store).state;
  CAF_CHECK_EQUAL(st.jobs.count(j->id), 1u);
  deleted().broken.clear();
  CAF_CHECK_EQUAL(ask<uint64_t>(atoms::erase_v, j->id), uint64_t{3});
  CAF_CHECK_EQUAL(st.jobs.count(j->id), 0u);
}

CAF_TEST_FIXTURE_SCOPE_END()
