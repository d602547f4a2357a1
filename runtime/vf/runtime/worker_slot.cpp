// vf/runtime/worker_slot.cpp

#include "vf/runtime/worker_slot.hpp"

#include "vf/runtime/fault_injector.hpp"
#include "vf/runtime/ports.hpp"

#include "caf/actor_cast.hpp"
#include "caf/send.hpp"

namespace vf::runtime {

worker_slot spawn_worker_slot(caf::actor_system& sys, const slot_spec& spec) {
  worker_slot s;
  auto media = adapters::media::spawn_media_actor(sys, spec.resolve,
                                                  spec.render);
  s.actors.push_back(caf::actor_cast<caf::actor>(media.media));
  s.actors.push_back(caf::actor_cast<caf::actor>(media.control));
  actors::worker_config wcfg;
  wcfg.name = spec.name;
  wcfg.media = media.media;
  wcfg.media_control = media.control;
  if (spec.fault_rate > 0 || !spec.crash_on.empty()) {
    wcfg.media = spawn_fault_injector(sys, media.media, spec.fault_rate,
                                      spec.fault_code, spec.seed,
                                      spec.crash_on);
    s.actors.push_back(caf::actor_cast<caf::actor>(wcfg.media));
  }
  wcfg.summarizer = spec.summarizer;
  if (spec.effects || spec.metrics)
    wcfg.on_finished = [log{spec.effects}, metrics{spec.metrics}](
                         const messages::task_outcome& o) {
      if (log)
        log->exec(o);
      if (metrics)
        caf::anon_send(metrics, atoms::observe_v, o);
    };
  if (spec.log != nullptr)
    wcfg.trace = [log = spec.log, node = spec.node,
                  worker = spec.name](const std::string& text,
                                      const messages::task& t) {
      log->info("worker", text,
                {{"job_id", t.job_id},
                 {"request_id", t.request_id},
                 {"node", node},
                 {"worker", worker}});
    };
  s.worker = sys.spawn(actors::worker, wcfg);
  s.actors.push_back(caf::actor_cast<caf::actor>(s.worker));
  s.info.name = spec.name;
  s.info.node = spec.node;
  s.info.kinds = spec.kinds;
  s.info.labels = spec.labels;
  s.info.slots = 1;
  s.info.cores = spec.cores;
  s.info.memory_mb = spec.memory_mb;
  return s;
}

void keep_local_slots(node& n, const node_config& cfg,
                      const messages::dispatcher_actor& dispatcher,
                      const std::string& host, uint64_t seed,
                      std::shared_ptr<adapters::common::effects_log> effects) {
  auto summarizer = summarizer_of(n, cfg.summarizer);
  auto budget = memory_budget_of(cfg.memory_budget_mb);
  if (cfg.workers > 0)
    n.log().info("serve", "workers admit tasks within " + std::to_string(cores_of())
                            + " cores and " + std::to_string(budget)
                            + " MiB of memory (workers.memory_budget)");
  for (size_t i = 0; i < cfg.workers; ++i) {
    slot_spec spec{host + "/worker-" + std::to_string(i + 1), host,
                   {messages::task_kind::probe, messages::task_kind::summarize,
                    messages::task_kind::sleep, messages::task_kind::render,
                    messages::task_kind::compose},
                   {}, local_object_resolver(cfg, i), summarizer,
                   cfg.fault_rate, cfg.fault_code, seed + i, cfg.crash_on,
                   effects, local_render_setup(cfg, i)};
    spec.cores = cores_of();
    spec.memory_mb = budget;
    spec.log = &n.log();
    n.keep_restartable(spec.name, tier::domain, [&n, spec, dispatcher] {
      if (spec.fault_rate > 0)
        n.log().warn("serve", "TEST ONLY: failing "
                                + std::to_string(spec.fault_rate)
                                + " of probes on " + spec.name + " with "
                                + spec.fault_code);
      if (!spec.crash_on.empty())
        n.log().warn("serve", "TEST ONLY: " + spec.name
                                + " aborts the process on objects named *"
                                + spec.crash_on + "* (testing.crash_on)");
      auto slot = spawn_worker_slot(n.system(), spec);
      caf::anon_send(dispatcher, atoms::join_v,
                     messages::worker_actor{slot.worker}, slot.info);
      return slot.actors;
    });
  }
}

} // namespace vf::runtime
