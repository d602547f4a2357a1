// vf/runtime/cluster.cpp

#include "vf/runtime/cluster.hpp"

#include "caf/io/basp_broker.hpp"
#include "caf/io/middleman.hpp"
#include "caf/openssl/manager.hpp"
#include "caf/openssl/publish.hpp"
#include "caf/openssl/remote_actor.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

namespace vf::runtime {

void enable_cluster(caf::actor_system_config& sys_cfg,
                    const cluster_config& cfg) {
  sys_cfg.load<caf::io::middleman>();
  sys_cfg.load<caf::openssl::manager>();
  sys_cfg.set("openssl.certificate", cfg.cert);
  sys_cfg.set("openssl.key", cfg.key);
  sys_cfg.set("openssl.cafile", cfg.ca);
  sys_cfg.set("middleman.heartbeat-interval", caf::timespan{cfg.heartbeat});
  sys_cfg.set("middleman.connection-timeout", caf::timespan{cfg.timeout});
}

void exempt_caf_network_from_leak_check(caf::actor_system& sys) {
#if defined(__SANITIZE_ADDRESS__)
  auto exempt = [](const caf::strong_actor_ptr& ptr) {
    if (ptr)
      __lsan_ignore_object(caf::actor_cast<caf::abstract_actor*>(ptr));
  };
  if (sys.has_middleman())
    exempt(caf::actor_cast<caf::strong_actor_ptr>(
      sys.middleman().named_broker<caf::io::basp_broker>(caf::atom("BASP"))));
  exempt(sys.registry().get(caf::atom("ConfigServ")));
  exempt(sys.registry().get(caf::atom("SpawnServ")));
#else
  static_cast<void>(sys);
#endif
}

caf::expected<uint16_t>
publish_registry(const messages::cluster_registry_actor& registry,
                 const cluster_config& cfg) {
  const char* in = cfg.host.empty() || cfg.host == "0.0.0.0"
                     ? nullptr
                     : cfg.host.c_str();
  return caf::openssl::publish(registry, cfg.port, in, true);
}

caf::expected<messages::cluster_registry_actor>
connect_registry(caf::actor_system& sys, const cluster_config& cfg) {
  return caf::openssl::remote_actor<messages::cluster_registry_actor>(
    sys, cfg.host, cfg.port);
}

std::string admin_mac(const std::string& key, const std::string& text) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(text.data()), text.size(),
           md, &len)
      == nullptr)
    return {}; // Never matches: the registry wants 64 hex digits.
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(digits[md[i] >> 4]);
    out.push_back(digits[md[i] & 0xf]);
  }
  return out;
}

} // namespace vf::runtime
