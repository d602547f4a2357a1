// vf/messages/library_actor.hpp

#pragma once

#include "caf/replies_to.hpp"
#include "caf/typed_actor.hpp"

#include "vf/messages/type_ids.hpp"
#include "vf/messages/video.hpp"

#include <cstdint>
#include <string>

namespace vf::messages {

/// Port: the video library, its views and likes (SQLite; served by the
/// job store's actor, in its group-committed transactions). A video is a
/// SUCCEEDED job with a result. Writes are durable before their reply, so
/// a view or like acknowledged survives a crash; a burst of them shares
/// one commit (the store's group commit).
///
/// - `(videos, query)` → one page of the matching videos and their total.
///   Engagement is likes / views (0 without views); ties sort newest first.
/// - `(video, id, viewer)` → the video; `errc::not_found` unless job `id`
///   exists and SUCCEEDED.
/// - `(add_view, id)` → the video's views after this one;
///   `errc::not_found` as above.
/// - `(set_like, id, user, on)` → the video's likes afterwards: `user`'s
///   like is set (`on`) or cleared; setting twice or clearing what is not
///   set changes nothing. `errc::not_found` as above.
/// - `(lib_stats, owner, top, since_ms)` → totals of `owner`'s videos
///   (everyone's if empty), the `top` best by views, likes and engagement,
///   and jobs created per day from `since_ms` on.
///
/// Deleting a job deletes its counts and likes with it.
/// Errors: `errc::storage_unavailable` when the database cannot be used.
using library_actor = caf::typed_actor<
  caf::replies_to<atoms::videos, video_query>::with<video_page>,
  caf::replies_to<atoms::video, std::string, std::string>::with<video_entry>,
  caf::replies_to<atoms::add_view, std::string>::with<uint64_t>,
  caf::replies_to<atoms::set_like, std::string, std::string,
                  bool>::with<uint64_t>,
  caf::replies_to<atoms::lib_stats, std::string, uint32_t,
                  int64_t>::with<library_stats>>;

} // namespace vf::messages
