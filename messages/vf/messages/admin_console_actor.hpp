// vf/messages/admin_console_actor.hpp

#pragma once

#include "caf/replies_to.hpp"
#include "caf/typed_actor.hpp"

#include "vf/messages/type_ids.hpp"

#include <string>
#include <vector>

namespace vf::messages {

/// The operators' door: one look at the coordinator and the commands that
/// steer it. The HTTP admin routes (`/admin/...`) and so `vidflow admin`
/// ask this actor, so the CLI and the API never disagree.
///
/// - `(overview)` → versions, uptime, intake paused or not, jobs by status,
///   the dispatcher's queues and slots, the worker nodes.
/// - `(active)` → every job in SUBMITTED or PROCESSING, oldest first (the
///   ones that may be stuck).
/// - `(get, id)` → the job and its attempt ledger, oldest first;
///   `errc::not_found`.
/// - `(pause)` → `true`: intake paused (new jobs answer
///   `errc::intake_paused`; uploads already accepted still process).
/// - `(resume)` → `false`: intake open again.
///
/// Sent by: the HTTP adapter (admin routes).
using admin_console_actor = caf::typed_actor<
  caf::replies_to<atoms::overview>::with<admin_overview>,
  caf::replies_to<atoms::active>::with<std::vector<job>>,
  caf::replies_to<atoms::get, std::string>::with<
    job, std::vector<attempt_record>>,
  caf::replies_to<atoms::pause>::with<bool>,
  caf::replies_to<atoms::resume>::with<bool>>;

} // namespace vf::messages
