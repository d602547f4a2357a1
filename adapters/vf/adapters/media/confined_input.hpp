// vf/adapters/media/confined_input.hpp
//
// The one door through which libavformat reads an upload. Uploads are
// hostile: an HLS playlist, an ffconcat script or an image-sequence name
// makes an ordinary avformat_open_input() open *other* files (another user's
// upload, /etc/...) or URLs and report what it found there. A confined input
// hands libavformat the object's bytes only: our own AVIOContext over one
// file descriptor, a synthetic URL that is no path, nested opens refused,
// no protocol at all, and a whitelist of single-file container formats.
// Probing uses it today; thumbnails and renditions must open media through
// it too.

#pragma once

extern "C" {
#include <libavformat/avformat.h>
}

#include <memory>
#include <string>
#include <string_view>

namespace vf::adapters::media {

/// The libavformat demuxers a confined input accepts, comma-separated (the
/// value of `format_whitelist`): containers that carry their media inside one
/// file and never reference another (MP4/MOV family, Matroska/WebM, AVI, FLV,
/// MPEG-TS, MPEG-PS, Ogg, WAV, AIFF, MP3, ADTS AAC, FLAC, ASF/WMV). Never a
/// playlist or manifest (hls, dash, webm_dash_manifest), concat, image
/// sequence (image2, *_pipe), tee or anything else that names other
/// resources.
[[nodiscard]] const char* confined_formats() noexcept;

/// Returns whether `name` is the full name of a demuxer in
/// `confined_formats()` (e.g. "matroska,webm", not "webm").
[[nodiscard]] bool is_confined_format_name(std::string_view name) noexcept;

/// Returns whether `fmt` is one of `confined_formats()` (exact name).
[[nodiscard]] bool is_confined_format(const AVInputFormat* fmt) noexcept;

/// What an upload is expected to be, which picks the demuxers it may use.
enum class media_kind {
  /// Audio or video in one of `confined_formats()`.
  av,
  /// One still picture (an `image` asset): `still_image_formats()` only.
  still_image,
};

/// The demuxers of one still picture: PNG, JPEG, WebP (`png_pipe`,
/// `jpeg_pipe`, `webp_pipe`). Each reads one picture from its own bytes;
/// never `image2`, which opens other files by a name pattern.
[[nodiscard]] const char* still_image_formats() noexcept;

/// Returns whether `fmt` is one of the demuxers `kind` allows.
[[nodiscard]] bool is_allowed_format(const AVInputFormat* fmt,
                                     media_kind kind) noexcept;

/// An AVFormatContext that reads one local file's bytes and nothing else.
///
/// libavformat never sees the path: it reads through callbacks over a file
/// descriptor we opened, under a URL made only of a neutral name and the
/// file's extension (kept because format probing weighs extensions, so
/// results equal an ordinary open of the file). Any attempt of a demuxer to
/// open another resource (`io_open`) fails with `AVERROR(EPERM)`, the
/// protocol whitelist is empty, and a file that probes as a format outside
/// `confined_formats()` is refused before its demuxer reads a header.
/// The caller's interrupt callback is checked before every read, so
/// deadlines and cancellation work exactly as with libavformat's own I/O.
///
/// Not copyable or movable (libavformat holds pointers into it); one per
/// open file, used by one thread at a time.
class confined_input {
public:
  confined_input();
  ~confined_input();
  confined_input(const confined_input&) = delete;
  confined_input& operator=(const confined_input&) = delete;

  /// Opens `path` as media: returns 0 on success, else a negative AVERROR
  /// code (`AVERROR(ENOENT)`, `AVERROR(EISDIR)`, `AVERROR_INVALIDDATA`,
  /// `AVERROR_EXIT` when `interrupt` fired, ...). A file in a format `kind`
  /// does not accept fails with `AVERROR_INVALIDDATA` and `refused_format()`
  /// names that format. `options` go to avformat_open_input (which leaves
  /// the unused ones in it); the confinement settings in it are overwritten.
  /// Call at most once.
  [[nodiscard]] int open(const std::string& path, AVIOInterruptCB interrupt,
                         AVDictionary** options = nullptr,
                         media_kind kind = media_kind::av);

  /// The open context, or null before a successful `open`.
  [[nodiscard]] AVFormatContext* get() const noexcept {
    return ctx_;
  }

  /// After a failed `open`: the demuxer the file looked like when that
  /// demuxer is not one we accept (e.g. "hls", "concat", "tty"), else empty.
  [[nodiscard]] const std::string& refused_format() const noexcept {
    return refused_;
  }

  /// After a failed `open` that blamed the content: the demuxer format
  /// probing picks for these bytes, or empty when no demuxer recognises them.
  [[nodiscard]] const std::string& detected_format() const noexcept {
    return detected_;
  }

  /// Returns whether a demuxer tried to open another resource (and got
  /// `nested_open_error`): the file refers to something outside itself.
  [[nodiscard]] bool nested_open_refused() const noexcept;

  /// The AVERROR code nested opens get.
  static constexpr int nested_open_error = AVERROR(EPERM);

  struct source;

private:
  /// Runs format probing alone on the file's first bytes.
  const AVInputFormat* detect_format(const std::string& url);

  std::unique_ptr<source> src_;
  AVIOContext* pb_ = nullptr;
  AVFormatContext* ctx_ = nullptr;
  std::string detected_;
  std::string refused_;
  media_kind kind_ = media_kind::av;
};

} // namespace vf::adapters::media
