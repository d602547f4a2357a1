// vf/runtime/node_config.cpp

#include "vf/runtime/node_config.hpp"

#include <unistd.h>

#include "vf/actors/orchestrator.hpp"
#include "vf/adapters/common/trusted_proxies.hpp"
#include "vf/adapters/http/recipe.hpp"
#include "vf/adapters/http/user_table.hpp"
#include "vf/adapters/webhooks/callback_policy.hpp"
#include "vf/messages/errc.hpp"
#include "vf/messages/task.hpp"
#include "vf/runtime/aws_keys.hpp"
#include "vf/runtime/cluster.hpp"
#include "vf/runtime/dynamodb_edge.hpp"
#include "vf/runtime/redis_edge.hpp"
#include "vf/runtime/sqs_edge.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace vf::runtime {

using messages::errc;
using messages::make_error;


/// Keys both `serve` and `worker` have: the TLS files and failure detection.
std::vector<setting_spec> cluster_tls_specs() {
  return {
    {"cluster.ca", "--cluster-ca", "",
     "PEM file of the cluster CA that signs every node's certificate"},
    {"cluster.cert", "--cluster-cert", "",
     "PEM certificate of this node (signed by cluster.ca)"},
    {"cluster.key", "--cluster-key", "",
     "PEM private key of this node's certificate"},
    {"cluster.heartbeat_ms", "--cluster-heartbeat-ms", "500",
     "heartbeat interval between nodes, in milliseconds"},
    {"cluster.timeout_ms", "--cluster-timeout-ms", "3000",
     "a peer silent this long is dead: its leases go to other workers"},
    {"cluster.admin_key", "--cluster-admin-key", "",
     "file with the cluster admin secret (init-certs writes admin.secret): "
     "lets an operator drain or evict any node; keep it off worker nodes"},
    {"cluster.ingest_key", "--cluster-ingest-key", "",
     "file with the cluster ingest secret (init-certs writes "
     "ingest.secret): admits ingestion nodes to the coordinator's API; "
     "only on the coordinator and its ingestion nodes"},
  };
}

std::string users_file(const std::string& data_dir) {
  return data_dir + "/users.json";
}

caf::expected<std::vector<account>> parse_accounts(const std::string& text) {
  std::vector<account> result;
  std::istringstream users{text};
  std::string entry;
  while (std::getline(users, entry, ',')) {
    if (entry.empty())
      continue;
    auto c1 = entry.find(':');
    auto c2 = c1 == std::string::npos ? c1 : entry.find(':', c1 + 1);
    if (c2 == std::string::npos || c1 == 0)
      return make_error(errc::invalid_argument,
                        "entries must be name:password:role, got an entry "
                        "without two ':'");
    account a{entry.substr(0, c1), entry.substr(c1 + 1, c2 - c1 - 1),
              entry.substr(c2 + 1)};
    if (a.password.empty())
      return make_error(errc::invalid_argument,
                        "user '" + a.name + "' has no password");
    if (a.role != "user" && a.role != "admin")
      return make_error(errc::invalid_argument,
                        "user '" + a.name + "' has role '" + a.role
                          + "'; use user or admin");
    result.push_back(std::move(a));
  }
  return result;
}

const std::vector<setting_spec>& serve_specs() {
  static const std::vector<setting_spec> specs = [] {
    std::vector<setting_spec> xs{
      {"http.host", "--http-host", "127.0.0.1", "address of the JSON API"},
      {"http.port", "--http-port", "8000", "port of the JSON API"},
      {"http.threads", "--http-threads", "1", "I/O threads of the JSON API"},
      {"http.max_body_bytes", "--http-max-body", "1MiB",
       "largest request body the API accepts (larger: 413)"},
      {"http.rate_limit", "--rate-limit", "1000",
       "requests per second one client (IP) may make; 0: unlimited"},
      {"http.rate_burst", "--rate-burst", "2000",
       "requests one client may make in a burst above the rate"},
      {"http.max_connections", "--http-max-connections", "1024",
       "most open API connections (also capped by the descriptor limit)"},
      {"http.max_connections_per_client", "--http-max-connections-per-client",
       "128", "most open API connections per client IP (0: no per-client cap)"},
      {"http.max_streams", "--http-max-streams", "256",
       "most live event streams (GET /jobs/{id}/events, /ws) open at once"},
      {"http.max_streams_per_user", "--http-max-streams-per-user", "8",
       "most live event streams one user may hold open"},
      {"http.idle_timeout_s", "--http-idle-timeout-s", "30",
       "seconds a connection may idle or take to send one whole request"},
      {"http.trusted_proxies", "--trusted-proxies", "",
       "reverse proxies (IPs/CIDRs, comma-separated) whose X-Forwarded-For "
       "names the client"},
      {"store.max_connections", "--store-max-connections", "1024",
       "most open built-in store connections (also capped by descriptors)"},
      {"store.max_connections_per_client", "--store-max-connections-per-client",
       "128", "most open store connections per client IP (0: no cap)"},
      {"store.header_timeout_s", "--store-header-timeout-s", "10",
       "seconds a store request header may take to arrive, in total"},
      {"store.min_rate", "--store-min-rate", "1024",
       "slowest accepted upload in bytes/s over store.rate_window_s (0: off)"},
      {"store.rate_window_s", "--store-rate-window-s", "10",
       "window in seconds over which store.min_rate is averaged"},
      {"store.cors_origins", "--store-cors-origins", "",
       "web origins (comma-separated, e.g. https://videos.example.com) whose "
       "pages may upload to and read from the built-in store in a browser "
       "(default: the API's own, http://<http.host>:<http.port>, and "
       "localhost for 127.0.0.1)"},
      {"web.dir", "--web-dir", "",
       "serve the web app (/ and /admin) from this folder instead of the "
       "copy built into the binary (for working on adapters/web)"},
      {"store.multipart_expiry_s", "--store-multipart-expiry-s", "604800",
       "seconds after which a multipart upload never completed is removed "
       "with its parts (built-in store)"},
      {"limits.fd_reserve", "--fd-reserve", "128",
       "file descriptors kept from the listeners for database, logs, media"},
      {"limits.min_free_bytes", "--min-free-bytes", "1GiB",
       "free space the data dir's file system must keep; below it /readyz "
       "answers 503 and POST /jobs 507 insufficient_storage"},
      {"limits.jobs_in_flight_per_user", "--jobs-in-flight-per-user", "1000",
       "most jobs one user may have waiting for upload or in processing "
       "(more: 429 quota_exceeded; 0: no limit)"},
      {"limits.waiting_requests", "--waiting-requests", "10000",
       "most GET /jobs/{id}?wait= requests held at once; one more is "
       "answered at once with the job as it stands (0: never held)"},
      {"limits.bytes_per_user", "--bytes-per-user", "0",
       "most bytes of stored uploads one user may hold before POST /jobs "
       "answers 403 quota_exceeded (0: no limit)"},
      {"retention.failed_s", "--retention-failed-s", "604800",
       "seconds after a job FAILED, was CANCELLED or EXPIRED until its upload "
       "is deleted (the job record and dead letter stay; 0: keep forever)"},
      {"data.dir", "--data-dir", "./var",
       "where the job database and built-in store's objects live"},
      {"data.commit_delay_us", "--commit-delay-us", "1000",
       "microseconds a small commit (under 8 writes) of the SQLite job "
       "database waits for more writes while several requests write at "
       "once (fewer, larger commits under load; a lone writer never "
       "waits; 0: never)"},
      {"memory.trim_interval_s", "--memory-trim-interval-s", "60",
       "seconds between hand-backs of freed heap memory to the OS "
       "(malloc_trim), so the node's RSS follows what it holds now rather "
       "than its busiest moment (0: never)"},
      {"workers.count", "--workers", "2", "worker slots on this node"},
      {"workers.task_timeout_ms", "--task-timeout-ms", "60000",
       "deadline of one task attempt, in milliseconds"},
      {"workers.max_attempts", "--max-attempts", "3",
       "attempts per step before a job fails for good"},
      {"workers.backoff_base_ms", "--backoff-base-ms", "500",
       "first retry waits up to this long (full jitter, doubling)"},
      {"workers.backoff_cap_ms", "--backoff-cap-ms", "30000",
       "longest wait between retries"},
      {"workers.memory_budget", "--memory-budget", "0",
       "memory the tasks of this node's workers may use at once, by their "
       "estimates, e.g. 4GiB (a 1080p rendition of a 1080p source counts about "
       "450 MiB); a "
       "task that needs more than any node's budget fails no_worker (0: "
       "three quarters of the machine's memory)"},
      {"workers.no_worker_after_s", "--no-worker-after-s", "300",
       "a task that no joined worker offers to run (e.g. a render on a "
       "coordinator with workers.count = 0) fails with no_worker after this "
       "many seconds instead of waiting for ever (0: it waits)"},
      {"outputs.split", "--split-renders", "1",
       "spread a job's renditions over the nodes that have a free worker "
       "(0: one render task per job)"},
      {"workers.reserve_after_s", "--reserve-after-s", "30",
       "a render that no node has room for after this many seconds keeps "
       "the least loaded node that could hold it: no other render starts "
       "there until it fits (0: at once)"},
      {"store.mode", "--store-mode", "builtin",
       "object store: builtin (embedded S3 endpoint) or s3 (MinIO/S3/...)"},
      {"store.host", "--store-host", "127.0.0.1",
       "address of the built-in store's endpoint"},
      {"store.port", "--store-port", "9000",
       "port of the built-in store's endpoint"},
      {"store.public_url", "--public-url", "",
       "base of presigned URLs clients see (default: the store endpoint)"},
      {"store.endpoint", "--store-endpoint", "",
       "s3 mode: URL of the S3-compatible server, e.g. http://127.0.0.1:9000"},
      {"store.bucket", "--bucket", "uploads", "bucket uploads go to"},
      {"store.region", "--region", "us-east-1", "SigV4 region"},
      {"store.credentials", "--store-credentials", "keys",
       "s3 mode: keys (store.access_key and store.secret_key) or aws (the "
       "AWS chain: environment, shared file with aws.profile, ECS task role, "
       "EC2 instance role)"},
      {"store.addressing", "--store-addressing", "auto",
       "s3 mode: path (endpoint/bucket/key), virtual (bucket.host/key) or "
       "auto (virtual on *.amazonaws.com, else path)"},
      {"store.delete_objects", "--store-delete-objects", "1",
       "s3 mode: DELETE /jobs and retention delete the job's upload and "
       "outputs from the bucket (0: never; the node needs no delete rights "
       "and a lifecycle rule must)"},
      {"store.multipart_threshold", "--multipart-threshold", "64MiB",
       "s3 mode: outputs larger than this are uploaded in parts (0: never)"},
      {"store.part_size", "--part-size", "16MiB",
       "s3 mode: size of each part of a multipart upload (5MiB..5GiB)"},
      {"store.access_key", "--access-key", "", "access key for presigning",
       false},
      {"store.secret_key", "--secret-key", "", "secret key for presigning",
       true},
      {"store.max_upload_bytes", "--max-upload-bytes", "5GiB",
       "largest upload the built-in store accepts (larger: 413)"},
      {"store.presign_expires", "--presign-expires", "900",
       "lifetime of presigned upload URLs, in seconds (1..604800)"},
      {"outputs.default", "--outputs-default", "",
       "media outputs of jobs created without \"outputs\", as the JSON of "
       "POST /jobs, e.g. {\"thumbnails\":[\"small\"]} (empty: metadata and "
       "summary only)"},
      {"outputs.url_expires", "--outputs-url-expires", "3600",
       "lifetime of presigned download URLs of outputs, in seconds "
       "(1..604800)"},
      {"outputs.timeout_s", "--outputs-timeout-s", "1800",
       "deadline of one attempt of a job's render step (thumbnails and "
       "renditions), in seconds"},
      {"outputs.reuse", "--reuse-outputs", "1",
       "1: a job whose upload has the same bytes (SHA-256) and recipe as an "
       "earlier succeeded job of the same user copies that job's outputs "
       "instead of encoding again; 0: always encode (e.g. after changing "
       "encoder settings)"},
      {"outputs.encoder_threads", "--encoder-threads", "0",
       "encoder threads of one render, split between its renditions (0: the "
       "machine's cores divided by workers.count, at least 1, so renders on "
       "every worker slot share the cores instead of fighting for them)"},
      {"store.upload_grace_s", "--upload-grace-s", "60",
       "seconds an upload may still arrive after its URL expired before the "
       "job is EXPIRED (covers an upload that started just before)"},
      {"store.expire_sweep_s", "--expire-sweep-s", "60",
       "how often jobs whose upload never came are marked EXPIRED, in "
       "seconds"},
      {"auth.jwt_secret", "--jwt-secret", "",
       "HMAC key of access tokens (at least 16 bytes)", true},
      {"auth.token_ttl", "--token-ttl", "3600",
       "lifetime of access tokens, in seconds"},
      {"auth.users", "--users", "",
       "accounts as name:password:role,... (role user or admin); seeds "
       "<data.dir>/users.json on first start, ignored once it exists "
       "(then: vidflow users)",
       true},
      {"webhook.token", "--webhook-token", "",
       "secret of /minio/webhook: MinIO's auth_token, or the HMAC key of "
       "X-Vidflow-Signature (empty: no webhook route; required in s3 mode)",
       true},
      {"webhook.max_records", "--webhook-max-records", "100",
       "most records one webhook request may carry (more: 413)"},
      {"webhooks.secret", "--webhooks-secret", "",
       "key the signing secrets of callbacks (POST /jobs callback_url) are "
       "derived from, one per user (empty: derived from auth.jwt_secret)",
       true},
      {"webhooks.allow", "--webhooks-allow", "public",
       "where callbacks may go: 'public' addresses and/or IP networks "
       "(comma-separated), checked after DNS resolution"},
      {"webhooks.retry_base_ms", "--webhooks-retry-base-ms", "5000",
       "wait after a failed callback; doubles per attempt up to 1 h, given "
       "up after 24 h"},
      {"dlq.interval_s", "--dlq-interval-s", "300",
       "how often the DLQ analyzer writes its scheduled report (0: never)"},
      {"dlq.window_s", "--dlq-window-s", "86400",
       "window of the scheduled DLQ report, in seconds (0: all records)"},
      {"dlq.incident_prefix", "--dlq-incident-prefix", "incidents/",
       "s3 mode: each scheduled DLQ report that holds dead letters is also "
       "written as JSON to store.bucket under this prefix (empty: not)"},
      {"testing.fault_rate", "--fault-rate", "0",
       "TEST ONLY: share of probes (0..1) that fail with testing.fault_code"},
      {"testing.fault_code", "--fault-code", "storage_unavailable",
       "TEST ONLY: error code of injected faults (e.g. timeout, bad_media)"},
      {"testing.crash_on", "--crash-on", "",
       "TEST ONLY: abort the whole process when a probe of an upload whose "
       "key contains this text starts (a poison upload); empty: off"},
      {"testing.effects_log", "--effects-log", "",
       "TEST ONLY: append a JSON line for every task a worker finished and "
       "every ok step the ledger committed to this file; empty: off"},
      {"log.level", "--log-level", "info", "debug, info, warning or error"},
      {"log.format", "--log-format", "text",
       "text (time LEVEL component: message) or json (one object per line)"},
      {"scheduler.policy", "--scheduler", "sharing",
       "CAF scheduler: sharing (one queue) or stealing (work stealing)"},
      {"scheduler.threads", "--scheduler-threads", "0",
       "CAF scheduler threads (0: half the cores, at least 1)"},
      {"pipeline.steps", "--pipeline", "probe,summarize",
       "steps of every job, in order: probe, summarize, sleep (benchmarks)"},
      {"pipeline.sleep_ms", "--sleep-ms", "10",
       "duration of a sleep step, in milliseconds (benchmarks)"},
      {"pipeline.labels", "--step-labels", "",
       "labels a worker needs per step, as kind:label,... (e.g. probe:gpu)"},
      {"cluster.port", "--cluster-port", "0",
       "port of the cluster registry worker nodes join (0: single node)"},
      {"cluster.host", "--cluster-host", "127.0.0.1",
       "address the cluster port listens on (0.0.0.0: all)"},
      {"ingest.join", "--join", "",
       "ingestion nodes (serve.role = ingest): the coordinator's cluster port "
       "as host:port; the node then serves the whole JSON API, passing each "
       "request to the coordinator (needs cluster.ca, cluster.cert, "
       "cluster.key and cluster.ingest_key); empty: webhook only"},
      {"cluster.object_url", "--cluster-object-url", "",
       "base URL by which worker nodes fetch uploads (default: "
       "store.public_url, or store.endpoint in s3 mode)"},
    };
    for (auto& x : cluster_tls_specs())
      xs.push_back(x);
    for (auto& x : redis_specs())
      xs.push_back(x);
    for (auto& x : summarizer_specs())
      xs.push_back(x);
    for (auto& x : sqs_specs())
      xs.push_back(x);
    for (auto& x : dynamodb_specs())
      xs.push_back(x);
    return xs;
  }();
  return specs;
}

const std::vector<setting_spec>& worker_specs() {
  static const std::vector<setting_spec> specs = [] {
    std::vector<setting_spec> xs{
      {"worker.join", "--join", "",
       "the coordinator's cluster port, as host:port"},
      {"worker.name", "--name", "",
       "this node's name in the cluster (default: the host name)"},
      {"worker.slots", "--slots", "2", "tasks this node runs at once"},
      {"worker.memory_budget", "--memory-budget", "0",
       "memory this node's tasks may use at once, by their estimates, "
       "e.g. 4GiB (0: three quarters of the machine's memory)"},
      {"worker.kinds", "--kinds", "probe,summarize,sleep,render,compose",
       "task kinds this node runs"},
      {"worker.labels", "--labels", "",
       "labels of this node, e.g. gpu,big-memory"},
      {"worker.reconnect_max_ms", "--reconnect-max-ms", "5000",
       "longest wait between attempts to reach the coordinator"},
      {"worker.drain_timeout_s", "--drain-timeout-s", "120",
       "how long a draining node waits for its tasks before it leaves"},
      {"metrics.listen", "--metrics-listen", "",
       "host:port where this node serves GET /metrics for Prometheus (its "
       "own tasks, slots and coordinator link), e.g. 0.0.0.0:9101; empty: "
       "off"},
      {"data.dir", "--data-dir", "./var/worker",
       "where downloaded objects are kept while they are probed"},
      {"testing.effects_log", "--effects-log", "",
       "TEST ONLY: append a JSON line for every task this node's workers "
       "finished to this file; empty: off"},
      {"log.level", "--log-level", "info", "debug, info, warning or error"},
      {"log.format", "--log-format", "text",
       "text (time LEVEL component: message) or json (one object per line)"},
      {"scheduler.policy", "--scheduler", "sharing",
       "CAF scheduler: sharing (one queue) or stealing (work stealing)"},
      {"scheduler.threads", "--scheduler-threads", "0",
       "CAF scheduler threads (0: half the cores, at least 1)"},
    };
    for (auto& x : cluster_tls_specs())
      xs.push_back(x);
    for (auto& x : summarizer_specs())
      xs.push_back(x);
    return xs;
  }();
  return specs;
}

namespace {

caf::error bad(const settings& xs, const std::string& key,
               const std::string& what) {
  return make_error(errc::invalid_argument, "setting " + key + " ("
                                              + xs.origin(key) + ") " + what);
}

/// `scheduler.policy`, checked.
caf::expected<scheduler_policy> scheduler_policy_of(const settings& xs) {
  auto x = xs.str("scheduler.policy");
  if (x == "sharing")
    return scheduler_policy::sharing;
  if (x == "stealing")
    return scheduler_policy::stealing;
  return bad(xs, "scheduler.policy", "must be sharing or stealing");
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in{text};
  std::string item;
  while (std::getline(in, item, ',')) {
    auto b = item.find_first_not_of(" \t");
    auto e = item.find_last_not_of(" \t");
    if (b != std::string::npos)
      out.push_back(item.substr(b, e - b + 1));
  }
  return out;
}

/// A step `pipeline.steps` may name (a render follows them when a job asks
/// for outputs).
bool valid_step(const std::string& x) {
  return x == "probe" || x == "summarize" || x == "sleep";
}

/// A kind a worker node may run (`worker.kinds`) or a label may be for.
bool valid_kind(const std::string& x) {
  return valid_step(x) || x == "render" || x == "compose";
}

bool readable(const std::string& path) {
  return ::access(path.c_str(), R_OK) == 0;
}

/// Parses the setting `key` (the coordinator's cluster port as
/// `host:port`, IPv6 hosts in brackets) into `cfg.host` and `cfg.port`.
caf::error read_join(const settings& xs, const char* key,
                     cluster_config& cfg) {
  auto& join = xs.str(key);
  auto colon = join.rfind(':');
  char* end = nullptr;
  auto port = colon == std::string::npos
                ? 0
                : std::strtoul(join.c_str() + colon + 1, &end, 10);
  if (colon == std::string::npos || colon == 0 || end == nullptr
      || *end != '\0' || port == 0 || port > 65535)
    return bad(xs, key, "must be host:port, got '" + join + "'");
  cfg.host = join.substr(0, colon);
  if (cfg.host.size() > 2 && cfg.host.front() == '['
      && cfg.host.back() == ']')
    cfg.host = cfg.host.substr(1, cfg.host.size() - 2);
  cfg.port = static_cast<uint16_t>(port);
  return caf::none;
}

/// Reads the secret in the file setting `key` names (its first line, at
/// least 32 characters) into `out`; leaves `out` empty when `key` is unset.
caf::error read_secret_file(const settings& xs, const char* key,
                            std::string& out) {
  auto& path = xs.str(key);
  if (path.empty())
    return caf::none;
  std::ifstream in{path};
  std::string secret;
  if (!in || !std::getline(in, secret))
    return bad(xs, key, "names '" + path + "', which cannot be read");
  while (!secret.empty()
         && std::isspace(static_cast<unsigned char>(secret.back())))
    secret.pop_back();
  if (secret.size() < 32)
    return bad(xs, key,
               "names '" + path
                 + "', whose first line is shorter than 32 characters "
                   "(make one with 'vidflow cluster init-certs')");
  out = std::move(secret);
  return caf::none;
}

/// Reads the TLS files and failure detection keys; `needed` says whether
/// the node talks to the cluster at all.
caf::error read_cluster_tls(const settings& xs, bool needed,
                            cluster_config& cfg) {
  cfg.ca = xs.str("cluster.ca");
  cfg.cert = xs.str("cluster.cert");
  cfg.key = xs.str("cluster.key");
  auto hb = xs.uint("cluster.heartbeat_ms", 10, 600000);
  if (!hb)
    return hb.error();
  auto to = xs.uint("cluster.timeout_ms", 100, 3600000);
  if (!to)
    return to.error();
  cfg.heartbeat = std::chrono::milliseconds{*hb};
  cfg.timeout = std::chrono::milliseconds{*to};
  if (cfg.timeout < 2 * cfg.heartbeat)
    return bad(xs, "cluster.timeout_ms",
               "must be at least twice cluster.heartbeat_ms, or live peers "
               "look dead");
  if (auto err = read_secret_file(xs, "cluster.admin_key", cfg.admin_key))
    return err;
  if (auto err = read_secret_file(xs, "cluster.ingest_key", cfg.ingest_key))
    return err;
  if (!needed)
    return caf::none;
  for (auto key : {"cluster.ca", "cluster.cert", "cluster.key"}) {
    auto& path = xs.str(key);
    if (path.empty())
      return bad(xs, key,
                 "is required: nodes authenticate each other with TLS "
                 "(make a dev CA with 'vidflow cluster init-certs')");
    if (!readable(path))
      return bad(xs, key, "names '" + path + "', which cannot be read");
  }
  return caf::none;
}

} // namespace

caf::expected<node_config> make_node_config(const settings& xs) {
  node_config cfg;
  auto port = [&](const std::string& key) -> caf::expected<uint16_t> {
    auto x = xs.uint(key, 0, 65535);
    if (!x)
      return x.error();
    return static_cast<uint16_t>(*x);
  };
#define VF_TRY(var, expr)                                                      \
  auto var = (expr);                                                           \
  if (!var)                                                                    \
    return std::move(var.error());
  cfg.http_host = xs.str("http.host");
  VF_TRY(http_port, port("http.port"));
  cfg.http_port = *http_port;
  VF_TRY(http_threads, xs.uint("http.threads", 1, 64));
  cfg.http_threads = *http_threads;
  VF_TRY(max_body, xs.bytes("http.max_body_bytes"));
  cfg.http_max_body = *max_body;
  cfg.data_dir = xs.str("data.dir");
  if (cfg.data_dir.empty())
    return bad(xs, "data.dir", "must name a directory");
  VF_TRY(workers, xs.uint("workers.count", 0, 1024));
  cfg.workers = *workers;
  VF_TRY(timeout, xs.uint("workers.task_timeout_ms", 10, 86400000));
  cfg.task_timeout_ms = static_cast<uint32_t>(*timeout);
  VF_TRY(attempts, xs.uint("workers.max_attempts", 1, 100));
  cfg.max_attempts = static_cast<uint32_t>(*attempts);
  VF_TRY(base, xs.uint("workers.backoff_base_ms", 0, 3600000));
  cfg.backoff_base = std::chrono::milliseconds{*base};
  VF_TRY(cap, xs.uint("workers.backoff_cap_ms", 0, 86400000));
  cfg.backoff_cap = std::chrono::milliseconds{*cap};
  if (auto& mode = xs.str("store.mode"); mode == "builtin")
    cfg.store_mode = store_mode::builtin;
  else if (mode == "s3")
    cfg.store_mode = store_mode::s3;
  else
    return bad(xs, "store.mode", "must be 'builtin' or 's3', got '" + mode
                                   + "'");
  cfg.store_host = xs.str("store.host");
  VF_TRY(store_port, port("store.port"));
  cfg.store_port = *store_port;
  cfg.region = xs.str("store.region");
  if (auto& creds = xs.str("store.credentials"); creds == "aws")
    cfg.store_aws_credentials = true;
  else if (creds != "keys")
    return bad(xs, "store.credentials",
               "must be 'keys' or 'aws', got '" + creds + "'");
  if (cfg.store_aws_credentials && cfg.store_mode != store_mode::s3)
    return bad(xs, "store.credentials",
               "= aws needs store.mode = s3 (the built-in store checks its "
               "own keys: set store.access_key and store.secret_key)");
  cfg.store_endpoint = xs.str("store.endpoint");
  // With the AWS chain and no endpoint, the store is AWS S3 in the region.
  if (cfg.store_mode == store_mode::s3 && cfg.store_endpoint.empty()
      && cfg.store_aws_credentials)
    cfg.store_endpoint = "https://s3." + cfg.region + ".amazonaws.com";
  if (cfg.store_mode == store_mode::s3 && cfg.store_endpoint.empty())
    return bad(xs, "store.endpoint",
               "is required with store.mode = s3 (e.g. http://127.0.0.1:9000)");
  if (cfg.store_mode == store_mode::builtin)
    cfg.store_endpoint = "http://" + cfg.store_host + ":"
                         + std::to_string(cfg.store_port);
  cfg.public_url = xs.str("store.public_url");
  if (cfg.public_url.empty())
    cfg.public_url = cfg.store_endpoint;
  while (!cfg.public_url.empty() && cfg.public_url.back() == '/')
    cfg.public_url.pop_back();
  if (cfg.public_url.rfind("http://", 0) != 0
      && cfg.public_url.rfind("https://", 0) != 0)
    return bad(xs, "store.public_url",
               "must start with http:// or https://, got '" + cfg.public_url
                 + "'");
  cfg.bucket = xs.str("store.bucket");
  if (cfg.bucket.size() < 3 || cfg.bucket.size() > 63
      || cfg.bucket.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789.-")
           != std::string::npos)
    return bad(xs, "store.bucket",
               "must be 3-63 characters of a-z, 0-9, '.' and '-'");
  if (auto style = adapters::s3::addressing_for(xs.str("store.addressing"),
                                                cfg.store_endpoint, cfg.bucket))
    cfg.store_style = *style;
  else
    return bad(xs, "store.addressing",
               "must be 'auto', 'path' or 'virtual', got '"
                 + xs.str("store.addressing") + "'");
  if (cfg.store_mode == store_mode::builtin)
    cfg.store_style = adapters::s3::addressing::path;
  VF_TRY(s3_deletes, xs.uint("store.delete_objects", 0, 1));
  cfg.s3_deletes = *s3_deletes == 1;
  VF_TRY(threshold, xs.bytes("store.multipart_threshold"));
  cfg.multipart_threshold = *threshold;
  VF_TRY(part_size, xs.bytes("store.part_size"));
  if (*part_size < (uint64_t{5} << 20) || *part_size > (uint64_t{5} << 30))
    return bad(xs, "store.part_size",
               "must be between 5MiB and 5GiB (S3's limits of a part)");
  cfg.part_size = *part_size;
  cfg.access_key = xs.str("store.access_key");
  cfg.secret_key = xs.str("store.secret_key");
  if (cfg.access_key.empty() && !cfg.store_aws_credentials)
    return bad(xs, "store.access_key",
               "is required (env VIDFLOW_STORE_ACCESS_KEY)");
  // Our own store's key must resist guessing; an external server's key is
  // whatever that server was given (s3rver's is fixed at 'S3RVER').
  if (cfg.store_mode == store_mode::builtin && cfg.secret_key.size() < 8)
    return bad(xs, "store.secret_key",
               "must be at least 8 characters (env VIDFLOW_STORE_SECRET_KEY)");
  if (cfg.secret_key.empty() && !cfg.store_aws_credentials)
    return bad(xs, "store.secret_key",
               "is required (env VIDFLOW_STORE_SECRET_KEY)");
  VF_TRY(max_upload, xs.bytes("store.max_upload_bytes"));
  cfg.max_upload_bytes = *max_upload;
  VF_TRY(expires, xs.uint("store.presign_expires", 1, 604800));
  cfg.presign_expires = static_cast<uint32_t>(*expires);
  if (auto& text = xs.str("outputs.default"); !text.empty()) {
    auto doc = nlohmann::json::parse(text, nullptr, false);
    if (doc.is_discarded())
      return bad(xs, "outputs.default", "is not JSON");
    auto check = adapters::http::canonical_recipe(doc);
    if (!check.error.empty())
      return bad(xs, "outputs.default", check.error);
    cfg.default_outputs = check.canonical;
  }
  VF_TRY(url_expires, xs.uint("outputs.url_expires", 1, 604800));
  cfg.outputs_url_expires = static_cast<uint32_t>(*url_expires);
  VF_TRY(render_timeout, xs.uint("outputs.timeout_s", 1, 86400));
  cfg.render_timeout_ms = static_cast<uint32_t>(*render_timeout * 1000);
  VF_TRY(no_worker_after, xs.uint("workers.no_worker_after_s", 0, 604800));
  cfg.no_worker_after = std::chrono::seconds{*no_worker_after};
  VF_TRY(split, xs.uint("outputs.split", 0, 1));
  cfg.split_renders = *split == 1;
  VF_TRY(reserve_after, xs.uint("workers.reserve_after_s", 0, 86400));
  cfg.reserve_after = std::chrono::seconds{*reserve_after};
  VF_TRY(reuse, xs.uint("outputs.reuse", 0, 1));
  cfg.reuse_outputs = *reuse == 1;
  VF_TRY(budget, xs.bytes("workers.memory_budget"));
  cfg.memory_budget_mb = *budget / (1024 * 1024);
  if (*budget > 0 && cfg.memory_budget_mb == 0)
    return bad(xs, "workers.memory_budget",
               "must be at least 1MiB (or 0 for the default)");
  VF_TRY(encoder_threads, xs.uint("outputs.encoder_threads", 0, 256));
  cfg.encoder_threads = static_cast<uint32_t>(*encoder_threads);
  VF_TRY(grace, xs.uint("store.upload_grace_s", 0, 86400));
  cfg.upload_grace = std::chrono::seconds{*grace};
  VF_TRY(sweep, xs.uint("store.expire_sweep_s", 1, 86400));
  cfg.expire_sweep = std::chrono::seconds{*sweep};
  cfg.jwt_secret = xs.str("auth.jwt_secret");
  if (cfg.jwt_secret.size() < 16)
    return bad(xs, "auth.jwt_secret",
               "must be at least 16 characters (env VIDFLOW_AUTH_JWT_SECRET)");
  VF_TRY(ttl, xs.uint("auth.token_ttl", 60, 604800));
  cfg.token_ttl = static_cast<uint32_t>(*ttl);
  auto users = parse_accounts(xs.str("auth.users"));
  if (!users)
    return bad(xs, "auth.users", messages::message_of(users.error()));
  cfg.users = std::move(*users);
  // Accounts live in <data.dir>/users.json (`vidflow users`); auth.users
  // only seeds that file on the first start.
  if (cfg.users.empty()
      && ::access(users_file(cfg.data_dir).c_str(), F_OK) != 0)
    return bad(xs, "auth.users",
               "must name at least one account (name:password:role) while "
               + users_file(cfg.data_dir) + " does not exist");
  cfg.webhook_token = xs.str("webhook.token");
  // The webhook is how an S3-compatible server tells us about uploads, and
  // an open webhook lets anyone forge them.
  if (cfg.store_mode == store_mode::s3 && cfg.webhook_token.size() < 16)
    return bad(xs, "webhook.token",
               "s3 mode needs a webhook secret of at least 16 characters "
               "(env VIDFLOW_WEBHOOK_TOKEN; give MinIO the same value as its "
               "notify_webhook auth_token)");
  if (!cfg.webhook_token.empty() && cfg.webhook_token.size() < 16)
    return bad(xs, "webhook.token",
               "must be at least 16 characters (env VIDFLOW_WEBHOOK_TOKEN)");
  cfg.webhooks_secret = xs.str("webhooks.secret");
  if (!cfg.webhooks_secret.empty() && cfg.webhooks_secret.size() < 16)
    return bad(xs, "webhooks.secret",
               "must be at least 16 characters (env "
               "VIDFLOW_WEBHOOKS_SECRET), or empty");
  cfg.webhooks_allow = split_list(xs.str("webhooks.allow"));
  {
    adapters::webhooks::callback_policy probe;
    std::string why;
    if (!probe.parse(cfg.webhooks_allow, why))
      return bad(xs, "webhooks.allow", why);
  }
  VF_TRY(retry_base, xs.uint("webhooks.retry_base_ms", 100, 3600000));
  cfg.webhooks_retry_base = std::chrono::milliseconds{*retry_base};
  VF_TRY(max_records, xs.uint("webhook.max_records", 1, 10000));
  cfg.webhook_max_records = static_cast<size_t>(*max_records);
  if (!logger::parse(xs.str("log.level"), cfg.level))
    return bad(xs, "log.level", "must be debug, info, warning or error");
  if (!logger::parse(xs.str("log.format"), cfg.log_style))
    return bad(xs, "log.format", "must be text or json");
  auto ratio = [&](const std::string& key, double hi) -> caf::expected<double> {
    auto& text = xs.str(key);
    char* end = nullptr;
    auto x = std::strtod(text.c_str(), &end);
    if (text.empty() || end == nullptr || *end != '\0' || !(x >= 0)
        || x > hi)
      return bad(xs, key, "must be a number from 0 to " + std::to_string(hi)
                            + ", got '" + text + "'");
    return x;
  };
  VF_TRY(rate, ratio("http.rate_limit", 1e9));
  cfg.rate_limit = *rate;
  VF_TRY(burst, xs.uint("http.rate_burst", 0, 100000000));
  cfg.rate_burst = static_cast<uint32_t>(*burst);
  VF_TRY(http_conns, xs.uint("http.max_connections", 1, 1000000));
  cfg.http_max_connections = *http_conns;
  VF_TRY(http_per_client, xs.uint("http.max_connections_per_client", 0,
                                  1000000));
  cfg.http_max_connections_per_client = *http_per_client;
  VF_TRY(streams, xs.uint("http.max_streams", 1, 1000000));
  cfg.http_max_streams = *streams;
  VF_TRY(streams_per_user, xs.uint("http.max_streams_per_user", 1, 1000000));
  cfg.http_max_streams_per_user = *streams_per_user;
  VF_TRY(http_idle, xs.uint("http.idle_timeout_s", 1, 3600));
  cfg.http_idle_timeout = std::chrono::seconds{*http_idle};
  cfg.trusted_proxies = split_list(xs.str("http.trusted_proxies"));
  for (auto& p : cfg.trusted_proxies) {
    adapters::common::trusted_proxies probe;
    std::string why;
    if (!probe.parse({p}, why))
      return bad(xs, "http.trusted_proxies", why);
  }
  cfg.store_cors_origins = split_list(xs.str("store.cors_origins"));
  for (auto& o : cfg.store_cors_origins)
    if ((o.rfind("http://", 0) != 0 && o.rfind("https://", 0) != 0)
        || o.find('/', o.find("//") + 2) != std::string::npos
        || o.find_first_of(" *?#") != std::string::npos)
      return bad(xs, "store.cors_origins",
                 "takes origins such as https://videos.example.com (scheme, "
                 "host and port; no path, no wildcard), got '" + o + "'");
  if (cfg.store_cors_origins.empty()) {
    auto port = ":" + std::to_string(cfg.http_port);
    auto host = cfg.http_host;
    if (host.find(':') != std::string::npos)
      host = "[" + host + "]";
    cfg.store_cors_origins.push_back("http://" + host + port);
    if (cfg.http_host == "127.0.0.1" || cfg.http_host == "::1"
        || cfg.http_host == "0.0.0.0" || cfg.http_host == "::")
      cfg.store_cors_origins.push_back("http://localhost" + port);
    if (cfg.http_host == "0.0.0.0" || cfg.http_host == "::")
      cfg.store_cors_origins.push_back("http://127.0.0.1" + port);
  }
  cfg.web_dir = xs.str("web.dir");
  VF_TRY(store_conns, xs.uint("store.max_connections", 1, 1000000));
  cfg.store_max_connections = *store_conns;
  VF_TRY(store_per_client, xs.uint("store.max_connections_per_client", 0,
                                   1000000));
  cfg.store_max_connections_per_client = *store_per_client;
  VF_TRY(store_header, xs.uint("store.header_timeout_s", 1, 3600));
  cfg.store_header_timeout = std::chrono::seconds{*store_header};
  VF_TRY(min_rate, xs.uint("store.min_rate", 0, 1ull << 40));
  cfg.store_min_rate = *min_rate;
  VF_TRY(rate_window, xs.uint("store.rate_window_s", 1, 3600));
  cfg.store_rate_window = std::chrono::seconds{*rate_window};
  VF_TRY(multipart_expiry,
         xs.uint("store.multipart_expiry_s", 60, 365 * 24 * 3600));
  cfg.store_multipart_expiry = std::chrono::seconds{*multipart_expiry};
  VF_TRY(fd_reserve, xs.uint("limits.fd_reserve", 16, 1000000));
  cfg.fd_reserve = *fd_reserve;
  VF_TRY(min_free, xs.bytes("limits.min_free_bytes"));
  cfg.min_free_bytes = *min_free;
  VF_TRY(in_flight, xs.uint("limits.jobs_in_flight_per_user", 0, 100000000));
  cfg.jobs_in_flight_per_user = *in_flight;
  VF_TRY(waiting, xs.uint("limits.waiting_requests", 0, 1000000));
  cfg.waiting_requests = *waiting;
  VF_TRY(commit_delay, xs.uint("data.commit_delay_us", 0, 100000));
  cfg.commit_delay = std::chrono::microseconds{*commit_delay};
  VF_TRY(trim, xs.uint("memory.trim_interval_s", 0, 86400));
  cfg.memory_trim_interval = std::chrono::seconds{*trim};
  VF_TRY(user_bytes, xs.bytes("limits.bytes_per_user"));
  cfg.bytes_per_user = *user_bytes;
  VF_TRY(retention, xs.uint("retention.failed_s", 0, 86400ull * 3650));
  cfg.retention_failed = std::chrono::seconds{*retention};
  VF_TRY(dlq_interval, xs.uint("dlq.interval_s", 0, 86400 * 7));
  cfg.dlq_interval = std::chrono::seconds{*dlq_interval};
  VF_TRY(dlq_window, xs.uint("dlq.window_s", 0, 86400 * 365));
  cfg.dlq_window = std::chrono::seconds{*dlq_window};
  cfg.incident_prefix = xs.str("dlq.incident_prefix");
  if (cfg.incident_prefix.size() > 200
      || cfg.incident_prefix.find("..") != std::string::npos
      || (!cfg.incident_prefix.empty() && cfg.incident_prefix[0] == '/'))
    return bad(xs, "dlq.incident_prefix",
               "must be a relative key prefix of at most 200 bytes "
               "(e.g. incidents/)");
  VF_TRY(fault_rate, ratio("testing.fault_rate", 1.0));
  cfg.fault_rate = *fault_rate;
  cfg.fault_code = xs.str("testing.fault_code");
  cfg.crash_on = xs.str("testing.crash_on");
  cfg.effects_log = xs.str("testing.effects_log");
  if (messages::errc_from_string(cfg.fault_code) == messages::errc::internal
      && cfg.fault_code != "internal")
    return bad(xs, "testing.fault_code",
               "must be an error code such as storage_unavailable, timeout "
               "or bad_media");
  if (auto policy = scheduler_policy_of(xs))
    cfg.scheduler = *policy;
  else
    return policy.error();
  VF_TRY(sched_threads, xs.uint("scheduler.threads", 0, 256));
  cfg.scheduler_threads = *sched_threads;
  cfg.pipeline = split_list(xs.str("pipeline.steps"));
  if (cfg.pipeline.empty())
    return bad(xs, "pipeline.steps", "must name at least one step");
  for (auto& k : cfg.pipeline)
    if (!valid_step(k))
      return bad(xs, "pipeline.steps",
                 "has unknown step '" + k + "'; use probe, summarize, sleep");
  {
    std::vector<messages::task_kind> kinds;
    for (auto& k : cfg.pipeline) {
      messages::task_kind kind;
      if (from_string(k, kind))
        kinds.push_back(kind);
    }
    if (auto why = actors::check_pipeline(kinds))
      return bad(xs, "pipeline.steps", *why);
  }
  VF_TRY(sleep_ms, xs.uint("pipeline.sleep_ms", 0, 3600000));
  cfg.sleep_ms = static_cast<uint32_t>(*sleep_ms);
  for (auto& pair : split_list(xs.str("pipeline.labels"))) {
    auto colon = pair.find(':');
    if (colon == std::string::npos || !valid_kind(pair.substr(0, colon))
        || !messages::is_valid_name(pair.substr(colon + 1)))
      return bad(xs, "pipeline.labels",
                 "entries must be kind:label (e.g. probe:gpu), got '" + pair
                   + "'");
    cfg.step_labels.emplace_back(pair.substr(0, colon),
                                 pair.substr(colon + 1));
  }
  VF_TRY(cluster_port, port("cluster.port"));
  cfg.cluster.port = *cluster_port;
  cfg.cluster.host = xs.str("cluster.host");
  if (auto err = read_cluster_tls(xs, cfg.cluster.port != 0, cfg.cluster))
    return err;
  if (!xs.str("ingest.join").empty()) {
    if (auto err = read_join(xs, "ingest.join", cfg.join))
      return err;
    if (auto err = read_cluster_tls(xs, true, cfg.join))
      return err;
    if (cfg.join.ingest_key.empty())
      return bad(xs, "cluster.ingest_key",
                 "is required with ingest.join: the coordinator admits an "
                 "ingestion node by it (the file 'vidflow cluster "
                 "init-certs' wrote as ingest.secret)");
  }
  cfg.object_url = xs.str("cluster.object_url");
  if (cfg.object_url.empty())
    cfg.object_url = cfg.store_mode == store_mode::s3 ? cfg.store_endpoint
                                             : cfg.public_url;
  while (!cfg.object_url.empty() && cfg.object_url.back() == '/')
    cfg.object_url.pop_back();
  if (cfg.object_url.rfind("http://", 0) != 0
      && cfg.object_url.rfind("https://", 0) != 0)
    return bad(xs, "cluster.object_url",
               "must start with http:// or https://");
#undef VF_TRY
  auto summarizer = summarizer_settings_of(xs);
  if (!summarizer)
    return std::move(summarizer.error());
  cfg.summarizer = std::move(*summarizer);
  return cfg;
}

caf::expected<worker_node_config> make_worker_config(const settings& xs) {
  worker_node_config cfg;
  if (xs.str("worker.join").empty())
    return bad(xs, "worker.join",
               "is required: the coordinator's cluster port as host:port "
               "(e.g. --join coord-host:4242)");
  if (auto err = read_join(xs, "worker.join", cfg.cluster))
    return err;
  if (auto err = read_cluster_tls(xs, true, cfg.cluster))
    return err;
  cfg.name = xs.str("worker.name");
  if (cfg.name.empty()) {
    char buf[256] = {};
    if (gethostname(buf, sizeof(buf) - 1) == 0)
      cfg.name = buf;
  }
  if (!messages::is_valid_name(cfg.name))
    return bad(xs, "worker.name",
               "must be 1..64 letters, digits, '-', '_' or '.', got '"
                 + cfg.name + "'");
  auto slots = xs.uint("worker.slots", 1, 1024);
  if (!slots)
    return slots.error();
  cfg.slots = static_cast<uint32_t>(*slots);
  auto budget = xs.bytes("worker.memory_budget");
  if (!budget)
    return budget.error();
  cfg.memory_budget_mb = *budget / (1024 * 1024);
  if (*budget > 0 && cfg.memory_budget_mb == 0)
    return bad(xs, "worker.memory_budget",
               "must be at least 1MiB (or 0 for the default)");
  cfg.kinds = split_list(xs.str("worker.kinds"));
  if (cfg.kinds.empty())
    return bad(xs, "worker.kinds", "must name at least one task kind");
  for (auto& k : cfg.kinds)
    if (!valid_kind(k))
      return bad(xs, "worker.kinds",
                 "has unknown kind '" + k
                   + "'; use probe, summarize, sleep, render");
  cfg.labels = split_list(xs.str("worker.labels"));
  for (auto& l : cfg.labels)
    if (!messages::is_valid_name(l))
      return bad(xs, "worker.labels",
                 "has label '" + l
                   + "'; use letters, digits, '-', '_' or '.'");
  auto rmax = xs.uint("worker.reconnect_max_ms", 100, 600000);
  if (!rmax)
    return rmax.error();
  cfg.reconnect_max = std::chrono::milliseconds{*rmax};
  auto drain = xs.uint("worker.drain_timeout_s", 1, 86400);
  if (!drain)
    return drain.error();
  cfg.drain_timeout = std::chrono::seconds{*drain};
  cfg.metrics_listen = xs.str("metrics.listen");
  if (!cfg.metrics_listen.empty()) {
    auto colon = cfg.metrics_listen.rfind(':');
    auto port = colon == std::string::npos
                  ? std::string{}
                  : cfg.metrics_listen.substr(colon + 1);
    char* end = nullptr;
    auto n = std::strtoul(port.c_str(), &end, 10);
    if (colon == std::string::npos || colon == 0 || port.empty()
        || *end != '\0' || n == 0 || n > 65535)
      return bad(xs, "metrics.listen",
                 "must be host:port, e.g. 0.0.0.0:9101 (empty: off)");
  }
  cfg.data_dir = xs.str("data.dir");
  if (cfg.data_dir.empty())
    return bad(xs, "data.dir", "must name a directory");
  cfg.effects_log = xs.str("testing.effects_log");
  if (!logger::parse(xs.str("log.level"), cfg.level))
    return bad(xs, "log.level", "must be debug, info, warning or error");
  if (!logger::parse(xs.str("log.format"), cfg.log_style))
    return bad(xs, "log.format", "must be text or json");
  if (auto policy = scheduler_policy_of(xs))
    cfg.scheduler = *policy;
  else
    return policy.error();
  auto threads = xs.uint("scheduler.threads", 0, 256);
  if (!threads)
    return threads.error();
  cfg.scheduler_threads = *threads;
  auto summarizer = summarizer_settings_of(xs);
  if (!summarizer)
    return std::move(summarizer.error());
  cfg.summarizer = std::move(*summarizer);
  return cfg;
}

std::string to_string(store_mode x) {
  return x == store_mode::s3 ? "s3" : "builtin";
}

namespace {

int64_t unix_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch())
    .count();
}

/// The task kinds of `steps` (`pipeline.steps`, checked by `parse`).
std::vector<messages::task_kind>
kinds_of(const std::vector<std::string>& steps) {
  std::vector<messages::task_kind> result;
  for (auto& step : steps) {
    messages::task_kind kind;
    if (messages::from_string(step, kind))
      result.push_back(kind);
  }
  return result;
}

} // namespace

actors::orchestrator_config orchestrator_config_of(const node_config& cfg) {
  actors::orchestrator_config x;
  x.bucket = cfg.bucket;
  x.key_prefix = "uploads";
  x.max_attempts = cfg.max_attempts;
  x.backoff_base = cfg.backoff_base;
  x.backoff_cap = cfg.backoff_cap;
  x.task_timeout_ms = cfg.task_timeout_ms;
  x.render_timeout_ms = cfg.render_timeout_ms;
  x.reuse_outputs = cfg.reuse_outputs;
  x.pipeline = kinds_of(cfg.pipeline);
  for (auto& [step, label] : cfg.step_labels) {
    messages::task_kind kind;
    if (from_string(step, kind))
      x.labels[kind].push_back(label);
  }
  x.sleep_input = std::to_string(cfg.sleep_ms);
  x.wall_ms = unix_ms();
  // An upload URL works for presign_expires; the grace covers an upload
  // that started just before it expired.
  x.upload_ttl = std::chrono::seconds{cfg.presign_expires} + cfg.upload_grace;
  x.expire_interval = cfg.expire_sweep;
  return x;
}

actors::dispatcher_config dispatcher_config_of(const node_config& cfg) {
  actors::dispatcher_config x;
  x.wall_ms = unix_ms();
  x.unrunnable_after = cfg.no_worker_after;
  x.reserve_after = cfg.reserve_after;
  return x;
}

actors::job_registry_config job_registry_config_of(const node_config& cfg) {
  actors::job_registry_config x;
  x.bucket = cfg.bucket;
  x.key_prefix = "uploads";
  x.wall_ms = unix_ms();
  x.jobs_in_flight_per_user = cfg.jobs_in_flight_per_user;
  x.bytes_per_user = cfg.bytes_per_user;
  x.max_waiters = cfg.waiting_requests;
  return x;
}

actors::dlq_analyzer_config dlq_analyzer_config_of(const node_config& cfg) {
  actors::dlq_analyzer_config x;
  x.interval = cfg.dlq_interval;
  x.window = cfg.dlq_window;
  x.wall_ms = unix_ms();
  return x;
}

std::string webhooks_node_secret(const node_config& cfg) {
  if (!cfg.webhooks_secret.empty())
    return cfg.webhooks_secret;
  // Not the JWT key itself: a key of its own, derived one way from it.
  return adapters::webhooks::owner_secret(cfg.jwt_secret,
                                          "\x01vidflow-node-callbacks");
}

adapters::webhooks::callback_client_config
callback_client_config_of(const node_config& cfg) {
  adapters::webhooks::callback_client_config x;
  x.secret = webhooks_node_secret(cfg);
  std::string why;
  static_cast<void>(x.policy.parse(cfg.webhooks_allow, why));
  return x;
}

actors::webhook_sender_config webhook_sender_config_of(const node_config& cfg,
                                                       logger& log) {
  actors::webhook_sender_config x;
  x.retry_base = cfg.webhooks_retry_base;
  x.wall_ms = unix_ms();
  x.log = [&log](const std::string& line) { log.warn("webhooks", line); };
  return x;
}

actors::retention_config retention_config_of(const node_config& cfg,
                                             logger& log) {
  using std::chrono::milliseconds;
  actors::retention_config x;
  x.keep = cfg.retention_failed;
  x.interval = std::clamp<milliseconds>(milliseconds{cfg.retention_failed}
                                          / 10,
                                        std::chrono::seconds{1},
                                        std::chrono::seconds{300});
  x.wall_ms = unix_ms();
  x.log = [&log](const std::string& line) { log.info("retention", line); };
  return x;
}

actors::cluster_registry_config
cluster_registry_config_of(const node_config& cfg, logger& log) {
  actors::cluster_registry_config x;
  x.wall_ms = unix_ms();
  x.log = [&log](const std::string& line) { log.info("cluster", line); };
  if (!cfg.cluster.admin_key.empty())
    x.admin_mac = [key = cfg.cluster.admin_key](const std::string& text) {
      return admin_mac(key, text);
    };
  if (!cfg.cluster.ingest_key.empty())
    x.ingest_mac = [key = cfg.cluster.ingest_key](const std::string& text) {
      return admin_mac(key, text);
    };
  return x;
}

adapters::s3::client_config s3_client_config_of(const node_config& cfg) {
  adapters::s3::client_config x;
  x.endpoint = cfg.store_endpoint;
  x.region = cfg.region;
  x.creds = {cfg.access_key, cfg.secret_key, {}};
  if (cfg.store_aws_credentials)
    x.keys = s3_keys_of(cfg.summarizer.profile);
  x.style = cfg.store_style;
  x.multipart_threshold = cfg.multipart_threshold;
  x.part_size = cfg.part_size;
  return x;
}

adapters::s3::presigner_config presigner_config_of(const node_config& cfg) {
  adapters::s3::presigner_config x;
  // Workers on other nodes fetch the upload by a presigned GET from the
  // built-in store or straight from MinIO/S3.
  x.endpoint = cfg.object_url;
  x.creds = {cfg.access_key, cfg.secret_key, {}};
  if (cfg.store_aws_credentials)
    x.keys = s3_keys_of(cfg.summarizer.profile);
  x.style = cfg.store_style;
  x.region = cfg.region;
  // Valid for the whole lease (the task's deadline plus a margin).
  x.expires = cfg.task_timeout_ms / 1000 + 300;
  // A render stores its outputs at its end: valid for its whole deadline.
  x.put_expires = std::min<uint32_t>(cfg.render_timeout_ms / 1000 + 300,
                                     604800);
  return x;
}

adapters::objectstore::store_config store_config_of(const node_config& cfg) {
  adapters::objectstore::store_config x;
  x.host = cfg.store_host;
  x.port = cfg.store_port;
  x.data_dir = cfg.data_dir;
  x.buckets = {cfg.bucket};
  x.region = cfg.region;
  x.keys = {adapters::sigv4::credentials{cfg.access_key, cfg.secret_key, {}}};
  x.max_object_bytes = cfg.max_upload_bytes;
  x.trusted_proxies = cfg.trusted_proxies;
  x.header_timeout = cfg.store_header_timeout;
  x.min_rate = cfg.store_min_rate;
  x.rate_window = cfg.store_rate_window;
  x.multipart_expiry = cfg.store_multipart_expiry;
  x.cors_origins = cfg.store_cors_origins;
  x.multipart_sweep = std::min<std::chrono::milliseconds>(
    std::chrono::hours{1}, cfg.store_multipart_expiry / 4);
  return x;
}

namespace {

/// The origins of the store's presigned URLs: the public URL's, and with
/// virtual-hosted addressing the bucket's own host in front of it.
std::vector<std::string> store_origins_of(const node_config& cfg) {
  auto scheme_end = cfg.public_url.find("//") + 2;
  auto path = cfg.public_url.find('/', scheme_end);
  auto origin = cfg.public_url.substr(0, path);
  std::vector<std::string> result{origin};
  if (cfg.store_mode == store_mode::s3
      && cfg.store_style == adapters::s3::addressing::virtual_hosted)
    result.push_back(origin.substr(0, scheme_end) + cfg.bucket + "."
                     + origin.substr(scheme_end));
  return result;
}

} // namespace

adapters::http::api_config api_config_of(const node_config& cfg) {
  adapters::http::api_config x;
  x.host = cfg.http_host;
  x.port = cfg.http_port;
  x.threads = cfg.http_threads;
  x.jwt_secret = cfg.jwt_secret;
  x.token_ttl = cfg.token_ttl;
  x.max_body_bytes = cfg.http_max_body;
  x.presign_expires = cfg.presign_expires;
  x.download_expires = cfg.outputs_url_expires;
  x.default_outputs = cfg.default_outputs;
  x.pipeline = kinds_of(cfg.pipeline);
  x.webhook_token = cfg.webhook_token;
  x.webhook_max_records = cfg.webhook_max_records;
  x.rate_limit = cfg.rate_limit;
  x.rate_burst = cfg.rate_burst;
  x.idle_timeout = cfg.http_idle_timeout;
  x.trusted_proxies = cfg.trusted_proxies;
  x.max_streams = cfg.http_max_streams;
  adapters::webhooks::callback_policy policy;
  std::string why;
  // Checked when the configuration was read: cannot fail here.
  static_cast<void>(policy.parse(cfg.webhooks_allow, why));
  x.check_callback = [policy](std::string_view url) {
    return policy.refuse(url);
  };
  x.callback_secret = [secret = webhooks_node_secret(cfg)](
                        const std::string& owner) {
    return adapters::webhooks::owner_secret(secret, owner);
  };
  x.max_streams_per_user = cfg.http_max_streams_per_user;
  x.web_dir = cfg.web_dir;
  x.web_store_origins = store_origins_of(cfg);
  return x;
}

namespace {

/// `canonical` (a stored recipe) turned back into what a client sends, so
/// `canonical_recipe` can say whether it is one the API could have stored.
nlohmann::json client_recipe(const nlohmann::json& canonical) {
  if (!canonical.is_object())
    return canonical;
  auto out = nlohmann::json::object();
  for (auto& [key, value] : canonical.items()) {
    if ((key != "thumbnails" && key != "renditions") || !value.is_array()) {
      out[key] = value;
      continue;
    }
    auto list = nlohmann::json::array();
    for (auto& e : value) {
      auto name = e.is_object() ? e.find("name") : e.end();
      if (!e.is_object() || name == e.end() || !name->is_string()) {
        list.push_back(e);
        continue;
      }
      auto& n = name->get_ref<const std::string&>();
      // A box is named WxH; anything else is a preset's name.
      auto x = n.find('x');
      auto digit = [](char c) { return c >= '0' && c <= '9'; };
      bool box = key == "thumbnails" && x != std::string::npos && x > 0
                 && x + 1 < n.size()
                 && std::all_of(n.begin(), n.begin() + x, digit)
                 && std::all_of(n.begin() + x + 1, n.end(), digit);
      if (box)
        list.push_back({{"width", e.value("width", nlohmann::json{})},
                        {"height", e.value("height", nlohmann::json{})}});
      else
        list.push_back(n);
    }
    out[key] = std::move(list);
  }
  return out;
}

} // namespace

std::function<caf::error(messages::job_request&)>
intake_request_check(const node_config& cfg) {
  auto callback = api_config_of(cfg).check_callback;
  return [callback](messages::job_request& x) -> caf::error {
    auto bad = [](const std::string& why) {
      return messages::make_error(messages::errc::invalid_argument,
                                  "refused from an ingestion node: " + why);
    };
    auto printable = [](const std::string& str) {
      return std::all_of(str.begin(), str.end(), [](unsigned char c) {
        return c >= 0x20 && c != 0x7f;
      });
    };
    if (auto err = adapters::http::check_user_name(x.owner))
      return bad("owner: " + messages::message_of(err));
    if (x.priority != messages::priority_high
        && x.priority != messages::priority_default
        && x.priority != messages::priority_low)
      return bad("priority " + std::to_string(x.priority));
    if (x.content_type.size() > 255 || !printable(x.content_type))
      return bad("content_type longer than 255 bytes or with control "
                 "characters");
    if (!x.outputs.empty()) {
      auto doc = nlohmann::json::parse(x.outputs, nullptr, false);
      auto check = doc.is_discarded()
                     ? adapters::http::recipe_check{{}, "not JSON"}
                     : adapters::http::canonical_recipe(client_recipe(doc));
      if (!check.error.empty() || check.canonical != x.outputs)
        return bad("outputs: "
                   + (check.error.empty() ? std::string{"not canonical"}
                                          : check.error));
    }
    if (!x.callback_url.empty()) {
      if (auto why = callback(x.callback_url))
        return bad("callback_url: " + *why);
    }
    if (x.idempotency_key.size() > 255 || !printable(x.idempotency_key)
        || x.request_hash.size() > 64 || x.request_id.size() > 128
        || !printable(x.request_id))
      return bad("idempotency key, request hash or request id too long or "
                 "not printable");
    return caf::none;
  };
}

} // namespace vf::runtime
