// vf/runtime/certs.hpp

#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace vf::runtime {

/// What `vidflow cluster init-certs` makes: a cluster CA and one certificate
/// per node, for the mutual TLS between nodes. Depends only on OpenSSL's
/// libcrypto and the standard library, so it compiles without CAF.
struct cert_options {
  /// Output directory; created with mode 0700 if missing.
  std::string dir;
  /// One certificate (CN and DNS SAN = the name) per node.
  std::vector<std::string> nodes{"coordinator", "worker"};
  /// Validity of node certificates, in days (the CA's is 3650).
  uint32_t days = 825;
  /// Moves notBefore and notAfter this many days into the past. TEST ONLY:
  /// with `days < backdate_days` the certificates are already expired.
  uint32_t backdate_days = 0;
  /// Overwrites existing node certificates and keys.
  bool force = false;
  /// Signs with `dir/ca.pem` + `dir/ca.key` when both exist (to add a node
  /// later); otherwise an existing CA is an error unless `force`.
  bool reuse_ca = true;
};

/// Writes `dir/ca.pem`, `dir/ca.key` and `dir/<node>.pem` + `dir/<node>.key`
/// per node: EC P-256 keys (PKCS#8 PEM, unencrypted, mode 0600), SHA-256
/// signatures. Returns an error text naming the file and what to do, or an
/// empty string on success. Progress lines (never key material) go to
/// `progress`.
[[nodiscard]] std::string init_certs(const cert_options& opts,
                                     std::ostream& progress);

/// Returns an error text if `name` cannot name a node certificate (letters,
/// digits, `-`, `_`, `.`; 1 to 64 characters; not `ca`; not starting with
/// `.` or `-`), or an empty string.
[[nodiscard]] std::string check_node_name(const std::string& name);

/// `vidflow cluster <subcommand>` (today only `init-certs`), with `args`
/// following `cluster`. Returns the exit code: 0 ok, 2 usage error, 1
/// failure.
int cluster_command(const std::vector<std::string>& args);

} // namespace vf::runtime
