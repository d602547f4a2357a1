// vf/adapters/http/outputs_view.cpp

#include "vf/adapters/http/outputs_view.hpp"

namespace vf::adapters::http {

// The stored outputs list (`{"thumbnails": [...], "renditions": [...]}`,
// entries with bucket and key) as clients see it: the documented fields
// only (no bucket, key or worker: which node made it is for operators, in
// GET /jobs/{id} progress), a fresh presigned `url` per output made.
nlohmann::json outputs_json(const api_config& cfg, const std::string& stored) {
  auto doc = nlohmann::json::parse(stored, nullptr, false);
  nlohmann::json out = {{"thumbnails", nlohmann::json::array()},
                        {"renditions", nlohmann::json::array()}};
  if (doc.is_discarded() || !doc.is_object())
    return out;
  for (auto list : {"thumbnails", "renditions"}) {
    auto i = doc.find(list);
    if (i == doc.end() || !i->is_array())
      continue;
    for (auto& e : *i) {
      if (!e.is_object())
        continue;
      // Known fields only: whatever else a worker wrote stays inside.
      nlohmann::json x = nlohmann::json::object();
      for (auto field : {"name", "skipped", "width", "height", "content_type",
                         "bytes", "duration", "video_codec", "audio_codec"})
        if (auto f = e.find(field); f != e.end())
          x[field] = *f;
      if (!e.contains("skipped") && cfg.presign_download)
        x["url"]
          = cfg.presign_download(e.value("bucket", ""), e.value("key", ""));
      out[list].push_back(std::move(x));
    }
  }
  return out;
}

// The stored entry of output `name` (a thumbnail or rendition), if any.
std::optional<nlohmann::json> find_output(const std::string& stored,
                                          const std::string& name) {
  auto doc = nlohmann::json::parse(stored, nullptr, false);
  if (doc.is_discarded() || !doc.is_object())
    return std::nullopt;
  for (auto list : {"thumbnails", "renditions"}) {
    auto i = doc.find(list);
    if (i == doc.end() || !i->is_array())
      continue;
    for (auto& e : *i)
      if (e.is_object() && e.value("name", "") == name)
        return e;
  }
  return std::nullopt;
}

} // namespace vf::adapters::http
