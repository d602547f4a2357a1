// vf/runtime/worker_node.cpp

#include "vf/runtime/worker_node.hpp"

#include "vf/actors/worker.hpp"
#include "vf/adapters/media/libav_media.hpp"
#include "vf/adapters/s3/client.hpp"
#include "vf/adapters/summarizer/mock_summarizer.hpp"
#include "vf/messages/cluster_registry_actor.hpp"
#include "vf/messages/errc.hpp"
#include "vf/messages/register_types.hpp"
#include "vf/runtime/cluster.hpp"
#include "vf/runtime/command.hpp"
#include "vf/runtime/logger.hpp"
#include "vf/runtime/node_config.hpp"

#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "caf/scoped_actor.hpp"

#include <chrono>
#include <csignal>
#include <iostream>
#include <random>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace vf::runtime {

namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

/// How long one request to the coordinator may take.
constexpr auto call_timeout = 10s;

void print_help() {
  std::cout
    << "Usage: vidflow worker --join HOST:PORT [--config FILE] [options]\n"
       "       vidflow worker --join HOST:PORT --drain --name NODE [TLS "
       "options]\n\n"
       "Runs a worker node: joins the coordinator's cluster port (vidflow\n"
       "serve --cluster-port) over mutual TLS, registers --slots workers\n"
       "with their task kinds and labels, and runs the tasks the coordinator\n"
       "leases to them. If the coordinator goes away the node keeps its\n"
       "results, reconnects with backoff and reports them. SIGINT or SIGTERM\n"
       "drains the node: it takes no new tasks, finishes the leased ones and\n"
       "leaves.\n\n"
       "With --drain, asks the coordinator to drain the node named --name\n"
       "(running elsewhere), waits until its tasks are done, then tells it\n"
       "to leave. Draining another node is an operator's command: it needs\n"
       "--cluster-admin-key (a cluster certificate alone is refused).\n\n"
       "Every option is also a config-file key and an environment variable;\n"
       "flags win over the environment, which wins over the file.\n\n"
       "Options:\n"
    << usage(worker_specs())
    << "  --drain                       drain the node --name and exit\n"
       "  --print-config                print the effective settings and "
       "exit\n"
       "  -h, --help                    show this help\n";
}

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

std::string where(const worker_node_config& cfg) {
  return cfg.cluster.host + ":" + std::to_string(cfg.cluster.port);
}

/// `--drain`: drains another node through the coordinator.
int drain_remote(caf::actor_system& sys, const worker_node_config& cfg,
                 const sigset_t& sigs) {
  auto reg = connect_registry(sys, cfg.cluster);
  if (!reg) {
    std::cerr << "vidflow worker --drain: cannot reach the coordinator at "
              << where(cfg) << ": " << sys.render(reg.error())
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

/// One local worker with its ports.
struct slot {
  actors::worker_impl_actor worker;
  messages::worker_info info;
};

} // namespace

int worker_node(const std::vector<std::string>& raw_args) {
  auto cmd = parse_command_line(raw_args, {"--drain"});
  if (cmd.help) {
    print_help();
    return 0;
  }
  bool drain = cmd.has("--drain");
  int exit_code = 0;
  auto xs = load_settings("worker", worker_specs(), cmd, exit_code);
  if (!xs)
    return exit_code;
  auto cfg = make_worker_config(*xs);
  if (!cfg) {
    std::cerr << "vidflow worker: " << messages::message_of(cfg.error())
              << "\n";
    return 2;
  }
  logger log;
  log.set_level(cfg->level);
  auto sigs = block_stop_signals();

  caf::actor_system_config sys_cfg;
  configure_actor_system(sys_cfg, cfg->scheduler, cfg->scheduler_threads);
  enable_cluster(sys_cfg, cfg->cluster);
  caf::actor_system sys{sys_cfg};
  if (drain)
    return drain_remote(sys, *cfg, sigs);

  auto tmp = cfg->data_dir + "/tmp";
  ::umask(077); // Downloaded uploads are readable by this node only.
  if (!make_dirs(tmp)) {
    std::cerr << "vidflow worker: setting data.dir: cannot create '" << tmp
              << "'\n";
    return 2;
  }
  std::vector<caf::actor> actors;
  auto keep = [&](auto hdl) {
    actors.push_back(caf::actor_cast<caf::actor>(hdl));
    return hdl;
  };
  auto stop_all = [&] {
    for (auto& a : actors)
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  };
  std::vector<messages::task_kind> kinds;
  for (auto& k : cfg->kinds) {
    messages::task_kind kind;
    if (from_string(k, kind))
      kinds.push_back(kind);
  }
  auto summarizer = keep(adapters::summarizer::spawn_mock_summarizer(sys));
  std::vector<slot> slots;
  for (uint32_t i = 0; i < cfg->slots; ++i) {
    // One download file per slot: its media actor probes one at a time.
    auto path = tmp + "/slot-" + std::to_string(i + 1) + ".object";
    adapters::media::object_resolver resolve
      = [path](const messages::object_ref& obj,
               milliseconds timeout) -> caf::expected<std::string> {
      if (obj.url.empty())
        return messages::make_error(messages::errc::not_found,
                                    "object " + obj.bucket + "/" + obj.key
                                      + " came without a download URL");
      auto info = adapters::s3::get_url_to_file(obj.url, path,
                                                timeout.count());
      if (!info)
        return info.error();
      return path;
    };
    auto media = adapters::media::spawn_media_actor(sys, resolve);
    keep(media.media);
    keep(media.control);
    actors::worker_config wcfg;
    wcfg.name = cfg->name + "/worker-" + std::to_string(i + 1);
    wcfg.media = media.media;
    wcfg.media_control = media.control;
    wcfg.summarizer = summarizer;
    slot s;
    s.worker = keep(sys.spawn(actors::worker, wcfg));
    s.info.name = wcfg.name;
    s.info.node = cfg->name;
    s.info.kinds = kinds;
    s.info.slots = 1;
    s.info.labels = cfg->labels;
    slots.push_back(std::move(s));
  }

  caf::scoped_actor self{sys};
  auto agent = caf::actor_cast<messages::node_actor>(
    caf::actor_cast<caf::actor>(self));
  std::minstd_rand rng{std::random_device{}()};
  auto backoff = 200ms;
  auto next_wait = [&] {
    // Equal jitter: half fixed, half random, so restarted workers spread.
    auto half = backoff / 2;
    std::uniform_int_distribution<int64_t> pick{0, half.count()};
    auto wait = half + milliseconds{pick(rng)};
    backoff = std::min<milliseconds>(backoff * 2, cfg->reconnect_max);
    return wait;
  };
  messages::cluster_registry_actor reg;
  bool connected = false;
  bool leaving = false;
  int sig = 0;
  log.info("worker", "node " + cfg->name + ": " + std::to_string(cfg->slots)
                       + " slots, joining " + where(*cfg));
  // Registers with a freshly connected registry; false if it refused.
  auto register_node = [&]() -> bool {
    caf::error err;
    self->request(reg, call_timeout, atoms::hello_v, agent, cfg->name)
      .receive([](bool) {}, [&](caf::error& e) { err = std::move(e); });
    if (err) {
      log.error("worker", "the coordinator refused node " + cfg->name + ": "
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
      auto r = connect_registry(sys, cfg->cluster);
      if (!r) {
        auto wait = next_wait();
        log.warn("worker", "cannot reach the coordinator at " + where(*cfg)
                             + ": " + sys.render(r.error()) + "; retrying in "
                             + std::to_string(wait.count()) + " ms");
        sig = nap(wait, sigs);
        continue;
      }
      reg = *r;
      self->monitor(reg);
      if (!register_node()) {
        self->demonitor(reg.address());
        sig = nap(next_wait(), sigs);
        continue;
      }
      connected = true;
      backoff = 200ms;
      log.info("worker", "registered " + std::to_string(slots.size())
                           + " workers with the coordinator at "
                           + where(*cfg));
    }
    self->receive(
      [&](caf::down_msg& dm) {
        if (dm.source != reg.address())
          return;
        connected = false;
        log.warn("worker", "lost the coordinator (" + to_string(dm.reason)
                             + "); running tasks go on, results are kept "
                               "and reported after reconnecting");
        // The middleman forgets a dead connection only after its own down
        // message: reconnecting at once would get the stale handle back.
        sig = nap(100ms + next_wait(), sigs);
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
      caf::after(200ms) >> [&] { sig = pending_signal(sigs); });
  }
  if (sig != 0 && connected) {
    log.info("worker", std::string{"received "}
                         + (sig == SIGINT ? "SIGINT" : "SIGTERM")
                         + ": draining (no new tasks, finishing leased ones)");
    auto deadline = steady_clock::now() + cfg->drain_timeout;
    for (;;) {
      uint64_t held = 0;
      bool ok = false;
      self->request(reg, call_timeout, atoms::drain_v, cfg->name)
        .receive(
          [&](uint64_t n) {
            held = n;
            ok = true;
          },
          [&](caf::error& e) {
            log.warn("worker", "drain: " + messages::message_of(e));
          });
      if (!ok || held == 0)
        break;
      if (steady_clock::now() > deadline) {
        log.warn("worker", "drain: " + std::to_string(held)
                             + " tasks still leased after the drain timeout; "
                               "leaving, the coordinator hands them on");
        break;
      }
      if (nap(250ms, sigs) != 0) {
        log.warn("worker", "second signal: leaving without waiting");
        break;
      }
    }
  }
  if (connected)
    self->demonitor(reg.address());
  stop_all();
  log.info("worker", "node " + cfg->name + " stopped");
  return 0;
}

} // namespace vf::runtime
