// vf/runtime/ports.cpp

#include "vf/runtime/ports.hpp"

#include <prometheus/counter.h>
#include <prometheus/registry.h>
#include <sys/stat.h>

#include "vf/adapters/aws/bedrock.hpp"
#include "vf/adapters/aws/dynamodb_store.hpp"
#include "vf/adapters/minio/events.hpp"
#include "vf/adapters/objectstore/object_deleter.hpp"
#include "vf/adapters/objectstore/object_install.hpp"
#include "vf/adapters/s3/client.hpp"
#include "vf/adapters/s3/object_checker.hpp"
#include "vf/adapters/s3/object_deleter.hpp"
#include "vf/adapters/s3/presigner.hpp"
#include "vf/adapters/sigv4/sigv4.hpp"
#include "vf/adapters/sqlite/job_store.hpp"
#include "vf/adapters/summarizer/mock_summarizer.hpp"
#include "vf/messages/errc.hpp"
#include "vf/runtime/aws_keys.hpp"

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

namespace vf::runtime {

namespace objectstore = adapters::objectstore;

caf::expected<std::shared_ptr<adapters::common::effects_log>>
open_effects_log(const std::string& path, logger& log) {
  if (path.empty())
    return std::shared_ptr<adapters::common::effects_log>{};
  auto x = adapters::common::effects_log::open(path);
  if (x)
    log.warn("effects", "TEST ONLY: every finished task and every recorded "
                        "step is appended to "
                          + path + " (testing.effects_log)");
  return x;
}

caf::expected<messages::stores>
open_stores(node& n, const node_config& cfg, const state_backend& backend,
            std::shared_ptr<adapters::common::effects_log> effects) {
  if (backend.dynamodb) {
    if (auto err
        = adapters::aws::ensure_table(backend.table, backend.create_table)) {
      if (messages::errc_of(err) != messages::errc::storage_unavailable)
        return err;
      return messages::make_error(
        messages::errc::storage_unavailable,
        messages::message_of(err)
          + "; check dynamodb.endpoint, dynamodb.region and the AWS "
            "credentials, or set store.backend = sqlite");
    }
    n.log().info("store", "jobs, claims, ledger and dead letters in "
                          "DynamoDB table "
                            + backend.table.table + " at "
                            + backend.table.endpoint);
    auto store = adapters::aws::spawn_dynamodb_store(
      n.system(), backend.table, backend.workers, std::move(effects));
    n.keep("job store", tier::store, store);
    return messages::stores_of(store);
  }
  auto db_path = cfg.data_dir + "/vidflow.db";
  auto store = adapters::sqlite::spawn_job_store(n.system(),
                                                 {db_path, 512,
                                                  std::move(effects),
                                                  cfg.commit_delay});
  if (!store)
    return store.error();
  n.keep("job store", tier::store, *store);
  auto result = messages::stores_of(*store);
  // The same actor serves the video library from the same database.
  result.library = caf::actor_cast<messages::library_actor>(*store);
  return result;
}

messages::object_checker_actor object_checker_of(node& n,
                                                 const node_config& cfg) {
  if (cfg.store_mode != store_mode::s3)
    return {};
  // Webhook events are believed only for objects the server really has.
  return n.keep("object checker", tier::store,
                adapters::s3::spawn_object_checker(n.system(),
                                                   s3_client_config_of(cfg),
                                                   10000));
}

messages::object_deleter_actor object_deleter_of(node& n,
                                                 const node_config& cfg) {
  if (cfg.store_mode == store_mode::s3) {
    if (!cfg.s3_deletes)
      return {};
    return n.keep("object deleter", tier::store,
                  adapters::s3::spawn_object_deleter(
                    n.system(), s3_client_config_of(cfg), 10000));
  }
  return n.keep("object deleter", tier::store,
                objectstore::spawn_object_deleter(n.system(), cfg.data_dir));
}

messages::presigner_actor presigner_of(node& n, const node_config& cfg) {
  if (cfg.cluster.port == 0)
    return {};
  // SigV4 query signing serves the built-in store and S3 servers alike.
  return n.keep("presigner", tier::store,
                adapters::s3::spawn_presigner(n.system(),
                                              presigner_config_of(cfg)));
}

namespace {

/// Presigns `method` URLs of objects at the public URL, with extra signed
/// query parameters; an empty string when no keys can be had (the AWS chain
/// is failing).
std::function<std::string(const std::string&, const std::string&,
                          const adapters::sigv4::pairs&)>
query_signer_of(const node_config& cfg, const char* method,
                uint32_t expires) {
  adapters::sigv4::presign_params base;
  base.method = method;
  base.creds = {cfg.access_key, cfg.secret_key, {}};
  base.region = cfg.region;
  base.expires = expires;
  adapters::s3::key_source keys;
  // The presigners run on the API's threads: they take the keys the
  // refresher (keep_aws_keys_fresh) keeps fresh and never wait for a
  // credential endpoint.
  if (cfg.store_aws_credentials)
    keys = s3_keys_of(cfg.summarizer.profile, false);
  return [base, keys, endpoint = cfg.public_url, style = cfg.store_style](
           const std::string& bucket, const std::string& key,
           const adapters::sigv4::pairs& query) {
    auto p = base;
    p.query = query;
    if (keys) {
      auto now = keys();
      if (!now)
        return std::string{};
      p.creds = std::move(*now);
    }
    auto t = adapters::s3::target_of(endpoint, bucket, style);
    p.endpoint = std::move(t.endpoint);
    p.bucket = std::move(t.bucket);
    p.key = key;
    p.now = static_cast<int64_t>(std::time(nullptr));
    return adapters::sigv4::presign_url(p);
  };
}

/// `query_signer_of` without extra parameters.
std::function<std::string(const std::string&, const std::string&)>
url_signer_of(const node_config& cfg, const char* method, uint32_t expires) {
  auto sign = query_signer_of(cfg, method, expires);
  return [sign](const std::string& bucket, const std::string& key) {
    return sign(bucket, key, {});
  };
}

} // namespace

std::function<std::string(const messages::job&)>
upload_presigner_of(const node_config& cfg) {
  auto sign = url_signer_of(cfg, "PUT", cfg.presign_expires);
  return [sign, bucket = cfg.bucket](const messages::job& j) {
    return sign(bucket, j.key);
  };
}

std::function<std::string(const std::string&, const std::string&)>
download_presigner_of(const node_config& cfg) {
  return url_signer_of(cfg, "GET", cfg.outputs_url_expires);
}

void set_multipart_calls(const node_config& cfg,
                         adapters::http::api_config& api) {
  // The built-in store speaks S3 with the node's keys: one client for both.
  auto s3 = s3_client_config_of(cfg);
  // Joining the parts of a large file takes a while on the store's side.
  constexpr int64_t call_ms = 30000;
  constexpr int64_t complete_ms = 900000;
  api.multipart_start = [s3](const std::string& bucket, const std::string& key,
                             const std::string& content_type) {
    return adapters::s3::create_multipart_upload(s3, bucket, key, content_type,
                                                 call_ms);
  };
  api.multipart_complete =
    [s3](const std::string& bucket, const std::string& key,
         const std::string& id,
         const std::vector<std::pair<uint32_t, std::string>>& parts)
    -> caf::expected<std::string> {
    auto done = adapters::s3::complete_multipart_upload(s3, bucket, key, id,
                                                        parts, complete_ms);
    if (!done)
      return std::move(done.error());
    return done->etag;
  };
  api.multipart_abort = [s3](const std::string& bucket, const std::string& key,
                             const std::string& id) -> caf::error {
    auto done = adapters::s3::abort_multipart_upload(s3, bucket, key, id,
                                                     call_ms);
    return done ? caf::error{} : std::move(done.error());
  };
  auto sign = query_signer_of(cfg, "PUT", cfg.presign_expires);
  api.presign_part = [sign](const messages::job& j, const std::string& id,
                            uint32_t part) {
    return sign(j.bucket, j.key,
                {{"partNumber", std::to_string(part)}, {"uploadId", id}});
  };
  api.part_size = std::max<uint64_t>(cfg.part_size, uint64_t{5} << 20);
}

uint64_t memory_budget_of(uint64_t configured) {
  if (configured > 0)
    return configured;
  std::ifstream in{"/proc/meminfo"};
  std::string key;
  uint64_t kib = 0;
  std::string unit;
  while (in >> key >> kib >> unit)
    if (key == "MemTotal:")
      return kib / 1024 * 3 / 4;
  return 0;
}

uint32_t cores_of() {
  return std::max(1u, std::thread::hardware_concurrency());
}

namespace {

/// Encoder threads of one render when `slots` slots of this machine may
/// render at once: each gets its share of the cores (at least 1).
uint32_t core_share(size_t slots) {
  return static_cast<uint32_t>(
    std::max<size_t>(1, cores_of() / std::max<size_t>(1, slots)));
}

} // namespace

uint32_t encoder_threads_of(const node_config& cfg) {
  if (cfg.encoder_threads > 0)
    return cfg.encoder_threads;
  return core_share(cfg.workers);
}

adapters::media::render_setup local_render_setup(const node_config& cfg,
                                                 size_t slot) {
  adapters::media::render_setup x;
  x.work_dir = cfg.data_dir + "/tmp/render-" + std::to_string(slot);
  x.threads = static_cast<int>(encoder_threads_of(cfg));
  if (cfg.store_mode == store_mode::builtin) {
    x.store = [dir = cfg.data_dir](const std::string& bucket,
                                   const std::string& key,
                                   const std::string& path,
                                   const std::string& content_type,
                                   const std::string&) {
      auto res = objectstore::install_object(dir, bucket, key, path,
                                             content_type);
      return res ? caf::error{} : std::move(res.error());
    };
  } else {
    x.downloads = true;
    x.store = [s3_cfg = s3_client_config_of(cfg)](
                const std::string& bucket, const std::string& key,
                const std::string& path, const std::string& content_type,
                const std::string&) {
      auto res = adapters::s3::put_object_from_file(s3_cfg, bucket, key, path,
                                                    600000, content_type);
      return res ? caf::error{} : std::move(res.error());
    };
  }
  return x;
}

adapters::media::render_setup remote_render_setup(const std::string& work_dir,
                                                  uint32_t slots) {
  adapters::media::render_setup x;
  x.work_dir = work_dir;
  x.threads = static_cast<int>(core_share(slots));
  x.downloads = true;
  x.store = [](const std::string& bucket, const std::string& key,
               const std::string& path, const std::string& content_type,
               const std::string& put_url) -> caf::error {
    if (put_url.empty())
      return messages::make_error(messages::errc::invalid_argument,
                                  "the render task carries no upload URL "
                                  "for "
                                    + bucket + "/" + key
                                    + " (is the coordinator older than this "
                                      "node?)");
    auto res = adapters::s3::put_file_to_url(put_url, path, 600000,
                                             content_type);
    return res ? caf::error{} : std::move(res.error());
  };
  return x;
}

size_t discard_render_leftovers(const std::string& data_dir) {
  namespace fs = std::filesystem;
  size_t n = 0;
  std::error_code ec;
  for (fs::directory_iterator slot{data_dir + "/tmp", ec}, end;
       !ec && slot != end; slot.increment(ec)) {
    if (slot->path().filename().string().rfind("render-", 0) != 0
        || !slot->is_directory())
      continue;
    std::error_code inner;
    for (fs::directory_iterator work{slot->path(), inner}, wend;
         !inner && work != wend; work.increment(inner)) {
      std::error_code rm;
      fs::remove_all(work->path(), rm);
      if (!rm)
        ++n;
    }
  }
  return n;
}

std::function<caf::expected<adapters::http::parsed_events>(std::string_view)>
webhook_parser_of(const node_config&) {
  return [](std::string_view body)
           -> caf::expected<adapters::http::parsed_events> {
    auto res = adapters::minio::parse_minio_webhook(body);
    if (!res)
      return res.error();
    return adapters::http::parsed_events{std::move(res->events),
                                         res->ignored.size()};
  };
}

messages::summarizer_actor summarizer_of(node& n,
                                         const summarizer_settings& s) {
  if (!s.bedrock)
    return n.keep("summarizer", tier::domain,
                  adapters::summarizer::spawn_mock_summarizer(n.system()));
  auto cfg = s.bedrock_cfg;
  cfg.creds = aws_chain_of(s.profile);
  auto what = "summaries from Bedrock model " + cfg.model_id + " in "
              + cfg.region + " at " + adapters::aws::endpoint_of(cfg);
  auto now = std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
               .count();
  // Where the keys come from, never the keys.
  if (auto creds = cfg.creds->get(now))
    n.log().info("summarizer",
                 what + "; AWS credentials from " + creds->source);
  else
    n.log().warn("summarizer",
                 what + "; no AWS credentials yet ("
                   + messages::message_of(creds.error())
                   + "); summaries fail as provider_error until there "
                     "are");
  return n.keep(
    "summarizer", tier::domain,
    adapters::aws::spawn_bedrock_summarizer(n.system(), std::move(cfg)));
}

adapters::media::object_resolver local_object_resolver(const node_config& cfg,
                                                       size_t slot) {
  if (cfg.store_mode == store_mode::builtin) {
    auto store_cfg = store_config_of(cfg);
    return [store_cfg](const messages::object_ref& obj,
                       std::chrono::milliseconds)
             -> caf::expected<std::string> {
      auto path = objectstore::store_server::object_path(store_cfg, obj.bucket,
                                                         obj.key);
      struct stat st {};
      if (path.empty() || ::stat(path.c_str(), &st) != 0)
        return messages::make_error(messages::errc::not_found,
                                    "object " + obj.bucket + "/" + obj.key
                                      + " is not in the built-in store");
      return path;
    };
  }
  // One download slot per media actor: it probes one file at a time.
  auto path = cfg.data_dir + "/tmp/worker-" + std::to_string(slot)
              + ".object";
  return [s3_cfg = s3_client_config_of(cfg),
          path](const messages::object_ref& obj,
                std::chrono::milliseconds timeout)
           -> caf::expected<std::string> {
    auto info = adapters::s3::get_object_to_file(s3_cfg, obj.bucket, obj.key,
                                                 path, timeout.count());
    if (!info)
      return info.error();
    return path;
  };
}

adapters::media::object_resolver url_object_resolver(std::string path) {
  return [path](const messages::object_ref& obj,
                std::chrono::milliseconds timeout)
           -> caf::expected<std::string> {
    if (obj.url.empty())
      return messages::make_error(messages::errc::not_found,
                                  "object " + obj.bucket + "/" + obj.key
                                    + " came without a download URL");
    auto info = adapters::s3::get_url_to_file(obj.url, path, timeout.count());
    if (!info)
      return info.error();
    return path;
  };
}

std::unique_ptr<objectstore::store_server>
builtin_store_of(node& n, const node_config& cfg,
                 const listener_limits& limits,
                 messages::upload_gate_actor gate,
                 messages::object_sink_actor events,
                 std::shared_ptr<adapters::common::upload_meter> meter) {
  if (cfg.store_mode != store_mode::builtin)
    return nullptr;
  auto store_cfg = store_config_of(cfg);
  store_cfg.meter = std::move(meter);
  store_cfg.max_connections = limits.store > 0 ? limits.store : 1;
  store_cfg.max_connections_per_client = limits.store_per_client;
  store_cfg.gate = std::move(gate);
  store_cfg.log = [&log = n.log()](std::string line) {
    log.adapter_line("objectstore", line);
  };
  // Same family as the API's webhook events (prometheus-cpp merges
  // families of one name), labelled source="builtin".
  auto& metrics = *n.metrics();
  auto& family = prometheus::BuildCounter()
                   .Name("vidflow_object_events_total")
                   .Help("Object events received, by source and outcome")
                   .Register(metrics);
  std::map<std::string, prometheus::Counter*> counters;
  for (auto outcome : {"accepted", "duplicate", "rejected"})
    counters[outcome] = &family.Add({{"source", "builtin"},
                                     {"outcome", outcome}});
  counters["error"] = &prometheus::BuildCounter()
                         .Name("vidflow_object_event_errors_total")
                         .Help("Object events that could not be recorded "
                               "and are left for redelivery, by source")
                         .Register(metrics)
                         .Add({{"source", "builtin"}});
  store_cfg.on_event = [counters](const std::string& outcome) {
    if (auto i = counters.find(outcome); i != counters.end())
      i->second->Increment();
  };
  return std::make_unique<objectstore::store_server>(n.system(),
                                                     std::move(store_cfg),
                                                     events);
}

} // namespace vf::runtime
