// Two simulated nodes over CAF's network layer (point_to_point_fixture): a
// coordinator ("mars": dispatcher + published cluster registry) and a worker
// node ("earth": its agent and a worker) that joins it.

#define CAF_SUITE actors.cluster

#include "vf_test.hpp"

#include "vf/actors/cluster_registry.hpp"
#include "vf/actors/dispatcher.hpp"
#include "vf/messages/presigner_actor.hpp"

#include "fakes.hpp"

#include "caf/io/middleman.hpp"
#include "caf/test/io_dsl.hpp"

#include <chrono>

using namespace caf;
using namespace vf;
using namespace std::chrono_literals;
using messages::errc;
using messages::task_kind;

namespace {

struct node_config : testing::config {
  node_config() {
    load<io::middleman>();
  }
};

using planet = test_coordinator_fixture<node_config>;

/// Stands in for the orchestrator: keeps what the registry forwards.
struct fake_orch_state {
  std::vector<messages::task_outcome> reports;
};

messages::orchestrator_actor::behavior_type
fake_orchestrator(messages::orchestrator_actor::stateful_pointer<
                  fake_orch_state> self) {
  return {
    [](atoms::created, const messages::object_event&) { return false; },
    [](atoms::cancel, const std::string&) -> result<messages::job> {
      return messages::make_error(errc::not_found);
    },
    [](atoms::compose, const std::string&) -> result<messages::job> {
      return messages::make_error(errc::not_found);
    },
    [](atoms::recover) { return uint64_t{0}; },
    [](atoms::redrive, const std::string&) -> result<messages::job> {
      return messages::make_error(errc::not_found);
    },
    [=](atoms::report, messages::task_outcome& out) {
      self->state.reports.push_back(out);
      return out.ok;
    },
  };
}

/// A worker node's agent: remembers that it was told to leave.
struct agent_state {
  bool left = false;
};

messages::node_actor::behavior_type
fake_agent(messages::node_actor::stateful_pointer<agent_state> self) {
  return {
    [=](atoms::leave) { self->state.left = true; },
  };
}

/// Stands in for HMAC-SHA256 under the admin key: 64 hex digits.
std::string test_mac(const std::string& text) {
  std::string out;
  auto h = std::hash<std::string>{}("key|" + text);
  static constexpr char digits[] = "0123456789abcdef";
  for (int i = 0; i < 64; ++i) {
    out.push_back(digits[h & 0xf]);
    h = (h >> 4) | (h << 60);
  }
  return out;
}

constexpr int64_t wall_ms = 1'800'000'000'000;

/// Stands in for the SigV4 presigner: a URL that names the object.
messages::presigner_actor::behavior_type fake_presigner() {
  return {
    [](atoms::presign, const messages::object_ref& obj) {
      return "http://store/" + obj.bucket + "/" + obj.key + "?signed";
    },
    [](atoms::presign_put, const std::vector<messages::object_ref>& objs,
       uint64_t lease) {
      std::vector<std::string> urls;
      for (auto& obj : objs)
        urls.push_back("http://store/" + obj.bucket + "/" + obj.key
                       + "?lease=" + std::to_string(lease));
      return urls;
    },
  };
}

struct fixture : point_to_point_fixture<planet> {
  fixture() {
    prepare_connection(mars, earth, "coordinator", 4242);
    actors::dispatcher_config dcfg;
    // The simulated network fires every timer when idle (see settle()).
    dcfg.expire_leases = false;
    // Same reason: the wait for a worker that offers a task would end at
    // once (a task queued behind a draining node would fail no_worker).
    dcfg.unrunnable_after = std::chrono::milliseconds{0};
    presigner = mars.sys.spawn(fake_presigner);
    dcfg.presigner = presigner;
    // Lease times are then well above 0 (a forged 1 stands out).
    dcfg.wall_ms = wall_ms;
    disp = mars.sys.spawn(actors::dispatcher, dcfg);
    orch = mars.sys.spawn(fake_orchestrator);
    actors::cluster_registry_config cfg;
    cfg.wall_ms = wall_ms;
    cfg.admin_mac = test_mac;
    registry = mars.sys.spawn(actors::cluster_registry, cfg, disp, orch);
    CAF_REQUIRE_EQUAL(mars.publish(registry, 4242), 4242u);
    proxy = earth.remote_actor<messages::cluster_registry_actor>("coordinator",
                                                                 4242);
    agent = earth.sys.spawn(fake_agent);
    worker = earth.sys.spawn(testing::fake_worker);
  }

  ~fixture() {
    for (auto hdl : {actor_cast<actor>(disp), actor_cast<actor>(orch),
                     actor_cast<actor>(registry), actor_cast<actor>(presigner)})
      anon_send_exit(hdl, exit_reason::user_shutdown);
    for (auto hdl : {actor_cast<actor>(agent), actor_cast<actor>(worker)})
      anon_send_exit(hdl, exit_reason::user_shutdown);
  }

  /// Runs all messages and network traffic; idle, it fires every pending
  /// timer (regardless of its time), hence leases without deadlines here.
  void settle() {
    run();
  }

  /// Sends a request from earth to the registry; returns the reply.
  template <class T, class... Ts>
  expected<T> ask(Ts&&... xs) {
    auto h = earth.self->request(proxy, infinite, std::forward<Ts>(xs)...);
    settle();
    expected<T> res = messages::make_error(errc::internal, "no reply");
    h.receive([&](T& x) { res = std::move(x); },
              [&](error& err) { res = std::move(err); });
    return res;
  }

  messages::worker_info info(std::string node = "earth") {
    messages::worker_info x;
    x.name = node + "/worker-1";
    x.node = std::move(node);
    x.kinds = {task_kind::probe, task_kind::sleep};
    x.slots = 1;
    x.labels = {"gpu"};
    return x;
  }

  /// Says hello and registers the worker.
  void join() {
    CAF_REQUIRE_EQUAL(ask<bool>(atoms::hello_v, agent, std::string{"earth"}),
                      true);
    CAF_REQUIRE_EQUAL(ask<bool>(atoms::join_v,
                                messages::worker_actor{worker}, info()),
                      true);
  }

  messages::dispatcher_stats stats() {
    mars.self->send(disp, atoms::stats_v);
    settle();
    messages::dispatcher_stats s;
    mars.self->receive([&](messages::dispatcher_stats& x) { s = x; },
                       after(0s) >> [] {});
    return s;
  }

  testing::fake_worker_state& ws() {
    return earth.deref<testing::fake_worker_impl>(worker).state;
  }

  messages::task make_task(uint64_t lease) {
    messages::task t;
    t.job_id = "job-" + std::to_string(lease);
    t.kind = task_kind::probe;
    t.lease_id = lease;
    t.timeout_ms = 60000;
    t.object.version = "v1";
    return t;
  }

  messages::presigner_actor presigner;
  messages::dispatcher_actor disp;
  messages::orchestrator_actor orch;
  messages::cluster_registry_actor registry;
  messages::cluster_registry_actor proxy;
  messages::node_actor agent;
  testing::fake_worker_actor worker;
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(cluster_tests, fixture)

CAF_TEST(a remote node registers its workers with their capacity) {
  join();
  auto nodes = ask<std::vector<messages::cluster_node>>(atoms::nodes_v);
  CAF_REQUIRE(nodes);
  CAF_REQUIRE_EQUAL(nodes->size(), 1u);
  CAF_CHECK_EQUAL(nodes->at(0).name, "earth");
  CAF_CHECK_EQUAL(nodes->at(0).workers, 1u);
  CAF_CHECK_EQUAL(nodes->at(0).slots, 1u);
  CAF_CHECK_EQUAL(nodes->at(0).labels, std::vector<std::string>{"gpu"});
  CAF_CHECK_EQUAL(nodes->at(0).registrations, 1u);
  auto s = stats();
  CAF_CHECK_EQUAL(s.workers, 1u);
  CAF_CHECK_EQUAL(s.free_slots, 1u);
}

CAF_TEST(a remote render carries a GET of its upload and a PUT per output) {
  // The node holds no store credentials: it reads the upload and stores
  // each output through URLs signed for exactly those objects.
  CAF_REQUIRE_EQUAL(ask<bool>(atoms::hello_v, agent, std::string{"earth"}),
                    true);
  auto x = info();
  x.kinds.push_back(task_kind::render);
  CAF_REQUIRE_EQUAL(ask<bool>(atoms::join_v, messages::worker_actor{worker},
                              x),
                    true);
  auto t = make_task(21);
  t.kind = task_kind::render;
  t.object.bucket = "uploads";
  t.object.key = "uploads/job-21/a.mp4";
  t.outputs = {{"uploads", "outputs/job-21/small.jpg", {}, {}, 0, {}, {}},
               {"uploads", "outputs/job-21/720p.mp4", {}, {}, 0, {}, {}}};
  auto h = mars.self->request(disp, infinite, atoms::submit_v, t);
  settle();
  CAF_REQUIRE_EQUAL(ws().running.size(), 1u);
  auto got = ws().running[0].first;
  CAF_CHECK_EQUAL(got.object.url,
                  "http://store/uploads/uploads/job-21/a.mp4?signed");
  CAF_REQUIRE_EQUAL(got.outputs.size(), 2u);
  auto first = got.outputs[0];
  auto second = got.outputs[1];
  CAF_CHECK_EQUAL(first.key, "outputs/job-21/small.jpg");
  // Signed for this lease only.
  CAF_CHECK_EQUAL(first.url,
                  "http://store/uploads/outputs/job-21/small.jpg?lease=21");
  CAF_CHECK_EQUAL(second.url,
                  "http://store/uploads/outputs/job-21/720p.mp4?lease=21");
  earth.self->send(worker, atoms::dispatch_v, testing::ok_outcome(got, "{}"));
  settle();
  h.receive([](messages::task_outcome& out) { CAF_CHECK(out.ok); },
            [&](error& err) { CAF_FAIL("unexpected error: " << err); });
}

CAF_TEST(a remote render that may reuse outputs gets a GET for each) {
  // Content reuse on a node without store credentials: the earlier job's
  // outputs come as presigned GETs, next to the PUTs of its own.
  CAF_REQUIRE_EQUAL(ask<bool>(atoms::hello_v, agent, std::string{"earth"}),
                    true);
  auto x = info();
  x.kinds.push_back(task_kind::render);
  CAF_REQUIRE_EQUAL(ask<bool>(atoms::join_v, messages::worker_actor{worker}, x),
                    true);
  auto t = make_task(22);
  t.kind = task_kind::render;
  t.object.bucket = "uploads";
  t.object.key = "uploads/job-22/a.mp4";
  t.outputs = {{"uploads", "outputs/job-22/small.jpg", {}, {}, 0, {}, {}}};
  t.sources = {{"uploads", "outputs/job-7/small.jpg", {}, {}, 0, {}, {}},
               {"uploads", "outputs/job-7/720p.mp4", {}, {}, 0, {}, {}}};
  auto h = mars.self->request(disp, infinite, atoms::submit_v, t);
  settle();
  CAF_REQUIRE_EQUAL(ws().running.size(), 1u);
  auto got = ws().running[0].first;
  CAF_REQUIRE_EQUAL(got.outputs.size(), 1u);
  CAF_CHECK_EQUAL(got.outputs[0].url,
                  "http://store/uploads/outputs/job-22/small.jpg?lease=22");
  CAF_REQUIRE_EQUAL(got.sources.size(), 2u);
  auto a = got.sources[0];
  auto b = got.sources[1];
  CAF_CHECK_EQUAL(a.url, "http://store/uploads/outputs/job-7/small.jpg?signed");
  CAF_CHECK_EQUAL(b.url, "http://store/uploads/outputs/job-7/720p.mp4?signed");
  earth.self->send(worker, atoms::dispatch_v, testing::ok_outcome(got, "{}"));
  settle();
  h.receive([](messages::task_outcome& out) { CAF_CHECK(out.ok); },
            [&](error& err) { CAF_FAIL("unexpected error: " << err); });
}

CAF_TEST(workers of a node that did not say hello are refused) {
  auto res = ask<bool>(atoms::join_v, messages::worker_actor{worker}, info());
  CAF_REQUIRE(!res);
  CAF_CHECK_EQUAL(messages::errc_of(res.error()), errc::invalid_argument);
  // Nor may a node register workers under another node's name.
  CAF_REQUIRE_EQUAL(ask<bool>(atoms::hello_v, agent, std::string{"earth"}),
                    true);
  auto other = ask<bool>(atoms::hello_v, agent, std::string{"bad/name"});
  CAF_CHECK(!other);
  CAF_CHECK_EQUAL(stats().workers, 0u);
}

CAF_TEST(the dispatcher leases to a remote worker and gets its outcome) {
  join();
  auto h = mars.self->request(disp, infinite, atoms::submit_v, make_task(1));
  settle();
  CAF_REQUIRE_EQUAL(ws().running.size(), 1u);
  CAF_CHECK_EQUAL(ws().running[0].first.lease_id, 1u);
  CAF_CHECK_EQUAL(stats().leased, 1u);
  // The worker answers on earth; the outcome crosses the network.
  earth.self->send(worker, atoms::dispatch_v,
                   testing::ok_outcome(ws().running[0].first, "{meta}"));
  settle();
  bool got = false;
  h.receive(
    [&](messages::task_outcome& out) {
      got = true;
      CAF_CHECK(out.ok);
      CAF_CHECK_EQUAL(out.output, "{meta}");
      CAF_CHECK_EQUAL(out.lease_id, 1u);
    },
    [&](error& err) { CAF_FAIL("unexpected error: " << err); });
  CAF_CHECK(got);
  CAF_CHECK_EQUAL(stats().leased, 0u);
}

CAF_TEST(a remote probe carries a presigned URL and other kinds none) {
  join();
  auto t = make_task(11);
  t.object.bucket = "uploads";
  t.object.key = "uploads/job-11/a.mp4";
  auto h = mars.self->request(disp, infinite, atoms::submit_v, t);
  settle();
  CAF_REQUIRE_EQUAL(ws().running.size(), 1u);
  CAF_CHECK_EQUAL(ws().running[0].first.object.url,
                  "http://store/uploads/uploads/job-11/a.mp4?signed");
  earth.self->send(worker, atoms::dispatch_v,
                   testing::ok_outcome(ws().running[0].first, "{meta}"));
  settle();
  h.receive([](messages::task_outcome&) {},
            [&](error& err) { CAF_FAIL("unexpected error: " << err); });
  auto s = make_task(12);
  s.kind = task_kind::sleep;
  s.object = t.object;
  auto h2 = mars.self->request(disp, infinite, atoms::submit_v, s);
  settle();
  CAF_REQUIRE_EQUAL(ws().running.size(), 1u);
  CAF_CHECK_EQUAL(ws().running[0].first.lease_id, 12u);
  CAF_CHECK_EQUAL(ws().running[0].first.object.url, "");
  earth.self->send(worker, atoms::dispatch_v,
                   testing::ok_outcome(ws().running[0].first, "{}"));
  settle();
  h2.receive([](messages::task_outcome&) {},
             [&](error& err) { CAF_FAIL("unexpected error: " << err); });
}

CAF_TEST(leases of a worker that goes down are handed back) {
  join();
  auto h = mars.self->request(disp, infinite, atoms::submit_v, make_task(2));
  settle();
  CAF_REQUIRE_EQUAL(ws().running.size(), 1u);
  // The worker node's actor dies; the coordinator learns it over the wire.
  anon_send_exit(worker, exit_reason::kill);
  settle();
  bool got = false;
  h.receive(
    [&](messages::task_outcome& out) {
      got = true;
      CAF_CHECK(!out.ok);
      CAF_CHECK_EQUAL(out.error_code, messages::errc::worker_lost);
      CAF_CHECK(out.transient);
    },
    [&](error& err) { CAF_FAIL("unexpected error: " << err); });
  CAF_CHECK(got);
  auto s = stats();
  CAF_CHECK_EQUAL(s.workers, 0u);
  CAF_CHECK_EQUAL(s.leased, 0u);
  // A local worker takes the retried task.
  auto local = mars.sys.spawn(testing::fake_worker);
  auto li = info("mars");
  mars.self->send(disp, atoms::join_v, messages::worker_actor{local}, li);
  mars.self->send(disp, atoms::submit_v,
                  make_task(3));
  settle();
  CAF_CHECK_EQUAL(
    mars.deref<testing::fake_worker_impl>(local).state.running.size(), 1u);
  anon_send_exit(local, exit_reason::user_shutdown);
  settle();
}

CAF_TEST(results a node kept are reported to the orchestrator) {
  join();
  // Both leases went to earth's worker (one at a time: one slot).
  mars.self->send(disp, atoms::submit_v, make_task(4));
  settle();
  CAF_REQUIRE_EQUAL(ws().running.size(), 1u);
  earth.self->send(worker, atoms::dispatch_v,
                   testing::ok_outcome(ws().running[0].first, "{a}"));
  mars.self->send(disp, atoms::submit_v, make_task(5));
  settle();
  std::vector<messages::task_outcome> outs{
    testing::ok_outcome(make_task(4), "{a}"),
    testing::failed_outcome(make_task(5), errc::timeout)};
  CAF_CHECK_EQUAL(ask<uint64_t>(atoms::report_v, outs), uint64_t{1});
  auto& reports = mars.deref<messages::orchestrator_actor::stateful_base<
    fake_orch_state>>(orch)
                    .state.reports;
  CAF_REQUIRE_EQUAL(reports.size(), 2u);
  CAF_CHECK_EQUAL(reports[0].lease_id, 4u);
  CAF_CHECK_EQUAL(reports[0].output, "{a}");
}

CAF_TEST(a drained node gets no new work and is told to leave) {
  join();
  mars.self->send(disp, atoms::submit_v, make_task(6));
  settle();
  CAF_REQUIRE_EQUAL(ws().running.size(), 1u);
  CAF_CHECK_EQUAL(ask<uint64_t>(atoms::drain_v, std::string{"earth"}),
                  uint64_t{1});
  mars.self->send(disp, atoms::submit_v,
                  make_task(7));
  settle();
  CAF_CHECK_EQUAL(ws().running.size(), 1u);
  CAF_CHECK_EQUAL(stats().queued, 1u);
  earth.self->send(worker, atoms::dispatch_v,
                   testing::ok_outcome(ws().running[0].first, "x"));
  settle();
  CAF_CHECK_EQUAL(ask<uint64_t>(atoms::drain_v, std::string{"earth"}),
                  uint64_t{0});
  CAF_CHECK_EQUAL(ask<bool>(atoms::leave_v, std::string{"earth"}), true);
  CAF_CHECK(earth.deref<messages::node_actor::stateful_base<agent_state>>(
                   agent)
              .state.left);
  auto unknown = ask<uint64_t>(atoms::drain_v, std::string{"pluto"});
  CAF_CHECK(!unknown);
}

CAF_TEST(a node that comes back counts its registrations) {
  join();
  // The node's agent goes away (its process died); the registry forgets it.
  anon_send_exit(agent, exit_reason::kill);
  settle();
  auto nodes = ask<std::vector<messages::cluster_node>>(atoms::nodes_v);
  CAF_REQUIRE(nodes);
  CAF_CHECK(nodes->empty());
  agent = earth.sys.spawn(fake_agent);
  CAF_REQUIRE_EQUAL(ask<bool>(atoms::hello_v, agent, std::string{"earth"}),
                    true);
  nodes = ask<std::vector<messages::cluster_node>>(atoms::nodes_v);
  CAF_REQUIRE(nodes);
  CAF_REQUIRE_EQUAL(nodes->size(), 1u);
  CAF_CHECK_EQUAL(nodes->at(0).registrations, 2u);
}

/// Registers a second node, "moon", whose agent lives on the coordinator's
/// own actor system (the fixture simulates two hosts only).
messages::node_actor hello_moon(fixture& f) {
  auto moon = f.mars.sys.spawn(fake_agent);
  f.mars.self->send(f.registry, atoms::hello_v, moon, std::string{"moon"});
  f.settle();
  f.mars.self->receive([](bool) {}, [](error& err) {
    CAF_FAIL("moon's hello failed: " << err);
  });
  return moon;
}

CAF_TEST(a node cannot drain or evict another node by name) {
  join();
  auto moon = hello_moon(*this);
  auto drained = ask<uint64_t>(atoms::drain_v, std::string{"moon"});
  CAF_REQUIRE(!drained);
  CAF_CHECK_EQUAL(messages::errc_of(drained.error()), errc::forbidden);
  auto left = ask<bool>(atoms::leave_v, std::string{"moon"});
  CAF_REQUIRE(!left);
  CAF_CHECK_EQUAL(messages::errc_of(left.error()), errc::forbidden);
  CAF_CHECK(!mars.deref<messages::node_actor::stateful_base<agent_state>>(
                   moon)
               .state.left);
  auto nodes = ask<std::vector<messages::cluster_node>>(atoms::nodes_v);
  CAF_REQUIRE(nodes);
  for (auto& n : *nodes)
    CAF_CHECK(!n.draining);
  // Its own name still works.
  CAF_CHECK_EQUAL(ask<uint64_t>(atoms::drain_v, std::string{"earth"}),
                  uint64_t{0});
  anon_send_exit(moon, exit_reason::user_shutdown);
  settle();
}

CAF_TEST(a draining node hears when its last lease ended) {
  join();
  mars.self->send(disp, atoms::submit_v, make_task(30));
  settle();
  CAF_REQUIRE_EQUAL(ws().running.size(), 1u);
  CAF_CHECK_EQUAL(ask<uint64_t>(atoms::drain_v, std::string{"earth"}),
                  uint64_t{1});
  // Asked while the lease runs: no answer yet.
  auto h = earth.self->request(proxy, infinite, atoms::drained_v,
                               std::string{"earth"});
  settle();
  auto& dst = mars.deref<actors::dispatcher_impl>(disp).state;
  CAF_CHECK_EQUAL(dst.node_waiters.count("earth"), 1u);
  // Another node may not wait on it (nor learn of its leases).
  auto moon = hello_moon(*this);
  auto foreign = ask<uint64_t>(atoms::drained_v, std::string{"moon"});
  CAF_REQUIRE(!foreign);
  CAF_CHECK_EQUAL(messages::errc_of(foreign.error()), errc::forbidden);
  // The lease ends: the wait is answered.
  earth.self->send(worker, atoms::dispatch_v,
                   testing::ok_outcome(ws().running[0].first, "x"));
  settle();
  uint64_t left = 99;
  h.receive([&](uint64_t n) { left = n; },
            [&](error& err) { CAF_FAIL("drained failed: " << err); });
  CAF_CHECK_EQUAL(left, 0u);
  CAF_CHECK(dst.node_waiters.empty());
  anon_send_exit(moon, exit_reason::user_shutdown);
  settle();
}

CAF_TEST(a node reports only outcomes of leases it was given) {
  join();
  // A worker of another node (here: on the coordinator) holds lease 10.
  auto local = mars.sys.spawn(testing::fake_worker);
  auto li = info("moon");
  li.kinds = {task_kind::summarize};
  mars.self->send(disp, atoms::join_v, messages::worker_actor{local}, li);
  auto t10 = make_task(10);
  t10.kind = task_kind::summarize;
  mars.self->send(disp, atoms::submit_v, t10);
  mars.self->send(disp, atoms::submit_v, make_task(11));
  settle();
  CAF_REQUIRE_EQUAL(
    mars.deref<testing::fake_worker_impl>(local).state.running.size(), 1u);
  CAF_REQUIRE_EQUAL(ws().running.size(), 1u);
  auto t11 = ws().running[0].first;
  auto stolen = testing::ok_outcome(t10, "{other node's}");
  auto never = testing::ok_outcome(make_task(12), "{never leased}");
  auto swapped = testing::ok_outcome(t11, "{swapped}");
  swapped.job_id = t10.job_id;
  auto own = testing::ok_outcome(t11, "{mine}");
  // The node's word on when it was leased is not taken: the ledger gets the
  // dispatcher's own record of the lease.
  CAF_REQUIRE_GREATER_OR_EQUAL(t11.leased_at, wall_ms);
  own.leased_at = 1;
  std::vector<messages::task_outcome> outs{stolen, never, swapped, own};
  CAF_CHECK_EQUAL(ask<uint64_t>(atoms::report_v, outs), uint64_t{1});
  auto& reports = mars.deref<messages::orchestrator_actor::stateful_base<
    fake_orch_state>>(orch)
                    .state.reports;
  CAF_REQUIRE_EQUAL(reports.size(), 1u);
  CAF_CHECK_EQUAL(reports[0].lease_id, 11u);
  CAF_CHECK_EQUAL(reports[0].output, "{mine}");
  CAF_CHECK_EQUAL(reports[0].leased_at, t11.leased_at);
  anon_send_exit(local, exit_reason::user_shutdown);
  settle();
}

CAF_TEST(remote nodes never get a handle to a coordinator actor) {
  // BASP delivers a message from the network only to actors in the actor
  // registry; CAF puts a local actor there as soon as its handle crosses
  // the wire (e.g. as the sender of a request). Run the whole protocol,
  // then check that only the published registry (and lease relays) are
  // reachable.
  join();
  auto h = mars.self->request(disp, infinite, atoms::submit_v, make_task(20));
  settle();
  CAF_REQUIRE_EQUAL(ws().running.size(), 1u);
  auto sender = ws().senders.at(0);
  CAF_CHECK(sender != nullptr);
  CAF_CHECK_NOT_EQUAL(sender->id(), disp->id());
  CAF_CHECK_NOT_EQUAL(sender->id(), orch->id());
  // The node may talk back to that sender: a second run is refused.
  auto relay = actor_cast<messages::worker_actor>(sender);
  auto r = earth.self->request(relay, infinite, atoms::run_v, make_task(21));
  settle();
  bool refused = false;
  r.receive([](messages::task_outcome&) {}, [&](error&) { refused = true; });
  CAF_CHECK(refused);
  CAF_CHECK_EQUAL(ws().running.size(), 1u);
  mars.self->send(disp, atoms::cancel_v, uint64_t{20});
  settle();
  earth.self->send(worker, atoms::dispatch_v,
                   testing::ok_outcome(ws().running[0].first, "{m}"));
  settle();
  h.receive([](messages::task_outcome&) {},
            [](error& err) { CAF_FAIL("unexpected error: " << err); });
  std::vector<messages::task_outcome> outs{
    testing::ok_outcome(make_task(20), "{m}")};
  ask<uint64_t>(atoms::report_v, outs);
  ask<uint64_t>(atoms::drain_v, std::string{"earth"});
  ask<bool>(atoms::leave_v, std::string{"earth"});
  ask<std::vector<messages::cluster_node>>(atoms::nodes_v);
  CAF_CHECK(mars.sys.registry().get(disp->id()) == nullptr);
  CAF_CHECK(mars.sys.registry().get(orch->id()) == nullptr);
}

CAF_TEST(progress of a remote worker reaches the dispatcher through its relay) {
  join();
  auto h = mars.self->request(disp, infinite, atoms::submit_v, make_task(30));
  settle();
  CAF_REQUIRE_EQUAL(ws().running.size(), 1u);
  auto relay = actor_cast<messages::progress_sink_actor>(ws().senders.at(0));
  auto percent = [&] {
    mars.self->send(disp, atoms::lease_of_v, std::string{"job-30"});
    settle();
    int result = -1;
    mars.self->receive(
      [&](std::vector<messages::task_progress>& xs) {
        if (xs.size() == 1)
          result = xs[0].percent;
      },
      after(0s) >> [] {});
    return result;
  };
  CAF_CHECK_EQUAL(percent(), 0);
  caf::send_as(worker, relay, atoms::progress_v, uint64_t{30}, uint8_t{55});
  settle();
  CAF_CHECK_EQUAL(percent(), 55);
  // Another actor of that node, or another lease: ignored.
  earth.self->send(relay, atoms::progress_v, uint64_t{30}, uint8_t{90});
  caf::send_as(worker, relay, atoms::progress_v, uint64_t{31}, uint8_t{90});
  settle();
  CAF_CHECK_EQUAL(percent(), 55);
  earth.self->send(worker, atoms::dispatch_v,
                   testing::ok_outcome(ws().running[0].first, "{m}"));
  settle();
  h.receive([](messages::task_outcome&) {},
            [](error& err) { CAF_FAIL("unexpected error: " << err); });
}

CAF_TEST(an operator with the admin key drains and evicts any node) {
  join();
  auto moon = hello_moon(*this);
  // The registry's idea of now (the simulated network moves its clock).
  auto& rst = mars.deref<actors::cluster_registry_impl>(registry).state;
  auto wall_ms = rst.clock.at(mars.sched.clock().now());
  auto mac = [](const std::string& cmd, int64_t at) {
    return test_mac(messages::admin_payload(cmd, "moon", at));
  };
  // Wrong key, stale time, another command's signature: refused.
  auto bad = ask<uint64_t>(atoms::drain_v, std::string{"moon"}, wall_ms,
                           std::string(64, '0'));
  CAF_REQUIRE(!bad);
  CAF_CHECK_EQUAL(messages::errc_of(bad.error()), errc::unauthorized);
  auto stale = ask<uint64_t>(atoms::drain_v, std::string{"moon"},
                             wall_ms - 120'000, mac("drain", wall_ms - 120'000));
  CAF_REQUIRE(!stale);
  CAF_CHECK_EQUAL(messages::errc_of(stale.error()), errc::unauthorized);
  auto swapped = ask<uint64_t>(atoms::drain_v, std::string{"moon"}, wall_ms,
                               mac("leave", wall_ms));
  CAF_CHECK(!swapped);
  // Signed: works, once.
  CAF_CHECK_EQUAL(ask<uint64_t>(atoms::drain_v, std::string{"moon"}, wall_ms,
                                mac("drain", wall_ms)),
                  uint64_t{0});
  auto replay = ask<uint64_t>(atoms::drain_v, std::string{"moon"}, wall_ms,
                              mac("drain", wall_ms));
  CAF_REQUIRE(!replay);
  CAF_CHECK_EQUAL(messages::errc_of(replay.error()), errc::unauthorized);
  auto nodes = ask<std::vector<messages::cluster_node>>(atoms::nodes_v);
  CAF_REQUIRE(nodes);
  for (auto& n : *nodes)
    CAF_CHECK_EQUAL(n.draining, n.name == "moon");
  CAF_CHECK_EQUAL(ask<bool>(atoms::leave_v, std::string{"moon"}, wall_ms + 1,
                            mac("leave", wall_ms + 1)),
                  true);
  CAF_CHECK(mars.deref<messages::node_actor::stateful_base<agent_state>>(moon)
              .state.left);
  anon_send_exit(moon, exit_reason::user_shutdown);
  settle();
}

CAF_TEST_FIXTURE_SCOPE_END()
