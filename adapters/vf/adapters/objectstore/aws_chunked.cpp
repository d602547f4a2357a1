// vf/adapters/objectstore/aws_chunked.cpp

#include "vf/adapters/objectstore/aws_chunked.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "vf/adapters/common/hex.hpp"

#include <algorithm>
#include <charconv>

namespace vf::adapters::objectstore {

namespace http = boost::beast::http;

struct aws_chunked_decoder::hasher {
  hasher() : ctx(EVP_MD_CTX_new()) {
    reset();
  }
  ~hasher() {
    EVP_MD_CTX_free(ctx);
  }
  void reset() {
    ok = ctx != nullptr && EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1;
  }
  void update(const char* data, size_t size) {
    ok = ok && EVP_DigestUpdate(ctx, data, size) == 1;
  }
  /// Lower-case hex of the data so far; empty if OpenSSL failed.
  std::string hex() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!ok || EVP_DigestFinal_ex(ctx, md, &len) != 1)
      return {};
    std::string out;
    common::append_hex(out, md, len);
    return out;
  }
  EVP_MD_CTX* ctx;
  bool ok = false;
};

aws_chunked_decoder::aws_chunked_decoder(sigv4::chunk_signing ctx,
                                         uint64_t decoded_length)
  : ctx_(std::move(ctx)), decoded_length_(decoded_length),
    hash_(std::make_unique<hasher>()) {
  // nop
}

aws_chunked_decoder::~aws_chunked_decoder() = default;

std::optional<s3_error> aws_chunked_decoder::fail(std::string code,
                                                  std::string message) {
  state_ = state::failed;
  auto status = code == "SignatureDoesNotMatch" ? http::status::forbidden
                                                : http::status::bad_request;
  return s3_error{status, std::move(code), std::move(message)};
}

std::optional<s3_error> aws_chunked_decoder::on_header() {
  // `<hex size>;chunk-signature=<64 lower-case hex>`
  constexpr std::string_view key = ";chunk-signature=";
  auto semi = line_.find(';');
  if (semi == std::string::npos || semi == 0 || semi > 16
      || line_.compare(semi, key.size(), key) != 0
      || line_.size() != semi + key.size() + 64)
    return fail("IncompleteBody",
                "Malformed aws-chunked chunk header (expected "
                "<hex size>;chunk-signature=<signature>)");
  uint64_t size = 0;
  auto [end, ec] = std::from_chars(line_.data(), line_.data() + semi, size, 16);
  if (ec != std::errc{} || end != line_.data() + semi)
    return fail("IncompleteBody", "Malformed aws-chunked chunk size");
  chunk_signature_ = line_.substr(semi + key.size());
  if (chunk_signature_.find_first_not_of("0123456789abcdef")
      != std::string::npos)
    return fail("IncompleteBody", "Malformed aws-chunked chunk signature");
  if (size > decoded_length_ - decoded_)
    return fail("IncompleteBody", "The aws-chunked body holds more than its "
                                  "x-amz-decoded-content-length of "
                                    + std::to_string(decoded_length_)
                                    + " bytes");
  line_.clear();
  chunk_left_ = size;
  last_chunk_ = size == 0;
  hash_->reset();
  state_ = size == 0 ? state::data_end : state::data;
  return std::nullopt;
}

std::optional<s3_error> aws_chunked_decoder::on_chunk_end() {
  auto digest = hash_->hex();
  if (digest.empty())
    return fail("InternalError", "Could not hash the chunk");
  auto expected = sigv4::chunk_signature(ctx_, digest);
  if (expected.size() != chunk_signature_.size()
      || CRYPTO_memcmp(expected.data(), chunk_signature_.data(),
                       expected.size())
           != 0)
    return fail("SignatureDoesNotMatch",
                "A chunk signature of the aws-chunked body does not match: "
                "check the signing key and that the body was not changed");
  ctx_.previous = std::move(expected);
  if (last_chunk_) {
    if (decoded_ != decoded_length_)
      return fail("IncompleteBody",
                  "The aws-chunked body ended after " + std::to_string(decoded_)
                    + " of its " + std::to_string(decoded_length_) + " bytes");
    state_ = state::done;
  } else {
    state_ = state::header;
  }
  return std::nullopt;
}

std::optional<s3_error> aws_chunked_decoder::feed(const char* data, size_t size,
                                                  const sink& out) {
  while (size > 0) {
    switch (state_) {
      case state::failed:
        return s3_error{http::status::bad_request, "IncompleteBody",
                        "The aws-chunked body was refused already"};
      case state::done:
        return fail("IncompleteBody",
                    "Bytes after the final chunk of the aws-chunked body");
      case state::header: {
        auto ch = *data++;
        --size;
        if (ch == '\n') {
          if (line_.empty() || line_.back() != '\r')
            return fail("IncompleteBody",
                        "Malformed aws-chunked chunk header line");
          line_.pop_back();
          if (auto err = on_header())
            return err;
          break;
        }
        if (line_.size() >= max_header_bytes)
          return fail("IncompleteBody", "aws-chunked chunk header too long");
        line_.push_back(ch);
        break;
      }
      case state::data: {
        auto n = static_cast<size_t>(
          std::min<uint64_t>(chunk_left_, static_cast<uint64_t>(size)));
        hash_->update(data, n);
        if (!out(data, n))
          return std::nullopt; // The caller reports its own failure.
        decoded_ += n;
        chunk_left_ -= n;
        data += n;
        size -= n;
        if (chunk_left_ == 0)
          state_ = state::data_end;
        break;
      }
      case state::data_end: {
        // The CRLF after a chunk's data (and after the final header).
        line_.push_back(*data++);
        --size;
        if (line_.size() < 2)
          break;
        if (line_ != "\r\n")
          return fail("IncompleteBody",
                      "Malformed aws-chunked body: a chunk does not end "
                      "with CRLF where its size says");
        line_.clear();
        if (auto err = on_chunk_end())
          return err;
        break;
      }
    }
  }
  return std::nullopt;
}

} // namespace vf::adapters::objectstore
