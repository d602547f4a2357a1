// vf/adapters/s3/presigner.hpp
//
// Implements `messages::presigner_actor` with SigV4 query signing (GETs of
// uploads, PUTs of outputs): the URLs work against the built-in store and
// any S3-compatible server.

#pragma once

#include "caf/actor_system.hpp"

#include "vf/adapters/s3/client.hpp"
#include "vf/adapters/sigv4/sigv4.hpp"
#include "vf/messages/presigner_actor.hpp"

#include <cstdint>
#include <string>

namespace vf::adapters::s3 {

/// Where presigned GET URLs point and how long they stay valid.
struct presigner_config {
  /// Scheme, host and port the worker nodes reach the store by.
  std::string endpoint;
  std::string region;
  sigv4::credentials creds;
  /// When set, asked for keys per URL instead of `creds` (temporary
  /// credentials: a URL then works only while its session token does).
  key_source keys;
  addressing style = addressing::path;
  /// Lifetime of a GET URL in seconds (a lease's deadline plus a margin).
  uint32_t expires = 900;
  /// Lifetime of a PUT URL of a render's output in seconds (a render's
  /// deadline plus a margin: outputs are stored at its end).
  uint32_t put_expires = 2100;
};

/// Spawns a presigner: pure computation (an HMAC chain per URL) on the
/// cooperative scheduler, or a detached actor when `cfg.keys` is set (a
/// refresh of temporary credentials blocks).
messages::presigner_actor spawn_presigner(caf::actor_system& sys,
                                          presigner_config cfg);

} // namespace vf::adapters::s3
