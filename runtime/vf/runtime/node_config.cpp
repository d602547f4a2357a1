// vf/runtime/node_config.cpp

#include "vf/runtime/node_config.hpp"

#include "vf/messages/errc.hpp"

#include <cstdlib>
#include <sstream>

namespace vf::runtime {

using messages::errc;
using messages::make_error;

const std::vector<setting_spec>& serve_specs() {
  static const std::vector<setting_spec> specs{
    {"http.host", "--http-host", "127.0.0.1", "address of the JSON API"},
    {"http.port", "--http-port", "8000", "port of the JSON API"},
    {"http.threads", "--http-threads", "1", "I/O threads of the JSON API"},
    {"http.max_body_bytes", "--http-max-body", "1MiB",
     "largest request body the API accepts (larger: 413)"},
    {"http.rate_limit", "--rate-limit", "1000",
     "requests per second one client (IP) may make; 0: unlimited"},
    {"http.rate_burst", "--rate-burst", "2000",
     "requests one client may make in a burst above the rate"},
    {"data.dir", "--data-dir", "./var",
     "where the job database and built-in store's objects live"},
    {"workers.count", "--workers", "2", "worker slots on this node"},
    {"workers.task_timeout_ms", "--task-timeout-ms", "60000",
     "deadline of one task attempt, in milliseconds"},
    {"workers.max_attempts", "--max-attempts", "3",
     "attempts per step before a job fails for good"},
    {"workers.backoff_base_ms", "--backoff-base-ms", "500",
     "first retry waits up to this long (full jitter, doubling)"},
    {"workers.backoff_cap_ms", "--backoff-cap-ms", "30000",
     "longest wait between retries"},
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
    {"store.access_key", "--access-key", "", "access key for presigning",
     false},
    {"store.secret_key", "--secret-key", "", "secret key for presigning",
     true},
    {"store.max_upload_bytes", "--max-upload-bytes", "5GiB",
     "largest upload the built-in store accepts (larger: 413)"},
    {"store.presign_expires", "--presign-expires", "900",
     "lifetime of presigned upload URLs, in seconds (1..604800)"},
    {"auth.jwt_secret", "--jwt-secret", "",
     "HMAC key of access tokens (at least 16 bytes)", true},
    {"auth.token_ttl", "--token-ttl", "3600",
     "lifetime of access tokens, in seconds"},
    {"auth.users", "--users", "",
     "accounts as name:password:role,... (role user or admin)", true},
    {"webhook.token", "--webhook-token", "",
     "bearer token MinIO must send to /minio/webhook (empty: none)", true},
    {"dlq.interval_s", "--dlq-interval-s", "300",
     "how often the DLQ analyzer writes its scheduled report (0: never)"},
    {"dlq.window_s", "--dlq-window-s", "86400",
     "window of the scheduled DLQ report, in seconds (0: all records)"},
    {"testing.fault_rate", "--fault-rate", "0",
     "TEST ONLY: share of probes (0..1) that fail with testing.fault_code"},
    {"testing.fault_code", "--fault-code", "storage_unavailable",
     "TEST ONLY: error code of injected faults (e.g. timeout, bad_media)"},
    {"log.level", "--log-level", "info", "debug, info, warning or error"},
    {"scheduler.policy", "--scheduler", "sharing",
     "CAF scheduler: sharing (one queue) or stealing (work stealing)"},
    {"scheduler.threads", "--scheduler-threads", "0",
     "CAF scheduler threads (0: CAF's default)"},
  };
  return specs;
}

namespace {

caf::error bad(const settings& xs, const std::string& key,
               const std::string& what) {
  return make_error(errc::invalid_argument, "setting " + key + " ("
                                              + xs.origin(key) + ") " + what);
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
  cfg.store_mode = xs.str("store.mode");
  if (cfg.store_mode != "builtin" && cfg.store_mode != "s3")
    return bad(xs, "store.mode", "must be 'builtin' or 's3', got '"
                                   + cfg.store_mode + "'");
  cfg.store_host = xs.str("store.host");
  VF_TRY(store_port, port("store.port"));
  cfg.store_port = *store_port;
  cfg.store_endpoint = xs.str("store.endpoint");
  if (cfg.store_mode == "s3" && cfg.store_endpoint.empty())
    return bad(xs, "store.endpoint",
               "is required with store.mode = s3 (e.g. http://127.0.0.1:9000)");
  if (cfg.store_mode == "builtin")
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
  cfg.region = xs.str("store.region");
  cfg.access_key = xs.str("store.access_key");
  cfg.secret_key = xs.str("store.secret_key");
  if (cfg.access_key.empty())
    return bad(xs, "store.access_key",
               "is required (env VIDFLOW_STORE_ACCESS_KEY)");
  // Our own store's key must resist guessing; an external server's key is
  // whatever that server was given (s3rver's is fixed at 'S3RVER').
  if (cfg.store_mode == "builtin" && cfg.secret_key.size() < 8)
    return bad(xs, "store.secret_key",
               "must be at least 8 characters (env VIDFLOW_STORE_SECRET_KEY)");
  if (cfg.secret_key.empty())
    return bad(xs, "store.secret_key",
               "is required (env VIDFLOW_STORE_SECRET_KEY)");
  VF_TRY(max_upload, xs.bytes("store.max_upload_bytes"));
  cfg.max_upload_bytes = *max_upload;
  VF_TRY(expires, xs.uint("store.presign_expires", 1, 604800));
  cfg.presign_expires = static_cast<uint32_t>(*expires);
  cfg.jwt_secret = xs.str("auth.jwt_secret");
  if (cfg.jwt_secret.size() < 16)
    return bad(xs, "auth.jwt_secret",
               "must be at least 16 characters (env VIDFLOW_AUTH_JWT_SECRET)");
  VF_TRY(ttl, xs.uint("auth.token_ttl", 60, 604800));
  cfg.token_ttl = static_cast<uint32_t>(*ttl);
  std::istringstream users{xs.str("auth.users")};
  std::string entry;
  while (std::getline(users, entry, ',')) {
    if (entry.empty())
      continue;
    auto c1 = entry.find(':');
    auto c2 = c1 == std::string::npos ? c1 : entry.find(':', c1 + 1);
    if (c2 == std::string::npos || c1 == 0)
      return bad(xs, "auth.users",
                 "entries must be name:password:role, got an entry without "
                 "two ':'");
    account a{entry.substr(0, c1), entry.substr(c1 + 1, c2 - c1 - 1),
              entry.substr(c2 + 1)};
    if (a.password.empty())
      return bad(xs, "auth.users", "user '" + a.name + "' has no password");
    if (a.role != "user" && a.role != "admin")
      return bad(xs, "auth.users", "user '" + a.name
                                     + "' has role '" + a.role
                                     + "'; use user or admin");
    cfg.users.push_back(std::move(a));
  }
  if (cfg.users.empty())
    return bad(xs, "auth.users",
               "must name at least one account (name:password:role)");
  cfg.webhook_token = xs.str("webhook.token");
  if (!logger::parse(xs.str("log.level"), cfg.level))
    return bad(xs, "log.level", "must be debug, info, warning or error");
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
  VF_TRY(dlq_interval, xs.uint("dlq.interval_s", 0, 86400 * 7));
  cfg.dlq_interval = std::chrono::seconds{*dlq_interval};
  VF_TRY(dlq_window, xs.uint("dlq.window_s", 0, 86400 * 365));
  cfg.dlq_window = std::chrono::seconds{*dlq_window};
  VF_TRY(fault_rate, ratio("testing.fault_rate", 1.0));
  cfg.fault_rate = *fault_rate;
  cfg.fault_code = xs.str("testing.fault_code");
  if (messages::errc_from_string(cfg.fault_code) == messages::errc::internal
      && cfg.fault_code != "internal")
    return bad(xs, "testing.fault_code",
               "must be an error code such as storage_unavailable, timeout "
               "or bad_media");
  cfg.scheduler = xs.str("scheduler.policy");
  if (cfg.scheduler != "sharing" && cfg.scheduler != "stealing")
    return bad(xs, "scheduler.policy", "must be sharing or stealing");
  VF_TRY(sched_threads, xs.uint("scheduler.threads", 0, 256));
  cfg.scheduler_threads = *sched_threads;
#undef VF_TRY
  return cfg;
}

} // namespace vf::runtime
