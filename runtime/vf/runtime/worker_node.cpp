// vf/runtime/worker_node.cpp

#include "vf/runtime/worker_node.hpp"

#include "vf/messages/cluster_registry_actor.hpp"
#include "vf/messages/errc.hpp"
#include "vf/messages/register_types.hpp"
#include "vf/runtime/metrics_sink.hpp"
#include "vf/runtime/cluster.hpp"
#include "vf/runtime/coordinator_link.hpp"
#include "vf/runtime/drain_command.hpp"
#include "vf/runtime/command.hpp"
#include "vf/runtime/logger.hpp"
#include "vf/runtime/node.hpp"
#include "vf/runtime/node_config.hpp"
#include "vf/runtime/ports.hpp"
#include "vf/runtime/worker_slot.hpp"

#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"

#include <prometheus/exposer.h>
#include <prometheus/registry.h>
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

} // namespace

int worker_node(const std::vector<std::string>& raw_args) {
  auto cmd = parse_command_line(raw_args, {"--drain"});
  if (cmd.help) {
    print_help();
    return 0;
  }
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
  log.set_format(cfg->log_style);
  auto effects = open_effects_log(cfg->effects_log, log);
  if (!effects) {
    std::cerr << "vidflow worker: setting testing.effects_log: "
              << messages::message_of(effects.error()) << "\n";
    return 2;
  }
  caf::actor_system_config sys_cfg;
  configure_actor_system(sys_cfg, cfg->scheduler, cfg->scheduler_threads);
  enable_cluster(sys_cfg, cfg->cluster);
  node n{sys_cfg, log, "worker"};
  auto& sys = n.system();
  if (cmd.has("--drain"))
    return drain_remote(sys, *cfg, n.signals());
  auto tmp = cfg->data_dir + "/tmp";
  ::umask(077); // Downloaded uploads are readable by this node only.
  if (!make_dirs(tmp)) {
    std::cerr << "vidflow worker: setting data.dir: cannot create '" << tmp
              << "'\n";
    return 2;
  }
  // A render killed with the node left its work folder behind.
  if (auto left = discard_render_leftovers(cfg->data_dir); left > 0)
    log.info("worker", "removed " + std::to_string(left)
                         + " render work folder(s) left by an earlier run");
  std::vector<messages::task_kind> kinds;
  for (auto& k : cfg->kinds) {
    messages::task_kind kind;
    if (from_string(k, kind))
      kinds.push_back(kind);
  }
  // A slot that dies stops the node (exit 1): its registration with the
  // coordinator cannot be redone from here; the coordinator hands its
  // leases on and a supervisor (systemd) starts the node again.
  // This node's own /metrics (metrics.listen): its tasks, slots and link.
  std::unique_ptr<prometheus::Exposer> exposer;
  messages::metrics_actor metrics;
  if (!cfg->metrics_listen.empty()) {
    try {
      exposer = std::make_unique<prometheus::Exposer>(cfg->metrics_listen, 2);
    } catch (const std::exception& e) {
      std::cerr << "vidflow worker: setting metrics.listen: cannot listen on "
                << cfg->metrics_listen << " (" << e.what()
                << "); choose a free port or leave it empty\n";
      n.stop();
      return 2;
    }
    exposer->RegisterCollectable(
      std::weak_ptr<prometheus::Collectable>{n.metrics()});
    metrics = spawn_metrics_sink(sys, n.metrics(), true);
    n.keep("metrics", tier::domain, caf::actor_cast<caf::actor>(metrics));
    log.info("worker", "serving /metrics on " + cfg->metrics_listen);
  }
  auto summarizer = summarizer_of(n, cfg->summarizer);
  std::vector<worker_slot> slots;
  for (uint32_t i = 0; i < cfg->slots; ++i) {
    // One download file per slot: its media actor probes one at a time.
    slot_spec spec{cfg->name + "/worker-" + std::to_string(i + 1), cfg->name,
                   kinds, cfg->labels,
                   url_object_resolver(tmp + "/slot-" + std::to_string(i + 1)
                                       + ".object"),
                   summarizer, 0, {}, 0, {}, *effects,
                   remote_render_setup(tmp + "/render-"
                                         + std::to_string(i + 1),
                                       cfg->slots)};
    spec.cores = cores_of();
    spec.memory_mb = memory_budget_of(cfg->memory_budget_mb);
    spec.log = &log;
    spec.metrics = metrics;
    slots.push_back(spawn_worker_slot(sys, spec));
    for (auto& hdl : slots.back().actors)
      n.keep(spec.name, tier::domain, hdl);
  }
  run_coordinator_link(n, *cfg, slots);
  n.stop();
  log.info("worker", "node " + cfg->name + " stopped");
  return n.exit_code();
}

} // namespace vf::runtime
