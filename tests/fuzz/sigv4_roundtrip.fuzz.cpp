// tests/fuzz/sigv4_roundtrip.fuzz.cpp
//
// libFuzzer target: presign, then verify. Object keys come from users (file
// names), so whatever key presign_url accepts, the request a client makes
// from that URL must verify `ok`, and the same request with a changed path,
// a changed signature or past its expiry must not. Bytes choose the key,
// bucket, method, access key, time, lifetime and extra signed headers; the
// endpoint and region come from small tables (they are configuration, not
// input).

#include "fuzz_check.hpp"

#include "vf/adapters/sigv4/sigv4.hpp"

#include <fuzzer/FuzzedDataProvider.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace {

namespace sv = vf::adapters::sigv4;

constexpr std::array<const char*, 5> endpoints{
  "http://127.0.0.1:9000", "https://s3.example.com",
  "http://localhost:8000/store/", "https://[::1]:8443", "http://Minio:80"};

constexpr std::array<const char*, 3> regions{"us-east-1", "eu-west-3",
                                             "auto"};

// Keeps only the bytes of `allowed` (cycling through them): bucket names,
// access keys and header names are restricted alphabets in practice.
std::string restrict_to(std::string str, std::string_view allowed) {
  for (auto& c : str)
    c = allowed[static_cast<unsigned char>(c) % allowed.size()];
  return str;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in{data, size};
  sv::presign_params params;
  params.endpoint = in.PickValueInArray(endpoints);
  params.region = in.PickValueInArray(regions);
  params.method = restrict_to(in.ConsumeRandomLengthString(8),
                              "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
  params.bucket = restrict_to(in.ConsumeRandomLengthString(63),
                              "abcdefghijklmnopqrstuvwxyz0123456789.-");
  params.creds.access_key = restrict_to(in.ConsumeRandomLengthString(32),
                                        "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567");
  params.creds.secret_key = in.ConsumeRandomLengthString(64);
  // 1970-01-01T00:00:01Z .. 9999-12-31T23:59:59Z: what an X-Amz-Date holds.
  params.now = in.ConsumeIntegralInRange<int64_t>(1, 253402300799);
  params.expires = in.ConsumeIntegralInRange<uint32_t>(1, 604800);
  auto n_headers = in.ConsumeIntegralInRange<int>(0, 3);
  for (int i = 0; i < n_headers; ++i) {
    auto name = restrict_to(in.ConsumeRandomLengthString(16),
                            "abcdefghijklmnopqrstuvwxyz0123456789-");
    if (name.empty())
      name = "x-amz-meta-a";
    params.signed_headers.emplace_back(std::move(name),
                                       in.ConsumeRandomLengthString(32));
  }
  params.key = in.ConsumeRemainingBytesAsString();
  auto url = sv::presign_url(params);
  if (params.method.empty() || params.key.empty()
      || params.creds.access_key.empty()) {
    VF_FUZZ_CHECK(url.empty());
    return 0;
  }
  VF_FUZZ_CHECK(!url.empty());
  // What the client sends: the URL's target, its host and the extra headers.
  auto ep = sv::parse_endpoint(params.endpoint);
  VF_FUZZ_CHECK(ep.has_value());
  auto prefix = ep->scheme + "://" + ep->host;
  VF_FUZZ_CHECK(url.compare(0, prefix.size(), prefix) == 0);
  sv::incoming req;
  req.method = params.method;
  req.target = url.substr(prefix.size());
  req.headers.emplace_back("Host", ep->host);
  for (auto& [name, value] : params.signed_headers)
    if (name != "host")
      req.headers.emplace_back(name, value);
  auto lookup = [&](std::string_view key) -> std::optional<std::string> {
    if (key == params.creds.access_key)
      return params.creds.secret_key;
    return std::nullopt;
  };
  auto verify = [&](const sv::incoming& x, int64_t now) {
    return sv::verify_presigned(x, lookup, params.region, now);
  };
  auto res = verify(req, params.now + params.expires / 2);
  if (res != sv::verify_error::ok)
    std::fprintf(stderr, "url: %s\nverify: %s\n", url.c_str(),
                 sv::to_string(res));
  VF_FUZZ_CHECK(res == sv::verify_error::ok);
  VF_FUZZ_CHECK(verify(req, params.now + params.expires + 1)
                == sv::verify_error::expired);
  // A different object under the same signature.
  auto tampered = req;
  tampered.target.insert(tampered.target.find('?'), "x");
  VF_FUZZ_CHECK(verify(tampered, params.now) != sv::verify_error::ok);
  // A different signature (its last hex digit changed).
  tampered = req;
  auto& last = tampered.target.back();
  last = last == '0' ? '1' : '0';
  VF_FUZZ_CHECK(verify(tampered, params.now) != sv::verify_error::ok);
  return 0;
}
