// vf/adapters/http/routes_jobs.cpp
//
// Jobs of the caller: create one, read it, its result and attempts, cancel
// it, list the caller's history.

#include "vf/adapters/http/call.hpp"
#include "vf/adapters/http/json_views.hpp"
#include "vf/adapters/http/request_parse.hpp"
#include "vf/adapters/http/routes.hpp"
#include "vf/messages/atoms.hpp"
#include "vf/messages/errc.hpp"

#include <algorithm>
#include <string>

namespace vf::adapters::http {

namespace {

using messages::errc;

bool may_see(const jwt_claims& who, const messages::job& x) {
  return who.role == "admin" || x.owner == who.sub;
}

// Looks up the job of the path and checks the caller may see it; answers
// 404/503 itself, else calls `then(reply&, job&)`.
template <class Then>
void with_visible_job(call& c, Then then) {
  std::string id{c.param()};
  c.ask(c.state().handles.registry, atoms::get_v, id)
    .then(
      [who = std::move(c.who()),
       then = std::move(then)](reply& r, messages::job& j) mutable {
        // Someone else's job does not exist as far as this caller knows.
        if (!may_see(who, j)) {
          r.send(not_found_job(j.id));
          return;
        }
        then(r, j);
      },
      [id](reply& r, caf::error& err) { r.fail(err, not_found_job(id)); });
}

// Answers `POST /jobs` with the new job and the URL to upload it to.
void job_created(reply& r, messages::job& j) {
  auto& cfg = r.state().config;
  std::string url;
  try {
    url = cfg.presign_upload(j);
  } catch (...) {
    if (cfg.log)
      cfg.log("http: ERROR presign_upload threw for job " + j.id);
    r.error(500, "internal", "could not presign the upload URL");
    return;
  }
  std::string out;
  out.reserve(160 + j.id.size() + j.bucket.size() + j.key.size() + url.size());
  out += R"({"job_id":)";
  append_json_string(out, j.id);
  out += R"(,"s3_bucket":)";
  append_json_string(out, j.bucket);
  out += R"(,"s3_key":)";
  append_json_string(out, j.key);
  out += R"(,"upload_url":)";
  append_json_string(out, url);
  out += R"(,"expires_in":)";
  out += std::to_string(cfg.presign_expires);
  out += '}';
  r.send(201, std::move(out));
}

// Answers 507 and returns true when the disk cannot take new uploads: an
// upload it cannot hold would be acknowledged to nobody's benefit.
bool storage_full(call& c) {
  auto& check = c.state().config.check_storage;
  if (!check)
    return false;
  auto st = check();
  if (st.ok)
    return false;
  c.error(507, "insufficient_storage",
          "the server cannot store new uploads now (" + st.detail
            + "); retry later, existing jobs are unaffected",
          60);
  return true;
}

bool has_control_chars(const std::string& x) {
  return std::any_of(x.begin(), x.end(), [](char ch) {
    auto u = static_cast<unsigned char>(ch);
    return u < 0x20 || u == 0x7f;
  });
}

void create_job(call& c) {
  auto body = parse_strings(c, "filename", "content_type");
  if (!body)
    return;
  auto filename = body->first;
  if (body->first_bad || filename == nullptr) {
    c.error(422, "invalid_argument",
            "filename is required and must be a string");
    return;
  }
  auto content_type = body->second;
  if (body->second_bad) {
    c.error(422, "invalid_argument", "content_type must be a string");
    return;
  }
  // A content type may end up in a header (the object's Content-Type):
  // control characters there would split it.
  if (content_type != nullptr && has_control_chars(*content_type)) {
    c.error(422, "invalid_argument",
            "content_type must not contain control characters");
    return;
  }
  if (storage_full(c))
    return;
  messages::job_request req{std::move(c.who().sub), *filename,
                            content_type ? *content_type : std::string{}};
  c.ask(c.state().handles.registry, atoms::create_v, std::move(req))
    .then(job_created);
}

void get_job(call& c) {
  with_visible_job(
    c, [](reply& r, messages::job& j) { r.send(200, job_json(j)); });
}

void get_result(call& c) {
  // Looks the job up first: for the owner check and for the status a 409
  // names.
  with_visible_job(c, [](reply& r, messages::job& j) {
    r.ask(r.state().handles.registry, atoms::get_result_v, j.id)
      .then(
        [](reply& r, messages::job_result& x) {
          std::string out;
          out.reserve(128 + x.metadata.size() + x.summary.size());
          out += R"({"job_id":)";
          append_json_string(out, x.job_id);
          out += R"(,"metadata":)";
          // Stored as JSON text: splice it in once it proved valid.
          if (!x.metadata.empty() && nlohmann::json::accept(x.metadata))
            out += x.metadata;
          else
            out += "null";
          out += R"(,"summary":)";
          append_json_string(out, x.summary);
          out += R"(,"created_at":)";
          append_iso8601(out, x.created_at);
          out += '}';
          r.send(200, std::move(out));
        },
        [status = messages::to_string(j.status), jid = j.id](reply& r,
                                                             caf::error& err) {
          if (messages::errc_of(err) == errc::conflict)
            r.error(409, "conflict",
                    "job is not finished yet (status " + status
                      + "); poll GET /jobs/{id} until it is SUCCEEDED");
          else
            r.fail(err, not_found_job(jid));
        });
  });
}

void cancel_job(call& c) {
  // Looks the job up first: the orchestrator does not know owners.
  with_visible_job(c, [](reply& r, messages::job& j) {
    r.ask(r.state().handles.orchestrator, atoms::cancel_v, j.id)
      .then([](reply& r,
               messages::job& cancelled) { r.send(200, job_json(cancelled)); },
            [jid = j.id, status = messages::to_string(j.status)](
              reply& r, caf::error& err) {
              if (messages::errc_of(err) == errc::conflict)
                r.error(409, "conflict",
                        detail_of(err, "job is already " + status
                                         + " and cannot be cancelled"));
              else
                r.fail(err, not_found_job(jid));
            });
  });
}

void get_attempts(call& c) {
  // Looks the job up first: the ledger does not know owners.
  with_visible_job(c, [](reply& r, messages::job& j) {
    r.ask(r.state().handles.registry, atoms::attempts_v, j.id)
      .then(
        [jid = j.id](reply& r, std::vector<messages::attempt_record>& items) {
          std::string out;
          out.reserve(64 + items.size() * 512);
          out += R"({"job_id":)";
          append_json_string(out, jid);
          out += R"(,"items":)";
          append_json_array(out, items, append_attempt_json);
          out += '}';
          r.send(200, std::move(out));
        },
        [jid = j.id](reply& r, caf::error& err) {
          r.fail(err, not_found_job(jid));
        });
  });
}

void history(call& c) {
  uint32_t limit = 20;
  if (!query_limit(c, 4, limit))
    return;
  // The store filters by owner (admins see everyone's): a filter here,
  // after the limit, let other users' new jobs empty a user's page.
  auto& who = c.who();
  std::string owner = who.role == "admin" ? std::string{} : who.sub;
  c.ask(c.state().handles.registry, atoms::history_v, std::move(owner), limit)
    .then([who = std::move(who)](reply& r, std::vector<messages::job>& jobs) {
      // Already filtered by the store; checked again on the way out.
      jobs.erase(std::remove_if(
                   jobs.begin(), jobs.end(),
                   [&](const messages::job& j) { return !may_see(who, j); }),
                 jobs.end());
      r.send(200, json_items(jobs, append_job_json, 512));
    });
}

} // namespace

std::vector<route_entry> job_routes() {
  using m = http_method;
  return {{m::post, "/jobs", access::user, create_job},
          {m::get, "/jobs/{id}", access::user, get_job},
          {m::get, "/jobs/{id}/result", access::user, get_result},
          {m::post, "/jobs/{id}/cancel", access::user, cancel_job},
          {m::get, "/jobs/{id}/attempts", access::user, get_attempts},
          {m::get, "/history", access::user, history}};
}

} // namespace vf::adapters::http
