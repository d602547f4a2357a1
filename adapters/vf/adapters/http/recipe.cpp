// vf/adapters/http/recipe.cpp

#include "vf/adapters/http/recipe.hpp"

#include <array>
#include <optional>
#include <set>
#include <utility>

namespace vf::adapters::http {

namespace {

struct thumbnail_preset {
  const char* name;
  int width;
  int height;
};

constexpr std::array<thumbnail_preset, 3> thumbnail_presets{{
  {"small", 320, 180},
  {"medium", 640, 360},
  {"large", 1280, 720},
}};

struct rendition_preset {
  const char* name;
  int height;
};

constexpr std::array<rendition_preset, 7> rendition_presets{{
  {"2160p", 2160},
  {"1440p", 1440},
  {"1080p", 1080},
  {"720p", 720},
  {"480p", 480},
  {"360p", 360},
  {"240p", 240},
}};

/// Reads an integer box side (16..3840) of a custom thumbnail.
bool box_side(const nlohmann::json& box, const char* field, int& out,
              std::string& error, size_t index) {
  auto where = "outputs.thumbnails[" + std::to_string(index) + "]." + field;
  auto i = box.find(field);
  if (i == box.end()) {
    error = where + " is required";
    return false;
  }
  if (!i->is_number_integer()) {
    error = where + " must be an integer";
    return false;
  }
  auto v = i->get<int64_t>();
  if (v < 16 || v > 3840) {
    error = where + " must be 16..3840, got " + std::to_string(v);
    return false;
  }
  out = static_cast<int>(v);
  return true;
}

bool read_thumbnails(const nlohmann::json& xs, nlohmann::json& out,
                     std::string& error) {
  if (!xs.is_array()) {
    error = "outputs.thumbnails must be an array";
    return false;
  }
  if (xs.size() > max_thumbnails) {
    error = "outputs.thumbnails has " + std::to_string(xs.size())
            + " entries; at most " + std::to_string(max_thumbnails);
    return false;
  }
  std::set<std::string> seen;
  for (size_t i = 0; i < xs.size(); ++i) {
    auto& x = xs[i];
    nlohmann::json e;
    if (x.is_string()) {
      auto& name = x.get_ref<const std::string&>();
      const thumbnail_preset* p = nullptr;
      for (auto& candidate : thumbnail_presets)
        if (name == candidate.name)
          p = &candidate;
      if (p == nullptr) {
        error = "outputs.thumbnails[" + std::to_string(i)
                + "]: unknown preset (use small, medium, large or "
                  "{\"width\": w, \"height\": h})";
        return false;
      }
      e = {{"name", p->name}, {"width", p->width}, {"height", p->height}};
    } else if (x.is_object()) {
      for (auto& [k, v] : x.items()) {
        (void) v;
        if (k != "width" && k != "height") {
          error = "outputs.thumbnails[" + std::to_string(i)
                  + "]: unknown field '" + k.substr(0, 64) + "'";
          return false;
        }
      }
      int w = 0;
      int h = 0;
      if (!box_side(x, "width", w, error, i)
          || !box_side(x, "height", h, error, i))
        return false;
      e = {{"name", std::to_string(w) + "x" + std::to_string(h)},
           {"width", w},
           {"height", h}};
    } else {
      error = "outputs.thumbnails[" + std::to_string(i)
              + "] must be a preset name or {\"width\", \"height\"}";
      return false;
    }
    auto name = e["name"].get<std::string>();
    if (!seen.insert(name).second) {
      error = "outputs.thumbnails: '" + name + "' appears twice";
      return false;
    }
    out.push_back(std::move(e));
  }
  return true;
}

bool read_renditions(const nlohmann::json& xs, nlohmann::json& out,
                     std::string& error) {
  if (!xs.is_array()) {
    error = "outputs.renditions must be an array";
    return false;
  }
  if (xs.size() > max_renditions) {
    error = "outputs.renditions has " + std::to_string(xs.size())
            + " entries; at most " + std::to_string(max_renditions);
    return false;
  }
  std::set<std::string> seen;
  for (size_t i = 0; i < xs.size(); ++i) {
    auto& x = xs[i];
    const rendition_preset* p = nullptr;
    if (x.is_string())
      for (auto& candidate : rendition_presets)
        if (x.get_ref<const std::string&>() == candidate.name)
          p = &candidate;
    if (p == nullptr) {
      error = "outputs.renditions[" + std::to_string(i)
              + "]: unknown preset (use 2160p, 1440p, 1080p, 720p, 480p, "
                "360p or 240p)";
      return false;
    }
    if (!seen.insert(p->name).second) {
      error = std::string{"outputs.renditions: '"} + p->name
              + "' appears twice";
      return false;
    }
    out.push_back({{"name", p->name}, {"height", p->height}});
  }
  return true;
}

} // namespace

recipe_check canonical_recipe(const nlohmann::json& outputs) {
  recipe_check result;
  auto& error = result.error;
  if (!outputs.is_object()) {
    error = "outputs must be an object";
    return result;
  }
  nlohmann::json thumbnails = nlohmann::json::array();
  nlohmann::json renditions = nlohmann::json::array();
  std::optional<double> at;
  for (auto& [k, v] : outputs.items()) {
    if (k == "thumbnails") {
      if (!read_thumbnails(v, thumbnails, error))
        return result;
    } else if (k == "renditions") {
      if (!read_renditions(v, renditions, error))
        return result;
    } else if (k == "thumbnail_at") {
      if (!v.is_number() || v.get<double>() < 0 || v.get<double>() > 86400) {
        error = "outputs.thumbnail_at must be a number of seconds, 0..86400";
        return result;
      }
      at = v.get<double>();
    } else {
      error = "outputs: unknown field '" + k.substr(0, 64)
              + "' (known: thumbnails, thumbnail_at, renditions)";
      return result;
    }
  }
  if (thumbnails.empty() && renditions.empty())
    return result; // Nothing to make: metadata and summary only.
  nlohmann::json canon;
  canon["thumbnails"] = std::move(thumbnails);
  if (at)
    canon["thumbnail_at"] = *at;
  canon["renditions"] = std::move(renditions);
  result.canonical = canon.dump();
  return result;
}

} // namespace vf::adapters::http
