// vf/adapters/sigv4/sigv4.cpp

#include "vf/adapters/sigv4/sigv4.hpp"

#include "vf/adapters/common/hex.hpp"
#include "vf/adapters/common/text.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <limits>

namespace vf::adapters::sigv4 {

namespace {

constexpr std::string_view algorithm_name = "AWS4-HMAC-SHA256";

constexpr std::string_view unsigned_payload = "UNSIGNED-PAYLOAD";

// SHA-256 of the empty string: the payload hash of a request without body.
constexpr std::string_view empty_sha256
  = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

constexpr int64_t max_expires = 604800;

bool is_unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
         || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'
         || c == '~';
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

using common::iequals;
using common::to_hex;

// Trims and folds runs of whitespace into one space; folded continuation
// lines of a multi-line header arrive here as embedded newlines.
std::string canonical_value(std::string_view value) {
  std::string result;
  result.reserve(value.size());
  bool pending_space = false;
  for (char c : value) {
    if (is_space(c)) {
      pending_space = !result.empty();
      continue;
    }
    if (pending_space)
      result += ' ';
    pending_space = false;
    result += c;
  }
  return result;
}

std::vector<std::string_view> split(std::string_view str, char sep) {
  std::vector<std::string_view> result;
  size_t pos = 0;
  for (;;) {
    auto next = str.find(sep, pos);
    if (next == std::string_view::npos) {
      result.emplace_back(str.substr(pos));
      return result;
    }
    result.emplace_back(str.substr(pos, next - pos));
    pos = next + 1;
  }
}

// RFC 3986 dot-segment removal plus collapsing of empty segments, the way
// AWS's generic signers normalize (`//a/./b/..//` -> `/a/`).
std::string normalize(std::string_view path) {
  std::vector<std::string_view> segments;
  for (auto seg : split(path, '/')) {
    if (seg.empty() || seg == ".")
      continue;
    if (seg == "..") {
      if (!segments.empty())
        segments.pop_back();
      continue;
    }
    segments.push_back(seg);
  }
  std::string result;
  for (auto seg : segments) {
    result += '/';
    result += seg;
  }
  // A trailing `.` or `..` names a directory, like a trailing slash.
  auto ends_with = [path](std::string_view suffix) {
    return path.size() >= suffix.size()
           && path.substr(path.size() - suffix.size()) == suffix;
  };
  bool trailing = ends_with("/") || ends_with("/.") || ends_with("/..");
  if (result.empty() || trailing)
    result += '/';
  return result;
}

std::string canonical_uri(std::string_view path, const scope& sc) {
  if (path.empty())
    return "/";
  if (sc.service == "s3" && !sc.normalize_path) {
    // S3 signs the decoded key, encoded once; a malformed escape cannot be
    // decoded, so it is signed as it came (and will not verify).
    if (auto decoded = uri_decode(path))
      return uri_encode(*decoded, false);
    return uri_encode(path, false);
  }
  if (sc.normalize_path)
    return uri_encode(normalize(path), false);
  return uri_encode(path, false);
}

std::string canonical_query(const pairs& query) {
  std::vector<std::pair<std::string, std::string>> encoded;
  encoded.reserve(query.size());
  for (auto& [key, value] : query)
    encoded.emplace_back(uri_encode(key, true), uri_encode(value, true));
  std::sort(encoded.begin(), encoded.end());
  std::string result;
  for (auto& [key, value] : encoded) {
    if (!result.empty())
      result += '&';
    result += key;
    result += '=';
    result += value;
  }
  return result;
}

std::string date_of(const scope& sc) {
  return sc.amz_date.substr(0, 8);
}

std::string credential_scope(const scope& sc) {
  return date_of(sc) + '/' + sc.region + '/' + sc.service + "/aws4_request";
}

// Every header name present, lower-case, sorted, unique, `;`-joined.
std::string all_header_names(const pairs& headers) {
  std::vector<std::string> names;
  names.reserve(headers.size());
  for (auto& kvp : headers)
    names.emplace_back(common::to_lower_ascii(kvp.first));
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  std::string result;
  for (auto& name : names) {
    if (!result.empty())
      result += ';';
    result += name;
  }
  return result;
}

void erase_header(pairs& headers, std::string_view name) {
  headers.erase(std::remove_if(
                  headers.begin(), headers.end(),
                  [name](const auto& kvp) { return iequals(kvp.first, name); }),
                headers.end());
}

const std::string* find_header(const pairs& headers, std::string_view name) {
  for (auto& kvp : headers)
    if (iequals(kvp.first, name))
      return &kvp.second;
  return nullptr;
}

// Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant's
// algorithm): no time zone database, no locale, no global state.
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void civil_from_days(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

unsigned days_in_month(int64_t y, unsigned m) {
  static constexpr std::array<unsigned, 12> days{31, 28, 31, 30, 31, 30,
                                                 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : days[m - 1];
}

// Parses all-digit `str` into `out`; false on anything else or overflow.
bool parse_digits(std::string_view str, int64_t& out) {
  if (str.empty() || str.size() > 18)
    return false;
  int64_t result = 0;
  for (char c : str) {
    if (c < '0' || c > '9')
      return false;
    result = result * 10 + (c - '0');
  }
  out = result;
  return true;
}

} // namespace

std::string uri_encode(std::string_view str, bool encode_slash) {
  static constexpr char digits[] = "0123456789ABCDEF";
  std::string result;
  result.reserve(str.size());
  for (char ch : str) {
    auto c = static_cast<unsigned char>(ch);
    if (is_unreserved(c) || (c == '/' && !encode_slash)) {
      result += ch;
    } else {
      result += '%';
      result += digits[c >> 4];
      result += digits[c & 0x0F];
    }
  }
  return result;
}

std::optional<std::string> uri_decode(std::string_view str,
                                      bool plus_is_space) {
  std::string result;
  result.reserve(str.size());
  for (size_t i = 0; i < str.size(); ++i) {
    char c = str[i];
    if (c == '%') {
      if (i + 2 >= str.size())
        return std::nullopt;
      int hi = common::hex_digit_value(str[i + 1]);
      int lo = common::hex_digit_value(str[i + 2]);
      if (hi < 0 || lo < 0)
        return std::nullopt;
      result += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      result += ' ';
    } else {
      result += c;
    }
  }
  return result;
}

std::string sha256_hex(std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md.data(), &len, EVP_sha256(),
                 nullptr)
      != 1)
    return {}; // An empty digest never matches a signature.
  return to_hex(md.data(), len);
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  // OpenSSL treats a null key specially (reuse of a previous key), so an
  // empty key must still point somewhere.
  static constexpr unsigned char no_key[1] = {0};
  const void* key_ptr = key.empty() ? static_cast<const void*>(no_key)
                                    : static_cast<const void*>(key.data());
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  static constexpr unsigned char no_data[1] = {0};
  auto data_ptr = data.empty()
                    ? no_data
                    : reinterpret_cast<const unsigned char*>(data.data());
  if (key.size() > static_cast<size_t>(std::numeric_limits<int>::max())
      || HMAC(EVP_sha256(), key_ptr, static_cast<int>(key.size()), data_ptr,
              data.size(), md.data(), &len)
           == nullptr)
    return {};
  return std::string(reinterpret_cast<const char*>(md.data()), len);
}

std::string format_amz_date(int64_t unix_seconds) {
  int64_t days = unix_seconds / 86400;
  int64_t secs = unix_seconds % 86400;
  if (secs < 0) {
    secs += 86400;
    --days;
  }
  int64_t y = 0;
  unsigned m = 0;
  unsigned d = 0;
  civil_from_days(days, y, m, d);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04lld%02u%02uT%02d%02d%02dZ",
                static_cast<long long>(y), m, d, static_cast<int>(secs / 3600),
                static_cast<int>(secs / 60 % 60), static_cast<int>(secs % 60));
  return buf;
}

std::optional<int64_t> parse_amz_date(std::string_view str) {
  if (str.size() != 16 || str[8] != 'T' || str[15] != 'Z')
    return std::nullopt;
  int64_t y = 0;
  int64_t mo = 0;
  int64_t d = 0;
  int64_t h = 0;
  int64_t mi = 0;
  int64_t s = 0;
  if (!parse_digits(str.substr(0, 4), y) || !parse_digits(str.substr(4, 2), mo)
      || !parse_digits(str.substr(6, 2), d)
      || !parse_digits(str.substr(9, 2), h)
      || !parse_digits(str.substr(11, 2), mi)
      || !parse_digits(str.substr(13, 2), s))
    return std::nullopt;
  if (mo < 1 || mo > 12 || d < 1
      || d > days_in_month(y, static_cast<unsigned>(mo)) || h > 23 || mi > 59
      || s > 59)
    return std::nullopt;
  auto days
    = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  return days * 86400 + h * 3600 + mi * 60 + s;
}

std::string canonical_request(const request& req,
                              std::string_view signed_headers,
                              const scope& sc) {
  std::string result = req.method;
  result += '\n';
  result += canonical_uri(req.path, sc);
  result += '\n';
  result += canonical_query(req.query);
  result += '\n';
  if (!signed_headers.empty()) {
    for (auto name : split(signed_headers, ';')) {
      std::string value;
      bool first = true;
      for (auto& [key, val] : req.headers) {
        if (!iequals(key, name))
          continue;
        if (!first)
          value += ',';
        value += canonical_value(val);
        first = false;
      }
      result += common::to_lower_ascii(name);
      result += ':';
      result += value;
      result += '\n';
    }
  }
  result += '\n';
  result += signed_headers;
  result += '\n';
  result
    += req.payload_hash.empty() ? std::string{empty_sha256} : req.payload_hash;
  return result;
}

std::string string_to_sign(std::string_view canonical, const scope& sc) {
  std::string result{algorithm_name};
  result += '\n';
  result += sc.amz_date;
  result += '\n';
  result += credential_scope(sc);
  result += '\n';
  result += sha256_hex(canonical);
  return result;
}

/// The signing key of a secret for one day, region and service: four
/// HMACs that every signature of that scope shares. Kept per thread for the
/// last scope asked (a node signs and checks with one or two keys all day):
/// each HMAC costs ~1.2 us here, and `POST /jobs` presigns once, each
/// upload is checked once and each 64 KiB chunk of an aws-chunked upload
/// once more.
static const std::string& signing_key(std::string_view secret_key,
                                      const scope& sc) {
  struct entry {
    std::string secret, date, region, service, key;
  };
  thread_local entry last;
  auto date = date_of(sc);
  if (last.key.empty() || last.secret != secret_key || last.date != date
      || last.region != sc.region || last.service != sc.service) {
    auto key = hmac_sha256("AWS4" + std::string{secret_key}, date);
    key = hmac_sha256(key, sc.region);
    key = hmac_sha256(key, sc.service);
    key = hmac_sha256(key, "aws4_request");
    last = entry{std::string{secret_key}, std::move(date), sc.region,
                 sc.service, std::move(key)};
  }
  return last.key;
}

std::string signature(std::string_view secret_key,
                      std::string_view string_to_sign, const scope& sc) {
  auto sig = hmac_sha256(signing_key(secret_key, sc), string_to_sign);
  return to_hex(reinterpret_cast<const unsigned char*>(sig.data()), sig.size());
}

std::string chunk_signature(const chunk_signing& ctx,
                            std::string_view chunk_sha256_hex) {
  std::string to_sign = "AWS4-HMAC-SHA256-PAYLOAD\n";
  to_sign += ctx.sc.amz_date;
  to_sign += '\n';
  to_sign += credential_scope(ctx.sc);
  to_sign += '\n';
  to_sign += ctx.previous;
  to_sign += '\n';
  to_sign += sha256_hex("");
  to_sign += '\n';
  to_sign += chunk_sha256_hex;
  return signature(ctx.secret_key, to_sign, ctx.sc);
}

request sign_headers(request req, const credentials& creds, const scope& sc) {
  erase_header(req.headers, "authorization");
  erase_header(req.headers, "x-amz-date");
  erase_header(req.headers, "x-amz-security-token");
  req.headers.emplace_back("X-Amz-Date", sc.amz_date);
  if (!creds.session_token.empty())
    req.headers.emplace_back("X-Amz-Security-Token", creds.session_token);
  auto names = all_header_names(req.headers);
  auto canonical = canonical_request(req, names, sc);
  auto sig = signature(creds.secret_key, string_to_sign(canonical, sc), sc);
  std::string auth{algorithm_name};
  auth += " Credential=";
  auth += creds.access_key;
  auth += '/';
  auth += credential_scope(sc);
  auth += ", SignedHeaders=";
  auth += names;
  auth += ", Signature=";
  auth += sig;
  req.headers.emplace_back("Authorization", std::move(auth));
  return req;
}

request sign_query(request req, const credentials& creds, const scope& sc,
                   uint32_t expires) {
  auto names = all_header_names(req.headers);
  req.query.emplace_back("X-Amz-Algorithm", std::string{algorithm_name});
  req.query.emplace_back("X-Amz-Credential",
                         creds.access_key + '/' + credential_scope(sc));
  req.query.emplace_back("X-Amz-Date", sc.amz_date);
  req.query.emplace_back("X-Amz-Expires", std::to_string(expires));
  if (!creds.session_token.empty())
    req.query.emplace_back("X-Amz-Security-Token", creds.session_token);
  req.query.emplace_back("X-Amz-SignedHeaders", names);
  auto canonical = canonical_request(req, names, sc);
  auto sig = signature(creds.secret_key, string_to_sign(canonical, sc), sc);
  req.query.emplace_back("X-Amz-Signature", std::move(sig));
  return req;
}

std::string encode_query(const pairs& query) {
  std::string result;
  for (auto& [key, value] : query) {
    if (!result.empty())
      result += '&';
    result += uri_encode(key, true);
    result += '=';
    result += uri_encode(value, true);
  }
  return result;
}

std::optional<endpoint_parts> parse_endpoint(std::string_view endpoint) {
  endpoint_parts result;
  std::string_view rest;
  std::string_view default_port;
  if (endpoint.substr(0, 7) == "http://") {
    result.scheme = "http";
    rest = endpoint.substr(7);
    default_port = "80";
  } else if (endpoint.substr(0, 8) == "https://") {
    result.scheme = "https";
    rest = endpoint.substr(8);
    default_port = "443";
  } else {
    return std::nullopt;
  }
  auto slash = rest.find('/');
  auto authority = rest.substr(0, slash);
  auto path
    = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
  if (authority.empty()
      || authority.find_first_of("@?# \t") != std::string_view::npos
      || path.find_first_of("?# \t") != std::string_view::npos)
    return std::nullopt;
  // The port is what follows the last colon, unless that colon sits inside
  // an IPv6 literal (`[::1]`).
  auto colon = authority.rfind(':');
  auto bracket = authority.rfind(']');
  std::string_view host = authority;
  std::string_view port;
  if (colon != std::string_view::npos
      && (bracket == std::string_view::npos || colon > bracket)) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
    int64_t port_num = 0;
    if (!parse_digits(port, port_num) || port_num < 1 || port_num > 65535)
      return std::nullopt;
  }
  if (host.empty())
    return std::nullopt;
  result.host = common::to_lower_ascii(host);
  if (!port.empty() && port != default_port) {
    result.host += ':';
    result.host += port;
  }
  while (!path.empty() && path.back() == '/')
    path.remove_suffix(1);
  result.base_path = std::string{path};
  return result;
}

std::string object_path(const endpoint_parts& ep, std::string_view bucket,
                        std::string_view key) {
  std::string result = ep.base_path;
  if (!bucket.empty()) {
    result += '/';
    result += uri_encode(bucket, true);
  }
  result += '/';
  result += uri_encode(key, false);
  return result;
}

std::string presign_url(const presign_params& params) {
  auto ep = parse_endpoint(params.endpoint);
  if (!ep || params.key.empty() || params.expires < 1
      || params.expires > max_expires || params.now <= 0
      || params.creds.access_key.empty() || params.method.empty())
    return {};
  request req;
  req.method = params.method;
  req.path = object_path(*ep, params.bucket, params.key);
  req.headers.emplace_back("host", ep->host);
  for (auto& [name, value] : params.signed_headers)
    if (!iequals(name, "host"))
      req.headers.emplace_back(common::to_lower_ascii(name), value);
  req.payload_hash = std::string{unsigned_payload};
  req.query = params.query;
  scope sc;
  sc.region = params.region;
  sc.service = "s3";
  sc.amz_date = format_amz_date(params.now);
  sc.normalize_path = false;
  auto signed_req
    = sign_query(std::move(req), params.creds, sc, params.expires);
  std::string url = ep->scheme;
  url += "://";
  url += ep->host;
  url += signed_req.path;
  url += '?';
  url += encode_query(signed_req.query);
  return url;
}

const char* to_string(verify_error x) {
  switch (x) {
    case verify_error::ok:
      return "ok";
    case verify_error::missing_parameter:
      return "missing_parameter";
    case verify_error::unsupported_algorithm:
      return "unsupported_algorithm";
    case verify_error::malformed_credential:
      return "malformed_credential";
    case verify_error::unknown_access_key:
      return "unknown_access_key";
    case verify_error::malformed_date:
      return "malformed_date";
    case verify_error::not_yet_valid:
      return "not_yet_valid";
    case verify_error::expired:
      return "expired";
    case verify_error::missing_signed_header:
      return "missing_signed_header";
    case verify_error::signature_mismatch:
      return "signature_mismatch";
  }
  return "unknown";
}

namespace {

/// Splits a request target into its raw path and decoded query; false for
/// a target no signer could have produced (absolute-form, `*`, or an
/// undecodable escape): nothing to compare a signature against.
bool split_target(std::string_view target, std::string_view& raw_path,
                  pairs& query) {
  auto qmark = target.find('?');
  raw_path = target.substr(0, qmark);
  auto raw_query = qmark == std::string_view::npos ? std::string_view{}
                                                   : target.substr(qmark + 1);
  if (raw_path.empty() || raw_path.front() != '/' || !uri_decode(raw_path))
    return false;
  // S3 decodes query parameters form-style (`+` is a space); signers encode
  // a literal plus as %2B.
  for (auto part : split(raw_query, '&')) {
    if (part.empty())
      continue;
    auto eq = part.find('=');
    auto key = uri_decode(part.substr(0, eq), true);
    auto value = eq == std::string_view::npos
                   ? std::optional<std::string>{std::string{}}
                   : uri_decode(part.substr(eq + 1), true);
    if (!key || !value)
      return false;
    query.emplace_back(std::move(*key), std::move(*value));
  }
  return true;
}

/// Checks a credential (`key/date/region/s3/aws4_request`) against the
/// request's date and region; returns its access key, or nullopt.
std::optional<std::string_view> check_credential(std::string_view credential,
                                                 std::string_view amz_date,
                                                 std::string_view region) {
  auto cred = split(credential, '/');
  if (cred.size() != 5 || cred[0].empty() || cred[1].size() != 8
      || cred[2] != region || cred[3] != "s3" || cred[4] != "aws4_request"
      || cred[1] != amz_date.substr(0, 8))
    return std::nullopt;
  return cred[0];
}

/// Whether every name in `signed_headers` is present, `host` among them.
verify_error check_signed_headers(const pairs& headers,
                                  std::string_view signed_headers) {
  bool host_signed = false;
  for (auto name : split(signed_headers, ';')) {
    if (name.empty() || find_header(headers, name) == nullptr)
      return verify_error::missing_signed_header;
    if (name == "host")
      host_signed = true;
  }
  return host_signed ? verify_error::ok : verify_error::missing_signed_header;
}

/// The checks both kinds of signed request share: the credential's scope
/// (see `check_credential`), a known key (its secret goes to `secret`),
/// `now` within [signed_at - max_skew, not_after], and the signed headers
/// (see `check_signed_headers`).
verify_error
check_key_and_time(const incoming& req, const secret_lookup& lookup,
                   std::string_view credential, std::string_view amz_date,
                   std::string_view region, std::string_view signed_headers,
                   int64_t signed_at, int64_t now, int64_t max_skew,
                   int64_t not_after, std::optional<std::string>& secret) {
  auto access_key = check_credential(credential, amz_date, region);
  if (!access_key)
    return verify_error::malformed_credential;
  secret = lookup ? lookup(*access_key) : std::nullopt;
  if (!secret)
    return verify_error::unknown_access_key;
  if (signed_at > now + max_skew)
    return verify_error::not_yet_valid;
  if (now > not_after)
    return verify_error::expired;
  return check_signed_headers(req.headers, signed_headers);
}

/// Compares the signature of `canon` with `provided` in constant time.
verify_error check_signature(const request& canon,
                             std::string_view signed_headers,
                             std::string_view amz_date, std::string_view region,
                             const std::string& secret,
                             std::string_view provided) {
  scope sc;
  sc.region = std::string{region};
  sc.service = "s3";
  sc.amz_date = std::string{amz_date};
  sc.normalize_path = false;
  auto expected = signature(
    secret, string_to_sign(canonical_request(canon, signed_headers, sc), sc),
    sc);
  if (expected.empty() || expected.size() != provided.size()
      || CRYPTO_memcmp(expected.data(), provided.data(), expected.size()) != 0)
    return verify_error::signature_mismatch;
  return verify_error::ok;
}

} // namespace

verify_error verify_presigned(const incoming& req, const secret_lookup& lookup,
                              std::string_view region, int64_t now,
                              int64_t max_skew) {
  std::string_view raw_path;
  pairs query;
  if (!split_target(req.target, raw_path, query))
    return verify_error::signature_mismatch;
  // The six authentication parameters, each exactly once.
  static constexpr std::array<std::string_view, 6> required{
    "X-Amz-Algorithm", "X-Amz-Credential",    "X-Amz-Date",
    "X-Amz-Expires",   "X-Amz-SignedHeaders", "X-Amz-Signature",
  };
  std::array<const std::string*, required.size()> found{};
  for (auto& [key, value] : query) {
    for (size_t i = 0; i < required.size(); ++i) {
      if (key != required[i])
        continue;
      // A repeated parameter is ambiguous; S3 refuses it too.
      if (found[i] != nullptr)
        return verify_error::signature_mismatch;
      found[i] = &value;
    }
  }
  for (auto* ptr : found)
    if (ptr == nullptr || ptr->empty())
      return verify_error::missing_parameter;
  auto& algorithm = *found[0];
  auto& credential = *found[1];
  auto& amz_date = *found[2];
  auto& expires_str = *found[3];
  auto& signed_headers = *found[4];
  auto& provided_sig = *found[5];
  if (algorithm != algorithm_name)
    return verify_error::unsupported_algorithm;
  auto signed_at = parse_amz_date(amz_date);
  int64_t expires = 0;
  if (!signed_at || !parse_digits(expires_str, expires) || expires < 1
      || expires > max_expires)
    return verify_error::malformed_date;
  std::optional<std::string> secret;
  if (auto err = check_key_and_time(req, lookup, credential, amz_date, region,
                                    signed_headers, *signed_at, now, max_skew,
                                    *signed_at + expires, secret);
      err != verify_error::ok)
    return err;
  request canon;
  canon.method = req.method;
  canon.path = std::string{raw_path};
  for (auto& kvp : query)
    if (kvp.first != "X-Amz-Signature")
      canon.query.push_back(kvp);
  canon.headers = req.headers;
  canon.payload_hash = std::string{unsigned_payload};
  return check_signature(canon, signed_headers, amz_date, region, *secret,
                         provided_sig);
}

verify_error verify_header_signed(const incoming& req,
                                  const secret_lookup& lookup,
                                  std::string_view region, int64_t now,
                                  std::string* payload_hash, int64_t max_skew,
                                  chunk_signing* chunks) {
  std::string_view raw_path;
  pairs query;
  if (!split_target(req.target, raw_path, query))
    return verify_error::signature_mismatch;
  auto* auth = find_header(req.headers, "authorization");
  auto* amz_date = find_header(req.headers, "x-amz-date");
  auto* content_sha = find_header(req.headers, "x-amz-content-sha256");
  if (auth == nullptr || amz_date == nullptr || content_sha == nullptr
      || content_sha->empty())
    return verify_error::missing_parameter;
  // `AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`
  std::string_view text = *auth;
  auto space = text.find(' ');
  if (space == std::string_view::npos)
    return verify_error::missing_parameter;
  if (text.substr(0, space) != algorithm_name)
    return verify_error::unsupported_algorithm;
  std::string_view credential, signed_headers, provided;
  for (auto part : split(text.substr(space + 1), ',')) {
    while (!part.empty() && is_space(part.front()))
      part.remove_prefix(1);
    while (!part.empty() && is_space(part.back()))
      part.remove_suffix(1);
    auto eq = part.find('=');
    if (eq == std::string_view::npos)
      return verify_error::missing_parameter;
    auto name = part.substr(0, eq);
    auto value = part.substr(eq + 1);
    auto& slot = name == "Credential"      ? credential
                 : name == "SignedHeaders" ? signed_headers
                 : name == "Signature"     ? provided
                                           : value;
    if (&slot != &value) {
      if (!slot.empty())
        return verify_error::signature_mismatch; // Repeated: ambiguous.
      slot = value;
    }
  }
  if (credential.empty() || signed_headers.empty() || provided.empty())
    return verify_error::missing_parameter;
  auto signed_at = parse_amz_date(*amz_date);
  if (!signed_at)
    return verify_error::malformed_date;
  std::optional<std::string> secret;
  if (auto err = check_key_and_time(req, lookup, credential, *amz_date, region,
                                    signed_headers, *signed_at, now, max_skew,
                                    *signed_at + max_skew, secret);
      err != verify_error::ok)
    return err;
  // What the signature covers: the date and the payload's hash too.
  auto covered = [&](std::string_view name) {
    for (auto x : split(signed_headers, ';'))
      if (x == name)
        return true;
    return false;
  };
  if (!covered("x-amz-date") || !covered("x-amz-content-sha256"))
    return verify_error::missing_signed_header;
  request canon;
  canon.method = req.method;
  canon.path = std::string{raw_path};
  canon.query = std::move(query);
  canon.headers = req.headers;
  canon.payload_hash = *content_sha;
  auto result = check_signature(canon, signed_headers, *amz_date, region,
                                *secret, provided);
  if (result == verify_error::ok && payload_hash != nullptr)
    *payload_hash = *content_sha;
  if (result == verify_error::ok && chunks != nullptr) {
    chunks->sc = scope{};
    chunks->sc.region = std::string{region};
    chunks->sc.service = "s3";
    chunks->sc.amz_date = std::string{*amz_date};
    chunks->secret_key = *secret;
    chunks->previous = std::string{provided};
  }
  return result;
}

} // namespace vf::adapters::sigv4
