// vf/adapters/http/routes.hpp
//
// The API's route table, one function per resource file. To add a route:
// write its handler in the resource's routes_*.cpp, add one entry to that
// file's list, and (for a new pattern) its metric label to `route` in
// exchange.hpp. The router checks the table when it starts.

#pragma once

#include "vf/adapters/http/api_server.hpp"
#include "vf/adapters/http/route_table.hpp"

#include <vector>

namespace vf::adapters::http {

/// `POST /auth/login` (routes_auth.cpp).
std::vector<route_entry> auth_routes();

/// `/jobs`, `/jobs/{id}[/result|/cancel|/attempts]`, `/history`
/// (routes_jobs.cpp).
std::vector<route_entry> job_routes();

/// `GET /jobs/{id}/events` and `/jobs/{id}/ws`: live progress
/// (routes_events.cpp).
std::vector<route_entry> event_routes();

/// `/dlq`, `/dlq/{job_id}`, `/dlq/report`, `/dlq/redrive`
/// (routes_dead_letters.cpp).
std::vector<route_entry> dead_letter_routes();

/// `/admin/status`, `/admin/jobs[/{id}]`, `/admin/pause`, `/admin/resume`,
/// `/admin/nodes/{name}/drain|undrain` (routes_admin.cpp).
std::vector<route_entry> admin_routes();

class call;

/// True if this node runs an admin console (the `/admin`, `/dlq` and
/// `/cluster` routes ask it); otherwise answers 503 and returns false
/// (routes_admin.cpp).
bool has_console(call& c);

/// `/videos`, `/videos/{id}[/view|/like]`, `/stats`: the video library
/// (routes_library.cpp).
std::vector<route_entry> library_routes();

/// `/assets`, `/assets/{id}`, `/compositions[/{id}[/status|/download|
/// /cancel]]`, `/compositions/cancel-all` (routes_compositions.cpp).
std::vector<route_entry> composition_routes();

/// `/jobs/{id}/multipart[/parts|/complete]`: resumable uploads
/// (routes_multipart.cpp).
std::vector<route_entry> multipart_routes();

/// `GET /cluster/nodes` (routes_cluster.cpp).
std::vector<route_entry> cluster_routes();

/// `POST /minio/webhook`, only with a `webhook_token` to check it by: an
/// open webhook lets anyone forge object events (routes_webhook.cpp).
std::vector<route_entry> webhook_routes(const api_config& cfg);

/// `GET /healthz`, `/readyz`, `/metrics` (routes_ops.cpp).
std::vector<route_entry> ops_routes();

/// Every route of the API under `cfg`.
std::vector<route_entry> api_routes(const api_config& cfg);

} // namespace vf::adapters::http
