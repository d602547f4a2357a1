#define CAF_SUITE adapters.composition

#include "vf_test.hpp"

#include "vf/adapters/http/composition_request.hpp"
#include "vf/adapters/media/composition.hpp"
#include "vf/adapters/media/libav_media.hpp"
#include "vf/messages/job.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace http = vf::adapters::http;
namespace media = vf::adapters::media;
using json = nlohmann::json;

namespace {

const std::string wide = "11111111-1111-4111-8111-111111111111";
const std::string tone = "22222222-2222-4222-8222-222222222222";
const std::string job = "33333333-3333-4333-8333-333333333333";

json good_body() {
  return json::parse(R"({
    "title": "Teaser", "description": "d",
    "clips": [{"asset_id": ")" + wide + R"(", "start": 0.5, "end": 2.5},
              {"job_id": ")" + job + R"(", "start": 0, "end": 1},
              {"asset_id": ")" + wide + R"(", "start": 1, "end": 3}],
    "audio": {"music_asset": ")" + tone + R"(", "music_volume": 0.4},
    "overlays": [{"text": "hi %{pts}", "position": "top_left", "start": 0,
                  "end": 2, "font_size": 24, "font_color": "#FFCC00"}],
    "output": {"resolution": "480p", "format": "mov", "fps": 24,
               "bitrate": "1500k"},
    "priority": "high"})");
}

/// What a route would store: the plan's recipe plus looked-up sources.
std::string stored_recipe(const http::composition_plan& plan) {
  auto recipe = plan.recipe;
  json sources = json::array();
  for (size_t i = 0; i < plan.sources.size(); ++i)
    sources.push_back({{"id", plan.sources[i].id},
                       {"bucket", "uploads"},
                       {"key", "uploads/" + plan.sources[i].id + "/f.mp4"},
                       {"version", "v" + std::to_string(i)},
                       {"size", 1000 + i}});
  recipe["composition"]["sources"] = sources;
  return recipe.dump();
}

std::string refusal(json body) {
  http::composition_plan plan;
  return http::parse_composition_request(body, plan);
}

bool contains(const std::string& x, const std::string& y) {
  return x.find(y) != std::string::npos;
}

} // namespace

CAF_TEST(a good request becomes a recipe the worker reads back) {
  http::composition_plan plan;
  auto why = http::parse_composition_request(good_body(), plan);
  CAF_REQUIRE_EQUAL(why, std::string{});
  CAF_CHECK_EQUAL(plan.title, std::string{"Teaser"});
  CAF_CHECK_EQUAL(plan.priority, vf::messages::priority_high);
  CAF_CHECK_EQUAL(plan.filename, std::string{"composition.mov"});
  // Each id once: the wide asset serves two clips and reaches 3 s.
  CAF_REQUIRE_EQUAL(plan.sources.size(), 3u);
  CAF_CHECK_EQUAL(plan.sources[0].id, wide);
  CAF_CHECK(plan.sources[0].needs_video);
  CAF_CHECK_EQUAL(plan.sources[0].reaches, 3.0);
  CAF_CHECK_EQUAL(plan.sources[0].field, std::string{"clips[2].asset_id"});
  CAF_CHECK(plan.sources[1].by_job);
  CAF_CHECK(plan.sources[2].needs_audio);
  CAF_CHECK(!plan.sources[2].needs_video);
  auto recipe = stored_recipe(plan);
  CAF_CHECK(vf::messages::is_composition_recipe(recipe));
  CAF_CHECK(!vf::messages::is_asset_recipe(recipe));
  auto refs = media::composition_sources(recipe);
  CAF_REQUIRE_EQUAL(refs.size(), 3u);
  CAF_CHECK_EQUAL(refs[1].key, "uploads/" + job + "/f.mp4");
  CAF_CHECK_EQUAL(refs[1].version, std::string{"v1"});
  CAF_CHECK_EQUAL(refs[1].size, 1001u);
  CAF_CHECK_EQUAL(media::composition_output_key("j1", recipe),
                  std::string{"outputs/j1/composition.mov"});
  CAF_CHECK_EQUAL(media::render_output_keys("j1", recipe),
                  std::vector<std::string>{"outputs/j1/composition.mov"});
  media::compose_request req;
  req.output_path = "out.mov";
  req.font_path = "font.ttf";
  why = media::parse_composition(recipe, {"/a", "/b", "/c"}, req);
  CAF_REQUIRE_EQUAL(why, std::string{});
  CAF_REQUIRE_EQUAL(req.clips.size(), 3u);
  CAF_CHECK_EQUAL(req.clips[0].path, std::string{"/a"});
  CAF_CHECK_EQUAL(req.clips[1].path, std::string{"/b"});
  CAF_CHECK_EQUAL(req.clips[2].path, std::string{"/a"});
  CAF_CHECK_EQUAL(req.clips[0].start, 0.5);
  CAF_CHECK_EQUAL(req.clips[2].end, 3.0);
  CAF_CHECK_EQUAL(req.music_path, std::string{"/c"});
  CAF_CHECK_EQUAL(req.voiceover_path, std::string{});
  CAF_CHECK_EQUAL(req.music_volume, 0.4);
  CAF_CHECK_EQUAL(req.original_volume, 1.0);
  CAF_REQUIRE_EQUAL(req.overlays.size(), 1u);
  CAF_CHECK_EQUAL(req.overlays[0].text, std::string{"hi %{pts}"});
  CAF_CHECK_EQUAL(req.overlays[0].end, 2.0);
  CAF_CHECK_EQUAL(req.overlays[0].color, std::string{"#FFCC00"});
  CAF_CHECK_EQUAL(req.width, 854);
  CAF_CHECK_EQUAL(req.height, 480);
  CAF_CHECK_EQUAL(req.fps, 24);
  CAF_CHECK_EQUAL(req.format, std::string{"mov"});
  CAF_CHECK_EQUAL(req.video_bitrate, 1500000);
  // The worker refuses a task whose sources do not match the recipe.
  CAF_CHECK(!media::parse_composition(recipe, {"/a", "/b"}, req).empty());
  // A still picture is marked on its source by the server, and only a
  // boolean counts.
  CAF_CHECK(!req.clips[1].still);
  auto doc = json::parse(recipe);
  doc["composition"]["sources"][1]["still"] = true;
  CAF_REQUIRE_EQUAL(media::parse_composition(doc.dump(), {"/a", "/b", "/c"},
                                             req),
                    std::string{});
  CAF_CHECK(req.clips[1].still);
  CAF_CHECK(!req.clips[0].still);
  doc["composition"]["sources"][1]["still"] = "yes";
  CAF_REQUIRE_EQUAL(media::parse_composition(doc.dump(), {"/a", "/b", "/c"},
                                             req),
                    std::string{});
  CAF_CHECK(!req.clips[1].still);
}

CAF_TEST(defaults fill what a request leaves out) {
  auto body = json::parse(R"({"title": "t", "clips": [
    {"asset_id": ")" + wide + R"(", "start": 0, "end": 1}]})");
  http::composition_plan plan;
  CAF_REQUIRE_EQUAL(http::parse_composition_request(body, plan),
                    std::string{});
  auto& c = plan.recipe["composition"];
  CAF_CHECK_EQUAL(c["output"]["resolution"], "720p");
  CAF_CHECK_EQUAL(c["output"]["width"], 1280);
  CAF_CHECK_EQUAL(c["output"]["fps"], 30);
  CAF_CHECK_EQUAL(c["output"]["format"], "mp4");
  CAF_CHECK(c["output"]["bitrate"].is_null());
  CAF_CHECK_EQUAL(c["audio"]["music_volume"], 0.5);
  CAF_CHECK(c["audio"]["music"].is_null());
  CAF_CHECK(c["overlays"].empty());
  CAF_CHECK_EQUAL(plan.filename, std::string{"composition.mp4"});
  CAF_CHECK_EQUAL(plan.priority, vf::messages::priority_default);
}

CAF_TEST(every broken rule is named by its field) {
  struct bad_case {
    std::string path;
    json value;
    std::string field;
  };
  std::vector<bad_case> cases{
    {"/title", "", "title"},
    {"/title", json(std::string(201, 'x')), "title"},
    {"/title", "a\u0001b", "title"},
    {"/clips", json::array(), "clips"},
    {"/clips/0/end", 0.5, "clips[0].end"},
    {"/clips/0/start", -1, "clips[0].start"},
    {"/clips/1/end", "1", "clips[1].end"},
    {"/clips/1/asset_id", wide, "clips[1]"},
    {"/clips/0/asset_id", "nope", "clips[0].asset_id"},
    {"/clips/0/other", 1, "clips[0].other"},
    {"/audio/music_volume", 1.01, "audio.music_volume"},
    {"/audio/original_volume", -0.5, "audio.original_volume"},
    {"/audio/voiceover_asset", 7, "audio.voiceover_asset"},
    {"/overlays/0/text", "", "overlays[0].text"},
    {"/overlays/0/text", json(std::string(501, 'y')), "overlays[0].text"},
    {"/overlays/0/position", "middle", "overlays[0].position"},
    {"/overlays/0/font_size", 7, "overlays[0].font_size"},
    {"/overlays/0/font_size", 24.5, "overlays[0].font_size"},
    {"/overlays/0/font_color", "#12345G", "overlays[0].font_color"},
    {"/overlays/0/end", 0, "overlays[0].end"},
    {"/output/resolution", "360p", "output.resolution"},
    {"/output/format", "avi", "output.format"},
    {"/output/fps", 23, "output.fps"},
    {"/output/fps", 61, "output.fps"},
    {"/output/bitrate", "0k", "output.bitrate"},
    {"/output/bitrate", "12", "output.bitrate"},
    {"/priority", "urgent", "priority"},
    {"/color", "red", "color"},
  };
  for (auto& x : cases) {
    auto body = good_body();
    body[json::json_pointer{x.path}] = x.value;
    auto why = refusal(body);
    CAF_MESSAGE(x.path << ": " << why);
    CAF_CHECK(contains(why, x.field));
  }
  // 500 characters of text are fine, counted as characters, not bytes.
  auto body = good_body();
  std::string text;
  for (int i = 0; i < 500; ++i)
    text += "\xC3\xA9"; // é
  body["overlays"][0]["text"] = text;
  CAF_CHECK_EQUAL(refusal(body), std::string{});
  // 21 clips; 20 clips of 31 s (620 s in all); 11 overlays.
  body = good_body();
  body["clips"] = json::array();
  for (int i = 0; i < 21; ++i)
    body["clips"].push_back({{"asset_id", wide}, {"start", 0}, {"end", 1}});
  CAF_CHECK(contains(refusal(body), "clips"));
  body["clips"].erase(body["clips"].begin());
  for (auto& c : body["clips"])
    c["end"] = 31;
  CAF_CHECK(contains(refusal(body), "600"));
  body = good_body();
  body["overlays"] = json::array();
  for (int i = 0; i < 11; ++i)
    body["overlays"].push_back({{"text", "x"}});
  CAF_CHECK(contains(refusal(body), "overlays"));
  CAF_CHECK(contains(refusal(json::array()), "object"));
}

CAF_TEST(asset requests name their field) {
  std::string f;
  std::string t;
  std::string k;
  auto ok = json{{"filename", "a.mp4"}, {"kind", "audio"}};
  CAF_CHECK_EQUAL(http::parse_asset_request(ok, f, t, k), std::string{});
  CAF_CHECK_EQUAL(k, std::string{"audio"});
  CAF_CHECK(contains(http::parse_asset_request({{"filename", "a"}}, f, t, k),
                     "kind"));
  CAF_CHECK(contains(
    http::parse_asset_request({{"filename", "a"}, {"kind", "doc"}}, f, t, k),
    "kind"));
  CAF_CHECK(contains(http::parse_asset_request({{"kind", "video"}}, f, t, k),
                     "filename"));
  CAF_CHECK(contains(http::parse_asset_request(
                       {{"filename", "a"}, {"kind", "video"}, {"x", 1}}, f, t,
                       k),
                     "x"));
}

CAF_TEST(a compose output is checked against the recipe) {
  http::composition_plan plan;
  CAF_REQUIRE_EQUAL(http::parse_composition_request(good_body(), plan),
                    std::string{});
  auto recipe = stored_recipe(plan);
  auto out = [](std::string key, std::string bucket = "uploads") {
    return json{{"composition",
                 {{"bucket", bucket},
                  {"key", key},
                  {"bytes", 10},
                  {"width", 854},
                  {"height", 480}}}}
      .dump();
  };
  auto check = [&](const std::string& output) {
    return media::check_render_output("j1", "uploads", "", recipe, output);
  };
  CAF_CHECK_EQUAL(check(out("outputs/j1/composition.mov")), std::string{});
  CAF_CHECK(!check(out("outputs/j2/composition.mov")).empty());
  CAF_CHECK(!check(out("outputs/j1/composition.mp4")).empty());
  CAF_CHECK(!check(out("outputs/j1/composition.mov", "other")).empty());
  CAF_CHECK(!check(R"({"renditions": []})").empty());
  CAF_CHECK(!check("[]").empty());
  auto extra = json::parse(out("outputs/j1/composition.mov"));
  extra["composition"]["url"] = "http://x";
  CAF_CHECK(!check(extra.dump()).empty());
  // Costs grow with the output size and the sources kept open.
  auto cost = media::estimate_render_cost(recipe, "", 2);
  CAF_CHECK_EQUAL(cost.threads, 2u);
  CAF_CHECK_GREATER(cost.memory_mb, 48u);
  auto big = good_body();
  big["output"]["resolution"] = "4k";
  http::composition_plan plan4k;
  CAF_REQUIRE_EQUAL(http::parse_composition_request(big, plan4k),
                    std::string{});
  CAF_CHECK_GREATER(
    media::estimate_render_cost(stored_recipe(plan4k), "", 2).memory_mb,
    cost.memory_mb);
  // A still picture counts at its own size: 30 megapixels, 8 bytes each.
  auto with_picture = json::parse(recipe);
  with_picture["composition"]["sources"][0]["still"] = true;
  with_picture["composition"]["sources"][0]["pixels"] = 30'000'000;
  auto pictured = media::estimate_render_cost(with_picture.dump(), "", 2);
  CAF_CHECK_GREATER_OR_EQUAL(pictured.memory_mb, cost.memory_mb + 228);
}
