// vf/runtime/coordinator_link.cpp

#include "vf/runtime/coordinator_link.hpp"

#include "vf/messages/cluster_registry_actor.hpp"
#include "vf/messages/errc.hpp"
#include "vf/runtime/cluster.hpp"
#include "vf/runtime/drain_command.hpp"

#include "caf/event_based_actor.hpp"
#include "caf/scoped_actor.hpp"
#include "caf/send.hpp"

#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <chrono>
#include <csignal>
#include <random>

namespace vf::runtime {

namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

/// How long one request to the coordinator may take.
constexpr auto call_timeout = 10s;

/// Tells the node's main loop to stop: a signal number, or 0 when a kept
/// actor failed. Local only (never registered, so no peer can send it).
struct stop_signal {
  int sig = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, stop_signal& x) {
  return f(caf::meta::type_name("stop_signal"), x.sig);
}

/// The coordinator's answer to `(drained, name)`, passed on to the node's
/// main loop (local only, like `stop_signal`): `ok`, or why not.
struct drain_answer {
  bool ok = false;
  bool timed_out = false;
  std::string why;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, drain_answer& x) {
  return f(caf::meta::type_name("drain_answer"), x.ok, x.timed_out, x.why);
}

} // namespace

void run_coordinator_link(node& n, const worker_node_config& cfg,
                          const std::vector<worker_slot>& slots) {
  auto& sys = n.system();
  auto& log = n.log();
  caf::scoped_actor self{sys};
  int sig = 0; // SIGINT/SIGTERM, or -1 after a kept actor failed
  auto on_stop = [&](stop_signal& x) { sig = x.sig != 0 ? x.sig : -1; };
  // Waits `d` unless a stop arrives first; returns it (0: none).
  auto nap = [&](milliseconds d) {
    int got = 0;
    self->receive([&](stop_signal& x) { got = x.sig != 0 ? x.sig : -1; },
                  caf::after(d) >> [] {});
    return got;
  };
  // Signals (and a failed actor, as 0) arrive in the receive loops below.
  n.forward_signals([hdl = caf::actor{self}](int sig) {
    caf::anon_send(hdl, stop_signal{sig});
  });
  auto agent = caf::actor_cast<messages::node_actor>(
    caf::actor_cast<caf::actor>(self));
  std::minstd_rand rng{std::random_device{}()};
  auto backoff = 200ms;
  auto next_wait = [&] {
    // Equal jitter: half fixed, half random, so restarted workers spread.
    auto half = backoff / 2;
    std::uniform_int_distribution<int64_t> pick{0, half.count()};
    auto wait = half + milliseconds{pick(rng)};
    backoff = std::min<milliseconds>(backoff * 2, cfg.reconnect_max);
    return wait;
  };
  messages::cluster_registry_actor reg;
  bool connected = false;
  auto& link_gauge = prometheus::BuildGauge()
                       .Name("vidflow_node_coordinator_connected")
                       .Help("1 while this worker node is registered with "
                             "its coordinator, 0 while it reconnects")
                       .Register(*n.metrics())
                       .Add({{"node", cfg.name}});
  prometheus::BuildGauge()
    .Name("vidflow_node_worker_slots")
    .Help("Task slots of this worker node")
    .Register(*n.metrics())
    .Add({{"node", cfg.name}})
    .Set(static_cast<double>(cfg.slots));
  bool leaving = false;
  log.info("worker", "node " + cfg.name + ": " + std::to_string(cfg.slots)
                       + " slots, joining " + coordinator_address(cfg));
  // Registers with a freshly connected registry; false if it refused.
  auto register_node = [&]() -> bool {
    caf::error err;
    self->request(reg, call_timeout, atoms::hello_v, agent, cfg.name)
      .receive([](bool) {}, [&](caf::error& e) { err = std::move(e); });
    if (err) {
      log.error("worker", "the coordinator refused node " + cfg.name + ": "
                            + messages::message_of(err));
      return false;
    }
    // Results first: they may finish jobs the coordinator would otherwise
    // hand to a worker again.
    std::vector<messages::task_outcome> outs;
    for (auto& s : slots)
      self->request(s.worker, call_timeout, atoms::flush_v)
        .receive(
          [&](std::vector<messages::task_outcome>& xs) {
            for (auto& x : xs)
              outs.push_back(std::move(x));
          },
          [](caf::error&) {});
    if (!outs.empty())
      self->request(reg, call_timeout, atoms::report_v, outs)
        .receive(
          [&](uint64_t n) {
            log.info("worker", "re-reported " + std::to_string(outs.size())
                                 + " recent results (answers may have been "
                                   "lost); "
                                 + std::to_string(n) + " were new to it");
          },
          [&](caf::error& e) {
            log.warn("worker", "could not report results: "
                                 + messages::message_of(e));
          });
    for (auto& s : slots) {
      self
        ->request(reg, call_timeout, atoms::join_v,
                  messages::worker_actor{s.worker}, s.info)
        .receive([](bool) {}, [&](caf::error& e) { err = std::move(e); });
      if (err) {
        log.error("worker", "the coordinator refused worker " + s.info.name
                              + ": " + messages::message_of(err));
        return false;
      }
    }
    return true;
  };
  while (!leaving && sig == 0) {
    if (!connected) {
      auto r = connect_registry(sys, cfg.cluster);
      if (!r) {
        auto wait = next_wait();
        log.warn("worker", "cannot reach the coordinator at " + coordinator_address(cfg)
                             + ": " + sys.render(r.error()) + "; retrying in "
                             + std::to_string(wait.count()) + " ms");
        sig = nap(wait);
        continue;
      }
      reg = *r;
      self->monitor(reg);
      if (!register_node()) {
        self->demonitor(reg.address());
        sig = nap(next_wait());
        continue;
      }
      connected = true;
      link_gauge.Set(1);
      backoff = 200ms;
      log.info("worker", "registered " + std::to_string(slots.size())
                           + " workers with the coordinator at "
                           + coordinator_address(cfg));
    }
    self->receive(
      [&](caf::down_msg& dm) {
        if (dm.source != reg.address())
          return;
        connected = false;
        link_gauge.Set(0);
        log.warn("worker", "lost the coordinator (" + to_string(dm.reason)
                             + "); running tasks go on, results are kept "
                               "and reported after reconnecting");
        // The middleman forgets a dead connection only after its own down
        // message: reconnecting at once would get the stale handle back.
        sig = nap(100ms + next_wait());
      },
      [&](atoms::leave) {
        // Only the coordinator's registry holds this agent's handle; refuse
        // anything else that found it.
        if (caf::actor_cast<caf::actor_addr>(self->current_sender())
            != reg.address()) {
          log.warn("worker", "ignored a leave that did not come from the "
                             "coordinator");
          return;
        }
        log.info("worker", "the coordinator drained this node; leaving");
        leaving = true;
      },
      on_stop);
  }
  if (sig > 0 && connected) {
    log.info("worker", std::string{"received "}
                         + (sig == SIGINT ? "SIGINT" : "SIGTERM")
                         + ": draining (no new tasks, finishing leased ones)");
    uint64_t held = 0;
    bool ok = false;
    self->request(reg, call_timeout, atoms::drain_v, cfg.name)
      .receive(
        [&](uint64_t n) {
          held = n;
          ok = true;
        },
        [&](caf::error& e) {
          log.warn("worker", "drain: " + messages::message_of(e));
        });
    if (ok && held > 0) {
      // The coordinator answers `drained` when this node's last lease
      // ended; a helper waits for it, so this loop still hears a second
      // signal or the coordinator going away. No polling.
      sys.spawn([reg, me = caf::actor{self}, name = cfg.name,
                 limit = cfg.drain_timeout](caf::event_based_actor* a) {
        a->request(reg, limit, atoms::drained_v, name)
          .then(
            [a, me](uint64_t) { a->send(me, drain_answer{true, false, {}}); },
            [a, me](caf::error& e) {
              a->send(me, drain_answer{false, e == caf::sec::request_timeout,
                                       messages::message_of(e)});
            });
      });
      for (bool waiting = true; waiting;) {
        self->receive(
          [&](drain_answer& x) {
            waiting = false;
            if (x.timed_out)
              log.warn("worker", "drain: " + std::to_string(held)
                                   + " tasks still leased after the drain "
                                     "timeout; leaving, the coordinator "
                                     "hands them on");
            else if (!x.ok)
              log.warn("worker", "drain: " + x.why);
          },
          [&](stop_signal&) {
            waiting = false;
            log.warn("worker", "second signal: leaving without waiting");
          },
          [&](caf::down_msg& dm) {
            if (dm.source != reg.address())
              return;
            waiting = false;
            connected = false;
            link_gauge.Set(0);
            log.warn("worker", "lost the coordinator while draining; "
                               "leaving, it hands the leases on");
          });
      }
    }
  }
  if (connected)
    self->demonitor(reg.address());
}

} // namespace vf::runtime
