// vf/messages/stores.hpp

#pragma once

#include "vf/messages/claim_store_actor.hpp"
#include "vf/messages/dead_letter_store_actor.hpp"
#include "vf/messages/job_store_actor.hpp"
#include "vf/messages/ledger_actor.hpp"
#include "vf/messages/library_actor.hpp"

namespace vf::messages {

/// The durable stores, one port each. Actors hold only the ports they use;
/// a backend implements only the ports it serves, and `runtime/ports.cpp`
/// chooses which backend serves which.
struct stores {
  job_store_actor jobs;
  claim_store_actor claims;
  ledger_actor ledger;
  dead_letter_store_actor dead_letters;
  /// The video library's views and likes; invalid when the backend has no
  /// library (DynamoDB: the routes answer 501 then).
  library_actor library = {};
};

/// All four ports in one actor: what the SQLite store implements (one
/// database, one group-committed transaction for all of them) and what
/// the tests' shared fake implements.
using store_actor = job_store_actor::extend_with<
  claim_store_actor, ledger_actor, dead_letter_store_actor>;

/// Every port of `stores` served by `all`.
inline stores stores_of(const store_actor& all) {
  return stores{job_store_actor{all}, claim_store_actor{all}, ledger_actor{all},
                dead_letter_store_actor{all}, library_actor{}};
}

} // namespace vf::messages
