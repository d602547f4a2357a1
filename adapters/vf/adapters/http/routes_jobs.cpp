// vf/adapters/http/routes_jobs.cpp
//
// Jobs of the caller: create one, read it, its result and attempts, cancel
// it, list the caller's history.

#include "vf/adapters/common/digest.hpp"
#include "vf/adapters/common/hex.hpp"
#include "vf/adapters/http/call.hpp"
#include "vf/adapters/http/job_access.hpp"
#include "vf/adapters/http/job_progress.hpp"
#include "vf/adapters/http/json_views.hpp"
#include "vf/adapters/http/outputs_view.hpp"
#include "vf/adapters/http/recipe.hpp"
#include "vf/adapters/http/request_parse.hpp"
#include "vf/adapters/http/routes.hpp"
#include "vf/messages/atoms.hpp"
#include "vf/messages/errc.hpp"

#include <algorithm>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

namespace vf::adapters::http {

namespace {

using messages::errc;

// The job whose outputs the stored list was copied from (content reuse),
// or empty.
std::string reused_from_of(const std::string& stored) {
  auto doc = nlohmann::json::parse(stored, nullptr, false);
  if (!doc.is_object())
    return {};
  auto i = doc.find("reused_from");
  return i != doc.end() && i->is_string() ? i->get<std::string>()
                                          : std::string{};
}

// Answers 503 when a presigner has no keys now (temporary credentials that
// fail to refresh): a URL signed with nothing would only fail later.
void no_store_keys(reply& r, const char* what) {
  r.error(503, "storage_unavailable",
          std::string{"cannot presign the "} + what
            + " URL now (no store credentials); try again shortly",
          5);
}

// Answers `POST /jobs` with the job and the URL to upload it to: 201 for a
// new job, 200 for the one an earlier request with the same Idempotency-Key
// made.
void send_job(reply& r, messages::job& j, unsigned status) {
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
  if (url.empty()) {
    // The job exists; the same Idempotency-Key gets it back.
    no_store_keys(r, "upload");
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
  r.send(status, std::move(out));
}

void job_created(reply& r, messages::job& j) {
  send_job(r, j, 201);
}

// Returns why `key` is not a usable Idempotency-Key, or nullopt.
std::optional<std::string> check_idempotency_key(std::string_view key) {
  if (key.empty() || key.size() > 255)
    return "Idempotency-Key must be 1 to 255 characters";
  for (unsigned char ch : key)
    if (ch < 0x21 || ch > 0x7e)
      return "Idempotency-Key must be printable ASCII without spaces (a "
             "UUID is a good key)";
  return std::nullopt;
}

// Hex SHA-256 of what a POST /jobs asks for, as parsed (so spacing and the
// order of fields do not matter, but every value does).
std::string request_hash(const std::string& filename,
                         const std::string* content_type, int32_t priority,
                         const std::string* outputs,
                         const std::string& callback_url) {
  nlohmann::json doc = {
    {"filename", filename},
    {"content_type",
     content_type ? nlohmann::json(*content_type) : nlohmann::json(nullptr)},
    {"priority", priority},
    {"outputs", outputs ? nlohmann::json(*outputs) : nlohmann::json(nullptr)}};
  // Only when given: keys made before callbacks existed hash as they did.
  if (!callback_url.empty())
    doc["callback_url"] = callback_url;
  auto digest = common::sha256(doc.dump());
  std::string hex;
  common::append_hex(hex, digest.data(), digest.size());
  return hex;
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
  auto& req = c.request();
  if (req.idempotency_keys > 1) {
    c.error(422, "invalid_argument",
            "send one Idempotency-Key header, not "
              + std::to_string(req.idempotency_keys));
    return;
  }
  std::string idem_key{req.idempotency_key};
  if (req.idempotency_keys == 1)
    if (auto why = check_idempotency_key(idem_key)) {
      c.error(422, "invalid_argument", *why);
      return;
    }
  auto body = parse_strings(c, "filename", "content_type");
  if (!body)
    return;
  for (auto& [k, v] : body->body.items()) {
    (void) v;
    if (k != "filename" && k != "content_type" && k != "priority"
        && k != "outputs" && k != "callback_url") {
      c.error(422, "invalid_argument",
              "unknown field '" + k.substr(0, 64)
                + "' (known: filename, content_type, priority, outputs, "
                  "callback_url)");
      return;
    }
  }
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
  int32_t priority = messages::priority_default;
  if (auto p = body->body.find("priority"); p != body->body.end()) {
    if (!p->is_string()
        || !messages::priority_from_name(p->get<std::string>(), priority)) {
      c.error(422, "invalid_argument",
              "priority must be \"high\", \"default\" or \"low\"");
      return;
    }
  }
  std::string outputs = c.state().config.default_outputs;
  std::optional<std::string> asked_outputs;
  // `"outputs": null` reads as no field at all (the default recipe), as it
  // does for content_type.
  if (auto o = body->body.find("outputs");
      o != body->body.end() && !o->is_null()) {
    auto check = canonical_recipe(*o);
    if (!check.error.empty()) {
      c.error(422, "invalid_argument", check.error);
      return;
    }
    outputs = std::move(check.canonical);
    asked_outputs = outputs;
  }
  std::string callback_url;
  if (auto cb = body->body.find("callback_url");
      cb != body->body.end() && !cb->is_null()) {
    auto& check = c.state().config.check_callback;
    if (!check) {
      c.error(422, "invalid_argument",
              "callback_url: this node sends no callbacks");
      return;
    }
    if (!cb->is_string()) {
      c.error(422, "invalid_argument", "callback_url must be a string");
      return;
    }
    callback_url = cb->get<std::string>();
    if (auto why = check(callback_url)) {
      c.error(422, "invalid_argument", "callback_url: " + *why);
      return;
    }
  }
  if (storage_full(c))
    return;
  messages::job_request jr;
  jr.owner = std::move(c.who().sub);
  jr.filename = *filename;
  jr.content_type = content_type ? *content_type : std::string{};
  jr.priority = priority;
  jr.outputs = std::move(outputs);
  jr.callback_url = callback_url;
  jr.request_id = std::string{req.request_id};
  if (idem_key.empty()) {
    c.ask(c.state().handles.registry, atoms::create_v, std::move(jr))
      .then(job_created);
    return;
  }
  jr.request_hash = request_hash(*filename, content_type, priority,
                                 asked_outputs ? &*asked_outputs : nullptr,
                                 callback_url);
  jr.idempotency_key = std::move(idem_key);
  c.ask(c.state().handles.registry, atoms::create_keyed_v, std::move(jr))
    .then([](reply& r, messages::job& j, bool created) {
      send_job(r, j, created ? 201 : 200);
    });
}

/// Answers `j` with its `progress` (null when the ledger cannot be read).
void send_with_progress(reply& r, const messages::job& j,
                        const std::vector<messages::attempt_record>* ledger,
                        const std::vector<messages::task_progress>& live) {
  auto out = job_json(j);
  out.pop_back(); // The closing brace.
  out += R"(,"progress":)";
  // Reasons quote error messages, which may hold any bytes (a worker on
  // another node wrote some of them): replaced, never a 500.
  if (ledger != nullptr)
    out += job_progress(j, r.state().config.pipeline, *ledger, live)
             .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  else
    out += "null";
  out += '}';
  r.send(200, std::move(out));
}

// Answers `j` with its progress: the ledger and, when the dispatcher can
// be asked, the live leases.
void send_job(reply& r, const messages::job& j) {
  r.ask(r.state().handles.registry, atoms::attempts_v, j.id)
    .then(
      [j](reply& r, std::vector<messages::attempt_record>& ledger) {
        if (!r.state().handles.dispatcher) {
          send_with_progress(r, j, &ledger, {});
          return;
        }
        r.ask(r.state().handles.dispatcher, atoms::lease_of_v, j.id)
          .then(
            [j, ledger](reply& r,
                        std::vector<messages::task_progress>& live) {
              send_with_progress(r, j, &ledger, live);
            },
            // No live view: the ledger still tells what is done.
            [j, ledger](reply& r, caf::error&) {
              send_with_progress(r, j, &ledger, {});
            });
      },
      // The job itself was read: answer it, without progress, rather
      // than fail a status poll on the ledger.
      [j](reply& r, caf::error&) { send_with_progress(r, j, nullptr, {}); });
}

// Reads the query parameter `wait` (whole seconds, 0 to the registry's
// longest wait) into `ms`; answers 422 and returns false if malformed.
bool query_wait(call& c, uint32_t& ms) {
  auto str = query_param(c.request().query, "wait");
  if (!str)
    return true;
  constexpr uint32_t most = messages::max_end_wait_ms / 1000;
  auto value = parse_decimal(*str, 2);
  if (!value || *value > most) {
    c.error(422, "invalid_argument",
            "wait must be whole seconds from 0 to " + std::to_string(most));
    return false;
  }
  ms = static_cast<uint32_t>(*value * 1000);
  return true;
}

// `?wait=S`: a job still running is answered once it ends, or after S
// seconds as it stands then; one request where a client would poll.
void get_job(call& c) {
  uint32_t wait_ms = 0;
  if (!query_wait(c, wait_ms))
    return;
  with_visible_job(c, [wait_ms](reply& r, messages::job& j) {
    if (wait_ms == 0 || messages::is_terminal(j.status)) {
      send_job(r, j);
      return;
    }
    auto read_again = [id = j.id](reply& r) {
      r.ask(r.state().handles.registry, atoms::get_v, id)
        .then([](reply& r, messages::job& j) { send_job(r, j); },
              [id](reply& r, caf::error& err) {
                r.fail(err, not_found_job(id));
              });
    };
    // Longer than the registry's own timer, and the ingestion relays'.
    auto within = std::chrono::milliseconds{wait_ms}
                  + r.state().config.request_timeout;
    r.ask_within(within, r.state().handles.registry, atoms::await_end_v, j.id,
                 wait_ms)
      .then([read_again](reply& r, bool) { read_again(r); },
            // Waiting failed (the coordinator is away): the read says how
            // things stand, or why it cannot.
            [read_again](reply& r, caf::error&) { read_again(r); });
  });
}

void get_result(call& c) {
  // Looks the job up first: for the owner check and for the status a 409
  // names.
  with_visible_job(c, [](reply& r, messages::job& j) {
    r.ask(r.state().handles.registry, atoms::get_result_v, j.id)
      .then(
        [](reply& r, messages::job_result& x) {
          std::string out;
          out.reserve(128 + x.metadata.size() + x.summary.size()
                      + 2 * x.outputs.size());
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
          if (!x.outputs.empty()) {
            out += R"(,"outputs":)";
            out += outputs_json(r.state().config, x.outputs).dump();
            if (auto from = reused_from_of(x.outputs); !from.empty()) {
              out += R"(,"reused_from":)";
              append_json_string(out, from);
            }
          }
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

/// Answers 409 naming the status when `j` has no result yet; returns
/// whether it did.
bool unfinished(reply& r, const messages::job& j) {
  if (j.status == messages::job_status::succeeded)
    return false;
  r.error(409, "conflict",
          "job is not finished yet (status " + messages::to_string(j.status)
            + "); poll GET /jobs/{id} until it is SUCCEEDED");
  return true;
}

void download(call& c) {
  std::string name{c.param(1)};
  with_visible_job(c, [name](reply& r, messages::job& j) {
    if (unfinished(r, j))
      return;
    r.ask(r.state().handles.registry, atoms::get_result_v, j.id)
      .then(
        [name](reply& r, messages::job_result& x) {
          auto& cfg = r.state().config;
          auto entry = find_output(x.outputs, name);
          if (!entry) {
            r.error(404, "not_found",
                    "job " + x.job_id + " has no output named '"
                      + name.substr(0, 64)
                      + "' (see GET /jobs/{id}/result for the names)");
            return;
          }
          if (entry->contains("skipped")) {
            r.error(404, "not_found",
                    "output '" + name + "' was not made: "
                      + (*entry)["skipped"].get<std::string>());
            return;
          }
          if (!cfg.presign_download) {
            r.error(503, "unavailable", "downloads are not configured");
            return;
          }
          nlohmann::json out;
          auto url = cfg.presign_download(entry->value("bucket", ""),
                                          entry->value("key", ""));
          if (url.empty()) {
            no_store_keys(r, "download");
            return;
          }
          out["download_url"] = std::move(url);
          auto now = cfg.now ? cfg.now() : static_cast<int64_t>(std::time(nullptr));
          std::string exp;
          append_iso8601(exp, (now + cfg.download_expires) * 1000);
          out["expires_at"] = nlohmann::json::parse(exp);
          out["bytes"] = entry->value("bytes", uint64_t{0});
          out["content_type"] = entry->value("content_type", "");
          r.send(200, out.dump());
        },
        [jid = j.id](reply& r, caf::error& err) {
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

void delete_job(call& c) {
  with_visible_job(c, [](reply& r, messages::job& j) {
    cancel_and_erase(
      r, j,
      [id = j.id](reply& r, uint64_t objects) {
        std::string out = R"({"job_id":)";
        append_json_string(out, id);
        out += R"(,"deleted":true,"objects_deleted":)";
        out += std::to_string(objects);
        out += '}';
        r.send(200, std::move(out));
      },
      [](std::string_view id) { return not_found_job(id); });
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
  c.ask(c.state().handles.registry, atoms::history_v, std::move(owner), limit,
        std::string{})
    .then([who = std::move(who)](reply& r, std::vector<messages::job>& jobs) {
      // Already filtered by the store; checked again on the way out.
      jobs.erase(std::remove_if(
                   jobs.begin(), jobs.end(),
                   [&](const messages::job& j) { return !may_see(who, j); }),
                 jobs.end());
      r.send(200, json_items(jobs, append_job_json, 512));
    });
}

// The callback deliveries of a job, for its owner: what was sent, how
// often, what the receiver answered.
void get_deliveries(call& c) {
  with_visible_job(c, [](reply& r, messages::job& j) {
    r.ask(r.state().handles.registry, atoms::deliveries_v, j.id)
      .then([j](reply& r, std::vector<messages::delivery>& xs) {
        auto items = nlohmann::json::array();
        for (auto& d : xs) {
          auto body = nlohmann::json::parse(d.body, nullptr, false);
          items.push_back(
            {{"id", d.id},
             {"url", d.url},
             {"state", d.state},
             {"attempts", d.attempts},
             {"created_at", iso8601(d.created_at)},
             {"next_attempt_at", d.state == "pending"
                                   ? nlohmann::json(iso8601(d.next_at))
                                   : nlohmann::json(nullptr)},
             {"delivered_at", d.delivered_at > 0
                                ? nlohmann::json(iso8601(d.delivered_at))
                                : nlohmann::json(nullptr)},
             {"last_status", d.last_status > 0 ? nlohmann::json(d.last_status)
                                               : nlohmann::json(nullptr)},
             {"last_error", d.last_error.empty()
                              ? nlohmann::json(nullptr)
                              : nlohmann::json(d.last_error)},
             {"event", body.is_discarded() ? nlohmann::json(nullptr) : body}});
        }
        nlohmann::json doc{{"job_id", j.id},
                           {"callback_url", j.callback_url.empty()
                                              ? nlohmann::json(nullptr)
                                              : nlohmann::json(j.callback_url)},
                           {"items", std::move(items)}};
        r.send(200, doc.dump(-1, ' ', false,
                             nlohmann::json::error_handler_t::replace));
      });
  });
}

} // namespace

std::vector<route_entry> job_routes() {
  using m = http_method;
  return {{m::post, "/jobs", access::user, create_job},
          {m::get, "/jobs/{id}", access::user, get_job},
          {m::del, "/jobs/{id}", access::user, delete_job},
          {m::get, "/jobs/{id}/result", access::user, get_result},
          {m::post, "/jobs/{id}/cancel", access::user, cancel_job},
          {m::get, "/jobs/{id}/attempts", access::user, get_attempts},
          {m::get, "/jobs/{id}/download/{name}", access::user, download},
          {m::get, "/jobs/{id}/deliveries", access::user, get_deliveries},
          {m::get, "/history", access::user, history}};
}

} // namespace vf::adapters::http
