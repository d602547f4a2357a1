// vf/adapters/s3/presigner.cpp

#include "vf/adapters/s3/presigner.hpp"

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
  };
}

} // namespace

messages::presigner_actor spawn_presigner(caf::actor_system& sys,
                                          presigner_config cfg) {
  return sys.spawn(presigner, std::move(cfg));
}

} // namespace vf::adapters::s3
