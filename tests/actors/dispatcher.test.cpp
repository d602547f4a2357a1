#define CAF_SUITE actors.dispatcher

#include "vf/actors/dispatcher.hpp"

#include "vf_test.hpp"

#include "fakes.hpp"

#include <algorithm>
#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <vector>

using namespace caf;
using namespace vf;
using namespace std::chrono_literals;
using messages::errc;
using messages::task_kind;

namespace {

struct fixture : testing::fixture_base {
  fixture() {
    actors::dispatcher_config cfg;
    cfg.lease_grace = 2s;
    cfg.wall_ms = spawned_ms;
    disp = sys.spawn(actors::dispatcher, cfg);
    consume_messages();
  }

  ~fixture() {
    // Promises held by fakes keep actors alive: stop them explicitly.
    anon_send_exit(disp, exit_reason::user_shutdown);
    for (auto& w : workers)
      anon_send_exit(w, exit_reason::user_shutdown);
    run();
  }

  testing::fake_worker_actor add_worker(const std::string& name, uint32_t slots,
                                    std::vector<task_kind> kinds
                                    = {task_kind::probe,
                                       task_kind::summarize},
                                    std::vector<std::string> labels = {},
                                    std::string node = "local",
                                    uint32_t cores = 0,
                                    uint64_t memory_mb = 0) {
    auto w = sys.spawn(testing::fake_worker);
    workers.push_back(w);
    messages::worker_info info;
    info.name = name;
    info.node = std::move(node);
    info.labels = std::move(labels);
    info.kinds = std::move(kinds);
    info.slots = slots;
    info.cores = cores;
    info.memory_mb = memory_mb;
    self->send(disp, atoms::join_v, messages::worker_actor{w}, info);
    consume_messages();
    bool joined = false;
    self->receive([&](bool x) { joined = x; },
                  after(std::chrono::seconds(0)) >> [] {});
    CAF_CHECK(joined);
    return w;
  }

  testing::fake_worker_state& ws(const testing::fake_worker_actor& w) {
    return deref<testing::fake_worker_impl>(w).state;
  }

  messages::task make_task(uint64_t lease, int32_t prio = 0,
                           task_kind kind = task_kind::probe) {
    messages::task t;
    t.job_id = "job-" + std::to_string(lease);
    t.kind = kind;
    t.lease_id = lease;
    t.priority = prio;
    t.timeout_ms = 10000;
    return t;
  }

  void submit(messages::task t) {
    self->send(disp, atoms::submit_v, std::move(t));
    consume_messages();
  }

  messages::dispatcher_stats stats() {
    self->send(disp, atoms::stats_v);
    consume_messages();
    messages::dispatcher_stats s;
    self->receive([&](messages::dispatcher_stats& x) { s = x; },
                  after(std::chrono::seconds(0)) >> [] {});
    return s;
  }

  std::vector<messages::task_outcome> outcomes() {
    std::vector<messages::task_outcome> xs;
    for (;;) {
      bool got = false;
      self->receive(
        [&](messages::task_outcome& x) {
          xs.push_back(std::move(x));
          got = true;
        },
        after(std::chrono::seconds(0)) >> [] {});
      if (!got)
        return xs;
    }
  }

  std::vector<messages::task_progress> lease_of(const std::string& job_id) {
    self->send(disp, atoms::lease_of_v, job_id);
    consume_messages();
    std::vector<messages::task_progress> xs;
    self->receive([&](std::vector<messages::task_progress>& x) { xs = x; },
                  after(std::chrono::seconds(0)) >> [] {});
    return xs;
  }

  /// The dispatcher's wall clock at spawn (Unix ms).
  static constexpr int64_t spawned_ms = 1'700'000'000'000;

  messages::dispatcher_node_actor disp;
  std::vector<testing::fake_worker_actor> workers;
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(dispatcher_tests, fixture)

CAF_TEST(tasks wait for a worker and run when one joins) {
  submit(make_task(1));
  CAF_CHECK_EQUAL(stats().queued, 1u);
  auto w = add_worker("w1", 1);
  CAF_REQUIRE_EQUAL(ws(w).running.size(), 1u);
  CAF_CHECK_EQUAL(stats().queued, 0u);
  CAF_CHECK_EQUAL(stats().leased, 1u);
  self->send(w, atoms::dispatch_v,
             testing::ok_outcome(ws(w).running[0].first, "out"));
  consume_messages();
  auto xs = outcomes();
  CAF_REQUIRE_EQUAL(xs.size(), 1u);
  CAF_CHECK(xs[0].ok);
  CAF_CHECK_EQUAL(xs[0].output, "out");
  CAF_CHECK_EQUAL(stats().leased, 0u);
  CAF_CHECK_EQUAL(stats().free_slots, 1u);
}

CAF_TEST(the begin hook runs when a worker takes a task and not before) {
  // The runtime journals attempts there: a task still queued at a crash
  // must not look begun, and one a worker took must, before it runs.
  std::vector<std::string> seen;
  actors::dispatcher_config cfg;
  cfg.lease_grace = 2s;
  cfg.wall_ms = spawned_ms;
  cfg.on_begin = [&seen](const messages::task& t) {
    seen.push_back("begin " + t.job_id);
  };
  cfg.on_end = [&seen](const messages::task& t) {
    seen.push_back("end " + t.job_id);
  };
  anon_send_exit(disp, exit_reason::user_shutdown);
  run();
  disp = sys.spawn(actors::dispatcher, cfg);
  consume_messages();
  submit(make_task(1));
  CAF_CHECK(seen.empty());
  auto w = add_worker("w1", 1);
  submit(make_task(2));
  CAF_CHECK_EQUAL(seen, (std::vector<std::string>{"begin job-1"}));
  CAF_REQUIRE_EQUAL(ws(w).running.size(), 1u);
  self->send(w, atoms::dispatch_v,
             testing::failed_outcome(ws(w).running[0].first,
                                     errc::bad_media));
  consume_messages();
  CAF_CHECK_EQUAL(seen, (std::vector<std::string>{"begin job-1", "end job-1",
                                                  "begin job-2"}));
  CAF_CHECK_EQUAL(outcomes().size(), 1u);
}

CAF_TEST(a task no worker offers fails after the wait and others wait on) {
  auto w = add_worker("w1", 1, {task_kind::probe});
  auto busy = make_task(1);
  busy.timeout_ms = 100'000'000; // Holds the only slot all along.
  submit(busy);
  auto waiting = make_task(2);
  waiting.timeout_ms = 100'000'000;
  submit(waiting);                               // offered: waits its turn
  submit(make_task(3, 0, task_kind::render));    // nobody offers render
  auto gpu = make_task(4);
  gpu.labels = {"gpu"};
  submit(gpu);                                   // nobody has the label
  advance_time(300s - 1ms);
  consume_messages();
  CAF_CHECK(outcomes().empty());
  advance_time(1ms);
  consume_messages();
  auto xs = outcomes();
  CAF_REQUIRE_EQUAL(xs.size(), 2u);
  std::sort(xs.begin(), xs.end(),
            [](auto& x, auto& y) { return x.lease_id < y.lease_id; });
  for (auto& x : xs) {
    CAF_CHECK(!x.ok);
    CAF_CHECK_EQUAL(x.error_code, errc::no_worker);
    CAF_CHECK(!x.transient);
  }
  CAF_CHECK_EQUAL(xs[0].lease_id, 3u);
  CAF_CHECK_NOT_EQUAL(xs[0].error_message.find("'render'"), std::string::npos);
  CAF_CHECK_NOT_EQUAL(xs[0].error_message.find("workers.count"),
                      std::string::npos);
  CAF_CHECK_EQUAL(xs[1].lease_id, 4u);
  CAF_CHECK_NOT_EQUAL(xs[1].error_message.find("labels [gpu]"),
                      std::string::npos);
  // The task a worker offers is still queued, however long it waits.
  advance_time(900s);
  consume_messages();
  CAF_CHECK(outcomes().empty());
  CAF_CHECK_EQUAL(stats().queued, 1u);
  CAF_CHECK_EQUAL(ws(w).running.size(), 1u);
}

CAF_TEST(a worker that joins in time takes a task nobody offered) {
  auto t = make_task(1, 0, task_kind::render);
  t.timeout_ms = 100'000'000;
  submit(t);
  advance_time(200s);
  consume_messages();
  auto w = add_worker("renderer", 1, {task_kind::render});
  CAF_REQUIRE_EQUAL(ws(w).running.size(), 1u);
  advance_time(200s);
  consume_messages();
  self->send(w, atoms::dispatch_v,
             testing::ok_outcome(ws(w).running[0].first, "{}"));
  consume_messages();
  auto xs = outcomes();
  CAF_REQUIRE_EQUAL(xs.size(), 1u);
  CAF_CHECK(xs[0].ok);
}

CAF_TEST(slots bound concurrent leases and higher priority runs first) {
  auto w = add_worker("w1", 2);
  submit(make_task(1));
  submit(make_task(2));
  submit(make_task(3, 0));
  submit(make_task(4, 5));
  CAF_CHECK_EQUAL(ws(w).running.size(), 2u);
  CAF_CHECK_EQUAL(stats().queued, 2u);
  self->send(w, atoms::dispatch_v,
             testing::ok_outcome(ws(w).running[0].first, ""));
  consume_messages();
  CAF_REQUIRE_EQUAL(ws(w).running.size(), 2u);
  CAF_CHECK_EQUAL(ws(w).running[1].first.lease_id, 4u); // priority 5
}

CAF_TEST(high runs before default before low) {
  auto w = add_worker("w1", 1);
  submit(make_task(1)); // Takes the slot.
  submit(make_task(2, messages::priority_low));
  submit(make_task(3, messages::priority_default));
  submit(make_task(4, messages::priority_high));
  std::vector<uint64_t> order;
  for (int i = 0; i < 4; ++i) {
    CAF_REQUIRE_EQUAL(ws(w).running.size(), 1u);
    order.push_back(ws(w).running[0].first.lease_id);
    self->send(w, atoms::dispatch_v,
               testing::ok_outcome(ws(w).running[0].first, ""));
    consume_messages();
  }
  CAF_CHECK_EQUAL(order, (std::vector<uint64_t>{1, 4, 3, 2}));
}

CAF_TEST(stats count queued tasks and their age by priority) {
  submit(make_task(1, messages::priority_low));
  advance_time(3s);
  submit(make_task(2, messages::priority_high));
  submit(make_task(3, messages::priority_high));
  advance_time(1s);
  auto s = stats();
  CAF_CHECK_EQUAL(s.queued, 3u);
  CAF_CHECK_EQUAL(s.queued_by_priority, (std::vector<uint64_t>{2, 0, 1}));
  CAF_CHECK_EQUAL(s.oldest_ms_by_priority,
                  (std::vector<uint64_t>{1000, 0, 4000}));
}

CAF_TEST(a stream of high priority work does not starve low) {
  auto w = add_worker("w1", 1);
  submit(make_task(1, messages::priority_high)); // Takes the slot.
  submit(make_task(2, messages::priority_low));
  for (uint64_t i = 3; i < 30; ++i)
    submit(make_task(i, messages::priority_high));
  size_t position = 0;
  for (size_t n = 1; n <= 29 && position == 0; ++n) {
    CAF_REQUIRE_EQUAL(ws(w).running.size(), 1u);
    auto& t = ws(w).running[0].first;
    if (t.lease_id == 2)
      position = n;
    self->send(w, atoms::dispatch_v, testing::ok_outcome(t, ""));
    consume_messages();
    // High-priority work keeps arriving while low waits.
    submit(make_task(100 + n, messages::priority_high));
  }
  // The 8th lease goes to the oldest runnable task: the low one.
  CAF_CHECK_EQUAL(position, 8u);
}

CAF_TEST(work goes to the worker with the most free slots) {
  auto small = add_worker("small", 1);
  auto big = add_worker("big", 4);
  submit(make_task(1));
  submit(make_task(2));
  CAF_CHECK_EQUAL(ws(big).running.size(), 2u);
  CAF_CHECK_EQUAL(ws(small).running.size(), 0u);
  submit(make_task(3));
  CAF_CHECK_EQUAL(ws(big).running.size(), 3u); // 2 free beat 1 free
  submit(make_task(4));
  submit(make_task(5));
  CAF_CHECK_EQUAL(ws(big).running.size(), 4u);
  CAF_CHECK_EQUAL(ws(small).running.size(), 1u);
  CAF_CHECK_EQUAL(stats().free_slots, 0u);
}

CAF_TEST(task kinds are respected) {
  auto prober = add_worker("prober", 1, {task_kind::probe});
  submit(make_task(1, 0, task_kind::summarize));
  CAF_CHECK(ws(prober).running.empty());
  CAF_CHECK_EQUAL(stats().queued, 1u);
  submit(make_task(2, 0, task_kind::probe));
  CAF_CHECK_EQUAL(ws(prober).running.size(), 1u); // skips the head
}

CAF_TEST(an unanswered lease expires at its deadline) {
  auto w = add_worker("w1", 1);
  submit(make_task(1));
  CAF_REQUIRE_EQUAL(ws(w).running.size(), 1u);
  advance_time(10s + 2s - 1ms);
  consume_messages();
  CAF_CHECK(outcomes().empty());
  advance_time(1ms);
  consume_messages();
  auto xs = outcomes();
  CAF_REQUIRE_EQUAL(xs.size(), 1u);
  CAF_CHECK(!xs[0].ok);
  CAF_CHECK_EQUAL(xs[0].error_code, messages::errc::timeout);
  CAF_CHECK(xs[0].transient);
  CAF_CHECK_EQUAL(stats().free_slots, 1u);
}

CAF_TEST(a worker that goes down hands back its leases) {
  auto w = add_worker("w1", 2);
  submit(make_task(1));
  submit(make_task(2));
  anon_send_exit(w, exit_reason::kill);
  consume_messages();
  auto xs = outcomes();
  CAF_REQUIRE_EQUAL(xs.size(), 2u);
  for (auto& x : xs) {
    CAF_CHECK_EQUAL(x.error_code, messages::errc::worker_lost);
    CAF_CHECK(x.transient);
  }
  auto s = stats();
  CAF_CHECK_EQUAL(s.workers, 0u);
  CAF_CHECK_EQUAL(s.leased, 0u);
  // New work waits for the next worker.
  submit(make_task(3));
  CAF_CHECK_EQUAL(stats().queued, 1u);
  auto w2 = add_worker("w2", 1);
  CAF_CHECK_EQUAL(ws(w2).running.size(), 1u);
}

CAF_TEST(cancel drops a queued task and interrupts a leased one) {
  submit(make_task(1));
  self->send(disp, atoms::cancel_v, uint64_t{1});
  consume_messages();
  auto xs = outcomes();
  CAF_REQUIRE_EQUAL(xs.size(), 1u);
  CAF_CHECK_EQUAL(xs[0].error_code, messages::errc::cancelled);
  CAF_CHECK(!xs[0].transient);
  CAF_CHECK_EQUAL(stats().queued, 0u);
  auto w = add_worker("w1", 1);
  CAF_CHECK(ws(w).running.empty());
  submit(make_task(2));
  CAF_REQUIRE_EQUAL(ws(w).running.size(), 1u);
  // The fake worker answers cancels the way a real one does: with an
  // outcome for that lease (here injected by the test), which reaches the
  // requester and frees the slot.
  self->send(disp, atoms::cancel_v, uint64_t{2});
  consume_messages();
  CAF_CHECK_EQUAL(deref<testing::fake_worker_impl>(w).state.cancels.size(), 1u);
  CAF_CHECK(outcomes().empty());
  auto leased = ws(w).running.front().first;
  self->send(w, atoms::dispatch_v, uint64_t{2},
             testing::failed_outcome(leased, messages::errc::cancelled));
  consume_messages();
  auto ys = outcomes();
  CAF_REQUIRE_EQUAL(ys.size(), 1u);
  CAF_CHECK_EQUAL(ys[0].lease_id, 2u);
  CAF_CHECK_EQUAL(ys[0].error_code, messages::errc::cancelled);
  CAF_CHECK_EQUAL(stats().leased, 0u);
  CAF_CHECK(ws(w).running.empty());
}

CAF_TEST(every outcome carries the time its task was leased) {
  // Queued for 5 s before a worker comes: the lease time is when a worker
  // got it, not when it was submitted.
  submit(make_task(1));
  submit(make_task(2));
  submit(make_task(3));
  self->send(disp, atoms::cancel_v, uint64_t{3});
  consume_messages();
  auto cancelled = outcomes();
  CAF_REQUIRE_EQUAL(cancelled.size(), 1u);
  CAF_CHECK_EQUAL(cancelled[0].leased_at, 0); // Never left the queue.
  advance_time(5s);
  auto w = add_worker("w1", 2);
  CAF_REQUIRE_EQUAL(ws(w).running.size(), 2u);
  for (auto& [t, rp] : ws(w).running)
    CAF_CHECK_EQUAL(t.leased_at, spawned_ms + 5000);
  // The worker's answer need not carry it: the dispatcher stamps it.
  auto answer = testing::ok_outcome(ws(w).running[0].first, "out");
  answer.leased_at = 0;
  advance_time(1s);
  self->send(w, atoms::dispatch_v, answer);
  consume_messages();
  // An outcome the dispatcher makes itself (the worker went down) too.
  anon_send_exit(w, exit_reason::kill);
  consume_messages();
  auto xs = outcomes();
  CAF_REQUIRE_EQUAL(xs.size(), 2u);
  CAF_CHECK(xs[0].ok);
  CAF_CHECK_EQUAL(xs[1].error_code, messages::errc::worker_lost);
  for (auto& x : xs)
    CAF_CHECK_EQUAL(x.leased_at, spawned_ms + 5000);
}

CAF_TEST(the tasks of a job show queued or leased with the percent of their worker) {
  auto w = add_worker("w1", 1, {task_kind::probe, task_kind::render});
  advance_time(2s);
  auto t = make_task(1, 0, task_kind::render);
  t.series = 3;
  t.object.version = "v7";
  submit(t);
  submit(make_task(2)); // The only slot is taken: it waits.
  CAF_CHECK(lease_of("job-9").empty());
  auto waiting = lease_of("job-2");
  CAF_REQUIRE_EQUAL(waiting.size(), 1u);
  CAF_CHECK(!waiting[0].leased);
  CAF_CHECK_EQUAL(waiting[0].worker, "");
  CAF_CHECK_EQUAL(waiting[0].leased_at, 0);
  caf::send_as(w, disp, atoms::progress_v, uint64_t{1}, uint8_t{40});
  consume_messages();
  auto xs = lease_of("job-1");
  CAF_REQUIRE_EQUAL(xs.size(), 1u);
  CAF_CHECK(xs[0].leased);
  CAF_CHECK_EQUAL(xs[0].lease_id, 1u);
  CAF_CHECK_EQUAL(xs[0].kind, task_kind::render);
  CAF_CHECK_EQUAL(xs[0].series, 3u);
  CAF_CHECK_EQUAL(xs[0].object_version, "v7");
  CAF_CHECK_EQUAL(xs[0].worker, "w1");
  CAF_CHECK_EQUAL(xs[0].node, "local");
  CAF_CHECK_EQUAL(xs[0].leased_at, spawned_ms + 2000);
  CAF_CHECK_EQUAL(xs[0].percent, 40u);
  // Only the lease's worker is listened to; a percent never falls and
  // stops at 100; reports on other leases change nothing.
  self->send(disp, atoms::progress_v, uint64_t{1}, uint8_t{90});
  caf::send_as(w, disp, atoms::progress_v, uint64_t{1}, uint8_t{30});
  caf::send_as(w, disp, atoms::progress_v, uint64_t{2}, uint8_t{50});
  consume_messages();
  // By value: a check must not keep a reference into a temporary.
  auto percent = [&](const std::string& job) -> int {
    auto xs = lease_of(job);
    return xs.empty() ? -1 : xs[0].percent;
  };
  CAF_CHECK_EQUAL(percent("job-1"), 40);
  CAF_CHECK_EQUAL(percent("job-2"), 0);
  caf::send_as(w, disp, atoms::progress_v, uint64_t{1}, uint8_t{250});
  consume_messages();
  CAF_CHECK_EQUAL(percent("job-1"), 100);
  // Once the lease ends the job has nothing in the dispatcher; a late
  // report is dropped.
  self->send(w, atoms::dispatch_v,
             testing::ok_outcome(ws(w).running[0].first, "out"));
  consume_messages();
  caf::send_as(w, disp, atoms::progress_v, uint64_t{1}, uint8_t{100});
  consume_messages();
  CAF_CHECK(lease_of("job-1").empty());
  auto next = lease_of("job-2");
  CAF_REQUIRE_EQUAL(next.size(), 1u);
  CAF_CHECK(next[0].leased);
  CAF_CHECK_EQUAL(next[0].percent, 0u);
}

CAF_TEST(a node admits tasks within its memory budget) {
  auto w = add_worker("w1", 4, {task_kind::probe, task_kind::render}, {},
                      "n1", 8, 1000);
  auto big = [&](uint64_t lease, uint64_t mb) {
    auto t = make_task(lease, 0, task_kind::render);
    t.memory_mb = mb;
    t.threads = 1;
    return t;
  };
  submit(big(1, 600));
  submit(big(2, 600)); // A slot is free, the memory is not: it waits.
  submit(make_task(3)); // A probe costs nothing: it runs.
  submit(big(4, 400)); // Fits next to the first.
  CAF_REQUIRE_EQUAL(ws(w).running.size(), 3u);
  CAF_CHECK_EQUAL(ws(w).running[0].first.lease_id, 1u);
  CAF_CHECK_EQUAL(ws(w).running[1].first.lease_id, 3u);
  CAF_CHECK_EQUAL(ws(w).running[2].first.lease_id, 4u);
  CAF_CHECK_EQUAL(stats().queued, 1u);
  // The probe ends: nothing changes for the waiting 600.
  self->send(w, atoms::dispatch_v,
             testing::ok_outcome(ws(w).running[1].first, "done"));
  consume_messages();
  CAF_CHECK_EQUAL(ws(w).running.size(), 2u);
  CAF_CHECK_EQUAL(stats().queued, 1u);
  // The first 600 ends: 400 + 600 is exactly the budget.
  self->send(w, atoms::dispatch_v,
             testing::ok_outcome(ws(w).running[0].first, "done"));
  consume_messages();
  CAF_REQUIRE_EQUAL(ws(w).running.size(), 2u);
  CAF_CHECK_EQUAL(ws(w).running[1].first.lease_id, 2u);
  CAF_CHECK_EQUAL(stats().queued, 0u);
  CAF_CHECK_EQUAL(outcomes().size(), 2u);
}

namespace {

/// Respawns `disp` with stand-ins for the media adapter's split and merge:
/// as many parts as free nodes, `most` at most, with inputs "part-0",
/// "part-1", ..., merged as "merged:<out0>,<out1>,...|<worker0>,...".
void with_split(fixture& f, size_t most = 2) {
  anon_send_exit(f.disp, exit_reason::user_shutdown);
  actors::dispatcher_config cfg;
  cfg.wall_ms = fixture::spawned_ms;
  cfg.split_render = [most](const messages::task& t, size_t nodes) {
    std::vector<messages::task> parts;
    for (size_t i = 0; i < std::min(most, nodes); ++i) {
      auto p = t;
      p.input = "part-" + std::to_string(i);
      parts.push_back(std::move(p));
    }
    return parts;
  };
  cfg.merge_render = [](const messages::task&, const std::vector<std::string>&,
                        const std::vector<std::string>& outs,
                        const std::vector<std::string>& workers) {
    std::string x = "merged:";
    for (size_t i = 0; i < outs.size(); ++i)
      x += (i > 0 ? "," : "") + outs[i];
    x += "|";
    for (size_t i = 0; i < workers.size(); ++i)
      x += (i > 0 ? "," : "") + workers[i];
    return x;
  };
  f.disp = f.sys.spawn(actors::dispatcher, cfg);
  f.consume_messages();
}

/// Render 100 split over nodes a and b (one render slot each, one part
/// running on each): their workers.
std::pair<testing::fake_worker_actor, testing::fake_worker_actor>
split_over_a_and_b(fixture& f) {
  with_split(f);
  auto a = f.add_worker("a/w1", 1, {task_kind::render}, {}, "a");
  auto b = f.add_worker("b/w1", 1, {task_kind::render}, {}, "b");
  f.submit(f.make_task(100, 0, task_kind::render));
  CAF_REQUIRE_EQUAL(f.ws(a).running.size(), 1u);
  CAF_REQUIRE_EQUAL(f.ws(b).running.size(), 1u);
  return {a, b};
}

} // namespace

CAF_TEST(a render spreads over two free nodes and answers once) {
  auto [a, b] = split_over_a_and_b(*this);
  auto pa = ws(a).running[0].first;
  auto pb = ws(b).running[0].first;
  CAF_CHECK_NOT_EQUAL(pa.lease_id, pb.lease_id);
  CAF_CHECK_NOT_EQUAL(pa.lease_id, 100u);
  CAF_CHECK_EQUAL(pa.job_id, "job-100");
  CAF_CHECK(pa.input != pb.input);
  // Both parts are the job's leases now.
  CAF_CHECK_EQUAL(lease_of("job-100").size(), 2u);
  self->send(a, atoms::dispatch_v, testing::ok_outcome(pa, "oa"));
  consume_messages();
  CAF_CHECK(outcomes().empty()); // One part is not the render.
  self->send(b, atoms::dispatch_v, testing::ok_outcome(pb, "ob"));
  consume_messages();
  auto xs = outcomes();
  CAF_REQUIRE_EQUAL(xs.size(), 1u);
  auto out = xs[0];
  CAF_CHECK(out.ok);
  CAF_CHECK_EQUAL(out.lease_id, 100u);
  CAF_CHECK_EQUAL(out.kind, task_kind::render);
  auto want = pa.input == "part-0" ? std::string{"merged:oa,ob|a/w1,b/w1"}
                                   : std::string{"merged:ob,oa|b/w1,a/w1"};
  CAF_CHECK_EQUAL(out.output, want);
  CAF_CHECK(lease_of("job-100").empty());
}

CAF_TEST(a failed part fails the render and cancels the others) {
  auto [a, b] = split_over_a_and_b(*this);
  auto pa = ws(a).running[0].first;
  auto pb = ws(b).running[0].first;
  auto bad = testing::ok_outcome(pa, "");
  bad.ok = false;
  bad.error_code = errc::encoder_failed;
  bad.transient = true;
  bad.error_message = "x264 failed";
  self->send(a, atoms::dispatch_v, bad);
  consume_messages();
  auto xs = outcomes();
  CAF_REQUIRE_EQUAL(xs.size(), 1u);
  auto out = xs[0];
  CAF_CHECK(!out.ok);
  CAF_CHECK_EQUAL(out.lease_id, 100u);
  CAF_CHECK_EQUAL(out.error_code, errc::encoder_failed);
  CAF_CHECK(out.transient);
  CAF_REQUIRE_EQUAL(ws(b).cancels.size(), 1u);
  auto cancelled = ws(b).cancels[0];
  CAF_CHECK_EQUAL(cancelled, pb.lease_id);
  // The other part ends (cancelled): nothing more is answered.
  self->send(b, atoms::dispatch_v, testing::ok_outcome(pb, "late"));
  consume_messages();
  CAF_CHECK(outcomes().empty());
  CAF_CHECK(lease_of("job-100").empty());
}

CAF_TEST(a render spreads over as many free nodes as it has parts) {
  with_split(*this, 3);
  std::vector<testing::fake_worker_actor> ws_;
  for (auto n : {"a", "b", "c", "d"})
    ws_.push_back(
      add_worker(std::string{n} + "/w1", 1, {task_kind::render}, {}, n));
  submit(make_task(100, 0, task_kind::render));
  // Three parts (the split's most), one per node; the fourth node idles.
  size_t running = 0;
  std::set<std::string> inputs;
  for (auto& w : ws_) {
    running += ws(w).running.size();
    for (auto& r : ws(w).running)
      inputs.insert(r.first.input);
  }
  CAF_CHECK_EQUAL(running, 3u);
  CAF_CHECK_EQUAL(inputs,
                  (std::set<std::string>{"part-0", "part-1", "part-2"}));
  CAF_CHECK_EQUAL(lease_of("job-100").size(), 3u);
}

CAF_TEST(a part lost with its node is leased again alone) {
  auto [a, b] = split_over_a_and_b(*this);
  auto pa = ws(a).running[0].first;
  auto pb = ws(b).running[0].first;
  // b dies: its part waits for a node, a's part runs on untouched.
  anon_send_exit(b, exit_reason::kill);
  consume_messages();
  CAF_CHECK(outcomes().empty());
  CAF_CHECK(ws(a).cancels.empty());
  CAF_CHECK_EQUAL(stats().queued, 1u);
  // Node c joins: the lost part, under a new lease id.
  auto c = add_worker("c/w1", 1, {task_kind::render}, {}, "c");
  CAF_REQUIRE_EQUAL(ws(c).running.size(), 1u);
  auto pc = ws(c).running[0].first;
  CAF_CHECK_EQUAL(pc.input, pb.input);
  CAF_CHECK_NOT_EQUAL(pc.lease_id, pb.lease_id);
  CAF_CHECK_NOT_EQUAL(pc.lease_id, pa.lease_id);
  self->send(a, atoms::dispatch_v, testing::ok_outcome(pa, "oa"));
  consume_messages();
  CAF_CHECK(outcomes().empty());
  self->send(c, atoms::dispatch_v, testing::ok_outcome(pc, "oc"));
  consume_messages();
  auto xs = outcomes();
  CAF_REQUIRE_EQUAL(xs.size(), 1u);
  CAF_CHECK(xs[0].ok);
  CAF_CHECK_EQUAL(xs[0].lease_id, 100u);
  auto want = pa.input == "part-0" ? std::string{"merged:oa,oc|a/w1,c/w1"}
                                   : std::string{"merged:oc,oa|c/w1,a/w1"};
  CAF_CHECK_EQUAL(xs[0].output, want);
}

CAF_TEST(a part lost too often fails the render) {
  auto [a, b] = split_over_a_and_b(*this);
  // Lost, leased again (part_retries = 2), twice; the third loss fails
  // the render and cancels the part on a.
  auto victim = b;
  for (auto n : {"c", "d"}) {
    anon_send_exit(victim, exit_reason::kill);
    consume_messages();
    CAF_CHECK(outcomes().empty());
    victim = add_worker(std::string{n} + "/w1", 1, {task_kind::render}, {}, n);
    CAF_CHECK_EQUAL(ws(victim).running.size(), 1u);
  }
  anon_send_exit(victim, exit_reason::kill);
  consume_messages();
  auto xs = outcomes();
  CAF_REQUIRE_EQUAL(xs.size(), 1u);
  CAF_CHECK(!xs[0].ok);
  CAF_CHECK_EQUAL(xs[0].lease_id, 100u);
  CAF_CHECK_EQUAL(xs[0].error_code, errc::worker_lost);
  CAF_CHECK(xs[0].transient);
  CAF_CHECK_EQUAL(ws(a).cancels.size(), 1u);
}

CAF_TEST(the parts of a split render go to different nodes) {
  with_split(*this);
  // Node a has more free slots; still only one part goes there.
  auto a = add_worker("a/w1", 4, {task_kind::render}, {}, "a");
  auto b = add_worker("b/w1", 1, {task_kind::render}, {}, "b");
  submit(make_task(100, 0, task_kind::render));
  CAF_CHECK_EQUAL(ws(a).running.size(), 1u);
  CAF_CHECK_EQUAL(ws(b).running.size(), 1u);
}

CAF_TEST(a cancelled lease is no longer the job and its siblings neither) {
  auto [a, b] = split_over_a_and_b(*this);
  CAF_REQUIRE_EQUAL(lease_of("job-100").size(), 2u);
  auto pa = ws(a).running.at(0).first;
  auto bad = testing::ok_outcome(pa, "");
  bad.ok = false;
  bad.error_code = errc::encoder_failed;
  self->send(a, atoms::dispatch_v, bad);
  consume_messages();
  static_cast<void>(outcomes());
  // The other part still runs on b, cancelled: the upload gate asks
  // lease_of, which must not name it any more.
  CAF_CHECK_EQUAL(ws(b).running.size(), 1u);
  CAF_CHECK(lease_of("job-100").empty());
}

CAF_TEST(a render is not split without two free nodes) {
  with_split(*this);
  auto a = add_worker("a/w1", 2, {task_kind::render}, {}, "a");
  auto t = make_task(100, 0, task_kind::render);
  submit(t);
  CAF_REQUIRE_EQUAL(ws(a).running.size(), 1u);
  auto got = ws(a).running[0].first;
  CAF_CHECK_EQUAL(got.lease_id, 100u);
  CAF_CHECK_EQUAL(got.input, t.input);
}

CAF_TEST(cancelling a split render cancels its parts) {
  auto [a, b] = split_over_a_and_b(*this);
  self->send(disp, atoms::cancel_v, uint64_t{100});
  consume_messages();
  CAF_CHECK_EQUAL(ws(a).cancels.size(), 1u);
  CAF_CHECK_EQUAL(ws(b).cancels.size(), 1u);
}

CAF_TEST(a large render that waited keeps a node for itself) {
  auto w = add_worker("w1", 4, {task_kind::probe, task_kind::render}, {},
                      "n1", 0, 1000);
  auto big = [&](uint64_t lease, uint64_t mb) {
    auto t = make_task(lease, 0, task_kind::render);
    t.memory_mb = mb;
    t.threads = 1;
    t.timeout_ms = 100'000'000; // No lease expires while time is advanced.
    return t;
  };
  submit(big(1, 600));
  submit(big(2, 600)); // Waits for memory.
  // Past reserve_after (30 s): the node is kept for the waiting 600.
  advance_time(31s);
  consume_messages();
  submit(big(3, 300)); // Would fit next to the first: not any more.
  auto probe = make_task(4);
  probe.timeout_ms = 100'000'000;
  submit(probe); // Costs nothing: still runs.
  CAF_REQUIRE_EQUAL(ws(w).running.size(), 2u);
  CAF_CHECK_EQUAL(ws(w).running[0].first.lease_id, 1u);
  CAF_CHECK_EQUAL(ws(w).running[1].first.lease_id, 4u);
  CAF_CHECK_EQUAL(stats().queued, 2u);
  // The first ends: the waiting 600 goes first, the 300 fits beside it.
  self->send(w, atoms::dispatch_v,
             testing::ok_outcome(ws(w).running[0].first, "done"));
  consume_messages();
  CAF_REQUIRE_EQUAL(ws(w).running.size(), 3u);
  CAF_CHECK_EQUAL(ws(w).running[1].first.lease_id, 2u);
  CAF_CHECK_EQUAL(ws(w).running[2].first.lease_id, 3u);
  CAF_CHECK_EQUAL(stats().queued, 0u);
}

CAF_TEST(a reservation holds one node and the others keep working) {
  auto a = add_worker("a/w1", 4, {task_kind::render}, {}, "a", 0, 1000);
  auto b = add_worker("b/w1", 4, {task_kind::render}, {}, "b", 0, 1000);
  auto big = [&](uint64_t lease, uint64_t mb) {
    auto t = make_task(lease, 0, task_kind::render);
    t.memory_mb = mb;
    t.timeout_ms = 100'000'000;
    return t;
  };
  submit(big(1, 600));
  submit(big(2, 600));
  CAF_REQUIRE_EQUAL(ws(a).running.size() + ws(b).running.size(), 2u);
  submit(big(3, 600)); // Fits nowhere now.
  advance_time(31s);
  consume_messages();
  // A small one goes to the node that is not held, and only there.
  submit(big(4, 300));
  auto on_a = ws(a).running.size();
  auto on_b = ws(b).running.size();
  CAF_REQUIRE_EQUAL(on_a + on_b, 3u);
  auto held = on_a == 1 ? a : b;
  CAF_REQUIRE_EQUAL(ws(held).running.size(), 1u);
  // The held node frees up: the waiting 600 goes there.
  self->send(held, atoms::dispatch_v,
             testing::ok_outcome(ws(held).running[0].first, "done"));
  consume_messages();
  CAF_REQUIRE_EQUAL(ws(held).running.size(), 1u);
  CAF_CHECK_EQUAL(ws(held).running[0].first.lease_id, 3u);
  CAF_CHECK_EQUAL(stats().queued, 0u);
}

CAF_TEST(a node admits tasks within its cores and a big one alone) {
  auto w = add_worker("w1", 4, {task_kind::probe, task_kind::render}, {},
                      "n1", 2, 0);
  auto encode = [&](uint64_t lease, uint32_t threads) {
    auto t = make_task(lease, 0, task_kind::render);
    t.threads = threads;
    return t;
  };
  submit(encode(1, 4)); // More than the node has: runs, but alone.
  submit(encode(2, 1));
  submit(make_task(3)); // No cores asked: runs.
  CAF_REQUIRE_EQUAL(ws(w).running.size(), 2u);
  CAF_CHECK_EQUAL(ws(w).running[1].first.lease_id, 3u);
  self->send(w, atoms::dispatch_v,
             testing::ok_outcome(ws(w).running[0].first, "done"));
  consume_messages();
  submit(encode(4, 1));
  // Two one-core encodes on two cores.
  CAF_REQUIRE_EQUAL(ws(w).running.size(), 3u);
  CAF_CHECK_EQUAL(ws(w).running[1].first.lease_id, 2u);
  CAF_CHECK_EQUAL(ws(w).running[2].first.lease_id, 4u);
  submit(encode(5, 1));
  CAF_CHECK_EQUAL(stats().queued, 1u);
}

CAF_TEST(budgets are per node and a big task goes where it fits) {
  auto small = add_worker("small/w1", 2, {task_kind::render}, {}, "small", 0,
                          500);
  auto large = add_worker("large/w1", 2, {task_kind::render}, {}, "large", 0,
                          4000);
  auto t = make_task(1, 0, task_kind::render);
  t.memory_mb = 1500;
  submit(t);
  CAF_CHECK(ws(small).running.empty());
  CAF_REQUIRE_EQUAL(ws(large).running.size(), 1u);
  t = make_task(2, 0, task_kind::render);
  t.memory_mb = 400;
  submit(t);
  CAF_CHECK_EQUAL(ws(small).running.size() + ws(large).running.size(), 2u);
}

CAF_TEST(a task no node can ever admit fails no_worker and says why) {
  add_worker("w1", 2, {task_kind::render}, {}, "n1", 0, 1000);
  auto t = make_task(1, 0, task_kind::render);
  t.memory_mb = 5000;
  submit(t);
  advance_time(300s);
  consume_messages();
  auto xs = outcomes();
  CAF_REQUIRE_EQUAL(xs.size(), 1u);
  CAF_CHECK_EQUAL(xs[0].error_code, errc::no_worker);
  CAF_CHECK(!xs[0].transient);
  auto& msg = xs[0].error_message;
  CAF_MESSAGE(msg);
  CAF_CHECK(msg.find("5000 MiB") != std::string::npos);
  CAF_CHECK(msg.find("1000 MiB") != std::string::npos);
  CAF_CHECK(msg.find("memory_budget") != std::string::npos);
}

CAF_TEST(a join without slots or kinds is refused) {
  auto w = sys.spawn(testing::fake_worker);
  messages::worker_info info;
  info.name = "w";
  self->send(disp, atoms::join_v, messages::worker_actor{w}, info);
  consume_messages();
  error err;
  self->receive([&](bool) {}, [&](error& x) { err = x; },
                after(std::chrono::seconds(0)) >> [] {});
  CAF_CHECK_EQUAL(messages::errc_of(err), errc::invalid_argument);
}

CAF_TEST(a task runs only on a worker with all its labels) {
  auto plain = add_worker("plain", 4);
  auto gpu = add_worker("gpu", 1, {task_kind::probe}, {"gpu", "big-memory"});
  auto t = make_task(1);
  t.labels = {"gpu"};
  submit(t);
  // The plain worker has more free slots but lacks the label.
  CAF_CHECK(ws(plain).running.empty());
  CAF_REQUIRE_EQUAL(ws(gpu).running.size(), 1u);
  // A second gpu task waits for the busy gpu worker.
  auto t2 = make_task(2);
  t2.labels = {"gpu", "big-memory"};
  submit(t2);
  CAF_CHECK_EQUAL(stats().queued, 1u);
  // An unlabelled task still runs on the plain worker meanwhile.
  submit(make_task(3));
  CAF_CHECK_EQUAL(ws(plain).running.size(), 1u);
  self->send(gpu, atoms::dispatch_v,
             testing::ok_outcome(ws(gpu).running[0].first, "x"));
  consume_messages();
  CAF_REQUIRE_EQUAL(ws(gpu).running.size(), 1u);
  CAF_CHECK_EQUAL(ws(gpu).running[0].first.lease_id, 2u);
}

CAF_TEST(a draining node gets no new tasks and reports its leases) {
  auto a = add_worker("a/w1", 2, {task_kind::probe}, {}, "a");
  submit(make_task(1));
  CAF_REQUIRE_EQUAL(ws(a).running.size(), 1u);
  self->send(disp, atoms::drain_v, std::string{"a"});
  consume_messages();
  uint64_t held = 99;
  self->receive([&](uint64_t n) { held = n; },
                after(std::chrono::seconds(0)) >> [] {});
  CAF_CHECK_EQUAL(held, 1u);
  submit(make_task(2));
  CAF_CHECK_EQUAL(ws(a).running.size(), 1u); // free slot, but draining
  CAF_CHECK_EQUAL(stats().queued, 1u);
  CAF_CHECK_EQUAL(stats().free_slots, 0u);
  auto b = add_worker("b/w1", 1, {task_kind::probe}, {}, "b");
  CAF_REQUIRE_EQUAL(ws(b).running.size(), 1u);
  CAF_CHECK_EQUAL(ws(b).running[0].first.lease_id, 2u);
  self->send(a, atoms::dispatch_v,
             testing::ok_outcome(ws(a).running[0].first, "x"));
  consume_messages();
  static_cast<void>(outcomes());
  self->send(disp, atoms::drain_v, std::string{"a"});
  consume_messages();
  self->receive([&](uint64_t n) { held = n; },
                after(std::chrono::seconds(0)) >> [] {});
  CAF_CHECK_EQUAL(held, 0u);
}

CAF_TEST(a local lease costs no presign) {
  anon_send_exit(disp, exit_reason::user_shutdown);
  actors::dispatcher_config cfg;
  auto presigns = std::make_shared<size_t>(0);
  cfg.presigner = sys.spawn(
    [presigns]() -> messages::presigner_actor::behavior_type {
      return {
        [presigns](atoms::presign, const messages::object_ref& obj) {
          ++*presigns;
          return "http://store/" + obj.key;
        },
        [presigns](atoms::presign_put,
                   const std::vector<messages::object_ref>& objs, uint64_t) {
          ++*presigns;
          return std::vector<std::string>(objs.size(), "http://store/put");
        },
      };
    });
  disp = sys.spawn(actors::dispatcher, cfg);
  consume_messages();
  auto w = add_worker("w1", 1);
  auto t = make_task(7);
  t.object.key = "uploads/job-7/a.mp4";
  submit(t);
  // Same actor system: the worker reads the store itself, straight from
  // the dispatcher (no relay, no presigner hop).
  CAF_REQUIRE_EQUAL(ws(w).running.size(), 1u);
  CAF_CHECK_EQUAL(ws(w).running[0].first.lease_id, 7u);
  CAF_CHECK_EQUAL(ws(w).running[0].first.object.url, "");
  CAF_CHECK_EQUAL(*presigns, 0u);
  // Nor a local render: it stores its outputs itself.
  auto r = add_worker("r1", 1, {task_kind::render});
  auto render = make_task(8, 0, task_kind::render);
  render.outputs = {{"uploads", "outputs/job-8/small.jpg", {}, {}, 0, {}, {}}};
  submit(render);
  CAF_REQUIRE_EQUAL(ws(r).running.size(), 1u);
  auto got = ws(r).running[0].first;
  CAF_REQUIRE_EQUAL(got.outputs.size(), 1u);
  auto out = got.outputs[0];
  CAF_CHECK_EQUAL(out.url, "");
  CAF_CHECK_EQUAL(*presigns, 0u);
  anon_send_exit(cfg.presigner, exit_reason::user_shutdown);
}

CAF_TEST(drain is answered when the last lease ends) {
  auto w = add_worker("w1", 2);
  // No lease: answered at once.
  self->send(disp, atoms::drain_v);
  consume_messages();
  uint64_t left = 99;
  self->receive([&](uint64_t n) { left = n; },
                after(std::chrono::seconds(0)) >> [] {});
  CAF_CHECK_EQUAL(left, 0u);
  submit(make_task(1));
  submit(make_task(2));
  CAF_REQUIRE_EQUAL(ws(w).running.size(), 2u);
  self->send(disp, atoms::drain_v);
  consume_messages();
  bool answered = false;
  self->receive([&](uint64_t) { answered = true; },
                after(std::chrono::seconds(0)) >> [] {});
  CAF_CHECK(!answered); // two leases still held
  self->send(w, atoms::dispatch_v,
             testing::ok_outcome(ws(w).running[0].first, "x"));
  consume_messages();
  static_cast<void>(outcomes());
  self->receive([&](uint64_t) { answered = true; },
                after(std::chrono::seconds(0)) >> [] {});
  CAF_CHECK(!answered); // one left
  self->send(w, atoms::dispatch_v,
             testing::ok_outcome(ws(w).running[1].first, "x"));
  consume_messages();
  static_cast<void>(outcomes());
  left = 99;
  self->receive([&](uint64_t n) { left = n; answered = true; },
                after(std::chrono::seconds(0)) >> [] {});
  CAF_CHECK(answered);
  CAF_CHECK_EQUAL(left, 0u);
}

CAF_TEST(drained is answered when the last lease of the node ends) {
  auto a = add_worker("a/w1", 2, {task_kind::probe}, {}, "a");
  auto b = add_worker("b/w1", 1, {task_kind::probe}, {}, "b");
  submit(make_task(1));
  submit(make_task(2));
  submit(make_task(3));
  CAF_REQUIRE_EQUAL(ws(a).running.size(), 2u);
  CAF_REQUIRE_EQUAL(ws(b).running.size(), 1u);
  auto next = [&] {
    std::optional<uint64_t> got;
    self->receive([&](uint64_t n) { got = n; },
                  after(std::chrono::seconds(0)) >> [] {});
    return got;
  };
  // A node without leases: answered at once.
  self->send(disp, atoms::drained_v, std::string{"c"});
  consume_messages();
  CAF_CHECK(next() == std::optional<uint64_t>{0});
  self->send(disp, atoms::drain_v, std::string{"a"});
  consume_messages();
  CAF_CHECK(next() == std::optional<uint64_t>{2});
  self->send(disp, atoms::drained_v, std::string{"a"});
  consume_messages();
  CAF_CHECK(!next());
  // Another node's lease ending is not a's.
  self->send(b, atoms::dispatch_v,
             testing::ok_outcome(ws(b).running[0].first, "x"));
  consume_messages();
  static_cast<void>(outcomes());
  CAF_CHECK(!next());
  self->send(a, atoms::dispatch_v,
             testing::ok_outcome(ws(a).running[0].first, "x"));
  consume_messages();
  static_cast<void>(outcomes());
  CAF_CHECK(!next()); // one left
  self->send(a, atoms::dispatch_v,
             testing::ok_outcome(ws(a).running[1].first, "x"));
  consume_messages();
  static_cast<void>(outcomes());
  CAF_CHECK(next() == std::optional<uint64_t>{0});
}

CAF_TEST(an outcome must answer the lease it was given for) {
  auto w = add_worker("w1", 2);
  submit(make_task(8));
  submit(make_task(9));
  CAF_REQUIRE_EQUAL(ws(w).running.size(), 2u);
  // The worker answers lease 8 with job 9's id (and lease 9's id): the
  // dispatcher must not pass that on as job 9's result.
  auto forged = testing::ok_outcome(ws(w).running[1].first, "{stolen}");
  self->send(w, atoms::dispatch_v, uint64_t{8}, forged);
  consume_messages();
  auto xs = outcomes();
  CAF_REQUIRE_EQUAL(xs.size(), 1u);
  CAF_CHECK_EQUAL(xs[0].job_id, "job-8");
  CAF_CHECK_EQUAL(xs[0].lease_id, 8u);
  CAF_CHECK(!xs[0].ok);
  CAF_CHECK_EQUAL(xs[0].error_code, messages::errc::forbidden);
  CAF_CHECK(xs[0].output.empty());
  CAF_CHECK_EQUAL(xs[0].worker, "w1");
  // Lease 9 still stands: only its own answer ends it.
  CAF_CHECK_EQUAL(stats().leased, 1u);
  // Another step of the same job is refused too.
  CAF_REQUIRE_EQUAL(ws(w).running.size(), 1u);
  auto other_step = testing::ok_outcome(ws(w).running[0].first, "x");
  other_step.kind = task_kind::summarize;
  self->send(w, atoms::dispatch_v, uint64_t{9}, other_step);
  consume_messages();
  xs = outcomes();
  CAF_REQUIRE_EQUAL(xs.size(), 1u);
  CAF_CHECK_EQUAL(xs[0].lease_id, 9u);
  CAF_CHECK(!xs[0].ok);
  CAF_CHECK_EQUAL(xs[0].kind, task_kind::probe);
}

CAF_TEST_FIXTURE_SCOPE_END()
