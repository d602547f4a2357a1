#define CAF_SUITE runtime.node

#include "vf/runtime/node.hpp"

#include "vf/actors/dispatcher.hpp"

#include "vf_test.hpp"

#include "caf/event_based_actor.hpp"
#include "caf/typed_event_based_actor.hpp"

#include <chrono>
#include <csignal>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

using namespace caf;
using namespace vf;
using namespace std::chrono_literals;

namespace {

/// What happened, in order, across threads.
struct journal {
  std::mutex mtx;
  std::vector<std::string> events;

  void add(std::string x) {
    std::lock_guard<std::mutex> guard{mtx};
    events.push_back(std::move(x));
  }

  std::vector<std::string> get() {
    std::lock_guard<std::mutex> guard{mtx};
    return events;
  }

  /// Position of `x`, or -1.
  int pos(const std::string& x) {
    auto xs = get();
    for (size_t i = 0; i < xs.size(); ++i)
      if (xs[i] == x)
        return static_cast<int>(i);
    return -1;
  }
};

/// Polls `pred` until it holds or 10 s passed (never a timed assertion:
/// the deadline only bounds a failing test).
bool eventually(const std::function<bool()>& pred) {
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline)
      return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

behavior idle() {
  return {[](int) {}};
}

/// An actor that records its exit in `j` as `name` (before it ends, so
/// before the node can see it gone).
actor spawn_recorded(actor_system& sys, std::shared_ptr<journal> j,
                     std::string name) {
  return sys.spawn([j, name](event_based_actor* self) -> behavior {
    self->set_exit_handler([=](exit_msg& msg) {
      j->add(name + " exited");
      self->quit(msg.reason);
    });
    return {[](int) {}};
  });
}

/// A worker that holds its lease until told (`dispatch`) to answer it.
struct holding_worker_state {
  std::vector<std::pair<messages::task,
                        typed_response_promise<messages::task_outcome>>>
    held;
};

using holding_worker_actor = messages::worker_actor::extend<
  reacts_to<atoms::dispatch>>;

holding_worker_actor::behavior_type
holding_worker(holding_worker_actor::stateful_pointer<holding_worker_state> self,
               std::shared_ptr<journal> j) {
  return {
    [=](atoms::run, messages::task& t) {
      auto rp = self->make_response_promise<messages::task_outcome>();
      self->state.held.emplace_back(std::move(t), rp);
      j->add("leased");
      return rp;
    },
    [](atoms::cancel, uint64_t) {},
    [](atoms::flush) { return std::vector<messages::task_outcome>{}; },
    [](atoms::progress, uint64_t, uint8_t) {},
    [=](atoms::dispatch) {
      for (auto& [t, rp] : self->state.held) {
        messages::task_outcome out;
        out.job_id = t.job_id;
        out.lease_id = t.lease_id;
        out.kind = t.kind;
        out.ok = true;
        out.object_version = t.object.version;
        out.series = t.series;
        j->add("answered");
        rp.deliver(std::move(out));
      }
      self->state.held.clear();
    },
  };
}

struct fixture {
  fixture() {
    cfg.set("scheduler.max-threads", 2);
  }

  testing::config cfg;
  runtime::logger log;
  std::shared_ptr<journal> j = std::make_shared<journal>();
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(node_tests, fixture)

CAF_TEST(an actor that dies unexpectedly stops the node with exit 1) {
  runtime::node n{cfg, log, "test"};
  auto victim = n.keep("victim", runtime::tier::domain,
                       n.system().spawn(idle));
  CAF_CHECK(!n.failed());
  CAF_CHECK_EQUAL(n.exit_code(), 0);
  anon_send_exit(victim, exit_reason::kill);
  CAF_REQUIRE(eventually([&] { return n.failed(); }));
  CAF_CHECK_EQUAL(n.wait(), 0); // returns at once: a failure, not a signal
  CAF_CHECK_EQUAL(n.exit_code(), 1);
  n.stop();
}

CAF_TEST(wait trims the heap while it blocks and still ends on a signal) {
  runtime::node n{cfg, log, "test"};
  n.trim_memory_every(std::chrono::seconds{1});
  // The signal comes once wait() has trimmed twice (or after 30 s, then
  // the check below fails); SIGTERM is blocked in every thread (the node's
  // constructor), so only its sigwait takes it.
  std::thread later{[&n] {
    for (int i = 0; i < 600 && n.memory_trims() < 2; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds{50});
    kill(getpid(), SIGTERM);
  }};
  CAF_CHECK_EQUAL(n.wait(), SIGTERM);
  later.join();
  CAF_CHECK_GREATER_OR_EQUAL(n.memory_trims(), 2u);
  n.stop();
}

CAF_TEST(a restartable group is spawned again up to its limit) {
  runtime::node n{cfg, log, "test"};
  auto spawned = std::make_shared<std::vector<actor>>();
  auto mtx = std::make_shared<std::mutex>();
  n.keep_restartable(
    "sweep", runtime::tier::domain,
    [&n, spawned, mtx] {
      auto a = n.system().spawn(idle);
      auto b = n.system().spawn(idle);
      std::lock_guard<std::mutex> guard{*mtx};
      spawned->push_back(a);
      spawned->push_back(b);
      return std::vector<actor>{a, b};
    },
    1);
  auto count = [&] {
    std::lock_guard<std::mutex> guard{*mtx};
    return spawned->size();
  };
  auto at = [&](size_t i) {
    std::lock_guard<std::mutex> guard{*mtx};
    return spawned->at(i);
  };
  CAF_REQUIRE_EQUAL(count(), 2u);
  anon_send_exit(at(0), exit_reason::kill);
  // Spawned again as a whole; its other member was stopped on purpose and
  // that stop is no failure.
  CAF_REQUIRE(eventually([&] { return count() == 4u; }));
  CAF_REQUIRE(eventually([&] {
    return at(1)->getf(abstract_actor::is_terminated_flag);
  }));
  CAF_CHECK(!n.failed());
  // Beyond its limit (one restart a minute here) the node stops.
  anon_send_exit(at(3), exit_reason::kill);
  CAF_REQUIRE(eventually([&] { return n.failed(); }));
  CAF_CHECK_EQUAL(count(), 4u);
  CAF_CHECK_EQUAL(n.exit_code(), 1);
}

CAF_TEST(stop runs edges then domain then stores) {
  {
    runtime::node n{cfg, log, "test"};
    auto& sys = n.system();
    // Kept in the "wrong" order on purpose: the tier decides, not the order.
    n.keep("store", runtime::tier::store, spawn_recorded(sys, j, "store"));
    n.keep("domain", runtime::tier::domain, spawn_recorded(sys, j, "domain"));
    n.keep("edge", runtime::tier::edge, spawn_recorded(sys, j, "edge"));
    n.on_stop(runtime::tier::edge, [this] { j->add("listener stopped"); });
    n.on_stop(runtime::tier::store, [this] { j->add("store hook"); });
    n.stop();
    n.stop(); // idempotent
    CAF_CHECK(!n.failed()); // stopping is no failure
    CAF_CHECK_EQUAL(n.exit_code(), 0);
  }
  auto xs = j->get();
  std::vector<std::string> expected{"listener stopped", "edge exited",
                                    "domain exited", "store hook",
                                    "store exited"};
  CAF_CHECK_EQUAL(xs, expected);
}

CAF_TEST(drain waits for the last lease before the domain stops) {
  runtime::node n{cfg, log, "test"};
  auto& sys = n.system();
  actors::dispatcher_config dcfg;
  auto disp = n.keep("dispatcher", runtime::tier::domain,
                     sys.spawn(actors::dispatcher, dcfg));
  auto worker = n.keep("worker", runtime::tier::domain,
                       sys.spawn(holding_worker, j));
  n.keep("domain", runtime::tier::domain, spawn_recorded(sys, j, "domain"));
  n.on_stop(runtime::tier::edge, [this] { j->add("edges stopped"); });
  n.drain_before_stop(disp, 30s);
  messages::worker_info info;
  info.name = "w1";
  info.node = "local";
  info.kinds = {messages::task_kind::probe};
  info.slots = 1;
  anon_send(disp, atoms::join_v, messages::worker_actor{worker}, info);
  messages::task t;
  t.job_id = "job-1";
  t.kind = messages::task_kind::probe;
  t.lease_id = 1;
  t.timeout_ms = 60000;
  anon_send(disp, atoms::submit_v, t);
  CAF_REQUIRE(eventually([&] { return j->pos("leased") >= 0; }));
  std::thread stopper{[&] { n.stop(); }};
  CAF_REQUIRE(eventually([&] { return j->pos("edges stopped") >= 0; }));
  // The lease is still held: the domain must still run (the drain waits on
  // the dispatcher's answer, which comes only when leases reach 0).
  CAF_CHECK_EQUAL(j->pos("domain exited"), -1);
  anon_send(worker, atoms::dispatch_v);
  stopper.join();
  auto answered = j->pos("answered");
  auto domain = j->pos("domain exited");
  CAF_CHECK(answered >= 0);
  CAF_CHECK(domain > answered);
}

CAF_TEST_FIXTURE_SCOPE_END()
