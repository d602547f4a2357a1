// vf/runtime/node.hpp

#pragma once

#include "vf/messages/dispatcher_actor.hpp"
#include "vf/runtime/logger.hpp"

#include "caf/actor.hpp"
#include "caf/actor_cast.hpp"
#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"

#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace prometheus {
class Registry;
} // namespace prometheus

namespace vf::runtime {

/// Where a kept actor or listener sits in the stop order: edges stop first
/// (no new work comes in), then the domain, then the stores it writes to.
enum class tier : uint8_t { edge, domain, store };

/// A process that hosts actors: owns the actor system, the metrics registry
/// and the logger's use, keeps and watches every long-lived actor, and stops
/// them in one order, in one place. Roles (`serve`, `worker`) are scripts
/// that spawn through it.
///
/// Supervision: an actor kept with `keep` that exits while the node is not
/// stopping is logged with its reason and stops the node (`wait` returns,
/// `exit_code` is 1). A group kept with `keep_restartable` is spawned again
/// instead (its other members are stopped first), at most `max_restarts`
/// times a minute; beyond that the node stops as well.
class node {
public:
  /// Blocks SIGINT/SIGTERM (before any thread starts), then starts the
  /// actor system with `cfg`. `role` names the node in its log lines.
  node(caf::actor_system_config& cfg, logger& log, std::string role);

  node(const node&) = delete;
  node& operator=(const node&) = delete;

  /// Stops (if not done yet); the actor system then waits for every actor.
  ~node();

  caf::actor_system& system() {
    return sys_;
  }

  logger& log() {
    return log_;
  }

  const std::shared_ptr<prometheus::Registry>& metrics() const {
    return metrics_;
  }

  /// Keeps `hdl` alive and watches it (see the class comment); returns it.
  template <class Handle>
  Handle keep(const std::string& name, tier where, Handle hdl) {
    watch(name, where, {caf::actor_cast<caf::actor>(hdl)});
    return hdl;
  }

  /// Keeps the actors `make` spawns as one group that is spawned again when
  /// one of them exits unexpectedly. `make` runs on the thread that noticed
  /// the exit: it must not block.
  void keep_restartable(const std::string& name, tier where,
                        std::function<std::vector<caf::actor>()> make,
                        size_t max_restarts = 3);

  /// Calls `fn` when the node stops, before the actors of tier `where`
  /// (listeners register here; later registrations run first).
  void on_stop(tier where, std::function<void()> fn);

  /// Before the domain stops, waits until `d` holds no lease (`(drain)`),
  /// at most `timeout`: leased tasks finish and their results are recorded.
  void drain_before_stop(messages::dispatcher_node_actor d,
                         std::chrono::milliseconds timeout);

  /// The blocked stop signals, for a tool that waits on them itself
  /// (valid until `wait` or `forward_signals` takes them over).
  const sigset_t& signals() const {
    return sigs_;
  }

  /// Blocks until SIGINT or SIGTERM arrives (returns it) or a kept actor
  /// failed (returns 0). Meanwhile gives freed heap back to the OS every
  /// `trim_memory_every` interval.
  int wait();

  /// While `wait` blocks, calls `malloc_trim(0)` every `interval` (0: never):
  /// glibc keeps memory freed inside its heaps, so the RSS of a busy node
  /// only ever rises with its peaks of work in flight.
  void trim_memory_every(std::chrono::seconds interval);

  /// How many times `wait` trimmed the heap so far.
  uint64_t memory_trims() const;

  /// Hands every later SIGINT/SIGTERM to `fn` (on the signal thread)
  /// instead of `wait`: for roles whose main loop is an actor's receive.
  void forward_signals(std::function<void(int)> fn);

  /// Stops in order: edge stops and actors, the drain, the domain, the
  /// stores; waits for each tier's actors to end. Idempotent.
  void stop();

  /// 1 after a kept actor failed, 0 otherwise.
  int exit_code() const;

  /// Whether a kept actor failed.
  bool failed() const;

private:
  struct member {
    std::string name;
    tier where;
    caf::actor hdl;
    /// Index into `groups_`, or -1 for a plain `keep`.
    int group = -1;
    uint64_t generation = 0;
  };

  struct group {
    std::string name;
    tier where;
    std::function<std::vector<caf::actor>()> make;
    size_t max_restarts;
    uint64_t generation = 0;
    std::vector<std::chrono::steady_clock::time_point> restarts;
  };

  void watch(const std::string& name, tier where,
             std::vector<caf::actor> hdls, int group = -1,
             uint64_t generation = 0);

  void exited(const caf::actor_addr& who, const caf::error& reason);

  void restart(int group_index);

  void stop_tier(tier where);

  void start_signal_thread();

  sigset_t sigs_;
  logger& log_;
  std::string role_;
  std::shared_ptr<prometheus::Registry> metrics_;
  mutable std::mutex mtx_;
  std::condition_variable cv_;
  std::map<caf::actor_addr, member> members_;
  std::vector<group> groups_;
  std::multimap<tier, std::function<void()>> stops_;
  messages::dispatcher_node_actor drain_from_;
  std::chrono::milliseconds drain_timeout_{0};
  bool stopping_ = false;
  bool stopped_ = false;
  bool failed_ = false;
  int signal_ = 0;
  std::chrono::seconds trim_every_{0};
  uint64_t trims_ = 0;
  std::function<void(int)> forward_;
  std::thread signal_thread_;
  bool signal_thread_done_ = false;
  /// Last: destroyed first, so every exit functor still finds the node.
  caf::actor_system sys_;
};

} // namespace vf::runtime
