// vf/adapters/redis/event_bus.hpp
//
// vidflow's Redis edge, each piece a detached actor owning one hiredis
// connection (hiredis blocks; detached actors have threads of their own):
//
// - the event publisher: `(created, object_event)` → `true` once the event
//   is in the events stream; concurrent events go out in one pipeline;
// - the event consumer: reads the stream through a consumer group, hands
//   each event to the orchestrator and acknowledges it (`XACK`) only after
//   the orchestrator answered, i.e. after the state change is durable;
//   claims entries a dead consumer left pending (`XAUTOCLAIM`) and trims
//   the stream below what every group acknowledged;
// - the completion publisher: appends JobCompleted / JobFailed / … to the
//   completions stream, buffering while Redis is away;
// - the claims store: idempotency claims as `SET key NX`.
//
// While Redis is unreachable each fails fast with
// `errc::storage_unavailable` (the HTTP edge answers 503 + Retry-After) and
// reconnects with jittered backoff.

#pragma once

#include "caf/fwd.hpp"
#include "caf/replies_to.hpp"
#include "caf/typed_actor.hpp"

#include "vf/adapters/redis/connection.hpp"
#include "vf/messages/claim_store_actor.hpp"
#include "vf/messages/job.hpp"
#include "vf/messages/object_sink_actor.hpp"
#include "vf/messages/type_ids.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace vf::adapters::redis {

/// What the Redis actors report: log lines and counts for `/metrics`.
struct bus_hooks {
  /// A warning (connection lost, bad entry, …).
  std::function<void(const std::string&)> warn;
  /// A notable event (connected again, claimed entries).
  std::function<void(const std::string&)> info;
  /// `op` happened `n` times: `published`, `delivered`, `acked`,
  /// `reclaimed`, `rejected`, `retried`, `completions`, `trimmed`,
  /// `unavailable`.
  std::function<void(const char* op, uint64_t n)> count;
};

/// The event publisher's interface (`flush` is its own).
using event_publisher_actor = caf::typed_actor<
  caf::replies_to<atoms::created, messages::object_event>::with<bool>,
  caf::reacts_to<atoms::flush>>;

/// Spawns the event publisher (detached).
event_publisher_actor spawn_event_publisher(caf::actor_system& sys,
                                            redis_settings cfg,
                                            bus_hooks hooks, uint64_t seed);

/// Settings of the event consumer.
struct consumer_config {
  redis_settings redis;
  /// Events handed to the orchestrator and not yet answered, at most.
  size_t max_inflight = 256;
  /// How long the orchestrator may take to answer one event (above its
  /// own worst case: a look-up, a HEAD check, a claim and a write). An
  /// event not answered in time stays pending and is claimed again.
  std::chrono::milliseconds request_timeout{150000};
  /// Whether an entry's `sha256` is believed (content reuse matches
  /// uploads by it): only where the built-in store, which computes it, is
  /// the only source. Every entry's `source` becomes `redis:<source>`, so
  /// the orchestrator checks outside objects as it checks webhook events.
  bool trust_digest = false;
  /// Longest `XREADGROUP … BLOCK` while idle.
  std::chrono::milliseconds block{200};
  /// How often the stream is trimmed.
  std::chrono::milliseconds trim_every{5000};
  bus_hooks hooks;
  uint64_t seed = 1;
};

/// The consumer's interface: `tick` drives its loop.
using event_consumer_actor
  = caf::typed_actor<caf::reacts_to<atoms::tick>>;

/// Spawns the consumer (detached), which starts reading at once: first the
/// entries this consumer name was given and never acknowledged (a previous
/// run of this node), then new ones.
event_consumer_actor spawn_event_consumer(caf::actor_system& sys,
                                          consumer_config cfg,
                                          messages::object_sink_actor sink);

/// The completion publisher: `(events, job, duration_ms)` appends the
/// job's terminal state to the completions stream. Keeps up to
/// `max_buffered` entries while Redis is away (the oldest go first, counted
/// as `dropped` in a warning).
using completion_actor = caf::typed_actor<
  caf::reacts_to<atoms::events, messages::job, int64_t>,
  caf::reacts_to<atoms::flush>>;

completion_actor spawn_completion_publisher(caf::actor_system& sys,
                                            redis_settings cfg,
                                            bus_hooks hooks, uint64_t seed,
                                            size_t max_buffered = 100000);

/// Idempotency claims in Redis: `(claim, key, job_id)` →
/// `SET <prefix>claim:<key> <job_id> NX [PX claim_ttl]`, `true` when set.
messages::claim_store_actor spawn_redis_claims(caf::actor_system& sys,
                                               redis_settings cfg,
                                               bus_hooks hooks,
                                               uint64_t seed);

/// Trims `stream` below what every consumer group acknowledged (`XTRIM
/// MINID ~`), or to about `max_length` entries when it has no group.
/// Returns the entries removed. Used by the consumer and the completion
/// publisher; public for tests.
caf::expected<uint64_t> trim_stream(connection& conn, const std::string& stream,
                                    uint64_t max_length);

} // namespace vf::adapters::redis
