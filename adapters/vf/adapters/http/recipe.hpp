// vf/adapters/http/recipe.hpp
//
// The `outputs` of `POST /jobs`: what a client may ask for, checked at the
// edge and stored in one canonical form (the render step reads that form).

#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace vf::adapters::http {

/// Most thumbnails and renditions one job may ask for.
constexpr size_t max_thumbnails = 16;
constexpr size_t max_renditions = 8;

/// What `canonical_recipe` made of a client's `outputs`.
struct recipe_check {
  /// Canonical JSON (`{"thumbnails":[{"name","width","height"}...],
  /// "thumbnail_at":t,"renditions":[{"name","height"}...]}`), empty when
  /// nothing is asked for (no thumbnails and no renditions).
  std::string canonical;
  /// Why `outputs` is refused (names the field or value), empty if it is not.
  std::string error;
};

/// Checks `outputs` (the JSON value a client sent): an object with only
/// `thumbnails` (presets `small` 320x180, `medium` 640x360, `large`
/// 1280x720, or `{"width", "height"}` boxes of 16..3840, at most 16, no name
/// twice), `thumbnail_at` (seconds, 0..86400) and `renditions` (`2160p`,
/// `1440p`, `1080p`, `720p`, `480p`, `360p`, `240p`, at most 8, none twice).
/// Anything else is refused, naming it.
recipe_check canonical_recipe(const nlohmann::json& outputs);

} // namespace vf::adapters::http
