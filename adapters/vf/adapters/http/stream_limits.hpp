// vf/adapters/http/stream_limits.hpp
//
// How many live event streams are open, per node and per user: a stream
// holds a connection for minutes, so a few users must not be able to take
// every one. Thread-safe (every I/O thread opens streams).

#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace vf::adapters::http {

/// Counts open streams against a total and a per-user limit.
class stream_limits {
public:
  /// Allows `total` streams at once, `per_user` of them for one user.
  stream_limits(size_t total, size_t per_user);

  /// A place for one more stream of `user` (released when the last copy of
  /// the returned pointer goes), or null when a limit is reached; then
  /// `why` says which. The limits must outlive every place handed out.
  std::shared_ptr<void> acquire(const std::string& user, std::string& why);

  /// Streams open now.
  size_t open() const;

private:
  void release(const std::string& user);

  size_t total_;
  size_t per_user_;
  mutable std::mutex mtx_;
  size_t open_ = 0;
  std::map<std::string, size_t> by_user_;
};

} // namespace vf::adapters::http
