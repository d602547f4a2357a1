// vf/adapters/sqlite/schema.cpp

#include "vf/adapters/sqlite/schema.hpp"

#include "vf/adapters/sqlite/database.hpp"
#include <sqlite3.h>

#include <array>
#include <string>

namespace vf::adapters::sqlite {

namespace {

using messages::errc;

/// Milliseconds a statement waits for another connection's write lock
/// before giving up with SQLITE_BUSY.
constexpr int busy_timeout_ms = 5000;

/// migrations[v] turns schema version v into v + 1. Append only: a released
/// step never changes, because files in the field already ran it.
constexpr std::array<const char*, schema_version> migrations{{
  // 0 -> 1: jobs (object_ref flattened), results, idempotency claims.
  // Statuses are stored by their API names so the file reads well in the
  // sqlite3 shell and survives reordering of the enum.
  R"sql(
    CREATE TABLE jobs (
      id              TEXT    PRIMARY KEY NOT NULL,
      owner           TEXT    NOT NULL,
      filename        TEXT    NOT NULL,
      content_type    TEXT    NOT NULL,
      bucket          TEXT    NOT NULL,
      "key"           TEXT    NOT NULL,
      status          TEXT    NOT NULL,
      created_at      INTEGER NOT NULL,
      updated_at      INTEGER NOT NULL,
      object_bucket   TEXT    NOT NULL,
      object_key      TEXT    NOT NULL,
      object_version  TEXT    NOT NULL,
      object_etag     TEXT    NOT NULL,
      object_size     INTEGER NOT NULL,
      attempts        INTEGER NOT NULL,
      step            TEXT    NOT NULL,
      next_attempt_at INTEGER NOT NULL,
      error_code      TEXT    NOT NULL,
      error_message   TEXT    NOT NULL
    );
    CREATE INDEX jobs_by_created_at ON jobs (created_at);
    CREATE INDEX jobs_by_status ON jobs (status);
    CREATE TABLE results (
      job_id     TEXT    PRIMARY KEY NOT NULL,
      metadata   TEXT    NOT NULL,
      summary    TEXT    NOT NULL,
      created_at INTEGER NOT NULL
    );
    CREATE TABLE claims (
      "key"      TEXT    PRIMARY KEY NOT NULL,
      job_id     TEXT    NOT NULL,
      claimed_at INTEGER NOT NULL
    );
  )sql",
  // 1 -> 2: the job's attempt series, the append-only attempt ledger, and
  // dead letters. A dead letter's attempts are a snapshot taken when the
  // job was buried, kept in their own table (not JSON) so that every byte
  // of outputs and messages round-trips, valid UTF-8 or not. Task kinds are
  // stored by name, like statuses.
  R"sql(
    ALTER TABLE jobs ADD COLUMN series INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE attempts (
      id             INTEGER PRIMARY KEY AUTOINCREMENT,
      job_id         TEXT    NOT NULL,
      lease_id       INTEGER NOT NULL,
      object_version TEXT    NOT NULL,
      series         INTEGER NOT NULL,
      kind           TEXT    NOT NULL,
      attempt        INTEGER NOT NULL,
      ok             INTEGER NOT NULL,
      output         TEXT    NOT NULL,
      error_code     TEXT    NOT NULL,
      error_message  TEXT    NOT NULL,
      worker         TEXT    NOT NULL,
      finished_at    INTEGER NOT NULL,
      duration_us    INTEGER NOT NULL
    );
    CREATE INDEX attempts_by_job_id ON attempts (job_id);
    CREATE TABLE dead_letters (
      job_id         TEXT    NOT NULL,
      series         INTEGER NOT NULL,
      object_bucket  TEXT    NOT NULL,
      object_key     TEXT    NOT NULL,
      object_version TEXT    NOT NULL,
      object_etag    TEXT    NOT NULL,
      object_size    INTEGER NOT NULL,
      filename       TEXT    NOT NULL,
      kind           TEXT    NOT NULL,
      error_code     TEXT    NOT NULL,
      error_message  TEXT    NOT NULL,
      probe_output   TEXT    NOT NULL,
      created_at     INTEGER NOT NULL,
      redriven_at    INTEGER NOT NULL,
      PRIMARY KEY (job_id, series)
    );
    CREATE INDEX dead_letters_by_created_at ON dead_letters (created_at);
    CREATE TABLE dead_letter_attempts (
      dl_job_id      TEXT    NOT NULL,
      dl_series      INTEGER NOT NULL,
      position       INTEGER NOT NULL,
      job_id         TEXT    NOT NULL,
      lease_id       INTEGER NOT NULL,
      object_version TEXT    NOT NULL,
      series         INTEGER NOT NULL,
      kind           TEXT    NOT NULL,
      attempt        INTEGER NOT NULL,
      ok             INTEGER NOT NULL,
      output         TEXT    NOT NULL,
      error_code     TEXT    NOT NULL,
      error_message  TEXT    NOT NULL,
      worker         TEXT    NOT NULL,
      finished_at    INTEGER NOT NULL,
      duration_us    INTEGER NOT NULL,
      PRIMARY KEY (dl_job_id, dl_series, position)
    );
  )sql",
  // 2 -> 3: history by owner in the query (GET /history), so other users'
  // jobs never crowd a user's page.
  R"sql(
    CREATE INDEX jobs_by_owner ON jobs (owner, created_at);
  )sql",
  // 3 -> 4: retention. purged_at (Unix ms, 0: object still stored) marks a
  // failed, cancelled or expired job whose upload was deleted; the partial
  // index holds only jobs still to purge, so each sweep reads few rows.
  R"sql(
    ALTER TABLE jobs ADD COLUMN purged_at INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX jobs_to_purge ON jobs (updated_at)
      WHERE purged_at = 0 AND status IN ('FAILED', 'CANCELLED', 'EXPIRED');
  )sql",
  // 4 -> 5: when the dispatcher leased each attempt (Unix ms on the
  // coordinator's clock; 0 for attempts recorded before this version and
  // for tasks that never left the queue).
  R"sql(
    ALTER TABLE attempts ADD COLUMN leased_at INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE dead_letter_attempts
      ADD COLUMN leased_at INTEGER NOT NULL DEFAULT 0;
  )sql",
  // 5 -> 6: media outputs. A job's priority and recipe (canonical JSON,
  // '' for none); a result's outputs (the render step's JSON, '' for none).
  R"sql(
    ALTER TABLE jobs ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE jobs ADD COLUMN outputs TEXT NOT NULL DEFAULT '';
    ALTER TABLE results ADD COLUMN outputs TEXT NOT NULL DEFAULT '';
  )sql",
  // 6 -> 7: Idempotency-Keys of POST /jobs: which job a user's key made,
  // with a hash of the request, for 24 hours (rows past that are deleted
  // as keys are used; created_at is indexed for it).
  R"sql(
    CREATE TABLE idempotency_keys (
      owner        TEXT    NOT NULL,
      "key"        TEXT    NOT NULL,
      request_hash TEXT    NOT NULL,
      job_id       TEXT    NOT NULL,
      created_at   INTEGER NOT NULL,
      PRIMARY KEY (owner, "key")
    );
    CREATE INDEX idempotency_keys_by_created_at
      ON idempotency_keys (created_at);
    CREATE INDEX idempotency_keys_by_job_id ON idempotency_keys (job_id);
  )sql",
  // 7 -> 8: content reuse. The SHA-256 of a job's upload ('' when its
  // store did not compute one), indexed with the owner for the look-up of
  // an earlier job of the same owner with the same bytes.
  R"sql(
    ALTER TABLE jobs ADD COLUMN object_sha256 TEXT NOT NULL DEFAULT '';
    CREATE INDEX jobs_by_content ON jobs (owner, object_sha256)
      WHERE object_sha256 != '';
  )sql",
  // 8 -> 9: the journal of status changes that live progress replays
  // (GET /jobs/{id}/events). Triggers write it in the transaction of the
  // change itself, so no code path can change a status without a journal
  // line, and a line never exists for a change that was rolled back.
  // Existing jobs start with their current status.
  R"sql(
    CREATE TABLE job_events (
      seq        INTEGER PRIMARY KEY AUTOINCREMENT,
      job_id     TEXT    NOT NULL,
      status     TEXT    NOT NULL,
      series     INTEGER NOT NULL,
      error_code TEXT    NOT NULL,
      at         INTEGER NOT NULL
    );
    CREATE INDEX job_events_by_job ON job_events (job_id, seq);
    INSERT INTO job_events (job_id, status, series, error_code, at)
      SELECT id, status, series, error_code, updated_at FROM jobs
      ORDER BY created_at, rowid;
    CREATE TRIGGER job_events_created AFTER INSERT ON jobs BEGIN
      INSERT INTO job_events (job_id, status, series, error_code, at)
        VALUES (NEW.id, NEW.status, NEW.series, NEW.error_code,
                NEW.updated_at);
    END;
    CREATE TRIGGER job_events_changed AFTER UPDATE OF status, series ON jobs
      WHEN OLD.status IS NOT NEW.status OR OLD.series IS NOT NEW.series
    BEGIN
      INSERT INTO job_events (job_id, status, series, error_code, at)
        VALUES (NEW.id, NEW.status, NEW.series, NEW.error_code,
                NEW.updated_at);
    END;
    CREATE TRIGGER job_events_erased AFTER DELETE ON jobs BEGIN
      DELETE FROM job_events WHERE job_id = OLD.id;
    END;
  )sql",
  // 9 -> 10: signed callbacks. A job may name a callback_url; the journal
  // line of each terminal status makes its delivery in the same
  // transaction (a trigger), so an ended job cannot lose its callback to a
  // crash. The body is fixed then: every attempt sends the same bytes.
  R"sql(
    ALTER TABLE jobs ADD COLUMN callback_url TEXT NOT NULL DEFAULT '';
    CREATE TABLE deliveries (
      id           TEXT    PRIMARY KEY NOT NULL,
      job_id       TEXT    NOT NULL,
      owner        TEXT    NOT NULL,
      url          TEXT    NOT NULL,
      body         TEXT    NOT NULL,
      state        TEXT    NOT NULL,
      attempts     INTEGER NOT NULL,
      next_at      INTEGER NOT NULL,
      created_at   INTEGER NOT NULL,
      last_status  INTEGER NOT NULL,
      last_error   TEXT    NOT NULL,
      delivered_at INTEGER NOT NULL
    );
    CREATE INDEX deliveries_due ON deliveries (next_at)
      WHERE state = 'pending';
    CREATE INDEX deliveries_by_job ON deliveries (job_id, created_at);
    CREATE TRIGGER deliveries_on_end AFTER INSERT ON job_events
      WHEN NEW.status IN ('SUCCEEDED', 'FAILED', 'CANCELLED', 'EXPIRED')
    BEGIN
      INSERT OR IGNORE INTO deliveries
        SELECT 'dlv_' || NEW.seq, j.id, j.owner, j.callback_url,
               json_object(
                 'id', 'dlv_' || NEW.seq,
                 'type', 'job.' || lower(NEW.status),
                 'job_id', j.id,
                 'status', NEW.status,
                 'series', NEW.series,
                 'error_code', NULLIF(NEW.error_code, ''),
                 'error_message', NULLIF(j.error_message, ''),
                 'result', CASE NEW.status WHEN 'SUCCEEDED'
                             THEN '/jobs/' || j.id || '/result' END,
                 'at', strftime('%Y-%m-%dT%H:%M:%fZ', NEW.at / 1000.0,
                                'unixepoch')),
               'pending', 0, NEW.at, NEW.at, 0, '', 0
        FROM jobs j WHERE j.id = NEW.job_id AND j.callback_url != '';
    END;
    CREATE TRIGGER deliveries_erased AFTER DELETE ON jobs BEGIN
      DELETE FROM deliveries WHERE job_id = OLD.id;
    END;
  )sql",
  // 10 -> 11: the request id a job was made with (its correlation id in
  // the logs of every node).
  R"sql(
    ALTER TABLE jobs ADD COLUMN request_id TEXT NOT NULL DEFAULT '';
  )sql",
  // 11 -> 12: the video library. Views and likes per video (a SUCCEEDED
  // job); `likes` always equals the video's rows in video_likes (one per
  // user), kept so by triggers in the transaction of the like itself. A
  // job's counts and likes go with it. The partial index serves a user's
  // library pages and stats without reading unfinished jobs.
  R"sql(
    CREATE TABLE video_counts (
      job_id TEXT    PRIMARY KEY NOT NULL,
      views  INTEGER NOT NULL DEFAULT 0,
      likes  INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE video_likes (
      job_id  TEXT    NOT NULL,
      user_id TEXT    NOT NULL,
      at      INTEGER NOT NULL,
      PRIMARY KEY (job_id, user_id)
    );
    CREATE TRIGGER video_likes_added AFTER INSERT ON video_likes BEGIN
      INSERT INTO video_counts (job_id, likes) VALUES (NEW.job_id, 1)
        ON CONFLICT (job_id) DO UPDATE SET likes = likes + 1;
    END;
    CREATE TRIGGER video_likes_removed AFTER DELETE ON video_likes BEGIN
      UPDATE video_counts SET likes = likes - 1 WHERE job_id = OLD.job_id;
    END;
    CREATE TRIGGER videos_erased AFTER DELETE ON jobs BEGIN
      DELETE FROM video_likes WHERE job_id = OLD.id;
      DELETE FROM video_counts WHERE job_id = OLD.id;
    END;
    CREATE INDEX jobs_succeeded_by_owner ON jobs (owner, created_at)
      WHERE status = 'SUCCEEDED';
  )sql",
  // 12 -> 13: each owner's usage (jobs in flight, bytes stored) kept by
  // triggers in the same transaction as the job rows, so the per-user
  // limits of POST /jobs read one row instead of every job the user ever
  // made (that scan grew the CPU per job with the user's history).
  R"sql(
    CREATE TABLE owner_usage (
      owner     TEXT    PRIMARY KEY NOT NULL,
      in_flight INTEGER NOT NULL DEFAULT 0,
      bytes     INTEGER NOT NULL DEFAULT 0
    );
    INSERT INTO owner_usage (owner, in_flight, bytes)
      SELECT owner,
             SUM(status IN ('AWAITING_UPLOAD', 'SUBMITTED', 'PROCESSING')),
             SUM(CASE WHEN purged_at = 0 THEN object_size ELSE 0 END)
      FROM jobs GROUP BY owner;
    CREATE TRIGGER owner_usage_added AFTER INSERT ON jobs BEGIN
      INSERT INTO owner_usage (owner, in_flight, bytes)
        VALUES (NEW.owner, (NEW.status IN ('AWAITING_UPLOAD', 'SUBMITTED', 'PROCESSING')), (CASE WHEN NEW.purged_at = 0 THEN NEW.object_size ELSE 0 END))
        ON CONFLICT (owner) DO UPDATE SET
          in_flight = in_flight + excluded.in_flight,
          bytes = bytes + excluded.bytes;
    END;
    CREATE TRIGGER owner_usage_changed
      AFTER UPDATE OF owner, status, object_size, purged_at ON jobs BEGIN
      UPDATE owner_usage SET in_flight = in_flight - (OLD.status IN ('AWAITING_UPLOAD', 'SUBMITTED', 'PROCESSING')),
                             bytes = bytes - (CASE WHEN OLD.purged_at = 0 THEN OLD.object_size ELSE 0 END)
        WHERE owner = OLD.owner;
      INSERT INTO owner_usage (owner, in_flight, bytes)
        VALUES (NEW.owner, (NEW.status IN ('AWAITING_UPLOAD', 'SUBMITTED', 'PROCESSING')), (CASE WHEN NEW.purged_at = 0 THEN NEW.object_size ELSE 0 END))
        ON CONFLICT (owner) DO UPDATE SET
          in_flight = in_flight + excluded.in_flight,
          bytes = bytes + excluded.bytes;
    END;
    CREATE TRIGGER owner_usage_removed AFTER DELETE ON jobs BEGIN
      UPDATE owner_usage SET in_flight = in_flight - (OLD.status IN ('AWAITING_UPLOAD', 'SUBMITTED', 'PROCESSING')),
                             bytes = bytes - (CASE WHEN OLD.purged_at = 0 THEN OLD.object_size ELSE 0 END)
        WHERE owner = OLD.owner;
    END;
  )sql",
  // 13 -> 14: one owner's compositions and assets without reading their
  // other jobs (GET /compositions, GET /assets looked only among the 200
  // newest jobs, so uploads crowded compositions out). The WHERE terms
  // match the canonical recipes' first bytes (messages::
  // composition_recipe_prefix, asset_recipe_prefix); the queries in
  // job_tables.cpp repeat them word for word.
  R"sql(
    CREATE INDEX jobs_compositions_by_owner ON jobs (owner, created_at)
      WHERE substr(outputs, 1, 15) = '{"composition":';
    CREATE INDEX jobs_assets_by_owner ON jobs (owner, created_at)
      WHERE substr(outputs, 1, 9) = '{"asset":';
  )sql",
}};

/// Runs a single-value PRAGMA (or query) and returns its text result.
caf::expected<std::string> query_text(database& db, const char* sql) {
  auto stmt = db.prepare(sql);
  if (!stmt)
    return std::move(stmt.error());
  statement::use guard{*stmt};
  auto rc = stmt->step();
  if (rc != SQLITE_ROW)
    return db.fail(rc, sql);
  return stmt->column_text(0);
}

/// Runs a single-value PRAGMA (or query) and returns its integer result.
caf::expected<int64_t> query_int(database& db, const char* sql) {
  auto stmt = db.prepare(sql);
  if (!stmt)
    return std::move(stmt.error());
  statement::use guard{*stmt};
  auto rc = stmt->step();
  if (rc != SQLITE_ROW)
    return db.fail(rc, sql);
  return stmt->column_int64(0);
}

} // namespace

caf::error configure(database& db) {
  auto mode = query_text(db, "PRAGMA journal_mode=WAL");
  if (!mode)
    return std::move(mode.error());
  // SQLite answers with the mode in force; it silently keeps another one
  // where WAL is impossible (e.g. an in-memory database).
  if (*mode != "wal")
    return messages::make_error(errc::storage_unavailable,
                                "cannot enable WAL journal (got '" + *mode
                                  + "')");
  // WAL + FULL syncs the log on every commit: a reply means "on disk".
  if (auto err = db.exec("PRAGMA synchronous=FULL", "PRAGMA synchronous"))
    return err;
  auto rc = sqlite3_busy_timeout(db.native(), busy_timeout_ms);
  if (rc != SQLITE_OK)
    return db.fail(rc, "busy timeout");
  return caf::none;
}

caf::error migrate(database& db, int64_t target) {
  if (target < 0 || target > schema_version)
    return messages::make_error(errc::invalid_argument,
                                "cannot migrate to schema version "
                                  + std::to_string(target));
  auto version = query_int(db, "PRAGMA user_version");
  if (!version)
    return std::move(version.error());
  if (*version == schema_version || *version == target)
    return caf::none;
  // IMMEDIATE: of two processes starting on one old file, only one migrates;
  // the other waits for the lock and then reads the new version below.
  if (auto err = db.exec("BEGIN IMMEDIATE", "begin migration"))
    return err;
  auto abort = [&db](caf::error err) {
    // Best effort: `err` is the failure worth reporting, and closing the
    // connection rolls back anyway.
    static_cast<void>(db.exec("ROLLBACK", "rollback migration"));
    return err;
  };
  version = query_int(db, "PRAGMA user_version");
  if (!version)
    return abort(std::move(version.error()));
  if (*version < 0 || *version > schema_version)
    return abort(messages::make_error(
      errc::storage_unavailable, "schema version " + std::to_string(*version)
                                   + " is not one this build knows (0.."
                                   + std::to_string(schema_version) + ")"));
  if (*version >= target)
    return abort(caf::none);
  for (auto v = *version; v < target; ++v) {
    auto what = "migrate schema to version " + std::to_string(v + 1);
    if (auto err = db.exec(migrations[static_cast<size_t>(v)], what.c_str()))
      return abort(std::move(err));
  }
  // PRAGMA takes no bound parameters; the value is our own number.
  auto set = "PRAGMA user_version=" + std::to_string(target);
  if (auto err = db.exec(set.c_str(), "PRAGMA user_version"))
    return abort(std::move(err));
  if (auto err = db.exec("COMMIT", "commit migration"))
    return abort(std::move(err));
  return caf::none;
}

} // namespace vf::adapters::sqlite
