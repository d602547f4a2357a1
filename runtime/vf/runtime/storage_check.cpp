// vf/runtime/storage_check.cpp

#include "vf/runtime/storage_check.hpp"

#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>

namespace vf::runtime {

namespace {

adapters::http::storage_status check_now(const std::string& dir,
                                         uint64_t min_free_bytes) {
  adapters::http::storage_status result;
  if (::access(dir.c_str(), W_OK) != 0) {
    auto err = errno;
    result.ok = false;
    result.detail
      = "data directory " + dir + " is not writable: " + std::strerror(err);
    return result;
  }
  struct statvfs fs {};
  if (::statvfs(dir.c_str(), &fs) != 0) {
    auto err = errno;
    result.ok = false;
    result.detail
      = "cannot read the free space of " + dir + ": " + std::strerror(err);
    return result;
  }
  auto free_bytes
    = static_cast<uint64_t>(fs.f_bavail) * static_cast<uint64_t>(fs.f_frsize);
  result.free_bytes = free_bytes;
  result.total_bytes
    = static_cast<uint64_t>(fs.f_blocks) * static_cast<uint64_t>(fs.f_frsize);
  if (free_bytes <= min_free_bytes) {
    result.ok = false;
    result.detail = "free space " + std::to_string(free_bytes)
                    + " bytes on the file system of " + dir
                    + " is not above limits.min_free_bytes ("
                    + std::to_string(min_free_bytes) + " bytes)";
  }
  return result;
}

} // namespace

std::function<adapters::http::storage_status()>
make_storage_check(std::string dir, uint64_t min_free_bytes,
                   std::chrono::milliseconds fresh_for) {
  struct last_answer {
    std::mutex mtx;
    bool valid = false;
    std::chrono::steady_clock::time_point at;
    adapters::http::storage_status status;
  };
  auto last = std::make_shared<last_answer>();
  return [dir = std::move(dir), min_free_bytes, fresh_for, last] {
    auto now = std::chrono::steady_clock::now();
    std::lock_guard<std::mutex> guard{last->mtx};
    if (!last->valid || now - last->at >= fresh_for) {
      last->status = check_now(dir, min_free_bytes);
      last->at = now;
      last->valid = true;
    }
    return last->status;
  };
}

} // namespace vf::runtime
