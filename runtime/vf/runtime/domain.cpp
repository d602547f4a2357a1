// vf/runtime/domain.cpp

#include "vf/runtime/domain.hpp"

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "vf/actors/admin_console.hpp"
#include "vf/actors/admin_gate.hpp"
#include "vf/actors/cluster_registry.hpp"
#include "vf/actors/dispatcher.hpp"
#include "vf/actors/dlq_analyzer.hpp"
#include "vf/actors/idempotency_guard.hpp"
#include "vf/actors/intake_gate.hpp"
#include "vf/actors/job_registry.hpp"
#include "vf/actors/orchestrator.hpp"
#include "vf/actors/retention.hpp"
#include "vf/actors/secure_random.hpp"
#include "vf/actors/webhook_sender.hpp"
#include "vf/adapters/common/lease_journal.hpp"
#include "vf/adapters/http/user_table.hpp"
#include "vf/adapters/media/libav_media.hpp"
#include "vf/adapters/media/composition.hpp"
#include "vf/adapters/webhooks/callback_client.hpp"
#include "vf/messages/errc.hpp"
#include "vf/runtime/incident_writer.hpp"
#include "vf/runtime/metrics_sink.hpp"
#include "vf/runtime/ports.hpp"

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace vf::runtime {

namespace {

/// Retention: uploads of failed, cancelled and expired jobs go after
/// retention.failed_s; records and dead letters stay. A sweep that dies is
/// spawned again (it holds no state beyond its next tick).
void keep_retention(node& n, const node_config& cfg,
                    const messages::stores& stores,
                    messages::object_deleter_actor deleter) {
  if (cfg.retention_failed.count() == 0)
    return;
  if (deleter) {
    n.keep_restartable("retention", tier::domain, [&n, &cfg, stores, deleter] {
      return std::vector<caf::actor>{caf::actor_cast<caf::actor>(
        n.system().spawn(actors::retention, stores.jobs, deleter,
                         retention_config_of(cfg, n.log())))};
    });
    return;
  }
  // store.delete_objects = 0: the node holds no delete rights on the
  // bucket; its lifecycle rules must delete.
  n.log().info("retention",
               "store.delete_objects = 0: uploads of failed, cancelled and "
               "expired jobs are NOT deleted by vidflow; add a lifecycle rule "
               "to "
               "bucket '"
                 + cfg.bucket + "' (expire objects under uploads/ after "
                 + std::to_string(cfg.retention_failed.count())
                 + " s) to bound its size");
}

/// Callbacks of ended jobs (`callback_url`): the sender (restarted if it
/// dies: the deliveries are in the store) decides when, and its pool of
/// callback clients POST, each on its own thread.
void keep_webhooks(node& n, const node_config& cfg,
                   const messages::stores& stores) {
  auto& family = prometheus::BuildCounter()
                   .Name("vidflow_webhook_deliveries_total")
                   .Help("Attempts to deliver job callbacks, by outcome "
                         "(delivered, retry, failed: given up)")
                   .Register(*n.metrics());
  std::map<std::string, prometheus::Counter*> counters;
  for (auto outcome : {"delivered", "retry", "failed"})
    counters[outcome] = &family.Add({{"outcome", outcome}});
  n.keep_restartable("webhook sender", tier::domain,
                     [&n, &cfg, stores, counters] {
                       auto sender_cfg = webhook_sender_config_of(cfg,
                                                                  n.log());
                       sender_cfg.on_outcome
                         = [counters](const std::string& outcome) {
                             if (auto i = counters.find(outcome);
                                 i != counters.end())
                               i->second->Increment();
                           };
                       return std::vector<caf::actor>{
                         caf::actor_cast<caf::actor>(n.system().spawn(
                           actors::webhook_sender, stores.jobs,
                           std::function<messages::callback_actor()>{
                             [&n, &cfg] {
                               return adapters::webhooks::
                                 spawn_callback_client(
                                   n.system(), callback_client_config_of(cfg));
                             }},
                           std::move(sender_cfg)))};
                     });
}

/// Counts ended jobs by status and times them from the upload taken to
/// the end (`vidflow_jobs_ended_total`, `vidflow_job_duration_seconds`);
/// counts dead letters by category (`vidflow_dead_letters_total`).
std::function<void(const messages::job&, int64_t)>
job_end_metrics(prometheus::Registry& reg) {
  auto& ended = prometheus::BuildCounter()
                  .Name("vidflow_jobs_ended_total")
                  .Help("Jobs that reached a terminal status while this "
                        "coordinator ran, by status")
                  .Register(reg);
  auto& durations = prometheus::BuildHistogram()
                      .Name("vidflow_job_duration_seconds")
                      .Help("Time from an upload taken (SUBMITTED) to its "
                            "job's terminal status, by status")
                      .Register(reg);
  static const prometheus::Histogram::BucketBoundaries buckets{
    0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600};
  std::map<messages::job_status, std::pair<prometheus::Counter*,
                                           prometheus::Histogram*>>
    series;
  for (auto st : {messages::job_status::succeeded, messages::job_status::failed,
                  messages::job_status::cancelled,
                  messages::job_status::expired}) {
    std::map<std::string, std::string> labels{{"status", to_string(st)}};
    series[st] = {&ended.Add(labels), &durations.Add(labels, buckets)};
  }
  auto& dead = prometheus::BuildCounter()
                .Name("vidflow_dead_letters_total")
                .Help("Jobs that failed for good (a dead letter) while this "
                      "coordinator ran, by incident category (as "
                      "GET /dlq/report groups them)")
                .Register(reg);
  // Every category from the start, at 0: rate() and alerts see a series
  // before the first dead letter of its kind.
  using messages::errc;
  for (auto code : {errc::bad_media, errc::timeout, errc::provider_error,
                    errc::storage_unavailable, errc::worker_lost,
                    errc::no_worker, errc::internal}) {
    messages::dead_letter x;
    x.error_code = code;
    dead.Add({{"category", actors::classify(x)}});
  }
  return [series, &dead](const messages::job& j, int64_t ms) {
    auto i = series.find(j.status);
    if (i == series.end())
      return;
    i->second.first->Increment();
    if (ms >= 0)
      i->second.second->Observe(static_cast<double>(ms) / 1000.0);
    if (j.status == messages::job_status::failed) {
      messages::dead_letter x;
      x.error_code = j.error_code;
      dead.Add({{"category", actors::classify(x)}}).Increment();
    }
  };
}

/// `vidflow_task_retries_total{kind}`: attempts after the first.
std::function<void(messages::task_kind)>
retry_metrics(prometheus::Registry& reg) {
  auto& retries = prometheus::BuildCounter()
                    .Name("vidflow_task_retries_total")
                    .Help("Step attempts after the first (retries), by task "
                          "kind")
                    .Register(reg);
  return [&retries](messages::task_kind kind) {
    retries.Add({{"kind", to_string(kind)}}).Increment();
  };
}

/// Journals the attempts workers begin (`<data>/leases.log`), so recovery
/// counts an interrupted attempt only if it had begun (see lease_journal).
/// Without a journal every interrupted attempt counts, as it must when we
/// cannot tell.
void keep_lease_journal(node& n, const node_config& cfg,
                        actors::dispatcher_config& disp_cfg,
                        actors::orchestrator_config& orch_cfg) {
  if (cfg.data_dir.empty())
    return;
  auto path = cfg.data_dir + "/leases.log";
  auto journal = adapters::common::lease_journal::open(path);
  if (!journal) {
    n.log().warn("domain", messages::message_of(journal.error())
                             + "; after a crash, attempts still queued will "
                               "count as tried");
    return;
  }
  auto j = *journal;
  if (j->previous_count() > 0)
    n.log().info("domain", std::to_string(j->previous_count())
                             + " attempt(s) were running when the node last "
                               "stopped (" + path + ")");
  disp_cfg.on_begin = [j](const messages::task& t) { j->began(t); };
  disp_cfg.on_end = [j](const messages::task& t) { j->ended(t); };
  orch_cfg.began_before = [j](const std::string& id, uint32_t series,
                              messages::task_kind kind, uint32_t attempt) {
    return j->began_before(id, series, kind, attempt);
  };
}

} // namespace

domain_actors spawn_domain(
  node& n, const node_config& cfg, const messages::stores& stores,
  uint64_t seed,
  std::function<void(const messages::job&, int64_t)> on_job_end) {
  auto& sys = n.system();
  domain_actors d;
  auto guard = n.keep("idempotency guard", tier::domain,
                      sys.spawn(actors::idempotency_guard, stores.claims,
                                size_t{100000}));
  auto disp_cfg = dispatcher_config_of(cfg);
  auto orch_cfg = orchestrator_config_of(cfg);
  keep_lease_journal(n, cfg, disp_cfg, orch_cfg);
  disp_cfg.metrics = n.keep("metrics sink", tier::store,
                            spawn_metrics_sink(sys, n.metrics()));
  disp_cfg.presigner = presigner_of(n, cfg);
  if (cfg.split_renders) {
    disp_cfg.split_render = adapters::media::split_render;
    disp_cfg.merge_render = adapters::media::merge_render;
  }
  d.dispatcher = n.keep("dispatcher", tier::domain,
                        sys.spawn(actors::dispatcher, disp_cfg));
  orch_cfg.checker = object_checker_of(n, cfg);
  orch_cfg.render_input = adapters::media::make_render_input;
  orch_cfg.content_digest = adapters::media::content_digest_of;
  orch_cfg.output_keys = adapters::media::render_output_keys;
  orch_cfg.check_render_output = adapters::media::check_render_output;
  orch_cfg.compose_sources = adapters::media::composition_sources;
  orch_cfg.render_cost = [threads = encoder_threads_of(cfg)](
                           const std::string& recipe,
                           const std::string& metadata) {
    auto c = adapters::media::estimate_render_cost(recipe, metadata, threads);
    return std::make_pair(c.threads, c.memory_mb);
  };
  orch_cfg.seed = seed;
  // Before the orchestrator: a job's end wakes the requests waiting for it
  // (`GET /jobs/{id}?wait=`).
  auto deleter = object_deleter_of(n, cfg);
  auto reg_cfg = job_registry_config_of(cfg);
  reg_cfg.deleter = deleter;
  d.registry = n.keep("job registry", tier::domain,
                      sys.spawn(actors::job_registry, stores, reg_cfg));
  orch_cfg.on_job_end = [metrics = job_end_metrics(*n.metrics()),
                         registry = d.registry,
                         extra = std::move(on_job_end)](
                          const messages::job& j, int64_t ms) {
    metrics(j, ms);
    caf::anon_send(registry, atoms::job_ended_v, j.id);
    if (extra)
      extra(j, ms);
  };
  orch_cfg.on_retry = retry_metrics(*n.metrics());
  orch_cfg.trace = [&log = n.log()](const std::string& text,
                                    const messages::job& j) {
    log.info("orchestrator", text,
             {{"job_id", j.id}, {"request_id", j.request_id}});
  };
  d.orchestrator = n.keep("orchestrator", tier::domain,
                          sys.spawn(actors::orchestrator, orch_cfg, stores,
                                    messages::idempotency_guard_actor{guard},
                                    messages::dispatcher_actor{d.dispatcher}));
  keep_retention(n, cfg, stores, deleter);
  keep_webhooks(n, cfg, stores);
  auto analyzer_cfg = dlq_analyzer_config_of(cfg);
  analyzer_cfg.on_report = incident_writer_of(n, cfg);
  d.analyzer = n.keep("dlq analyzer", tier::domain,
                      sys.spawn(actors::dlq_analyzer, analyzer_cfg,
                                stores.dead_letters, d.orchestrator));
  auto cluster_cfg = cluster_registry_config_of(cfg, n.log());
  auto console_slot = std::make_shared<messages::admin_console_actor>();
  cluster_cfg.console = console_slot;
  auto intake_slot = std::make_shared<messages::intake_gate_actor>();
  cluster_cfg.intake = intake_slot;
  // The console's capability to steer nodes through the registry: random
  // per process, never on the wire.
  cluster_cfg.steer_token = actors::secure_uuid4() + actors::secure_uuid4();
  d.cluster = n.keep("cluster registry", tier::domain,
                     sys.spawn(actors::cluster_registry, cluster_cfg,
                               messages::dispatcher_actor{d.dispatcher},
                               d.orchestrator));
  actors::admin_console_config admin_cfg;
  admin_cfg.version = VF_VERSION;
  admin_cfg.wall_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
  admin_cfg.registry = d.registry;
  admin_cfg.jobs = stores.jobs;
  admin_cfg.dispatcher = messages::dispatcher_actor{d.dispatcher};
  admin_cfg.cluster = d.cluster;
  admin_cfg.orchestrator = d.orchestrator;
  admin_cfg.analyzer = d.analyzer;
  admin_cfg.steer_token = cluster_cfg.steer_token;
  d.admin = n.keep("admin console", tier::domain,
                   sys.spawn(actors::admin_console, admin_cfg));
  // Remote operators get the gate, never the console (whose handle would
  // become addressable by id from any peer once it crossed the wire).
  actors::admin_gate_config gate_cfg;
  gate_cfg.wall_ms = admin_cfg.wall_ms;
  gate_cfg.admin_mac = cluster_cfg.admin_mac;
  gate_cfg.console = d.admin;
  // Before the cluster port opens (serve publishes the registry later), so
  // no operator asks `(console)` while the slot is empty.
  *console_slot = n.keep("admin gate", tier::domain,
                         sys.spawn(actors::admin_gate, gate_cfg));
  // Ingestion nodes get their own gate: the API's requests, nothing of
  // the operators'.
  actors::intake_gate_config intake_cfg;
  intake_cfg.wall_ms = admin_cfg.wall_ms;
  intake_cfg.ingest_mac = cluster_cfg.ingest_mac;
  // Ingestion nodes check logins and tokens themselves, so they get the
  // accounts — of users only: with an admin's epoch a node holding the
  // JWT key could mint that admin a token the coordinator takes. Missing
  // or broken here means nobody logs in here, and so nowhere.
  intake_cfg.accounts = [path = users_file(cfg.data_dir)]()
    -> caf::expected<std::string> {
    std::vector<adapters::http::user_account> users;
    if (auto all = adapters::http::read_users_file(path))
      for (auto& u : *all)
        if (u.role == "user")
          users.push_back(std::move(u));
    return adapters::http::users_text(users);
  };
  intake_cfg.check_request = intake_request_check(cfg);
  intake_cfg.registry = d.registry;
  intake_cfg.orchestrator = d.orchestrator;
  intake_cfg.dispatcher = messages::dispatcher_actor{d.dispatcher};
  *intake_slot = n.keep("intake gate", tier::domain,
                        sys.spawn(actors::intake_gate, intake_cfg));
  return d;
}

} // namespace vf::runtime
