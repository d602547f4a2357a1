// vf/adapters/http/routes_auth.cpp
//
// POST /auth/login: a password for a bearer token.

#include "vf/adapters/http/call.hpp"
#include "vf/adapters/http/json_views.hpp"
#include "vf/adapters/http/request_parse.hpp"
#include "vf/adapters/http/routes.hpp"

#include <nlohmann/json.hpp>

#include <string>

namespace vf::adapters::http {

namespace {

// Answers a login once the KDF checked the password.
void logged_in(reply& r, bool ok, const std::optional<user_account>& account,
               const std::string& user, const client_address& client) {
  auto& state = r.state();
  if (!ok || !account) {
    state.throttle.failed(user, client, state.now());
    r.error(401, "unauthorized", "wrong username or password");
    return;
  }
  state.throttle.succeeded(user);
  jwt_claims claims;
  claims.sub = account->name;
  claims.role = account->role;
  claims.iat = state.now();
  claims.exp = claims.iat + state.config.token_ttl;
  claims.gen = account->epoch;
  auto token = r.services().jwt.sign(claims);
  std::string out;
  out.reserve(token.size() + 80);
  out += R"({"access_token":)";
  append_json_string(out, token);
  out += R"(,"token_type":"bearer","expires_in":)";
  out += std::to_string(state.config.token_ttl);
  out += '}';
  r.send(200, std::move(out));
}

void login(call& c) {
  auto body = parse_strings(c, "username", "password");
  if (!body)
    return;
  if (body->bad() || body->first == nullptr || body->second == nullptr) {
    c.error(422, "invalid_argument",
            "username and password are required and must be strings");
    return;
  }
  auto name = body->first;
  auto password = body->second;
  auto& state = c.state();
  auto client = c.request().client;
  if (auto wait = state.throttle.check(*name, client, state.now())) {
    c.error(429, "rate_limited",
            "too many failed logins for this name or from this client; "
            "retry after "
              + std::to_string(wait) + " s",
            wait);
    return;
  }
  // Unknown names are checked against another account's hash (same cost)
  // and refused whatever the outcome, so timing does not reveal which names
  // exist.
  auto account = state.users->find(*name, state.now());
  auto encoded
    = account ? account->password_hash : state.users->sample_hash(state.now());
  // Each check takes tens of milliseconds; beyond this many waiting, the
  // newest would only time out anyway.
  constexpr size_t max_pending_checks = 32;
  auto& io = c.services();
  if (io.kdf_pending >= max_pending_checks) {
    c.error(503, "busy", "too many logins in progress; retry in a second", 1);
    return;
  }
  ++io.kdf_pending;
  // Always runs: the pending count must drop even if the client left.
  c.ask(io.kdf, *password, std::move(encoded))
    .then_always(
      [account = std::move(account), client, user = *name](reply& r, bool ok) {
        --r.services().kdf_pending;
        if (!r.gone()) {
          logged_in(r, ok, account, user, client);
        } else if (!ok || !account) {
          // Counted even when nobody is left to answer: a guesser who
          // hangs up before the check ends must not escape the throttle.
          auto& state = r.state();
          state.throttle.failed(user, client, state.now());
        }
      },
      [](reply& r, caf::error& err) {
        --r.services().kdf_pending;
        r.fail(err);
      });
}

// The secret the caller's callbacks are signed with: each user has their
// own (derived from the node's), so one user can verify only their own.
void webhook_secret(call& c) {
  auto& secret = c.state().config.callback_secret;
  if (!secret) {
    c.error(404, "not_found", "this node sends no callbacks");
    return;
  }
  nlohmann::json doc{{"secret", secret(c.who().sub)},
                     {"signature_header", "X-Vidflow-Signature"},
                     {"scheme", "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "
                                "t + \".\" + body)>"}};
  auto res = make_response(200, doc.dump());
  c.send(std::move(res));
}

} // namespace

std::vector<route_entry> auth_routes() {
  return {
    {http_method::post, "/auth/login", access::open, login},
    {http_method::get, "/webhooks/secret", access::user, webhook_secret},
  };
}

} // namespace vf::adapters::http
