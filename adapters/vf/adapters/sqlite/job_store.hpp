// vf/adapters/sqlite/job_store.hpp
//
// The SQLite implementation of the four store ports (`vf::messages::
// store_actor`: jobs and results, claims, the attempt ledger, dead letters)
// in one actor over one database. It exists so
// that the product's durability promise ("a reply means the write is on
// disk") costs one fsync per *batch* rather than one per request: writes run
// inside an open transaction as they arrive, and their replies are held back
// until a single COMMIT (group commit).
//
// How a batch ends: the first write of a batch sends the actor a `flush`
// message. The mailbox is FIFO, so every write that arrived before it is in
// the batch when it is handled; then the actor commits and delivers every
// held reply (or, if the commit fails, rolls back and answers every held
// write with `storage_unavailable`). A batch also ends early at `max_batch`
// writes. Under load (the batch before held more than one write) a batch
// still small when its flush arrives (under `job_store_state::small_batch`
// writes) waits `commit_delay` once more, so that writes arriving meanwhile
// share the commit: fewer fsyncs and WAL frames per write for a little
// latency. A lone writer never waits, nor does a batch that is already
// large. Reads that arrive while a batch is open wait until it has
// committed, so no reply ever shows an uncommitted write.

#pragma once

#include "vf/adapters/common/effects_log.hpp"
#include "vf/adapters/sqlite/job_tables.hpp"
#include "vf/messages/stores.hpp"

#include "caf/actor_system.hpp"
#include "caf/expected.hpp"
#include "caf/replies_to.hpp"
#include "caf/stateful_actor.hpp"
#include "caf/typed_actor.hpp"
#include "caf/typed_event_based_actor.hpp"
#include "caf/typed_response_promise.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace vf::adapters::sqlite {

/// Settings of the SQLite job store.
struct job_store_config {
  /// The database file; created if missing, its directory must exist.
  std::string path;
  /// Most writes per transaction; a full batch commits without waiting for
  /// its flush message. 1 disables group commit; 0 counts as 1.
  uint32_t max_batch = 512;
  /// Test only (`testing.effects_log`; null: off): gets a "record" line
  /// after every COMMIT that made an ok attempt durable.
  std::shared_ptr<common::effects_log> effects;
  /// How long a small batch stays open for more writes when the batch
  /// before it held more than one (others are writing too); 0: commit as
  /// soon as the writes already queued have run.
  std::chrono::microseconds commit_delay{0};
};

/// The store's full interface: the port plus its own messages.
///
/// It also serves the video library (`messages::library_actor`) from the
/// same database, its writes in the same batches.
///
/// - `(flush)`: commits the open batch, then answers the reads that waited
///   for it. Sent by the store to itself; harmless from anyone else.
/// - `(stats)` → `(commits, writes)`: transactions committed and write
///   requests answered by them since start. For tests, benches and metrics.
///
/// Callers hold one port each (`messages::stores_of`); convert with
/// `caf::actor_cast<sqlite_job_store_actor>` to reach `(stats)`.
using sqlite_job_store_actor
  = messages::store_actor::extend_with<messages::library_actor>::extend<
    caf::reacts_to<atoms::flush>,
    caf::replies_to<atoms::stats>::with<uint64_t, uint64_t>>;

/// A write executed inside the open batch whose reply awaits the commit.
/// Type-erased, because writes answer with different types (`bool`, a
/// count): the function owns the response promise and the outcome.
struct held_write {
  /// Delivers the outcome the statement produced when called with `nullptr`
  /// (the batch committed), or the given error instead (it did not).
  std::function<void(const caf::error* failure)> finish;
};

/// Runs after the COMMIT of a write that succeeded (the effects log).
using after_commit = std::function<void()>;

/// State of the SQLite job store actor.
struct job_store_state {
  static inline const char* name = "vf.sqlite-job-store";

  /// The connection and its prepared statements; null once closed.
  std::unique_ptr<job_tables> tables;

  /// A batch holding this many writes when its flush arrives commits at
  /// once, however long `config.commit_delay`: its fsync is shared widely
  /// enough.
  static constexpr size_t small_batch = 8;

  /// The settings it was spawned with, `max_batch` at least 1.
  job_store_config config;

  /// Writes the last committed batch held.
  size_t last_batch = 0;

  /// Whether the open batch already waited `commit_delay` for more writes.
  bool waited = false;

  /// Whether a transaction with uncommitted writes is open.
  bool batch_open = false;

  /// Whether a `flush` we sent ourselves is still in the mailbox. At most one
  /// is in flight: it ends whichever batch is open when it arrives.
  bool flush_pending = false;

  /// Writes of the open batch, in arrival order.
  std::vector<held_write> held;

  /// Reads that arrived while the batch was open, in arrival order.
  std::vector<std::function<void(job_tables&)>> waiting_reads;

  /// Transactions committed since start.
  uint64_t commits = 0;

  /// Write requests answered after a successful commit since start.
  uint64_t writes = 0;
};

/// The actor type behind `sqlite_job_store_actor`.
using job_store_impl = sqlite_job_store_actor::stateful_base<job_store_state>;

/// Pointer to the store actor, as its behavior function receives it.
using job_store_pointer
  = sqlite_job_store_actor::stateful_pointer<job_store_state>;

/// The store's behavior over an opened `tables`. Prefer `spawn_job_store`;
/// this must run in a detached actor, because every handler blocks on disk.
sqlite_job_store_actor::behavior_type
job_store(job_store_pointer self, std::unique_ptr<job_tables> tables,
          job_store_config cfg);

/// Opens (and migrates) the database at `cfg.path`, then spawns the store as
/// a detached actor. Fails if the database cannot be opened or set up, with
/// a message naming the path. Shutting the actor down (exit message)
/// commits the open batch first.
caf::expected<messages::store_actor> spawn_job_store(caf::actor_system& sys,
                                                         job_store_config cfg);

} // namespace vf::adapters::sqlite
