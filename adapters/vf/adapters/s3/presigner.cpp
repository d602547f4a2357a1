// vf/adapters/s3/presigner.cpp

#include "vf/adapters/s3/presigner.hpp"

#include "caf/typed_event_based_actor.hpp"

#include "vf/messages/errc.hpp"
#include "vf/messages/upload_gate_actor.hpp"

#include <ctime>
#include <memory>

namespace vf::adapters::s3 {

namespace {

/// Fills in the keys, endpoint and bucket of `p` for an object of `bucket`.
caf::error aim(sigv4::presign_params& p, const presigner_config& cfg,
               const std::string& bucket) {
  auto keys
    = cfg.keys ? cfg.keys() : caf::expected<sigv4::credentials>{cfg.creds};
  if (!keys)
    return keys.error();
  p.creds = std::move(*keys);
  auto t = target_of(cfg.endpoint, bucket, cfg.style);
  p.endpoint = std::move(t.endpoint);
  p.bucket = std::move(t.bucket);
  return caf::none;
}

messages::presigner_actor::behavior_type
presigner(messages::presigner_actor::pointer, presigner_config cfg) {
  sigv4::presign_params base;
  base.method = "GET";
  base.region = cfg.region;
  base.expires = cfg.expires;
  auto shared = std::make_shared<const presigner_config>(std::move(cfg));
  return {
    [base, shared](atoms::presign, const messages::object_ref& obj)
      -> caf::result<std::string> {
      auto p = base;
      if (auto err = aim(p, *shared, obj.bucket))
        return err;
      p.key = obj.key;
      p.now = static_cast<int64_t>(std::time(nullptr));
      auto url = sigv4::presign_url(p);
      if (url.empty())
        return messages::make_error(messages::errc::internal,
                                    "cannot presign a GET of " + obj.bucket
                                      + "/" + obj.key);
      return url;
    },
    [base, shared](atoms::presign_put,
                   const std::vector<messages::object_ref>& objs,
                   uint64_t lease) -> caf::result<std::vector<std::string>> {
      auto p = base;
      p.method = "PUT";
      p.expires = shared->put_expires;
      p.query.emplace_back(std::string{messages::output_lease_parameter},
                           std::to_string(lease));
      p.now = static_cast<int64_t>(std::time(nullptr));
      std::vector<std::string> urls;
      urls.reserve(objs.size());
      for (auto& obj : objs) {
        if (auto err = aim(p, *shared, obj.bucket))
          return err;
        p.key = obj.key;
        urls.push_back(sigv4::presign_url(p));
        if (urls.back().empty())
          return messages::make_error(messages::errc::internal,
                                      "cannot presign a PUT of " + obj.bucket
                                        + "/" + obj.key);
      }
      return urls;
    },
  };
}

} // namespace

messages::presigner_actor spawn_presigner(caf::actor_system& sys,
                                          presigner_config cfg) {
  if (cfg.keys)
    return sys.spawn<caf::detached>(presigner, std::move(cfg));
  return sys.spawn(presigner, std::move(cfg));
}

} // namespace vf::adapters::s3
