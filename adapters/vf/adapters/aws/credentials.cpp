// vf/adapters/aws/credentials.cpp

#include "vf/adapters/aws/credentials.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <nlohmann/json.hpp>

#include "vf/adapters/aws/http_call.hpp"
#include "vf/messages/errc.hpp"

#include <cctype>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

namespace vf::adapters::aws {

namespace {

using messages::errc;
using messages::make_error;

// A failed lookup with nothing cached is repeated this long.
constexpr int64_t error_hold_s = 5;
// Credentials that expire soon after they were fetched are not fetched
// again more often than this.
constexpr int64_t min_refetch_s = 5;

std::string trim(std::string_view str) {
  while (!str.empty() && std::isspace(static_cast<unsigned char>(str.front())))
    str.remove_prefix(1);
  while (!str.empty() && std::isspace(static_cast<unsigned char>(str.back())))
    str.remove_suffix(1);
  return std::string{str};
}

bool truthy(const std::optional<std::string>& x) {
  if (!x)
    return false;
  auto v = trim(*x);
  for (auto& c : v)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return v == "true" || v == "1" || v == "yes";
}

std::optional<std::string> non_empty(const std::optional<std::string>& x) {
  if (x && !trim(*x).empty())
    return trim(*x);
  return std::nullopt;
}

// Header values we send must not smuggle in more header lines.
bool header_safe(std::string_view value) {
  for (auto c : value)
    if (c == '\r' || c == '\n' || c == '\0')
      return false;
  return !value.empty();
}

std::optional<std::string> read_small_file(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return std::nullopt;
  std::string text;
  char buf[4096];
  while (in.read(buf, sizeof(buf)) || in.gcount() > 0) {
    text.append(buf, static_cast<size_t>(in.gcount()));
    if (text.size() > (1 << 20))
      return std::nullopt;
  }
  return text;
}

// Which host a URL names, without port or brackets.
std::string host_of(const std::string& url) {
  auto start = url.find("://");
  if (start == std::string::npos)
    return {};
  start += 3;
  auto end = url.find_first_of("/?#", start);
  auto authority = url.substr(
    start, end == std::string::npos ? std::string::npos : end - start);
  if (authority.find('@') != std::string::npos)
    return {}; // no user info
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    return close == std::string::npos ? "" : authority.substr(1, close - 1);
  }
  return authority.substr(0, authority.find(':'));
}

// The SDKs accept a plain-http FULL_URI only on loopback or the ECS / EKS
// agent addresses: anything else could hand the token to a stranger.
bool allowed_http_host(const std::string& host) {
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    auto a = ntohl(v4.s_addr);
    return (a >> 24) == 127 || host == "169.254.170.2"
           || host == "169.254.170.23";
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    in6_addr ecs{};
    inet_pton(AF_INET6, "fd00:ec2::23", &ecs);
    return IN6_IS_ADDR_LOOPBACK(&v6) || std::memcmp(&v6, &ecs, sizeof(v6)) == 0;
  }
  return host == "localhost";
}

bool role_name_ok(std::string_view name) {
  if (name.empty() || name.size() > 128)
    return false;
  for (auto c : name)
    if (!std::isalnum(static_cast<unsigned char>(c))
        && std::string_view{"+=,.@_-"}.find(c) == std::string_view::npos)
      return false;
  return true;
}

} // namespace

env_lookup process_env() {
  return [](const char* name) -> std::optional<std::string> {
    if (auto* v = std::getenv(name))
      return std::string{v};
    return std::nullopt;
  };
}

std::optional<int64_t> parse_iso8601(std::string_view str) {
  // YYYY-MM-DDTHH:MM:SS[.fff](Z|+00:00)
  if (str.size() < 20)
    return std::nullopt;
  auto digits = [&](size_t pos, size_t n) -> std::optional<int> {
    int v = 0;
    for (size_t i = pos; i < pos + n; ++i) {
      if (!std::isdigit(static_cast<unsigned char>(str[i])))
        return std::nullopt;
      v = v * 10 + (str[i] - '0');
    }
    return v;
  };
  if (str[4] != '-' || str[7] != '-' || (str[10] != 'T' && str[10] != 't')
      || str[13] != ':' || str[16] != ':')
    return std::nullopt;
  auto y = digits(0, 4), mo = digits(5, 2), d = digits(8, 2), h = digits(11, 2),
       mi = digits(14, 2), s = digits(17, 2);
  if (!y || !mo || !d || !h || !mi || !s || *mo < 1 || *mo > 12 || *d < 1
      || *d > 31 || *h > 23 || *mi > 59 || *s > 60)
    return std::nullopt;
  auto rest = str.substr(19);
  if (!rest.empty() && rest.front() == '.') {
    rest.remove_prefix(1);
    size_t n = 0;
    while (n < rest.size() && std::isdigit(static_cast<unsigned char>(rest[n])))
      ++n;
    if (n == 0)
      return std::nullopt;
    rest.remove_prefix(n);
  }
  if (rest != "Z" && rest != "z" && rest != "+00:00")
    return std::nullopt;
  std::tm tm{};
  tm.tm_year = *y - 1900;
  tm.tm_mon = *mo - 1;
  tm.tm_mday = *d;
  tm.tm_hour = *h;
  tm.tm_min = *mi;
  tm.tm_sec = *s;
  return static_cast<int64_t>(timegm(&tm));
}

caf::expected<std::optional<aws_credentials>>
from_environment(const env_lookup& env) {
  auto id = non_empty(env("AWS_ACCESS_KEY_ID"));
  if (!id)
    return std::optional<aws_credentials>{};
  auto secret = non_empty(env("AWS_SECRET_ACCESS_KEY"));
  if (!secret)
    return make_error(errc::unauthorized,
                      "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY "
                      "is not: set both (and AWS_SESSION_TOKEN for "
                      "temporary keys)");
  aws_credentials out;
  out.keys.access_key = *id;
  out.keys.secret_key = *secret;
  if (auto token = non_empty(env("AWS_SESSION_TOKEN")))
    out.keys.session_token = *token;
  out.source = "environment";
  return std::optional<aws_credentials>{std::move(out)};
}

caf::expected<std::optional<aws_credentials>>
from_shared_file_text(std::string_view text, const std::string& profile) {
  std::istringstream in{std::string{text}};
  std::string line;
  bool inside = false;
  bool found = false;
  aws_credentials out;
  while (std::getline(in, line)) {
    auto t = trim(line);
    if (t.empty() || t.front() == '#' || t.front() == ';')
      continue;
    if (t.front() == '[') {
      auto close = t.find(']');
      auto name = close == std::string::npos ? std::string{}
                                             : trim(t.substr(1, close - 1));
      inside = name == profile;
      found = found || inside;
      continue;
    }
    if (!inside)
      continue;
    auto eq = t.find('=');
    if (eq == std::string::npos)
      continue;
    auto key = trim(t.substr(0, eq));
    for (auto& c : key)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto value = trim(t.substr(eq + 1));
    if (key == "aws_access_key_id")
      out.keys.access_key = value;
    else if (key == "aws_secret_access_key")
      out.keys.secret_key = value;
    else if (key == "aws_session_token")
      out.keys.session_token = value;
  }
  if (!found)
    return std::optional<aws_credentials>{};
  if (out.keys.access_key.empty() || out.keys.secret_key.empty())
    return make_error(errc::unauthorized,
                      "profile '" + profile
                        + "' of the shared credentials file lacks "
                          "aws_access_key_id or aws_secret_access_key");
  out.source = "shared file (profile " + profile + ")";
  return std::optional<aws_credentials>{std::move(out)};
}

caf::expected<aws_credentials> from_metadata_json(std::string_view body,
                                                  std::string source) {
  // The body holds keys: errors say what is wrong, never what it says.
  auto doc = nlohmann::json::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object())
    return make_error(errc::unauthorized,
                      source
                        + ": the credentials answer is not a JSON "
                          "object");
  auto str = [&](const char* key) -> std::string {
    auto i = doc.find(key);
    return i != doc.end() && i->is_string() ? i->get<std::string>() : "";
  };
  if (auto code = str("Code"); !code.empty() && code != "Success")
    return make_error(errc::unauthorized,
                      source + ": the endpoint answered Code " + code);
  aws_credentials out;
  out.keys.access_key = str("AccessKeyId");
  out.keys.secret_key = str("SecretAccessKey");
  out.keys.session_token = str("Token");
  if (out.keys.access_key.empty() || out.keys.secret_key.empty())
    return make_error(errc::unauthorized,
                      source
                        + ": the answer lacks AccessKeyId or "
                          "SecretAccessKey");
  if (auto exp = str("Expiration"); !exp.empty()) {
    auto at = parse_iso8601(exp);
    if (!at)
      return make_error(errc::unauthorized,
                        source + ": Expiration '" + exp
                          + "' is not an ISO 8601 UTC time");
    out.expires_at = *at;
  }
  out.source = std::move(source);
  return out;
}

credential_chain::credential_chain(chain_config cfg) : cfg_(std::move(cfg)) {
  // nop
}

uint64_t credential_chain::fetches() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return fetches_;
}

caf::expected<aws_credentials> credential_chain::get(int64_t now) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (cached_) {
    if (!cached_->expires_at)
      return *cached_;
    auto due = *cached_->expires_at - cfg_.refresh_before.count();
    // Tried (or fetched) a moment ago: keys that still hold serve, so a
    // failing endpoint is not asked again on every call.
    if (now < due
        || (now - attempted_at_ < min_refetch_s && now < *cached_->expires_at))
      return *cached_;
  } else if (last_error_ && now - last_error_at_ < error_hold_s) {
    return *last_error_;
  }
  attempted_at_ = now;
  auto fresh = resolve();
  if (fresh) {
    ++fetches_;
    // Temporary keys without an expiry are treated as short-lived, so
    // their session token is fetched again.
    if (!fresh->expires_at
        && (fresh->source.rfind("ecs", 0) == 0
            || fresh->source.rfind("imds", 0) == 0))
      fresh->expires_at = now + 900;
    last_error_.reset();
    cached_ = *fresh;
    return std::move(*fresh);
  }
  // Keep serving keys that still hold; a later call tries again.
  if (cached_ && cached_->expires_at && now < *cached_->expires_at)
    return *cached_;
  cached_.reset();
  last_error_ = fresh.error();
  last_error_at_ = now;
  return std::move(fresh.error());
}

caf::expected<aws_credentials> credential_chain::peek(int64_t now) const {
  std::lock_guard<std::mutex> guard{mtx_};
  if (cached_ && (!cached_->expires_at || now < *cached_->expires_at))
    return *cached_;
  if (last_error_)
    return *last_error_;
  return make_error(errc::unauthorized,
                    "no AWS credentials fetched yet (they are fetched in the "
                    "background; try again in a moment)");
}

caf::expected<aws_credentials> credential_chain::resolve() {
  auto& env = cfg_.env;
  // 1. The environment.
  auto from_env = from_environment(env);
  if (!from_env)
    return std::move(from_env.error());
  if (*from_env)
    return std::move(**from_env);
  // 2. The shared credentials file.
  auto profile = cfg_.profile;
  bool explicit_profile = !profile.empty();
  if (profile.empty()) {
    if (auto p = non_empty(env("AWS_PROFILE"))) {
      profile = *p;
      explicit_profile = true;
    } else {
      profile = "default";
    }
  }
  std::string file;
  if (auto f = non_empty(env("AWS_SHARED_CREDENTIALS_FILE")))
    file = *f;
  else if (auto home = non_empty(env("HOME")))
    file = *home + "/.aws/credentials";
  std::string tried = "environment (AWS_ACCESS_KEY_ID)";
  if (!file.empty()) {
    tried += ", " + file;
    if (auto text = read_small_file(file)) {
      auto got = from_shared_file_text(*text, profile);
      // A [default] without keys (only a region, a role to assume) is
      // passed over, as the SDKs do; a profile asked for by name is not.
      if (!got && explicit_profile)
        return std::move(got.error());
      if (got && *got)
        return std::move(**got);
    }
  }
  if (explicit_profile)
    return make_error(errc::unauthorized,
                      "AWS profile '" + profile + "' is not in "
                        + (file.empty() ? std::string{"the shared "
                                                      "credentials file"}
                                        : file));
  // 3. ECS container credentials: configured means chosen, failures and all.
  if (auto rel = non_empty(env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")))
    return from_ecs("http://169.254.170.2" + *rel);
  if (auto full = non_empty(env("AWS_CONTAINER_CREDENTIALS_FULL_URI")))
    return from_ecs(*full);
  // 4. EC2 instance metadata (IMDSv2).
  if (truthy(env("AWS_EC2_METADATA_DISABLED")))
    return make_error(errc::unauthorized,
                      "no AWS credentials found (tried " + tried
                        + "; instance metadata is disabled): set "
                          "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a "
                          "profile (aws.profile or AWS_PROFILE), or run "
                          "with an ECS task role or EC2 instance role");
  auto imds = non_empty(env("AWS_EC2_METADATA_SERVICE_ENDPOINT"))
                .value_or("http://169.254.169.254");
  while (!imds.empty() && imds.back() == '/')
    imds.pop_back();
  auto got = from_imds(imds);
  if (got)
    return got;
  return make_error(errc::unauthorized,
                    "no AWS credentials found (tried " + tried
                      + ", instance metadata at " + imds + ": "
                      + messages::message_of(got.error())
                      + "): set AWS_ACCESS_KEY_ID and "
                        "AWS_SECRET_ACCESS_KEY, a profile (aws.profile or "
                        "AWS_PROFILE), or run with an ECS task role or EC2 "
                        "instance role");
}

caf::expected<aws_credentials>
credential_chain::from_ecs(const std::string& uri) {
  const std::string what = "ECS container credentials";
  bool https = uri.compare(0, 8, "https://") == 0;
  if (!https
      && (uri.compare(0, 7, "http://") != 0
          || !allowed_http_host(host_of(uri))))
    return make_error(errc::unauthorized,
                      what
                        + ": AWS_CONTAINER_CREDENTIALS_FULL_URI must be "
                          "https, or http on loopback or the ECS/EKS "
                          "agent address");
  http_request req;
  req.url = uri;
  req.timeout = cfg_.metadata_timeout;
  req.connect_timeout = cfg_.metadata_timeout;
  req.max_response = 64 * 1024;
  req.no_proxy = true;
  std::optional<std::string> token;
  if (auto file
      = non_empty(cfg_.env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"))) {
    token = read_small_file(*file);
    if (!token)
      return make_error(errc::unauthorized,
                        what
                          + ": cannot read "
                            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE ("
                          + *file + ")");
    *token = trim(*token);
  } else {
    token = non_empty(cfg_.env("AWS_CONTAINER_AUTHORIZATION_TOKEN"));
  }
  if (token) {
    if (!header_safe(*token))
      return make_error(errc::unauthorized,
                        what
                          + ": the authorization token holds a line "
                            "break");
    req.headers.emplace_back("Authorization", *token);
  }
  auto resp = perform(req);
  if (!resp)
    return make_error(errc::unauthorized,
                      what + ": " + messages::message_of(resp.error()));
  if (resp->status != 200)
    return make_error(errc::unauthorized,
                      what + ": HTTP " + std::to_string(resp->status));
  return from_metadata_json(resp->body, "ecs");
}

caf::expected<aws_credentials>
credential_chain::from_imds(const std::string& endpoint) {
  http_request tok;
  tok.method = "PUT";
  tok.url = endpoint + "/latest/api/token";
  tok.headers.emplace_back("X-aws-ec2-metadata-token-ttl-seconds", "21600");
  tok.timeout = cfg_.metadata_timeout;
  tok.connect_timeout = cfg_.metadata_timeout;
  tok.max_response = 4096;
  tok.no_proxy = true;
  auto t = perform(tok);
  if (!t)
    return std::move(t.error());
  if (t->status != 200)
    return make_error(errc::unauthorized,
                      "token request: HTTP " + std::to_string(t->status));
  auto token = trim(t->body);
  if (!header_safe(token))
    return make_error(errc::unauthorized, "token request: empty token");
  auto get = [&](const std::string& path) {
    http_request req;
    req.url = endpoint + path;
    req.headers.emplace_back("X-aws-ec2-metadata-token", token);
    req.timeout = cfg_.metadata_timeout;
    req.connect_timeout = cfg_.metadata_timeout;
    req.max_response = 64 * 1024;
    req.no_proxy = true;
    return perform(req);
  };
  const std::string base = "/latest/meta-data/iam/security-credentials/";
  auto roles = get(base);
  if (!roles)
    return std::move(roles.error());
  if (roles->status != 200)
    return make_error(errc::unauthorized, "no instance role (HTTP "
                                            + std::to_string(roles->status)
                                            + ")");
  auto role = trim(roles->body.substr(0, roles->body.find('\n')));
  if (!role_name_ok(role))
    return make_error(errc::unauthorized, "malformed instance role name");
  auto creds = get(base + role);
  if (!creds)
    return std::move(creds.error());
  if (creds->status != 200)
    return make_error(errc::unauthorized, "role credentials: HTTP "
                                            + std::to_string(creds->status));
  return from_metadata_json(creds->body, "imds (role " + role + ")");
}

} // namespace vf::adapters::aws
