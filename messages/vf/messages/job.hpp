// vf/messages/job.hpp

#pragma once

#include "caf/meta/type_name.hpp"

#include "vf/messages/errc.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace vf::messages {

/// Where a job is in its life. Names are the API's (upper case).
enum class job_status : uint8_t {
  awaiting_upload,
  submitted,
  processing,
  succeeded,
  failed,
  cancelled,
  expired,
};

/// Number of `job_status` values, for tables indexed by status.
constexpr size_t job_status_count = 7;

/// Returns the API name, e.g. `AWAITING_UPLOAD`.
std::string to_string(job_status x);

/// Parses an API name; returns false for anything else.
bool from_string(const std::string& str, job_status& x);

/// Returns whether no further transition can happen from `x`.
constexpr bool is_terminal(job_status x) {
  return x == job_status::succeeded || x == job_status::failed
         || x == job_status::cancelled || x == job_status::expired;
}

/// One stored object version, as an object store announces it.
struct object_ref {
  std::string bucket;
  std::string key;
  /// Version id or event sequencer; tells two uploads of one key apart.
  std::string version;
  std::string etag;
  uint64_t size = 0;
  /// Transient, never stored: a presigned GET URL by which a worker on
  /// another node fetches the object (set by the dispatcher per lease).
  std::string url;
  /// Lower-case hex SHA-256 of the bytes, when the store that took the
  /// upload computed it (the built-in store does, while the body streams
  /// in); empty otherwise. Content reuse matches uploads by it.
  std::string sha256;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, object_ref& x) {
  return f(caf::meta::type_name("object_ref"), x.bucket, x.key, x.version,
           x.etag, x.size, x.url, x.sha256);
}

inline bool operator==(const object_ref& x, const object_ref& y) {
  return x.bucket == y.bucket && x.key == y.key && x.version == y.version
         && x.etag == y.etag && x.size == y.size;
}

/// A job as stored and as the API shows it. Times are Unix milliseconds.
struct job {
  std::string id;
  std::string owner;
  std::string filename;
  std::string content_type;
  std::string bucket;
  std::string key;
  job_status status = job_status::awaiting_upload;
  int64_t created_at = 0;
  int64_t updated_at = 0;
  /// Set once the upload was claimed; empty `version` before.
  object_ref object;
  /// Attempts started in the current attempt series.
  uint32_t attempts = 0;
  /// Task kind of the pipeline step the job is at (empty before any).
  std::string step;
  /// Unix ms of the next scheduled attempt, 0 when none is scheduled.
  int64_t next_attempt_at = 0;
  /// Why the job failed or waits for a retry; `errc::none` otherwise.
  /// Strings only at the edges (JSON, SQLite).
  errc error_code = errc::none;
  std::string error_message;
  /// Attempt series: 0 for the first run, +1 for each redrive.
  uint32_t series = 0;
  /// `priority_high`, `priority_default` or `priority_low`; carried on
  /// every task of the job.
  int32_t priority = 0;
  /// The media outputs asked for: canonical recipe JSON
  /// (`{"thumbnails": [...], "thumbnail_at": t, "renditions": [...]}`),
  /// empty when the job makes only metadata and a summary.
  std::string outputs;
  /// Where a signed JSON event goes on each terminal state (`POST /jobs`
  /// `callback_url`); empty: none.
  std::string callback_url;
  /// The `X-Request-ID` of the request that made the job (or the one the
  /// API generated): its correlation id in every log line about it, on
  /// every node.
  std::string request_id;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, job& x) {
  return f(caf::meta::type_name("job"), x.id, x.owner, x.filename,
           x.content_type, x.bucket, x.key, x.status, x.created_at,
           x.updated_at, x.object, x.attempts, x.step, x.next_attempt_at,
           x.error_code, x.error_message, x.series, x.priority, x.outputs,
           x.callback_url, x.request_id);
}

/// How every composition's canonical recipe begins (`POST /compositions`).
constexpr const char* composition_recipe_prefix = R"({"composition":)";

/// How every asset's canonical recipe begins (`POST /assets`).
constexpr const char* asset_recipe_prefix = R"({"asset":)";

/// Whether `recipe` (a job's canonical `outputs`) is a composition's
/// (`POST /compositions`: `{"composition": {...}}`); such a job has no
/// upload and runs one `compose` step.
inline bool is_composition_recipe(const std::string& recipe) {
  return recipe.rfind(composition_recipe_prefix, 0) == 0;
}

/// Whether `recipe` is an asset's (`POST /assets`: `{"asset": kind}`): an
/// upload kept to be cut into compositions, probed only, and not shown in
/// the video library.
inline bool is_asset_recipe(const std::string& recipe) {
  return recipe.rfind(asset_recipe_prefix, 0) == 0;
}

/// The kinds of job a listing (`history`) can be narrowed to: `""` every
/// job, `kind_composition` only compositions, `kind_asset` only assets.
constexpr const char* kind_composition = "composition";
constexpr const char* kind_asset = "asset";

/// Whether `kind` is one of those.
inline bool is_job_kind(const std::string& kind) {
  return kind.empty() || kind == kind_composition || kind == kind_asset;
}

/// What is wrong with a listing of `owner`'s jobs of kind `kind`
/// (`history`), or nothing: a kind must be one of the above, and a listing
/// by kind is one user's. The job registry and every job store check it.
std::optional<std::string> listing_kind_problem(const std::string& owner,
                                                const std::string& kind);

/// Whether the job with canonical recipe `recipe` is of kind `kind` (what
/// a store's `history` filter means, for stores that filter in memory).
inline bool is_of_kind(const std::string& recipe, const std::string& kind) {
  if (kind == kind_composition)
    return is_composition_recipe(recipe);
  if (kind == kind_asset)
    return is_asset_recipe(recipe);
  return kind.empty();
}

/// The operators' job search (`GET /admin/jobs`, `vidflow admin jobs`):
/// every given term must match; results are the most recently changed
/// first.
struct job_query {
  /// A `job_status` name; empty: any status.
  std::string status;
  /// The owner's exact name; empty: any owner.
  std::string owner;
  /// Part of the file name (case-sensitive bytes); empty: any name.
  std::string name;
  uint32_t limit = 50;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, job_query& x) {
  return f(caf::meta::type_name("job_query"), x.status, x.owner, x.name,
           x.limit);
}

/// The longest `job_query::owner` and `job_query::name`, in bytes.
constexpr size_t max_query_term = 256;

/// The most rows a `job_query` may ask for.
constexpr uint32_t max_query_limit = 1000;

/// What is wrong with `q`, or nothing: an unknown status, a term longer
/// than `max_query_term` or holding a control character, a limit outside
/// 1..`max_query_limit`, or no term at all (the active jobs have their
/// own message).
std::optional<std::string> job_query_problem(const job_query& q);

/// Whether job `j` matches every term of `q` (what the stores' queries
/// mean, for stores that filter in memory).
bool matches(const job_query& q, const job& j);

/// Whether `recipe` is an image asset's (`{"asset":"image"}`): its upload
/// must be one still picture, probed as such.
inline bool is_image_asset_recipe(const std::string& recipe) {
  return recipe == R"({"asset":"image"})";
}

/// Job priorities; the dispatcher serves higher values first.
constexpr int32_t priority_high = 1;
constexpr int32_t priority_default = 0;
constexpr int32_t priority_low = -1;

/// Returns `high`, `default` or `low` (anything else reads as `default`).
std::string priority_name(int32_t x);

/// Parses `high`, `default` or `low`; returns false for anything else.
bool priority_from_name(const std::string& str, int32_t& x);

/// What a client asks for with `POST /jobs`, after validation at the edge.
struct job_request {
  std::string owner;
  std::string filename;
  std::string content_type;
  int32_t priority = 0;
  /// Canonical recipe JSON (see `job::outputs`), empty for none.
  std::string outputs;
  /// The client's `Idempotency-Key` (empty: none); see `create_keyed`.
  std::string idempotency_key;
  /// Hex SHA-256 of the request as the edge understood it: the same key
  /// with another hash is a different request.
  std::string request_hash;
  /// See `job::callback_url` (checked against `webhooks.allow` at the edge).
  std::string callback_url;
  /// See `job::request_id`.
  std::string request_id;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, job_request& x) {
  return f(caf::meta::type_name("job_request"), x.owner, x.filename,
           x.content_type, x.priority, x.outputs, x.idempotency_key,
           x.request_hash, x.callback_url, x.request_id);
}

/// The outcome of a finished job: ffprobe-shaped metadata and a summary.
struct job_result {
  std::string job_id;
  /// JSON text with `format` and `streams`, as `ffprobe -print_format json`.
  std::string metadata;
  std::string summary;
  int64_t created_at = 0;
  /// JSON text of the media outputs made (the render step's output:
  /// `{"thumbnails": [...], "renditions": [...]}` with object keys, never
  /// URLs), empty when the job asked for none.
  std::string outputs;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, job_result& x) {
  return f(caf::meta::type_name("job_result"), x.job_id, x.metadata,
           x.summary, x.created_at, x.outputs);
}

/// One change of a job's status (or of its attempt series: a redrive), as
/// the job store journals it in the same transaction as the change. Live
/// progress (`GET /jobs/{id}/events`) replays these by `seq`.
struct job_event {
  /// Position in the store's journal: increases with every change of any
  /// job, never reused.
  uint64_t seq = 0;
  job_status status = job_status::awaiting_upload;
  uint32_t series = 0;
  /// Unix ms of the change (the job's `updated_at` then).
  int64_t at = 0;
  /// The job's error code then (`errc::none` unless it failed or waits).
  errc error_code = errc::none;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, job_event& x) {
  return f(caf::meta::type_name("job_event"), x.seq, x.status, x.series,
           x.at, x.error_code);
}

/// One signed callback of a job (`callback_url`): made by the job store in
/// the transaction that ends the job, sent until the receiver answers 2xx
/// or 24 h passed. Times are Unix ms.
struct delivery {
  /// Idempotency id, also in the body: `dlv_<journal seq>`; a receiver
  /// that sees one twice (a retry after a lost answer) drops the copy.
  std::string id;
  std::string job_id;
  std::string owner;
  std::string url;
  /// The JSON body, fixed when made: every attempt sends the same bytes.
  std::string body;
  /// `pending`, `delivered` or `failed` (gave up).
  std::string state;
  uint32_t attempts = 0;
  /// When the next attempt is due (pending only).
  int64_t next_at = 0;
  int64_t created_at = 0;
  /// HTTP status of the last attempt; 0 if it got none.
  uint32_t last_status = 0;
  /// Why the last attempt failed; empty after a success.
  std::string last_error;
  int64_t delivered_at = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, delivery& x) {
  return f(caf::meta::type_name("delivery"), x.id, x.job_id, x.owner, x.url,
           x.body, x.state, x.attempts, x.next_at, x.created_at,
           x.last_status, x.last_error, x.delivered_at);
}

/// What one attempt to send a delivery got.
struct delivery_attempt {
  /// The receiver answered 2xx.
  bool ok = false;
  /// Retrying cannot help (the target is not allowed, or not a URL).
  bool permanent = false;
  /// The receiver's HTTP status; 0 if none.
  uint32_t status = 0;
  /// Why it failed, in words.
  std::string error;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, delivery_attempt& x) {
  return f(caf::meta::type_name("delivery_attempt"), x.ok, x.permanent,
           x.status, x.error);
}

/// Job counts indexed by `job_status`, for metrics and status pages.
using status_counts = std::vector<uint64_t>;

} // namespace vf::messages
