// vf/adapters/common/digest.cpp

#include "vf/adapters/common/digest.hpp"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <unistd.h>

#include "vf/messages/errc.hpp"

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

namespace vf::adapters::common {

sha256_digest sha256(std::string_view x) {
  sha256_digest result{};
  unsigned int n = 0;
  EVP_Digest(x.data(), x.size(), result.data(), &n, EVP_sha256(), nullptr);
  return result;
}

sha256_digest hmac_sha256(std::string_view key, std::string_view data) {
  sha256_digest result{};
  unsigned int n = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(),
       result.data(), &n);
  return result;
}

caf::expected<std::string> sha256_file_hex(const std::string& path,
                                           const std::atomic<bool>* cancel) {
  using messages::errc;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return messages::make_error(errc::storage_unavailable,
                                "cannot read " + path + ": "
                                  + std::strerror(errno));
  std::unique_ptr<int, void (*)(int*)> closer{&fd, [](int* x) {
                                                ::close(*x);
                                              }};
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx{EVP_MD_CTX_new(),
                                                         EVP_MD_CTX_free};
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1)
    return messages::make_error(errc::internal, "SHA-256 unavailable");
  std::vector<unsigned char> buf(1 << 20);
  for (;;) {
    if (cancel != nullptr && cancel->load())
      return messages::make_error(errc::cancelled,
                                  "hashing " + path + " cancelled");
    auto n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return messages::make_error(errc::storage_unavailable,
                                  "cannot read " + path + ": "
                                    + std::strerror(errno));
    if (n == 0)
      break;
    EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<size_t>(n));
  }
  sha256_digest d{};
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), d.data(), &len);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(64);
  for (auto b : d) {
    out += hex[b >> 4];
    out += hex[b & 0xf];
  }
  return out;
}

bool constant_time_equal(std::string_view x, std::string_view y) {
  return x.size() == y.size()
         && CRYPTO_memcmp(x.data(), y.data(), x.size()) == 0;
}

bool constant_time_equal(const sha256_digest& x, const sha256_digest& y) {
  return CRYPTO_memcmp(x.data(), y.data(), x.size()) == 0;
}

} // namespace vf::adapters::common
