// vf/messages/media_actor.hpp

#pragma once

#include "caf/replies_to.hpp"
#include "caf/typed_actor.hpp"

#include "vf/messages/type_ids.hpp"

#include <string>
#include <vector>

namespace vf::messages {

/// Port: reads media. Implementations block (libavformat, network reads)
/// and therefore run as detached actors, one per worker slot.
///
/// - `(probe, object, input, timeout_ms, lease_id)` → JSON text shaped
///   like `ffprobe -print_format json -show_format -show_streams`. `input`
///   is the task's: an image asset's recipe (`{"asset":"image"}`) asks for
///   one still picture (PNG, JPEG, WebP) and refuses anything else; any
///   other input asks for audio or video.
///   Errors: `errc::bad_media` (not a media file), `errc::truncated`,
///   `errc::unsupported_codec`, `errc::timeout` (deadline hit, enforced
///   through libavformat's interrupt callback), `errc::not_found` (no such
///   object), `errc::storage_unavailable` (the store did not answer),
///   `errc::cancelled` (its lease was cancelled through the control port).
///
/// - `(render, object, job_id, input, outputs, sources, timeout_ms,
///   lease_id)` → JSON
///   text `{"thumbnails": [...], "renditions": [...]}`: makes the media
///   outputs `input` asks for (`{"recipe": {...}, "metadata": {...}}`, see
///   `task_kind::render`) from one decode of the object and stores each as
///   `outputs/<job_id>/<name>.<jpg|mp4>` in the object's bucket, by the
///   presigned PUT `url` of its entry in `outputs` when it has one (a
///   worker on another node; `task::outputs`), else directly. Each entry
///   is `{name, width, height, content_type, bytes, bucket, key}`
///   (renditions also `duration`, `video_codec`, `audio_codec`), or
///   `{name, skipped}` for an output not made (never upscaled; a source
///   without video). Content reuse (`input` names an earlier job's
///   outputs): each is read by the presigned GET `url` of its entry in
///   `sources` when it has one (`task::sources`), else directly, and stored
///   as a fresh output. A second run for the same job replaces the objects,
///   so one object per output remains. Errors as for `probe`, plus
///   `errc::invalid_argument` (a malformed input), `errc::encoder_failed`
///   (transient: an encoder or muxer failed) and
///   `errc::storage_unavailable` (an output could not be stored); every
///   temporary file is removed on every path. While it encodes, it sends
///   `(progress, lease_id, percent)` (output time / duration) to the
///   requester, as a `progress_sink_actor`.
///
/// Sent by: a worker.
using media_actor = caf::typed_actor<
  caf::replies_to<atoms::probe, object_ref, std::string, uint32_t,
                  uint64_t>::with<std::string>,
  caf::replies_to<atoms::render, object_ref, std::string, std::string,
                  std::vector<object_ref>, std::vector<object_ref>, uint32_t,
                  uint64_t>::with<std::string>>;

/// Port: reaches a media actor while it is busy (it blocks in libav).
///
/// - `(cancel, lease_id)` → `true` once noted: the probe or render of that
///   lease
///   stops at its next interrupt check (or at once if it has not started
///   yet) and answers `errc::cancelled`; other leases are unaffected. The
///   answer lets a caller order later requests after the cancel; senders
///   that do not need it send anonymously.
///
/// Sent by: a worker.
using media_control_actor = caf::typed_actor<
  caf::replies_to<atoms::cancel, uint64_t>::with<bool>>;

} // namespace vf::messages
