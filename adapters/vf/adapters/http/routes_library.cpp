// vf/adapters/http/routes_library.cpp
//
// The video library: the caller's processed videos (SUCCEEDED jobs) with
// thumbnails and playback links, their views and likes, and stats.

#include <nlohmann/json.hpp>

#include "vf/adapters/http/call.hpp"
#include "vf/adapters/http/job_access.hpp"
#include "vf/adapters/http/json_views.hpp"
#include "vf/adapters/http/outputs_view.hpp"
#include "vf/adapters/http/request_parse.hpp"
#include "vf/adapters/http/routes.hpp"
#include "vf/adapters/http/user_table.hpp"
#include "vf/messages/atoms.hpp"
#include "vf/messages/errc.hpp"
#include "vf/messages/video.hpp"

#include <chrono>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

namespace vf::adapters::http {

namespace {

using messages::errc;
using messages::video_entry;
using messages::video_order;

using json = nlohmann::json;

/// Answers 501 and returns false when this node has no library (its store
/// backend has none, or it is an ingestion node).
bool has_library(call& c) {
  if (c.state().handles.library)
    return true;
  c.error(501, "not_implemented",
          "the video library is served by nodes whose store.backend is "
          "sqlite; this node has none");
  return false;
}

// Duration in seconds and the first video stream's size, from the probed
// metadata (ffprobe's shape: format.duration is a decimal string).
struct media_facts {
  json duration = nullptr;
  json width = nullptr;
  json height = nullptr;
};

media_facts facts_of(const std::string& metadata) {
  media_facts out;
  auto doc = json::parse(metadata, nullptr, false);
  if (!doc.is_object())
    return out;
  if (auto f = doc.find("format"); f != doc.end() && f->is_object()) {
    if (auto d = f->find("duration"); d != f->end()) {
      if (d->is_number())
        out.duration = d->get<double>();
      else if (d->is_string()) {
        auto str = d->get<std::string>();
        char* end = nullptr;
        auto x = std::strtod(str.c_str(), &end);
        if (end != str.c_str() && *end == '\0' && x >= 0)
          out.duration = x;
      }
    }
  }
  if (auto s = doc.find("streams"); s != doc.end() && s->is_array())
    for (auto& st : *s)
      if (st.is_object() && st.value("codec_type", "") == "video"
          && st.contains("width") && st["width"].is_number_unsigned()
          && st.contains("height") && st["height"].is_number_unsigned()) {
        out.width = st["width"];
        out.height = st["height"];
        break;
      }
  return out;
}

double engagement_of(const video_entry& x) {
  return x.views == 0
           ? 0.0
           : static_cast<double>(x.likes) / static_cast<double>(x.views);
}

json url_or_null(std::string url) {
  return url.empty() ? json(nullptr) : json(std::move(url));
}

// One library item: what `GET /videos` lists for a video.
json video_json(const api_config& cfg, const video_entry& x) {
  auto& j = x.source;
  auto facts = facts_of(x.result.metadata);
  auto outputs = json::parse(x.result.outputs, nullptr, false);
  json thumbnail_url = nullptr;
  json playback_url = nullptr;
  auto presign = [&cfg](const json& e) {
    return cfg.presign_download ? url_or_null(
             cfg.presign_download(e.value("bucket", ""), e.value("key", "")))
                                : json(nullptr);
  };
  if (outputs.is_object()) {
    if (auto t = outputs.find("thumbnails");
        t != outputs.end() && t->is_array())
      for (auto& e : *t)
        if (e.is_object() && !e.contains("skipped")) {
          thumbnail_url = presign(e);
          break;
        }
    // The best rendition: the tallest one made.
    const json* best = nullptr;
    if (auto r = outputs.find("renditions");
        r != outputs.end() && r->is_array())
      for (auto& e : *r)
        if (e.is_object() && !e.contains("skipped")
            && (best == nullptr
                || e.value("height", 0) > best->value("height", 0)))
          best = &e;
    if (best != nullptr)
      playback_url = presign(*best);
  }
  if (playback_url.is_null() && cfg.presign_download)
    playback_url = url_or_null(cfg.presign_download(j.bucket, j.key));
  return json{{"video_id", j.id},
              {"owner", j.owner},
              {"filename", j.filename},
              {"duration", facts.duration},
              {"width", facts.width},
              {"height", facts.height},
              {"size", j.object.size},
              {"thumbnail_url", thumbnail_url},
              {"playback_url", playback_url},
              {"views", x.views},
              {"likes", x.likes},
              {"engagement", engagement_of(x)},
              {"liked", x.liked},
              {"created_at", iso8601(j.created_at)}};
}

std::string dump(const json& doc) {
  // Filenames and metadata may hold any bytes: replaced, never a 500.
  return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

// Reads the owner filter of /videos and /stats: a user sees their own
// library; an admin also anyone's (`owner=`) or everyone's (`all=true`).
// Answers 403/422 and returns nothing on a bad filter.
std::optional<std::string> owner_filter(call& c) {
  auto& who = c.who();
  auto query = c.request().query;
  auto owner = query_param(query, "owner");
  auto all = query_param(query, "all");
  if (all && *all != "true" && *all != "false") {
    c.error(422, "invalid_argument", "all must be true or false");
    return std::nullopt;
  }
  bool everyone = all && *all == "true";
  if (owner && everyone) {
    c.error(422, "invalid_argument", "pass owner or all=true, not both");
    return std::nullopt;
  }
  if (owner) {
    // A user name, percent-encoded or not (`alice%40example.com`).
    auto name = decode_query_value(*owner);
    if (!name || check_user_name(*name)) {
      c.error(422, "invalid_argument",
              "owner must be a user name: 1 to 64 letters, digits, '.', "
              "'_', '-' or '@'");
      return std::nullopt;
    }
    if (*name != who.sub && who.role != "admin") {
      c.error(403, "forbidden", "only admins may read another user's library");
      return std::nullopt;
    }
    return std::move(*name);
  }
  if (everyone) {
    if (who.role != "admin") {
      c.error(403, "forbidden", "only admins may read every user's library");
      return std::nullopt;
    }
    return std::string{};
  }
  return who.sub;
}

// Reads an integer query parameter in [lo, hi]; answers 422 naming it and
// returns false when it is malformed.
bool query_number(call& c, std::string_view name, uint64_t lo, uint64_t hi,
                  uint32_t& out) {
  auto str = query_param(c.request().query, name);
  if (!str)
    return true;
  auto value = parse_decimal(*str, 10);
  if (!value || *value < lo || *value > hi) {
    c.error(422, "invalid_argument",
            std::string{name} + " must be an integer from " + std::to_string(lo)
              + " to " + std::to_string(hi));
    return false;
  }
  out = static_cast<uint32_t>(*value);
  return true;
}

void list_videos(call& c) {
  if (!has_library(c))
    return;
  messages::video_query q;
  auto owner = owner_filter(c);
  if (!owner)
    return;
  q.owner = std::move(*owner);
  q.viewer = c.who().sub;
  auto query = c.request().query;
  std::string sort_name = "created";
  if (auto s = query_param(query, "sort_by")) {
    sort_name = std::string{*s};
    if (*s == "created")
      q.sort_by = video_order::created;
    else if (*s == "views")
      q.sort_by = video_order::views;
    else if (*s == "likes")
      q.sort_by = video_order::likes;
    else if (*s == "engagement")
      q.sort_by = video_order::engagement;
    else {
      c.error(422, "invalid_argument",
              "sort_by must be created, views, likes or engagement");
      return;
    }
  }
  if (auto o = query_param(query, "order")) {
    if (*o != "asc" && *o != "desc") {
      c.error(422, "invalid_argument", "order must be asc or desc");
      return;
    }
    q.descending = *o == "desc";
  }
  if (!query_number(c, "limit", 1, 1000, q.limit)
      || !query_number(c, "offset", 0, 1000000000, q.offset))
    return;
  c.ask(c.state().handles.library, atoms::videos_v, q)
    .then([q, sort_name](reply& r, messages::video_page& page) {
      auto items = json::array();
      for (auto& x : page.items)
        items.push_back(video_json(r.state().config, x));
      r.send(200, dump(json{{"items", std::move(items)},
                            {"total", page.total},
                            {"offset", q.offset},
                            {"limit", q.limit},
                            {"sort_by", sort_name},
                            {"order", q.descending ? "desc" : "asc"}}));
    });
}

/// Answers 409 unless `j` SUCCEEDED (only processed videos are in the
/// library); returns whether it did.
bool not_a_video(reply& r, const messages::job& j) {
  if (j.status == messages::job_status::succeeded)
    return false;
  r.error(409, "conflict",
          "job " + j.id + " is not a processed video yet (status "
            + messages::to_string(j.status) + ")");
  return true;
}

void get_video(call& c) {
  if (!has_library(c))
    return;
  // Taken first: with_visible_job moves the caller's claims.
  auto viewer = c.who().sub;
  with_visible_job(c, [viewer](reply& r, messages::job& j) {
    if (not_a_video(r, j))
      return;
    r.ask(r.state().handles.library, atoms::video_v, j.id, viewer)
      .then(
        [](reply& r, video_entry& x) {
          auto& cfg = r.state().config;
          auto doc = video_json(cfg, x);
          auto outputs = outputs_json(cfg, x.result.outputs);
          doc["renditions"] = std::move(outputs["renditions"]);
          doc["thumbnails"] = std::move(outputs["thumbnails"]);
          doc["content_type"] = x.source.content_type;
          doc["summary"] = x.result.summary;
          r.send(200, dump(doc));
        },
        [id = j.id](reply& r, caf::error& err) {
          r.fail(err, not_found_job(id));
        });
  });
}

void add_view(call& c) {
  if (!has_library(c))
    return;
  with_visible_job(c, [](reply& r, messages::job& j) {
    if (not_a_video(r, j))
      return;
    r.ask(r.state().handles.library, atoms::add_view_v, j.id)
      .then(
        [id = j.id](reply& r, uint64_t views) {
          r.send(200, dump(json{{"video_id", id}, {"views", views}}));
        },
        [id = j.id](reply& r, caf::error& err) {
          r.fail(err, not_found_job(id));
        });
  });
}

void like(call& c, bool on) {
  if (!has_library(c))
    return;
  auto user = c.who().sub;
  with_visible_job(c, [on, user](reply& r, messages::job& j) {
    if (not_a_video(r, j))
      return;
    r.ask(r.state().handles.library, atoms::set_like_v, j.id, user, on)
      .then(
        [id = j.id, on](reply& r, uint64_t likes) {
          r.send(200,
                 dump(json{{"video_id", id}, {"likes", likes}, {"liked", on}}));
        },
        [id = j.id](reply& r, caf::error& err) {
          r.fail(err, not_found_job(id));
        });
  });
}

void put_like(call& c) {
  like(c, true);
}

void delete_like(call& c) {
  like(c, false);
}

/// Days in `GET /stats` uploads_per_day.
constexpr int64_t stats_days = 30;

constexpr int64_t day_ms = 86'400'000;

void get_stats(call& c) {
  if (!has_library(c))
    return;
  auto owner = owner_filter(c);
  if (!owner)
    return;
  uint32_t top = 10;
  if (!query_number(c, "top", 1, 100, top))
    return;
  auto& cfg = c.state().config;
  int64_t now_ms = cfg.now
                     ? cfg.now() * 1000
                     : std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  // Today and the 29 days before it, whole UTC days.
  auto first_day = (now_ms / day_ms - (stats_days - 1)) * day_ms;
  c.ask(c.state().handles.library, atoms::lib_stats_v, *owner, top, first_day)
    .then([first_day](reply& r, messages::library_stats& st) {
      auto& cfg = r.state().config;
      auto list = [&cfg](const std::vector<video_entry>& xs) {
        auto out = json::array();
        for (auto& x : xs)
          out.push_back(video_json(cfg, x));
        return out;
      };
      auto days = json::array();
      size_t next = 0;
      for (int64_t i = 0; i < stats_days; ++i) {
        auto day = iso8601(first_day + i * day_ms).substr(0, 10);
        uint64_t n = 0;
        if (next < st.per_day.size() && st.per_day[next].day == day)
          n = st.per_day[next++].uploads;
        days.push_back({{"date", day}, {"uploads", n}});
      }
      double engagement = st.views == 0 ? 0.0
                                        : static_cast<double>(st.likes)
                                            / static_cast<double>(st.views);
      r.send(200, dump(json{{"totals",
                             {{"videos", st.videos},
                              {"views", st.views},
                              {"likes", st.likes},
                              {"engagement", engagement},
                              {"storage_bytes", st.storage_bytes},
                              {"minutes", st.seconds / 60.0}}},
                            {"top_by_views", list(st.top_views)},
                            {"top_by_likes", list(st.top_likes)},
                            {"top_by_engagement", list(st.top_engagement)},
                            {"uploads_per_day", std::move(days)}}));
    });
}

} // namespace

std::vector<route_entry> library_routes() {
  using m = http_method;
  return {{m::get, "/videos", access::user, list_videos},
          {m::get, "/videos/{id}", access::user, get_video},
          {m::post, "/videos/{id}/view", access::user, add_view},
          {m::put, "/videos/{id}/like", access::user, put_like},
          {m::del, "/videos/{id}/like", access::user, delete_like},
          {m::get, "/stats", access::user, get_stats}};
}

} // namespace vf::adapters::http
