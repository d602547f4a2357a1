// tests/fuzz/minio_events.fuzz.cpp
//
// libFuzzer target: object-store notification bodies. MinIO webhook POSTs
// and SQS messages come straight from the network, so the three parsers must
// turn any bytes into events or an error: no crash, leak or UB. Every input
// goes through all three (their JSON shapes overlap, so one corpus serves
// them all) and through decode_key.

#include "fuzz_check.hpp"

#include "vf/adapters/minio/events.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

namespace mn = vf::adapters::minio;

bool starts_with(std::string_view str, std::string_view prefix) {
  return str.substr(0, prefix.size()) == prefix;
}

// What events.hpp promises about a successful parse.
void check(const caf::expected<mn::parse_result>& res) {
  if (!res)
    return;
  for (auto& ev : res->events) {
    VF_FUZZ_CHECK(starts_with(ev.name, "s3:ObjectCreated:"));
    VF_FUZZ_CHECK(!ev.source.empty());
    VF_FUZZ_CHECK(!ev.object.bucket.empty());
    VF_FUZZ_CHECK(!ev.object.key.empty());
    VF_FUZZ_CHECK(!ev.object.version.empty());
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body{reinterpret_cast<const char*>(data), size};
  check(mn::parse_minio_webhook(body));
  check(mn::parse_s3_event(body));
  check(mn::parse_eventbridge(body));
  std::string key;
  if (mn::decode_key(body, key))
    VF_FUZZ_CHECK(key.size() <= body.size());
  return 0;
}
