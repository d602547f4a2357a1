// vf/adapters/objectstore/aws_chunked.hpp
//
// The body of a PUT signed as `STREAMING-AWS4-HMAC-SHA256-PAYLOAD` (the
// "aws-chunked" encoding some S3 SDKs and tools send): chunks of
// `<hex size>;chunk-signature=<64 hex>\r\n<data>\r\n`, ended by a chunk of
// size 0, each signature chained to the one before and the first to the
// request's own. The decoder checks every byte of that framing and every
// chunk's signature while the body streams through it, and hands the
// object's bytes to the store.

#pragma once

#include "vf/adapters/objectstore/s3_error.hpp"
#include "vf/adapters/sigv4/sigv4.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace vf::adapters::objectstore {

/// Decodes an aws-chunked body. Not thread-safe; one per request.
class aws_chunked_decoder {
public:
  /// Receives decoded object bytes; returns false to stop decoding (the
  /// store could not write them).
  using sink = std::function<bool(const char* data, size_t size)>;

  /// Longest chunk header accepted (`<hex>;chunk-signature=<64 hex>`).
  static constexpr size_t max_header_bytes = 128;

  /// `ctx` from the request's verified `Authorization` header;
  /// `decoded_length` from its `x-amz-decoded-content-length`.
  aws_chunked_decoder(sigv4::chunk_signing ctx, uint64_t decoded_length);

  ~aws_chunked_decoder();

  aws_chunked_decoder(const aws_chunked_decoder&) = delete;
  aws_chunked_decoder& operator=(const aws_chunked_decoder&) = delete;

  /// Decodes the next `size` bytes of the body. An error (malformed
  /// framing, more data than `decoded_length`, a chunk signature that does
  /// not match) ends the upload: nothing more may be fed. Data of a chunk
  /// reaches `sink` before that chunk's signature is checked (the chunk
  /// may be large): on an error the caller discards what it got.
  std::optional<s3_error> feed(const char* data, size_t size, const sink& out);

  /// Whether the final chunk was read in full; then `decoded()` equals
  /// the announced length.
  bool done() const {
    return state_ == state::done;
  }

  /// Object bytes decoded so far.
  uint64_t decoded() const {
    return decoded_;
  }

private:
  enum class state { header, data, data_end, done, failed };

  std::optional<s3_error> on_header();
  std::optional<s3_error> on_chunk_end();
  std::optional<s3_error> fail(std::string code, std::string message);

  sigv4::chunk_signing ctx_;
  uint64_t decoded_length_;
  uint64_t decoded_ = 0;
  state state_ = state::header;
  std::string line_;
  uint64_t chunk_left_ = 0;
  bool last_chunk_ = false;
  std::string chunk_signature_;
  struct hasher;
  std::unique_ptr<hasher> hash_;
};

} // namespace vf::adapters::objectstore
