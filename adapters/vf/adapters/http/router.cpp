// vf/adapters/http/router.cpp

#include "vf/adapters/http/router.hpp"

#include <nlohmann/json.hpp>

#include "caf/event_based_actor.hpp"
#include "caf/send.hpp"

#include "vf/adapters/common/digest.hpp"
#include "vf/adapters/http/password_hash.hpp"
#include "vf/adapters/http/request_parse.hpp"
#include "vf/adapters/http/routes.hpp"
#include "vf/messages/errc.hpp"

#include <memory>
#include <string>
#include <utility>

namespace vf::adapters::http {

std::vector<route_entry> api_routes(const api_config& cfg) {
  std::vector<route_entry> result;
  if (cfg.intake_only) {
    for (auto part : {webhook_routes(cfg), ops_routes()})
      result.insert(result.end(), part.begin(), part.end());
    return result;
  }
  for (auto part :
       {auth_routes(), job_routes(), event_routes(), library_routes(),
        composition_routes(), multipart_routes(), dead_letter_routes(), admin_routes(),
        cluster_routes(), webhook_routes(cfg), ops_routes()})
    result.insert(result.end(), part.begin(), part.end());
  return result;
}

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

// The API's own store calls, `(op, bucket, key, arg)` → text, off the I/O
// thread (they block on HTTP): `start` (arg: content type) → upload id,
// `complete` (arg: `{"upload_id", "parts": [[n, etag], ...]}`) → ETag,
// `abort` (arg: upload id) → "".
// Keeps its own copies of the calls: a call in progress may outlive the
// server's state.
struct store_calls_cfg {
  decltype(api_config::multipart_start) multipart_start;
  decltype(api_config::multipart_complete) multipart_complete;
  decltype(api_config::multipart_abort) multipart_abort;
};

caf::behavior store_caller(caf::event_based_actor*,
                           std::shared_ptr<const store_calls_cfg> cfg) {
  return {
    [cfg](const std::string& op, const std::string& bucket,
          const std::string& key,
          const std::string& arg) -> caf::result<std::string> {
      try {
        if (op == "start" && cfg->multipart_start) {
          auto id = cfg->multipart_start(bucket, key, arg);
          if (!id)
            return std::move(id.error());
          return std::move(*id);
        }
        if (op == "complete" && cfg->multipart_complete) {
          auto doc = nlohmann::json::parse(arg);
          std::vector<std::pair<uint32_t, std::string>> parts;
          for (auto& p : doc.at("parts"))
            parts.emplace_back(p.at(0).get<uint32_t>(),
                               p.at(1).get<std::string>());
          auto etag = cfg->multipart_complete(
            bucket, key, doc.at("upload_id").get<std::string>(), parts);
          if (!etag)
            return std::move(etag.error());
          return std::move(*etag);
        }
        if (op == "abort" && cfg->multipart_abort) {
          if (auto err = cfg->multipart_abort(bucket, key, arg))
            return err;
          return std::string{};
        }
      } catch (const std::exception& ex) {
        return messages::make_error(messages::errc::internal,
                                    std::string{"store call threw: "}
                                      + ex.what());
      }
      return messages::make_error(messages::errc::internal,
                                  "no store call '" + op + "'");
    },
  };
}

} // namespace

router::router(const api_state& state, common::asio_bridge& bridge,
               boost::asio::io_context& ioc)
  : io_(state, bridge, ioc), routes_(api_routes(state.config)) {
  auto& sys = bridge.self()->system();
  io_.kdf = sys.spawn<caf::detached>(password_checker);
  if (state.config.multipart_start)
    io_.store_calls = sys.spawn<caf::detached>(
      store_caller, std::make_shared<const store_calls_cfg>(store_calls_cfg{
                      state.config.multipart_start,
                      state.config.multipart_complete,
                      state.config.multipart_abort}));
}

router::~router() {
  caf::anon_send_exit(io_.kdf, caf::exit_reason::user_shutdown);
  if (io_.store_calls)
    caf::anon_send_exit(io_.store_calls, caf::exit_reason::user_shutdown);
}

void router::handle(const std::shared_ptr<exchange>& ex) {
  auto& req = ex->request();
  // The web app first: `/` and `/admin` are no API routes. Not on nodes
  // that serve only intake.
  if ((req.method == http_method::get || req.method == http_method::head)
      && !io_.state.config.intake_only) {
    http_response page;
    if (io_.state.web.answer(req.path, page)) {
      ex->set_route(route::web);
      if (admit(*ex))
        ex->respond(std::move(page));
      return;
    }
  }
  std::string_view param;
  std::string_view param2;
  auto res = routes_.match(req.path, param, param2);
  ex->set_route(res ? res->label : route::unmatched);
  // Before anything else, unknown routes included: a flood of 404s is a
  // flood too. Monitoring must never be throttled.
  if (!(res && res->unlimited) && !admit(*ex))
    return;
  if (res == nullptr) {
    std::string detail = "no route for '";
    detail.append(req.path.substr(0, 200));
    detail += "'; see the API documentation for the routes";
    ex->respond(error_response(404, "not_found", detail));
    return;
  }
  auto m = static_cast<size_t>(req.method);
  auto handler = res->handlers[m];
  if (handler == nullptr) {
    std::string detail = "method not allowed on ";
    detail += res->pattern;
    detail += "; use ";
    detail += res->allow;
    auto err = error_response(405, "method_not_allowed", detail);
    err.allow = res->allow;
    ex->respond(std::move(err));
    return;
  }
  call c{io_, ex, param, param2};
  // Handlers may throw (allocation, nlohmann type errors we did not
  // foresee); a request must never take the server down.
  c.guard([&] {
    auto needs = res->who[m];
    if (needs == access::user || needs == access::admin) {
      auto who = needs == access::admin ? authorize_admin(c) : authenticate(c);
      if (!who)
        return;
      c.who() = std::move(*who);
    }
    handler(c);
  });
}

bool router::admit(exchange& ex) {
  auto& limiter = io_.state.limiter;
  if (!limiter.enabled())
    return true;
  auto& req = ex.request();
  auto& steady_now = io_.state.config.steady_now;
  auto wait = limiter.acquire(
    req.client, steady_now ? steady_now() : rate_limiter::clock::now());
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

std::optional<jwt_claims> router::authorize_admin(call& c) {
  auto who = authenticate(c);
  if (!who)
    return std::nullopt;
  if (who->role != "admin") {
    c.error(403, "forbidden",
            "this route needs an admin account; '" + who->sub.substr(0, 128)
              + "' has role '" + who->role.substr(0, 32) + "'");
    return std::nullopt;
  }
  return who;
}

std::optional<jwt_claims> router::authenticate(call& c) {
  auto header = c.request().authorization;
  if (header.empty()) {
    c.send(unauthorized("missing bearer token: send 'Authorization: Bearer "
                        "<access_token>' (get one from POST /auth/login)"));
    return std::nullopt;
  }
  auto token = bearer_token(header);
  if (token.empty()) {
    c.send(unauthorized("the Authorization header must be 'Bearer "
                        "<access_token>'"));
    return std::nullopt;
  }
  auto& state = io_.state;
  auto now = state.now();
  auto claims = io_.jwt.verify(token, now);
  if (!claims) {
    c.send(unauthorized(messages::message_of(claims.error())));
    return std::nullopt;
  }
  // A valid signature only proves what was true at login: the account must
  // still exist, unchanged since, and its role is what it is now.
  auto account = state.users->find(claims->sub, now);
  if (!account) {
    c.send(unauthorized("the account of this token no longer exists; log in "
                        "again via POST /auth/login"));
    return std::nullopt;
  }
  if (claims->gen.empty()
      || !common::constant_time_equal(claims->gen, account->epoch)) {
    c.send(unauthorized("this token was revoked (the account's password or "
                        "role changed); log in again via POST /auth/login"));
    return std::nullopt;
  }
  claims->role = account->role;
  return std::move(*claims);
}

} // namespace vf::adapters::http
