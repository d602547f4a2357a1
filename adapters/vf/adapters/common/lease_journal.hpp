// vf/adapters/common/lease_journal.hpp
//
// Which task attempts a worker actually began, kept across a crash of the
// node (`<data>/leases.log`).
//
// Why: the orchestrator persists an attempt before it hands the task to the
// dispatcher, so that an upload which crashes the node on every try (a
// decoder bug on a hostile file) uses up its attempts and ends FAILED
// instead of crashing the node for ever. But most of the attempts persisted
// at a crash were still waiting in the dispatcher's queue: they never ran,
// and counting them failed healthy jobs after a few restarts with a backlog
// (seen in the chaos test under the sanitizers). The journal tells the two
// apart: the dispatcher writes a line when a worker takes the task, before
// the worker reads anything, and the orchestrator counts an interrupted
// attempt only if its line is there.
//
// A line is one write(2) on an O_APPEND descriptor, without fsync: it
// survives the death of the process (kill -9, abort, a segfault), which is
// what the journal is for, at the cost of a system call per lease. A power
// loss may drop the newest lines; the attempt is then retried once more
// than it would have been. Lines of leases that ended are dropped when the
// file is compacted (past `compact_bytes`, rewritten with the open leases
// and renamed into place), so the file stays small.

#pragma once

#include "vf/messages/task.hpp"

#include "caf/expected.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <tuple>

namespace vf::adapters::common {

/// An open lease journal; share it with `std::shared_ptr` (thread safe).
class lease_journal {
public:
  /// One attempt: job, attempt series, step and attempt number.
  using attempt_key = std::tuple<std::string, uint32_t, std::string, uint32_t>;

  /// Opens `path` (created 0600 if missing): reads what the previous run
  /// wrote, for `began_before`, and starts this run's journal empty. Fails
  /// with `invalid_argument` naming the path and the reason.
  static caf::expected<std::shared_ptr<lease_journal>>
  open(const std::string& path, size_t compact_bytes = size_t{1} << 20);

  ~lease_journal();
  lease_journal(const lease_journal&) = delete;
  lease_journal& operator=(const lease_journal&) = delete;

  /// Records that a worker takes `t` now. Call before the worker starts.
  void began(const messages::task& t);

  /// Forgets `t` (its lease ended, whatever the outcome).
  void ended(const messages::task& t);

  /// Whether the previous run recorded that a worker began this attempt.
  bool began_before(const std::string& job_id, uint32_t series,
                    messages::task_kind kind, uint32_t attempt) const;

  /// How many attempts the previous run left begun and unfinished.
  size_t previous_count() const {
    return previous_.size();
  }

private:
  lease_journal(std::string path, int fd, std::set<attempt_key> previous,
                size_t compact_bytes);

  /// Rewrites the file with the open leases only. Caller holds `mtx_`.
  void compact();

  std::string path_;
  int fd_;
  const std::set<attempt_key> previous_;
  size_t compact_bytes_;
  std::mutex mtx_;
  size_t written_ = 0;
  /// Open leases: attempt → how many (a lease id is not in the key).
  std::map<attempt_key, size_t> open_;
};

} // namespace vf::adapters::common
