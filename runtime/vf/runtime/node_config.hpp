// vf/runtime/node_config.hpp

#pragma once

#include "caf/expected.hpp"

#include "vf/actors/cluster_registry.hpp"
#include "vf/actors/dispatcher.hpp"
#include "vf/actors/dlq_analyzer.hpp"
#include "vf/actors/job_registry.hpp"
#include "vf/actors/orchestrator.hpp"
#include "vf/actors/retention.hpp"
#include "vf/actors/webhook_sender.hpp"
#include "vf/adapters/http/api_server.hpp"
#include "vf/adapters/objectstore/store_config.hpp"
#include "vf/adapters/s3/client.hpp"
#include "vf/adapters/s3/presigner.hpp"
#include "vf/adapters/webhooks/callback_client.hpp"
#include "vf/runtime/logger.hpp"
#include "vf/runtime/settings.hpp"
#include "vf/runtime/summarizer_settings.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace vf::runtime {

/// An account allowed to log in (from `auth.users`).
struct account {
  std::string name;
  std::string password;
  std::string role;
};

/// Returns the path of the user table in `data_dir` (`users.json`).
std::string users_file(const std::string& data_dir);

/// Parses `auth.users` (`name:password:role,...`); the error says what is
/// wrong without naming the setting.
caf::expected<std::vector<account>> parse_accounts(const std::string& text);

/// How a node joins the cluster network (both `serve` and `worker`).
struct cluster_config {
  /// `serve`: port of the cluster registry (0: no cluster). `worker`: the
  /// coordinator's port.
  uint16_t port = 0;
  /// `serve`: address to listen on. `worker`: the coordinator's host.
  std::string host;
  /// PEM files: the cluster CA, this node's certificate and its key.
  std::string ca;
  std::string cert;
  std::string key;
  /// Middleman heartbeats and the silence after which a peer is dead.
  std::chrono::milliseconds heartbeat{500};
  std::chrono::milliseconds timeout{3000};
  /// The cluster admin secret (`cluster.admin_key`'s first line; empty:
  /// none). The coordinator checks operators' commands with it; the CLI
  /// signs `--drain` with it.
  std::string admin_key;
  /// The cluster ingest secret (`cluster.ingest_key`'s first line; empty:
  /// none). The coordinator admits ingestion nodes with it; an ingestion
  /// node signs its admission with it.
  std::string ingest_key;
};

/// Which object store a node uses (`store.mode`).
enum class store_mode : uint8_t {
  /// The built-in S3-compatible store in this process; its upload hook is
  /// the event source.
  builtin,
  /// An outside S3-compatible server (MinIO, AWS S3); its webhook is the
  /// event source.
  s3,
};

/// `builtin` or `s3`.
std::string to_string(store_mode x);

/// Everything `vidflow serve` needs, parsed and checked.
struct node_config {
  std::string http_host;
  uint16_t http_port = 8000;
  size_t http_threads = 1;
  uint64_t http_max_body = 1 << 20;
  std::string data_dir;
  size_t workers = 2;
  uint32_t task_timeout_ms = 60000;
  /// Deadline of one render attempt (`outputs.timeout_s`).
  uint32_t render_timeout_ms = 1800000;
  /// Canonical recipe of jobs created without outputs (`outputs.default`).
  std::string default_outputs;
  /// Lifetime of output download URLs (`outputs.url_expires`).
  uint32_t outputs_url_expires = 3600;
  /// A task no joined worker offers fails after this long
  /// (`workers.no_worker_after_s`; 0: it waits for ever).
  std::chrono::milliseconds no_worker_after{300000};
  /// A render without room this long keeps a node for itself
  /// (`workers.reserve_after_s`).
  std::chrono::milliseconds reserve_after{30000};
  /// Whether a job's renditions may be spread over the nodes with a free
  /// worker (`outputs.split`).
  bool split_renders = true;
  /// Whether renders copy the outputs of an earlier job of the same user
  /// with the same bytes and recipe (`outputs.reuse`).
  bool reuse_outputs = true;
  /// Memory this node's workers may fill with tasks at once, in MiB, by
  /// the tasks' estimates (`workers.memory_budget`, a size such as `4GiB`;
  /// 0: three quarters of the machine's memory).
  uint64_t memory_budget_mb = 0;
  /// Encoder threads of one render (`outputs.encoder_threads`; 0: cores /
  /// workers, at least 1).
  uint32_t encoder_threads = 0;
  uint32_t max_attempts = 3;
  std::chrono::milliseconds backoff_base{500};
  std::chrono::milliseconds backoff_cap{30000};
  /// Parsed once from `store.mode`; `ports.cpp` maps it to adapters.
  runtime::store_mode store_mode = runtime::store_mode::builtin;
  std::string store_host;
  uint16_t store_port = 9000;
  std::string public_url;
  std::string store_endpoint;
  std::string bucket;
  std::string region;
  std::string access_key;
  std::string secret_key;
  /// `store.credentials = aws`: s3 mode signs with keys from the AWS chain
  /// (environment, shared file, ECS, IMDSv2) instead of the two above.
  bool store_aws_credentials = false;
  /// `store.delete_objects`: s3 mode deletes a job's objects from the
  /// bucket (DELETE /jobs, retention); false: a lifecycle rule must.
  bool s3_deletes = true;
  /// `store.addressing` resolved against the endpoint and bucket.
  adapters::s3::addressing store_style = adapters::s3::addressing::path;
  /// Outputs larger than this go to an s3 store in parts
  /// (`store.multipart_threshold`; 0: never).
  uint64_t multipart_threshold = uint64_t{64} << 20;
  uint64_t part_size = uint64_t{16} << 20;
  uint64_t max_upload_bytes = 0;
  uint32_t presign_expires = 900;
  /// How long after its URL expired an upload may still arrive.
  std::chrono::seconds upload_grace{60};
  /// How often uploads that never came are expired.
  std::chrono::seconds expire_sweep{60};
  std::string jwt_secret;
  uint32_t token_ttl = 3600;
  std::vector<account> users;
  std::string webhook_token;
  /// Callbacks: the key of the per-user signing secrets (empty: derived
  /// from `jwt_secret`), where they may go, the first retry's wait.
  std::string webhooks_secret;
  std::vector<std::string> webhooks_allow;
  std::chrono::milliseconds webhooks_retry_base{5000};
  /// Most records one webhook request may carry.
  size_t webhook_max_records = 100;
  log_level level = log_level::info;
  log_format log_style = log_format::text;
  /// Requests per second one client may make (0: unlimited) and its burst.
  double rate_limit = 1000;
  uint32_t rate_burst = 2000;
  /// Connection limits of the JSON API (total, per client IP), its request
  /// deadline, and the proxies whose X-Forwarded-For is believed.
  size_t http_max_connections = 1024;
  /// Live event streams open at once, in all and per user.
  size_t http_max_streams = 256;
  size_t http_max_streams_per_user = 8;
  size_t http_max_connections_per_client = 128;
  std::chrono::seconds http_idle_timeout{30};
  std::vector<std::string> trusted_proxies;
  /// Web origins whose pages may call the built-in store from a browser
  /// (`store.cors_origins`; by default the API's own).
  std::vector<std::string> store_cors_origins;
  /// `web.dir`: serve the web app from this folder instead of the copy
  /// compiled in (development).
  std::string web_dir;
  /// Connection limits of the built-in store, its header deadline, and the
  /// slowest upload it accepts (bytes/s averaged over a window).
  size_t store_max_connections = 1024;
  size_t store_max_connections_per_client = 128;
  std::chrono::seconds store_header_timeout{10};
  uint64_t store_min_rate = 1024;
  std::chrono::seconds store_rate_window{10};
  /// `store.multipart_expiry_s`.
  std::chrono::seconds store_multipart_expiry{604800};
  /// File descriptors kept out of the listeners' caps (database, logs,
  /// media, cluster).
  uint64_t fd_reserve = 128;
  /// Free space the data directory's file system must keep for the node to
  /// be ready and to accept new jobs.
  uint64_t min_free_bytes = uint64_t{1} << 30;
  /// Per-user limits checked at job creation (0: none).
  uint64_t jobs_in_flight_per_user = 1000;
  uint64_t bytes_per_user = 0;
  /// Most `GET /jobs/{id}?wait=` requests held at once.
  uint64_t waiting_requests = 10000;
  /// How long a commit of the SQLite job database waits for more writes
  /// under load (`data.commit_delay_us`).
  std::chrono::microseconds commit_delay{1000};
  /// How often the idle main thread hands freed heap back to the OS
  /// (`memory.trim_interval_s`; 0: never).
  std::chrono::seconds memory_trim_interval{60};
  /// Time after a job FAILED, was CANCELLED or EXPIRED until its upload is
  /// deleted (0: never).
  std::chrono::seconds retention_failed{604800};
  /// DLQ analyzer schedule and window.
  std::chrono::milliseconds dlq_interval{300000};
  std::chrono::milliseconds dlq_window{86400000};
  /// Key prefix of scheduled incident reports kept in the S3 store (s3
  /// mode; empty: none).
  std::string incident_prefix = "incidents/";
  /// Test-only: share of probes that fail with `fault_code` (0: off).
  double fault_rate = 0;
  std::string fault_code = "storage_unavailable";
  /// Test-only: abort the process on probes of keys containing this.
  std::string crash_on;
  /// Test-only: the effects log's path (empty: off).
  std::string effects_log;
  /// CAF scheduler policy.
  scheduler_policy scheduler = scheduler_policy::sharing;
  /// CAF scheduler threads; 0: half the cores, at least one.
  size_t scheduler_threads = 0;
  /// The steps of every job, in order (e.g. probe, summarize).
  std::vector<std::string> pipeline;
  /// Input of `sleep` steps (benchmarks).
  uint32_t sleep_ms = 10;
  /// Labels a worker needs for a step: `kind:label` pairs.
  std::vector<std::pair<std::string, std::string>> step_labels;
  /// Cluster registry (port 0: single node).
  cluster_config cluster;
  /// An ingestion node's coordinator (`ingest.join`; port 0: none, the
  /// node serves the webhook only), with this node's TLS files and the
  /// ingest key.
  cluster_config join;
  /// Base URL by which worker nodes fetch objects (presigned GET).
  std::string object_url;
  /// The local workers' summarizer (`summarizer.*`, `bedrock.*`).
  summarizer_settings summarizer = {};
};

/// What `vidflow worker` needs, parsed and checked.
struct worker_node_config {
  cluster_config cluster;
  std::string name;
  uint32_t slots = 2;
  std::vector<std::string> kinds;
  std::vector<std::string> labels;
  std::string data_dir;
  log_level level = log_level::info;
  log_format log_style = log_format::text;
  /// Longest wait between reconnect attempts.
  std::chrono::milliseconds reconnect_max{5000};
  /// As `node_config::memory_budget_mb` (`worker.memory_budget`).
  uint64_t memory_budget_mb = 0;
  /// How long a draining node waits for its leases before it leaves anyway.
  std::chrono::milliseconds drain_timeout{120000};
  /// Test-only: the effects log's path (empty: off).
  std::string effects_log;
  /// `host:port` of this node's `/metrics` (`metrics.listen`; empty: off).
  std::string metrics_listen;
  scheduler_policy scheduler = scheduler_policy::sharing;
  size_t scheduler_threads = 0;
  /// This node's summarizer (`summarizer.*`, `bedrock.*`).
  summarizer_settings summarizer = {};
};

/// The keys `vidflow serve` understands, with flags, defaults and help.
const std::vector<setting_spec>& serve_specs();

/// The keys `vidflow worker` understands.
const std::vector<setting_spec>& worker_specs();

/// Turns raw settings into a worker node configuration.
caf::expected<worker_node_config> make_worker_config(const settings& xs);

/// Turns raw settings into a node configuration; an error names the
/// setting that is missing or wrong and says what it accepts.
caf::expected<node_config> make_node_config(const settings& xs);

// -- the configuration of each actor and adapter, from the node's ----------

/// The dispatcher's settings (its wall clock; the runtime adds the metrics
/// sink and the presigner).
actors::dispatcher_config dispatcher_config_of(const node_config& cfg);

/// The orchestrator's settings (pipeline, retries, upload expiry).
actors::orchestrator_config orchestrator_config_of(const node_config& cfg);

/// The job registry's settings (bucket, per-user limits).
actors::job_registry_config job_registry_config_of(const node_config& cfg);

/// The DLQ analyzer's schedule and window.
actors::dlq_analyzer_config dlq_analyzer_config_of(const node_config& cfg);

/// The retention sweep's schedule (logs through `log`).
/// The key callbacks' per-user secrets derive from: `webhooks.secret`, or
/// one derived from `auth.jwt_secret`.
std::string webhooks_node_secret(const node_config& cfg);

/// Settings of the callback client (signing key, allow-list).
adapters::webhooks::callback_client_config
callback_client_config_of(const node_config& cfg);

/// Settings of the webhook sender (retry schedule; logs give-ups).
actors::webhook_sender_config webhook_sender_config_of(const node_config& cfg,
                                                       logger& log);

actors::retention_config retention_config_of(const node_config& cfg,
                                             logger& log);

/// The cluster registry's settings (logs through `log`).
actors::cluster_registry_config
cluster_registry_config_of(const node_config& cfg, logger& log);

/// The S3 client of `store.mode = s3` (endpoint, region, keys).
adapters::s3::client_config s3_client_config_of(const node_config& cfg);

/// The presigner of remote workers' downloads: `cluster.object_url`, valid
/// for a lease (task timeout plus 5 minutes).
adapters::s3::presigner_config presigner_config_of(const node_config& cfg);

/// The built-in store's settings, without its gate, event counter and log.
adapters::objectstore::store_config store_config_of(const node_config& cfg);

/// The JSON API's settings, without accounts, limits derived from file
/// descriptors, storage check and log.
adapters::http::api_config api_config_of(const node_config& cfg);

/// What the coordinator's intake gate checks in a job request from an
/// ingestion node, as its own API checks a client's: the owner a valid
/// login name, the priority one of three, `outputs` a canonical recipe the
/// API could have stored, a callback URL the webhook policy allows, bounded
/// printable ids.
std::function<caf::error(messages::job_request&)>
intake_request_check(const node_config& cfg);

} // namespace vf::runtime
