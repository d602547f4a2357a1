// vf/adapters/http/router.cpp

#include "vf/adapters/http/router.hpp"

#include <nlohmann/json.hpp>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "caf/event_based_actor.hpp"
#include "caf/sec.hpp"
#include "caf/send.hpp"

#include "vf/adapters/http/json_views.hpp"
#include "vf/adapters/http/password_hash.hpp"
#include "vf/messages/atoms.hpp"
#include "vf/messages/errc.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <exception>
#include <utility>

namespace vf::adapters::http {

namespace {

using messages::errc;
using json = nlohmann::json;

using digest = std::array<unsigned char, 32>;

digest sha256(std::string_view x) {
  digest result{};
  unsigned int n = 0;
  EVP_Digest(x.data(), x.size(), result.data(), &n, EVP_sha256(), nullptr);
  return result;
}

bool equal_digests(const digest& x, const digest& y) {
  return CRYPTO_memcmp(x.data(), y.data(), x.size()) == 0;
}

http_response make_response(unsigned status, std::string body) {
  http_response res;
  res.status = status;
  res.body = std::move(body);
  return res;
}

http_response error_response(unsigned status, std::string_view code,
                             std::string_view detail) {
  return make_response(status, error_json(code, detail));
}

http_response unauthorized(std::string_view detail) {
  auto res = error_response(401, "unauthorized", detail);
  res.challenge = true;
  return res;
}

// Only the message an actor attached; generic renderings help nobody.
std::string detail_of(const caf::error& err, std::string_view fallback) {
  auto& ctx = err.context();
  if (err.category() == messages::errc_category
      && ctx.match_elements<std::string>())
    return ctx.get_as<std::string>(0);
  return std::string{fallback};
}

// The error table: an actor's error to the status a client sees. Only what
// cannot be the client's fault and cannot be retried becomes a 500.
http_response from_error(const api_state& state, const caf::error& err,
                         std::string_view not_found_detail = {}) {
  if (err.category() == caf::atom("system")) {
    switch (static_cast<caf::sec>(err.code())) {
      case caf::sec::request_timeout:
        return error_response(503, "timeout",
                              "the service did not answer in time; retry "
                              "later");
      case caf::sec::request_receiver_down:
      case caf::sec::invalid_argument:
        return error_response(503, "storage_unavailable",
                              "the service is not available right now; "
                              "retry later");
      default:
        break;
    }
  } else if (err.category() == messages::errc_category) {
    auto code = static_cast<errc>(err.code());
    auto name = messages::to_string(code);
    switch (code) {
      case errc::not_found:
        return error_response(404, name,
                              detail_of(err, not_found_detail.empty()
                                               ? "not found"
                                               : not_found_detail));
      case errc::invalid_argument:
        return error_response(422, name, detail_of(err, "invalid request"));
      case errc::conflict:
        return error_response(409, name,
                              detail_of(err, "the request conflicts with "
                                             "the job's current state"));
      case errc::duplicate:
        return error_response(409, name,
                              detail_of(err, "this was done before"));
      case errc::unauthorized: {
        auto res = error_response(401, name,
                                  detail_of(err, "log in via POST "
                                                 "/auth/login"));
        res.challenge = true;
        return res;
      }
      case errc::forbidden:
        return error_response(403, name,
                              detail_of(err, "your account may not do this"));
      case errc::payload_too_large:
        return error_response(413, name,
                              detail_of(err, "the payload is too large"));
      case errc::throttled:
        return error_response(429, name,
                              detail_of(err, "too many requests; retry "
                                             "later"));
      // Per-user limits: jobs in flight pass with time (429, retry), stored
      // bytes do not (403: this account may not store more).
      case errc::quota_exceeded:
        return error_response(429, "quota_exceeded",
                              detail_of(err, "too many jobs in flight"));
      case errc::storage_quota_exceeded:
        return error_response(403, "quota_exceeded",
                              detail_of(err, "storage quota exceeded"));
      case errc::storage_unavailable:
      case errc::timeout:
        return error_response(503, name,
                              detail_of(err, "a backing service is not "
                                             "available; retry later"));
      default:
        break;
    }
  }
  if (state.config.log)
    state.config.log("http: ERROR unexpected error from an actor: "
                     + messages::message_of(err));
  return error_response(500, "internal",
                        "internal error; the operators have been notified");
}

http_response not_found_job(std::string_view id) {
  std::string detail = "job '";
  detail.append(id.substr(0, 128));
  detail += "' not found; use the job_id returned by POST /jobs";
  return error_response(404, "not_found", detail);
}

bool may_see(const jwt_claims& who, const messages::job& x) {
  return who.role == "admin" || x.owner == who.sub;
}

// Splits the path into a route and the `{id}` segment.
route match(std::string_view path, std::string_view& id) {
  if (path == "/jobs")
    return route::jobs;
  constexpr std::string_view jobs_prefix = "/jobs/";
  if (path.substr(0, jobs_prefix.size()) == jobs_prefix) {
    auto rest = path.substr(jobs_prefix.size());
    auto slash = rest.find('/');
    id = rest.substr(0, slash);
    if (id.empty())
      return route::unmatched;
    if (slash == std::string_view::npos)
      return route::job;
    auto tail = rest.substr(slash);
    if (tail == "/result")
      return route::job_result;
    if (tail == "/cancel")
      return route::job_cancel;
    if (tail == "/attempts")
      return route::job_attempts;
    return route::unmatched;
  }
  if (path == "/dlq")
    return route::dlq;
  constexpr std::string_view dlq_prefix = "/dlq/";
  if (path.substr(0, dlq_prefix.size()) == dlq_prefix) {
    // Job ids are UUIDs: `report` and `redrive` cannot clash with one.
    auto rest = path.substr(dlq_prefix.size());
    if (rest == "report")
      return route::dlq_report;
    if (rest == "redrive")
      return route::dlq_redrive;
    if (rest.empty() || rest.find('/') != std::string_view::npos)
      return route::unmatched;
    id = rest;
    return route::dlq_item;
  }
  if (path == "/cluster/nodes")
    return route::cluster_nodes;
  if (path == "/auth/login")
    return route::login;
  if (path == "/history")
    return route::history;
  if (path == "/minio/webhook")
    return route::webhook;
  if (path == "/healthz")
    return route::healthz;
  if (path == "/readyz")
    return route::readyz;
  if (path == "/metrics")
    return route::metrics;
  return route::unmatched;
}

/// The methods one route answers, as a bit set over `http_method` and as
/// the `Allow` header lists them.
struct allowed_methods {
  unsigned mask;
  std::string_view allow;

  bool contains(http_method m) const {
    return (mask & (1u << static_cast<unsigned>(m))) != 0;
  }
};

constexpr unsigned bit(http_method m) {
  return 1u << static_cast<unsigned>(m);
}

allowed_methods methods_of(route r) {
  switch (r) {
    case route::login:
    case route::jobs:
    case route::job_cancel:
    case route::webhook:
    case route::dlq_redrive:
      return {bit(http_method::post), "POST"};
    case route::dlq_item:
      return {bit(http_method::get) | bit(http_method::del), "GET, DELETE"};
    default:
      return {bit(http_method::get), "GET"};
  }
}

// Parses a JSON object body; answers 400/422 and returns nothing otherwise.
std::optional<json> parse_object(exchange& ex) {
  auto body = ex.request().body;
  json result = json::parse(body.begin(), body.end(), nullptr, false);
  if (result.is_discarded()) {
    ex.respond(error_response(400, "invalid_json",
                              "body is not valid JSON; send a JSON object "
                              "with Content-Type: application/json"));
    return std::nullopt;
  }
  if (!result.is_object()) {
    ex.respond(
      error_response(422, "invalid_argument", "body must be a JSON object"));
    return std::nullopt;
  }
  return result;
}

// Returns the string member `name`, or null when absent/null; sets `bad` on
// any other type.
const std::string* string_member(const json& obj, const char* name, bool& bad) {
  auto i = obj.find(name);
  if (i == obj.end() || i->is_null())
    return nullptr;
  if (!i->is_string()) {
    bad = true;
    return nullptr;
  }
  return &i->get_ref<const std::string&>();
}

// Returns the value of `name` in a query string, if present.
std::optional<std::string_view> query_param(std::string_view query,
                                            std::string_view name) {
  while (!query.empty()) {
    auto amp = query.find('&');
    auto pair = query.substr(0, amp);
    auto eq = pair.find('=');
    if (pair.substr(0, eq) == name)
      return eq == std::string_view::npos ? std::string_view{}
                                          : pair.substr(eq + 1);
    if (amp == std::string_view::npos)
      break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

// Parses a decimal of at most `max_digits` digits (no sign, no blanks).
std::optional<uint64_t> parse_decimal(std::string_view str, size_t max_digits) {
  if (str.empty() || str.size() > max_digits)
    return std::nullopt;
  uint64_t value = 0;
  for (char c : str) {
    if (c < '0' || c > '9')
      return std::nullopt;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  return value;
}

bool iequals(std::string_view x, std::string_view y) {
  return x.size() == y.size()
         && std::equal(x.begin(), x.end(), y.begin(),
                       [](char a, char b) { return (a | 0x20) == (b | 0x20); });
}

// Returns the credentials of an `Authorization: Bearer <x>` header, or an
// empty view.
std::string_view bearer_token(std::string_view header) {
  constexpr std::string_view scheme = "bearer";
  if (header.size() <= scheme.size()
      || !iequals(header.substr(0, scheme.size()), scheme)
      || (header[scheme.size()] != ' ' && header[scheme.size()] != '\t'))
    return {};
  header.remove_prefix(scheme.size());
  while (!header.empty() && (header.front() == ' ' || header.front() == '\t'))
    header.remove_prefix(1);
  while (!header.empty() && (header.back() == ' ' || header.back() == '\t'))
    header.remove_suffix(1);
  return header;
}

/// True if `req` proves it knows the webhook secret `token`: as a bearer
/// token or as an HMAC-SHA256 signature of the body. Constant time in the
/// secret's content.
bool webhook_authentic(const std::string& token, const http_request& req) {
  if (auto bearer = bearer_token(req.authorization); !bearer.empty())
    return equal_digests(sha256(bearer), sha256(token));
  constexpr std::string_view prefix = "sha256=";
  auto sig = req.signature;
  if (sig.size() != prefix.size() + 64
      || sig.substr(0, prefix.size()) != prefix)
    return false;
  digest mac{};
  unsigned int n = 0;
  HMAC(EVP_sha256(), token.data(), static_cast<int>(token.size()),
       reinterpret_cast<const unsigned char*>(req.body.data()),
       req.body.size(), mac.data(), &n);
  // Compared as lower-case hex, in constant time.
  static constexpr char hex[] = "0123456789abcdef";
  std::array<char, 64> expected{};
  std::array<char, 64> given{};
  for (size_t i = 0; i < mac.size(); ++i) {
    expected[2 * i] = hex[mac[i] >> 4];
    expected[2 * i + 1] = hex[mac[i] & 0x0f];
  }
  for (size_t i = 0; i < given.size(); ++i)
    given[i] = static_cast<char>(
      std::tolower(static_cast<unsigned char>(sig[prefix.size() + i])));
  return CRYPTO_memcmp(expected.data(), given.data(), given.size()) == 0;
}

/// True for `application/json`, parameters (`; charset=utf-8`) allowed.
bool is_json_media_type(std::string_view x) {
  auto semi = x.find(';');
  auto type = x.substr(0, semi);
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t'))
    type.remove_suffix(1);
  return iequals(type, "application/json");
}

} // namespace

// -- api_state ----------------------------------------------------------------

api_state::api_state(api_config cfg, api_handles hdl,
                     std::shared_ptr<prometheus::Registry> registry)
  : config(std::move(cfg)), handles(std::move(hdl)),
    metrics(std::move(registry)),
    limiter(config.rate_limit, config.rate_burst) {
  if (config.accounts) {
    users = config.accounts;
    return;
  }
  std::vector<user_account> xs;
  xs.reserve(config.users.size());
  for (auto& u : config.users)
    xs.push_back(user_account{u.name, u.role.empty() ? "user" : u.role,
                              hash_password(u.password), new_user_epoch()});
  users = std::make_shared<const user_table>(std::move(xs));
}

int64_t api_state::now() const {
  if (config.now)
    return config.now();
  using namespace std::chrono;
  return duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
}

// -- router -------------------------------------------------------------------

namespace {

// Checks (password, encoded hash) → bool off the I/O thread. An empty hash
// (no account at all) is checked against a dummy, which takes as long.
caf::behavior password_checker(caf::event_based_actor*) {
  return {
    [](const std::string& password, const std::string& encoded) {
      return verify_password(password,
                             encoded.empty() ? dummy_password_hash() : encoded);
    },
  };
}

} // namespace

router::router(const api_state& state, common::asio_bridge& bridge,
               boost::asio::io_context& ioc)
  : state_(state), bridge_(bridge), jwt_(state.config.jwt_secret),
    deadlines_(bridge, ioc, state.config.request_timeout) {
  kdf_ = bridge.self()->system().spawn<caf::detached>(password_checker);
}

router::~router() {
  caf::anon_send_exit(kdf_, caf::exit_reason::user_shutdown);
}

template <class Handle, class... Ts>
auto router::ask(const Handle& dest, Ts&&... xs) {
  // caf::infinite: no CAF clock involved, deadlines_ times it out instead.
  auto h
    = bridge_.self()->request(dest, caf::infinite, std::forward<Ts>(xs)...);
  deadlines_.track(h.id());
  return h;
}

template <class Then>
void router::with_visible_job(const std::shared_ptr<exchange>& ex,
                              std::string_view id, Then then) {
  auto who = authenticate(*ex);
  if (!who)
    return;
  std::weak_ptr<exchange> weak = ex;
  auto h = ask(state_.handles.registry, atoms::get_v, std::string{id});
  h.then(
    [this, weak, rid = h.id(), who = std::move(*who),
     then = std::move(then)](messages::job& j) mutable {
      deadlines_.settle(rid);
      auto ex = weak.lock();
      if (!ex)
        return;
      // Someone else's job does not exist as far as this caller knows.
      if (!may_see(who, j)) {
        ex->respond(not_found_job(j.id));
        return;
      }
      then(ex, j);
    },
    [this, weak, rid = h.id(), sid = std::string{id}](caf::error& err) {
      deadlines_.settle(rid);
      if (auto ex = weak.lock())
        ex->respond(messages::errc_of(err) == errc::not_found
                      ? not_found_job(sid)
                      : from_error(state_, err));
    });
}

void router::handle(const std::shared_ptr<exchange>& ex) {
  auto& req = ex->request();
  std::string_view id;
  auto r = match(req.path, id);
  // The webhook exists only with a secret to check it by: an open webhook
  // lets anyone forge object events.
  if (r == route::webhook && state_.config.webhook_token.empty())
    r = route::unmatched;
  ex->set_route(r);
  // Before anything else, unknown routes included: a flood of 404s is a
  // flood too. Monitoring must never be throttled.
  if (r != route::healthz && r != route::readyz && r != route::metrics
      && !admit(*ex))
    return;
  if (r == route::unmatched) {
    std::string detail = "no route for '";
    detail.append(req.path.substr(0, 200));
    detail += "'; see the API documentation for the routes";
    ex->respond(error_response(404, "not_found", detail));
    return;
  }
  auto allowed = methods_of(r);
  if (!allowed.contains(req.method)) {
    std::string detail = "method not allowed on ";
    detail += route_pattern(r);
    detail += "; use ";
    detail += allowed.allow;
    auto res = error_response(405, "method_not_allowed", detail);
    res.allow = allowed.allow;
    ex->respond(std::move(res));
    return;
  }
  // Handlers may throw (allocation, nlohmann type errors we did not
  // foresee); a request must never take the server down.
  try {
    switch (r) {
      case route::login:
        login(ex);
        break;
      case route::jobs:
        create_job(ex);
        break;
      case route::job:
        get_job(ex, id);
        break;
      case route::job_result:
        get_result(ex, id);
        break;
      case route::job_cancel:
        cancel_job(ex, id);
        break;
      case route::job_attempts:
        get_attempts(ex, id);
        break;
      case route::history:
        history(ex);
        break;
      case route::webhook:
        webhook(ex);
        break;
      case route::healthz:
        ex->respond(make_response(200, R"({"status":"ok"})"));
        break;
      case route::readyz:
        readyz(ex);
        break;
      case route::metrics:
        metrics(ex);
        break;
      case route::dlq:
        dlq_list(ex);
        break;
      case route::dlq_item:
        if (req.method == http_method::del)
          dlq_remove(ex, id);
        else
          dlq_get(ex, id);
        break;
      case route::dlq_report:
        dlq_report(ex);
        break;
      case route::dlq_redrive:
        dlq_redrive(ex);
        break;
      case route::cluster_nodes:
        cluster_nodes(ex);
        break;
      case route::unmatched:
        break;
    }
  } catch (const std::exception& e) {
    if (state_.config.log)
      state_.config.log(std::string{"http: handler failed: "} + e.what());
    ex->respond(error_response(500, "internal",
                               "internal error; the operators have been "
                               "notified"));
  } catch (...) {
    if (state_.config.log)
      state_.config.log("http: ERROR handler failed with an unknown exception");
    ex->respond(error_response(500, "internal",
                               "internal error; the operators have been "
                               "notified"));
  }
}

bool router::admit(exchange& ex) {
  auto& limiter = state_.limiter;
  if (!limiter.enabled())
    return true;
  auto& req = ex.request();
  auto wait = limiter.acquire(req.client, rate_limiter::clock::now());
  if (wait == 0)
    return true;
  std::string detail = "too many requests from ";
  detail += req.client_name.empty() ? std::string_view{"this client"}
                                    : req.client_name;
  detail += "; retry after ";
  detail += std::to_string(wait);
  detail += " s";
  auto res = error_response(429, "rate_limited", detail);
  res.retry_after = wait;
  ex.respond(std::move(res));
  return false;
}

std::optional<jwt_claims> router::authorize_admin(exchange& ex) {
  auto who = authenticate(ex);
  if (!who)
    return std::nullopt;
  if (who->role != "admin") {
    ex.respond(error_response(403, "forbidden",
                              "this route needs an admin account; '"
                                + who->sub.substr(0, 128) + "' has role '"
                                + who->role.substr(0, 32) + "'"));
    return std::nullopt;
  }
  return who;
}

std::optional<jwt_claims> router::authenticate(exchange& ex) {
  auto header = ex.request().authorization;
  if (header.empty()) {
    ex.respond(unauthorized("missing bearer token: send 'Authorization: "
                            "Bearer <access_token>' (get one from POST "
                            "/auth/login)"));
    return std::nullopt;
  }
  auto token = bearer_token(header);
  if (token.empty()) {
    ex.respond(unauthorized("the Authorization header must be 'Bearer "
                            "<access_token>'"));
    return std::nullopt;
  }
  auto now = state_.now();
  auto claims = jwt_.verify(token, now);
  if (!claims) {
    ex.respond(unauthorized(messages::message_of(claims.error())));
    return std::nullopt;
  }
  // A valid signature only proves what was true at login: the account must
  // still exist, unchanged since, and its role is what it is now.
  auto account = state_.users->find(claims->sub, now);
  if (!account) {
    ex.respond(unauthorized("the account of this token no longer exists; "
                            "log in again via POST /auth/login"));
    return std::nullopt;
  }
  if (claims->gen.empty()
      || CRYPTO_memcmp(claims->gen.data(), account->epoch.data(),
                       std::min(claims->gen.size(), account->epoch.size()))
           != 0
      || claims->gen.size() != account->epoch.size()) {
    ex.respond(unauthorized("this token was revoked (the account's "
                            "password or role changed); log in again via "
                            "POST /auth/login"));
    return std::nullopt;
  }
  claims->role = account->role;
  return std::move(*claims);
}

void router::login(const std::shared_ptr<exchange>& ex) {
  auto body = parse_object(*ex);
  if (!body)
    return;
  bool bad = false;
  auto name = string_member(*body, "username", bad);
  auto password = string_member(*body, "password", bad);
  if (bad || name == nullptr || password == nullptr) {
    ex->respond(error_response(422, "invalid_argument",
                               "username and password are required and must "
                               "be strings"));
    return;
  }
  auto client = ex->request().client;
  if (auto wait = state_.throttle.check(*name, client, state_.now())) {
    auto res = error_response(429, "rate_limited",
                              "too many failed logins for this name or from "
                              "this client; retry after "
                                + std::to_string(wait) + " s");
    res.retry_after = wait;
    ex->respond(std::move(res));
    return;
  }
  // Unknown names are checked against another account's hash (same cost)
  // and refused whatever the outcome, so timing does not reveal which names
  // exist.
  auto account = state_.users->find(*name, state_.now());
  auto encoded = account ? account->password_hash
                         : state_.users->sample_hash(state_.now());
  // Each check takes tens of milliseconds; beyond this many waiting, the
  // newest would only time out anyway.
  constexpr size_t max_pending_checks = 32;
  if (kdf_pending_ >= max_pending_checks) {
    auto res = error_response(503, "busy",
                              "too many logins in progress; retry in a "
                              "second");
    res.retry_after = 1;
    ex->respond(std::move(res));
    return;
  }
  ++kdf_pending_;
  std::weak_ptr<exchange> weak = ex;
  auto h = ask(kdf_, *password, std::move(encoded));
  h.then(
    [this, weak, rid = h.id(), account = std::move(account), client,
     user = *name](bool ok) {
      deadlines_.settle(rid);
      --kdf_pending_;
      auto ex = weak.lock();
      if (!ex)
        return;
      if (!ok || !account) {
        state_.throttle.failed(user, client, state_.now());
        ex->respond(
          error_response(401, "unauthorized", "wrong username or password"));
        return;
      }
      state_.throttle.succeeded(user);
      jwt_claims claims;
      claims.sub = account->name;
      claims.role = account->role;
      claims.iat = state_.now();
      claims.exp = claims.iat + state_.config.token_ttl;
      claims.gen = account->epoch;
      auto token = jwt_.sign(claims);
      std::string out;
      out.reserve(token.size() + 80);
      out += R"({"access_token":)";
      append_json_string(out, token);
      out += R"(,"token_type":"bearer","expires_in":)";
      out += std::to_string(state_.config.token_ttl);
      out += '}';
      ex->respond(make_response(200, std::move(out)));
    },
    [this, weak, rid = h.id()](caf::error& err) {
      deadlines_.settle(rid);
      --kdf_pending_;
      if (auto ex = weak.lock())
        ex->respond(from_error(state_, err));
    });
}

void router::create_job(const std::shared_ptr<exchange>& ex) {
  auto who = authenticate(*ex);
  if (!who)
    return;
  auto body = parse_object(*ex);
  if (!body)
    return;
  bool bad = false;
  auto filename = string_member(*body, "filename", bad);
  if (bad || filename == nullptr) {
    ex->respond(error_response(422, "invalid_argument",
                               "filename is required and must be a string"));
    return;
  }
  auto content_type = string_member(*body, "content_type", bad);
  if (bad) {
    ex->respond(
      error_response(422, "invalid_argument", "content_type must be a string"));
    return;
  }
  // A content type may end up in a header (the object's Content-Type):
  // control characters there would split it.
  if (content_type != nullptr
      && std::any_of(content_type->begin(), content_type->end(), [](char c) {
           auto u = static_cast<unsigned char>(c);
           return u < 0x20 || u == 0x7f;
         })) {
    ex->respond(error_response(422, "invalid_argument",
                               "content_type must not contain control "
                               "characters"));
    return;
  }
  // An upload the disk cannot hold would be acknowledged to nobody's
  // benefit: refuse the job before handing out its URL.
  if (state_.config.check_storage) {
    if (auto st = state_.config.check_storage(); !st.ok) {
      auto res = error_response(507, "insufficient_storage",
                                "the server cannot store new uploads now ("
                                  + st.detail
                                  + "); retry later, existing jobs are "
                                    "unaffected");
      res.retry_after = 60;
      ex->respond(std::move(res));
      return;
    }
  }
  messages::job_request req{std::move(who->sub), *filename,
                            content_type ? *content_type : std::string{}};
  std::weak_ptr<exchange> weak = ex;
  auto h = ask(state_.handles.registry, atoms::create_v, std::move(req));
  h.then(
    [this, weak, rid = h.id()](messages::job& j) {
      deadlines_.settle(rid);
      auto ex = weak.lock();
      if (!ex)
        return;
      std::string url;
      try {
        url = state_.config.presign_upload(j);
      } catch (...) {
        // Never let an exception reach CAF: it would kill the bridge.
        if (state_.config.log)
          state_.config.log("http: ERROR presign_upload threw for job " + j.id);
        ex->respond(
          error_response(500, "internal", "could not presign the upload URL"));
        return;
      }
      std::string out;
      out.reserve(160 + j.id.size() + j.bucket.size() + j.key.size()
                  + url.size());
      out += R"({"job_id":)";
      append_json_string(out, j.id);
      out += R"(,"s3_bucket":)";
      append_json_string(out, j.bucket);
      out += R"(,"s3_key":)";
      append_json_string(out, j.key);
      out += R"(,"upload_url":)";
      append_json_string(out, url);
      out += R"(,"expires_in":)";
      out += std::to_string(state_.config.presign_expires);
      out += '}';
      ex->respond(make_response(201, std::move(out)));
    },
    [this, weak, rid = h.id()](caf::error& err) {
      deadlines_.settle(rid);
      if (auto ex = weak.lock())
        ex->respond(from_error(state_, err));
    });
}

void router::get_job(const std::shared_ptr<exchange>& ex, std::string_view id) {
  with_visible_job(ex, id, [](const std::shared_ptr<exchange>& ex,
                              messages::job& j) {
    ex->respond(make_response(200, job_json(j)));
  });
}

void router::get_result(const std::shared_ptr<exchange>& ex,
                        std::string_view id) {
  // Looks the job up first: for the owner check and for the status a 409
  // names.
  with_visible_job(ex, id, [this](const std::shared_ptr<exchange>& ex,
                                  messages::job& j) {
    std::weak_ptr<exchange> weak = ex;
    auto h2 = ask(state_.handles.registry, atoms::get_result_v, j.id);
    h2.then(
      [this, weak, rid2 = h2.id()](messages::job_result& r) {
        deadlines_.settle(rid2);
        auto ex = weak.lock();
        if (!ex)
          return;
        std::string out;
        out.reserve(128 + r.metadata.size() + r.summary.size());
        out += R"({"job_id":)";
        append_json_string(out, r.job_id);
        out += R"(,"metadata":)";
        // Stored as JSON text: splice it in once it proved valid.
        if (!r.metadata.empty() && json::accept(r.metadata))
          out += r.metadata;
        else
          out += "null";
        out += R"(,"summary":)";
        append_json_string(out, r.summary);
        out += R"(,"created_at":)";
        append_iso8601(out, r.created_at);
        out += '}';
        ex->respond(make_response(200, std::move(out)));
      },
      [this, weak, rid2 = h2.id(), status = messages::to_string(j.status),
       jid = j.id](caf::error& err) {
        deadlines_.settle(rid2);
        auto ex = weak.lock();
        if (!ex)
          return;
        auto code = messages::errc_of(err);
        if (code == errc::conflict)
          ex->respond(error_response(
            409, "conflict",
            "job is not finished yet (status " + status
              + "); poll GET /jobs/{id} until it is SUCCEEDED"));
        else if (code == errc::not_found)
          ex->respond(not_found_job(jid));
        else
          ex->respond(from_error(state_, err));
      });
  });
}

void router::cancel_job(const std::shared_ptr<exchange>& ex,
                        std::string_view id) {
  // Looks the job up first: the orchestrator does not know owners.
  with_visible_job(ex, id, [this](const std::shared_ptr<exchange>& ex,
                                  messages::job& j) {
    std::weak_ptr<exchange> weak = ex;
    auto h2 = ask(state_.handles.orchestrator, atoms::cancel_v, j.id);
    h2.then(
      [this, weak, rid2 = h2.id()](messages::job& cancelled) {
        deadlines_.settle(rid2);
        if (auto ex = weak.lock())
          ex->respond(make_response(200, job_json(cancelled)));
      },
      [this, weak, rid2 = h2.id(), jid = j.id,
       status = messages::to_string(j.status)](caf::error& err) {
        deadlines_.settle(rid2);
        auto ex = weak.lock();
        if (!ex)
          return;
        auto code = messages::errc_of(err);
        if (code == errc::conflict)
          ex->respond(
            error_response(409, "conflict",
                           detail_of(err, "job is already " + status
                                            + " and cannot be cancelled")));
        else if (code == errc::not_found)
          ex->respond(not_found_job(jid));
        else
          ex->respond(from_error(state_, err));
      });
  });
}

void router::history(const std::shared_ptr<exchange>& ex) {
  auto who = authenticate(*ex);
  if (!who)
    return;
  uint32_t limit = 20;
  if (auto str = query_param(ex->request().query, "limit")) {
    uint32_t value = 0;
    bool ok = !str->empty() && str->size() <= 4;
    for (char c : *str) {
      if (c < '0' || c > '9') {
        ok = false;
        break;
      }
      value = value * 10 + static_cast<uint32_t>(c - '0');
    }
    if (!ok || value < 1 || value > 200) {
      ex->respond(error_response(422, "invalid_argument",
                                 "limit must be an integer between 1 and "
                                 "200"));
      return;
    }
    limit = value;
  }
  std::weak_ptr<exchange> weak = ex;
  // The store filters by owner (admins see everyone's): a filter here,
  // after the limit, let other users' new jobs empty a user's page.
  std::string owner = who->role == "admin" ? std::string{} : who->sub;
  auto h = ask(state_.handles.registry, atoms::history_v, std::move(owner),
               limit);
  h.then(
    [this, weak, rid = h.id(),
     who = std::move(*who)](std::vector<messages::job>& jobs) {
      deadlines_.settle(rid);
      auto ex = weak.lock();
      if (!ex)
        return;
      std::string out;
      out.reserve(16 + jobs.size() * 512);
      out += R"({"items":[)";
      bool first = true;
      for (auto& j : jobs) {
        // Already filtered by the store; checked again on the way out.
        if (!may_see(who, j))
          continue;
        if (!first)
          out += ',';
        first = false;
        append_job_json(out, j);
      }
      out += "]}";
      ex->respond(make_response(200, std::move(out)));
    },
    [this, weak, rid = h.id()](caf::error& err) {
      deadlines_.settle(rid);
      if (auto ex = weak.lock())
        ex->respond(from_error(state_, err));
    });
}

void router::webhook(const std::shared_ptr<exchange>& ex) {
  auto& cfg = state_.config;
  auto& req = ex->request();
  if (!webhook_authentic(cfg.webhook_token, req)) {
    ex->respond(unauthorized("the webhook needs 'Authorization: Bearer "
                             "<webhook token>' (MinIO's auth_token) or "
                             "'X-Vidflow-Signature: sha256=<hex HMAC-SHA256 "
                             "of the body>'"));
    return;
  }
  // JSON only: a form or text/plain body is what a foreign web page can
  // make a browser send without a CORS preflight.
  if (!is_json_media_type(req.content_type)) {
    ex->respond(error_response(415, "unsupported_media_type",
                               "the webhook takes 'Content-Type: "
                               "application/json' only"));
    return;
  }
  auto body = req.body;
  if (!json::accept(body)) {
    ex->respond(error_response(400, "invalid_json",
                               "body is not valid JSON; send MinIO's bucket "
                               "notification body"));
    return;
  }
  caf::expected<parsed_events> parsed = caf::error{};
  try {
    parsed = cfg.parse_webhook(body);
  } catch (const std::exception& e) {
    parsed = messages::make_error(errc::invalid_argument,
                                  std::string{"unreadable notification: "}
                                    + e.what());
  } catch (...) {
    parsed
      = messages::make_error(errc::invalid_argument, "unreadable notification");
  }
  if (!parsed) {
    ex->respond(error_response(
      422, "invalid_argument",
      detail_of(parsed.error(), "not a MinIO bucket notification body")));
    return;
  }
  auto records = parsed->events.size() + parsed->ignored;
  if (records > cfg.webhook_max_records) {
    ex->respond(error_response(
      413, "too_many_records",
      "one notification may carry at most "
        + std::to_string(cfg.webhook_max_records) + " records; this one has "
        + std::to_string(records)));
    return;
  }
  auto& metrics = state_.metrics;
  metrics.count_event(event_outcome::ignored, parsed->ignored);
  struct tally {
    size_t pending = 0;
    uint64_t accepted = 0;
    uint64_t duplicates = 0;
    uint64_t rejected = 0;
    uint64_t ignored = 0;
    caf::error failure;
  };
  auto t = std::make_shared<tally>();
  t->pending = parsed->events.size();
  t->ignored = parsed->ignored;
  std::weak_ptr<exchange> weak = ex;
  // Answers once every event got its reply: acknowledging earlier would
  // lose events the orchestrator then fails to record.
  auto finish = [this, weak, t] {
    auto ex = weak.lock();
    if (!ex)
      return;
    if (t->failure) {
      // MinIO redelivers on any non-2xx: the events already accepted will
      // then come back as duplicates, which is harmless.
      auto res = from_error(state_, t->failure);
      if (res.status != 503)
        res = error_response(503, "storage_unavailable",
                             "could not record every event; retry later");
      ex->respond(std::move(res));
      return;
    }
    // The same answer whatever became of each record: it must not tell
    // whether a job exists or what state it is in (the metrics
    // `vidflow_object_events_total{outcome}` tell operators).
    std::string out = R"({"received":)";
    out += std::to_string(t->accepted + t->duplicates + t->ignored
                          + t->rejected);
    out += '}';
    ex->respond(make_response(200, std::move(out)));
  };
  if (t->pending == 0) {
    finish();
    return;
  }
  for (auto& ev : parsed->events) {
    auto h = ask(state_.handles.orchestrator, atoms::created_v, std::move(ev));
    h.then(
      [this, &metrics, t, finish, rid = h.id()](bool fresh) {
        deadlines_.settle(rid);
        if (fresh) {
          ++t->accepted;
          metrics.count_event(event_outcome::accepted);
        } else {
          ++t->duplicates;
          metrics.count_event(event_outcome::duplicate);
        }
        if (--t->pending == 0)
          finish();
      },
      [this, &metrics, t, finish, rid = h.id()](caf::error& err) {
        deadlines_.settle(rid);
        auto code = messages::errc_of(err);
        // Not ours (foreign key or unknown job): acknowledged, counted.
        if (err.category() == messages::errc_category
            && (code == errc::not_found || code == errc::invalid_argument
                || code == errc::conflict)) {
          ++t->rejected;
          metrics.count_event(event_outcome::rejected);
        } else {
          metrics.count_event(event_outcome::error);
          if (!t->failure)
            t->failure = std::move(err);
        }
        if (--t->pending == 0)
          finish();
      });
  }
}

void router::metrics(const std::shared_ptr<exchange>& ex) {
  // Gauges are refreshed on scrape; a silent actor must not stall the
  // scrape for long, and one failing still leaves the rest.
  constexpr auto scrape_timeout = std::chrono::seconds{2};
  auto pending = std::make_shared<int>(3);
  auto& metrics = state_.metrics;
  std::weak_ptr<exchange> weak = ex;
  auto finish = [&metrics, weak, pending] {
    if (--*pending > 0)
      return;
    auto ex = weak.lock();
    if (!ex)
      return;
    http_response res;
    res.body = metrics.serialize();
    res.content_type = "text/plain; version=0.0.4; charset=utf-8";
    ex->respond(std::move(res));
  };
  auto self = bridge_.self();
  if (state_.handles.registry)
    self->request(state_.handles.registry, scrape_timeout, atoms::counts_v)
      .then(
        [&metrics, finish](messages::status_counts& counts) {
          metrics.set_job_counts(counts);
          finish();
        },
        [finish](caf::error&) { finish(); });
  else
    finish();
  if (state_.handles.dispatcher)
    self->request(state_.handles.dispatcher, scrape_timeout, atoms::stats_v)
      .then(
        [&metrics, finish](messages::dispatcher_stats& stats) {
          metrics.set_dispatcher_stats(stats);
          finish();
        },
        [finish](caf::error&) { finish(); });
  else
    finish();
  if (state_.handles.cluster)
    self->request(state_.handles.cluster, scrape_timeout, atoms::nodes_v)
      .then(
        [&metrics, finish](std::vector<messages::cluster_node>& nodes) {
          metrics.set_cluster_nodes(nodes);
          finish();
        },
        [finish](caf::error&) { finish(); });
  else
    finish();
}

void router::readyz(const std::shared_ptr<exchange>& ex) {
  // Readiness: can this node take new work? Storage is checked here (cheap
  // and synchronous, see api_config::check_storage); the database by one
  // short request, so a wedged store makes the node not ready instead of
  // stalling the probe.
  constexpr auto db_timeout = std::chrono::seconds{2};
  storage_status storage;
  if (state_.config.check_storage)
    storage = state_.config.check_storage();
  std::weak_ptr<exchange> weak = ex;
  auto finish = [weak, storage](bool db_ok, std::string db_detail) {
    auto ex = weak.lock();
    if (!ex)
      return;
    auto check = [](std::string& out, bool ok, const std::string& detail) {
      out += ok ? R"({"ok":true,"detail":)" : R"({"ok":false,"detail":)";
      append_json_string(out, detail);
      out += '}';
    };
    std::string checks = R"({"storage":)";
    check(checks, storage.ok, storage.detail);
    checks += R"(,"database":)";
    check(checks, db_ok, db_detail);
    checks += '}';
    if (storage.ok && db_ok) {
      ex->respond(make_response(200, R"({"status":"ready","checks":)" + checks
                                       + "}"));
      return;
    }
    std::string detail;
    if (!storage.ok)
      detail = "storage: " + storage.detail;
    if (!db_ok) {
      if (!detail.empty())
        detail += "; ";
      detail += "database: " + db_detail;
    }
    std::string out = R"({"status":"not_ready","code":"not_ready","detail":)";
    append_json_string(out, detail);
    out += R"(,"checks":)";
    out += checks;
    out += '}';
    auto res = make_response(503, std::move(out));
    res.retry_after = 5;
    ex->respond(std::move(res));
  };
  if (!state_.handles.registry) {
    finish(false, "no job registry");
    return;
  }
  bridge_.self()
    ->request(state_.handles.registry, db_timeout, atoms::counts_v)
    .then([finish](messages::status_counts&) { finish(true, {}); },
          [finish](caf::error& err) {
            finish(false, "the job store did not answer: "
                            + messages::message_of(err));
          });
}

void router::get_attempts(const std::shared_ptr<exchange>& ex,
                          std::string_view id) {
  // Looks the job up first: the ledger does not know owners.
  with_visible_job(ex, id, [this](const std::shared_ptr<exchange>& ex,
                                  messages::job& j) {
    std::weak_ptr<exchange> weak = ex;
    auto h2 = ask(state_.handles.registry, atoms::attempts_v, j.id);
    h2.then(
      [this, weak, rid2 = h2.id(),
       jid = j.id](std::vector<messages::attempt_record>& items) {
        deadlines_.settle(rid2);
        auto ex = weak.lock();
        if (!ex)
          return;
        std::string out;
        out.reserve(64 + items.size() * 512);
        out += R"({"job_id":)";
        append_json_string(out, jid);
        out += R"(,"items":[)";
        for (size_t i = 0; i < items.size(); ++i) {
          if (i > 0)
            out += ',';
          append_attempt_json(out, items[i]);
        }
        out += "]}";
        ex->respond(make_response(200, std::move(out)));
      },
      [this, weak, rid2 = h2.id(), jid = j.id](caf::error& err) {
        deadlines_.settle(rid2);
        if (auto ex = weak.lock())
          ex->respond(messages::errc_of(err) == errc::not_found
                        ? not_found_job(jid)
                        : from_error(state_, err));
      });
  });
}

void router::dlq_list(const std::shared_ptr<exchange>& ex) {
  if (!authorize_admin(*ex))
    return;
  auto query = ex->request().query;
  int64_t since = 0;
  uint32_t limit = 50;
  if (auto str = query_param(query, "since")) {
    // 15 digits of Unix milliseconds reach the year 33658.
    auto value = parse_decimal(*str, 15);
    if (!value) {
      ex->respond(error_response(422, "invalid_argument",
                                 "since must be Unix milliseconds (a "
                                 "non-negative integer)"));
      return;
    }
    since = static_cast<int64_t>(*value);
  }
  if (auto str = query_param(query, "limit")) {
    auto value = parse_decimal(*str, 3);
    if (!value || *value < 1 || *value > 200) {
      ex->respond(error_response(422, "invalid_argument",
                                 "limit must be an integer between 1 and "
                                 "200"));
      return;
    }
    limit = static_cast<uint32_t>(*value);
  }
  std::weak_ptr<exchange> weak = ex;
  auto h = ask(state_.handles.registry, atoms::dlq_list_v, since, limit);
  h.then(
    [this, weak, rid = h.id()](std::vector<messages::dead_letter>& items) {
      deadlines_.settle(rid);
      auto ex = weak.lock();
      if (!ex)
        return;
      std::string out;
      out.reserve(16 + items.size() * 1024);
      out += R"({"items":[)";
      for (size_t i = 0; i < items.size(); ++i) {
        if (i > 0)
          out += ',';
        append_dead_letter_json(out, items[i]);
      }
      out += "]}";
      ex->respond(make_response(200, std::move(out)));
    },
    [this, weak, rid = h.id()](caf::error& err) {
      deadlines_.settle(rid);
      if (auto ex = weak.lock())
        ex->respond(from_error(state_, err));
    });
}

namespace {

http_response no_dead_letter(std::string_view id) {
  std::string detail = "no dead letter for job '";
  detail.append(id.substr(0, 128));
  detail += "'; GET /dlq lists them";
  return error_response(404, "not_found", detail);
}

} // namespace

void router::dlq_get(const std::shared_ptr<exchange>& ex, std::string_view id) {
  if (!authorize_admin(*ex))
    return;
  std::weak_ptr<exchange> weak = ex;
  auto h = ask(state_.handles.registry, atoms::dlq_get_v, std::string{id});
  h.then(
    [this, weak, rid = h.id()](messages::dead_letter& x) {
      deadlines_.settle(rid);
      auto ex = weak.lock();
      if (!ex)
        return;
      std::string out;
      out.reserve(1024);
      append_dead_letter_json(out, x);
      ex->respond(make_response(200, std::move(out)));
    },
    [this, weak, rid = h.id(), sid = std::string{id}](caf::error& err) {
      deadlines_.settle(rid);
      if (auto ex = weak.lock())
        ex->respond(messages::errc_of(err) == errc::not_found
                      ? no_dead_letter(sid)
                      : from_error(state_, err));
    });
}

void router::dlq_remove(const std::shared_ptr<exchange>& ex,
                        std::string_view id) {
  if (!authorize_admin(*ex))
    return;
  std::weak_ptr<exchange> weak = ex;
  auto h = ask(state_.handles.registry, atoms::dlq_remove_v, std::string{id});
  h.then(
    [this, weak, rid = h.id(), sid = std::string{id}](bool removed) {
      deadlines_.settle(rid);
      auto ex = weak.lock();
      if (!ex)
        return;
      std::string out = R"({"job_id":)";
      append_json_string(out, sid);
      out += R"(,"removed":)";
      out += removed ? "true" : "false";
      out += '}';
      ex->respond(make_response(200, std::move(out)));
    },
    [this, weak, rid = h.id(), sid = std::string{id}](caf::error& err) {
      deadlines_.settle(rid);
      if (auto ex = weak.lock())
        ex->respond(messages::errc_of(err) == errc::not_found
                      ? no_dead_letter(sid)
                      : from_error(state_, err));
    });
}

namespace {

http_response no_analyzer() {
  return error_response(503, "storage_unavailable",
                        "the DLQ analyzer is not running on this node");
}

} // namespace

void router::dlq_report(const std::shared_ptr<exchange>& ex) {
  if (!authorize_admin(*ex))
    return;
  int64_t window_ms = 0;
  if (auto str = query_param(ex->request().query, "window_s")) {
    // 12 digits of seconds: 31,000 years, and no overflow in milliseconds.
    auto value = parse_decimal(*str, 12);
    if (!value) {
      ex->respond(error_response(422, "invalid_argument",
                                 "window_s must be a non-negative integer "
                                 "(seconds; 0 means all records)"));
      return;
    }
    window_ms = static_cast<int64_t>(*value) * 1000;
  }
  if (!state_.handles.analyzer) {
    ex->respond(no_analyzer());
    return;
  }
  std::weak_ptr<exchange> weak = ex;
  auto h = ask(state_.handles.analyzer, atoms::analyze_v, window_ms);
  h.then(
    [this, weak, rid = h.id()](messages::incident_report& report) {
      deadlines_.settle(rid);
      if (auto ex = weak.lock())
        ex->respond(make_response(200, incident_report_json(report)));
    },
    [this, weak, rid = h.id()](caf::error& err) {
      deadlines_.settle(rid);
      if (auto ex = weak.lock())
        ex->respond(from_error(state_, err));
    });
}

void router::cluster_nodes(const std::shared_ptr<exchange>& ex) {
  if (!authorize_admin(*ex))
    return;
  if (!state_.handles.cluster) {
    ex->respond(error_response(503, "storage_unavailable",
                               "the cluster registry is not running on this "
                               "node"));
    return;
  }
  std::weak_ptr<exchange> weak = ex;
  auto h = ask(state_.handles.cluster, atoms::nodes_v);
  h.then(
    [this, weak, rid = h.id()](std::vector<messages::cluster_node>& xs) {
      deadlines_.settle(rid);
      if (auto ex = weak.lock())
        ex->respond(make_response(200, cluster_nodes_json(xs)));
    },
    [this, weak, rid = h.id()](caf::error& err) {
      deadlines_.settle(rid);
      if (auto ex = weak.lock())
        ex->respond(from_error(state_, err));
    });
}

void router::dlq_redrive(const std::shared_ptr<exchange>& ex) {
  if (!authorize_admin(*ex))
    return;
  auto body = parse_object(*ex);
  if (!body)
    return;
  bool bad = false;
  auto job_id = string_member(*body, "job_id", bad);
  auto category = string_member(*body, "category", bad);
  if (bad || (job_id == nullptr) == (category == nullptr)
      || (job_id != nullptr && job_id->empty())
      || (category != nullptr && category->empty())) {
    ex->respond(error_response(422, "invalid_argument",
                               "send exactly one of job_id or category, as "
                               "a non-empty string"));
    return;
  }
  std::weak_ptr<exchange> weak = ex;
  if (job_id != nullptr) {
    auto h = ask(state_.handles.orchestrator, atoms::redrive_v, *job_id);
    h.then(
      [this, weak, rid = h.id()](messages::job& j) {
        deadlines_.settle(rid);
        if (auto ex = weak.lock())
          ex->respond(make_response(200, job_json(j)));
      },
      [this, weak, rid = h.id(), jid = *job_id](caf::error& err) {
        deadlines_.settle(rid);
        auto ex = weak.lock();
        if (!ex)
          return;
        auto code = messages::errc_of(err);
        if (code == errc::not_found)
          ex->respond(not_found_job(jid));
        else if (code == errc::conflict || code == errc::duplicate)
          ex->respond(error_response(
            409, "conflict",
            detail_of(err, "job '" + jid.substr(0, 128)
                             + "' has no open dead letter: it is not FAILED "
                               "or was redriven already")));
        else
          ex->respond(from_error(state_, err));
      });
    return;
  }
  if (!state_.handles.analyzer) {
    ex->respond(no_analyzer());
    return;
  }
  auto h = ask(state_.handles.analyzer, atoms::redrive_v, *category);
  h.then(
    [this, weak, rid = h.id(), name = *category](uint64_t n) {
      deadlines_.settle(rid);
      auto ex = weak.lock();
      if (!ex)
        return;
      std::string out = R"({"category":)";
      append_json_string(out, name);
      out += R"(,"redriven":)";
      out += std::to_string(n);
      out += '}';
      ex->respond(make_response(200, std::move(out)));
    },
    [this, weak, rid = h.id()](caf::error& err) {
      deadlines_.settle(rid);
      if (auto ex = weak.lock())
        ex->respond(from_error(state_, err));
    });
}

} // namespace vf::adapters::http
