// vf/adapters/http/job_access.hpp
//
// Who may see a job, and the look-up every `/jobs/{id}/...` route starts
// with.

#pragma once

#include "vf/adapters/http/call.hpp"
#include "vf/messages/atoms.hpp"
#include "vf/messages/job.hpp"

#include <string>
#include <utility>

namespace vf::adapters::http {

/// Whether `who` may see job `x`: its owner, or an admin.
inline bool may_see(const jwt_claims& who, const messages::job& x) {
  return who.role == "admin" || x.owner == who.sub;
}

/// Looks up the job of the path and checks the caller may see it; answers
/// 404/503 itself, else calls `then(reply&, job&)`.
template <class Then>
void with_visible_job(call& c, Then then) {
  std::string id{c.param()};
  c.ask(c.state().handles.registry, atoms::get_v, id)
    .then(
      [who = std::move(c.who()),
       then = std::move(then)](reply& r, messages::job& j) mutable {
        // Someone else's job does not exist as far as this caller knows.
        if (!may_see(who, j)) {
          r.send(not_found_job(j.id));
          return;
        }
        then(r, j);
      },
      [id](reply& r, caf::error& err) { r.fail(err, not_found_job(id)); });
}

} // namespace vf::adapters::http
