// vf/actors/secure_random.cpp

#include "vf/actors/secure_random.hpp"

#include <cerrno>
#include <cstdio>
#include <system_error>

#include <sys/random.h>

namespace vf::actors {

void secure_random_fill(void* out, size_t n) {
  auto* p = static_cast<unsigned char*>(out);
  while (n > 0) {
    // Flags 0: the urandom pool, but blocks until it was seeded once.
    auto got = ::getrandom(p, n, 0);
    if (got < 0) {
      if (errno == EINTR)
        continue;
      throw std::system_error(errno, std::generic_category(), "getrandom");
    }
    p += got;
    n -= static_cast<size_t>(got);
  }
}

uint64_t secure_random_u64() {
  uint64_t x = 0;
  secure_random_fill(&x, sizeof(x));
  return x;
}

std::string secure_uuid4() {
  unsigned char b[16];
  secure_random_fill(b, sizeof(b));
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40); // version 4
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80); // variant 1
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (size_t i = 0; i < sizeof(b); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10)
      out += '-';
    out += hex[b[i] >> 4];
    out += hex[b[i] & 0x0f];
  }
  return out;
}

} // namespace vf::actors
