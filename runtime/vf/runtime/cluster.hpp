// vf/runtime/cluster.hpp
//
// What every cluster node sets up the same way: CAF's network layer with
// mutual TLS and heartbeats, and the coordinator's registry.

#pragma once

#include "vf/messages/cluster_registry_actor.hpp"
#include "vf/runtime/node_config.hpp"

#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "caf/expected.hpp"

#include <cstdint>
#include <string>

namespace vf::runtime {

/// Loads the middleman and CAF's OpenSSL module into `sys_cfg` and sets
/// their options from `cfg`: the peer must present a certificate signed by
/// `cfg.ca`; heartbeats and the connection timeout are on (CAF ships both
/// off, so frozen or cut-off peers would never be noticed).
void enable_cluster(caf::actor_system_config& sys_cfg,
                    const cluster_config& cfg);

/// Publishes `registry` on `cfg.host:cfg.port` over TLS (reusing the
/// address, so a restarted coordinator gets its port back at once).
caf::expected<uint16_t>
publish_registry(const messages::cluster_registry_actor& registry,
                 const cluster_config& cfg);

/// Connects to the registry at `cfg.host:cfg.port` over TLS. Blocks until
/// the TLS and CAF handshakes finish or fail.
caf::expected<messages::cluster_registry_actor>
connect_registry(caf::actor_system& sys, const cluster_config& cfg);

/// Returns the hex HMAC-SHA256 of `text` under the cluster admin secret
/// `key`: what the coordinator expects for an operator's command
/// (`messages::admin_payload`) and what `vidflow worker --drain` sends.
std::string admin_mac(const std::string& key, const std::string& text);

} // namespace vf::runtime
