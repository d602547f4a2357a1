// vf/adapters/http/job_access.hpp
//
// Who may see a job, and the look-up every `/jobs/{id}/...` route starts
// with.

#pragma once

#include "vf/adapters/http/call.hpp"
#include "vf/messages/atoms.hpp"
#include "vf/messages/errc.hpp"
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

/// Deletes job `j` and everything it made: cancels it first unless it
/// ended (nothing may store outputs of a deleted job; a job that ended
/// meanwhile is deleted all the same), then erases its objects and
/// records; calls `done(reply&, objects_deleted)`, or answers an error
/// with `missing(id)` for a job that is gone.
template <class Done, class Missing>
void cancel_and_erase(reply& r, const messages::job& j, Done done,
                      Missing missing) {
  auto erase = [id = j.id, done, missing](reply& r) {
    r.ask(r.state().handles.registry, atoms::erase_v, id)
      .then([done](reply& r, uint64_t objects) { done(r, objects); },
            [id, missing](reply& r, caf::error& err) {
              r.fail(err, missing(id));
            });
  };
  if (messages::is_terminal(j.status)) {
    erase(r);
    return;
  }
  r.ask(r.state().handles.orchestrator, atoms::cancel_v, j.id)
    .then([erase](reply& r, messages::job&) { erase(r); },
          [erase, id = j.id, missing](reply& r, caf::error& err) {
            if (messages::errc_of(err) == messages::errc::conflict)
              erase(r);
            else
              r.fail(err, missing(id));
          });
}

} // namespace vf::adapters::http
