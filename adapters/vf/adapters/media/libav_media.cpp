// vf/adapters/media/libav_media.cpp

#include "vf/adapters/media/libav_media.hpp"

#include "vf/adapters/media/probe.hpp"
#include "vf/messages/errc.hpp"

#include "caf/result.hpp"
#include "caf/spawn_options.hpp"
#include "caf/typed_event_based_actor.hpp"

#include <atomic>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <utility>

namespace vf::adapters::media {

namespace {

using messages::errc;
using messages::make_error;
using clock_type = std::chrono::steady_clock;

/// What the control actor and the (blocked) media actor share: which lease
/// is being probed and whether it is cancelled.
struct cancel_board {
  std::mutex mtx;
  uint64_t current = 0;
  /// Leases cancelled before their probe started (bounded).
  std::deque<uint64_t> early;
  std::atomic<bool> flag{false};

  void start(uint64_t lease) {
    std::lock_guard<std::mutex> guard{mtx};
    current = lease;
    bool hit = false;
    for (auto x : early)
      hit = hit || x == lease;
    flag = hit;
  }

  void finish() {
    std::lock_guard<std::mutex> guard{mtx};
    current = 0;
    flag = false;
  }

  void cancel(uint64_t lease) {
    std::lock_guard<std::mutex> guard{mtx};
    if (lease != 0 && lease == current) {
      flag = true;
      return;
    }
    early.push_back(lease);
    if (early.size() > 64)
      early.pop_front();
  }
};

caf::result<std::string> probe_object(const object_resolver& resolve,
                                      const messages::object_ref& obj,
                                      uint32_t timeout_ms,
                                      const std::atomic<bool>* cancel) {
  const auto& name = obj.key;
  auto timeout = std::chrono::milliseconds{timeout_ms};
  auto deadline = clock_type::now() + timeout;
  if (timeout_ms == 0)
    return make_error(errc::timeout, "probe of " + name + " given no time");
  if (!resolve)
    return make_error(errc::internal, "media actor has no object resolver");
  auto path = resolve(obj, timeout);
  if (!path) {
    auto err = std::move(path.error());
    // The worker decides on retries by errc: foreign errors would all read
    // as `internal` (a bug), although a failed fetch is usually transient.
    if (err.category() != messages::errc_category)
      return make_error(errc::storage_unavailable,
                        "fetching " + name + " failed: " + to_string(err));
    return err;
  }
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
    deadline - clock_type::now());
  if (left.count() <= 0)
    return make_error(errc::timeout, "fetching " + name + " used up the "
                                       + std::to_string(timeout_ms)
                                       + " ms deadline");
  auto res = probe_file_as(*path, name.empty() ? *path : name, left, cancel);
  if (!res)
    return std::move(res.error());
  return std::move(*res);
}

messages::media_actor::behavior_type
media_behavior(messages::media_actor::pointer, object_resolver resolve,
               std::shared_ptr<cancel_board> board) {
  return {
    [resolve = std::move(resolve),
     board](atoms::probe, const messages::object_ref& obj, uint32_t timeout_ms,
            uint64_t lease) -> caf::result<std::string> {
      board->start(lease);
      struct finisher {
        cancel_board* b;
        ~finisher() {
          b->finish();
        }
      } on_exit{board.get()};
      // Nothing may escape a handler: a throwing resolver (or bad_alloc)
      // becomes an error reply instead of killing the actor.
      try {
        return probe_object(resolve, obj, timeout_ms, &board->flag);
      } catch (const std::exception& ex) {
        return make_error(errc::internal,
                          "probe of " + obj.key + " threw: " + ex.what());
      } catch (...) {
        return make_error(errc::internal,
                          "probe of " + obj.key + " threw a non-exception");
      }
    },
  };
}

messages::media_control_actor::behavior_type
control_behavior(messages::media_control_actor::pointer,
                 std::shared_ptr<cancel_board> board) {
  return {
    [board](atoms::cancel, uint64_t lease) {
      board->cancel(lease);
      return true;
    },
  };
}

} // namespace

media_handles spawn_media_actor(caf::actor_system& sys,
                                object_resolver resolver) {
  auto board = std::make_shared<cancel_board>();
  media_handles result;
  result.media = sys.spawn<caf::detached>(media_behavior, std::move(resolver),
                                          board);
  // Event-based: it must answer while the media actor blocks in libav.
  result.control = sys.spawn(control_behavior, board);
  return result;
}

} // namespace vf::adapters::media
