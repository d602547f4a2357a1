// vf/runtime/drain_command.cpp

#include "vf/runtime/drain_command.hpp"

#include "vf/messages/cluster_registry_actor.hpp"
#include "vf/messages/errc.hpp"
#include "vf/runtime/cluster.hpp"

#include "caf/scoped_actor.hpp"

#include <chrono>
#include <iostream>
#include <thread>

namespace vf::runtime {

namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

/// How long one request to the coordinator may take.
constexpr auto call_timeout = 10s;

/// Returns the pending SIGINT/SIGTERM, or 0; never blocks.
int pending_signal(const sigset_t& sigs) {
  timespec zero{0, 0};
  auto sig = sigtimedwait(&sigs, nullptr, &zero);
  return sig > 0 ? sig : 0;
}

/// Sleeps `d` in small steps; returns a signal that arrived meanwhile.
int nap(milliseconds d, const sigset_t& sigs) {
  auto until = steady_clock::now() + d;
  while (steady_clock::now() < until) {
    if (auto sig = pending_signal(sigs))
      return sig;
    std::this_thread::sleep_for(std::min<milliseconds>(
      50ms, std::chrono::duration_cast<milliseconds>(until
                                                     - steady_clock::now())
              + 1ms));
  }
  return 0;
}


} // namespace

std::string coordinator_address(const worker_node_config& cfg) {
  return cfg.cluster.host + ":" + std::to_string(cfg.cluster.port);
}

int drain_remote(caf::actor_system& sys, const worker_node_config& cfg,
                 const sigset_t& sigs) {
  auto reg = connect_registry(sys, cfg.cluster);
  if (!reg) {
    std::cerr << "vidflow worker --drain: cannot reach the coordinator at "
              << coordinator_address(cfg) << ": " << sys.render(reg.error())
              << "\n(check --join, and that --cluster-ca/--cluster-cert/"
                 "--cluster-key are from the cluster's CA)\n";
    return 1;
  }
  caf::scoped_actor self{sys};
  // Another node's drain needs the operator's admin key: each request is
  // signed with the time, so a captured one is useless a minute later.
  auto& key = cfg.cluster.admin_key;
  auto signed_at = [] {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch())
      .count();
  };
  auto deadline = steady_clock::now() + cfg.drain_timeout;
  uint64_t last = UINT64_MAX;
  for (;;) {
    caf::error err;
    uint64_t held = 0;
    auto on_held = [&](uint64_t n) { held = n; };
    auto on_err = [&](caf::error& e) { err = std::move(e); };
    if (key.empty()) {
      self->request(*reg, call_timeout, atoms::drain_v, cfg.name)
        .receive(on_held, on_err);
    } else {
      int64_t at = signed_at();
      auto mac = admin_mac(key, messages::admin_payload("drain", cfg.name,
                                                        at));
      self->request(*reg, call_timeout, atoms::drain_v, cfg.name, at, mac)
        .receive(on_held, on_err);
    }
    if (err) {
      std::cerr << "vidflow worker --drain: " << messages::message_of(err)
                << "\n";
      if (messages::errc_of(err) == messages::errc::forbidden)
        std::cerr << "(a cluster certificate lets a node drain only itself; "
                     "an operator passes --cluster-admin-key)\n";
      return 1;
    }
    if (held != last)
      std::cout << "node " << cfg.name << ": " << held
                << " leased task(s) left" << std::endl;
    last = held;
    if (held == 0)
      break;
    if (steady_clock::now() > deadline) {
      std::cerr << "vidflow worker --drain: node " << cfg.name
                << " still holds " << held << " task(s) after "
                << cfg.drain_timeout.count() / 1000
                << " s; it stays drained (no new tasks). Run again to wait "
                   "longer.\n";
      return 1;
    }
    if (nap(250ms, sigs) != 0) {
      std::cerr << "vidflow worker --drain: interrupted; node " << cfg.name
                << " stays drained\n";
      return 1;
    }
  }
  bool ok = false;
  auto on_left = [&](bool) { ok = true; };
  auto on_refused = [&](caf::error& e) {
    std::cerr << "vidflow worker --drain: " << messages::message_of(e) << "\n";
  };
  if (key.empty()) {
    self->request(*reg, call_timeout, atoms::leave_v, cfg.name)
      .receive(on_left, on_refused);
  } else {
    int64_t at = signed_at();
    auto mac = admin_mac(key, messages::admin_payload("leave", cfg.name, at));
    self->request(*reg, call_timeout, atoms::leave_v, cfg.name, at, mac)
      .receive(on_left, on_refused);
  }
  if (ok)
    std::cout << "node " << cfg.name << " drained; told it to leave"
              << std::endl;
  return ok ? 0 : 1;
}


} // namespace vf::runtime
