// vf/adapters/sqlite/library_tables.cpp

#include "vf/adapters/sqlite/library_tables.hpp"

#include <sqlite3.h>

#include "vf/adapters/sqlite/job_tables.hpp"
#include "vf/messages/errc.hpp"

#include <utility>

namespace vf::adapters::sqlite {

namespace {

using messages::errc;
using messages::video_entry;
using messages::video_order;

// A succeeded job that is a video of the library: not an asset (an upload
// kept to cut compositions from) nor a composition (see
// `messages::is_asset_recipe`, `is_composition_recipe`). `alias` is the
// jobs table's alias with its dot, or empty.
#define VF_IS_VIDEO(alias)                                                     \
  alias "status = 'SUCCEEDED' AND substr(" alias "outputs, 1, 9) != "         \
        "'{\"asset\":' AND substr(" alias "outputs, 1, 15) != "                \
        "'{\"composition\":'"

// A video's row: the job's columns, then its result, counts and whether
// the viewer (?2) likes it.
std::string video_select() {
  return "SELECT " + job_tables::job_column_list("j")
         + ", r.metadata, r.summary, r.created_at, r.outputs, "
           "COALESCE(c.views, 0), COALESCE(c.likes, 0), "
           "EXISTS (SELECT 1 FROM video_likes l WHERE l.job_id = j.id "
           "AND l.user_id = ?2) "
           "FROM jobs j JOIN results r ON r.job_id = j.id "
           "LEFT JOIN video_counts c ON c.job_id = j.id "
           "WHERE " VF_IS_VIDEO("j.");
}

// Engagement: likes per view, 0 for a video nobody viewed.
constexpr const char* engagement_sql
  = "(CASE WHEN COALESCE(c.views, 0) = 0 THEN 0.0 "
    "ELSE CAST(c.likes AS REAL) / c.views END)";

const char* order_key(video_order x) {
  switch (x) {
    case video_order::views:
      return "COALESCE(c.views, 0)";
    case video_order::likes:
      return "COALESCE(c.likes, 0)";
    case video_order::engagement:
      return engagement_sql;
    default:
      return "j.created_at";
  }
}

constexpr const char* is_video_sql
  = "SELECT 1 FROM jobs WHERE id = ?1 AND " VF_IS_VIDEO("");

// The job's status is checked in the same statement: a view of a job
// deleted (or never finished) meanwhile inserts nothing.
constexpr const char* add_view_sql
  = "INSERT INTO video_counts (job_id, views) "
    "SELECT ?1, 1 WHERE EXISTS "
    "(SELECT 1 FROM jobs WHERE id = ?1 AND " VF_IS_VIDEO("") ") "
    "ON CONFLICT (job_id) DO UPDATE SET views = views + 1 "
    "RETURNING views";

constexpr const char* like_sql
  = "INSERT OR IGNORE INTO video_likes (job_id, user_id, at) "
    "VALUES (?1, ?2, ?3)";

constexpr const char* unlike_sql
  = "DELETE FROM video_likes WHERE job_id = ?1 AND user_id = ?2";

constexpr const char* likes_of_sql
  = "SELECT likes FROM video_counts WHERE job_id = ?1";

constexpr const char* count_all_sql
  = "SELECT count(*) FROM jobs j JOIN results r ON r.job_id = j.id "
    "WHERE " VF_IS_VIDEO("j.");

// Sizes: the upload plus every output's `bytes`; JSON that is not valid
// counts as none (json_each would fail the whole query on it).
#define VF_TOTALS_SQL                                                          \
  "SELECT count(*), COALESCE(SUM(c.views), 0), COALESCE(SUM(c.likes), 0), "    \
  "COALESCE(SUM(j.object_size), 0) + COALESCE(SUM((SELECT "                    \
  "SUM(json_extract(e.value, '$.bytes')) FROM json_each(CASE WHEN "            \
  "json_valid(r.outputs) THEN r.outputs ELSE '{}' END, '$.renditions') e)), "  \
  "0) + COALESCE(SUM((SELECT SUM(json_extract(e.value, '$.bytes')) FROM "      \
  "json_each(CASE WHEN json_valid(r.outputs) THEN r.outputs ELSE '{}' END, "   \
  "'$.thumbnails') e)), 0), "                                                  \
  "COALESCE(SUM(CASE WHEN json_valid(r.metadata) THEN CAST(json_extract("      \
  "r.metadata, '$.format.duration') AS REAL) END), 0.0) "                      \
  "FROM jobs j JOIN results r ON r.job_id = j.id "                             \
  "LEFT JOIN video_counts c ON c.job_id = j.id WHERE " VF_IS_VIDEO("j.")

constexpr const char* totals_all_sql = VF_TOTALS_SQL;
constexpr const char* totals_owner_sql = VF_TOTALS_SQL " AND j.owner = ?1";

// Uploads per day: jobs whose upload arrived (a claimed object version),
// by the UTC day they were created.
#define VF_PER_DAY_SQL(filter)                                                 \
  "SELECT strftime('%Y-%m-%d', created_at / 1000, 'unixepoch') AS day, "       \
  "count(*) FROM jobs WHERE created_at >= ?2 AND object_version != '' "      \
  "AND substr(outputs, 1, 9) != '{\"asset\":' AND substr(outputs, 1, 15) != " \
  "'{\"composition\":' " filter                                               \
  " GROUP BY day ORDER BY day"

constexpr const char* per_day_all_sql = VF_PER_DAY_SQL("");
constexpr const char* per_day_owner_sql = VF_PER_DAY_SQL("AND owner = ?1");

} // namespace

caf::expected<std::unique_ptr<library_tables>>
library_tables::open(database& db) {
  std::unique_ptr<library_tables> result{new library_tables(db)};
  auto find_sql = video_select() + " AND j.id = ?1";
  auto count_owner_sql = std::string{count_all_sql} + " AND j.owner = ?1";
  std::pair<statement*, const char*> all[] = {
    {&result->is_video_, is_video_sql},
    {&result->add_view_, add_view_sql},
    {&result->like_, like_sql},
    {&result->unlike_, unlike_sql},
    {&result->likes_of_, likes_of_sql},
    {&result->find_, find_sql.c_str()},
    {&result->count_all_, count_all_sql},
    {&result->count_owner_, count_owner_sql.c_str()},
    {&result->totals_all_, totals_all_sql},
    {&result->totals_owner_, totals_owner_sql},
    {&result->per_day_all_, per_day_all_sql},
    {&result->per_day_owner_, per_day_owner_sql},
  };
  for (auto& [stmt, sql] : all) {
    auto prepared = db.prepare(sql);
    if (!prepared)
      return std::move(prepared.error());
    *stmt = std::move(*prepared);
  }
  return result;
}

// -- writes -------------------------------------------------------------------

caf::expected<bool> library_tables::is_video(const std::string& id) {
  statement::use guard{is_video_};
  auto rc = is_video_.bind(1, id);
  if (rc != SQLITE_OK)
    return db_->fail(rc, "bind video id");
  rc = is_video_.step();
  if (rc == SQLITE_ROW)
    return true;
  if (rc == SQLITE_DONE)
    return false;
  return db_->fail(rc, "select video " + id);
}

caf::expected<uint64_t> library_tables::add_view(const std::string& id) {
  statement::use guard{add_view_};
  auto rc = add_view_.bind(1, id);
  if (rc != SQLITE_OK)
    return db_->fail(rc, "bind view");
  rc = add_view_.step();
  if (rc == SQLITE_DONE)
    return messages::make_error(errc::not_found, "no processed video " + id);
  if (rc != SQLITE_ROW)
    return db_->fail(rc, "count view of " + id);
  auto views = static_cast<uint64_t>(add_view_.column_int64(0));
  // RETURNING: the change is made when the statement runs to its end.
  rc = add_view_.step();
  if (rc != SQLITE_DONE)
    return db_->fail(rc, "count view of " + id);
  return views;
}

caf::expected<uint64_t> library_tables::set_like(const std::string& id,
                                                 const std::string& user,
                                                 bool on, int64_t now_ms) {
  auto exists = is_video(id);
  if (!exists)
    return std::move(exists.error());
  if (!*exists)
    return messages::make_error(errc::not_found, "no processed video " + id);
  {
    auto& stmt = on ? like_ : unlike_;
    statement::use guard{stmt};
    auto rc = stmt.bind(1, id);
    if (rc == SQLITE_OK)
      rc = stmt.bind(2, user);
    if (rc == SQLITE_OK && on)
      rc = stmt.bind(3, now_ms);
    if (rc != SQLITE_OK)
      return db_->fail(rc, "bind like");
    rc = stmt.step();
    if (rc != SQLITE_DONE)
      return db_->fail(rc, on ? "like " + id : "unlike " + id);
  }
  statement::use guard{likes_of_};
  auto rc = likes_of_.bind(1, id);
  if (rc != SQLITE_OK)
    return db_->fail(rc, "bind likes");
  rc = likes_of_.step();
  if (rc == SQLITE_DONE)
    return uint64_t{0}; // Never liked, never viewed: no counts row yet.
  if (rc != SQLITE_ROW)
    return db_->fail(rc, "select likes of " + id);
  return static_cast<uint64_t>(likes_of_.column_int64(0));
}

// -- reads --------------------------------------------------------------------

caf::expected<video_entry> library_tables::read_entry(statement& stmt) {
  auto j = job_tables::read_job(stmt);
  if (!j)
    return std::move(j.error());
  video_entry x;
  x.source = std::move(*j);
  x.result.job_id = x.source.id;
  x.result.metadata = stmt.column_text(25);
  x.result.summary = stmt.column_text(26);
  x.result.created_at = stmt.column_int64(27);
  x.result.outputs = stmt.column_text(28);
  x.views = static_cast<uint64_t>(stmt.column_int64(29));
  x.likes = static_cast<uint64_t>(stmt.column_int64(30));
  x.liked = stmt.column_int64(31) != 0;
  return x;
}

caf::expected<statement*> library_tables::page_statement(video_order order,
                                                         bool descending,
                                                         bool by_owner) {
  auto slot
    = static_cast<int>(order) * 4 + (descending ? 2 : 0) + (by_owner ? 1 : 0);
  if (auto i = pages_.find(slot); i != pages_.end())
    return &i->second;
  auto sql = video_select();
  if (by_owner)
    sql += " AND j.owner = ?1";
  auto dir = descending ? " DESC" : " ASC";
  sql += " ORDER BY ";
  sql += order_key(order);
  sql += dir;
  // Ties: newest first, then the insert order, so pages never overlap.
  sql += ", j.created_at DESC, j.rowid DESC LIMIT ?3 OFFSET ?4";
  auto prepared = db_->prepare(sql.c_str());
  if (!prepared)
    return std::move(prepared.error());
  auto [i, added] = pages_.emplace(slot, std::move(*prepared));
  static_cast<void>(added);
  return &i->second;
}

caf::expected<messages::video_page>
library_tables::page(const messages::video_query& q) {
  auto by_owner = !q.owner.empty();
  auto stmt = page_statement(q.sort_by, q.descending, by_owner);
  if (!stmt)
    return std::move(stmt.error());
  messages::video_page result;
  {
    auto& s = **stmt;
    statement::use guard{s};
    int rc = SQLITE_OK;
    if (by_owner)
      rc = s.bind(1, q.owner);
    if (rc == SQLITE_OK)
      rc = s.bind(2, q.viewer);
    if (rc == SQLITE_OK)
      rc = s.bind(3, static_cast<int64_t>(q.limit));
    if (rc == SQLITE_OK)
      rc = s.bind(4, static_cast<int64_t>(q.offset));
    if (rc != SQLITE_OK)
      return db_->fail(rc, "bind library page");
    for (;;) {
      rc = s.step();
      if (rc == SQLITE_DONE)
        break;
      if (rc != SQLITE_ROW)
        return db_->fail(rc, "select library page");
      auto x = read_entry(s);
      if (!x)
        return std::move(x.error());
      result.items.emplace_back(std::move(*x));
    }
  }
  auto& count = by_owner ? count_owner_ : count_all_;
  statement::use guard{count};
  if (by_owner)
    if (auto rc = count.bind(1, q.owner); rc != SQLITE_OK)
      return db_->fail(rc, "bind library count");
  auto rc = count.step();
  if (rc != SQLITE_ROW)
    return db_->fail(rc, "count library");
  result.total = static_cast<uint64_t>(count.column_int64(0));
  return result;
}

caf::expected<video_entry> library_tables::find(const std::string& id,
                                                const std::string& viewer) {
  statement::use guard{find_};
  auto rc = find_.bind(1, id);
  if (rc == SQLITE_OK)
    rc = find_.bind(2, viewer);
  if (rc != SQLITE_OK)
    return db_->fail(rc, "bind video");
  rc = find_.step();
  if (rc == SQLITE_DONE)
    return messages::make_error(errc::not_found, "no processed video " + id);
  if (rc != SQLITE_ROW)
    return db_->fail(rc, "select video " + id);
  return read_entry(find_);
}

caf::expected<messages::library_stats>
library_tables::stats(const std::string& owner, uint32_t top,
                      int64_t since_ms) {
  messages::library_stats result;
  auto by_owner = !owner.empty();
  {
    auto& s = by_owner ? totals_owner_ : totals_all_;
    statement::use guard{s};
    if (by_owner)
      if (auto rc = s.bind(1, owner); rc != SQLITE_OK)
        return db_->fail(rc, "bind library totals");
    auto rc = s.step();
    if (rc != SQLITE_ROW)
      return db_->fail(rc, "select library totals");
    result.videos = static_cast<uint64_t>(s.column_int64(0));
    result.views = static_cast<uint64_t>(s.column_int64(1));
    result.likes = static_cast<uint64_t>(s.column_int64(2));
    result.storage_bytes = static_cast<uint64_t>(s.column_int64(3));
    result.seconds = s.column_double(4);
  }
  {
    auto& s = by_owner ? per_day_owner_ : per_day_all_;
    statement::use guard{s};
    int rc = SQLITE_OK;
    if (by_owner)
      rc = s.bind(1, owner);
    if (rc == SQLITE_OK)
      rc = s.bind(2, since_ms);
    if (rc != SQLITE_OK)
      return db_->fail(rc, "bind uploads per day");
    for (;;) {
      rc = s.step();
      if (rc == SQLITE_DONE)
        break;
      if (rc != SQLITE_ROW)
        return db_->fail(rc, "select uploads per day");
      result.per_day.push_back(
        {s.column_text(0), static_cast<uint64_t>(s.column_int64(1))});
    }
  }
  messages::video_query q;
  q.owner = owner;
  q.limit = top;
  std::pair<video_order, std::vector<video_entry>*> tops[] = {
    {video_order::views, &result.top_views},
    {video_order::likes, &result.top_likes},
    {video_order::engagement, &result.top_engagement},
  };
  for (auto& [order, out] : tops) {
    q.sort_by = order;
    auto page = this->page(q);
    if (!page)
      return std::move(page.error());
    *out = std::move(page->items);
  }
  return result;
}

} // namespace vf::adapters::sqlite
