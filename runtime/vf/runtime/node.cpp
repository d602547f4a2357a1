// vf/runtime/node.cpp

#include "vf/runtime/node.hpp"

#include "vf/runtime/cluster.hpp"
#include "vf/runtime/command.hpp"

#include "caf/exit_reason.hpp"
#include "caf/scoped_actor.hpp"
#include "caf/send.hpp"

#include <prometheus/registry.h>

#include <algorithm>
#include <malloc.h>
#include <pthread.h>

namespace vf::runtime {

namespace {

using namespace std::chrono_literals;

/// How long one tier may take to end after its exit messages.
constexpr auto tier_timeout = 10s;

const char* tier_name(tier x) {
  switch (x) {
    case tier::edge:
      return "edge";
    case tier::domain:
      return "domain";
    default:
      return "store";
  }
}

} // namespace

node::node(caf::actor_system_config& cfg, logger& log, std::string role)
  : sigs_(block_stop_signals()),
    log_(log),
    role_(std::move(role)),
    metrics_(std::make_shared<prometheus::Registry>()),
    sys_(cfg) {
  if (sys_.has_middleman())
    exempt_caf_network_from_leak_check(sys_);
  // Nothing else: signals were blocked before the actor system's threads
  // started (they inherit the mask), so only `wait`'s thread takes them.
}

node::~node() {
  stop();
  {
    std::lock_guard<std::mutex> guard{mtx_};
    signal_thread_done_ = true;
  }
  if (signal_thread_.joinable()) {
    // The thread sits in sigwait for SIGTERM: a thread-directed SIGTERM
    // wakes it, and it sees that the node is done.
    pthread_kill(signal_thread_.native_handle(), SIGTERM);
    signal_thread_.join();
  }
}

void node::watch(const std::string& name, tier where,
                 std::vector<caf::actor> hdls, int group,
                 uint64_t generation) {
  for (auto& hdl : hdls) {
    if (!hdl)
      continue;
    auto addr = hdl.address();
    {
      std::lock_guard<std::mutex> guard{mtx_};
      members_[addr] = member{name, where, hdl, group, generation};
    }
    // Runs on the thread that ends the actor (or at once if it is gone).
    hdl->attach_functor(
      [this, addr](const caf::error& reason) { exited(addr, reason); });
  }
}

void node::keep_restartable(const std::string& name, tier where,
                            std::function<std::vector<caf::actor>()> make,
                            size_t max_restarts) {
  auto hdls = make();
  int index;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    index = static_cast<int>(groups_.size());
    groups_.push_back(group{name, where, std::move(make), max_restarts, 0, {}});
  }
  watch(name, where, std::move(hdls), index, 0);
}

void node::exited(const caf::actor_addr& who, const caf::error& reason) {
  std::unique_lock<std::mutex> guard{mtx_};
  auto i = members_.find(who);
  if (i == members_.end())
    return;
  auto m = std::move(i->second);
  members_.erase(i);
  if (stopping_) {
    cv_.notify_all(); // stop_tier counts what is left
    return;
  }
  if (m.group >= 0) {
    auto& g = groups_[static_cast<size_t>(m.group)];
    if (m.generation != g.generation)
      return; // An old member the restart below stopped on purpose.
    auto now = std::chrono::steady_clock::now();
    auto& rs = g.restarts;
    rs.erase(std::remove_if(rs.begin(), rs.end(),
                            [now](auto t) { return now - t > 60s; }),
             rs.end());
    if (rs.size() < g.max_restarts) {
      rs.push_back(now);
      ++g.generation;
      guard.unlock();
      log_.warn(role_, m.name + " exited unexpectedly ("
                         + caf::to_string(reason) + "); restarting it");
      restart(m.group);
      return;
    }
    guard.unlock();
    log_.error(role_, m.name + " exited unexpectedly ("
                        + caf::to_string(reason) + ") "
                        + std::to_string(g.max_restarts)
                        + " times within a minute; stopping the node");
    guard.lock();
  } else {
    guard.unlock();
    log_.error(role_, m.name + " exited unexpectedly ("
                        + caf::to_string(reason) + "); stopping the node");
    guard.lock();
  }
  failed_ = true;
  auto forward = forward_;
  guard.unlock();
  cv_.notify_all();
  if (forward)
    forward(0); // A role's own loop hears of the failure like a signal.
}

void node::restart(int index) {
  std::vector<caf::actor> old;
  std::function<std::vector<caf::actor>()> make;
  std::string name;
  tier where;
  uint64_t generation;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    auto& g = groups_[static_cast<size_t>(index)];
    make = g.make;
    name = g.name;
    where = g.where;
    generation = g.generation;
    for (auto& [addr, m] : members_)
      if (m.group == index)
        old.push_back(m.hdl);
  }
  for (auto& hdl : old)
    caf::anon_send_exit(hdl, caf::exit_reason::user_shutdown);
  watch(name, where, make(), index, generation);
}

void node::on_stop(tier where, std::function<void()> fn) {
  std::lock_guard<std::mutex> guard{mtx_};
  stops_.emplace(where, std::move(fn));
}

void node::drain_before_stop(messages::dispatcher_node_actor d,
                             std::chrono::milliseconds timeout) {
  drain_from_ = std::move(d);
  drain_timeout_ = timeout;
}

void node::start_signal_thread() {
  if (signal_thread_.joinable())
    return;
  signal_thread_ = std::thread{[this] {
    for (;;) {
      int sig = 0;
      sigwait(&sigs_, &sig);
      std::unique_lock<std::mutex> guard{mtx_};
      if (signal_thread_done_)
        return;
      signal_ = sig;
      auto forward = forward_;
      guard.unlock();
      cv_.notify_all();
      if (forward)
        forward(sig);
    }
  }};
}

int node::wait() {
  start_signal_thread();
  std::unique_lock<std::mutex> guard{mtx_};
  auto done = [this] { return signal_ != 0 || failed_; };
  while (!done()) {
    if (trim_every_.count() == 0) {
      cv_.wait(guard, done);
      break;
    }
    if (cv_.wait_for(guard, trim_every_, done))
      break;
    // This thread has nothing else to do, so the trim (a walk over the
    // heaps' free chunks) delays no request; threads that allocate
    // meanwhile wait for one arena at a time.
    guard.unlock();
    malloc_trim(0);
    guard.lock();
    ++trims_;
  }
  return failed_ ? 0 : signal_;
}

void node::trim_memory_every(std::chrono::seconds interval) {
  std::lock_guard<std::mutex> guard{mtx_};
  trim_every_ = interval;
}

uint64_t node::memory_trims() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return trims_;
}

void node::forward_signals(std::function<void(int)> fn) {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    forward_ = std::move(fn);
  }
  start_signal_thread();
}

void node::stop_tier(tier where) {
  // Listeners of the tier first (reverse order of registration).
  std::vector<std::function<void()>> fns;
  std::vector<caf::actor> hdls;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    auto [lo, hi] = stops_.equal_range(where);
    for (auto i = lo; i != hi; ++i)
      fns.insert(fns.begin(), i->second);
    for (auto& [addr, m] : members_)
      if (m.where == where)
        hdls.push_back(m.hdl);
  }
  for (auto& fn : fns)
    fn();
  // A normal-priority exit: each actor first handles what its mailbox
  // already holds (a store commits the writes the domain sent it).
  for (auto& hdl : hdls)
    caf::anon_send_exit(hdl, caf::exit_reason::user_shutdown);
  hdls.clear(); // Our references must not keep them alive.
  std::unique_lock<std::mutex> guard{mtx_};
  auto left = [&] {
    size_t n = 0;
    for (auto& [addr, m] : members_)
      n += m.where == where ? 1 : 0;
    return n;
  };
  if (!cv_.wait_for(guard, tier_timeout, [&] { return left() == 0; })) {
    auto n = left();
    guard.unlock();
    log_.warn(role_, std::to_string(n) + " " + tier_name(where)
                       + " actor(s) did not stop within "
                       + std::to_string(tier_timeout.count()) + " s");
  }
}

void node::stop() {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (stopping_)
      return;
    stopping_ = true;
  }
  stop_tier(tier::edge);
  if (drain_from_) {
    // Leased tasks finish so their results are recorded; queued ones stay
    // in the store and resume on the next start.
    caf::scoped_actor self{sys_};
    self->request(drain_from_, drain_timeout_, atoms::drain_v)
      .receive([](uint64_t) {},
               [this](caf::error& err) {
                 log_.warn(role_, "leases still held when the drain ended: "
                                    + caf::to_string(err));
               });
  }
  stop_tier(tier::domain);
  stop_tier(tier::store);
  // Drop every handle the node holds (restart closures included): a
  // detached actor's thread ends only when its last reference is gone, and
  // the actor system waits for those threads. Destroyed outside the lock.
  std::map<caf::actor_addr, member> members;
  std::vector<group> groups;
  std::multimap<tier, std::function<void()>> stops;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    members.swap(members_);
    groups.swap(groups_);
    stops.swap(stops_);
    stopped_ = true;
  }
  drain_from_ = nullptr;
}

int node::exit_code() const {
  return failed() ? 1 : 0;
}

bool node::failed() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return failed_;
}

} // namespace vf::runtime
