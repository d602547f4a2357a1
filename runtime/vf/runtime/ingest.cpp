// vf/runtime/ingest.cpp

#include "vf/runtime/ingest.hpp"

#include "vf/adapters/http/api_server.hpp"
#include "vf/messages/errc.hpp"
#include "vf/runtime/command.hpp"
#include "vf/runtime/logger.hpp"
#include "vf/runtime/node.hpp"
#include "vf/runtime/ports.hpp"
#include "vf/runtime/serve_setup.hpp"

#include <csignal>
#include <iostream>
#include <random>

namespace vf::runtime {

int serve_ingest(const node_config& cfg, const redis_edge_config& rcfg) {
  if (!rcfg.bus) {
    std::cerr << "vidflow serve --role ingest: an ingestion node publishes "
                 "object events to Redis; set events.bus = redis (flag "
                 "--events-bus redis) and redis.host / redis.port\n";
    return 2;
  }
  if (cfg.webhook_token.empty()) {
    std::cerr << "vidflow serve --role ingest: set webhook.token (flag "
                 "--webhook-token): the webhook is all an ingestion node "
                 "serves\n";
    return 2;
  }
  logger log;
  log.set_level(cfg.level);
  log.set_format(cfg.log_style);
  caf::actor_system_config sys_cfg;
  configure_actor_system(sys_cfg, cfg.scheduler, cfg.scheduler_threads);
  node n{sys_cfg, log, "ingest"};
  std::random_device rd;
  auto seed = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  // Events only: completions and claims are the coordinator's.
  auto events_only = rcfg;
  events_only.claims = false;
  events_only.redis.completions.clear();
  auto redis = spawn_redis_edge(n, events_only, seed);
  auto api_cfg = api_config_of(cfg);
  api_cfg.intake_only = true;
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
  adapters::http::api_server api{n.system(), api_cfg, handles, n.metrics()};
  if (auto err = api.start()) {
    std::cerr << "vidflow serve --role ingest: JSON API (http.host, "
                 "http.port): "
              << messages::message_of(err) << "\n";
    n.stop();
    return 1;
  }
  n.on_stop(tier::edge, [&api] { api.stop(); });
  log.info("ingest", "vidflow ingestion node ready: webhook http://"
                       + cfg.http_host + ":" + std::to_string(api.port())
                       + "/minio/webhook → redis " + rcfg.redis.address()
                       + " stream '" + rcfg.redis.stream + "'");
  if (auto sig = n.wait())
    log.info("ingest", std::string{"received "}
                         + (sig == SIGINT ? "SIGINT" : "SIGTERM")
                         + ", stopping");
  n.stop();
  log.info("ingest", "stopped");
  return n.exit_code();
}

} // namespace vf::runtime
