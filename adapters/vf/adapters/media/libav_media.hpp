// vf/adapters/media/libav_media.hpp

#pragma once

#include "vf/adapters/media/render.hpp"
#include "vf/messages/job.hpp"
#include "vf/messages/task.hpp"
#include "vf/messages/media_actor.hpp"

#include "caf/actor_system.hpp"
#include "caf/expected.hpp"

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace vf::adapters::media {

/// Turns an object into a readable local path within `timeout`: the built-in
/// store's file, or a download from MinIO/S3. Supplied by the runtime, which
/// also owns (and removes) any temporary file. Called on the media actor's
/// own thread; may block. Errors: `errc::not_found`,
/// `errc::storage_unavailable`, `errc::timeout`.
using object_resolver = std::function<caf::expected<std::string>(
  const vf::messages::object_ref&, std::chrono::milliseconds timeout)>;

/// Stores one finished output file (`local_path`, a file of the media
/// actor's work folder that the sink may move) as `key` in `bucket`, where a
/// second store of the same key replaces the first. `put_url` is the
/// presigned PUT the task carries for `key` (empty: none; a worker node's
/// sink needs one, it holds no credentials). Supplied by the runtime (the
/// built-in store's atomic install, a SigV4 PUT to S3/MinIO, or a PUT to
/// `put_url`). Errors: `errc::storage_unavailable`,
/// `errc::invalid_argument`.
using output_sink = std::function<caf::error(
  const std::string& bucket, const std::string& key,
  const std::string& local_path, const std::string& content_type,
  const std::string& put_url)>;

/// Where and how a media actor makes outputs (for `render`).
struct render_setup {
  /// Stores finished outputs; null: `render` answers `errc::internal`.
  output_sink store;
  /// Private folder (created if missing) for work folders of renders in
  /// progress; each render uses and removes its own sub-folder.
  std::string work_dir;
  /// Encoder threads per render (0: libx264 decides).
  int threads = 0;
  /// Whether the resolver downloads every object into one file it reuses
  /// (MinIO/S3, or presigned GETs on a worker node). A composition needs
  /// all its sources at once, so it moves each download into its work
  /// folder before fetching the next. False: the paths are the built-in
  /// store's own files, read in place and never moved.
  bool downloads = false;
};

/// Spawns a detached actor (its own thread: libavformat blocks) that
/// implements `vf::messages::media_actor`. `(probe, object, timeout_ms)`
/// resolves the object, then probes it with `probe_file` within what is left
/// of `timeout_ms`, reporting the object's key as `format.filename` and,
/// when the object comes without a SHA-256, the file's as `format.sha256`.
/// One actor probes one file at a time; spawn one per worker slot.
/// A media actor and the control port that cancels its probes.
struct media_handles {
  vf::messages::media_actor media;
  vf::messages::media_control_actor control;
};

/// Spawns the media actor and its control port (see `media_handles`).
media_handles spawn_media_actor(caf::actor_system& sys,
                                object_resolver resolver,
                                render_setup render = {});

/// What a render costs, for admission (`messages::task::threads` and
/// `memory_mb`).
struct render_cost {
  uint32_t threads = 0;
  uint64_t memory_mb = 0;
};

/// Estimates the peak memory of rendering `recipe` (canonical, as `POST
/// /jobs` stores it) from a source described by `metadata` (the probe's
/// ffprobe-shaped JSON), with `threads` encoder threads: decoder frames of
/// the source, x264's look-ahead and reference frames per rendition that
/// is made (renditions taller than the source are not), a few frames per
/// thumbnail, and a fixed base. Calibrated against ffmpeg doing the same
/// (a 1080p source to 1080p, 720p and 480p peaks near 700 MiB); without a
/// video stream it is the base alone.
render_cost estimate_render_cost(const std::string& recipe,
                                 const std::string& metadata,
                                 uint32_t threads);

/// The SHA-256 of the upload that a probe of an object without one (an
/// upload that reached S3 or MinIO directly) added to its output as
/// `format.sha256`: 64 lower-case hex digits, or empty. The orchestrator
/// keeps it with the job, so content reuse works for such uploads too.
std::string content_digest_of(const std::string& probe_output);

/// Builds a render step's input `{"recipe", "metadata", "reuse"?}` as one
/// JSON object: `recipe` (canonical, from `POST /jobs`; `{}` if it is not
/// an object), `metadata` (the probe's output, which a worker on another
/// node produced: null unless it is an object, and it can add no keys of
/// its own), and, when `reuse_job` is set, `{"job_id", "outputs"}` naming
/// an earlier job's stored outputs to copy (left out unless `reuse_outputs`
/// is an object). Invalid UTF-8 is replaced.
std::string make_render_input(const std::string& recipe,
                              const std::string& metadata,
                              const std::string& reuse_job,
                              const std::string& reuse_outputs);

/// Keys of every object a render of `recipe` (canonical, as `POST /jobs`
/// stores it) for job `job_id` may store: `outputs/<job_id>/<name>.jpg` per
/// thumbnail and `.mp4` per rendition, whether or not it will be made.
/// Empty for a recipe that is not an object.
std::vector<std::string> render_output_keys(const std::string& job_id,
                                            const std::string& recipe);

/// Checks a render's `output` (the media actor's answer) before the
/// coordinator records it: a JSON object whose `thumbnails` and
/// `renditions` list exactly the outputs of `recipe`, each once, with
/// known fields only, either `{name, skipped}` or stored in `bucket` as
/// exactly `outputs/<job_id>/<name>.jpg|.mp4`, and whose `reused_from`, if
/// any, is `reuse_job`. Returns why it is refused, or empty. A worker on
/// another node made it: it must not make a job point at another job's
/// (or user's) objects, nor drop or add outputs.
std::string check_render_output(const std::string& job_id,
                                const std::string& bucket,
                                const std::string& reuse_job,
                                const std::string& recipe,
                                const std::string& output);

/// Cuts render task `t` into at most `most` parts that run on different
/// nodes (for the dispatcher's `split_render`), one per rendition made
/// (never upscaled) at most: the renditions, heaviest first by pixels per
/// frame, each go to the lightest part so far; thumbnails and renditions
/// not made go with the lightest part. Each part is `t` with its share of
/// the recipe as input, its own memory estimate and its share of
/// `outputs`. Empty (not split): fewer than two renditions made, `most`
/// below 2, a copy of earlier outputs (content reuse), or an input it
/// cannot read.
std::vector<messages::task> split_render(const messages::task& t, size_t most);

/// Joins the outputs of the parts of render `t` (in part order: their
/// `inputs`, what they answered, the `workers` that made them) into one
/// render output in the recipe's order, each entry made marked with its
/// `worker`. A part's entries count only for the outputs its input asked
/// for.
std::string merge_render(const messages::task& t,
                         const std::vector<std::string>& inputs,
                         const std::vector<std::string>& outputs,
                         const std::vector<std::string>& workers);

/// Parses a render step's input (`{"recipe": {...}, "metadata": {...}}`,
/// the recipe canonical as `POST /jobs` stores it) into `req`'s thumbnail,
/// rendition and time fields. Returns an error message, or empty on success.
std::string parse_render_input(const std::string& input,
                               render_request& req);

} // namespace vf::adapters::media
