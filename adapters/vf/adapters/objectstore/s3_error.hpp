// vf/adapters/objectstore/s3_error.hpp
//
// Error answers in the shape S3 clients parse: an HTTP status plus an XML
// `<Error>` document with a code (`SignatureDoesNotMatch`, `NoSuchKey`, ...)
// and a message that says what is wrong.

#pragma once

#include "vf/adapters/sigv4/sigv4.hpp"

// Boost 1.74's status.hpp uses std::ostream without including it, so
// <ostream> must come first.
// clang-format off
#include <ostream>
#include <boost/beast/http/status.hpp>
// clang-format on

#include <string>
#include <string_view>

namespace vf::adapters::objectstore {

/// One error answer.
struct s3_error {
  /// HTTP status.
  boost::beast::http::status status;
  /// S3 error code, e.g. `AccessDenied`.
  std::string code;
  /// Human-readable explanation.
  std::string message;
};

/// Escapes `&`, `<`, `>`, `"` and `'` for XML text; other bytes pass.
std::string xml_escape(std::string_view str);

/// Renders the XML body: `<Error><Code/><Message/>[<BucketName/>][<Key/>]
/// <Resource/><RequestId/></Error>`; empty `bucket` or `key` are left out.
std::string error_xml(const s3_error& err, std::string_view bucket,
                      std::string_view key, std::string_view resource,
                      std::string_view request_id);

/// The answer to a presigned request that failed verification (always 403,
/// with S3's code and a message naming the cause).
s3_error auth_error(sigv4::verify_error err);

} // namespace vf::adapters::objectstore
