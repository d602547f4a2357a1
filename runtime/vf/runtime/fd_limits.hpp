// vf/runtime/fd_limits.hpp
//
// File descriptors at start-up: the soft RLIMIT_NOFILE is raised to the hard
// limit where allowed, and each listener's connection cap is derived from
// what remains after a reserve for the database, logs, media files and the
// cluster, so that neither listener can starve the other or SQLite.

#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace vf::runtime {

/// The descriptor limit after `raise_fd_limit`.
struct fd_limit {
  /// Soft limit in force now.
  uint64_t soft = 0;
  /// Hard limit (the most the soft limit may become).
  uint64_t hard = 0;
  /// Soft limit before the call.
  uint64_t before = 0;
  /// Why raising failed; empty on success or when nothing was to do.
  std::string error;
};

/// Raises the soft RLIMIT_NOFILE to the hard limit (capped at 1 << 20).
fd_limit raise_fd_limit();

/// The connection caps of the two listeners.
struct connection_caps {
  /// Most connections of the JSON API.
  size_t http = 0;
  /// Most connections of the built-in store (0 when it does not run).
  size_t store = 0;
};

/// Splits `soft - reserve` descriptors between the API and (if
/// `with_store`) the store, never above the configured caps and never below
/// 1 each.
connection_caps split_descriptors(uint64_t soft, uint64_t reserve,
                                  size_t http_max, size_t store_max,
                                  bool with_store);

} // namespace vf::runtime
