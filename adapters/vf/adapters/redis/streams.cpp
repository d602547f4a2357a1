// vf/adapters/redis/streams.cpp

#include "vf/adapters/redis/streams.hpp"

#include "vf/messages/errc.hpp"

#include <algorithm>
#include <charconv>

namespace vf::adapters::redis {

using messages::errc;
using messages::make_error;

namespace {

/// Layout version of our entries (field `v`).
constexpr const char* layout_version = "1";

bool parse_u64(const std::string& s, uint64_t& out) {
  if (s.empty() || s.size() > 20)
    return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && p == s.data() + s.size();
}

stream_entry entry_of(const reply& r) {
  stream_entry e;
  if (r.kind != reply::array || r.elements.empty())
    return e;
  e.id = r.elements[0].text();
  if (r.elements.size() < 2 || r.elements[1].kind != reply::array) {
    e.deleted = true;
    return e;
  }
  auto& kv = r.elements[1].elements;
  for (size_t i = 0; i + 1 < kv.size(); i += 2)
    e.fields.emplace_back(kv[i].text(), kv[i + 1].text());
  return e;
}

} // namespace

const std::string* stream_entry::field(const std::string& name) const {
  for (auto& [k, v] : fields)
    if (k == name)
      return &v;
  return nullptr;
}

std::optional<stream_id> stream_id::parse(const std::string& text) {
  stream_id x;
  auto dash = text.find('-');
  if (dash == std::string::npos)
    return parse_u64(text, x.ms) ? std::optional<stream_id>{x} : std::nullopt;
  if (!parse_u64(text.substr(0, dash), x.ms)
      || !parse_u64(text.substr(dash + 1), x.seq))
    return std::nullopt;
  return x;
}

std::string stream_id::str() const {
  return std::to_string(ms) + "-" + std::to_string(seq);
}

stream_id stream_id::next() const {
  if (seq == UINT64_MAX)
    return {ms + 1, 0};
  return {ms, seq + 1};
}

std::vector<std::string> xadd_event(const std::string& stream,
                                    const messages::object_event& ev) {
  return {"XADD",    stream,           "*",
          "v",       layout_version,   "name",
          ev.name,   "source",         ev.source,
          "bucket",  ev.object.bucket, "key",
          ev.object.key,               "version",
          ev.object.version,           "etag",
          ev.object.etag,              "size",
          std::to_string(ev.object.size),
          "sha256",  ev.object.sha256};
}

caf::expected<messages::object_event> decode_event(const stream_entry& e) {
  auto bad = [&e](const std::string& what) {
    return make_error(errc::invalid_argument,
                      "stream entry " + e.id + ": " + what);
  };
  if (e.deleted)
    return bad("deleted before it was read");
  auto get = [&e](const char* name) -> const std::string* {
    return e.field(name);
  };
  auto v = get("v");
  if (v == nullptr || *v != layout_version)
    return bad("unknown layout (field v must be " + std::string{layout_version}
               + ")");
  struct limit {
    const char* name;
    size_t max;
    bool required;
  };
  static constexpr limit limits[] = {
    {"name", 128, true},     {"source", 32, true}, {"bucket", 63, true},
    {"key", 1024, true},     {"version", 1024, false},
    {"etag", 256, false},    {"size", 20, true},   {"sha256", 64, false},
  };
  for (auto& l : limits) {
    auto x = get(l.name);
    if (x == nullptr && l.required)
      return bad(std::string{"field '"} + l.name + "' missing");
    if (x != nullptr && (x->size() > l.max || (l.required && x->empty())))
      return bad(std::string{"field '"} + l.name + "' empty or longer than "
                 + std::to_string(l.max) + " bytes");
  }
  messages::object_event ev;
  ev.name = *get("name");
  ev.source = *get("source");
  ev.object.bucket = *get("bucket");
  ev.object.key = *get("key");
  if (auto x = get("version"))
    ev.object.version = *x;
  if (auto x = get("etag"))
    ev.object.etag = *x;
  if (auto x = get("sha256")) {
    auto hex = std::all_of(x->begin(), x->end(), [](char c) {
      return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
    });
    if (!x->empty() && (x->size() != 64 || !hex))
      return bad("field 'sha256' is not 64 lower-case hex digits");
    ev.object.sha256 = *x;
  }
  if (!parse_u64(*get("size"), ev.object.size))
    return bad("field 'size' is not a number");
  return ev;
}

caf::error check_event(const messages::object_event& ev) {
  auto cmd = xadd_event("-", ev);
  stream_entry e;
  e.id = "0-1";
  for (size_t i = 3; i + 1 < cmd.size(); i += 2)
    e.fields.emplace_back(cmd[i], cmd[i + 1]);
  if (auto x = decode_event(e); !x)
    return std::move(x.error());
  return caf::none;
}

bool known_layout(const stream_entry& e) {
  auto v = e.field("v");
  return e.deleted || v == nullptr || *v == layout_version;
}

std::string completion_type(messages::job_status st) {
  switch (st) {
    case messages::job_status::succeeded:
      return "JobCompleted";
    case messages::job_status::failed:
      return "JobFailed";
    case messages::job_status::cancelled:
      return "JobCancelled";
    case messages::job_status::expired:
      return "JobExpired";
    default:
      return "JobUpdated";
  }
}

std::vector<std::string> xadd_completion(const std::string& stream,
                                         const messages::job& j,
                                         int64_t duration_ms) {
  std::vector<std::string> out{"XADD",
                               stream,
                               "*",
                               "v",
                               layout_version,
                               "type",
                               completion_type(j.status),
                               "job_id",
                               j.id,
                               "owner",
                               j.owner,
                               "status",
                               to_string(j.status),
                               "bucket",
                               j.bucket,
                               "key",
                               j.key,
                               "version",
                               j.object.version,
                               "series",
                               std::to_string(j.series),
                               "ended_at",
                               std::to_string(j.updated_at),
                               "duration_ms",
                               std::to_string(std::max<int64_t>(duration_ms,
                                                                -1)),
                               "request_id",
                               j.request_id};
  if (j.status == messages::job_status::failed) {
    out.emplace_back("error_code");
    out.emplace_back(to_string(j.error_code));
    out.emplace_back("error");
    out.emplace_back(j.error_message);
  }
  return out;
}

std::vector<stream_entry> parse_entries(const reply& r) {
  std::vector<stream_entry> out;
  if (r.kind != reply::array)
    return out;
  out.reserve(r.elements.size());
  for (auto& x : r.elements) {
    auto e = entry_of(x);
    if (!e.id.empty())
      out.push_back(std::move(e));
  }
  return out;
}

std::vector<stream_entry> parse_read(const reply& r) {
  // [[stream, [[id, [f, v, …]], …]]] or nil.
  if (r.kind != reply::array || r.elements.empty())
    return {};
  auto& first = r.elements[0];
  if (first.kind != reply::array || first.elements.size() < 2)
    return {};
  return parse_entries(first.elements[1]);
}

autoclaim_result parse_autoclaim(const reply& r) {
  autoclaim_result out;
  if (r.kind != reply::array || r.elements.size() < 2)
    return out;
  out.cursor = r.elements[0].text();
  out.entries = parse_entries(r.elements[1]);
  if (r.elements.size() >= 3 && r.elements[2].kind == reply::array)
    for (auto& id : r.elements[2].elements) {
      stream_entry e;
      e.id = id.text();
      e.deleted = true;
      out.entries.push_back(std::move(e));
    }
  return out;
}

std::vector<group_state> parse_groups(const reply& r) {
  std::vector<group_state> out;
  if (r.kind != reply::array)
    return out;
  for (auto& g : r.elements) {
    if (g.kind != reply::array)
      continue;
    group_state x;
    for (size_t i = 0; i + 1 < g.elements.size(); i += 2) {
      auto k = g.elements[i].text();
      auto& v = g.elements[i + 1];
      if (k == "name")
        x.name = v.text();
      else if (k == "pending")
        x.pending = static_cast<uint64_t>(std::max<int64_t>(
          v.kind == reply::integer ? v.integer_value : 0, 0));
      else if (k == "last-delivered-id")
        x.last_delivered = v.text();
    }
    if (!x.name.empty())
      out.push_back(std::move(x));
  }
  return out;
}

std::optional<stream_id> trim_floor(const std::vector<group_state>& groups) {
  std::optional<stream_id> floor;
  for (auto& g : groups) {
    std::optional<stream_id> need;
    if (g.pending > 0) {
      // Unknown smallest pending id: the group needs everything we know.
      need = stream_id::parse(g.min_pending);
      if (!need)
        return stream_id{0, 0};
    } else {
      auto last = stream_id::parse(g.last_delivered);
      if (!last)
        return stream_id{0, 0};
      need = last->next();
    }
    if (!floor || *need < *floor)
      floor = need;
  }
  return floor;
}

} // namespace vf::adapters::redis
