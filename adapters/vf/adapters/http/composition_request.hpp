// vf/adapters/http/composition_request.hpp
//
// `POST /compositions` and `POST /assets` bodies: every rule, each broken
// one named by its field. Pure functions; the routes look the sources up.

#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace vf::adapters::http {

/// One upload a composition cuts from, as the request names it.
struct composition_source {
  /// `asset_id` or `job_id` (`by_job`).
  std::string id;
  bool by_job = false;
  /// Field that named it first, for errors (`clips[2].asset_id`).
  std::string field;
  /// What it must hold: a video stream (clips) or an audio stream.
  bool needs_video = false;
  bool needs_audio = false;
  /// Seconds of it a clip reaches (the largest clip `end`); 0: audio.
  double reaches = 0;
};

/// A request checked for form: the recipe with source indexes and the
/// sources to look up (each id once).
struct composition_plan {
  /// `{"composition": {...}}` without `sources` (the route adds them once
  /// they are looked up); see vf/adapters/media/composition.hpp.
  nlohmann::json recipe;
  std::vector<composition_source> sources;
  std::string title;
  int32_t priority = 0;
  /// Output file name: `composition.mp4` or `composition.mov`.
  std::string filename;
};

/// Checks a `POST /compositions` body. Returns what is wrong, naming the
/// field (e.g. `clips[2].end must be greater than clips[2].start`), or
/// empty with `out` filled.
std::string parse_composition_request(const nlohmann::json& body,
                                      composition_plan& out);

/// Output size of a resolution name (`480p` 854x480, `720p` 1280x720,
/// `1080p` 1920x1080, `4k` 3840x2160); false for anything else.
bool resolution_size(const std::string& name, int& width, int& height);

/// Checks a `POST /assets` body: `filename` and `content_type` strings,
/// `kind` one of video, audio, image. Returns what is wrong, or empty.
std::string parse_asset_request(const nlohmann::json& body,
                                std::string& filename,
                                std::string& content_type, std::string& kind);

} // namespace vf::adapters::http
