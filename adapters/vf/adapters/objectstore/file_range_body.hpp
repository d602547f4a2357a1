// vf/adapters/objectstore/file_range_body.hpp
//
// A Beast body that streams one slice of an open file: the whole object for
// a 200, one byte range for a 206. Beast 1.74's `file_body` always sends
// the whole file from its current position, so ranges need their own body.
// Reads with `pread`, chunk by chunk: an object is never held in memory.

#pragma once

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/file.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/optional.hpp>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <utility>

namespace vf::adapters::objectstore {

/// Body type (Beast's *Body* concept, writing only) serving `length` bytes
/// of `file` from `offset`.
struct file_range_body {
  /// The file and the slice of it to send.
  struct value_type {
    /// The open object file.
    boost::beast::file file;
    /// Offset of the first byte to send.
    uint64_t offset = 0;
    /// Number of bytes to send.
    uint64_t length = 0;
  };

  /// Returns the number of bytes the body sends (for `prepare_payload`).
  static uint64_t size(const value_type& body) {
    return body.length;
  }

  /// Serializes the slice: reads a chunk at a time and hands it out.
  class writer {
  public:
    /// Buffers handed to the serializer.
    using const_buffers_type = boost::asio::const_buffer;

    /// Prepares to send `body` (whose file must be open).
    template <bool IsRequest, class Fields>
    writer(boost::beast::http::header<IsRequest, Fields>&, value_type& body)
      : body_(body), next_(body.offset), remain_(body.length) {
      // nop
    }

    /// Nothing can fail before the first read.
    void init(boost::beast::error_code& ec) {
      ec = {};
    }

    /// Reads the next chunk; none once the slice is sent.
    boost::optional<std::pair<const_buffers_type, bool>>
    get(boost::beast::error_code& ec) {
      ec = {};
      if (remain_ == 0)
        return boost::none;
      auto amount
        = remain_ < buf_.size() ? static_cast<size_t>(remain_) : buf_.size();
      ssize_t n;
      do {
        n = ::pread(body_.file.native_handle(), buf_.data(), amount,
                    static_cast<off_t>(next_));
      } while (n < 0 && errno == EINTR);
      if (n < 0) {
        ec.assign(errno, boost::system::generic_category());
        return boost::none;
      }
      // The file shrank under us (it never should: objects are replaced by
      // rename, and this descriptor keeps the old inode).
      if (n == 0) {
        ec = boost::beast::http::error::short_read;
        return boost::none;
      }
      auto got = static_cast<uint64_t>(n);
      next_ += got;
      remain_ -= got;
      return {
        {const_buffers_type{buf_.data(), static_cast<size_t>(n)}, remain_ > 0}};
    }

  private:
    /// The body being sent.
    value_type& body_;
    /// File offset of the next read.
    uint64_t next_;
    /// Bytes still to send.
    uint64_t remain_;
    /// One chunk of the file.
    std::array<char, size_t{32} * 1024> buf_;
  };
};

} // namespace vf::adapters::objectstore
