// vf/runtime/redis_edge.hpp — the `redis.*` settings and the Redis actors
// of a `serve` node (see docs/redis.md).

#pragma once

#include "caf/expected.hpp"

#include "vf/adapters/redis/connection.hpp"
#include "vf/adapters/redis/event_bus.hpp"
#include "vf/messages/claim_store_actor.hpp"
#include "vf/messages/job.hpp"
#include "vf/messages/object_sink_actor.hpp"
#include "vf/runtime/node.hpp"
#include "vf/runtime/settings.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace vf::runtime {

/// What a node uses Redis for.
struct redis_edge_config {
  /// `events.bus = redis`: object events go through the events stream and
  /// ended jobs to the completions stream.
  bool bus = false;
  /// `idempotency.backend = redis`: claims live in Redis.
  bool claims = false;
  adapters::redis::redis_settings redis;
  /// Events handed to the orchestrator at once, at most.
  size_t max_inflight = 256;

  bool used() const {
    return bus || claims;
  }
};

/// The `events.bus`, `idempotency.backend` and `redis.*` keys.
const std::vector<setting_spec>& redis_specs();

/// Parses and checks them; the error names the key. `host` is the default
/// consumer name.
caf::expected<redis_edge_config> redis_edge_of(const settings& xs,
                                               const std::string& host);

/// The Redis actors of a node, kept in `n`.
struct redis_edge {
  /// The event publisher (events go to the stream); invalid: no bus.
  messages::object_sink_actor events;
  /// Idempotency claims in Redis; invalid: the job store's.
  messages::claim_store_actor claims;
  /// Appends an ended job to the completions stream; empty: no stream.
  std::function<void(const messages::job&, int64_t)> on_job_end;
  /// Logging and counters of every Redis actor of this node (made once:
  /// the consumer started later shares them).
  adapters::redis::bus_hooks hooks;
};

/// Spawns the publisher, the completion publisher and the claims store as
/// `cfg` asks. Never blocks on Redis: each connects (and reconnects) by
/// itself.
redis_edge spawn_redis_edge(node& n, const redis_edge_config& cfg,
                            uint64_t seed);

/// Starts the stream consumer that hands events to `sink` (the
/// orchestrator): call after recovery. No-op without the bus.
/// `trust_digest`: the built-in store is this node's store (its events'
/// `sha256` may be believed).
void start_redis_consumer(node& n, const redis_edge_config& cfg,
                          const redis_edge& edge,
                          messages::object_sink_actor sink, uint64_t seed,
                          bool trust_digest);

} // namespace vf::runtime
