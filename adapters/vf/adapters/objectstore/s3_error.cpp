// vf/adapters/objectstore/s3_error.cpp

#include "vf/adapters/objectstore/s3_error.hpp"

namespace vf::adapters::objectstore {

std::string xml_escape(std::string_view str) {
  std::string result;
  result.reserve(str.size());
  for (auto c : str) {
    switch (c) {
      case '&':
        result += "&amp;";
        break;
      case '<':
        result += "&lt;";
        break;
      case '>':
        result += "&gt;";
        break;
      case '"':
        result += "&quot;";
        break;
      case '\'':
        result += "&apos;";
        break;
      default:
        result += c;
    }
  }
  return result;
}

std::string error_xml(const s3_error& err, std::string_view bucket,
                      std::string_view key, std::string_view resource,
                      std::string_view request_id) {
  std::string xml = R"(<?xml version="1.0" encoding="UTF-8"?>)";
  xml += "\n<Error><Code>";
  xml += xml_escape(err.code);
  xml += "</Code><Message>";
  xml += xml_escape(err.message);
  xml += "</Message>";
  if (!bucket.empty()) {
    xml += "<BucketName>";
    xml += xml_escape(bucket);
    xml += "</BucketName>";
  }
  if (!key.empty()) {
    xml += "<Key>";
    xml += xml_escape(key);
    xml += "</Key>";
  }
  xml += "<Resource>";
  xml += xml_escape(resource);
  xml += "</Resource><RequestId>";
  xml += xml_escape(request_id);
  xml += "</RequestId></Error>\n";
  return xml;
}

s3_error auth_error(sigv4::verify_error err) {
  using sigv4::verify_error;
  auto forbidden = boost::beast::http::status::forbidden;
  switch (err) {
    case verify_error::ok:
      break;
    case verify_error::missing_parameter:
      return {forbidden, "AccessDenied",
              "Query-string authentication requires the X-Amz-Algorithm, "
              "X-Amz-Credential, X-Amz-Date, X-Amz-Expires, "
              "X-Amz-SignedHeaders and X-Amz-Signature parameters"};
    case verify_error::unsupported_algorithm:
      return {forbidden, "AuthorizationQueryParametersError",
              "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\""};
    case verify_error::malformed_credential:
      return {forbidden, "AuthorizationQueryParametersError",
              "X-Amz-Credential is malformed or scoped to another region or "
              "service; expected <key>/<yyyymmdd>/<region>/s3/aws4_request "
              "dated like X-Amz-Date"};
    case verify_error::unknown_access_key:
      return {forbidden, "InvalidAccessKeyId",
              "The access key id you provided does not exist in our records"};
    case verify_error::malformed_date:
      return {forbidden, "AuthorizationQueryParametersError",
              "X-Amz-Date must be in the ISO8601 basic format "
              "yyyyMMdd'T'HHmmss'Z' and X-Amz-Expires a number of seconds "
              "between 1 and 604800"};
    case verify_error::not_yet_valid:
      return {forbidden, "AccessDenied",
              "Request is not yet valid: X-Amz-Date is in the future"};
    case verify_error::expired:
      return {forbidden, "AccessDenied", "Request has expired"};
    case verify_error::missing_signed_header:
      return {forbidden, "AccessDenied",
              "A header listed in X-Amz-SignedHeaders is missing from the "
              "request, or host is not signed"};
    case verify_error::signature_mismatch:
      return {forbidden, "SignatureDoesNotMatch",
              "The request signature we calculated does not match the "
              "signature you provided. Check your key and signing method."};
  }
  return {forbidden, "AccessDenied", "Access denied"};
}

} // namespace vf::adapters::objectstore
