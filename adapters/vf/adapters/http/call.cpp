// vf/adapters/http/call.cpp

#include "vf/adapters/http/call.hpp"

#include "vf/messages/errc.hpp"

#include <string>

namespace vf::adapters::http {

void reply::fail(const caf::error& err, http_response&& if_not_found) const {
  if (messages::errc_of(err) == messages::errc::not_found)
    send(std::move(if_not_found));
  else
    fail(err);
}

void reply::failed(const char* what) const {
  auto& log = io_->state.config.log;
  if (log) {
    if (what != nullptr)
      log(std::string{"http: handler failed: "} + what);
    else
      log("http: ERROR handler failed with an unknown exception");
  }
  send(internal_error());
}

} // namespace vf::adapters::http
