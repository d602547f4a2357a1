// vf/adapters/http/routes_multipart.cpp
//
// Resumable uploads of a job's file: the store's multipart API, started
// and completed by the API with the node's keys, each part sent by the
// client straight to the store through a presigned URL. A client that lost
// its connection or reloaded its page keeps the upload id, asks for the
// URLs of the parts it still misses and goes on.

#include <nlohmann/json.hpp>

#include "vf/adapters/http/call.hpp"
#include "vf/adapters/http/job_access.hpp"
#include "vf/adapters/http/json_views.hpp"
#include "vf/adapters/http/request_parse.hpp"
#include "vf/adapters/http/routes.hpp"
#include "vf/messages/atoms.hpp"
#include "vf/messages/errc.hpp"

#include <charconv>
#include <optional>
#include <string>
#include <string_view>

namespace vf::adapters::http {

namespace {

using json = nlohmann::json;
using messages::errc;
using messages::job_status;

constexpr uint32_t max_part_number = 10000;
/// Most part URLs one request hands out.
constexpr uint32_t max_urls = 100;
constexpr uint64_t min_part_bytes = uint64_t{5} << 20;

/// Answers 501 and returns false unless this node makes the store calls.
bool configured(call& c) {
  if (c.services().store_calls && c.state().config.presign_part)
    return true;
  c.error(501, "not_implemented",
          "resumable uploads are not configured on this node; upload with "
          "the upload_url of POST /jobs");
  return false;
}

/// Whether `id` may be an upload id (S3's are URL-safe text; ours hex).
bool plausible_upload_id(std::string_view id) {
  return !id.empty() && id.size() <= 256
         && id.find_first_not_of("abcdefghijklmnopqrstuvwxyz"
                                 "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-~")
              == std::string_view::npos;
}

/// The `upload_id` of the query; answers 422 and returns nothing if it is
/// missing or malformed.
std::optional<std::string> upload_id_of_query(call& c) {
  auto v = query_param(c.request().query, "upload_id");
  if (!v || !plausible_upload_id(*v)) {
    c.error(422, "invalid_argument",
            "upload_id is required (as POST /jobs/{id}/multipart answered "
            "it)");
    return std::nullopt;
  }
  return std::string{*v};
}

/// Answers 409 unless `j` still waits for its upload; returns whether it
/// does.
bool waiting(reply& r, const messages::job& j) {
  if (j.status == job_status::awaiting_upload)
    return true;
  r.error(409, "conflict",
          "job " + j.id + " is " + messages::to_string(j.status)
            + "; it takes its upload only while AWAITING_UPLOAD");
  return false;
}

/// The store's answer to a call on upload `id` of job `jid`, for the
/// client.
void store_failed(reply& r, const caf::error& err, const std::string& jid) {
  auto code = messages::errc_of(err);
  auto what = messages::message_of(err);
  if (code == errc::not_found)
    r.error(404, "not_found",
            "job " + jid + " has no multipart upload with this upload_id "
            "(completed, aborted, expired, or never started)");
  else if (code == errc::invalid_argument)
    r.error(422, "invalid_argument", "the store refused: " + what);
  else if (code == errc::forbidden)
    r.error(409, "conflict", "the store refused the upload: " + what);
  else
    r.error(503, "storage_unavailable",
            "the store did not answer (" + what + "); retry shortly", 5);
}

/// Largest file a multipart upload can make (S3's: 5 TiB).
constexpr uint64_t max_upload_bytes = uint64_t{5} << 40;

void start(call& c) {
  if (!configured(c))
    return;
  // Optional body `{"size": bytes}`: the file's size, so that the job's
  // event stream can tell how far the upload got of how much.
  uint64_t size = 0;
  if (!c.request().body.empty()) {
    auto body = parse_object(c);
    if (!body)
      return;
    for (auto& [k, v] : body->items()) {
      if (k != "size") {
        c.error(422, "invalid_argument",
                "unknown field '" + k.substr(0, 64) + "' (known: size)");
        return;
      }
      if (!v.is_number_unsigned() || v.get<uint64_t>() < 1
          || v.get<uint64_t>() > max_upload_bytes) {
        c.error(422, "invalid_argument",
                "size must be the file's size in bytes, 1 to 5 TiB");
        return;
      }
      size = v.get<uint64_t>();
    }
  }
  with_visible_job(c, [size](reply& r, messages::job& j) {
    if (!waiting(r, j))
      return;
    r.ask(r.services().store_calls, std::string{"start"}, j.bucket, j.key,
          j.content_type)
      .then(
        [j, size](reply& r, std::string& id) {
          auto& cfg = r.state().config;
          if (cfg.uploads && size > 0)
            cfg.uploads->declare(j.bucket, j.key, size);
          json out{{"job_id", j.id},
                   {"upload_id", id},
                   {"part_size", cfg.part_size},
                   {"min_part_size", min_part_bytes},
                   {"max_parts", max_part_number},
                   {"expires_in", cfg.presign_expires}};
          r.send(201, out.dump());
        },
        [jid = j.id](reply& r, caf::error& err) {
          store_failed(r, err, jid);
        });
  });
}

void part_urls(call& c) {
  if (!configured(c))
    return;
  auto id = upload_id_of_query(c);
  if (!id)
    return;
  // `numbers=N` or `numbers=A-B`, at most 100 at a time.
  auto numbers = query_param(c.request().query, "numbers");
  uint32_t first = 0;
  uint32_t last = 0;
  auto parse = [](std::string_view x, uint32_t& out) {
    auto [end, ec] = std::from_chars(x.data(), x.data() + x.size(), out);
    return ec == std::errc{} && end == x.data() + x.size();
  };
  bool ok = false;
  if (numbers) {
    auto dash = numbers->find('-');
    ok = dash == std::string_view::npos
           ? parse(*numbers, first) && (last = first, true)
           : parse(numbers->substr(0, dash), first)
               && parse(numbers->substr(dash + 1), last);
  }
  if (!ok || first < 1 || last < first || last > max_part_number
      || last - first >= max_urls) {
    c.error(422, "invalid_argument",
            "numbers must be N or A-B with 1 <= A <= B <= 10000, at most "
            "100 parts per request (e.g. numbers=1-8)");
    return;
  }
  with_visible_job(c, [id = *id, first, last](reply& r, messages::job& j) {
    if (!waiting(r, j))
      return;
    auto& cfg = r.state().config;
    json parts = json::array();
    for (auto n = first; n <= last; ++n) {
      auto url = cfg.presign_part(j, id, n);
      if (url.empty()) {
        r.error(503, "storage_unavailable",
                "cannot presign part URLs now (no store credentials); try "
                "again shortly",
                5);
        return;
      }
      parts.push_back({{"part_number", n}, {"url", std::move(url)}});
    }
    json out{{"job_id", j.id},
             {"upload_id", id},
             {"parts", std::move(parts)},
             {"expires_in", cfg.presign_expires}};
    r.send(200, out.dump());
  });
}

void complete(call& c) {
  if (!configured(c))
    return;
  auto body = parse_object(c);
  if (!body)
    return;
  for (auto& [k, v] : body->items()) {
    static_cast<void>(v);
    if (k != "upload_id" && k != "parts") {
      c.error(422, "invalid_argument",
              "unknown field '" + k.substr(0, 64)
                + "' (known: upload_id, parts)");
      return;
    }
  }
  // Optional: the parts as the client sent them (number and the ETag the
  // store answered), for stores that cannot list parts; else all stored.
  json parts = json::array();
  if (auto p = body->find("parts"); p != body->end() && !p->is_null()) {
    auto bad = [&c] {
      c.error(422, "invalid_argument",
              "parts must be 1 to 10000 of {\"part_number\": 1..10000, "
              "\"etag\": the ETag the store answered}");
    };
    if (!p->is_array() || p->empty() || p->size() > max_part_number)
      return bad();
    for (auto& x : *p) {
      if (!x.is_object() || !x.contains("part_number")
          || !x["part_number"].is_number_unsigned() || !x.contains("etag")
          || !x["etag"].is_string())
        return bad();
      auto n = x["part_number"].get<uint64_t>();
      auto etag = x["etag"].get<std::string>();
      if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"')
        etag = etag.substr(1, etag.size() - 2);
      if (n < 1 || n > max_part_number || etag.empty() || etag.size() > 80
          || etag.find_first_not_of("0123456789abcdefABCDEF-")
               != std::string::npos)
        return bad();
      parts.push_back({n, etag});
    }
  }
  auto id = body->find("upload_id");
  if (id == body->end() || !id->is_string()
      || !plausible_upload_id(id->get<std::string>())) {
    c.error(422, "invalid_argument",
            "upload_id is required (as POST /jobs/{id}/multipart answered "
            "it)");
    return;
  }
  auto upload_id = id->get<std::string>();
  auto arg = json{{"upload_id", upload_id}, {"parts", std::move(parts)}}.dump();
  with_visible_job(c, [id = upload_id, arg](reply& r, messages::job& j) {
    if (!waiting(r, j))
      return;
    r.ask(r.services().store_calls, std::string{"complete"}, j.bucket, j.key,
          arg)
      .then(
        [jid = j.id, id](reply& r, std::string& etag) {
          // The store announced the object: the job runs from here.
          json out{{"job_id", jid}, {"upload_id", id}, {"etag", etag}};
          r.send(200, out.dump());
        },
        [jid = j.id](reply& r, caf::error& err) {
          store_failed(r, err, jid);
        });
  });
}

void abort_upload(call& c) {
  if (!configured(c))
    return;
  auto id = upload_id_of_query(c);
  if (!id)
    return;
  with_visible_job(c, [id = *id](reply& r, messages::job& j) {
    r.ask(r.services().store_calls, std::string{"abort"}, j.bucket, j.key, id)
      .then(
        [jid = j.id, id](reply& r, std::string&) {
          json out{{"job_id", jid}, {"upload_id", id}, {"aborted", true}};
          r.send(200, out.dump());
        },
        [jid = j.id](reply& r, caf::error& err) {
          store_failed(r, err, jid);
        });
  });
}

} // namespace

std::vector<route_entry> multipart_routes() {
  using m = http_method;
  return {{m::post, "/jobs/{id}/multipart", access::user, start},
          {m::del, "/jobs/{id}/multipart", access::user, abort_upload},
          {m::get, "/jobs/{id}/multipart/parts", access::user, part_urls},
          {m::post, "/jobs/{id}/multipart/complete", access::user, complete}};
}

} // namespace vf::adapters::http
