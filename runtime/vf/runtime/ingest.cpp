// vf/runtime/ingest.cpp

#include "vf/runtime/ingest.hpp"

#include "vf/adapters/http/api_server.hpp"
#include "vf/adapters/http/user_table.hpp"
#include "vf/messages/errc.hpp"
#include "vf/runtime/aws_keys.hpp"
#include "vf/runtime/cluster.hpp"
#include "vf/runtime/command.hpp"
#include "vf/runtime/intake_link.hpp"
#include "vf/runtime/logger.hpp"
#include "vf/runtime/node.hpp"
#include "vf/runtime/ports.hpp"
#include "vf/runtime/serve_setup.hpp"

#include <csignal>
#include <iostream>
#include <memory>
#include <optional>
#include <random>

namespace vf::runtime {

int serve_ingest(const node_config& cfg, const redis_edge_config& rcfg) {
  if (!rcfg.bus) {
    std::cerr << "vidflow serve --role ingest: an ingestion node publishes "
                 "object events to Redis; set events.bus = redis (flag "
                 "--events-bus redis) and redis.host / redis.port\n";
    return 2;
  }
  bool joined = cfg.join.port != 0;
  if (!joined && cfg.webhook_token.empty()) {
    std::cerr << "vidflow serve --role ingest: set webhook.token (flag "
                 "--webhook-token) for a webhook-only node, or --join "
                 "HOST:PORT (the coordinator's cluster port) to serve the "
                 "whole JSON API\n";
    return 2;
  }
  logger log;
  log.set_level(cfg.level);
  log.set_format(cfg.log_style);
  if (joined)
    if (auto rc = prepare_data_dir(cfg, log))
      return rc;
  caf::actor_system_config sys_cfg;
  configure_actor_system(sys_cfg, cfg.scheduler, cfg.scheduler_threads);
  if (joined)
    enable_cluster(sys_cfg, cfg.join);
  node n{sys_cfg, log, "ingest"};
  std::random_device rd;
  auto seed = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  // Events only: completions and claims are the coordinator's.
  auto events_only = rcfg;
  events_only.claims = false;
  events_only.redis.completions.clear();
  auto redis = spawn_redis_edge(n, events_only, seed);
  if (cfg.store_aws_credentials)
    keep_aws_keys_fresh(n, cfg.summarizer.profile);
  auto api_cfg = api_config_of(cfg);
  api_cfg.presign_upload = upload_presigner_of(cfg);
  api_cfg.presign_download = download_presigner_of(cfg);
  api_cfg.parse_webhook = webhook_parser_of(cfg);
  api_cfg.max_connections = cfg.http_max_connections;
  api_cfg.max_connections_per_client = cfg.http_max_connections_per_client;
  api_cfg.log = [&log](const std::string& line) {
    log.adapter_line("http", line);
  };
  adapters::http::api_handles handles;
  handles.events = redis.events;
  // With --join: the whole API, each request passed to the coordinator's
  // intake gate by the proxy; logins and tokens check a copy of the
  // coordinator's accounts the link keeps in <data.dir>/users.json.
  std::optional<intake_link> link;
  if (joined) {
    auto proxy = n.keep("coordinator proxy", tier::edge,
                        spawn_coordinator_proxy(n.system()));
    handles.registry = proxy;
    handles.orchestrator = proxy;
    handles.dispatcher = proxy;
    intake_link_config link_cfg;
    link_cfg.coordinator = cfg.join;
    link_cfg.users_path = users_file(cfg.data_dir);
    link.emplace(n.system(), link_cfg, proxy);
    // One try before the API opens, so logins work from the first request
    // when the coordinator is up; intake opens either way.
    if (auto why = link->connect(); !why.empty())
      log.warn("ingest", "coordinator at " + cfg.join.host + ":"
                           + std::to_string(cfg.join.port) + ": " + why
                           + "; the webhook takes events meanwhile, job "
                             "requests answer 503 until it answers");
    api_cfg.ingest_node = true;
    api_cfg.accounts = std::make_shared<const adapters::http::user_table>(
      link_cfg.users_path, [&log](bool trouble, const std::string& line) {
        if (trouble)
          log.warn("auth", line + " (copied from the coordinator once it "
                                  "answers)");
        else
          log.info("auth", line);
      });
  } else {
    api_cfg.intake_only = true;
  }
  adapters::http::api_server api{n.system(), api_cfg, handles, n.metrics()};
  if (auto err = api.start()) {
    std::cerr << "vidflow serve --role ingest: JSON API (http.host, "
                 "http.port): "
              << messages::message_of(err) << "\n";
    n.stop();
    return 1;
  }
  n.on_stop(tier::edge, [&api] { api.stop(); });
  auto base = "http://" + cfg.http_host + ":" + std::to_string(api.port());
  log.info("ingest",
           "vidflow ingestion node ready: "
             + (joined ? "JSON API " + base + " → coordinator "
                           + cfg.join.host + ":"
                           + std::to_string(cfg.join.port) + ", "
                       : std::string{})
             + (cfg.webhook_token.empty()
                  ? std::string{"no webhook (webhook.token unset)"}
                  : "webhook " + base + "/minio/webhook → redis "
                      + rcfg.redis.address() + " stream '" + rcfg.redis.stream
                      + "'"));
  int sig = link ? link->run(n) : n.wait();
  if (sig > 0)
    log.info("ingest", std::string{"received "}
                         + (sig == SIGINT ? "SIGINT" : "SIGTERM")
                         + ", stopping");
  n.stop();
  link.reset();
  log.info("ingest", "stopped");
  return n.exit_code();
}

} // namespace vf::runtime
