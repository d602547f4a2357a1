// vf/adapters/common/asio_bridge.hpp
//
// Lets code running on a Boost.Asio io_context talk to CAF actors without
// blocking: an actor_companion whose mailbox is drained on the io_context, so
// `request(...).then(...)` callbacks run on the I/O thread. Shared by every
// adapter that serves HTTP (API, built-in object store).

#pragma once

#include "caf/actor_companion.hpp"
#include "caf/actor_system.hpp"
#include "caf/extend.hpp"
#include "caf/mixin/requester.hpp"
#include "caf/scoped_execution_unit.hpp"

#include <boost/asio/io_context.hpp>

namespace vf::adapters::common {

/// A companion actor with `request()` (0.17.6's companion lacks it).
class asio_actor
  : public caf::extend<caf::actor_companion,
                       asio_actor>::with<caf::mixin::requester> {
public:
  using super = caf::extend<caf::actor_companion,
                            asio_actor>::with<caf::mixin::requester>;
  using signatures = caf::none_t;
  using behavior_type = caf::behavior;

  explicit asio_actor(caf::actor_config& cfg);
};

/// One per io_context thread. Call `self()` only on that thread. Destroy it
/// before the actor system shuts down: the companion counts as a live actor.
class asio_bridge {
public:
  asio_bridge(caf::actor_system& sys, boost::asio::io_context& ioc);

  asio_bridge(const asio_bridge&) = delete;
  asio_bridge& operator=(const asio_bridge&) = delete;

  ~asio_bridge();

  /// The companion; use it to send requests from the I/O thread.
  asio_actor* self();

private:
  caf::scoped_execution_unit ctx_;
  caf::strong_actor_ptr ptr_;
};

} // namespace vf::adapters::common
