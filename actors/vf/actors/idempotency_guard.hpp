// vf/actors/idempotency_guard.hpp

#pragma once

#include "caf/stateful_actor.hpp"
#include "caf/typed_event_based_actor.hpp"
#include "caf/typed_response_promise.hpp"

#include "vf/actors/request_timeouts.hpp"
#include "vf/messages/claim_store_actor.hpp"
#include "vf/messages/idempotency_guard_actor.hpp"

#include <deque>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace vf::actors {

/// State of the idempotency guard: a bounded cache of keys known to be
/// claimed (answers duplicates without a store round trip) and the claims
/// in flight (so racing duplicates never reach the store as "first").
struct idempotency_guard_state {
  static inline const char* name = "vf.idempotency-guard";

  /// Keys known to be claimed, bounded by `capacity` (oldest evicted).
  std::unordered_set<std::string> known;
  /// Insertion order of `known`, for eviction: pointers to its elements
  /// (stable across rehashes), so each key is held once (~90 bytes each,
  /// 100,000 of them by default).
  std::deque<const std::string*> order;
  /// Claims waiting for the store; the first promise belongs to the first
  /// claimant, the rest to duplicates that arrived meanwhile.
  std::unordered_map<std::string, std::vector<caf::typed_response_promise<bool>>>
    pending;
  size_t capacity = 100000;

  /// Remembers `key` as claimed.
  void remember(const std::string& key);
  /// Deadlines of the requests it sent (`ask`).
  request_timeouts timeouts;
};

using idempotency_guard_impl
  = messages::idempotency_guard_actor::stateful_base<idempotency_guard_state>;

/// Spawn with `sys.spawn(idempotency_guard, store, capacity)`.
messages::idempotency_guard_actor::behavior_type
idempotency_guard(idempotency_guard_impl* self,
                  messages::claim_store_actor store, size_t capacity);

} // namespace vf::actors
