// vf/adapters/media/probe.hpp
//
// In-process replacement for `ffprobe -show_format -show_streams`: the same
// JSON for the fields the pipeline uses, without forking a process per file
// (about 40x cheaper, see bench/probe_bench.cpp).

#pragma once

#include "caf/expected.hpp"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace vf::adapters::media {

/// The largest single allocation libav may make in this process (set with
/// `av_max_alloc` before the first probe; FFmpeg's default is INT_MAX).
/// Headers from a hostile file can name huge sizes: a 237-byte WAV whose
/// LIST/INFO sub-chunk claims 1.9 GB made libavformat (and ffprobe)
/// allocate and zero 1.9 GB. Probing never needs more than this; the file
/// is then `bad_media` instead of a memory blow-up.
constexpr size_t max_libav_alloc = size_t{256} << 20;

/// The most pixels a still picture (an image asset) may have: decoded at up
/// to 8 bytes a pixel (16-bit RGBA) it stays under `max_libav_alloc`. The
/// probe refuses bigger pictures, the composer's decoder is opened with it
/// as `max_pixels`, and a render's memory cost counts pictures up to it.
constexpr int64_t max_picture_pixels = 32'000'000;

/// Reads the container and stream headers of a local file and returns JSON
/// text shaped and formatted exactly like `ffprobe -v quiet -print_format json
/// -show_format -show_streams` (FFmpeg 5.1), restricted to these fields:
/// `format`: filename, nb_streams, format_name, duration, size, bit_rate,
/// tags; `streams[]`: index, codec_name, profile, codec_type, width, height,
/// pix_fmt, sample_rate, channels, r_frame_rate, avg_frame_rate, duration,
/// bit_rate, tags. Like ffprobe, fields ffprobe leaves out ("N/A") are absent
/// and durations, sizes, rates and bit rates are strings.
///
/// The file is opened through `confined_input`: only its own bytes are read,
/// in one of `confined_formats()`. A playlist, concat script, image sequence
/// or anything else that would make libavformat read other files or URLs is
/// `bad_media`, and nothing of what it refers to is ever read.
///
/// Errors (`vf::messages::errc`): `not_found` (no such file), `bad_media`
/// (not a media file, a format we do not read, or neither audio nor video
/// inside), `truncated` (an
/// MP4/MOV whose index or media data is cut off), `unsupported_codec` (a video
/// stream, or the only audio, has no decoder), `timeout` (`timeout` ran out,
/// including a zero or negative `timeout`), `cancelled` (`*cancel` became
/// true), `storage_unavailable` (the file could not be read).
///
/// Blocks for the duration of the probe; safe to call from many threads at
/// once. `timeout` and `cancel` are enforced through libavformat's interrupt
/// callback, i.e. between reads, never inside one `read()` system call.
[[nodiscard]] caf::expected<std::string>
probe_file(const std::string& path, std::chrono::milliseconds timeout,
           const std::atomic<bool>* cancel = nullptr);

/// Same as `probe_file`, but reports `print_filename` as `format.filename`,
/// like `ffprobe -print_filename`: callers that probe a temporary download
/// report the object's name instead of a path on this machine.
///
/// With `still_image` the file must be one PNG, JPEG or WebP picture
/// (`still_image_formats()`: an image asset) and nothing else: a video is
/// then `bad_media`, as a picture is without it.
[[nodiscard]] caf::expected<std::string>
probe_file_as(const std::string& path, const std::string& print_filename,
              std::chrono::milliseconds timeout,
              const std::atomic<bool>* cancel = nullptr,
              bool still_image = false);

} // namespace vf::adapters::media
