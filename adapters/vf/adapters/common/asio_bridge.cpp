// vf/adapters/common/asio_bridge.cpp

#include "vf/adapters/common/asio_bridge.hpp"

#include "caf/actor_cast.hpp"
#include "caf/detail/disposer.hpp"
#include "caf/exit_reason.hpp"

#include <boost/asio/post.hpp>

#include <memory>

namespace vf::adapters::common {

asio_actor::asio_actor(caf::actor_config& cfg) : super(cfg) {
  // nop
}

asio_bridge::asio_bridge(caf::actor_system& sys, boost::asio::io_context& ioc)
  : ctx_(&sys) {
  ptr_ = caf::actor_cast<caf::strong_actor_ptr>(sys.spawn<asio_actor>());
  self()->on_enqueue([this, &ioc](caf::mailbox_element_ptr m) {
    // Runs on any CAF thread: hand the element over to the I/O thread.
    std::shared_ptr<caf::mailbox_element> sp{m.release(),
                                             caf::detail::disposer{}};
    boost::asio::post(ioc, [this, sp] { self()->activate(&ctx_, *sp); });
  });
  self()->become([](const caf::message&) {});
}

asio_bridge::~asio_bridge() {
  // Order matters (CAF 0.17.6): stop enqueueing, then clean up; disconnect()
  // is declared but not defined in libcaf_core.
  self()->on_enqueue(nullptr);
  self()->cleanup(caf::exit_reason::user_shutdown, &ctx_);
}

asio_actor* asio_bridge::self() {
  return static_cast<asio_actor*>(caf::actor_cast<caf::abstract_actor*>(ptr_));
}

} // namespace vf::adapters::common
