// vf/adapters/media/composition.cpp

#include "vf/adapters/media/composition.hpp"

#include <nlohmann/json.hpp>

#include "vf/messages/upload_key.hpp"

#include <array>
#include <filesystem>
#include <system_error>

namespace vf::adapters::media {

namespace {

using nlohmann::json;

/// The composition object of `recipe`, or null.
json body_of(const std::string& recipe) {
  if (!messages::is_composition_recipe(recipe))
    return nullptr;
  auto doc = json::parse(recipe, nullptr, false);
  if (!doc.is_object())
    return nullptr;
  auto c = doc.find("composition");
  if (c == doc.end() || !c->is_object())
    return nullptr;
  return *c;
}

/// `x[key]` as a number, or `fallback` when absent or null; false if it is
/// something else.
bool number_at(const json& x, const char* key, double fallback, double& out) {
  auto i = x.find(key);
  if (i == x.end() || i->is_null()) {
    out = fallback;
    return true;
  }
  if (!i->is_number())
    return false;
  out = i->get<double>();
  return true;
}

/// Index of a source named by `x[key]` (null: none, -1); false if it is not
/// an index into `count` sources.
bool source_at(const json& x, const char* key, size_t count, long& out) {
  out = -1;
  auto i = x.find(key);
  if (i == x.end() || i->is_null())
    return true;
  if (!i->is_number_unsigned() || i->get<uint64_t>() >= count)
    return false;
  out = static_cast<long>(i->get<uint64_t>());
  return true;
}

/// Bits per second of `"<digits>k"` or `"<digits>M"`; 0 if malformed.
int64_t bitrate_of(const std::string& x) {
  if (x.size() < 2 || x.size() > 12)
    return 0;
  auto unit = x.back();
  auto digits = x.substr(0, x.size() - 1);
  if (digits.find_first_not_of("0123456789") != std::string::npos
      || (unit != 'k' && unit != 'M'))
    return 0;
  auto n = std::stoll(digits);
  return n * (unit == 'k' ? 1000 : 1000000);
}

} // namespace

std::vector<messages::object_ref>
composition_sources(const std::string& recipe) {
  std::vector<messages::object_ref> out;
  auto c = body_of(recipe);
  if (!c.is_object())
    return out;
  auto s = c.find("sources");
  if (s == c.end() || !s->is_array())
    return out;
  for (auto& x : *s) {
    messages::object_ref ref;
    if (x.is_object()) {
      ref.bucket = x.value("bucket", std::string{});
      ref.key = x.value("key", std::string{});
      ref.version = x.value("version", std::string{});
      ref.size = x.value("size", uint64_t{0});
    }
    out.push_back(std::move(ref));
  }
  return out;
}

std::string composition_output_key(const std::string& job_id,
                                   const std::string& recipe) {
  auto c = body_of(recipe);
  if (!c.is_object())
    return {};
  std::string format = "mp4";
  if (auto o = c.find("output"); o != c.end() && o->is_object())
    if (auto f = o->find("format"); f != o->end() && *f == "mov")
      format = "mov";
  return messages::outputs_prefix(job_id) + "composition." + format;
}

std::pair<int, int> composition_size(const std::string& recipe) {
  auto c = body_of(recipe);
  if (!c.is_object())
    return {0, 0};
  auto o = c.find("output");
  if (o == c.end() || !o->is_object())
    return {0, 0};
  return {o->value("width", 0), o->value("height", 0)};
}

std::string parse_composition(const std::string& recipe,
                              const std::vector<std::string>& paths,
                              compose_request& req) {
  auto c = body_of(recipe);
  if (!c.is_object())
    return "not a composition recipe";
  auto sources = composition_sources(recipe);
  if (sources.size() != paths.size())
    return "the recipe names " + std::to_string(sources.size())
           + " sources, the task carried " + std::to_string(paths.size());
  auto clips = c.find("clips");
  if (clips == c.end() || !clips->is_array())
    return "clips must be an array";
  req.clips.clear();
  for (size_t i = 0; i < clips->size(); ++i) {
    auto& x = (*clips)[i];
    auto at = "clips[" + std::to_string(i) + "]";
    if (!x.is_object())
      return at + " must be an object";
    long src = -1;
    compose_clip clip;
    if (!source_at(x, "source", paths.size(), src) || src < 0)
      return at + ".source must name one of the sources";
    if (!number_at(x, "start", 0, clip.start)
        || !number_at(x, "end", -1, clip.end))
      return at + ".start and .end must be numbers";
    clip.path = paths[static_cast<size_t>(src)];
    auto& named = c["sources"][static_cast<size_t>(src)];
    if (named.is_object())
      if (auto st = named.find("still"); st != named.end())
        clip.still = st->is_boolean() && st->get<bool>();
    req.clips.push_back(std::move(clip));
  }
  req.music_path.clear();
  req.voiceover_path.clear();
  if (auto a = c.find("audio"); a != c.end() && !a->is_null()) {
    if (!a->is_object())
      return "audio must be an object";
    long music = -1;
    long voice = -1;
    if (!source_at(*a, "music", paths.size(), music))
      return "audio.music must name one of the sources";
    if (!source_at(*a, "voiceover", paths.size(), voice))
      return "audio.voiceover must name one of the sources";
    if (music >= 0)
      req.music_path = paths[static_cast<size_t>(music)];
    if (voice >= 0)
      req.voiceover_path = paths[static_cast<size_t>(voice)];
    if (!number_at(*a, "music_volume", 0.5, req.music_volume)
        || !number_at(*a, "voiceover_volume", 1.0, req.voiceover_volume)
        || !number_at(*a, "original_volume", 1.0, req.original_volume))
      return "audio volumes must be numbers";
  }
  req.overlays.clear();
  if (auto o = c.find("overlays"); o != c.end() && !o->is_null()) {
    if (!o->is_array())
      return "overlays must be an array";
    for (size_t i = 0; i < o->size(); ++i) {
      auto& x = (*o)[i];
      auto at = "overlays[" + std::to_string(i) + "]";
      if (!x.is_object())
        return at + " must be an object";
      compose_overlay ov;
      auto text = x.find("text");
      if (text == x.end() || !text->is_string())
        return at + ".text must be a string";
      ov.text = text->get<std::string>();
      auto pos = x.find("position");
      if (pos == x.end() || !pos->is_string()
          || !from_string(pos->get<std::string>(), ov.position))
        return at + ".position must be one of the nine places";
      double size = 32;
      if (!number_at(x, "start", 0, ov.start)
          || !number_at(x, "end", -1, ov.end)
          || !number_at(x, "font_size", 32, size))
        return at + ": start, end and font_size must be numbers";
      ov.font_size = static_cast<int>(size);
      ov.color = x.value("font_color", std::string{"#FFFFFF"});
      req.overlays.push_back(std::move(ov));
    }
  }
  auto out = c.find("output");
  if (out == c.end() || !out->is_object())
    return "output must be an object";
  req.width = out->value("width", 0);
  req.height = out->value("height", 0);
  req.fps = out->value("fps", 0);
  req.format = out->value("format", std::string{});
  req.video_bitrate = 0;
  if (auto b = out->find("bitrate"); b != out->end() && !b->is_null()) {
    if (!b->is_string() || bitrate_of(b->get<std::string>()) == 0)
      return "output.bitrate must look like 2500k or 4M";
    req.video_bitrate = bitrate_of(b->get<std::string>());
  }
  return check_compose_request(req);
}

std::string find_overlay_font() {
  namespace fs = std::filesystem;
  static constexpr std::array<const char*, 3> known{
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf"};
  std::error_code ec;
  for (auto path : known)
    if (fs::is_regular_file(path, ec))
      return path;
  fs::recursive_directory_iterator it{"/usr/share/fonts", ec};
  for (; !ec && it != fs::recursive_directory_iterator{}; it.increment(ec))
    if (it->path().extension() == ".ttf" && it->is_regular_file(ec))
      return it->path().string();
  return {};
}

std::string check_composition_output(const std::string& job_id,
                                     const std::string& bucket,
                                     const std::string& recipe,
                                     const std::string& output) {
  auto doc = json::parse(output, nullptr, false);
  if (!doc.is_object() || doc.size() != 1 || !doc.contains("composition"))
    return "not one composition entry";
  auto& e = doc["composition"];
  if (!e.is_object())
    return "the composition entry is not an object";
  for (auto& [field, value] : e.items()) {
    static constexpr std::array<const char*, 10> known{
      "width", "height", "fps",          "duration",    "bytes",
      "key",   "bucket", "content_type", "video_codec", "audio_codec"};
    if (std::none_of(known.begin(), known.end(),
                     [&f = field](const char* k) { return f == k; }))
      return "the entry has an unknown field '" + field.substr(0, 32) + "'";
    static_cast<void>(value);
  }
  auto want = composition_output_key(job_id, recipe);
  if (e.value("bucket", std::string{}) != bucket)
    return "the composition is stored in another bucket";
  if (want.empty() || e.value("key", std::string{}) != want)
    return "the composition is not stored as " + want;
  return {};
}

} // namespace vf::adapters::media
