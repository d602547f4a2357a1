// tests/fuzz/multipart_complete.fuzz.cpp
//
// libFuzzer target: the CompleteMultipartUpload body. The built-in store
// reads it from any client holding a signed request, then checks the parts
// it names against those stored and computes the multipart ETag.
//
// Input: the XML body (seeds in corpus/multipart_complete). Properties:
// parsed parts are numbered 1..10000, at least one; a list the checks
// accept is strictly ascending and names only stored parts with their
// ETags; the ETag of what was chosen ends with the count of parts.

#include "vf/adapters/objectstore/multipart.hpp"

#include "fuzz_check.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace os = vf::adapters::objectstore;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view xml{reinterpret_cast<const char*>(data), size};
  std::vector<std::pair<uint32_t, std::string>> parts;
  if (os::parse_complete_body(xml, parts))
    return 0;
  VF_FUZZ_CHECK(!parts.empty());
  for (auto& [n, etag] : parts)
    VF_FUZZ_CHECK(n >= 1 && n <= os::max_part_number);
  // Stored: parts 1..8 with ETags "e<n>" (md5-shaped for the ETag), 1 byte
  // each but the small last one allowed.
  std::vector<os::part_info> stored;
  for (uint32_t n = 1; n <= 8; ++n)
    stored.push_back({n, std::string(31, 'a') + std::to_string(n % 10), 1,
                      0});
  std::vector<os::part_info> chosen;
  if (os::check_complete(parts, stored, 1, chosen))
    return 0;
  VF_FUZZ_CHECK(chosen.size() == parts.size());
  for (size_t i = 0; i < chosen.size(); ++i) {
    VF_FUZZ_CHECK(chosen[i].number == parts[i].first);
    VF_FUZZ_CHECK(chosen[i].etag == parts[i].second);
    if (i > 0)
      VF_FUZZ_CHECK(chosen[i].number > chosen[i - 1].number);
  }
  auto etag = os::multipart_etag(chosen);
  auto suffix = "-" + std::to_string(chosen.size());
  VF_FUZZ_CHECK(etag.size() == 32 + suffix.size());
  VF_FUZZ_CHECK(etag.compare(32, suffix.size(), suffix) == 0);
  return 0;
}
