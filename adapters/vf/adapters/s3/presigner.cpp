// vf/adapters/s3/presigner.cpp

#include "vf/adapters/s3/presigner.hpp"

#include "vf/messages/errc.hpp"
#include "vf/messages/upload_gate_actor.hpp"

#include "caf/typed_event_based_actor.hpp"

#include <ctime>

namespace vf::adapters::s3 {

namespace {

messages::presigner_actor::behavior_type
presigner(messages::presigner_actor::pointer, presigner_config cfg) {
  sigv4::presign_params base;
  base.method = "GET";
  base.endpoint = cfg.endpoint;
  base.creds = cfg.creds;
  base.region = cfg.region;
  base.expires = cfg.expires;
  return {
    [base](atoms::presign, const messages::object_ref& obj) {
      auto p = base;
      p.bucket = obj.bucket;
      p.key = obj.key;
      p.now = static_cast<int64_t>(std::time(nullptr));
      return sigv4::presign_url(p);
    },
    [base, put_expires = cfg.put_expires](
      atoms::presign_put, const std::vector<messages::object_ref>& objs,
      uint64_t lease) -> caf::result<std::vector<std::string>> {
      auto p = base;
      p.method = "PUT";
      p.expires = put_expires;
      p.query.emplace_back(std::string{messages::output_lease_parameter},
                           std::to_string(lease));
      p.now = static_cast<int64_t>(std::time(nullptr));
      std::vector<std::string> urls;
      urls.reserve(objs.size());
      for (auto& obj : objs) {
        p.bucket = obj.bucket;
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
  return sys.spawn(presigner, std::move(cfg));
}

} // namespace vf::adapters::s3
