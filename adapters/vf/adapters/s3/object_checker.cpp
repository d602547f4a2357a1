// vf/adapters/s3/object_checker.cpp

#include "vf/adapters/s3/object_checker.hpp"

#include "vf/messages/errc.hpp"

#include "caf/typed_event_based_actor.hpp"

#include <string_view>

namespace vf::adapters::s3 {

namespace {

std::string_view unquoted(std::string_view x) {
  if (x.size() >= 2 && x.front() == '"' && x.back() == '"')
    return x.substr(1, x.size() - 2);
  return x;
}

messages::object_checker_actor::behavior_type
object_checker(messages::object_checker_actor::pointer, client_config cfg,
               int64_t timeout_ms) {
  return {
    [cfg, timeout_ms](atoms::head,
                      messages::object_ref& obj)
      -> caf::result<messages::object_ref> {
      auto info = head_object(cfg, obj.bucket, obj.key, timeout_ms);
      if (!info)
        return std::move(info.error());
      obj.size = info->size;
      obj.etag.assign(unquoted(info->etag));
      return std::move(obj);
    },
  };
}

} // namespace

messages::object_checker_actor
spawn_object_checker(caf::actor_system& sys, client_config cfg,
                     int64_t timeout_ms) {
  return sys.spawn<caf::detached>(object_checker, std::move(cfg), timeout_ms);
}

} // namespace vf::adapters::s3
