// vf/adapters/media/libav_media.cpp

#include "vf/adapters/media/libav_media.hpp"

#include <nlohmann/json.hpp>

#include "caf/result.hpp"
#include "caf/spawn_options.hpp"
#include "caf/typed_event_based_actor.hpp"

#include "vf/adapters/common/digest.hpp"
#include "vf/adapters/media/composition.hpp"
#include "vf/adapters/media/probe.hpp"
#include "vf/adapters/media/render.hpp"
#include "vf/messages/errc.hpp"
#include "vf/messages/upload_key.hpp"
#include "vf/messages/worker_actor.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <deque>
#include <exception>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

namespace vf::adapters::media {

namespace {

using messages::errc;
using messages::make_error;
using clock_type = std::chrono::steady_clock;

/// What the control actor and the (blocked) media actor share: which lease
/// is being probed and whether it is cancelled.
struct cancel_board {
  std::mutex mtx;
  uint64_t current = 0;
  /// Leases cancelled before their probe started (bounded).
  std::deque<uint64_t> early;
  std::atomic<bool> flag{false};

  void start(uint64_t lease) {
    std::lock_guard<std::mutex> guard{mtx};
    current = lease;
    bool hit = false;
    for (auto x : early)
      hit = hit || x == lease;
    flag = hit;
  }

  void finish() {
    std::lock_guard<std::mutex> guard{mtx};
    current = 0;
    flag = false;
  }

  void cancel(uint64_t lease) {
    std::lock_guard<std::mutex> guard{mtx};
    if (lease != 0 && lease == current) {
      flag = true;
      return;
    }
    early.push_back(lease);
    if (early.size() > 64)
      early.pop_front();
  }
};

/// Turns `obj` into a local path within `timeout`. The worker decides on
/// retries by errc: foreign errors would all read as `internal` (a bug),
/// although a failed fetch is usually transient, so they become
/// `storage_unavailable`.
caf::expected<std::string> resolve_object(const object_resolver& resolve,
                                          const messages::object_ref& obj,
                                          std::chrono::milliseconds timeout) {
  if (!resolve)
    return make_error(errc::internal, "media actor has no object resolver");
  auto path = resolve(obj, timeout);
  if (!path && path.error().category() != messages::errc_category)
    return make_error(errc::storage_unavailable, "fetching " + obj.key
                                                   + " failed: "
                                                   + to_string(path.error()));
  return path;
}

caf::result<std::string> probe_object(const object_resolver& resolve,
                                      const messages::object_ref& obj,
                                      uint32_t timeout_ms,
                                      const std::atomic<bool>* cancel,
                                      bool still_image) {
  const auto& name = obj.key;
  auto timeout = std::chrono::milliseconds{timeout_ms};
  auto deadline = clock_type::now() + timeout;
  if (timeout_ms == 0)
    return make_error(errc::timeout, "probe of " + name + " given no time");
  auto path = resolve_object(resolve, obj, timeout);
  if (!path)
    return std::move(path.error());
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
    deadline - clock_type::now());
  if (left.count() <= 0)
    return make_error(errc::timeout, "fetching " + name + " used up the "
                                       + std::to_string(timeout_ms)
                                       + " ms deadline");
  auto res = probe_file_as(*path, name.empty() ? *path : name, left, cancel,
                           still_image);
  if (!res)
    return std::move(res.error());
  // An upload that reached the store without passing through vidflow (S3,
  // MinIO) has no SHA-256 yet: take it from the bytes just fetched, for
  // content reuse (`format.sha256`; the built-in store hashed on the way
  // in).
  if (obj.sha256.empty()) {
    auto doc = nlohmann::ordered_json::parse(*res, nullptr, false);
    if (doc.is_object() && doc.contains("format")
        && doc["format"].is_object()) {
      auto digest = common::sha256_file_hex(*path, cancel);
      if (!digest && messages::errc_of(digest.error()) == errc::cancelled)
        return std::move(digest.error());
      if (digest) {
        doc["format"]["sha256"] = std::move(*digest);
        // As probe_file writes it.
        return doc.dump(4, ' ', false,
                        nlohmann::ordered_json::error_handler_t::replace)
               + "\n";
      }
    }
  }
  return std::move(*res);
}

/// Removes a folder tree when it goes out of scope.
struct folder_guard {
  std::string path;
  ~folder_guard() {
    if (path.empty())
      return;
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

nlohmann::json entry_json(const rendered_output& x, const std::string& bucket,
                          const std::string& key) {
  nlohmann::json e;
  e["name"] = x.name;
  if (!x.skipped.empty()) {
    e["skipped"] = x.skipped;
    return e;
  }
  e["width"] = x.width;
  e["height"] = x.height;
  e["content_type"] = x.content_type;
  e["bytes"] = x.bytes;
  e["bucket"] = bucket;
  e["key"] = key;
  if (x.kind == "rendition") {
    e["duration"] = x.duration;
    e["video_codec"] = x.video_codec;
    e["audio_codec"] = x.audio_codec;
  }
  return e;
}

/// The presigned URL `objects` carries for `bucket`/`key` (a PUT in
/// `task::outputs`, a GET in `task::sources`), or empty.
std::string url_of(const std::vector<messages::object_ref>& objects,
                   const std::string& bucket, const std::string& key) {
  for (auto& o : objects)
    if (o.bucket == bucket && o.key == key)
      return o.url;
  return {};
}

/// Content reuse: copies the outputs of the earlier job that `input` names
/// under `"reuse"` (`{"job_id", "outputs"}`, added by the orchestrator)
/// into job `job_id`'s folder. Each output that was made is fetched through
/// `resolve` (by its presigned GET in `sources` when it has one: a worker
/// on another node), copied into `work` and stored under
/// `outputs/<job_id>/` like a fresh one, so deleting either job leaves the
/// other whole. Returns the render output, with `"reused_from"`, or nullopt
/// when there is nothing to reuse or anything is missing or odd (the caller
/// then renders).
std::optional<std::string> reuse_outputs(
  const object_resolver& resolve, const render_setup& setup,
  const messages::object_ref& obj, const std::string& job_id,
  const std::string& input, const std::vector<messages::object_ref>& outputs,
  const std::vector<messages::object_ref>& sources, const std::string& work,
  std::chrono::milliseconds timeout, const std::atomic<bool>* cancel) {
  auto doc = nlohmann::json::parse(input, nullptr, false);
  if (!doc.is_object())
    return std::nullopt;
  auto r = doc.find("reuse");
  if (r == doc.end() || !r->is_object() || !r->contains("outputs")
      || !(*r)["outputs"].is_object() || !r->contains("job_id")
      || !(*r)["job_id"].is_string())
    return std::nullopt;
  auto from = (*r)["job_id"].get<std::string>();
  if (from.empty() || from == job_id || from.find('/') != std::string::npos
      || from.find("..") != std::string::npos)
    return std::nullopt;
  auto theirs = messages::outputs_prefix(from);
  auto mine = messages::outputs_prefix(job_id);
  auto& outs = (*r)["outputs"];
  nlohmann::json out;
  for (auto list : {"thumbnails", "renditions"}) {
    out[list] = nlohmann::json::array();
    auto l = outs.find(list);
    if (l == outs.end())
      continue;
    if (!l->is_array())
      return std::nullopt;
    for (auto e : *l) {
      if (cancel != nullptr && cancel->load())
        return std::nullopt; // The render notices and answers cancelled.
      if (!e.is_object())
        return std::nullopt;
      if (e.contains("skipped")) {
        out[list].push_back(std::move(e));
        continue;
      }
      // Only the earlier job's own outputs, in this upload's bucket.
      auto key = e.value("key", "");
      if (e.value("bucket", "") != obj.bucket || key.rfind(theirs, 0) != 0)
        return std::nullopt;
      auto file = key.substr(theirs.size());
      if (file.empty() || file.find('/') != std::string::npos
          || file.find("..") != std::string::npos)
        return std::nullopt;
      messages::object_ref src;
      src.bucket = obj.bucket;
      src.key = key;
      src.url = url_of(sources, obj.bucket, key);
      auto path = resolve_object(resolve, src, timeout);
      if (!path)
        return std::nullopt; // Deleted meanwhile: render.
      auto copy = work + "/" + file;
      std::error_code ec;
      std::filesystem::copy_file(
        *path, copy, std::filesystem::copy_options::overwrite_existing, ec);
      if (ec)
        return std::nullopt;
      e["key"] = mine + file;
      if (setup.store(obj.bucket, mine + file, copy,
                      e.value("content_type", ""),
                      url_of(outputs, obj.bucket, mine + file)))
        return std::nullopt;
      out[list].push_back(std::move(e));
    }
  }
  out["reused_from"] = from;
  return out.dump();
}

/// Makes a private folder `<work_dir>/<prefix>-XXXXXX` for one render.
caf::expected<std::string> make_work_folder(const render_setup& setup,
                                            const char* prefix) {
  std::error_code ec;
  std::filesystem::create_directories(setup.work_dir, ec);
  auto tmpl = setup.work_dir + "/" + prefix + "-XXXXXX";
  std::vector<char> buf{tmpl.begin(), tmpl.end()};
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr)
    return make_error(errc::storage_unavailable,
                      "cannot make a work folder under " + setup.work_dir);
  return std::string{buf.data()};
}

caf::result<std::string> render_object(
  const object_resolver& resolve, const render_setup& setup,
  const messages::object_ref& obj, const std::string& job_id,
  const std::string& input, const std::vector<messages::object_ref>& outputs,
  const std::vector<messages::object_ref>& sources, uint32_t timeout_ms,
  const std::atomic<bool>* cancel, std::function<void(double)> progress) {
  auto timeout = std::chrono::milliseconds{timeout_ms};
  auto deadline = clock_type::now() + timeout;
  if (timeout_ms == 0)
    return make_error(errc::timeout, "render of " + obj.key + " given no time");
  if (!setup.store)
    return make_error(errc::internal, "media actor has no output store");
  if (job_id.empty() || job_id.find('/') != std::string::npos
      || job_id.find("..") != std::string::npos)
    return make_error(errc::invalid_argument,
                      "render needs a plain job id, got '" + job_id + "'");
  render_request req;
  if (auto why = parse_render_input(input, req); !why.empty())
    return make_error(errc::invalid_argument, "render input: " + why);
  auto folder = make_work_folder(setup, "render");
  if (!folder)
    return std::move(folder.error());
  folder_guard work{std::move(*folder)};
  if (auto reused = reuse_outputs(resolve, setup, obj, job_id, input, outputs,
                                  sources, work.path, timeout, cancel)) {
    if (progress)
      progress(100.0);
    return std::move(*reused);
  }
  if (cancel != nullptr && cancel->load())
    return make_error(errc::cancelled, "render of " + obj.key + " cancelled");
  auto path = resolve_object(resolve, obj, timeout);
  if (!path)
    return std::move(path.error());
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
    deadline - clock_type::now());
  if (left.count() <= 0)
    return make_error(errc::timeout, "fetching " + obj.key + " used up the "
                                       + std::to_string(timeout_ms)
                                       + " ms deadline");
  req.input_path = *path;
  req.out_dir = work.path;
  req.threads = setup.threads;
  req.timeout = left;
  req.cancel = cancel;
  req.progress = std::move(progress);
  auto made = render_file(req);
  if (!made)
    return std::move(made.error());
  nlohmann::json out;
  out["thumbnails"] = nlohmann::json::array();
  out["renditions"] = nlohmann::json::array();
  for (auto& x : *made) {
    std::string key;
    if (x.skipped.empty()) {
      if (cancel != nullptr && cancel->load())
        return make_error(errc::cancelled, "render of " + obj.key
                                             + " cancelled");
      auto file = std::filesystem::path{x.path}.filename().string();
      key = messages::outputs_prefix(job_id) + file;
      if (auto err = setup.store(obj.bucket, key, x.path, x.content_type,
                                 url_of(outputs, obj.bucket, key))) {
        if (err.category() != messages::errc_category)
          return make_error(errc::storage_unavailable,
                            "storing " + key + " failed: " + to_string(err));
        return err;
      }
    }
    auto& list = x.kind == "thumbnail" ? out["thumbnails"] : out["renditions"];
    list.push_back(entry_json(x, obj.bucket, key));
  }
  return out.dump();
}

/// Makes the composition job `job_id`'s recipe (`input`) asks for from
/// `sources` (each read by its presigned GET `url` when it has one, else
/// directly) and stores it as the one entry of `outputs` (by its presigned
/// PUT when it has one). Answers `{"composition": {...}}`.
caf::result<std::string> compose_object(
  const object_resolver& resolve, const render_setup& setup,
  const messages::object_ref& obj, const std::string& job_id,
  const std::string& input, const std::vector<messages::object_ref>& outputs,
  const std::vector<messages::object_ref>& sources, uint32_t timeout_ms,
  const std::atomic<bool>* cancel, std::function<void(double)> progress) {
  auto timeout = std::chrono::milliseconds{timeout_ms};
  auto deadline = clock_type::now() + timeout;
  if (timeout_ms == 0)
    return make_error(errc::timeout, "composition " + job_id
                                       + " given no time");
  if (!setup.store)
    return make_error(errc::internal, "media actor has no output store");
  if (job_id.empty() || job_id.find('/') != std::string::npos
      || job_id.find("..") != std::string::npos)
    return make_error(errc::invalid_argument,
                      "compose needs a plain job id, got '" + job_id + "'");
  auto key = composition_output_key(job_id, input);
  if (key.empty())
    return make_error(errc::invalid_argument,
                      "compose input is not a composition recipe");
  auto wanted = composition_sources(input);
  if (wanted.size() != sources.size())
    return make_error(errc::invalid_argument,
                      "the task carries " + std::to_string(sources.size())
                        + " sources for a recipe of "
                        + std::to_string(wanted.size()));
  // Validate before fetching anything (where the output goes is set for
  // real below; the check only needs it to be there).
  compose_request req;
  req.output_path = "-";
  req.font_path = find_overlay_font();
  if (auto why = parse_composition(
        input, std::vector<std::string>(sources.size(), "-"), req);
      !why.empty()) {
    if (req.font_path.empty() && !req.overlays.empty())
      return make_error(errc::internal,
                        "no TrueType font for overlays on this node "
                        "(apt-get install fonts-dejavu-core)");
    return make_error(errc::invalid_argument, "composition: " + why);
  }
  auto folder = make_work_folder(setup, "compose");
  if (!folder)
    return std::move(folder.error());
  folder_guard work{std::move(*folder)};
  std::error_code ec;
  std::vector<std::string> paths;
  for (size_t i = 0; i < sources.size(); ++i) {
    // The recipe's own object, with the GET the lease relay signed for it.
    auto src = wanted[i];
    if (src.bucket != sources[i].bucket || src.key != sources[i].key)
      return make_error(errc::invalid_argument,
                        "source " + std::to_string(i)
                          + " of the task is not the recipe's");
    src.url = sources[i].url;
    if (cancel != nullptr && cancel->load())
      return make_error(errc::cancelled, "composition " + job_id
                                           + " cancelled");
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - clock_type::now());
    if (left.count() <= 0)
      return make_error(errc::timeout, "fetching the sources of " + job_id
                                         + " used up the "
                                         + std::to_string(timeout_ms)
                                         + " ms deadline");
    auto path = resolve_object(resolve, src, left);
    if (!path)
      return std::move(path.error());
    if (setup.downloads) {
      // The next download would overwrite this one: keep it aside.
      auto kept = work.path + "/source-" + std::to_string(i);
      std::filesystem::rename(*path, kept, ec);
      if (ec) {
        ec.clear();
        std::filesystem::copy_file(*path, kept, ec);
        if (ec)
          return make_error(errc::storage_unavailable,
                            "cannot keep source " + std::to_string(i)
                              + " in " + work.path + ": " + ec.message());
      }
      *path = std::move(kept);
    }
    paths.push_back(std::move(*path));
  }
  if (auto why = parse_composition(input, paths, req); !why.empty())
    return make_error(errc::invalid_argument, "composition: " + why);
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
    deadline - clock_type::now());
  if (left.count() <= 0)
    return make_error(errc::timeout, "fetching the sources of " + job_id
                                       + " used up the "
                                       + std::to_string(timeout_ms)
                                       + " ms deadline");
  req.output_path = work.path + "/composition." + req.format;
  req.threads = setup.threads;
  req.timeout = left;
  req.cancel = cancel;
  req.progress = std::move(progress);
  auto made = compose_file(req);
  if (!made)
    return std::move(made.error());
  if (cancel != nullptr && cancel->load())
    return make_error(errc::cancelled, "composition " + job_id
                                         + " cancelled");
  auto type = req.format == "mov" ? "video/quicktime" : "video/mp4";
  if (auto err = setup.store(obj.bucket, key, made->path, type,
                             url_of(outputs, obj.bucket, key))) {
    if (err.category() != messages::errc_category)
      return make_error(errc::storage_unavailable,
                        "storing " + key + " failed: " + to_string(err));
    return err;
  }
  nlohmann::json e;
  e["width"] = made->width;
  e["height"] = made->height;
  e["fps"] = made->fps;
  e["duration"] = made->duration;
  e["bytes"] = made->bytes;
  e["bucket"] = obj.bucket;
  e["key"] = key;
  e["content_type"] = type;
  e["video_codec"] = made->video_codec;
  e["audio_codec"] = made->audio_codec;
  nlohmann::json out;
  out["composition"] = std::move(e);
  return out.dump();
}

/// Runs `work` for lease `lease` with the cancel board pointing at it.
/// Nothing may escape a handler: a throwing resolver, sink or bad_alloc
/// becomes an error reply (`what` of `key` threw) instead of killing the
/// actor.
template <class Work>
caf::result<std::string> for_lease(cancel_board& board, uint64_t lease,
                                   const char* what, const std::string& key,
                                   Work work) {
  board.start(lease);
  struct finisher {
    cancel_board* b;
    ~finisher() {
      b->finish();
    }
  } on_exit{&board};
  try {
    return work();
  } catch (const std::exception& ex) {
    return make_error(errc::internal,
                      std::string{what} + " of " + key + " threw: " + ex.what());
  } catch (...) {
    return make_error(errc::internal, std::string{what} + " of " + key
                                        + " threw a non-exception");
  }
}

messages::media_actor::behavior_type
media_behavior(messages::media_actor::pointer self, object_resolver resolve,
               std::shared_ptr<cancel_board> board, render_setup setup) {
  return {
    [resolve, board](atoms::probe, const messages::object_ref& obj,
                     const std::string& input, uint32_t timeout_ms,
                     uint64_t lease) -> caf::result<std::string> {
      auto still = messages::is_image_asset_recipe(input);
      return for_lease(*board, lease, "probe", obj.key, [&] {
        return probe_object(resolve, obj, timeout_ms, &board->flag, still);
      });
    },
    [self, resolve, setup,
     board](atoms::render, const messages::object_ref& obj,
            const std::string& job_id, const std::string& input,
            const std::vector<messages::object_ref>& outputs,
            const std::vector<messages::object_ref>& sources,
            uint32_t timeout_ms, uint64_t lease) -> caf::result<std::string> {
      // How far the encode got goes to the worker that asked (it passes it
      // on to the lease's holder); called on this actor's thread, inside
      // this handler, so `self` is valid.
      auto to = caf::actor_cast<messages::progress_sink_actor>(
        self->current_sender());
      std::function<void(double)> progress;
      if (to)
        progress = [self, to, lease](double pct) {
          // 99 at most: the step is done once its outputs are stored and
          // its outcome recorded, not when the last frame is encoded.
          auto p = static_cast<uint8_t>(std::clamp(pct, 0.0, 99.0));
          self->send(to, atoms::progress_v, lease, p);
        };
      if (messages::is_composition_recipe(input))
        return for_lease(*board, lease, "composition", job_id, [&] {
          return compose_object(resolve, setup, obj, job_id, input, outputs,
                                sources, timeout_ms, &board->flag,
                                std::move(progress));
        });
      return for_lease(*board, lease, "render", obj.key, [&] {
        return render_object(resolve, setup, obj, job_id, input, outputs,
                             sources, timeout_ms, &board->flag,
                             std::move(progress));
      });
    },
  };
}

messages::media_control_actor::behavior_type
control_behavior(messages::media_control_actor::pointer,
                 std::shared_ptr<cancel_board> board) {
  return {
    [board](atoms::cancel, uint64_t lease) {
      board->cancel(lease);
      return true;
    },
  };
}

} // namespace

std::string parse_render_input(const std::string& input,
                               render_request& req) {
  auto doc = nlohmann::json::parse(input, nullptr, false);
  if (doc.is_discarded() || !doc.is_object())
    return "not a JSON object";
  auto recipe = doc.find("recipe");
  if (recipe == doc.end() || !recipe->is_object())
    return "no recipe object";
  try {
    if (auto t = recipe->find("thumbnails"); t != recipe->end())
      for (auto& x : *t)
        req.thumbnails.push_back({x.at("name").get<std::string>(),
                                  x.at("width").get<int>(),
                                  x.at("height").get<int>()});
    if (auto r = recipe->find("renditions"); r != recipe->end())
      for (auto& x : *r)
        req.renditions.push_back(
          {x.at("name").get<std::string>(), x.at("height").get<int>()});
    if (auto at = recipe->find("thumbnail_at"); at != recipe->end())
      req.thumbnail_at = at->get<double>();
    if (auto k = recipe->find("keyframe_thumbnails"); k != recipe->end())
      req.keyframe_thumbnails = k->get<bool>();
  } catch (const nlohmann::json::exception& ex) {
    return std::string{"malformed recipe: "} + ex.what();
  }
  auto plain = [](const std::string& name) {
    return !name.empty() && name.size() <= 64
           && name.find_first_not_of("abcdefghijklmnopqrstuvwxyz"
                                     "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
                == std::string::npos;
  };
  for (auto& x : req.thumbnails)
    if (!plain(x.name) || x.box_width < 16 || x.box_width > 3840
        || x.box_height < 16 || x.box_height > 3840)
      return "bad thumbnail '" + x.name + "'";
  for (auto& x : req.renditions)
    if (!plain(x.name) || x.height < 16 || x.height > 4320)
      return "bad rendition '" + x.name + "'";
  return {};
}

std::vector<std::string> render_output_keys(const std::string& job_id,
                                            const std::string& recipe) {
  if (messages::is_composition_recipe(recipe)) {
    auto key = composition_output_key(job_id, recipe);
    return key.empty() ? std::vector<std::string>{}
                       : std::vector<std::string>{key};
  }
  auto doc = nlohmann::json::parse(recipe, nullptr, false);
  std::vector<std::string> keys;
  if (!doc.is_object())
    return keys;
  auto prefix = messages::outputs_prefix(job_id);
  for (auto [list, ext] : {std::pair{"thumbnails", ".jpg"},
                           std::pair{"renditions", ".mp4"}}) {
    auto l = doc.find(list);
    if (l == doc.end() || !l->is_array())
      continue;
    for (auto& x : *l)
      if (x.is_object() && x.contains("name") && x["name"].is_string())
        keys.push_back(prefix + x["name"].get<std::string>() + ext);
  }
  return keys;
}

std::string check_render_output(const std::string& job_id,
                                const std::string& bucket,
                                const std::string& reuse_job,
                                const std::string& recipe,
                                const std::string& output) {
  if (messages::is_composition_recipe(recipe))
    return check_composition_output(job_id, bucket, recipe, output);
  auto doc = nlohmann::json::parse(output, nullptr, false);
  if (!doc.is_object())
    return "not a JSON object";
  auto want = nlohmann::json::parse(recipe, nullptr, false);
  auto prefix = messages::outputs_prefix(job_id);
  for (auto [list, ext] : {std::pair{"thumbnails", ".jpg"},
                           std::pair{"renditions", ".mp4"}}) {
    // Exactly the recipe's outputs, each once, made or skipped.
    std::vector<std::string> names;
    if (want.is_object())
      if (auto w = want.find(list); w != want.end() && w->is_array())
        for (auto& x : *w)
          if (x.is_object() && x.contains("name") && x["name"].is_string())
            names.push_back(x["name"].get<std::string>());
    auto l = doc.find(list);
    if (l == doc.end()) {
      if (!names.empty())
        return std::string{"it lists no "} + list;
      continue;
    }
    if (!l->is_array())
      return std::string{list} + " is not an array";
    std::vector<std::string> seen;
    for (auto& e : *l) {
      if (!e.is_object() || !e.contains("name") || !e["name"].is_string())
        return std::string{"an entry of "} + list + " has no name";
      auto name = e["name"].get<std::string>();
      if (std::find(names.begin(), names.end(), name) == names.end())
        return "it lists '" + name + "', which the recipe does not ask for";
      if (std::find(seen.begin(), seen.end(), name) != seen.end())
        return "it lists '" + name + "' twice";
      seen.push_back(name);
      for (auto& [field, value] : e.items()) {
        static constexpr std::array<const char*, 12> known{
          "name",     "width",       "height",      "content_type",
          "bytes",    "bucket",      "key",         "duration",
          "video_codec", "audio_codec", "skipped", "worker"};
        if (std::none_of(known.begin(), known.end(),
                         [&f = field](const char* k) { return f == k; }))
          return "an entry has an unknown field '" + field.substr(0, 32)
                 + "'";
        static_cast<void>(value);
      }
      if (e.contains("skipped")) {
        if (!e["skipped"].is_string() || e.contains("key"))
          return "a skipped entry must only say why";
        continue;
      }
      auto b = e.find("bucket");
      auto k = e.find("key");
      if (b == e.end() || k == e.end() || !b->is_string() || !k->is_string())
        return std::string{"an entry of "} + list + " has no bucket and key";
      if (b->get<std::string>() != bucket)
        return "an output is stored in another bucket";
      if (k->get<std::string>() != prefix + name + ext)
        return "output '" + name + "' is not stored as " + prefix + name + ext;
    }
    if (seen.size() != names.size())
      return std::string{"it does not list every one of the "} + list;
  }
  if (auto r = doc.find("reused_from"); r != doc.end()) {
    if (reuse_job.empty() || !r->is_string()
        || r->get<std::string>() != reuse_job)
      return "it names a job to have reused outputs from that was not "
             "offered";
  }
  return {};
}

media_handles spawn_media_actor(caf::actor_system& sys,
                                object_resolver resolver,
                                render_setup render) {
  auto board = std::make_shared<cancel_board>();
  media_handles result;
  result.media = sys.spawn<caf::detached>(media_behavior, std::move(resolver),
                                          board, std::move(render));
  // Event-based: it must answer while the media actor blocks in libav.
  result.control = sys.spawn(control_behavior, board);
  return result;
}

} // namespace vf::adapters::media

namespace vf::adapters::media {

namespace {

/// Memory that any render holds regardless of size (codecs, muxers,
/// buffers), in bytes.
constexpr double render_base_bytes = 48.0 * 1024 * 1024;

/// Source frames a decoder keeps (references, frame threads, the split).
constexpr double decoded_frames = 16;

/// Frames' worth of memory one x264 encode holds at preset `fast`
/// (look-ahead 30, references, B-frames, half-resolution planes, macroblock
/// data); fitted to ffmpeg's peak for 1080p to 1080p/720p/480p.
constexpr double encoder_frames = 120;

/// Sides beyond this are not real video (the probe refuses them); they
/// only keep the arithmetic finite.
constexpr double max_side = 65536;

/// Bytes of one 8-bit 4:2:0 frame.
double frame_bytes(double width, double height) {
  return width * height * 1.5;
}

} // namespace

std::string content_digest_of(const std::string& probe_output) {
  auto doc = nlohmann::json::parse(probe_output, nullptr, false);
  if (!doc.is_object())
    return {};
  auto f = doc.find("format");
  if (f == doc.end() || !f->is_object())
    return {};
  auto d = f->find("sha256");
  if (d == f->end() || !d->is_string())
    return {};
  auto x = d->get<std::string>();
  if (x.size() != 64
      || x.find_first_not_of("0123456789abcdef") != std::string::npos)
    return {};
  return x;
}

std::string make_render_input(const std::string& recipe,
                              const std::string& metadata,
                              const std::string& reuse_job,
                              const std::string& reuse_outputs) {
  using nlohmann::json;
  json doc = json::object();
  auto r = json::parse(recipe, nullptr, false);
  doc["recipe"] = r.is_object() ? std::move(r) : json::object();
  auto m = json::parse(metadata, nullptr, false);
  doc["metadata"] = m.is_object() ? std::move(m) : json(nullptr);
  if (!reuse_job.empty()) {
    auto o = json::parse(reuse_outputs, nullptr, false);
    if (o.is_object())
      doc["reuse"] = json{{"job_id", reuse_job}, {"outputs", std::move(o)}};
  }
  return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

namespace {

/// Width and height of the first video stream `metadata` describes (0, 0
/// when there is none), clamped like the cost estimate.
std::pair<double, double> video_size(const nlohmann::json& meta) {
  if (meta.is_object() && meta.contains("streams")
      && meta["streams"].is_array())
    for (auto& s : meta["streams"])
      if (s.is_object() && s.value("codec_type", "") == "video"
          && s.contains("width") && s["width"].is_number()
          && s.contains("height") && s["height"].is_number())
        return {std::clamp(s["width"].get<double>(), 0.0, max_side),
                std::clamp(s["height"].get<double>(), 0.0, max_side)};
  return {0, 0};
}

} // namespace

render_cost estimate_render_cost(const std::string& recipe,
                                 const std::string& metadata,
                                 uint32_t threads) {
  render_cost cost;
  cost.threads = std::max(1u, threads);
  double bytes = render_base_bytes;
  if (messages::is_composition_recipe(recipe)) {
    // Every source stays open while the graph runs (each with its
    // decoder's frames, counted at the output size they are scaled to),
    // and one encode.
    auto [w, h] = composition_size(recipe);
    auto side = [](int x) {
      return std::clamp(static_cast<double>(x), 0.0, max_side);
    };
    auto opened = static_cast<double>(composition_sources(recipe).size());
    bytes += (encoder_frames + opened * decoded_frames)
             * frame_bytes(side(w), side(h));
    // A still picture is held decoded at its own size (up to 8 bytes a
    // pixel) until its clip ends; the API notes its size on the source.
    auto doc = nlohmann::json::parse(recipe, nullptr, false);
    if (doc.is_object() && doc["composition"].is_object()
        && doc["composition"]["sources"].is_array())
      for (auto& x : doc["composition"]["sources"])
        if (x.is_object() && x.contains("still") && x["still"].is_boolean()
            && x["still"].get<bool>() && x["pixels"].is_number_unsigned())
          bytes += 8.0 * std::min(x["pixels"].get<double>(),
                                  static_cast<double>(max_picture_pixels));
    cost.memory_mb = static_cast<uint64_t>(std::ceil(bytes / (1024 * 1024)));
    return cost;
  }
  auto meta = nlohmann::json::parse(metadata, nullptr, false);
  auto r = nlohmann::json::parse(recipe, nullptr, false);
  auto [width, height] = video_size(meta);
  if (width > 0 && height > 0 && r.is_object()) {
    bytes += decoded_frames * frame_bytes(width, height);
    if (auto l = r.find("renditions"); l != r.end() && l->is_array())
      for (auto& x : *l) {
        if (!x.is_object() || !x.contains("height")
            || !x["height"].is_number())
          continue;
        auto h = std::clamp(x["height"].get<double>(), 0.0, max_side);
        if (h > height)
          continue; // Never upscaled: not made.
        bytes += encoder_frames * frame_bytes(h * width / height, h);
      }
    if (auto l = r.find("thumbnails"); l != r.end() && l->is_array())
      for (auto& x : *l)
        if (x.is_object() && x.contains("width") && x["width"].is_number()
            && x.contains("height") && x["height"].is_number())
          bytes += 3 * frame_bytes(
                   std::clamp(x["width"].get<double>(), 0.0, max_side),
                   std::clamp(x["height"].get<double>(), 0.0, max_side));
  }
  cost.memory_mb = static_cast<uint64_t>(std::ceil(bytes / (1024 * 1024)));
  return cost;
}

std::vector<messages::task> split_render(const messages::task& t, size_t most) {
  std::vector<messages::task> parts;
  auto doc = nlohmann::json::parse(t.input, nullptr, false);
  if (most < 2 || !doc.is_object() || doc.contains("reuse")
      || !doc.contains("recipe") || !doc["recipe"].is_object())
    return parts; // A copy of earlier outputs is cheap: one task.
  auto& recipe = doc["recipe"];
  auto meta = doc.contains("metadata") ? doc["metadata"] : nlohmann::json{};
  auto [width, height] = video_size(meta);
  auto r = recipe.find("renditions");
  if (width <= 0 || height <= 0 || r == recipe.end() || !r->is_array())
    return parts;
  // Renditions that are made (never upscaled), heaviest first, go to the
  // lightest part so far by pixels per frame (one part per rendition at
  // most, `most` parts at most); the rest (thumbnails, renditions not
  // made) go with the lightest part. Each part decodes the source once:
  // worth it when encoding dominates, i.e. two or more renditions are
  // made.
  std::vector<std::pair<double, nlohmann::json>> made;
  std::vector<nlohmann::json> rest;
  for (auto& x : *r) {
    if (!x.is_object() || !x.contains("height") || !x["height"].is_number())
      return {};
    auto h = std::clamp(x["height"].get<double>(), 0.0, max_side);
    if (h > height)
      rest.push_back(x);
    else
      made.emplace_back(h * h * width / height, x);
  }
  auto n = std::min(most, made.size());
  if (n < 2)
    return parts;
  std::stable_sort(made.begin(), made.end(),
                   [](auto& a, auto& b) { return a.first > b.first; });
  std::vector<double> load(n, 0.0);
  std::vector<nlohmann::json> lists(n, nlohmann::json::array());
  for (auto& [px, x] : made) {
    auto i = static_cast<size_t>(std::min_element(load.begin(), load.end())
                                 - load.begin());
    load[i] += px;
    lists[i].push_back(x);
  }
  auto light = static_cast<size_t>(std::min_element(load.begin(), load.end())
                                   - load.begin());
  for (auto& x : rest)
    lists[light].push_back(x);
  for (size_t i = 0; i < n; ++i) {
    auto sub = recipe;
    sub["renditions"] = lists[i];
    if (i != light)
      sub["thumbnails"] = nlohmann::json::array();
    auto text = sub.dump();
    auto part = t;
    part.input = make_render_input(text, meta.dump(), "", "");
    auto cost = estimate_render_cost(text, meta.dump(), t.threads);
    part.memory_mb = cost.memory_mb;
    auto keys = render_output_keys(t.job_id, text);
    part.outputs.clear();
    for (auto& o : t.outputs)
      if (std::find(keys.begin(), keys.end(), o.key) != keys.end())
        part.outputs.push_back(o);
    parts.push_back(std::move(part));
  }
  return parts;
}

std::string merge_render(const messages::task& t,
                         const std::vector<std::string>& inputs,
                         const std::vector<std::string>& outputs,
                         const std::vector<std::string>& workers) {
  auto doc = nlohmann::json::parse(t.input, nullptr, false);
  nlohmann::json recipe = doc.is_object() && doc.contains("recipe")
                            ? doc["recipe"]
                            : nlohmann::json::object();
  // Every entry of every part, by list and name, with the worker that
  // made it.
  std::map<std::string, std::map<std::string, nlohmann::json>> found;
  for (size_t i = 0; i < outputs.size(); ++i) {
    auto part = nlohmann::json::parse(outputs[i], nullptr, false);
    if (!part.is_object())
      continue;
    // Only the outputs this part was given: one part must not speak for
    // another's.
    nlohmann::json mine;
    if (i < inputs.size()) {
      auto in = nlohmann::json::parse(inputs[i], nullptr, false);
      if (in.is_object() && in.contains("recipe"))
        mine = in["recipe"];
    }
    for (auto list : {"thumbnails", "renditions"}) {
      auto l = part.find(list);
      auto given = mine.is_object() ? mine.find(list) : mine.end();
      if (l == part.end() || !l->is_array() || !mine.is_object()
          || given == mine.end() || !given->is_array())
        continue;
      for (auto e : *l) {
        if (!e.is_object() || !e.contains("name") || !e["name"].is_string())
          continue;
        auto name = e["name"].get<std::string>();
        if (std::none_of(given->begin(), given->end(), [&name](auto& x) {
              return x.is_object() && x.value("name", "") == name;
            }))
          continue;
        e.erase("worker");
        if (i < workers.size() && !e.contains("skipped"))
          e["worker"] = workers[i];
        found[list].emplace(name, std::move(e));
      }
    }
  }
  // In the recipe's order, like a render in one piece.
  nlohmann::json out;
  for (auto list : {"thumbnails", "renditions"}) {
    out[list] = nlohmann::json::array();
    auto l = recipe.find(list);
    if (l == recipe.end() || !l->is_array())
      continue;
    for (auto& x : *l) {
      if (!x.is_object() || !x.contains("name") || !x["name"].is_string())
        continue;
      auto f = found[list].find(x["name"].get<std::string>());
      if (f != found[list].end())
        out[list].push_back(std::move(f->second));
    }
  }
  return out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

} // namespace vf::adapters::media
