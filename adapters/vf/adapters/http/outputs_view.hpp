// vf/adapters/http/outputs_view.hpp
//
// A job's stored media outputs (the render step's JSON) as clients see them:
// in `GET /jobs/{id}/result`, `/download/{name}` and the video library.

#pragma once

#include <nlohmann/json.hpp>

#include "vf/adapters/http/api_server.hpp"

#include <optional>
#include <string>

namespace vf::adapters::http {

/// The stored outputs list (`{"thumbnails": [...], "renditions": [...]}`,
/// entries with bucket and key) as clients see it: the documented fields
/// only, a fresh presigned `url` per output made.
nlohmann::json outputs_json(const api_config& cfg, const std::string& stored);

/// The stored entry of output `name` (a thumbnail or rendition), if any.
std::optional<nlohmann::json> find_output(const std::string& stored,
                                          const std::string& name);

} // namespace vf::adapters::http
