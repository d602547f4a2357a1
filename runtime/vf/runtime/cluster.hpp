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

/// Under LeakSanitizer only (no-op otherwise): marks CAF's BASP broker and
/// the actor system's config and spawn servers as never leaked, with
/// everything reachable from them. CAF 0.17.6 can leave these in a
/// reference cycle when an actor system with cluster heartbeats shuts down
/// (the broker's last heartbeat and messages from peers; see
/// docs/testing.md "Sanitizers"); that cycle is CAF's, and the marks keep
/// it from failing every test. The price: whatever those actors still
/// reach at exit is never reported either — the actor a coordinator
/// published on the cluster port (the registry, with its state), the
/// remote-actor proxies, and messages still queued in their mailboxes. A
/// leak anywhere else (the role scripts, the domain and adapter actors, the
/// stores) is still reported (checked with a deliberate leak, see
/// docs/testing.md). Call once, right after the actor system started.
void exempt_caf_network_from_leak_check(caf::actor_system& sys);

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
