// vf/messages/video.hpp
//
// The video library (GET /videos, /stats): a processed video is a
// SUCCEEDED job with its result; views and likes are counted per video.

#pragma once

#include "caf/meta/type_name.hpp"

#include "vf/messages/job.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace vf::messages {

/// One processed video: its job, its result and its counts.
struct video_entry {
  job source;
  job_result result;
  uint64_t views = 0;
  uint64_t likes = 0;
  /// Whether the viewer the query named likes it (false without one).
  bool liked = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, video_entry& x) {
  return f(caf::meta::type_name("video_entry"), x.source, x.result, x.views,
           x.likes, x.liked);
}

/// How `GET /videos` sorts.
enum class video_order : uint8_t { created, views, likes, engagement };

/// A page of the library.
struct video_query {
  /// Whose videos; empty: everyone's (admins only, checked at the edge).
  std::string owner;
  video_order sort_by = video_order::created;
  bool descending = true;
  uint32_t limit = 20;
  uint32_t offset = 0;
  /// Whose likes `video_entry::liked` reports; empty: nobody's.
  std::string viewer;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, video_query& x) {
  return f(caf::meta::type_name("video_query"), x.owner, x.sort_by,
           x.descending, x.limit, x.offset, x.viewer);
}

/// One page and how many videos the query matches in all.
struct video_page {
  std::vector<video_entry> items;
  uint64_t total = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, video_page& x) {
  return f(caf::meta::type_name("video_page"), x.items, x.total);
}

/// Uploads of one UTC day (`YYYY-MM-DD`).
struct day_count {
  std::string day;
  uint64_t uploads = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, day_count& x) {
  return f(caf::meta::type_name("day_count"), x.day, x.uploads);
}

/// What `GET /stats` shows of one owner's library (or everyone's).
struct library_stats {
  uint64_t videos = 0;
  uint64_t views = 0;
  uint64_t likes = 0;
  /// Bytes of the uploads plus the outputs made from them.
  uint64_t storage_bytes = 0;
  /// Seconds of video (the probed durations).
  double seconds = 0;
  std::vector<video_entry> top_views;
  std::vector<video_entry> top_likes;
  std::vector<video_entry> top_engagement;
  /// Jobs created per day (uploads asked for), oldest first, days without
  /// any left out.
  std::vector<day_count> per_day;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, library_stats& x) {
  return f(caf::meta::type_name("library_stats"), x.videos, x.views, x.likes,
           x.storage_bytes, x.seconds, x.top_views, x.top_likes,
           x.top_engagement, x.per_day);
}

} // namespace vf::messages
