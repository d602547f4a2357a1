// vf/runtime/serve.cpp

#include "vf/runtime/serve.hpp"

#include "vf/actors/cluster_registry.hpp"
#include "vf/actors/dispatcher.hpp"
#include "vf/actors/dlq_analyzer.hpp"
#include "vf/actors/idempotency_guard.hpp"
#include "vf/actors/job_registry.hpp"
#include "vf/actors/orchestrator.hpp"
#include "vf/actors/retention.hpp"
#include "vf/actors/upload_gate.hpp"
#include "vf/actors/worker.hpp"
#include "vf/adapters/http/api_server.hpp"
#include "vf/adapters/media/libav_media.hpp"
#include "vf/adapters/minio/events.hpp"
#include "vf/adapters/objectstore/object_deleter.hpp"
#include "vf/adapters/objectstore/store_server.hpp"
#include "vf/adapters/s3/client.hpp"
#include "vf/adapters/s3/object_checker.hpp"
#include "vf/adapters/sigv4/sigv4.hpp"
#include "vf/adapters/sqlite/job_store.hpp"
#include "vf/adapters/summarizer/mock_summarizer.hpp"
#include "vf/messages/errc.hpp"
#include "vf/messages/register_types.hpp"
#include "vf/runtime/cluster.hpp"
#include "vf/runtime/command.hpp"
#include "vf/runtime/fault_injector.hpp"
#include "vf/runtime/fd_limits.hpp"
#include "vf/runtime/logger.hpp"
#include "vf/runtime/metrics_sink.hpp"
#include "vf/runtime/node_config.hpp"
#include "vf/runtime/storage_check.hpp"
#include "vf/runtime/users.hpp"

#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "caf/scoped_actor.hpp"

#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <sys/stat.h>
#include <unistd.h>

namespace vf::runtime {

namespace {

using namespace std::chrono_literals;
namespace http = adapters::http;
namespace objectstore = adapters::objectstore;
namespace sigv4 = adapters::sigv4;

int64_t unix_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch())
    .count();
}

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0 || buf[0] == '\0')
    return "local";
  return buf;
}

void print_help() {
  std::cout
    << "Usage: vidflow serve [--config FILE] [options]\n\n"
       "Runs a whole vidflow node in the foreground: the JSON API, the job\n"
       "store (SQLite), the built-in S3-compatible object store, the\n"
       "orchestrator and the workers. Stops cleanly on SIGINT or SIGTERM.\n\n"
       "Every option is also a config-file key and an environment variable;\n"
       "flags win over the environment, which wins over the file.\n\n"
       "Options:\n"
    << usage(serve_specs())
    << "  --print-config                print the effective settings and "
       "exit\n"
       "  -h, --help                    show this help\n";
}

} // namespace

int serve(const std::vector<std::string>& raw_args) {
  auto cmd = parse_command_line(raw_args);
  if (cmd.help) {
    print_help();
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
  logger log;
  log.set_level(cfg->level);
  // Uploads, outputs, the database and its journal belong to this node
  // alone, whoever started it (systemd sets the same; a shell may not).
  ::umask(077);
  if (!make_dirs(cfg->data_dir)) {
    std::cerr << "vidflow serve: setting data.dir: cannot create directory '"
              << cfg->data_dir << "'\n";
    return 2;
  }
  if (struct stat st {}; ::stat(cfg->data_dir.c_str(), &st) == 0
                         && (st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%04o", st.st_mode & 07777);
    log.warn("serve", "data.dir '" + cfg->data_dir + "' is open to other "
                        "users (mode " + mode + "); run: chmod 700 '"
                        + cfg->data_dir + "'");
  }
  // Descriptors: as many as allowed, split between the listeners after a
  // reserve, so neither listener can starve the other or the database.
  auto fds = raise_fd_limit();
  auto caps = split_descriptors(fds.soft, cfg->fd_reserve,
                                cfg->http_max_connections,
                                cfg->store_max_connections,
                                cfg->store_mode == "builtin");
  // One client may never hold more than half of a listener's slots, or a
  // single address could still lock everyone else out under a low limit.
  auto per_client = [](size_t configured, size_t cap) -> size_t {
    if (configured == 0)
      return 0;
    return std::min(configured, std::max<size_t>(1, cap / 2));
  };
  auto http_per_client = per_client(cfg->http_max_connections_per_client,
                                    caps.http);
  auto store_per_client = per_client(cfg->store_max_connections_per_client,
                                     caps.store);
  {
    auto line = "file descriptors: limit " + std::to_string(fds.soft)
                + " (was " + std::to_string(fds.before) + ", hard "
                + std::to_string(fds.hard) + "), "
                + std::to_string(cfg->fd_reserve) + " reserved; API up to "
                + std::to_string(caps.http) + " connections ("
                + std::to_string(http_per_client) + " per client), store up to "
                + std::to_string(caps.store) + " ("
                + std::to_string(store_per_client) + " per client)";
    if (!fds.error.empty())
      log.warn("serve", line + "; raising the limit failed: " + fds.error);
    else
      log.info("serve", line);
  }
  // The accounts: <data.dir>/users.json, written from auth.users on the
  // first start and edited by `vidflow users` afterwards.
  auto accounts = open_user_table(*cfg, log);
  if (!accounts) {
    std::cerr << "vidflow serve: accounts (auth.users, data.dir): "
              << messages::message_of(accounts.error()) << "\n";
    return 2;
  }
  // Signals go to sigwait below, never to a random thread: block them
  // before any thread starts (threads inherit the mask).
  auto sigs = block_stop_signals();

  caf::actor_system_config sys_cfg;
  // Sharing (one queue, condition variables) beats work stealing here: the
  // stealing workers' polling sleeps cost ~15% CPU on 2 cores and raised
  // POST /jobs latency (bench/ingest.sh: 9.1k -> 11.5k req/s).
  configure_actor_system(sys_cfg, cfg->scheduler, cfg->scheduler_threads);
  if (cfg->cluster.port != 0)
    enable_cluster(sys_cfg, cfg->cluster);
  caf::actor_system sys{sys_cfg};
  auto metrics = std::make_shared<prometheus::Registry>();
  auto node = host_name();
  std::random_device rd;
  auto seed = (static_cast<uint64_t>(rd()) << 32) ^ rd();

  // -- durable state --------------------------------------------------------
  auto db_path = cfg->data_dir + "/vidflow.db";
  auto store = adapters::sqlite::spawn_job_store(sys, {db_path, 512});
  if (!store) {
    std::cerr << "vidflow serve: setting data.dir: "
              << messages::message_of(store.error()) << "\n";
    return 1;
  }
  std::vector<caf::actor> actors;
  auto keep = [&](auto hdl) {
    actors.push_back(caf::actor_cast<caf::actor>(hdl));
    return hdl;
  };
  keep(*store);

  // -- domain ----------------------------------------------------------------
  auto guard = keep(sys.spawn(actors::idempotency_guard,
                              messages::claim_store_actor{*store},
                              size_t{100000}));
  actors::dispatcher_config disp_cfg;
  disp_cfg.metrics = keep(spawn_metrics_sink(sys, metrics));
  {
    // Workers on other nodes fetch the upload by a presigned GET from the
    // built-in store or straight from MinIO/S3; ours read it locally.
    sigv4::presign_params get;
    get.method = "GET";
    get.endpoint = cfg->object_url;
    get.creds = {cfg->access_key, cfg->secret_key, {}};
    get.region = cfg->region;
    // Valid for the whole lease (the task's deadline plus a margin).
    get.expires = cfg->task_timeout_ms / 1000 + 300;
    disp_cfg.prepare = [get](messages::task& t, const messages::worker_info&,
                             bool remote) {
      if (!remote || t.kind != messages::task_kind::probe)
        return;
      auto p = get;
      p.bucket = t.object.bucket;
      p.key = t.object.key;
      p.now = static_cast<int64_t>(std::time(nullptr));
      t.object.url = sigv4::presign_url(p);
    };
  }
  auto dispatcher = keep(sys.spawn(actors::dispatcher, disp_cfg));
  actors::orchestrator_config orch_cfg;
  orch_cfg.bucket = cfg->bucket;
  orch_cfg.key_prefix = "uploads";
  orch_cfg.max_attempts = cfg->max_attempts;
  orch_cfg.backoff_base = cfg->backoff_base;
  orch_cfg.backoff_cap = cfg->backoff_cap;
  orch_cfg.task_timeout_ms = cfg->task_timeout_ms;
  orch_cfg.pipeline.clear();
  for (auto& step : cfg->pipeline) {
    messages::task_kind kind;
    if (from_string(step, kind))
      orch_cfg.pipeline.push_back(kind);
  }
  for (auto& [step, label] : cfg->step_labels) {
    messages::task_kind kind;
    if (from_string(step, kind))
      orch_cfg.labels[kind].push_back(label);
  }
  orch_cfg.sleep_input = std::to_string(cfg->sleep_ms);
  if (cfg->store_mode == "s3") {
    // Webhook events are believed only for objects the server really has.
    adapters::s3::client_config check_cfg;
    check_cfg.endpoint = cfg->store_endpoint;
    check_cfg.region = cfg->region;
    check_cfg.creds = {cfg->access_key, cfg->secret_key, {}};
    orch_cfg.checker = keep(
      adapters::s3::spawn_object_checker(sys, std::move(check_cfg), 10000));
  }
  orch_cfg.wall_ms = unix_ms();
  orch_cfg.seed = seed;
  // An upload URL works for presign_expires; a minute of grace covers an
  // upload that started just before it expired.
  orch_cfg.upload_ttl = std::chrono::seconds{cfg->presign_expires} + 60s;
  auto orchestrator = keep(
    sys.spawn(actors::orchestrator, orch_cfg, *store,
              messages::idempotency_guard_actor{guard}, dispatcher));
  actors::job_registry_config reg_cfg;
  reg_cfg.bucket = cfg->bucket;
  reg_cfg.key_prefix = "uploads";
  reg_cfg.wall_ms = unix_ms();
  reg_cfg.jobs_in_flight_per_user = cfg->jobs_in_flight_per_user;
  reg_cfg.bytes_per_user = cfg->bytes_per_user;
  auto registry = keep(sys.spawn(actors::job_registry, *store, reg_cfg));
  // Retention: uploads of failed, cancelled and expired jobs go after
  // retention.failed_s; records and dead letters stay.
  if (cfg->retention_failed.count() > 0 && cfg->store_mode == "builtin") {
    actors::retention_config ret_cfg;
    ret_cfg.keep = cfg->retention_failed;
    ret_cfg.interval = std::clamp<std::chrono::milliseconds>(
      std::chrono::milliseconds{cfg->retention_failed} / 10, 1s, 300s);
    ret_cfg.wall_ms = unix_ms();
    ret_cfg.log = [&log](const std::string& line) {
      log.info("retention", line);
    };
    auto deleter = keep(objectstore::spawn_object_deleter(sys, cfg->data_dir));
    keep(sys.spawn(actors::retention, *store, deleter, ret_cfg));
  } else if (cfg->retention_failed.count() > 0) {
    // An S3-compatible server deletes by its own lifecycle rules; we do not
    // hold delete rights on the bucket by design.
    log.info("retention", "store.mode = s3: uploads of failed, cancelled "
                          "and expired jobs are NOT deleted by vidflow; add a "
                          "lifecycle rule to bucket '" + cfg->bucket
                            + "' (expire objects under uploads/ after "
                            + std::to_string(cfg->retention_failed.count())
                            + " s) to bound its size");
  }
  actors::dlq_analyzer_config dlq_cfg;
  dlq_cfg.interval = cfg->dlq_interval;
  dlq_cfg.window = cfg->dlq_window;
  dlq_cfg.wall_ms = unix_ms();
  auto analyzer = keep(sys.spawn(actors::dlq_analyzer, dlq_cfg, *store,
                                 messages::orchestrator_actor{orchestrator}));
  actors::cluster_registry_config cluster_cfg;
  cluster_cfg.wall_ms = unix_ms();
  cluster_cfg.log = [&log](const std::string& line) {
    log.info("cluster", line);
  };
  if (!cfg->cluster.admin_key.empty())
    cluster_cfg.admin_mac = [key = cfg->cluster.admin_key](
                              const std::string& text) {
      return admin_mac(key, text);
    };
  auto cluster = keep(sys.spawn(actors::cluster_registry, cluster_cfg,
                                dispatcher,
                                messages::orchestrator_actor{orchestrator}));

  // -- object store ----------------------------------------------------------
  objectstore::store_config store_cfg;
  store_cfg.host = cfg->store_host;
  store_cfg.port = cfg->store_port;
  store_cfg.data_dir = cfg->data_dir;
  store_cfg.buckets = {cfg->bucket};
  store_cfg.region = cfg->region;
  store_cfg.keys = {sigv4::credentials{cfg->access_key, cfg->secret_key, {}}};
  store_cfg.max_object_bytes = cfg->max_upload_bytes;
  store_cfg.max_connections = caps.store > 0 ? caps.store : 1;
  store_cfg.max_connections_per_client = store_per_client;
  store_cfg.trusted_proxies = cfg->trusted_proxies;
  store_cfg.header_timeout = cfg->store_header_timeout;
  store_cfg.min_rate = cfg->store_min_rate;
  store_cfg.rate_window = cfg->store_rate_window;
  store_cfg.gate = keep(sys.spawn(actors::upload_gate, *store,
                                  actors::upload_gate_config{cfg->bucket,
                                                             "uploads"}));
  store_cfg.log = [&log](std::string line) {
    log.adapter_line("objectstore", line);
  };
  {
    // Same family as the API's webhook events (prometheus-cpp merges
    // families of one name), labelled source="builtin".
    auto& family = prometheus::BuildCounter()
                     .Name("vidflow_object_events_total")
                     .Help("Object events received, by source and outcome")
                     .Register(*metrics);
    std::map<std::string, prometheus::Counter*> counters;
    for (auto outcome : {"accepted", "duplicate", "rejected"})
      counters[outcome] = &family.Add({{"source", "builtin"},
                                       {"outcome", outcome}});
    counters["error"] = &prometheus::BuildCounter()
                           .Name("vidflow_object_event_errors_total")
                           .Help("Object events that could not be recorded "
                                 "and are left for redelivery, by source")
                           .Register(*metrics)
                           .Add({{"source", "builtin"}});
    store_cfg.on_event = [counters](const std::string& outcome) {
      if (auto i = counters.find(outcome); i != counters.end())
        i->second->Increment();
    };
  }
  std::unique_ptr<objectstore::store_server> object_server;
  adapters::s3::client_config s3_cfg;
  s3_cfg.endpoint = cfg->store_endpoint;
  s3_cfg.region = cfg->region;
  s3_cfg.creds = {cfg->access_key, cfg->secret_key, {}};
  auto tmp_dir = cfg->data_dir + "/tmp";
  if (cfg->store_mode == "s3" && !make_dirs(tmp_dir)) {
    std::cerr << "vidflow serve: setting data.dir: cannot create '"
              << tmp_dir << "'\n";
    return 1;
  }

  // -- workers ---------------------------------------------------------------
  auto summarizer = keep(adapters::summarizer::spawn_mock_summarizer(sys));
  caf::scoped_actor self{sys};
  for (size_t i = 0; i < cfg->workers; ++i) {
    adapters::media::object_resolver resolve;
    if (cfg->store_mode == "builtin") {
      resolve = [store_cfg](const messages::object_ref& obj,
                            std::chrono::milliseconds)
        -> caf::expected<std::string> {
        auto path = objectstore::store_server::object_path(store_cfg,
                                                           obj.bucket, obj.key);
        struct stat st {};
        if (path.empty() || ::stat(path.c_str(), &st) != 0)
          return messages::make_error(messages::errc::not_found,
                                      "object " + obj.bucket + "/" + obj.key
                                        + " is not in the built-in store");
        return path;
      };
    } else {
      // One download slot per media actor: it probes one file at a time.
      auto path = tmp_dir + "/worker-" + std::to_string(i) + ".object";
      resolve = [s3_cfg, path](const messages::object_ref& obj,
                               std::chrono::milliseconds timeout)
        -> caf::expected<std::string> {
        auto info = adapters::s3::get_object_to_file(s3_cfg, obj.bucket,
                                                     obj.key, path,
                                                     timeout.count());
        if (!info)
          return info.error();
        return path;
      };
    }
    auto media = adapters::media::spawn_media_actor(sys, resolve);
    keep(media.media);
    keep(media.control);
    actors::worker_config wcfg;
    wcfg.name = node + "/worker-" + std::to_string(i + 1);
    wcfg.media = media.media;
    wcfg.media_control = media.control;
    if (cfg->fault_rate > 0) {
      wcfg.media = keep(spawn_fault_injector(sys, media.media, cfg->fault_rate,
                                             cfg->fault_code, seed + i));
      log.warn("serve", "TEST ONLY: failing " + std::to_string(cfg->fault_rate)
                          + " of probes on " + wcfg.name + " with "
                          + cfg->fault_code);
    }
    wcfg.summarizer = summarizer;
    auto w = keep(sys.spawn(actors::worker, wcfg));
    messages::worker_info info;
    info.name = wcfg.name;
    info.node = node;
    info.kinds = {messages::task_kind::probe, messages::task_kind::summarize,
                  messages::task_kind::sleep};
    info.slots = 1;
    self->request(dispatcher, 10s, atoms::join_v, messages::worker_actor{w},
                  info)
      .receive([](bool) {},
               [&](caf::error& err) {
                 log.error("serve", "worker join failed: "
                                      + messages::message_of(err));
               });
  }

  // -- edges -----------------------------------------------------------------
  if (cfg->store_mode == "builtin") {
    object_server = std::make_unique<objectstore::store_server>(
      sys, store_cfg, messages::orchestrator_actor{orchestrator});
    if (auto err = object_server->start()) {
      std::cerr << "vidflow serve: built-in object store (store.host, "
                   "store.port): "
                << messages::message_of(err) << "\n";
      for (auto& a : actors)
        caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
      return 1;
    }
  }
  http::api_config api_cfg;
  api_cfg.host = cfg->http_host;
  api_cfg.port = cfg->http_port;
  api_cfg.threads = cfg->http_threads;
  api_cfg.jwt_secret = cfg->jwt_secret;
  api_cfg.token_ttl = cfg->token_ttl;
  api_cfg.accounts = *accounts;
  api_cfg.max_body_bytes = cfg->http_max_body;
  api_cfg.presign_expires = cfg->presign_expires;
  {
    sigv4::presign_params base;
    base.method = "PUT";
    base.endpoint = cfg->public_url;
    base.bucket = cfg->bucket;
    base.creds = {cfg->access_key, cfg->secret_key, {}};
    base.region = cfg->region;
    base.expires = cfg->presign_expires;
    api_cfg.presign_upload = [base](const messages::job& j) {
      auto p = base;
      p.key = j.key;
      p.now = static_cast<int64_t>(std::time(nullptr));
      return sigv4::presign_url(p);
    };
  }
  api_cfg.parse_webhook
    = [](std::string_view body) -> caf::expected<http::parsed_events> {
    auto res = adapters::minio::parse_minio_webhook(body);
    if (!res)
      return res.error();
    return http::parsed_events{std::move(res->events), res->ignored.size()};
  };
  api_cfg.webhook_token = cfg->webhook_token;
  api_cfg.webhook_max_records = cfg->webhook_max_records;
  api_cfg.rate_limit = cfg->rate_limit;
  api_cfg.rate_burst = cfg->rate_burst;
  api_cfg.max_connections = caps.http;
  api_cfg.max_connections_per_client = http_per_client;
  api_cfg.idle_timeout = cfg->http_idle_timeout;
  api_cfg.trusted_proxies = cfg->trusted_proxies;
  api_cfg.check_storage = make_storage_check(cfg->data_dir,
                                            cfg->min_free_bytes);
  api_cfg.log = [&log](const std::string& line) {
    log.adapter_line("http", line);
  };
  http::api_server api{sys, api_cfg,
                       http::api_handles{registry, orchestrator, dispatcher,
                                         analyzer, cluster},
                       metrics};
  if (auto err = api.start()) {
    std::cerr << "vidflow serve: JSON API (http.host, http.port): "
              << messages::message_of(err) << "\n";
    if (object_server)
      object_server->stop();
    for (auto& a : actors)
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    return 1;
  }

  // -- resume what a previous run left unfinished ---------------------------
  self->request(orchestrator, 60s, atoms::recover_v)
    .receive(
      [&](uint64_t n) {
        if (n > 0)
          log.info("serve", "resumed " + std::to_string(n) + " unfinished jobs");
      },
      [&](caf::error& err) {
        log.error("serve", "recovery failed: " + messages::message_of(err));
      });
  // Uploads stored before a crash whose events were never acknowledged.
  if (object_server)
    object_server->announce_pending();
  // Worker nodes come last: recovered jobs are queued by now, and nodes
  // that finished tasks while we were away can report them.
  std::string cluster_note;
  if (cfg->cluster.port != 0) {
    auto port = publish_registry(cluster, cfg->cluster);
    if (!port) {
      std::cerr << "vidflow serve: cluster port (cluster.host, cluster.port): "
                << sys.render(port.error()) << "\n";
      api.stop();
      if (object_server)
        object_server->stop();
      for (auto& a : actors)
        caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
      return 1;
    }
    cluster_note = ", cluster port " + cfg->cluster.host + ":"
                   + std::to_string(*port) + " (TLS)";
  }
  log.info("serve",
           "vidflow ready: API http://" + cfg->http_host + ":"
             + std::to_string(api.port()) + ", uploads " + cfg->public_url
             + "/" + cfg->bucket + " (" + cfg->store_mode + " store"
             + (object_server ? " on port "
                                  + std::to_string(object_server->port())
                              : std::string{})
             + "), " + std::to_string(cfg->workers) + " local workers"
             + cluster_note + ", data in " + cfg->data_dir);

  int sig = 0;
  sigwait(&sigs, &sig);
  log.info("serve", std::string{"received "}
                      + (sig == SIGINT ? "SIGINT" : "SIGTERM")
                      + ", stopping: no new requests, finishing leased tasks");

  // -- graceful stop ---------------------------------------------------------
  api.stop();
  if (object_server)
    object_server->stop();
  // Let leased tasks finish so their results are recorded; queued ones stay
  // in the store and resume on the next start.
  auto deadline = std::chrono::steady_clock::now()
                  + std::chrono::milliseconds{cfg->task_timeout_ms} + 5s;
  while (std::chrono::steady_clock::now() < deadline) {
    uint64_t leased = 0;
    self->request(dispatcher, 5s, atoms::stats_v)
      .receive([&](messages::dispatcher_stats& s) { leased = s.leased; },
               [&](caf::error&) {});
    if (leased == 0)
      break;
    std::this_thread::sleep_for(100ms);
  }
  // Give the last writes a moment to commit, then stop every actor.
  std::this_thread::sleep_for(200ms);
  for (auto& a : actors)
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  log.info("serve", "stopped");
  return 0;
}

} // namespace vf::runtime
