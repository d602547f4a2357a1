// vf/messages/admin_console_actor.hpp

#pragma once

#include "caf/replies_to.hpp"
#include "caf/typed_actor.hpp"

#include "vf/messages/type_ids.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace vf::messages {

/// The text an operator's admin key signs (HMAC-SHA256, hex) so that the
/// console answers the CAF node `node` (its `to_string`) from Unix ms
/// `at_ms` on.
inline std::string console_payload(const std::string& node, int64_t at_ms) {
  return "vidflow-admin-console\n" + node + "\n" + std::to_string(at_ms);
}

/// The operators' door: one look at the coordinator and the commands that
/// steer it. The HTTP admin routes (`/admin/...`) and `vidflow admin`
/// (over HTTP, or over the cluster's TLS connection) ask this actor, so
/// the CLI and the API never disagree.
///
/// - `(overview)` → versions, uptime, intake paused or not, jobs by status,
///   the dispatcher's queues and slots, the worker nodes.
/// - `(active)` → every job in SUBMITTED or PROCESSING, oldest first (the
///   ones that may be stuck).
/// - `(find_jobs, query)` → the jobs matching the search (a status, an
///   owner, part of a file name), most recently changed first (the job
///   store's answer); `errc::invalid_argument` for a bad query.
/// - `(get, id)` → the job and its attempt ledger, oldest first;
///   `errc::not_found`.
/// - `(pause)` → `true`: intake paused (new jobs answer
///   `errc::intake_paused`; uploads already accepted still process).
/// - `(resume)` → `false`: intake open again.
/// - `(dlq_list, since_ms, limit)` → dead letters, newest first;
///   `(dlq_get, id)` → a job's latest dead letter; `(dlq_remove, id)` →
///   `true` if records were removed (the job registry's answers).
/// - `(nodes)` → the worker nodes that joined; `errc::storage_unavailable`
///   without a cluster registry.
/// - `(analyze, window_ms)` → the incident report (0: all records);
///   `errc::storage_unavailable` without an analyzer.
/// - `(redrive, job_id)` → the job, queued again (orchestrator);
///   `(redrive, category, name)` → how many jobs of that incident
///   category were redriven.
/// - `(cancel, job_id)` → the cancelled job (orchestrator).
/// - `(drain, node)` → leases node `node` still holds; it gets no new
///   tasks. `(undrain, node)` → the same count; it gets tasks again.
///   `errc::not_found` for a node that did not join.
/// - `(admit, at_ms, mac)` → `true`: from now until its connection ends
///   (at most an hour), the sender's CAF node may ask everything above.
///   `mac` is the hex HMAC-SHA256 of `console_payload(node, at_ms)` under
///   the cluster admin key, `at_ms` within 60 s of the coordinator's clock.
///
/// Two actors have this interface: the console itself (`admin_console`),
/// which answers actors of its own process only and never leaves it, and
/// the operators' gate (`admin_gate`), the one handle remote operators get,
/// which admits by `admit` and passes everything else to the console.
///
/// Sent by: the HTTP adapter (admin routes), `vidflow admin --cluster`
/// (through the gate).
using admin_console_actor = caf::typed_actor<
  caf::replies_to<atoms::overview>::with<admin_overview>,
  caf::replies_to<atoms::active>::with<std::vector<job>>,
  caf::replies_to<atoms::find_jobs, job_query>::with<std::vector<job>>,
  caf::replies_to<atoms::get, std::string>::with<
    job, std::vector<attempt_record>>,
  caf::replies_to<atoms::pause>::with<bool>,
  caf::replies_to<atoms::resume>::with<bool>,
  caf::replies_to<atoms::dlq_list, int64_t, uint32_t>::with<
    std::vector<dead_letter>>,
  caf::replies_to<atoms::dlq_get, std::string>::with<dead_letter>,
  caf::replies_to<atoms::dlq_remove, std::string>::with<bool>,
  caf::replies_to<atoms::nodes>::with<std::vector<cluster_node>>,
  caf::replies_to<atoms::analyze, int64_t>::with<incident_report>,
  caf::replies_to<atoms::redrive, std::string>::with<job>,
  caf::replies_to<atoms::redrive, atoms::category, std::string>::with<
    uint64_t>,
  caf::replies_to<atoms::cancel, std::string>::with<job>,
  caf::replies_to<atoms::drain, std::string>::with<uint64_t>,
  caf::replies_to<atoms::undrain, std::string>::with<uint64_t>,
  caf::replies_to<atoms::admit, int64_t, std::string>::with<bool>>;

} // namespace vf::messages
