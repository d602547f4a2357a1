// vf/runtime/storage_check.hpp
//
// The readiness check of the data directory: a full or read-only disk makes
// the node not ready (`/readyz` 503) and `POST /jobs` refuse new uploads,
// instead of handing out upload URLs for bytes that cannot be stored.

#pragma once

#include "vf/adapters/http/api_server.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace vf::runtime {

/// Returns a check of `dir`: writable (`access(W_OK)`, which also sees a
/// read-only mount) and more than `min_free_bytes` available to us on its
/// file system (`statvfs`'s `f_bavail`). Both are cheap system calls that do
/// not block on I/O, so the check may run on the HTTP I/O threads. Still,
/// each walks the path, and `POST /jobs` asks on every request: an answer
/// is reused for `fresh_for` (a disk that fills is seen that much later).
std::function<adapters::http::storage_status()>
make_storage_check(std::string dir, uint64_t min_free_bytes,
                   std::chrono::milliseconds fresh_for
                   = std::chrono::milliseconds{250});

} // namespace vf::runtime
