// vf/adapters/media/media_actor.cpp

#include "vf/adapters/media/media_actor.hpp"

#include "vf/adapters/media/probe.hpp"
#include "vf/messages/errc.hpp"

#include "caf/result.hpp"
#include "caf/spawn_options.hpp"
#include "caf/typed_event_based_actor.hpp"

#include <exception>
#include <utility>

namespace vf::adapters::media {

namespace {

using messages::errc;
using messages::make_error;
using clock_type = std::chrono::steady_clock;

caf::result<std::string> probe_object(const object_resolver& resolve,
                                      const messages::object_ref& obj,
                                      uint32_t timeout_ms) {
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
  auto res = probe_file_as(*path, name.empty() ? *path : name, left);
  if (!res)
    return std::move(res.error());
  return std::move(*res);
}

messages::media_actor::behavior_type
media_behavior(messages::media_actor::pointer, object_resolver resolve) {
  return {
    [resolve
     = std::move(resolve)](atoms::probe, const messages::object_ref& obj,
                           uint32_t timeout_ms) -> caf::result<std::string> {
      // Nothing may escape a handler: a throwing resolver (or bad_alloc)
      // becomes an error reply instead of killing the actor.
      try {
        return probe_object(resolve, obj, timeout_ms);
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

} // namespace

messages::media_actor spawn_media_actor(caf::actor_system& sys,
                                        object_resolver resolver) {
  return sys.spawn<caf::detached>(media_behavior, std::move(resolver));
}

} // namespace vf::adapters::media
