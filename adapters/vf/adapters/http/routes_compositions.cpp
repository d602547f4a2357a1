// vf/adapters/http/routes_compositions.cpp
//
// Assets (uploads kept to be cut into compositions) and compositions
// (clips, music, voiceover and text rendered into one video). A
// composition is a job whose recipe is `{"composition": ...}`: it runs one
// `compose` task, leased, retried and dead-lettered like any other; an
// asset is a job whose recipe is `{"asset": kind}`, probed only.

#include <nlohmann/json.hpp>

#include "vf/adapters/http/call.hpp"
#include "vf/adapters/http/composition_request.hpp"
#include "vf/adapters/http/job_access.hpp"
#include "vf/adapters/http/json_views.hpp"
#include "vf/adapters/http/outputs_view.hpp"
#include "vf/adapters/http/request_parse.hpp"
#include "vf/adapters/http/routes.hpp"
#include "vf/messages/atoms.hpp"
#include "vf/messages/errc.hpp"

#include <algorithm>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace vf::adapters::http {

namespace {

using json = nlohmann::json;
using messages::errc;
using messages::job_status;

// -- views --------------------------------------------------------------------

/// The composition's status in the API's words.
std::string composition_status(const messages::job& j) {
  switch (j.status) {
    case job_status::awaiting_upload:
      return "pending";
    case job_status::submitted:
      return "queued";
    case job_status::processing:
      return "processing";
    case job_status::succeeded:
      return "completed";
    case job_status::cancelled:
      return "cancelled";
    default: // FAILED; EXPIRED: never started (the node stopped first).
      return "failed";
  }
}

json recipe_body(const messages::job& j) {
  auto doc = json::parse(j.outputs, nullptr, false);
  if (doc.is_object())
    if (auto c = doc.find("composition"); c != doc.end() && c->is_object())
      return *c;
  return json::object();
}

json composition_json(const messages::job& j) {
  auto c = recipe_body(j);
  double length = 0;
  if (auto clips = c.find("clips"); clips != c.end() && clips->is_array())
    for (auto& x : *clips)
      length += x.value("end", 0.0) - x.value("start", 0.0);
  json sources = json::array();
  if (auto s = c.find("sources"); s != c.end() && s->is_array())
    for (auto& x : *s)
      sources.push_back(x.value("id", std::string{}));
  json error = nullptr;
  if (j.status == job_status::failed || j.status == job_status::expired)
    error = {{"code", messages::to_string(j.error_code)},
             {"message", j.status == job_status::expired
                           ? std::string{"the composition never started "
                                         "(the node stopped before it "
                                         "did); make it again"}
                           : j.error_message}};
  return {{"composition_id", j.id},
          {"title", c.value("title", std::string{})},
          {"description",
           c.contains("description") ? c["description"] : json(nullptr)},
          {"status", composition_status(j)},
          {"priority", messages::priority_name(j.priority)},
          {"clips", c.contains("clips") ? c["clips"].size() : 0},
          {"length", length},
          {"sources", std::move(sources)},
          {"audio", c.contains("audio") ? c["audio"] : json(nullptr)},
          {"overlays", c.contains("overlays") ? c["overlays"].size() : 0},
          {"output", c.contains("output") ? c["output"] : json(nullptr)},
          {"attempts", j.attempts},
          {"error", std::move(error)},
          {"created_at", iso8601(j.created_at)},
          {"updated_at", iso8601(j.updated_at)}};
}

void send_composition(reply& r, unsigned status, const messages::job& j) {
  r.send(status, composition_json(j).dump(-1, ' ', false,
                                          json::error_handler_t::replace));
}

http_response no_composition(std::string_view id) {
  return not_found("no composition '", id,
                   "' (ids come from POST /compositions)");
}

/// Looks up the composition of the path, visible to the caller; answers
/// 404 itself (a job that is no composition is none), else calls
/// `then(reply&, job&)`.
template <class Then>
void with_composition(call& c, Then then) {
  std::string id{c.param()};
  c.ask(c.state().handles.registry, atoms::get_v, id)
    .then(
      [who = c.who(), then = std::move(then)](reply& r,
                                              messages::job& j) mutable {
        if (!may_see(who, j) || !messages::is_composition_recipe(j.outputs)) {
          r.send(no_composition(j.id));
          return;
        }
        then(r, j);
      },
      [id](reply& r, caf::error& err) { r.fail(err, no_composition(id)); });
}

// -- assets -------------------------------------------------------------------

std::string asset_kind(const messages::job& j) {
  auto doc = json::parse(j.outputs, nullptr, false);
  return doc.is_object() ? doc.value("asset", std::string{}) : std::string{};
}

std::string asset_status(const messages::job& j) {
  switch (j.status) {
    case job_status::awaiting_upload:
      return "awaiting_upload";
    case job_status::submitted:
    case job_status::processing:
      return "processing";
    case job_status::succeeded:
      return "ready";
    case job_status::cancelled:
      return "cancelled";
    case job_status::expired:
      return "expired";
    default:
      return "failed";
  }
}

/// What a probe found that compositions care about.
struct media_info {
  bool video = false;
  bool audio = false;
  double duration = 0;
  int width = 0;
  int height = 0;
};

/// A finished composition as a source: what its worker reported of the
/// file it stored (`{"composition": {...}}`), and that file as `obj`
/// (left empty when the entry is not there).
media_info composition_info(const std::string& outputs,
                            messages::object_ref& obj) {
  media_info out;
  obj = messages::object_ref{};
  auto doc = json::parse(outputs, nullptr, false);
  if (!doc.is_object())
    return out;
  auto e = doc.find("composition");
  if (e == doc.end() || !e->is_object())
    return out;
  auto text = [&](const char* k) {
    auto i = e->find(k);
    return i != e->end() && i->is_string() ? i->get<std::string>()
                                           : std::string{};
  };
  auto number = [&](const char* k) {
    auto i = e->find(k);
    return i != e->end() && i->is_number() ? i->get<double>() : 0.0;
  };
  obj.bucket = text("bucket");
  obj.key = text("key");
  obj.size = static_cast<uint64_t>(number("bytes"));
  // Every composition has both (H.264 and AAC).
  out.video = !text("video_codec").empty();
  out.audio = !text("audio_codec").empty();
  out.duration = number("duration");
  out.width = static_cast<int>(number("width"));
  out.height = static_cast<int>(number("height"));
  return out;
}

media_info info_of(const std::string& metadata) {
  media_info out;
  auto doc = json::parse(metadata, nullptr, false);
  if (!doc.is_object())
    return out;
  if (auto f = doc.find("format"); f != doc.end() && f->is_object())
    if (auto d = f->find("duration"); d != f->end()) {
      if (d->is_string())
        out.duration = std::strtod(d->get<std::string>().c_str(), nullptr);
      else if (d->is_number())
        out.duration = d->get<double>();
    }
  if (auto s = doc.find("streams"); s != doc.end() && s->is_array())
    for (auto& x : *s) {
      if (!x.is_object())
        continue;
      auto type = x.value("codec_type", std::string{});
      if (type == "video" && !out.video) {
        out.video = true;
        out.width = x.value("width", 0);
        out.height = x.value("height", 0);
      }
      out.audio = out.audio || type == "audio";
    }
  return out;
}

void create_asset(call& c) {
  auto body = parse_object(c);
  if (!body)
    return;
  std::string filename;
  std::string content_type;
  std::string kind;
  if (auto why = parse_asset_request(*body, filename, content_type, kind);
      !why.empty()) {
    c.error(422, "invalid_argument", why);
    return;
  }
  messages::job_request jr;
  jr.owner = c.who().sub;
  jr.filename = std::move(filename);
  jr.content_type = std::move(content_type);
  jr.outputs = json{{"asset", kind}}.dump();
  jr.request_id = std::string{c.request().request_id};
  c.ask(c.state().handles.registry, atoms::create_v, std::move(jr))
    .then([kind](reply& r, messages::job& j) {
      auto& cfg = r.state().config;
      std::string url;
      try {
        url = cfg.presign_upload ? cfg.presign_upload(j) : std::string{};
      } catch (...) {
        url.clear();
      }
      if (url.empty()) {
        r.error(503, "storage_unavailable",
                "cannot presign the upload URL now; try again shortly", 5);
        return;
      }
      json out{{"asset_id", j.id},       {"kind", kind},
               {"filename", j.filename}, {"status", asset_status(j)},
               {"s3_bucket", j.bucket},  {"s3_key", j.key},
               {"upload_url", url},      {"expires_in", cfg.presign_expires}};
      r.send(201, out.dump(-1, ' ', false, json::error_handler_t::replace));
    });
}

void get_asset(call& c) {
  with_visible_job(c, [](reply& r, messages::job& j) {
    if (!messages::is_asset_recipe(j.outputs)) {
      r.send(not_found("no asset '", j.id, "' (ids come from POST /assets)"));
      return;
    }
    json out{{"asset_id", j.id},       {"kind", asset_kind(j)},
             {"filename", j.filename}, {"status", asset_status(j)},
             {"size", j.object.size},  {"created_at", iso8601(j.created_at)}};
    if (j.status != job_status::succeeded) {
      // Why it cannot be used (e.g. "not a picture: ..."): the probe's own
      // words, which name the object's key, never a path.
      if (asset_status(j) == "failed")
        out["error"] = {{"code", messages::to_string(j.error_code)},
                        {"message", j.error_message}};
      r.send(200, out.dump(-1, ' ', false, json::error_handler_t::replace));
      return;
    }
    r.ask(r.state().handles.registry, atoms::get_result_v, j.id)
      .then(
        [out](reply& r, messages::job_result& x) mutable {
          auto info = info_of(x.metadata);
          out["duration"] = info.duration;
          out["has_video"] = info.video;
          out["has_audio"] = info.audio;
          out["width"] = info.width;
          out["height"] = info.height;
          r.send(200, out.dump(-1, ' ', false, json::error_handler_t::replace));
        },
        [id = j.id](reply& r, caf::error& err) {
          r.fail(err, not_found_job(id));
        });
  });
}

/// How many of a caller's newest compositions (or assets) a listing reads:
/// `total` and `offset` of `GET /compositions` count among these.
constexpr uint32_t max_listed = 1000;

/// Reads `limit` (1 to 100) of the query into `limit`, which keeps its
/// default when there is none; answers 422 and returns false when it is
/// bad.
bool page_limit(call& c, uint64_t& limit) {
  auto l = query_param(c.request().query, "limit");
  if (!l)
    return true;
  auto n = parse_decimal(*l, 3);
  if (!n || *n < 1 || *n > 100) {
    c.error(422, "invalid_argument", "limit must be 1 to 100");
    return false;
  }
  limit = *n;
  return true;
}

/// `GET /assets[?kind=video|audio|image&limit=N]`: the caller's newest
/// assets, newest first (for pickers: a music menu); with `kind`, those of
/// that kind among their 1000 newest assets.
void list_assets(call& c) {
  auto query = c.request().query;
  std::optional<std::string> kind;
  if (auto k = query_param(query, "kind")) {
    if (*k != "video" && *k != "audio" && *k != "image") {
      c.error(422, "invalid_argument", "kind must be video, audio or image");
      return;
    }
    kind = std::string{*k};
  }
  uint64_t limit = 50;
  if (!page_limit(c, limit))
    return;
  // Only assets are read (the store's per-kind index); the kind of asset
  // is in its recipe, filtered here.
  auto want = kind ? max_listed : static_cast<uint32_t>(limit);
  c.ask(c.state().handles.registry, atoms::history_v, c.who().sub, want,
        std::string{messages::kind_asset})
    .then([kind, limit,
           who = c.who()](reply& r, std::vector<messages::job>& jobs) {
      json items = json::array();
      for (auto& j : jobs) {
        if (items.size() >= limit)
          break;
        if (j.owner != who.sub || !messages::is_asset_recipe(j.outputs))
          continue;
        if (kind && asset_kind(j) != *kind)
          continue;
        items.push_back({{"asset_id", j.id},
                         {"kind", asset_kind(j)},
                         {"filename", j.filename},
                         {"status", asset_status(j)},
                         {"size", j.object.size},
                         {"created_at", iso8601(j.created_at)}});
      }
      json out{{"items", std::move(items)}};
      r.send(200, out.dump(-1, ' ', false, json::error_handler_t::replace));
    });
}

// -- creating a composition ---------------------------------------------------

/// A `POST /compositions` while its sources are looked up one by one.
struct resolving {
  composition_plan plan;
  jwt_claims who;
  std::string request_id;
  json sources = json::array();
};

void create_composition_job(reply& r, const std::shared_ptr<resolving>& s) {
  auto recipe = s->plan.recipe;
  recipe["composition"]["sources"] = s->sources;
  messages::job_request jr;
  jr.owner = s->who.sub;
  jr.filename = s->plan.filename;
  jr.content_type
    = s->plan.filename == "composition.mov" ? "video/quicktime" : "video/mp4";
  jr.priority = s->plan.priority;
  jr.outputs = recipe.dump();
  jr.request_id = s->request_id;
  r.ask(r.state().handles.registry, atoms::create_v, std::move(jr))
    .then([](reply& r, messages::job& j) {
      r.ask(r.state().handles.orchestrator, atoms::compose_v, j.id)
        .then([](reply& r, messages::job& started) {
          send_composition(r, 202, started);
        });
    });
}

void resolve_source(reply& r, std::shared_ptr<resolving> s, size_t i) {
  if (i == s->plan.sources.size()) {
    create_composition_job(r, s);
    return;
  }
  auto& want = s->plan.sources[i];
  auto refuse
    = [field = want.field, id = want.id](reply& r, const std::string& why) {
        r.error(422, "invalid_argument", field + ": " + why);
      };
  r.ask(r.state().handles.registry, atoms::get_v, want.id)
    .then(
      [s, i, refuse](reply& r, messages::job& j) {
        auto& want = s->plan.sources[i];
        // Only the caller's own uploads: nobody composes from someone
        // else's files, admins included.
        if (j.owner != s->who.sub) {
          refuse(r, "no such " + std::string{want.by_job ? "job" : "asset"}
                      + " of yours");
          return;
        }
        auto asset = messages::is_asset_recipe(j.outputs);
        // A finished composition is a source like a job's upload: its
        // stored output is read.
        auto composition = messages::is_composition_recipe(j.outputs);
        if (composition && !want.by_job) {
          refuse(r, "is a composition: name it by job_id");
          return;
        }
        if (want.by_job == asset) {
          refuse(r, want.by_job ? "is an asset: name it by asset_id"
                                : "is a job, not an asset: name it by job_id");
          return;
        }
        if (j.status != job_status::succeeded) {
          refuse(r, "is " + messages::to_string(j.status)
                      + "; use it once it is processed (GET "
                      + (want.by_job ? (composition ? "/compositions/"
                                                    : "/jobs/")
                                     : "/assets/")
                      + j.id + ")");
          return;
        }
        // A picture is shown for its clips' length (end - start seconds).
        auto still = asset && asset_kind(j) == "image";
        auto obj = j.object;
        r.ask(r.state().handles.registry, atoms::get_result_v, j.id)
          .then(
            [s, i, refuse, obj, still,
             composition](reply& r, messages::job_result& x) mutable {
              auto& want = s->plan.sources[i];
              auto info = composition ? composition_info(x.outputs, obj)
                                      : info_of(x.metadata);
              if (composition && obj.key.empty()) {
                refuse(r, "has no stored output to cut from");
                return;
              }
              if (want.needs_video && !info.video) {
                refuse(r, "has no video stream, so it cannot be a clip");
                return;
              }
              if (want.needs_audio && !info.audio) {
                refuse(r, "has no audio stream");
                return;
              }
              // A little slack: containers round their durations.
              if (want.needs_video && !still && info.duration > 0
                  && want.reaches > info.duration + 0.05) {
                refuse(r, "a clip ends at " + std::to_string(want.reaches)
                            + " s, past the end of the source ("
                            + std::to_string(info.duration) + " s)");
                return;
              }
              json src{{"id", want.id},         {"bucket", obj.bucket},
                       {"key", obj.key},        {"version", obj.version},
                       {"size", obj.size}};
              if (still) {
                src["still"] = true;
                // For the render's memory estimate.
                src["pixels"]
                  = static_cast<uint64_t>(std::max(info.width, 0))
                    * static_cast<uint64_t>(std::max(info.height, 0));
              }
              s->sources.push_back(std::move(src));
              resolve_source(r, s, i + 1);
            },
            [id = j.id](reply& r, caf::error& err) {
              r.fail(err, not_found_job(id));
            });
      },
      [refuse](reply& r, caf::error& err) {
        if (messages::errc_of(err) == errc::not_found)
          refuse(r, "no such id");
        else
          r.fail(err);
      });
}

void create_composition(call& c) {
  auto body = parse_object(c);
  if (!body)
    return;
  auto s = std::make_shared<resolving>();
  if (auto why = parse_composition_request(*body, s->plan); !why.empty()) {
    c.error(422, "invalid_argument", why);
    return;
  }
  s->who = c.who();
  s->request_id = std::string{c.request().request_id};
  resolve_source(c, s, 0);
}

// -- reading, cancelling, deleting --------------------------------------------

void get_composition(call& c) {
  with_composition(
    c, [](reply& r, messages::job& j) { send_composition(r, 200, j); });
}

/// Newest first, among the caller's latest 200 jobs (`history`).
void list_compositions(call& c) {
  auto query = c.request().query;
  std::optional<std::string> status;
  if (auto s = query_param(query, "status")) {
    static constexpr std::array<const char*, 6> names{
      "pending", "queued", "processing", "completed", "failed", "cancelled"};
    if (std::none_of(names.begin(), names.end(),
                     [&s](const char* n) { return *s == n; })) {
      c.error(422, "invalid_argument",
              "status must be pending, queued, processing, completed, "
              "failed or cancelled");
      return;
    }
    status = std::string{*s};
  }
  uint64_t limit = 20;
  uint64_t offset = 0;
  if (!page_limit(c, limit))
    return;
  if (auto o = query_param(query, "offset")) {
    auto n = parse_decimal(*o, 3);
    if (!n || *n >= max_listed) {
      c.error(422, "invalid_argument", "offset must be 0 to 999");
      return;
    }
    offset = *n;
  }
  // The caller's newest compositions only (the store's per-kind index): a
  // user's uploads and assets never crowd them out.
  c.ask(c.state().handles.registry, atoms::history_v, c.who().sub,
        max_listed, std::string{messages::kind_composition})
    .then([status, limit, offset,
           who = c.who()](reply& r, std::vector<messages::job>& jobs) {
      json items = json::array();
      uint64_t total = 0;
      for (auto& j : jobs) {
        if (j.owner != who.sub || !messages::is_composition_recipe(j.outputs))
          continue;
        if (status && composition_status(j) != *status)
          continue;
        if (total >= offset && items.size() < limit)
          items.push_back(composition_json(j));
        ++total;
      }
      json out{{"items", std::move(items)},
               {"total", total},
               {"offset", offset},
               {"limit", limit}};
      r.send(200, out.dump(-1, ' ', false, json::error_handler_t::replace));
    });
}

/// One stage of `GET /compositions/{id}/status`.
json stage(const char* name, const char* state, int percent) {
  return {{"name", name}, {"state", state}, {"percent", percent}};
}

void composition_progress(call& c) {
  with_composition(c, [](reply& r, messages::job& j) {
    auto answer = [j](reply& r, const messages::task_progress* live) {
      // The engine fetches every source, then renders and encodes each
      // frame in one pass (so those two stages share a percent), then
      // stores the file. A worker reports 0 until its first frame is out
      // and 99 at most before the output is stored.
      int p = live != nullptr ? live->percent : 0;
      bool leased = live != nullptr && live->leased;
      json stages = json::array();
      std::string current;
      int overall = 0;
      if (j.status == job_status::succeeded) {
        for (auto n : {"fetching", "rendering", "encoding", "storing"})
          stages.push_back(stage(n, "done", 100));
        overall = 100;
      } else if (j.status == job_status::processing && leased) {
        auto fetching = p == 0;
        auto storing = p >= 99;
        current = fetching ? "fetching" : storing ? "storing" : "rendering";
        stages.push_back(
          stage("fetching", fetching ? "running" : "done", fetching ? 0 : 100));
        auto pass = fetching ? "pending" : storing ? "done" : "running";
        stages.push_back(stage("rendering", pass, storing ? 100 : p));
        stages.push_back(stage("encoding", pass, storing ? 100 : p));
        stages.push_back(stage("storing", storing ? "running" : "pending", 0));
        overall = p;
      } else {
        auto state = messages::is_terminal(j.status) ? "stopped" : "pending";
        for (auto n : {"fetching", "rendering", "encoding", "storing"})
          stages.push_back(stage(n, state, 0));
      }
      if (leased && live->leased_at > 0)
        stages[0]["started_at"] = iso8601(live->leased_at);
      if (j.status == job_status::succeeded)
        stages[3]["finished_at"] = iso8601(j.updated_at);
      json out{{"composition_id", j.id},
               {"status", composition_status(j)},
               {"percent", overall},
               {"stage", current.empty() ? json(nullptr) : json(current)},
               {"attempt", j.attempts},
               {"stages", std::move(stages)},
               {"updated_at", iso8601(j.updated_at)}};
      r.send(200, out.dump());
    };
    if (j.status != job_status::processing || !r.state().handles.dispatcher) {
      answer(r, nullptr);
      return;
    }
    r.ask(r.state().handles.dispatcher, atoms::lease_of_v, j.id)
      .then(
        [answer](reply& r, std::vector<messages::task_progress>& live) {
          auto i = std::find_if(live.begin(), live.end(), [](auto& x) {
            return x.kind == messages::task_kind::compose;
          });
          answer(r, i != live.end() ? &*i : nullptr);
        },
        [answer](reply& r, caf::error&) { answer(r, nullptr); });
  });
}

void download_composition(call& c) {
  with_composition(c, [](reply& r, messages::job& j) {
    if (j.status != job_status::succeeded) {
      r.error(409, "conflict",
              "composition is " + composition_status(j)
                + "; download it once GET /compositions/{id} says "
                  "completed");
      return;
    }
    r.ask(r.state().handles.registry, atoms::get_result_v, j.id)
      .then(
        [](reply& r, messages::job_result& x) {
          auto& cfg = r.state().config;
          auto doc = json::parse(x.outputs, nullptr, false);
          if (!doc.is_object() || !doc.contains("composition")
              || !doc["composition"].is_object()) {
            r.error(500, "internal",
                    "the composition's output is not "
                    "recorded");
            return;
          }
          auto& e = doc["composition"];
          if (!cfg.presign_download) {
            r.error(503, "unavailable", "downloads are not configured");
            return;
          }
          auto url
            = cfg.presign_download(e.value("bucket", ""), e.value("key", ""));
          if (url.empty()) {
            r.error(503, "storage_unavailable",
                    "cannot presign the download URL now; try again shortly",
                    5);
            return;
          }
          auto now
            = cfg.now ? cfg.now() : static_cast<int64_t>(std::time(nullptr));
          json out{{"composition_id", x.job_id},
                   {"download_url", url},
                   {"expires_at", iso8601((now + cfg.download_expires) * 1000)},
                   {"bytes", e.value("bytes", uint64_t{0})},
                   {"content_type", e.value("content_type", "")},
                   {"duration", e.value("duration", 0.0)},
                   {"width", e.value("width", 0)},
                   {"height", e.value("height", 0)},
                   {"fps", e.value("fps", 0)}};
          r.send(200, out.dump());
        },
        [id = j.id](reply& r, caf::error& err) {
          r.fail(err, no_composition(id));
        });
  });
}

void cancel_composition(call& c) {
  with_composition(c, [](reply& r, messages::job& j) {
    r.ask(r.state().handles.orchestrator, atoms::cancel_v, j.id)
      .then(
        [](reply& r, messages::job& done) { send_composition(r, 200, done); },
        [id = j.id, status = composition_status(j)](reply& r, caf::error& err) {
          if (messages::errc_of(err) == errc::conflict)
            r.error(409, "conflict",
                    "composition is already " + status
                      + " and cannot be cancelled");
          else
            r.fail(err, no_composition(id));
        });
  });
}

/// Cancels `ids[i..]` one after the other, then answers with those that
/// were cancelled (one finished meanwhile is skipped, not an error).
void cancel_each(reply& r, std::shared_ptr<std::vector<std::string>> ids,
                 size_t i, std::shared_ptr<json> done) {
  if (i == ids->size()) {
    json out{{"cancelled", done->size()}, {"composition_ids", *done}};
    r.send(200, out.dump());
    return;
  }
  r.ask(r.state().handles.orchestrator, atoms::cancel_v, (*ids)[i])
    .then(
      [ids, i, done](reply& r, messages::job& j) {
        done->push_back(j.id);
        cancel_each(r, ids, i + 1, done);
      },
      [ids, i, done](reply& r, caf::error& err) {
        if (messages::errc_of(err) != errc::conflict
            && messages::errc_of(err) != errc::not_found) {
          r.fail(err);
          return;
        }
        cancel_each(r, ids, i + 1, done);
      });
}

void cancel_all(call& c) {
  c.ask(c.state().handles.registry, atoms::history_v, c.who().sub,
        max_listed, std::string{messages::kind_composition})
    .then([who = c.who()](reply& r, std::vector<messages::job>& jobs) {
      auto ids = std::make_shared<std::vector<std::string>>();
      for (auto& j : jobs)
        if (j.owner == who.sub && messages::is_composition_recipe(j.outputs)
            && !messages::is_terminal(j.status))
          ids->push_back(j.id);
      cancel_each(r, ids, 0, std::make_shared<json>(json::array()));
    });
}

void delete_composition(call& c) {
  with_composition(c, [](reply& r, messages::job& j) {
    cancel_and_erase(
      r, j,
      [id = j.id](reply& r, uint64_t objects) {
        json out{{"composition_id", id},
                 {"deleted", true},
                 {"objects_deleted", objects}};
        r.send(200, out.dump());
      },
      [](std::string_view id) { return no_composition(id); });
  });
}

} // namespace

std::vector<route_entry> composition_routes() {
  using m = http_method;
  return {
    {m::post, "/assets", access::user, create_asset},
    {m::get, "/assets", access::user, list_assets},
    {m::get, "/assets/{id}", access::user, get_asset},
    {m::post, "/compositions", access::user, create_composition},
    {m::get, "/compositions", access::user, list_compositions},
    {m::post, "/compositions/cancel-all", access::user, cancel_all},
    {m::get, "/compositions/{id}", access::user, get_composition},
    {m::del, "/compositions/{id}", access::user, delete_composition},
    {m::get, "/compositions/{id}/status", access::user, composition_progress},
    {m::get, "/compositions/{id}/download", access::user, download_composition},
    {m::post, "/compositions/{id}/cancel", access::user, cancel_composition},
  };
}

} // namespace vf::adapters::http
