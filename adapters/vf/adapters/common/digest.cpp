// vf/adapters/common/digest.cpp

#include "vf/adapters/common/digest.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

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

bool constant_time_equal(std::string_view x, std::string_view y) {
  return x.size() == y.size()
         && CRYPTO_memcmp(x.data(), y.data(), x.size()) == 0;
}

bool constant_time_equal(const sha256_digest& x, const sha256_digest& y) {
  return CRYPTO_memcmp(x.data(), y.data(), x.size()) == 0;
}

} // namespace vf::adapters::common
