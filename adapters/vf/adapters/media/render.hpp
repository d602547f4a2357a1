// vf/adapters/media/render.hpp
//
// Thumbnails and renditions in process (libavcodec, libavfilter,
// libswscale): one decode of the source feeds every rendition of a request
// (one filter graph with a split) and the thumbnails are cut from frames
// that decode produces anyway. Sources are opened through `confined_input`.

#pragma once

#include "caf/expected.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace vf::adapters::media {

/// A JPEG fitted inside `box_width` x `box_height` keeping the source's
/// aspect ratio; both output dimensions even (a 16:9 source in 320x180 is
/// exactly 320x180). Boxes are 16..3840 per side (checked by the caller).
/// A source smaller than the box is scaled up to fit it.
struct thumbnail_spec {
  /// Name used in results and file names, e.g. `small` or `200x200`.
  std::string name;
  int box_width = 320;
  int box_height = 180;
};

/// An MP4 (H.264 via libx264, CRF 23, preset fast; AAC 128 kb/s when the
/// source has audio; `+faststart`) of height `height`, width keeping the
/// aspect ratio (even), frame rate kept. An odd height is rounded down to
/// even (4:2:0 needs even sides).
struct rendition_spec {
  /// e.g. `720p`. Names (thumbnails' too) are file names: non-empty, no
  /// '/', no leading '.', unique within their kind.
  std::string name;
  int height = 720;
};

/// What to make of one source.
struct render_request {
  /// Local file holding the source (opened through `confined_input`).
  std::string input_path;
  /// Existing, empty, private folder the output files are written into:
  /// `<name>.jpg` per thumbnail, `<name>.mp4` per rendition.
  std::string out_dir;
  /// Seconds into the source to take thumbnails at; negative: the default
  /// min(1.0, duration / 2). A time past the end takes the last frame.
  double thumbnail_at = -1;
  /// Snap thumbnails to the nearest keyframe at or before `thumbnail_at`
  /// instead of decoding forward to the exact frame (much faster on
  /// long-GOP sources; ignored when renditions are made, whose decode
  /// yields the exact frame anyway).
  bool keyframe_thumbnails = false;
  std::vector<thumbnail_spec> thumbnails;
  std::vector<rendition_spec> renditions;
  /// Encoder threads in all (0: libx264 picks); split between renditions.
  int threads = 0;
  /// Whole-request deadline, enforced between reads/frames.
  std::chrono::milliseconds timeout{std::chrono::minutes{30}};
  /// When it becomes true the render stops at its next check, removes every
  /// file it wrote and answers `errc::cancelled`.
  const std::atomic<bool>* cancel = nullptr;
  /// Called now and then with 0..100 (output time / source duration).
  std::function<void(double percent)> progress;
};

/// One output made (or skipped).
struct rendered_output {
  /// `thumbnail` or `rendition`.
  std::string kind;
  std::string name;
  /// Set instead of a file when the output is not made, e.g. "source is
  /// 480 pixels high; renditions are never upscaled" or "source has no
  /// video". Everything below is then empty/zero.
  std::string skipped;
  /// Full path of the file in `out_dir`.
  std::string path;
  /// `image/jpeg` or `video/mp4`.
  std::string content_type;
  int width = 0;
  int height = 0;
  uint64_t bytes = 0;
  /// Renditions only: seconds, and codec names (`h264`, `aac` or empty).
  double duration = 0;
  std::string video_codec;
  std::string audio_codec;
};

/// Makes what `req` asks for. Returns one entry per requested thumbnail and
/// rendition, in request order (thumbnails first).
///
/// Errors (`vf::messages::errc`): `invalid_argument` (a name that is no
/// plain file name or comes twice, an empty box, a height below 2: checked
/// before the source is opened), `not_found`, `bad_media` (unreadable,
/// refused container, absurd or zero dimensions, a stream broken mid-file:
/// the message names the time), `unsupported_codec`, `timeout`,
/// `cancelled`, `encoder_failed` (a decoder, encoder, filter graph or muxer
/// could not be set up or failed, or memory ran out: transient, a retry
/// elsewhere may work), `storage_unavailable` (writing an output failed). On any error every file the call wrote is removed.
/// A source without a video stream is not an error: every output is
/// skipped with the reason.
///
/// Blocks; safe to call from several threads at once (one request each).
[[nodiscard]] caf::expected<std::vector<rendered_output>>
render_file(const render_request& req);

} // namespace vf::adapters::media
