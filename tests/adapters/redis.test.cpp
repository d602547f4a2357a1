// Redis edge: stream layout and parsing (suite adapters.redis, no server),
// and the actors against a real redis-server this test starts on a free
// loopback port (suite integration.redis): publish → consume → ack,
// re-claim of what a dead consumer left pending, trimming that never drops
// unacknowledged entries, claim races, and reconnection after the server
// restarts. Waits are correctness bounds, not performance checks.

#define CAF_SUITE adapters.redis

#include "vf/adapters/redis/connection.hpp"
#include "vf/adapters/redis/event_bus.hpp"
#include "vf/adapters/redis/streams.hpp"

#include "redis_server.hpp"
#include "vf_test.hpp"

#include "caf/scoped_actor.hpp"


#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace vf::adapters::redis;
using vf::messages::errc;
using vf::messages::object_event;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

object_event event_of(const std::string& key, uint64_t size = 7) {
  object_event ev;
  ev.name = "s3:ObjectCreated:Put";
  ev.source = "builtin";
  ev.object.bucket = "uploads";
  ev.object.key = key;
  ev.object.version = "v-" + key;
  ev.object.etag = "\"e\"";
  ev.object.size = size;
  return ev;
}

stream_entry entry_of(const std::vector<std::string>& xadd) {
  // XADD <stream> * f v f v …
  stream_entry e;
  e.id = "1-0";
  for (size_t i = 3; i + 1 < xadd.size(); i += 2)
    e.fields.emplace_back(xadd[i], xadd[i + 1]);
  return e;
}

} // namespace

CAF_TEST(events survive the stream layout unchanged) {
  auto ev = event_of("uploads/j1/clip.mp4", 1234);
  ev.object.sha256 = std::string(64, 'a');
  auto cmd = xadd_event("s", ev);
  CAF_CHECK_EQUAL(cmd[0], "XADD");
  CAF_CHECK_EQUAL(cmd[1], "s");
  CAF_CHECK_EQUAL(cmd[2], "*");
  auto back = decode_event(entry_of(cmd));
  CAF_REQUIRE(back);
  CAF_CHECK_EQUAL(back->name, ev.name);
  CAF_CHECK_EQUAL(back->source, ev.source);
  CAF_CHECK(back->object == ev.object);
  CAF_CHECK_EQUAL(back->object.sha256, ev.object.sha256);
}

CAF_TEST(hostile entries are refused with the field named) {
  auto good = entry_of(xadd_event("s", event_of("k")));
  auto with = [&](const std::string& field, const std::string& value) {
    auto e = good;
    for (auto& kv : e.fields)
      if (kv.first == field)
        kv.second = value;
    return decode_event(e);
  };
  auto without = [&](const std::string& field) {
    auto e = good;
    e.fields.erase(std::remove_if(e.fields.begin(), e.fields.end(),
                                  [&](auto& kv) { return kv.first == field; }),
                   e.fields.end());
    return decode_event(e);
  };
  CAF_CHECK(decode_event(good));
  for (auto f : {"v", "name", "source", "bucket", "key", "size"}) {
    auto r = without(f);
    CAF_CHECK(!r);
    if (!r)
      CAF_CHECK_NOT_EQUAL(vf::messages::message_of(r.error()).find(f),
                          std::string::npos);
  }
  CAF_CHECK(!with("v", "2"));
  CAF_CHECK(!with("size", "12x"));
  CAF_CHECK(!with("size", "-1"));
  CAF_CHECK(!with("size", "123456789012345678901"));
  CAF_CHECK(!with("key", std::string(1025, 'k')));
  CAF_CHECK(!with("key", ""));
  CAF_CHECK(!with("sha256", "XYZ"));
  CAF_CHECK(!with("sha256", std::string(64, 'A')));
  stream_entry gone;
  gone.id = "5-0";
  gone.deleted = true;
  CAF_CHECK(!decode_event(gone));
}

CAF_TEST(completion entries name the outcome) {
  vf::messages::job j;
  j.id = "j1";
  j.owner = "alice";
  j.status = vf::messages::job_status::failed;
  j.error_code = errc::bad_media;
  j.error_message = "not a video";
  auto cmd = xadd_completion("c", j, 1500);
  auto e = entry_of(cmd);
  CAF_REQUIRE(e.field("type"));
  CAF_CHECK_EQUAL(*e.field("type"), "JobFailed");
  CAF_CHECK_EQUAL(*e.field("job_id"), "j1");
  CAF_CHECK_EQUAL(*e.field("status"), "FAILED");
  CAF_CHECK_EQUAL(*e.field("error_code"), "bad_media");
  CAF_CHECK_EQUAL(*e.field("duration_ms"), "1500");
  j.status = vf::messages::job_status::succeeded;
  e = entry_of(xadd_completion("c", j, 1));
  CAF_CHECK_EQUAL(*e.field("type"), "JobCompleted");
  CAF_CHECK(e.field("error_code") == nullptr);
}

CAF_TEST(stream ids order and step like Redis) {
  auto a = stream_id::parse("1700-3");
  auto b = stream_id::parse("1700-12");
  auto c = stream_id::parse("1701");
  CAF_REQUIRE(a && b && c);
  CAF_CHECK(*a < *b);
  CAF_CHECK(*b < *c);
  CAF_CHECK_EQUAL(a->next().str(), "1700-4");
  CAF_CHECK(!stream_id::parse("x-1"));
  CAF_CHECK(!stream_id::parse("1-"));
  CAF_CHECK(!stream_id::parse(""));
}

CAF_TEST(the trim floor is what the slowest group still needs) {
  group_state g1;
  g1.name = "a";
  g1.last_delivered = "100-0";
  group_state g2;
  g2.name = "b";
  g2.pending = 3;
  g2.last_delivered = "200-0";
  g2.min_pending = "50-2";
  CAF_CHECK(!trim_floor({}));
  auto f = trim_floor({g1});
  CAF_REQUIRE(f);
  CAF_CHECK_EQUAL(f->str(), "100-1");
  f = trim_floor({g1, g2});
  CAF_REQUIRE(f);
  CAF_CHECK_EQUAL(f->str(), "50-2");
  // Pending entries of unknown position: keep everything.
  g2.min_pending.clear();
  f = trim_floor({g1, g2});
  CAF_REQUIRE(f);
  CAF_CHECK_EQUAL(f->str(), "0-0");
  // A group that never read anything needs everything.
  group_state fresh;
  fresh.name = "new";
  f = trim_floor({g1, fresh});
  CAF_REQUIRE(f);
  CAF_CHECK_EQUAL(f->str(), "0-1");
}

CAF_TEST(replies parse from the shapes Redis sends) {
  auto str = [](std::string s) {
    reply r;
    r.kind = reply::string;
    r.str = std::move(s);
    return r;
  };
  auto arr = [](std::vector<reply> xs) {
    reply r;
    r.kind = reply::array;
    r.elements = std::move(xs);
    return r;
  };
  reply nil;
  auto entry = arr({str("1-0"), arr({str("v"), str("1"), str("key"),
                                     str("k")})});
  auto deleted = arr({str("2-0"), nil});
  auto read = arr({arr({str("s"), arr({entry, deleted})})});
  auto xs = parse_read(read);
  CAF_REQUIRE_EQUAL(xs.size(), 2u);
  CAF_CHECK_EQUAL(xs[0].id, "1-0");
  CAF_CHECK_EQUAL(*xs[0].field("key"), "k");
  CAF_CHECK(xs[1].deleted);
  CAF_CHECK(parse_read(nil).empty());
  auto claimed = parse_autoclaim(arr({str("7-0"), arr({entry}),
                                      arr({str("3-0")})}));
  CAF_CHECK_EQUAL(claimed.cursor, "7-0");
  CAF_REQUIRE_EQUAL(claimed.entries.size(), 2u);
  CAF_CHECK(claimed.entries[1].deleted);
  CAF_CHECK_EQUAL(claimed.entries[1].id, "3-0");
}

CAF_TEST(reconnect waits grow with jitter up to the cap) {
  reconnect_backoff b{1000ms, 42};
  auto t = std::chrono::steady_clock::now();
  CAF_CHECK(b.due(t));
  std::chrono::milliseconds last{0};
  for (int i = 0; i < 12; ++i) {
    auto w = b.failed(t);
    CAF_CHECK(w <= 1000ms);
    CAF_CHECK(w >= 50ms);
    last = w;
  }
  CAF_CHECK(last >= 500ms);
  CAF_CHECK(!b.due(t));
  b.succeeded();
  CAF_CHECK(b.due(t));
}

#undef CAF_SUITE
#define CAF_SUITE integration.redis

namespace {

/// What the fake orchestrator saw.
struct sink_log {
  std::mutex mtx;
  std::map<std::string, int> seen; // key → deliveries
  /// Keys answered with storage_unavailable on their first delivery.
  std::set<std::string> flaky;
  /// Keys answered with not_found (not ours).
  std::set<std::string> unknown;
  /// The last event seen per key, as the orchestrator got it.
  std::map<std::string, object_event> last;

  int count(const std::string& key) {
    std::lock_guard<std::mutex> g{mtx};
    auto i = seen.find(key);
    return i == seen.end() ? 0 : i->second;
  }
  size_t distinct() {
    std::lock_guard<std::mutex> g{mtx};
    return seen.size();
  }
};

vf::messages::object_sink_actor::behavior_type
fake_sink(vf::messages::object_sink_actor::pointer,
          std::shared_ptr<sink_log> log) {
  return {
    [log](vf::atoms::created,
          const object_event& ev) -> caf::result<bool> {
      std::lock_guard<std::mutex> g{log->mtx};
      auto n = ++log->seen[ev.object.key];
      log->last[ev.object.key] = ev;
      if (log->unknown.count(ev.object.key) > 0)
        return vf::messages::make_error(errc::not_found, "no such job");
      if (log->flaky.count(ev.object.key) > 0 && n == 1)
        return vf::messages::make_error(errc::storage_unavailable, "busy");
      return n == 1;
    },
  };
}

/// An orchestrator that never answers (a consumer's requests to it stay
/// in flight until the consumer goes).
vf::messages::object_sink_actor::behavior_type
silent_sink(vf::messages::object_sink_actor::pointer self,
            std::shared_ptr<std::atomic<int>> seen) {
  return {
    [self, seen](vf::atoms::created,
                 const object_event&) -> caf::result<bool> {
      ++*seen;
      // Never delivered; dropped when this actor goes.
      return self->make_response_promise<bool>();
    },
  };
}

/// Polls `pred` until it holds or `limit` passes.
bool eventually(const std::function<bool()>& pred,
                std::chrono::milliseconds limit = 20000ms) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred())
      return true;
    std::this_thread::sleep_for(20ms);
  }
  return pred();
}

int64_t integer_of(connection& c, const std::vector<std::string>& argv) {
  auto r = c.run(argv);
  if (!r || r->kind != reply::integer)
    return -1;
  return r->integer_value;
}

/// Pending entries of group `g` (XPENDING summary count).
int64_t pending(connection& c, const std::string& stream,
                const std::string& group) {
  auto r = c.run({"XPENDING", stream, group});
  if (!r || r->kind != reply::array || r->elements.empty())
    return -1;
  return r->elements[0].integer_value;
}

/// The server's address with short timeouts and names of our own.
redis_settings settings_of(const vf::testing::redis_server& r) {
  redis_settings s;
  s.port = r.port();
  s.connect_timeout = 1000ms;
  s.command_timeout = 3000ms;
  s.reconnect_max = 400ms;
  s.claim_idle = 300ms;
  s.stream = "t:events";
  s.group = "g";
  s.consumer = "c1";
  s.completions = "t:done";
  s.key_prefix = "t:";
  return s;
}

struct fixture {
  vf::testing::config cfg;
  caf::actor_system sys{cfg};
  vf::testing::redis_server redis;
  std::shared_ptr<sink_log> log = std::make_shared<sink_log>();
  bus_hooks hooks;
  std::shared_ptr<std::map<std::string, uint64_t>> counts
    = std::make_shared<std::map<std::string, uint64_t>>();
  std::shared_ptr<std::mutex> counts_mtx = std::make_shared<std::mutex>();
  std::vector<caf::actor> spawned;

  fixture() {
    auto err = redis.start();
    if (!err.empty())
      CAF_FAIL(err);
    hooks.count = [c = counts, m = counts_mtx](const char* op, uint64_t n) {
      std::lock_guard<std::mutex> g{*m};
      (*c)[op] += n;
    };
  }

  ~fixture() {
    for (auto& a : spawned)
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  }

  uint64_t counted(const std::string& op) {
    std::lock_guard<std::mutex> g{*counts_mtx};
    return (*counts)[op];
  }

  template <class Handle>
  Handle keep(Handle h) {
    spawned.push_back(caf::actor_cast<caf::actor>(h));
    return h;
  }

  vf::messages::object_sink_actor sink() {
    return keep(sys.spawn(fake_sink, log));
  }

  event_consumer_actor consumer(const std::string& name,
                                vf::messages::object_sink_actor to,
                                std::chrono::milliseconds claim_idle = 300ms) {
    consumer_config c;
    c.redis = settings_of(redis);
    c.redis.consumer = name;
    c.redis.claim_idle = claim_idle;
    c.block = 50ms;
    c.trim_every = 100ms;
    c.request_timeout = 5000ms;
    c.hooks = hooks;
    return keep(spawn_event_consumer(sys, c, std::move(to)));
  }

  /// Publishes through `pub`; the outcome of each.
  std::vector<caf::expected<bool>> publish(event_publisher_actor pub,
                                           const std::vector<std::string>& keys) {
    caf::scoped_actor self{sys};
    std::vector<caf::expected<bool>> out(keys.size(), caf::expected<bool>{false});
    for (auto& k : keys)
      self->send(pub, vf::atoms::created_v, event_of(k));
    // Replies come back in any order of completion; collect all of them.
    for (size_t i = 0; i < keys.size(); ++i)
      self->receive(
        [&](bool x) { out[i] = x; },
        [&](caf::error& e) { out[i] = std::move(e); },
        caf::after(std::chrono::seconds{10}) >>
          [&] { out[i] = vf::messages::make_error(errc::timeout, "no reply"); });
    return out;
  }
};

std::vector<std::string> keys_of(const std::string& prefix, int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i)
    out.push_back(prefix + std::to_string(i));
  return out;
}

} // namespace

CAF_TEST_FIXTURE_SCOPE(redis_tests, fixture)

CAF_TEST(events go through the stream once and are acknowledged) {
  auto pub = keep(spawn_event_publisher(sys, settings_of(redis), hooks, 1));
  auto keys = keys_of("a/", 200);
  log->unknown.insert("a/7"); // not ours: acknowledged, not retried
  for (auto& r : publish(pub, keys))
    CAF_CHECK(r && *r);
  consumer("c1", sink());
  CAF_CHECK(eventually([&] { return log->distinct() == keys.size(); }));
  connection c{settings_of(redis)};
  CAF_CHECK(eventually([&] { return pending(c, "t:events", "g") == 0; }));
  for (auto& k : keys)
    CAF_CHECK_EQUAL(log->count(k), 1);
  // Counted just after the XACK returns: a moment after pending is 0.
  CAF_CHECK(eventually([&] { return counted("acked") == 200; }));
  CAF_CHECK_EQUAL(counted("acked"), 200u);
  CAF_CHECK_EQUAL(counted("published"), 200u);
  CAF_CHECK(counted("rejected") == 1);
  // One XADD per event, no more (a retried pipeline would show here).
  auto info = c.run({"INFO", "commandstats"});
  CAF_REQUIRE(info);
  CAF_CHECK_NOT_EQUAL(info->text().find("cmdstat_xadd:calls=200"),
                      std::string::npos);
}

CAF_TEST(what a dead consumer left pending is claimed and delivered) {
  auto pub = keep(spawn_event_publisher(sys, settings_of(redis), hooks, 2));
  auto keys = keys_of("d/", 10);
  for (auto& r : publish(pub, keys))
    CAF_CHECK(r && *r);
  // A consumer that reads and dies before it acknowledges.
  connection dead{settings_of(redis)};
  auto mk = dead.run({"XGROUP", "CREATE", "t:events", "g", "0", "MKSTREAM"});
  CAF_REQUIRE(mk && !mk->is_error());
  auto r = dead.run({"XREADGROUP", "GROUP", "g", "dead", "COUNT", "100",
                     "STREAMS", "t:events", ">"});
  CAF_REQUIRE(r);
  CAF_REQUIRE_EQUAL(parse_read(*r).size(), 10u);
  dead.close();
  CAF_CHECK_EQUAL(pending(dead, "t:events", "g"), 10);
  // Another consumer takes them over after claim_idle (300 ms here).
  consumer("c2", sink());
  CAF_CHECK(eventually([&] { return log->distinct() == keys.size(); }));
  CAF_CHECK(eventually([&] { return pending(dead, "t:events", "g") == 0; }));
  for (auto& k : keys)
    CAF_CHECK_EQUAL(log->count(k), 1);
  CAF_CHECK(counted("reclaimed") >= 10);
}

CAF_TEST(an event the orchestrator could not record is delivered again) {
  auto pub = keep(spawn_event_publisher(sys, settings_of(redis), hooks, 3));
  log->flaky.insert("f/1");
  for (auto& r : publish(pub, {"f/0", "f/1", "f/2"}))
    CAF_CHECK(r && *r);
  consumer("c1", sink());
  // Refused once (storage_unavailable), left pending, claimed again.
  CAF_CHECK(eventually([&] { return log->count("f/1") == 2; }));
  connection c{settings_of(redis)};
  CAF_CHECK(eventually([&] { return pending(c, "t:events", "g") == 0; }));
  CAF_CHECK_EQUAL(log->count("f/0"), 1);
  CAF_CHECK_EQUAL(log->count("f/2"), 1);
  CAF_CHECK(counted("retried") >= 1);
}

CAF_TEST(a consumer restarted under its name finishes what it took) {
  auto pub = keep(spawn_event_publisher(sys, settings_of(redis), hooks, 8));
  auto keys = keys_of("h/", 12);
  for (auto& r : publish(pub, keys))
    CAF_CHECK(r && *r);
  // The first run takes every entry and dies before any answer came.
  auto seen = std::make_shared<std::atomic<int>>(0);
  auto silent = keep(sys.spawn(silent_sink, seen));
  auto first = consumer("c1", silent, 600000ms);
  CAF_CHECK(eventually([&] { return seen->load() == 12; }));
  caf::anon_send_exit(first, caf::exit_reason::kill);
  connection c{settings_of(redis)};
  CAF_CHECK_EQUAL(pending(c, "t:events", "g"), 12);
  // The next run of "c1" reads its own pending entries first; claim_idle
  // is 10 minutes here, so this is not XAUTOCLAIM at work.
  consumer("c1", sink(), 600000ms);
  CAF_CHECK(eventually([&] { return log->distinct() == keys.size(); }));
  CAF_CHECK(eventually([&] { return pending(c, "t:events", "g") == 0; }));
  for (auto& k : keys)
    CAF_CHECK_EQUAL(log->count(k), 1);
  CAF_CHECK_EQUAL(counted("reclaimed"), 0u);
}

CAF_TEST(entries are checked and never claim to come from our store) {
  auto pub = keep(spawn_event_publisher(sys, settings_of(redis), hooks, 9));
  // What a consumer could not read is refused at the door.
  auto bad = event_of("x/long");
  bad.name = std::string(300, 'n');
  caf::scoped_actor self{sys};
  self->request(pub, 10s, vf::atoms::created_v, bad)
    .receive([&](bool) { CAF_FAIL("an unreadable event was published"); },
             [&](caf::error& e) {
               CAF_CHECK_EQUAL(static_cast<errc>(e.code()),
                               errc::invalid_argument);
             });
  // A newer layout stays pending for a coordinator that reads it.
  connection c{settings_of(redis)};
  auto cmd = xadd_event("t:events", event_of("x/v2"));
  cmd[4] = "2";
  CAF_REQUIRE(c.run(cmd));
  // Anyone who can write to Redis may say "builtin" and give a digest.
  auto forged = event_of("x/forged");
  forged.object.sha256 = std::string(64, 'a');
  for (auto& r : publish(pub, {"x/0"}))
    CAF_CHECK(r && *r);
  self->request(pub, 10s, vf::atoms::created_v, forged)
    .receive([&](bool x) { CAF_CHECK(x); },
             [&](caf::error& e) { CAF_FAIL(vf::messages::message_of(e)); });
  consumer("c1", sink());
  CAF_CHECK(eventually([&] { return log->distinct() == 2; }));
  CAF_CHECK(eventually([&] { return pending(c, "t:events", "g") == 1; }));
  CAF_CHECK_EQUAL(log->count("x/v2"), 0);
  std::lock_guard<std::mutex> g{log->mtx};
  CAF_CHECK_EQUAL(log->last["x/forged"].source, "redis:builtin");
  CAF_CHECK_EQUAL(log->last["x/forged"].object.sha256, "");
  CAF_CHECK_EQUAL(log->last["x/0"].object.size, 7u);
}

CAF_TEST(trimming never drops what a group has not acknowledged) {
  connection c{settings_of(redis)};
  for (int i = 0; i < 600; ++i)
    CAF_REQUIRE(c.run(xadd_event("t:trim", event_of("k" + std::to_string(i)))));
  CAF_REQUIRE(c.run({"XGROUP", "CREATE", "t:trim", "g", "0"}));
  auto r = c.run({"XREADGROUP", "GROUP", "g", "x", "COUNT", "400",
                  "STREAMS", "t:trim", ">"});
  CAF_REQUIRE(r);
  auto read = parse_read(*r);
  CAF_REQUIRE_EQUAL(read.size(), 400u);
  // Acknowledge all read but entries 250..259.
  std::vector<std::string> ack{"XACK", "t:trim", "g"};
  std::set<std::string> unacked;
  for (size_t i = 0; i < read.size(); ++i) {
    if (i >= 250 && i < 260)
      unacked.insert(read[i].id);
    else
      ack.push_back(read[i].id);
  }
  CAF_REQUIRE(c.run(ack));
  // A second group that read nothing holds everything.
  CAF_REQUIRE(c.run({"XGROUP", "CREATE", "t:trim", "late", "0"}));
  auto n = trim_stream(c, "t:trim", 10);
  CAF_REQUIRE(n);
  CAF_CHECK_EQUAL(*n, 0u);
  CAF_CHECK_EQUAL(integer_of(c, {"XLEN", "t:trim"}), 600);
  CAF_REQUIRE(c.run({"XGROUP", "DESTROY", "t:trim", "late"}));
  n = trim_stream(c, "t:trim", 10);
  CAF_REQUIRE(n);
  // Something below entry 250 went (whole 100-entry nodes), nothing of
  // the unacknowledged or unread entries did.
  CAF_CHECK_GREATER(*n, 0u);
  auto left = c.run({"XRANGE", "t:trim", "-", "+"});
  CAF_REQUIRE(left);
  auto entries = parse_entries(*left);
  std::set<std::string> ids;
  for (auto& e : entries)
    ids.insert(e.id);
  for (auto& id : unacked)
    CAF_CHECK(ids.count(id) == 1);
  for (size_t i = 250; i < read.size(); ++i)
    CAF_CHECK(ids.count(read[i].id) == 1);
  CAF_CHECK_GREATER_OR_EQUAL(entries.size(), 350u);
  // Without groups, max_length bounds the stream (approximately).
  for (int i = 0; i < 500; ++i)
    CAF_REQUIRE(c.run(xadd_event("t:free", event_of("f"))));
  CAF_REQUIRE(trim_stream(c, "t:free", 100));
  CAF_CHECK_LESS(integer_of(c, {"XLEN", "t:free"}), 300);
}

CAF_TEST(two claimants race and exactly one wins each key) {
  auto a = keep(spawn_redis_claims(sys, settings_of(redis), hooks, 4));
  auto b = keep(spawn_redis_claims(sys, settings_of(redis), hooks, 5));
  constexpr int n = 100;
  std::atomic<int> wins_a{0};
  std::atomic<int> wins_b{0};
  std::vector<std::vector<bool>> won(2, std::vector<bool>(n, false));
  auto run = [&](vf::messages::claim_store_actor who, int idx,
                 std::atomic<int>& wins) {
    caf::scoped_actor self{sys};
    for (int i = 0; i < n; ++i)
      self->request(who, 10s, vf::atoms::claim_v,
                    "uploads/k" + std::to_string(i) + "@v",
                    std::string{idx == 0 ? "job-a" : "job-b"})
        .receive(
          [&](bool x) {
            if (x) {
              ++wins;
              won[idx][i] = true;
            }
          },
          [&](caf::error& e) {
            CAF_FAIL("claim failed: " << vf::messages::message_of(e));
          });
  };
  std::thread ta{run, a, 0, std::ref(wins_a)};
  std::thread tb{run, b, 1, std::ref(wins_b)};
  ta.join();
  tb.join();
  CAF_CHECK_EQUAL(wins_a + wins_b, n);
  for (int i = 0; i < n; ++i)
    CAF_CHECK(won[0][i] != won[1][i]);
  // And the winner is recorded, with its time to live.
  connection c{settings_of(redis)};
  auto r = c.run({"GET", "t:claim:uploads/k0@v"});
  CAF_REQUIRE(r);
  CAF_CHECK(r->text() == "job-a" || r->text() == "job-b");
  CAF_CHECK_GREATER(integer_of(c, {"PTTL", "t:claim:uploads/k0@v"}), 0);
}

CAF_TEST(everything reconnects after redis-server restarts) {
  auto pub = keep(spawn_event_publisher(sys, settings_of(redis), hooks, 6));
  auto done = keep(spawn_completion_publisher(sys, settings_of(redis), hooks, 7));
  consumer("c1", sink());
  for (auto& r : publish(pub, keys_of("r/", 20)))
    CAF_CHECK(r && *r);
  CAF_CHECK(eventually([&] { return log->distinct() == 20; }));
  redis.stop();
  // While it is away: a clear, fast error, never a hang or a lost event.
  auto t0 = std::chrono::steady_clock::now();
  auto outs = publish(pub, {"r/down"});
  CAF_REQUIRE(!outs[0]);
  CAF_CHECK_EQUAL(static_cast<errc>(outs[0].error().code()),
                  errc::storage_unavailable);
  CAF_CHECK(std::chrono::steady_clock::now() - t0 < 8s);
  // Completions wait in the buffer meanwhile.
  vf::messages::job j;
  j.id = "job-while-down";
  j.status = vf::messages::job_status::succeeded;
  caf::anon_send(done, vf::atoms::events_v, j, int64_t{5});
  CAF_REQUIRE_EQUAL(redis.start(), "");
  // The publisher takes events again by itself (within its backoff).
  bool back = eventually([&] {
    auto o = publish(pub, {"r/after"});
    return o[0] && *o[0];
  });
  CAF_CHECK(back);
  CAF_CHECK(eventually([&] { return log->count("r/after") == 1; }));
  connection c{settings_of(redis)};
  CAF_CHECK(eventually([&] {
    auto r = c.run({"XRANGE", "t:done", "-", "+"});
    if (!r)
      return false;
    for (auto& e : parse_entries(*r))
      if (e.field("job_id") && *e.field("job_id") == "job-while-down")
        return *e.field("type") == "JobCompleted";
    return false;
  }));
  // Nothing published before the restart was processed twice.
  for (auto& k : keys_of("r/", 20))
    CAF_CHECK_EQUAL(log->count(k), 1);
  CAF_CHECK(counted("unavailable") >= 1);
}

CAF_TEST_FIXTURE_SCOPE_END()
