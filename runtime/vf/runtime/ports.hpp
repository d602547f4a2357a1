// vf/runtime/ports.hpp
//
// The one place that maps configuration to the adapter serving each port.
// Adding a backend for a port is one adapter folder, one target and one
// branch here; roles (`serve.cpp`, `worker_node.cpp`) never name adapters.

#pragma once

#include "caf/expected.hpp"

#include "vf/adapters/common/effects_log.hpp"
#include "vf/adapters/http/api_server.hpp"
#include "vf/adapters/media/libav_media.hpp"
#include "vf/adapters/objectstore/store_server.hpp"
#include "vf/messages/object_checker_actor.hpp"
#include "vf/messages/orchestrator_actor.hpp"
#include "vf/messages/presigner_actor.hpp"
#include "vf/messages/retention_actor.hpp"
#include "vf/messages/stores.hpp"
#include "vf/messages/summarizer_actor.hpp"
#include "vf/runtime/dynamodb_edge.hpp"
#include "vf/runtime/logger.hpp"
#include "vf/runtime/node.hpp"
#include "vf/runtime/node_config.hpp"
#include "vf/runtime/serve_setup.hpp"

#include <functional>
#include <memory>
#include <string>

namespace vf::runtime {

/// Test only: opens the effects log at `path` (`testing.effects_log`),
/// saying so in the log; null if `path` is empty. The error names the path.
caf::expected<std::shared_ptr<adapters::common::effects_log>>
open_effects_log(const std::string& path, logger& log);

/// Opens the durable stores (kept by `n` in the store tier) on the backend
/// `backend` names: one SQLite actor over `data.dir/vidflow.db` serving all
/// four ports (jobs and results, claims, ledger, dead letters), so they
/// share group commit and one transaction for `bury`; or one DynamoDB
/// table, checked (or made, `dynamodb.create_table`) first. The error
/// names the database or the table. `effects` (may be null) gets a line
/// for every ok step the ledger takes.
caf::expected<messages::stores>
open_stores(node& n, const node_config& cfg, const state_backend& backend,
            std::shared_ptr<adapters::common::effects_log> effects = nullptr);

/// Checks that objects named by outside events exist: the S3 server in
/// `s3` mode; invalid handle with the built-in store (its events are ours).
messages::object_checker_actor object_checker_of(node& n,
                                                 const node_config& cfg);

/// Deletes stored uploads for retention: the built-in store's files;
/// invalid handle in `s3` mode (a bucket lifecycle rule does it there).
messages::object_deleter_actor object_deleter_of(node& n,
                                                 const node_config& cfg);

/// Presigns downloads for workers on other nodes; invalid handle without a
/// cluster port (no remote workers).
messages::presigner_actor presigner_of(node& n, const node_config& cfg);

/// Presigns the upload URL `POST /jobs` hands out.
std::function<std::string(const messages::job&)>
upload_presigner_of(const node_config& cfg);

/// Presigns the download URL of an output object (`outputs.url_expires`).
std::function<std::string(const std::string& bucket, const std::string& key)>
download_presigner_of(const node_config& cfg);

/// Sets the API's resumable-upload calls (`api_config::multipart_*`,
/// `presign_part`): the store's multipart API with the node's keys.
void set_multipart_calls(const node_config& cfg,
                         adapters::http::api_config& api);

/// The memory this node's tasks may use at once, in MiB: `configured`, or
/// three quarters of the machine's memory (`MemTotal` of /proc/meminfo)
/// when that is 0; 0 (no limit) if the machine does not say.
uint64_t memory_budget_of(uint64_t configured);

/// This machine's cores (at least 1).
uint32_t cores_of();

/// Encoder threads of one local render: `outputs.encoder_threads`, or the
/// cores divided by `workers.count` (at least 1) when that is 0.
uint32_t encoder_threads_of(const node_config& cfg);

/// Where a slot of a worker node (`slots` slots) makes media outputs: in
/// `work_dir`, stored by the presigned PUT URL the task carries for each
/// (the node holds no store credentials); its renders share the cores
/// between the slots.
adapters::media::render_setup remote_render_setup(const std::string& work_dir,
                                                  uint32_t slots);

/// Where local worker slot `slot` makes and stores media outputs: into the
/// built-in store (atomic install) or by PUT to the S3 server; its renders
/// use `encoder_threads_of(cfg)` encoder threads.
adapters::media::render_setup local_render_setup(const node_config& cfg,
                                                 size_t slot);

/// Removes the render work folders (`<data_dir>/tmp/render-*/render-*`) an
/// earlier process left behind; returns how many.
size_t discard_render_leftovers(const std::string& data_dir);

/// Parses the object-store webhook (MinIO / S3 event notifications).
std::function<caf::expected<adapters::http::parsed_events>(std::string_view)>
webhook_parser_of(const node_config& cfg);

/// The summarizer `s` picks: the mock, or Bedrock with credentials from
/// the AWS chain (looked up once here to log where they come from; a
/// failure is logged, not fatal: an instance role may come later).
messages::summarizer_actor summarizer_of(node& n, const summarizer_settings& s);

/// How the media port of local worker slot `slot` opens an upload: a file
/// of the built-in store, or a download from the S3 server into `data.dir`.
adapters::media::object_resolver local_object_resolver(const node_config& cfg,
                                                       size_t slot);

/// How a worker node's media port opens an upload: by the presigned URL the
/// lease carries, downloaded to `path`.
adapters::media::object_resolver url_object_resolver(std::string path);

/// The built-in object store and its event source (announces uploads to
/// `orchestrator`, admits uploads through `gate`, reports the bytes of
/// uploads in flight to `meter`); null in `s3` mode. Not started yet.
std::unique_ptr<adapters::objectstore::store_server>
builtin_store_of(node& n, const node_config& cfg,
                 const listener_limits& limits,
                 messages::upload_gate_actor gate,
                 messages::object_sink_actor events,
                 std::shared_ptr<adapters::common::upload_meter> meter);

} // namespace vf::runtime
