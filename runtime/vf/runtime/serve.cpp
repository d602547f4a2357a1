// vf/runtime/serve.cpp — the `serve` role: which actors run, in what order.
// Which adapter serves which port is decided in ports.cpp; supervision and
// the ordered stop live in node.cpp.

#include "vf/runtime/serve.hpp"

#include "caf/scoped_actor.hpp"

#include "vf/actors/upload_gate.hpp"
#include "vf/messages/errc.hpp"
#include "vf/runtime/aws_keys.hpp"
#include "vf/runtime/cluster.hpp"
#include "vf/runtime/command.hpp"
#include "vf/runtime/domain.hpp"
#include "vf/runtime/dynamodb_edge.hpp"
#include "vf/runtime/ingest.hpp"
#include "vf/runtime/job_activity.hpp"
#include "vf/runtime/ports.hpp"
#include "vf/runtime/redis_edge.hpp"
#include "vf/runtime/serve_setup.hpp"
#include "vf/runtime/sqs_edge.hpp"
#include "vf/runtime/storage_check.hpp"
#include "vf/runtime/users.hpp"
#include "vf/runtime/worker_slot.hpp"

#include <iostream>
#include <random>

namespace vf::runtime {

using namespace std::chrono_literals;

int serve(const std::vector<std::string>& raw_args) {
  auto cmd = parse_command_line(raw_args);
  if (cmd.help) {
    print_serve_help();
    return 0;
  }
  int exit_code = 0;
  auto xs = load_settings("serve", serve_specs(), cmd, exit_code);
  if (!xs)
    return exit_code;
  auto cfg = make_node_config(*xs);
  if (!cfg) {
    std::cerr << "vidflow serve: " << messages::message_of(cfg.error())
              << "\n";
    return 2;
  }
  auto redis_cfg = redis_edge_of(*xs, host_name());
  if (!redis_cfg) {
    std::cerr << "vidflow serve: " << messages::message_of(redis_cfg.error())
              << "\n";
    return 2;
  }
  auto sqs_cfg = sqs_edge_of(*xs, cfg->summarizer.profile);
  if (!sqs_cfg) {
    std::cerr << "vidflow serve: " << messages::message_of(sqs_cfg.error())
              << "\n";
    return 2;
  }
  auto backend = state_backend_of(*xs, cfg->summarizer.profile);
  if (!backend) {
    std::cerr << "vidflow serve: " << messages::message_of(backend.error())
              << "\n";
    return 2;
  }
  auto role = xs->str("serve.role");
  if (role == "ingest")
    return serve_ingest(*cfg, *redis_cfg);
  if (role != "coordinator") {
    std::cerr << "vidflow serve: setting serve.role (flag --role): '" << role
              << "' is neither coordinator nor ingest\n";
    return 2;
  }
  logger log;
  log.set_level(cfg->level);
  log.set_format(cfg->log_style);
  if (auto rc = prepare_data_dir(*cfg, log))
    return rc;
  auto limits = plan_listeners(*cfg, log);
  // The accounts: <data.dir>/users.json, written from auth.users on the
  // first start and edited by `vidflow users` afterwards.
  auto accounts = open_user_table(*cfg, log);
  if (!accounts) {
    std::cerr << "vidflow serve: accounts (auth.users, data.dir): "
              << messages::message_of(accounts.error()) << "\n";
    return 2;
  }
  auto effects = open_effects_log(cfg->effects_log, log);
  if (!effects) {
    std::cerr << "vidflow serve: setting testing.effects_log: "
              << messages::message_of(effects.error()) << "\n";
    return 2;
  }
  caf::actor_system_config sys_cfg;
  configure_actor_system(sys_cfg, cfg->scheduler, cfg->scheduler_threads);
  if (cfg->cluster.port != 0)
    enable_cluster(sys_cfg, cfg->cluster);
  node n{sys_cfg, log, "serve"};
  auto& sys = n.system();
  auto host = host_name();
  std::random_device rd;
  auto seed = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  // Start-up failed: say why, stop what already runs (in order).
  auto fail = [&n](const std::string& what, const std::string& why) {
    std::cerr << "vidflow serve: " << what << ": " << why << "\n";
    n.stop();
    return 1;
  };

  // -- stores and domain -----------------------------------------------------
  auto stores = open_stores(n, *cfg, *backend, *effects);
  if (!stores)
    return fail(backend->dynamodb ? "store.backend = dynamodb"
                                  : "setting data.dir",
                messages::message_of(stores.error()));
  auto redis = spawn_redis_edge(n, *redis_cfg, seed);
  if (redis.claims)
    stores->claims = redis.claims;
  if (cfg->store_aws_credentials)
    keep_aws_keys_fresh(n, cfg->summarizer.profile);
  auto dlq_feed
    = dead_letter_feed(n, *xs, cfg->summarizer.profile, cfg->data_dir);
  if (!dlq_feed)
    return fail("SQS dead-letter feed", messages::message_of(dlq_feed.error()));
  auto on_job_end = redis.on_job_end;
  if (*dlq_feed) {
    if (on_job_end)
      on_job_end = [a = std::move(on_job_end), b = std::move(*dlq_feed)](
                     const messages::job& j, int64_t ms) {
        a(j, ms);
        b(j, ms);
      };
    else
      on_job_end = std::move(*dlq_feed);
  }
  // The admin console's charts: the last hour of ended jobs.
  auto activity = std::make_shared<job_activity>();
  on_job_end = [activity, next = std::move(on_job_end)](
                 const messages::job& j, int64_t ms) {
    activity->ended(j, ms);
    if (next)
      next(j, ms);
  };
  auto d = spawn_domain(n, *cfg, *stores, seed, std::move(on_job_end));
  // Where object events go: the Redis stream (a consumer below hands them
  // to the orchestrator) or the orchestrator itself.
  messages::object_sink_actor events = d.orchestrator;
  if (redis.events)
    events = redis.events;
  if (cfg->store_mode == store_mode::s3 && !make_dirs(cfg->data_dir + "/tmp"))
    return fail("setting data.dir",
                "cannot create '" + cfg->data_dir + "/tmp'");

  // Render work folders a killed process left behind hold half-made
  // outputs that nothing will finish: their steps rerun from the ledger.
  if (auto left = discard_render_leftovers(cfg->data_dir); left > 0)
    log.info("serve", "discarded " + std::to_string(left)
                        + " unfinished render work folder(s) from an "
                          "earlier run");

  // -- workers: a slot that dies is spawned again and joins anew -------------
  keep_local_slots(n, *cfg, d.dispatcher, host, seed, *effects);

  // -- edges -----------------------------------------------------------------
  actors::upload_gate_config gate_cfg;
  gate_cfg.bucket = cfg->bucket;
  gate_cfg.dispatcher = d.dispatcher;
  auto gate = n.keep("upload gate", tier::domain,
                     sys.spawn(actors::upload_gate, stores->jobs, gate_cfg));
  auto uploads = std::make_shared<adapters::common::upload_meter>();
  auto object_server = builtin_store_of(n, *cfg, limits, gate, events,
                                        uploads);
  if (object_server) {
    if (auto err = object_server->start())
      return fail("built-in object store (store.host, store.port)",
                  messages::message_of(err));
    n.on_stop(tier::edge, [&object_server] { object_server->stop(); });
  }
  auto api_cfg = api_config_of(*cfg);
  api_cfg.accounts = *accounts;
  api_cfg.presign_upload = upload_presigner_of(*cfg);
  api_cfg.presign_download = download_presigner_of(*cfg);
  set_multipart_calls(*cfg, api_cfg);
  api_cfg.activity = [activity] { return activity->json(); };
  api_cfg.parse_webhook = webhook_parser_of(*cfg);
  // Upload progress on the job event stream comes from the built-in
  // store; an S3 server's uploads are not seen until they end.
  if (object_server)
    api_cfg.uploads = uploads;
  api_cfg.max_connections = limits.http;
  api_cfg.max_connections_per_client = limits.http_per_client;
  api_cfg.check_storage = make_storage_check(cfg->data_dir,
                                            cfg->min_free_bytes);
  api_cfg.log = [&log](const std::string& line) {
    log.adapter_line("http", line);
  };
  adapters::http::api_server api{
    sys, api_cfg,
    adapters::http::api_handles{d.registry, d.orchestrator, d.dispatcher,
                                d.analyzer, d.cluster, d.admin, events,
                                stores->library},
    n.metrics()};
  if (auto err = api.start())
    return fail("JSON API (http.host, http.port)", messages::message_of(err));
  n.on_stop(tier::edge, [&api] { api.stop(); });
  // Leased tasks finish before the domain stops; queued ones stay in the
  // store and resume on the next start.
  n.drain_before_stop(d.dispatcher,
                      std::chrono::milliseconds{cfg->task_timeout_ms} + 5s);

  // -- resume what a previous run left unfinished ---------------------------
  caf::scoped_actor self{sys};
  self->request(d.orchestrator, 60s, atoms::recover_v)
    .receive(
      [&](uint64_t count) {
        if (count > 0)
          log.info("serve", "resumed " + std::to_string(count)
                              + " unfinished jobs");
      },
      [&](caf::error& err) {
        log.error("serve", "recovery failed: " + messages::message_of(err));
      });
  // Uploads stored before a crash whose events were never acknowledged.
  if (object_server)
    object_server->announce_pending();
  // Events in the Redis stream: those this node took but never
  // acknowledged first, then new ones.
  start_redis_consumer(n, *redis_cfg, redis, d.orchestrator, seed,
                       cfg->store_mode == store_mode::builtin);
  // Object events from SQS (S3 notifications, directly or through
  // EventBridge), into the same sink as the webhook's.
  if (*sqs_cfg)
    start_sqs_source(n, std::move(**sqs_cfg), events);
  // Worker nodes come last: recovered jobs are queued by now, and nodes
  // that finished tasks while we were away can report them.
  std::string cluster_note;
  if (cfg->cluster.port != 0) {
    auto port = publish_registry(d.cluster, cfg->cluster);
    if (!port)
      return fail("cluster port (cluster.host, cluster.port)",
                  sys.render(port.error()));
    cluster_note = ", cluster port " + cfg->cluster.host + ":"
                   + std::to_string(*port) + " (TLS)";
  }
  log.info("serve", "vidflow ready: API http://" + cfg->http_host + ":"
                      + std::to_string(api.port()) + ", uploads "
                      + describe_uploads(*cfg, object_server.get())
                      + cluster_note + ", data in " + cfg->data_dir);
  n.trim_memory_every(cfg->memory_trim_interval);
  if (auto sig = n.wait())
    log.info("serve", std::string{"received "}
                        + (sig == SIGINT ? "SIGINT" : "SIGTERM")
                        + ", stopping: no new requests, finishing leased "
                          "tasks");
  n.stop();
  log.info("serve", "stopped");
  return n.exit_code();
}

} // namespace vf::runtime
