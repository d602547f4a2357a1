// vf/adapters/s3/object_deleter.cpp

#include "vf/adapters/s3/object_deleter.hpp"

#include "caf/typed_event_based_actor.hpp"

#include "vf/messages/errc.hpp"

#include <string>
#include <utility>

namespace vf::adapters::s3 {

namespace {

using messages::errc;

/// The store's own refusal is the operator's to fix, not the client's.
caf::error for_the_caller(caf::error err) {
  auto code = messages::errc_of(err);
  if (code == errc::forbidden || code == errc::unauthorized)
    return messages::make_error(
      errc::storage_unavailable,
      messages::message_of(err)
        + " (the node's keys need s3:DeleteObject and s3:ListBucket on the "
          "bucket)");
  return err;
}

messages::object_deleter_actor::behavior_type
object_deleter(messages::object_deleter_actor::pointer, client_config cfg,
               int64_t timeout_ms) {
  return {
    [cfg, timeout_ms](atoms::erase, const std::string& bucket,
                      const std::string& key) -> caf::result<bool> {
      if (bucket.empty() || key.empty())
        return messages::make_error(errc::invalid_argument,
                                    "s3 delete: empty bucket or key");
      auto res = delete_object(cfg, bucket, key, timeout_ms);
      if (!res)
        return for_the_caller(std::move(res.error()));
      return true;
    },
    [cfg, timeout_ms](atoms::erase_prefix, const std::string& bucket,
                      const std::string& prefix) -> caf::result<uint64_t> {
      auto res = delete_prefix(cfg, bucket, prefix, timeout_ms);
      if (!res)
        return for_the_caller(std::move(res.error()));
      return *res;
    },
  };
}

} // namespace

messages::object_deleter_actor spawn_object_deleter(caf::actor_system& sys,
                                                    client_config cfg,
                                                    int64_t timeout_ms) {
  return sys.spawn<caf::detached>(object_deleter, std::move(cfg), timeout_ms);
}

} // namespace vf::adapters::s3
