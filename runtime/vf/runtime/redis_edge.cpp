// vf/runtime/redis_edge.cpp

#include "vf/runtime/redis_edge.hpp"

#include "vf/adapters/redis/event_bus.hpp"
#include "vf/messages/errc.hpp"

#include "caf/send.hpp"

#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include <map>
#include <memory>

namespace vf::runtime {

using messages::errc;
using messages::make_error;

const std::vector<setting_spec>& redis_specs() {
  static const std::vector<setting_spec> specs{
    {"serve.role", "--role", "coordinator",
     "coordinator (everything: API, store, orchestrator, workers) or "
     "ingest (a stateless intake node: the MinIO webhook into the Redis "
     "stream, plus /healthz, /readyz, /metrics, and with --join the whole "
     "JSON API through the coordinator; needs events.bus = redis)"},
    {"events.bus", "--events-bus", "direct",
     "where object events go: direct (to the orchestrator) or redis (a "
     "Redis stream the orchestrator consumes; see docs/redis.md)"},
    {"idempotency.backend", "--idempotency-backend", "store",
     "where idempotency claims live: store (the job store) or redis "
     "(shared by every coordinator and tool on that Redis)"},
    {"redis.host", "--redis-host", "127.0.0.1", "Redis server address"},
    {"redis.port", "--redis-port", "6379", "Redis server port"},
    {"redis.password", "--redis-password", "",
     "Redis AUTH password (prefer the environment: VIDFLOW_REDIS_PASSWORD)",
     true},
    {"redis.db", "--redis-db", "0", "Redis database number (SELECT)"},
    {"redis.tls", "--redis-tls", "false",
     "TLS to Redis; this build's hiredis (0.14) has none: keep Redis on "
     "loopback or a private network, or tunnel (stunnel, spiped)"},
    {"redis.stream", "--redis-stream", "vidflow:events",
     "stream of object events"},
    {"redis.group", "--redis-group", "vidflow",
     "consumer group the coordinator reads the events stream with"},
    {"redis.consumer", "--redis-consumer", "",
     "this coordinator's consumer name in the group (default: the host "
     "name; keep it stable across restarts)"},
    {"redis.completions", "--redis-completions", "vidflow:completions",
     "stream of ended jobs (JobCompleted, JobFailed, ...); empty: off"},
    {"redis.key_prefix", "--redis-key-prefix", "vidflow:",
     "prefix of the keys vidflow writes (idempotency claims)"},
    {"redis.claim_idle_ms", "--redis-claim-idle-ms", "30000",
     "an event delivered but not acknowledged this long is claimed again "
     "(a consumer died, or the orchestrator could not record it)"},
    {"redis.claim_ttl_s", "--redis-claim-ttl-s", "2592000",
     "how long an idempotency claim lives in Redis (0: for ever)"},
    {"redis.max_length", "--redis-max-length", "1000000",
     "a stream without consumer groups is trimmed to about this many "
     "entries; streams with groups only below what every group "
     "acknowledged"},
    {"redis.max_inflight", "--redis-max-inflight", "256",
     "events handed to the orchestrator and not yet answered, at most"},
    {"redis.connect_timeout_ms", "--redis-connect-timeout-ms", "2000",
     "connect and command timeout, in milliseconds"},
    {"redis.reconnect_max_ms", "--redis-reconnect-max-ms", "5000",
     "longest wait between reconnect attempts (jittered backoff)"},
  };
  return specs;
}

caf::expected<redis_edge_config> redis_edge_of(const settings& xs,
                                               const std::string& host) {
  redis_edge_config cfg;
  auto bad = [](const std::string& key, const std::string& why) {
    return make_error(errc::invalid_argument, "setting " + key + ": " + why);
  };
  auto bus = xs.str("events.bus");
  if (bus == "redis")
    cfg.bus = true;
  else if (bus != "direct")
    return bad("events.bus", "'" + bus + "' is neither direct nor redis");
  auto claims = xs.str("idempotency.backend");
  if (claims == "redis")
    cfg.claims = true;
  else if (claims != "store")
    return bad("idempotency.backend",
               "'" + claims + "' is neither store nor redis");
  auto& r = cfg.redis;
  r.host = xs.str("redis.host");
  if (r.host.empty())
    return bad("redis.host", "empty");
#define VF_UINT(var, key, lo, hi)                                             \
  auto var = xs.uint(key, lo, hi);                                            \
  if (!var)                                                                   \
    return std::move(var.error());
  VF_UINT(port, "redis.port", 1, 65535)
  VF_UINT(db, "redis.db", 0, 1023)
  VF_UINT(idle, "redis.claim_idle_ms", 100, 86400000)
  VF_UINT(ttl, "redis.claim_ttl_s", 0, 315360000)
  VF_UINT(maxlen, "redis.max_length", 0, uint64_t{1} << 40)
  VF_UINT(inflight, "redis.max_inflight", 1, 65536)
  VF_UINT(timeout, "redis.connect_timeout_ms", 10, 600000)
  VF_UINT(backoff, "redis.reconnect_max_ms", 100, 600000)
#undef VF_UINT
  r.port = static_cast<uint16_t>(*port);
  r.db = static_cast<uint32_t>(*db);
  r.claim_idle = std::chrono::milliseconds{*idle};
  r.claim_ttl = std::chrono::seconds{*ttl};
  r.max_length = *maxlen;
  cfg.max_inflight = *inflight;
  r.connect_timeout = std::chrono::milliseconds{*timeout};
  r.command_timeout = std::max(std::chrono::milliseconds{*timeout},
                               std::chrono::milliseconds{2000});
  r.reconnect_max = std::chrono::milliseconds{*backoff};
  r.password = xs.str("redis.password");
  auto tls = xs.str("redis.tls");
  if (tls == "true" || tls == "1" || tls == "yes")
    return bad("redis.tls",
               "this build's hiredis (0.14, Debian 12) has no TLS; keep "
               "Redis on loopback or a private network, or reach it "
               "through a TLS tunnel (stunnel, spiped) on 127.0.0.1");
  if (tls != "false" && tls != "0" && tls != "no")
    return bad("redis.tls", "'" + tls + "' is not true or false");
  auto name = [&](const char* key, std::string& out,
                  bool may_be_empty) -> caf::error {
    out = xs.str(key);
    if (out.size() > 200)
      return bad(key, "longer than 200 bytes");
    if (out.empty() && !may_be_empty)
      return bad(key, "empty");
    return caf::none;
  };
  if (auto err = name("redis.stream", r.stream, false))
    return err;
  if (auto err = name("redis.group", r.group, false))
    return err;
  if (auto err = name("redis.consumer", r.consumer, true))
    return err;
  if (r.consumer.empty())
    r.consumer = host;
  if (auto err = name("redis.completions", r.completions, true))
    return err;
  if (auto err = name("redis.key_prefix", r.key_prefix, true))
    return err;
  if (r.completions == r.stream)
    return bad("redis.completions", "must differ from redis.stream");
  return cfg;
}

namespace {

adapters::redis::bus_hooks hooks_of(node& n) {
  auto& family = prometheus::BuildCounter()
                   .Name("vidflow_redis_operations_total")
                   .Help("What the Redis edge did, by operation: published, "
                         "delivered, acked, reclaimed, rejected, retried, "
                         "completions, trimmed, unavailable")
                   .Register(*n.metrics());
  auto counters = std::make_shared<std::map<std::string, prometheus::Counter*>>();
  for (auto op : {"published", "delivered", "acked", "reclaimed", "rejected",
                  "retried", "completions", "trimmed", "unavailable"})
    (*counters)[op] = &family.Add({{"op", op}});
  adapters::redis::bus_hooks hooks;
  hooks.warn = [&log = n.log()](const std::string& text) {
    log.warn("redis", text);
  };
  hooks.info = [&log = n.log()](const std::string& text) {
    log.info("redis", text);
  };
  hooks.count = [counters](const char* op, uint64_t k) {
    if (auto i = counters->find(op); i != counters->end())
      i->second->Increment(static_cast<double>(k));
  };
  return hooks;
}

} // namespace

redis_edge spawn_redis_edge(node& n, const redis_edge_config& cfg,
                            uint64_t seed) {
  redis_edge out;
  if (!cfg.used())
    return out;
  out.hooks = hooks_of(n);
  auto& hooks = out.hooks;
  auto& sys = n.system();
  if (cfg.bus) {
    out.events = n.keep("redis event publisher", tier::domain,
                        adapters::redis::spawn_event_publisher(
                          sys, cfg.redis, hooks, seed ^ 0x1));
    if (!cfg.redis.completions.empty()) {
      auto pub = n.keep("redis completion publisher", tier::store,
                        adapters::redis::spawn_completion_publisher(
                          sys, cfg.redis, hooks, seed ^ 0x2));
      out.on_job_end = [pub](const messages::job& j, int64_t ms) {
        caf::anon_send(pub, atoms::events_v, j, ms);
      };
    }
  }
  if (cfg.claims)
    out.claims = n.keep("redis claims", tier::store,
                        adapters::redis::spawn_redis_claims(sys, cfg.redis,
                                                            hooks,
                                                            seed ^ 0x3));
  n.log().info("redis",
               "using redis at " + cfg.redis.address() + " for "
                 + (cfg.bus ? "events (stream '" + cfg.redis.stream
                                + "', group '" + cfg.redis.group
                                + "', consumer '" + cfg.redis.consumer + "')"
                            : std::string{})
                 + (cfg.bus && cfg.claims ? " and " : "")
                 + (cfg.claims ? std::string{"idempotency claims"}
                               : std::string{}));
  return out;
}

void start_redis_consumer(node& n, const redis_edge_config& cfg,
                          const redis_edge& edge,
                          messages::object_sink_actor sink, uint64_t seed,
                          bool trust_digest) {
  if (!cfg.bus)
    return;
  adapters::redis::consumer_config ccfg;
  ccfg.redis = cfg.redis;
  ccfg.max_inflight = cfg.max_inflight;
  ccfg.hooks = edge.hooks;
  ccfg.seed = seed ^ 0x4;
  ccfg.trust_digest = trust_digest;
  n.keep("redis event consumer", tier::edge,
         adapters::redis::spawn_event_consumer(n.system(), std::move(ccfg),
                                               std::move(sink)));
}

} // namespace vf::runtime
