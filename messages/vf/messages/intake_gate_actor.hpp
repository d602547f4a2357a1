// vf/messages/intake_gate_actor.hpp
//
// What the JSON API asks of the domain, as narrow interfaces: the
// coordinator's actors serve them in process, and an ingestion node
// reaches them through the coordinator's intake gate over CAF's network
// layer (mutual TLS). A narrow handle converts from the full one (CAF
// accepts a handle with more signatures where fewer are expected), so the
// API can never send an ingestion node's request to anything it does not
// name here.

#pragma once

#include "caf/replies_to.hpp"
#include "caf/typed_actor.hpp"

#include "vf/messages/dispatcher_actor.hpp"
#include "vf/messages/job_registry_actor.hpp"
#include "vf/messages/type_ids.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace vf::messages {

/// The job registry as the API uses it (see `job_registry_actor` for each
/// message). Pausing intake and the dead-letter queue are the admin
/// console's, not here.
using api_registry_actor = caf::typed_actor<
  caf::replies_to<atoms::create, job_request>::with<job>,
  caf::replies_to<atoms::create_keyed, job_request>::with<job, bool>,
  caf::replies_to<atoms::get, std::string>::with<job>,
  caf::replies_to<atoms::history, std::string, uint32_t,
                  std::string>::with<std::vector<job>>,
  caf::replies_to<atoms::events, std::string,
                  uint64_t>::with<std::vector<job_event>>,
  caf::replies_to<atoms::deliveries, std::string>::with<std::vector<delivery>>,
  caf::replies_to<atoms::get_result, std::string>::with<job_result>,
  caf::replies_to<atoms::counts>::with<status_counts>,
  caf::replies_to<atoms::attempts,
                  std::string>::with<std::vector<attempt_record>>,
  caf::replies_to<atoms::erase, std::string>::with<uint64_t>,
  caf::replies_to<atoms::await_end, std::string, uint32_t>::with<bool>>;

/// The orchestrator as the API uses it: `(cancel, id)` → the job after
/// cancelling, `(compose, id)` → the composition started (see
/// `orchestrator_actor`).
using api_orchestrator_actor
  = caf::typed_actor<caf::replies_to<atoms::cancel, std::string>::with<job>,
                     caf::replies_to<atoms::compose, std::string>::with<job>>;

/// The dispatcher as the API uses it: queue statistics and where a job's
/// tasks stand (see `dispatcher_actor`).
using api_dispatcher_actor
  = caf::typed_actor<caf::replies_to<atoms::stats>::with<dispatcher_stats>,
                     caf::replies_to<atoms::lease_of, std::string>::with<
                       std::vector<task_progress>>>;

/// Everything an ingestion node's API asks, in one handle: the union of
/// the three interfaces above. Served on an ingestion node by its
/// coordinator proxy (which passes each request to the coordinator's
/// intake gate, or answers `errc::storage_unavailable` while the
/// coordinator is away).
using api_domain_actor = api_registry_actor::extend_with<
  api_orchestrator_actor>::extend_with<api_dispatcher_actor>;

/// The text an ingestion node signs (hex HMAC-SHA256 under the cluster
/// ingest key) to be admitted: `node` is its CAF node (`to_string`), `at_ms`
/// Unix ms within 60 s of the coordinator's clock.
inline std::string intake_payload(const std::string& node, int64_t at_ms) {
  return "vidflow-cluster-intake\n" + node + "\n" + std::to_string(at_ms);
}

/// The coordinator's door for ingestion nodes (`intake_gate`), handed out
/// by the cluster registry's `(intake, at_ms, mac)`.
///
/// - `(admit, at_ms, mac)` → `true`: admits the sender's CAF node until its
///   connection ends when `mac` signs `intake_payload(node, at_ms)` under
///   the cluster ingest key; each `mac` once (`errc::unauthorized`).
/// - `(get, atoms::head)` → the accounts file's text (`users.json`: names,
///   roles, password hashes, token epochs), so logins and tokens work the
///   same on every ingestion node.
/// - every message of `api_domain_actor`: passed to the coordinator's
///   registry, orchestrator or dispatcher, and their answer (or error)
///   passed back.
///
/// Every message but `admit` answers `errc::unauthorized` unless the
/// sender's node is admitted. An admitted ingestion node may do what any
/// user of the API may do, for any user (it authenticates them), and
/// nothing of the operators' (the admin console, the dead-letter queue,
/// the cluster) — those stay on the coordinator's own API.
using intake_gate_actor = api_domain_actor::extend<
  caf::replies_to<atoms::admit, int64_t, std::string>::with<bool>,
  caf::replies_to<atoms::get, atoms::head>::with<std::string>>;

} // namespace vf::messages
