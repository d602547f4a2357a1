// tests/fuzz/aws_chunked.fuzz.cpp
//
// libFuzzer target: the aws-chunked body decoder. The built-in store feeds
// it every byte of a chunk-signed PUT body as it arrives from the network,
// so any bytes, cut anywhere, must be refused cleanly or decoded exactly.
//
// Input: two bytes of object size (little endian), one byte of read size,
// then the body (seeds in corpus/aws_chunked are bodies signed for the
// fixed context below). Properties: never more bytes out than announced;
// done only with exactly the announced size out; and the input's own bytes,
// encoded and signed here, decode back to themselves in any read size.

#include "vf/adapters/objectstore/aws_chunked.hpp"

#include "fuzz_check.hpp"

#include "vf/adapters/sigv4/sigv4.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

namespace {

namespace os = vf::adapters::objectstore;
namespace sv = vf::adapters::sigv4;

sv::chunk_signing context() {
  sv::chunk_signing ctx;
  ctx.sc.region = "us-east-1";
  ctx.sc.service = "s3";
  ctx.sc.amz_date = "20130524T000000Z";
  ctx.secret_key = "fuzz-secret";
  ctx.previous = std::string(64, '0');
  return ctx;
}

std::string encode(const std::string& data, size_t chunk) {
  auto ctx = context();
  std::string out;
  size_t pos = 0;
  for (;;) {
    auto n = std::min(chunk, data.size() - pos);
    auto piece = data.substr(pos, n);
    ctx.previous = sv::chunk_signature(ctx, sv::sha256_hex(piece));
    char hex[32];
    std::snprintf(hex, sizeof hex, "%zx", n);
    out += hex;
    out += ";chunk-signature=" + ctx.previous + "\r\n" + piece + "\r\n";
    pos += n;
    if (n == 0)
      return out;
  }
}

/// Decodes `body` in reads of `step`; returns what came out, whether the
/// decoder finished, and whether it refused.
struct outcome {
  std::string out;
  bool done = false;
  bool refused = false;
};

outcome decode(const std::string& body, uint64_t length, size_t step) {
  outcome r;
  os::aws_chunked_decoder dec{context(), length};
  auto sink = [&r](const char* p, size_t k) {
    r.out.append(p, k);
    return true;
  };
  for (size_t pos = 0; pos < body.size(); pos += step)
    if (dec.feed(body.data() + pos, std::min(step, body.size() - pos), sink)) {
      r.refused = true;
      break;
    }
  r.done = dec.done();
  VF_FUZZ_CHECK(dec.decoded() == r.out.size());
  return r;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3)
    return 0;
  uint64_t length = data[0] | (uint64_t{data[1]} << 8);
  size_t step = size_t{data[2]} + 1;
  std::string body(reinterpret_cast<const char*>(data + 3), size - 3);
  // Hostile bytes: never more out than announced; done means exact.
  auto r = decode(body, length, step);
  VF_FUZZ_CHECK(r.out.size() <= length);
  if (r.done) {
    VF_FUZZ_CHECK(!r.refused);
    VF_FUZZ_CHECK(r.out.size() == length);
  }
  // The same bytes as an object, signed here: they come back unchanged.
  // Chunks of 320 bytes or more: each costs five HMACs to sign and five
  // to check, and the property is the same for any size.
  auto encoded = encode(body, 256 + step * 64);
  auto back = decode(encoded, body.size(), step);
  VF_FUZZ_CHECK(!back.refused);
  VF_FUZZ_CHECK(back.done);
  VF_FUZZ_CHECK(back.out == body);
  return 0;
}
