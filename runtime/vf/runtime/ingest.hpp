// vf/runtime/ingest.hpp — `vidflow serve --role ingest`: a stateless intake
// node. It runs the webhook endpoint (and /healthz, /readyz, /metrics)
// and publishes every object event to the Redis events stream; no job
// store, no object store, no workers. Several run behind one address; the
// coordinator consumes the stream, also after it was away.

#pragma once

#include "vf/runtime/node_config.hpp"
#include "vf/runtime/redis_edge.hpp"

namespace vf::runtime {

/// Runs an ingestion node until SIGINT/SIGTERM; returns the exit code.
int serve_ingest(const node_config& cfg, const redis_edge_config& redis);

} // namespace vf::runtime
