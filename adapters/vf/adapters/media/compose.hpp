// vf/adapters/media/compose.hpp
//
// Compositions in process: clips from several sources, each trimmed, scaled
// and padded to one size and frame rate, concatenated; background music
// (looped or cut to the video's length, faded out over its last second) and
// a voiceover mixed with the clips' own sound at set volumes; text overlays
// at nine positions within time windows. One libavfilter graph, one
// libx264 + AAC encode, MP4 or MOV. Every source is opened through
// `confined_input`.

#pragma once

#include "caf/expected.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace vf::adapters::media {

/// One clip: seconds `start` to `end` of the media file at `path`; a
/// `still` picture (PNG, JPEG, WebP) is shown for `end - start` seconds.
struct compose_clip {
  std::string path;
  double start = 0;
  double end = 0;
  bool still = false;
};

/// The nine places a text overlay can sit.
enum class overlay_position {
  top_left,
  top_center,
  top_right,
  center_left,
  center,
  center_right,
  bottom_left,
  bottom_center,
  bottom_right,
};

/// Parses `top_left` ... `bottom_right`.
bool from_string(const std::string& name, overlay_position& x);

/// Text drawn literally (no `%{...}` expansion) from `start` to `end`
/// seconds of the output (`end` < 0: to the end).
struct compose_overlay {
  std::string text;
  overlay_position position = overlay_position::bottom_center;
  double start = 0;
  double end = -1;
  int font_size = 32;
  /// `#RRGGBB`.
  std::string color = "#FFFFFF";
};

/// What to make.
struct compose_request {
  /// 1..20 clips, each `end > start >= 0`, 600 s in all at most.
  std::vector<compose_clip> clips;
  /// Optional audio files (empty: none). The music repeats until the video
  /// ends and fades out over its last second; the voiceover plays once from
  /// the start.
  std::string music_path;
  std::string voiceover_path;
  /// 0..1 each.
  double music_volume = 0.5;
  double voiceover_volume = 1.0;
  double original_volume = 1.0;
  /// At most 10.
  std::vector<compose_overlay> overlays;
  /// A TrueType font for the overlays (needed only when there are some).
  std::string font_path;
  /// Output size (even, 16..3840 x 16..2160); each clip is scaled to fit
  /// inside it keeping its aspect ratio and padded with black.
  int width = 1280;
  int height = 720;
  /// 24..60.
  int fps = 30;
  /// `mp4` or `mov`.
  std::string format = "mp4";
  /// Video bits per second; 0: constant quality (CRF 23).
  int64_t video_bitrate = 0;
  /// Encoder threads (0: libx264 picks).
  int threads = 0;
  /// The file written (replaced if present); removed on any error.
  std::string output_path;
  std::chrono::milliseconds timeout{std::chrono::minutes{30}};
  /// When it becomes true the call stops at its next check, removes what it
  /// wrote and answers `errc::cancelled`.
  const std::atomic<bool>* cancel = nullptr;
  /// Called now and then with 0..100 (output time / total duration).
  std::function<void(double percent)> progress;
};

/// What was made.
struct composed_output {
  std::string path;
  int width = 0;
  int height = 0;
  int fps = 0;
  /// Seconds, read back from the file.
  double duration = 0;
  uint64_t bytes = 0;
  std::string video_codec;
  std::string audio_codec;
};

/// Sum of the clips' lengths in seconds.
double composition_length(const compose_request& req);

/// Checks `req` without touching a file: returns what is wrong (naming the
/// field, e.g. "clips[2].end must be greater than its start"), or empty.
std::string check_compose_request(const compose_request& req);

/// Makes the composition.
///
/// Errors (`vf::messages::errc`): `invalid_argument` (what
/// `check_compose_request` finds, or a missing font), `not_found`,
/// `bad_media` (a source that cannot be read, or has no video where a clip
/// needs it), `unsupported_codec`, `timeout`, `cancelled`,
/// `encoder_failed` (transient), `storage_unavailable`. Blocks; safe to
/// call from several threads at once (one request each).
[[nodiscard]] caf::expected<composed_output>
compose_file(const compose_request& req);

} // namespace vf::adapters::media
