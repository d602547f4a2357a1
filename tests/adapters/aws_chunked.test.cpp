#define CAF_SUITE adapters.aws_chunked

#include "vf_test.hpp"

#include "vf/adapters/objectstore/aws_chunked.hpp"
#include "vf/adapters/sigv4/sigv4.hpp"

#include <cstdio>
#include <string>
#include <vector>

namespace os = vf::adapters::objectstore;
namespace sigv4 = vf::adapters::sigv4;

namespace {

sigv4::chunk_signing seed() {
  sigv4::chunk_signing ctx;
  ctx.sc.region = "us-east-1";
  ctx.sc.service = "s3";
  ctx.sc.amz_date = "20261206T070000Z";
  ctx.secret_key = "dev-only-secret-key";
  ctx.previous = std::string(64, '0');
  return ctx;
}

/// `data` in aws-chunked framing, chunks of `size` bytes, each signed.
std::string encode(const std::string& data, size_t size,
                   sigv4::chunk_signing ctx = seed()) {
  std::string out;
  size_t pos = 0;
  for (;;) {
    auto n = std::min(size, data.size() - pos);
    auto chunk = data.substr(pos, n);
    auto sig = sigv4::chunk_signature(ctx, sigv4::sha256_hex(chunk));
    ctx.previous = sig;
    char hex[32];
    std::snprintf(hex, sizeof hex, "%zx", n);
    out += hex;
    out += ";chunk-signature=" + sig + "\r\n" + chunk + "\r\n";
    pos += n;
    if (n == 0)
      return out;
  }
}

struct result {
  std::string decoded;
  std::optional<os::s3_error> error;
  bool done = false;
};

/// Feeds `body` in pieces of `step` bytes.
result decode(const std::string& body, uint64_t length, size_t step) {
  result r;
  os::aws_chunked_decoder dec{seed(), length};
  auto sink = [&r](const char* p, size_t k) {
    r.decoded.append(p, k);
    return true;
  };
  for (size_t pos = 0; pos < body.size() && !r.error; pos += step)
    r.error
      = dec.feed(body.data() + pos, std::min(step, body.size() - pos), sink);
  r.done = dec.done();
  return r;
}

std::string sample() {
  std::string data;
  for (int i = 0; i < 20000; ++i)
    data += static_cast<char>('a' + i % 26);
  return data;
}

} // namespace

CAF_TEST(a signed body decodes whatever the read sizes) {
  auto data = sample();
  auto body = encode(data, 8192);
  for (size_t step : {body.size(), size_t{1}, size_t{7}, size_t{4096}}) {
    auto r = decode(body, data.size(), step);
    if (r.error)
      CAF_FAIL("step " << step << ": " << r.error->message);
    CAF_CHECK(r.done);
    CAF_CHECK(r.decoded == data);
  }
  // An empty object: the final chunk alone.
  auto empty = decode(encode("", 8192), 0, 1);
  CAF_CHECK(!empty.error);
  CAF_CHECK(empty.done);
}

CAF_TEST(a changed byte or chunk order fails its signature) {
  auto data = sample();
  auto body = encode(data, 8192);
  auto tampered = body;
  tampered[body.find("\r\n") + 2 + 100] ^= 1; // In the first chunk's data.
  auto r = decode(tampered, data.size(), 4096);
  CAF_REQUIRE(r.error);
  CAF_CHECK_EQUAL(r.error->code, std::string{"SignatureDoesNotMatch"});
  CAF_CHECK(!r.done);
  // Signed with another secret.
  auto other = seed();
  other.secret_key = "not-the-secret";
  auto r2 = decode(encode(data, 8192, other), data.size(), 4096);
  CAF_REQUIRE(r2.error);
  CAF_CHECK_EQUAL(r2.error->code, std::string{"SignatureDoesNotMatch"});
  // Two chunks swapped: each is signed in place, so the chain breaks.
  auto a = encode(std::string(10, 'x') + std::string(10, 'y'), 10);
  auto first_end = a.find("\r\n", a.find("\r\n") + 2) + 2;
  auto second_end = a.find("\r\n", a.find("\r\n", first_end) + 2) + 2;
  auto swapped = a.substr(first_end, second_end - first_end)
                 + a.substr(0, first_end) + a.substr(second_end);
  auto r3 = decode(swapped, 20, 5);
  CAF_REQUIRE(r3.error);
  CAF_CHECK_EQUAL(r3.error->code, std::string{"SignatureDoesNotMatch"});
}

CAF_TEST(malformed framing and wrong lengths are refused) {
  auto data = sample();
  auto body = encode(data, 8192);
  std::vector<std::pair<std::string, uint64_t>> bad{
    {"zz;chunk-signature=" + std::string(64, 'a') + "\r\n", 10},
    {"10;chunk-signature=short\r\n", 10},
    {"10;signature=" + std::string(64, 'a') + "\r\n", 10},
    {"10\r\n", 10},
    {std::string(200, '1'), 10},
    {"10;chunk-signature=" + std::string(64, 'A') + "\r\n", 10},
    {"10;chunk-signature=" + std::string(64, 'a') + "\n", 10},
  };
  for (auto& [text, length] : bad) {
    auto r = decode(text, length, 3);
    if (!r.error)
      CAF_FAIL("accepted: " << text.substr(0, 40));
    CAF_CHECK_EQUAL(r.error->code, std::string{"IncompleteBody"});
  }
  // More data than announced.
  auto more = decode(body, data.size() - 1, 4096);
  CAF_REQUIRE(more.error);
  CAF_CHECK_EQUAL(more.error->code, std::string{"IncompleteBody"});
  // Less data than announced: the final chunk comes too early.
  auto less = decode(body, data.size() + 1, 4096);
  CAF_REQUIRE(less.error);
  CAF_CHECK_EQUAL(less.error->code, std::string{"IncompleteBody"});
  // Cut before the final chunk: no error, but not done.
  auto cut = decode(body.substr(0, body.rfind("0;chunk-signature")),
                    data.size(), 4096);
  CAF_CHECK(!cut.error);
  CAF_CHECK(!cut.done);
  // Bytes after the final chunk.
  auto extra = decode(body + "x", data.size(), 4096);
  CAF_REQUIRE(extra.error);
  CAF_CHECK_EQUAL(extra.error->code, std::string{"IncompleteBody"});
  // A data chunk not followed by CRLF.
  auto no_crlf = body;
  no_crlf[body.find("\r\n", body.find("\r\n") + 2)] = 'x';
  auto r = decode(no_crlf, data.size(), 4096);
  CAF_REQUIRE(r.error);
  CAF_CHECK_EQUAL(r.error->code, std::string{"IncompleteBody"});
}
