// vf/adapters/http/composition_request.cpp

#include "vf/adapters/http/composition_request.hpp"

#include "vf/messages/job.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <initializer_list>

namespace vf::adapters::http {

namespace {

using json = nlohmann::json;

constexpr size_t max_clips = 20;
constexpr size_t max_overlays = 10;
constexpr double max_length_s = 600;
constexpr size_t max_title = 200;
constexpr size_t max_description = 2000;
constexpr size_t max_text = 500;

/// Characters of UTF-8 `x` (continuation bytes not counted).
size_t code_points(const std::string& x) {
  return static_cast<size_t>(std::count_if(x.begin(), x.end(), [](char ch) {
    return (static_cast<unsigned char>(ch) & 0xC0) != 0x80;
  }));
}

bool has_control_chars(const std::string& x, bool allow_newline) {
  return std::any_of(x.begin(), x.end(), [allow_newline](char ch) {
    auto u = static_cast<unsigned char>(ch);
    return (u < 0x20 && !(allow_newline && u == '\n')) || u == 0x7f;
  });
}

/// Returns why `body` has a field not in `known`, or empty.
std::string unknown_field(const json& body, const std::string& where,
                          std::initializer_list<const char*> known) {
  for (auto& [k, v] : body.items()) {
    static_cast<void>(v);
    if (std::none_of(known.begin(), known.end(),
                     [&key = k](const char* x) { return key == x; })) {
      std::string names;
      for (auto x : known)
        names += (names.empty() ? "" : ", ") + std::string{x};
      return where + (where.empty() ? "" : ".") + k.substr(0, 64)
             + " is not a known field (known: " + names + ")";
    }
  }
  return {};
}

/// Reads the number `x[key]` into `out` (absent or null: `fallback`, and
/// `required` makes that an error). Returns why it cannot, or empty.
std::string number_of(const json& x, const std::string& field, const char* key,
                      bool required, double fallback, double& out) {
  auto i = x.find(key);
  if (i == x.end() || i->is_null()) {
    if (required)
      return field + " is required (a number of seconds)";
    out = fallback;
    return {};
  }
  if (!i->is_number() || !std::isfinite(i->get<double>()))
    return field + " must be a number";
  out = i->get<double>();
  return {};
}

std::string volume_of(const json& audio, const char* key, double fallback,
                      double& out) {
  auto field = std::string{"audio."} + key;
  if (auto why = number_of(audio, field, key, false, fallback, out);
      !why.empty())
    return why;
  if (out < 0 || out > 1)
    return field + " must be between 0 and 1";
  return {};
}

bool is_uuid(const std::string& x) {
  if (x.size() != 36)
    return false;
  for (size_t i = 0; i < x.size(); ++i) {
    auto ch = x[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (ch != '-')
        return false;
    } else if (!std::isxdigit(static_cast<unsigned char>(ch))) {
      return false;
    }
  }
  return true;
}

/// Adds (or finds) the source `id` named as a job (`by_job`) or an asset;
/// returns its index. The same id named both ways is two entries, so that
/// each way is checked.
size_t source_index(composition_plan& plan, const std::string& id, bool by_job,
                    const std::string& field) {
  for (size_t i = 0; i < plan.sources.size(); ++i)
    if (plan.sources[i].id == id && plan.sources[i].by_job == by_job)
      return i;
  composition_source s;
  s.id = id;
  s.by_job = by_job;
  s.field = field;
  plan.sources.push_back(std::move(s));
  return plan.sources.size() - 1;
}

std::string bitrate_ok(const std::string& x) {
  if (x.size() < 2 || x.size() > 9
      || x.substr(0, x.size() - 1).find_first_not_of("0123456789")
           != std::string::npos
      || (x.back() != 'k' && x.back() != 'M') || x[0] == '0')
    return "output.bitrate must be digits then k or M (e.g. 2500k, 4M)";
  return {};
}

} // namespace

bool resolution_size(const std::string& name, int& width, int& height) {
  static constexpr std::array<std::tuple<const char*, int, int>, 4> sizes{
    {{"480p", 854, 480},
     {"720p", 1280, 720},
     {"1080p", 1920, 1080},
     {"4k", 3840, 2160}}};
  for (auto& [n, w, h] : sizes)
    if (name == n) {
      width = w;
      height = h;
      return true;
    }
  return false;
}

std::string parse_composition_request(const json& body, composition_plan& out) {
  out = composition_plan{};
  if (!body.is_object())
    return "the body must be a JSON object";
  if (auto why = unknown_field(body, "",
                               {"title", "description", "clips", "audio",
                                "overlays", "output", "priority"});
      !why.empty())
    return why;
  json c = json::object();
  // -- title, description, priority ------------------------------------------
  auto title = body.find("title");
  if (title == body.end() || !title->is_string())
    return "title is required and must be a string";
  out.title = title->get<std::string>();
  if (out.title.empty() || code_points(out.title) > max_title
      || has_control_chars(out.title, false))
    return "title must be 1 to 200 characters without control characters";
  c["title"] = out.title;
  c["description"] = nullptr;
  if (auto d = body.find("description"); d != body.end() && !d->is_null()) {
    if (!d->is_string())
      return "description must be a string";
    auto text = d->get<std::string>();
    if (code_points(text) > max_description || has_control_chars(text, true))
      return "description must be at most 2000 characters without control "
             "characters";
    c["description"] = text;
  }
  out.priority = messages::priority_default;
  if (auto p = body.find("priority"); p != body.end() && !p->is_null())
    if (!p->is_string()
        || !messages::priority_from_name(p->get<std::string>(), out.priority))
      return "priority must be \"high\", \"default\" or \"low\"";
  // -- clips
  // -------------------------------------------------------------------
  auto clips = body.find("clips");
  if (clips == body.end() || !clips->is_array() || clips->empty()
      || clips->size() > max_clips)
    return "clips must be an array of 1 to 20 clips";
  c["clips"] = json::array();
  double total = 0;
  for (size_t i = 0; i < clips->size(); ++i) {
    auto& x = (*clips)[i];
    auto at = "clips[" + std::to_string(i) + "]";
    if (!x.is_object())
      return at + " must be an object";
    if (auto why = unknown_field(x, at, {"asset_id", "job_id", "start", "end"});
        !why.empty())
      return why;
    auto asset = x.find("asset_id");
    auto job = x.find("job_id");
    bool has_asset = asset != x.end() && !asset->is_null();
    bool has_job = job != x.end() && !job->is_null();
    if (has_asset == has_job)
      return at + " needs one of asset_id or job_id";
    auto& id = has_asset ? *asset : *job;
    auto field = at + (has_asset ? ".asset_id" : ".job_id");
    if (!id.is_string() || !is_uuid(id.get<std::string>()))
      return field
             + " must be an id as POST /assets or POST /jobs "
               "answered it";
    double start = 0;
    double end = 0;
    if (auto why = number_of(x, at + ".start", "start", true, 0, start);
        !why.empty())
      return why;
    if (auto why = number_of(x, at + ".end", "end", true, 0, end); !why.empty())
      return why;
    if (start < 0)
      return at + ".start must be 0 or more";
    if (end <= start)
      return at + ".end must be greater than " + at + ".start";
    total += end - start;
    auto index = source_index(out, id.get<std::string>(), has_job, field);
    auto& src = out.sources[index];
    src.needs_video = true;
    if (end > src.reaches) {
      src.reaches = end;
      src.field = field;
    }
    c["clips"].push_back({{"source", index}, {"start", start}, {"end", end}});
  }
  if (total > max_length_s)
    return "clips add up to " + std::to_string(static_cast<int>(total))
           + " s; at most 600 s in all";
  // -- audio
  // -------------------------------------------------------------------
  json audio = {{"music", nullptr},
                {"voiceover", nullptr},
                {"music_volume", 0.5},
                {"voiceover_volume", 1.0},
                {"original_volume", 1.0}};
  if (auto a = body.find("audio"); a != body.end() && !a->is_null()) {
    if (!a->is_object())
      return "audio must be an object";
    if (auto why
        = unknown_field(*a, "audio",
                        {"music_asset", "voiceover_asset", "music_volume",
                         "voiceover_volume", "original_volume"});
        !why.empty())
      return why;
    for (auto [key, slot] : {std::pair{"music_asset", "music"},
                             std::pair{"voiceover_asset", "voiceover"}}) {
      auto f = a->find(key);
      if (f == a->end() || f->is_null())
        continue;
      auto field = std::string{"audio."} + key;
      if (!f->is_string() || !is_uuid(f->get<std::string>()))
        return field + " must be an asset id as POST /assets answered it";
      auto index = source_index(out, f->get<std::string>(), false, field);
      out.sources[index].needs_audio = true;
      audio[slot] = index;
    }
    double v = 0;
    for (auto [key, fallback] :
         {std::pair{"music_volume", 0.5}, std::pair{"voiceover_volume", 1.0},
          std::pair{"original_volume", 1.0}}) {
      if (auto why = volume_of(*a, key, fallback, v); !why.empty())
        return why;
      audio[key] = v;
    }
  }
  c["audio"] = std::move(audio);
  // -- overlays
  // ----------------------------------------------------------------
  c["overlays"] = json::array();
  if (auto o = body.find("overlays"); o != body.end() && !o->is_null()) {
    if (!o->is_array() || o->size() > max_overlays)
      return "overlays must be an array of at most 10 overlays";
    for (size_t i = 0; i < o->size(); ++i) {
      auto& x = (*o)[i];
      auto at = "overlays[" + std::to_string(i) + "]";
      if (!x.is_object())
        return at + " must be an object";
      if (auto why = unknown_field(
            x, at,
            {"text", "position", "start", "end", "font_size", "font_color"});
          !why.empty())
        return why;
      auto text = x.find("text");
      if (text == x.end() || !text->is_string())
        return at + ".text is required and must be a string";
      auto t = text->get<std::string>();
      if (t.empty() || code_points(t) > max_text || has_control_chars(t, true))
        return at
               + ".text must be 1 to 500 characters without control "
                 "characters";
      static constexpr std::array<const char*, 9> places{
        "top_left",     "top_center",  "top_right",     "center_left", "center",
        "center_right", "bottom_left", "bottom_center", "bottom_right"};
      std::string position = "bottom_center";
      if (auto p = x.find("position"); p != x.end() && !p->is_null()) {
        if (!p->is_string()
            || std::none_of(places.begin(), places.end(),
                            [&p](const char* n) { return *p == n; }))
          return at
                 + ".position must be one of top_left, top_center, "
                   "top_right, center_left, center, center_right, "
                   "bottom_left, bottom_center, bottom_right";
        position = p->get<std::string>();
      }
      double start = 0;
      double end = -1;
      if (auto why = number_of(x, at + ".start", "start", false, 0, start);
          !why.empty())
        return why;
      if (auto why = number_of(x, at + ".end", "end", false, -1, end);
          !why.empty())
        return why;
      if (start < 0)
        return at + ".start must be 0 or more";
      auto has_end = x.contains("end") && !x["end"].is_null();
      if (has_end && end <= start)
        return at + ".end must be greater than " + at + ".start";
      int font_size = 32;
      if (auto f = x.find("font_size"); f != x.end() && !f->is_null()) {
        if (!f->is_number_integer() || f->get<int64_t>() < 8
            || f->get<int64_t>() > 144)
          return at + ".font_size must be a whole number from 8 to 144";
        font_size = f->get<int>();
      }
      std::string color = "#FFFFFF";
      if (auto f = x.find("font_color"); f != x.end() && !f->is_null()) {
        if (!f->is_string() || f->get<std::string>().size() != 7
            || (*f).get<std::string>()[0] != '#'
            || f->get<std::string>().find_first_not_of("0123456789abcdefABCDEF",
                                                       1)
                 != std::string::npos)
          return at + ".font_color must be #RRGGBB";
        color = f->get<std::string>();
      }
      c["overlays"].push_back({{"text", t},
                               {"position", position},
                               {"start", start},
                               {"end", has_end ? json(end) : json(nullptr)},
                               {"font_size", font_size},
                               {"font_color", color}});
    }
  }
  // -- output
  // ------------------------------------------------------------------
  json output = {{"resolution", "720p"},
                 {"format", "mp4"},
                 {"fps", 30},
                 {"bitrate", nullptr}};
  if (auto o = body.find("output"); o != body.end() && !o->is_null()) {
    if (!o->is_object())
      return "output must be an object";
    if (auto why = unknown_field(*o, "output",
                                 {"resolution", "format", "fps", "bitrate"});
        !why.empty())
      return why;
    if (auto r = o->find("resolution"); r != o->end() && !r->is_null()) {
      int w = 0;
      int h = 0;
      if (!r->is_string() || !resolution_size(r->get<std::string>(), w, h))
        return "output.resolution must be 480p, 720p, 1080p or 4k";
      output["resolution"] = *r;
    }
    if (auto f = o->find("format"); f != o->end() && !f->is_null()) {
      if (*f != "mp4" && *f != "mov")
        return "output.format must be mp4 or mov";
      output["format"] = *f;
    }
    if (auto f = o->find("fps"); f != o->end() && !f->is_null()) {
      if (!f->is_number_integer() || f->get<int64_t>() < 24
          || f->get<int64_t>() > 60)
        return "output.fps must be a whole number from 24 to 60";
      output["fps"] = *f;
    }
    if (auto b = o->find("bitrate"); b != o->end() && !b->is_null()) {
      if (!b->is_string())
        return "output.bitrate must be a string such as 2500k or 4M";
      if (auto why = bitrate_ok(b->get<std::string>()); !why.empty())
        return why;
      output["bitrate"] = *b;
    }
  }
  int w = 0;
  int h = 0;
  resolution_size(output["resolution"].get<std::string>(), w, h);
  output["width"] = w;
  output["height"] = h;
  out.filename = "composition." + output["format"].get<std::string>();
  c["output"] = std::move(output);
  out.recipe = json{{"composition", std::move(c)}};
  return {};
}

std::string parse_asset_request(const json& body, std::string& filename,
                                std::string& content_type, std::string& kind) {
  if (!body.is_object())
    return "the body must be a JSON object";
  if (auto why = unknown_field(body, "", {"filename", "content_type", "kind"});
      !why.empty())
    return why;
  auto f = body.find("filename");
  if (f == body.end() || !f->is_string())
    return "filename is required and must be a string";
  filename = f->get<std::string>();
  content_type.clear();
  if (auto t = body.find("content_type"); t != body.end() && !t->is_null()) {
    if (!t->is_string() || has_control_chars(t->get<std::string>(), false))
      return "content_type must be a string without control characters";
    content_type = t->get<std::string>();
  }
  auto k = body.find("kind");
  if (k == body.end() || !k->is_string()
      || (*k != "video" && *k != "audio" && *k != "image"))
    return "kind is required: video, audio or image";
  kind = k->get<std::string>();
  return {};
}

} // namespace vf::adapters::http
