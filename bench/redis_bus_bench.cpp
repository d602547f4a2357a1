// vf-bench-redis-bus: events/s through vidflow's Redis event bus, beside
// what redis-benchmark gets from the same server in the same run.
//
// Usage: vf-bench-redis-bus [events=20000] [dir=$TMPDIR]
//
// Starts its own redis-server (AOF on, appendfsync always: every XADD is
// on disk before Redis answers) on a free loopback port, then measures:
//
//   publish, one at a time   each event waits for its XADD before the next
//   publish, concurrent      256 closed-loop sources; the publisher
//                            pipelines what arrives together
//   end to end, batched      publish → consumer group → a durable write per
//                            event (an idempotency claim in the SQLite job
//                            store, fsync'ed by group commit) → XACK, 256 in
//                            flight
//   end to end, unbatched    the same with one event in flight at a time
//   redis-benchmark          XADD of an event-sized entry, 50 clients,
//                            without and with -P 32 pipelining
//
// Numbers only; nothing fails on speed.

#include "vf/adapters/redis/connection.hpp"
#include "vf/adapters/redis/event_bus.hpp"
#include "vf/adapters/sqlite/job_store.hpp"
#include "vf/messages/idempotency_guard_actor.hpp"
#include "vf/messages/register_types.hpp"

#include "redis_server.hpp"

#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "caf/event_based_actor.hpp"
#include "caf/scoped_actor.hpp"
#include "caf/stateful_actor.hpp"
#include "caf/typed_event_based_actor.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

namespace {

using namespace std::chrono_literals;
using vf::adapters::redis::redis_settings;
using vf::messages::object_event;
using clock_type = std::chrono::steady_clock;

object_event event_of(uint64_t i) {
  object_event ev;
  ev.name = "s3:ObjectCreated:Put";
  ev.source = "builtin";
  ev.object.bucket = "uploads";
  ev.object.key = "uploads/" + std::to_string(i) + "/holiday-video.mp4";
  ev.object.version = std::to_string(1700000000000000 + i);
  ev.object.etag = "\"9b2cf535f27731c974343645a3985328\"";
  ev.object.size = 18000000;
  return ev;
}

double rate(uint64_t n, clock_type::duration d) {
  return static_cast<double>(n)
         / std::chrono::duration<double>(d).count();
}

/// One closed-loop source: publishes its share, one event after the other.
struct source_state {
  vf::adapters::redis::event_publisher_actor pub;
  uint64_t next = 0;
  uint64_t end = 0;
  caf::actor done;
  static inline const char* name = "bench-source";
};

using source_ptr = caf::stateful_actor<source_state>*;

void source_step(source_ptr self) {
  auto& st = self->state;
  if (st.next == st.end) {
    self->send(st.done, true);
    self->quit();
    return;
  }
  self->request(st.pub, 30s, vf::atoms::created_v, event_of(st.next++))
    .then([self](bool) { source_step(self); },
          [self](caf::error&) {
            self->send(self->state.done, false);
            self->quit();
          });
}

caf::behavior source(source_ptr self,
                     vf::adapters::redis::event_publisher_actor pub,
                     uint64_t first, uint64_t count, caf::actor done) {
  self->state.pub = std::move(pub);
  self->state.next = first;
  self->state.end = first + count;
  self->state.done = std::move(done);
  source_step(self);
  return {[](int) {}};
}

/// The durable write an orchestrator does per event, reduced to its I/O:
/// an idempotency claim in the SQLite store (group-committed).
vf::messages::object_sink_actor::behavior_type
durable_sink(vf::messages::object_sink_actor::pointer self,
             vf::messages::claim_store_actor claims) {
  return {
    [self, claims](vf::atoms::created,
                   const object_event& ev) -> caf::result<bool> {
      auto rp = self->make_response_promise<bool>();
      self->request(claims, 30s, vf::atoms::claim_v,
                    vf::messages::claim_key(ev.object), std::string{"job"})
        .then([rp](bool fresh) mutable { rp.deliver(fresh); },
              [rp](caf::error& err) mutable { rp.deliver(err); });
      return rp;
    },
  };
}

bool publish_concurrent(caf::actor_system& sys,
                        vf::adapters::redis::event_publisher_actor pub,
                        uint64_t base, uint64_t n, size_t sources) {
  caf::scoped_actor self{sys};
  for (size_t i = 0; i < sources; ++i) {
    auto share = n / sources + (i < n % sources ? 1 : 0);
    auto first = base + i * (n / sources) + std::min<uint64_t>(i, n % sources);
    sys.spawn(source, pub, first, share, caf::actor{self});
  }
  bool ok = true;
  for (size_t i = 0; i < sources; ++i)
    self->receive([&](bool x) { ok = ok && x; });
  return ok;
}

std::string shell(const std::string& cmd) {
  std::string out;
  if (auto* p = ::popen(cmd.c_str(), "r")) {
    char buf[4096];
    size_t k;
    while ((k = std::fread(buf, 1, sizeof(buf), p)) > 0)
      out.append(buf, k);
    ::pclose(p);
  }
  // redis-benchmark -q redraws with \r; keep the last line.
  auto cr = out.find_last_of('\r');
  if (cr != std::string::npos)
    out = out.substr(cr + 1);
  while (!out.empty() && (out.back() == '\n' || out.back() == ' '))
    out.pop_back();
  return out;
}

/// redis-benchmark's figures without the command it echoes.
std::string figures(const std::string& line) {
  auto at = line.find("requests per second");
  if (at == std::string::npos)
    return line;
  auto colon = line.rfind(": ", at);
  return colon == std::string::npos ? line : line.substr(colon + 2);
}

int64_t pending_of(vf::adapters::redis::connection& c,
                   const redis_settings& rs) {
  auto r = c.run({"XPENDING", rs.stream, rs.group});
  if (!r || r->kind != vf::adapters::redis::reply::array
      || r->elements.empty())
    return -1;
  return r->elements[0].integer_value;
}

} // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  uint64_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 20000;
  std::string dir = argc > 2 ? argv[2]
                             : (std::getenv("TMPDIR") ? std::getenv("TMPDIR")
                                                      : "/tmp");
  if (n == 0) {
    std::fprintf(stderr, "usage: vf-bench-redis-bus [events=20000] [dir]\n");
    return 2;
  }
  vf::testing::redis_server server;
  if (auto err = server.start(); !err.empty()) {
    std::fprintf(stderr, "vf-bench-redis-bus: %s\n", err.c_str());
    return 1;
  }
  caf::actor_system_config cfg;
  vf::messages::register_types(cfg);
  caf::actor_system sys{cfg};
  redis_settings rs;
  rs.port = server.port();
  rs.stream = "bench:events";
  rs.group = "bench";
  rs.consumer = "c1";
  vf::adapters::redis::bus_hooks hooks;
  auto acked = std::make_shared<std::atomic<uint64_t>>(0);
  hooks.count = [acked](const char* op, uint64_t k) {
    if (std::string{op} == "acked")
      *acked += k;
  };
  std::printf("vf-bench-redis-bus: %llu events, redis-server %s on "
              "127.0.0.1:%u (AOF, appendfsync always)\n",
              static_cast<unsigned long long>(n),
              shell("redis-server --version | sed 's/.*v=\\([^ ]*\\).*/\\1/'")
                .c_str(),
              server.port());
  auto pub = vf::adapters::redis::spawn_event_publisher(sys, rs, hooks, 1);
  // -- publish only ---------------------------------------------------------
  {
    caf::scoped_actor self{sys};
    auto m = std::min<uint64_t>(n, 5000);
    auto t0 = clock_type::now();
    for (uint64_t i = 0; i < m; ++i)
      self->request(pub, 30s, vf::atoms::created_v, event_of(i))
        .receive([](bool) {},
                 [](caf::error& e) {
                   std::fprintf(stderr, "publish failed: %s\n",
                                vf::messages::message_of(e).c_str());
                   std::exit(1);
                 });
    std::printf("  publish, one at a time:        %10.0f events/s (%llu)\n",
                rate(m, clock_type::now() - t0),
                static_cast<unsigned long long>(m));
  }
  {
    auto t0 = clock_type::now();
    if (!publish_concurrent(sys, pub, 1000000, n, 256))
      return 1;
    std::printf("  publish, 256 concurrent:       %10.0f events/s\n",
                rate(n, clock_type::now() - t0));
  }
  // -- end to end ------------------------------------------------------------
  auto db_dir = std::filesystem::path{dir}
                / ("vf-bench-redis-" + std::to_string(::getpid()));
  std::filesystem::create_directories(db_dir);
  auto store = vf::adapters::sqlite::spawn_job_store(
    sys, {(db_dir / "vidflow.db").string(), 512, nullptr});
  if (!store) {
    std::fprintf(stderr, "%s\n", sys.render(store.error()).c_str());
    return 1;
  }
  auto sink = sys.spawn(durable_sink,
                        vf::messages::claim_store_actor{*store});
  vf::adapters::redis::connection conn{rs};
  auto run_e2e = [&](const char* label, size_t inflight, uint64_t base,
                     uint64_t count) {
    auto s = rs;
    s.stream = std::string{"bench:e2e:"} + std::to_string(inflight);
    vf::adapters::redis::consumer_config cc;
    cc.redis = s;
    cc.max_inflight = inflight;
    cc.hooks = hooks;
    *acked = 0;
    auto p = vf::adapters::redis::spawn_event_publisher(sys, s, hooks, 2);
    auto t0 = clock_type::now();
    auto consumer = vf::adapters::redis::spawn_event_consumer(sys, cc, sink);
    if (!publish_concurrent(sys, p, base, count, 256))
      std::exit(1);
    while (acked->load() < count)
      std::this_thread::sleep_for(1ms);
    auto d = clock_type::now() - t0;
    std::printf("  end to end, %-19s %10.0f events/s (publish → SQLite "
                "claim → XACK; pending after: %lld)\n",
                label, rate(count, d),
                static_cast<long long>(pending_of(conn, s)));
    caf::anon_send_exit(consumer, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(p, caf::exit_reason::user_shutdown);
  };
  run_e2e("batched (256):", 256, 2000000, n);
  run_e2e("unbatched (1):", 1, 3000000, std::min<uint64_t>(n, 5000));
  caf::anon_send_exit(sink, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(*store, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(pub, caf::exit_reason::user_shutdown);
  // -- the reference ---------------------------------------------------------
  auto port = std::to_string(server.port());
  auto entry = std::string{
    "XADD bench:ref '*' v 1 name s3:ObjectCreated:Put source builtin bucket "
    "uploads key uploads/1/holiday-video.mp4 version 1700000000000001 etag "
    "9b2cf535f27731c974343645a3985328 size 18000000 sha256 ''"};
  std::printf("  redis-benchmark, 50 clients:   %s\n",
              figures(shell("redis-benchmark -p " + port + " -n "
                            + std::to_string(n) + " -q " + entry + " 2>&1"))
                .c_str());
  std::printf("  redis-benchmark, -P 32:        %s\n",
              figures(shell("redis-benchmark -p " + port + " -n "
                            + std::to_string(n) + " -P 32 -q " + entry
                            + " 2>&1"))
                .c_str());
  std::error_code ec;
  std::filesystem::remove_all(db_dir, ec);
  return 0;
}
