// vf/runtime/fd_limits.cpp

#include "vf/runtime/fd_limits.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace vf::runtime {

fd_limit raise_fd_limit() {
  fd_limit out;
  struct rlimit lim;
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) {
    out.error = std::strerror(errno);
    return out;
  }
  // RLIM_INFINITY is not a number of descriptors; a million is plenty.
  constexpr rlim_t ceiling = rlim_t{1} << 20;
  out.before = lim.rlim_cur;
  out.hard = lim.rlim_max == RLIM_INFINITY ? ceiling : lim.rlim_max;
  auto want = std::min<rlim_t>(lim.rlim_max, ceiling);
  if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < want) {
    struct rlimit next = lim;
    next.rlim_cur = want;
    if (::setrlimit(RLIMIT_NOFILE, &next) == 0)
      lim.rlim_cur = want;
    else
      out.error = std::strerror(errno);
  }
  out.soft = lim.rlim_cur == RLIM_INFINITY ? ceiling : lim.rlim_cur;
  return out;
}

connection_caps split_descriptors(uint64_t soft, uint64_t reserve,
                                  size_t http_max, size_t store_max,
                                  bool with_store) {
  auto avail = soft > reserve ? soft - reserve : 0;
  auto share = with_store ? avail / 2 : avail;
  auto cap = [&](size_t configured) {
    return std::max<size_t>(1, std::min<uint64_t>(configured, share));
  };
  connection_caps caps;
  caps.http = cap(http_max);
  caps.store = with_store ? cap(store_max) : 0;
  return caps;
}

} // namespace vf::runtime
