// vf/adapters/minio/events.cpp

#include "vf/adapters/minio/events.hpp"

#include "vf/adapters/common/hex.hpp"
#include "vf/messages/errc.hpp"
#include <nlohmann/json.hpp>

#include <optional>
#include <utility>
#include <variant>

namespace vf::adapters::minio {

namespace {

using json = nlohmann::json;

using messages::errc;

constexpr std::string_view created_prefix = "s3:ObjectCreated:";

/// Why a body was refused; becomes `errc::invalid_argument`.
struct bad_body {
  std::string what;
};

caf::error make_bad(std::string what) {
  return messages::make_error(errc::invalid_argument, std::move(what));
}

bool starts_with(std::string_view str, std::string_view prefix) {
  return str.substr(0, prefix.size()) == prefix;
}

// Parses `body` as a JSON object, or says why not.
std::variant<json, bad_body> parse_object(std::string_view body) {
  // parse() with exceptions off reports errors as a discarded value; the
  // catch covers allocation failures and anything else it might throw.
  try {
    auto doc = json::parse(body.begin(), body.end(), nullptr, false);
    if (doc.is_discarded())
      return bad_body{"body is not valid JSON"};
    if (!doc.is_object())
      return bad_body{"body is not a JSON object"};
    return doc;
  } catch (const std::exception& ex) {
    return bad_body{std::string{"body cannot be parsed: "} + ex.what()};
  }
}

// Returns the member `name` of `obj` if it is an object; null otherwise.
const json* member(const json& obj, const char* name) {
  if (!obj.is_object())
    return nullptr;
  auto i = obj.find(name);
  return i == obj.end() ? nullptr : &*i;
}

// Reads a required JSON object member.
const json& require_object(const json& obj, const char* name,
                           const std::string& path) {
  auto* x = member(obj, name);
  if (x == nullptr)
    throw bad_body{path + "." + name + " is missing"};
  if (!x->is_object())
    throw bad_body{path + "." + name + " is not an object"};
  return *x;
}

// Reads a required non-empty string member.
std::string require_string(const json& obj, const char* name,
                           const std::string& path) {
  auto* x = member(obj, name);
  if (x == nullptr)
    throw bad_body{path + "." + name + " is missing"};
  if (!x->is_string())
    throw bad_body{path + "." + name + " is not a string"};
  auto result = x->get<std::string>();
  if (result.empty())
    throw bad_body{path + "." + name + " is empty"};
  return result;
}

// Reads an optional string member; null counts as absent.
std::string optional_string(const json& obj, const char* name,
                            const std::string& path) {
  auto* x = member(obj, name);
  if (x == nullptr || x->is_null())
    return {};
  if (!x->is_string())
    throw bad_body{path + "." + name + " is not a string"};
  return x->get<std::string>();
}

// Reads an optional non-negative integer member (object size).
uint64_t optional_size(const json& obj, const char* name,
                       const std::string& path) {
  auto* x = member(obj, name);
  if (x == nullptr || x->is_null())
    return 0;
  if (x->is_number_unsigned())
    return x->get<uint64_t>();
  if (x->is_number_integer() && x->get<int64_t>() >= 0)
    return static_cast<uint64_t>(x->get<int64_t>());
  throw bad_body{path + "." + name + " is not a non-negative integer"};
}

// S3 quotes ETags in HTTP headers; events usually do not. Compare unquoted.
std::string unquote(std::string_view etag) {
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"')
    etag = etag.substr(1, etag.size() - 2);
  return std::string{etag};
}

// Builds the object reference of an upload record; keys come URL-encoded.
messages::object_ref make_object(std::string bucket, std::string_view raw_key,
                                 uint64_t size, const std::string& etag,
                                 const std::string& version_id,
                                 const std::string& sequencer,
                                 const std::string& path) {
  messages::object_ref ref;
  ref.bucket = std::move(bucket);
  if (!decode_key(raw_key, ref.key))
    throw bad_body{path + ".key has a malformed %-escape"};
  if (ref.key.empty())
    throw bad_body{path + ".key is empty"};
  ref.size = size;
  ref.etag = unquote(etag);
  // The version tells two uploads of one key apart: the version id on
  // versioned buckets (MinIO says "null" on unversioned ones), else the
  // sequencer (monotonic per key), else the content's ETag.
  if (!version_id.empty() && version_id != "null")
    ref.version = version_id;
  else if (!sequencer.empty())
    ref.version = sequencer;
  else
    ref.version = ref.etag;
  if (ref.version.empty())
    throw bad_body{path
                   + " has no versionId, sequencer or eTag to tell uploads "
                     "apart"};
  return ref;
}

// Parses one S3 event record into `out`.
void parse_record(const json& rec, const std::string& path,
                  std::string_view source, parse_result& out) {
  if (!rec.is_object())
    throw bad_body{path + " is not an object"};
  auto name = require_string(rec, "eventName", path);
  // AWS names events `ObjectCreated:Put`, MinIO `s3:ObjectCreated:Put`.
  if (!starts_with(name, "s3:"))
    name.insert(0, "s3:");
  if (!starts_with(name, created_prefix)) {
    out.ignored.push_back(std::move(name));
    return;
  }
  auto s3_path = path + ".s3";
  auto& s3 = require_object(rec, "s3", path);
  auto& bucket = require_object(s3, "bucket", s3_path);
  auto& object = require_object(s3, "object", s3_path);
  auto obj_path = s3_path + ".object";
  messages::object_event ev;
  ev.name = std::move(name);
  ev.source = std::string{source};
  ev.object
    = make_object(require_string(bucket, "name", s3_path + ".bucket"),
                  require_string(object, "key", obj_path),
                  optional_size(object, "size", obj_path),
                  optional_string(object, "eTag", obj_path),
                  optional_string(object, "versionId", obj_path),
                  optional_string(object, "sequencer", obj_path), obj_path);
  out.events.push_back(std::move(ev));
}

// Parses `Records` or recognizes the S3 test event; shared by S3 and MinIO.
parse_result parse_records(const json& doc, std::string_view source) {
  parse_result result;
  auto* records = member(doc, "Records");
  if (records == nullptr) {
    // S3 sends `{"Event": "s3:TestEvent", ...}` once when a notification
    // is configured: acknowledge it, nothing to do.
    auto* event = member(doc, "Event");
    if (event != nullptr && event->is_string()
        && event->get<std::string>() == "s3:TestEvent") {
      result.ignored.emplace_back("s3:TestEvent");
      return result;
    }
    throw bad_body{"body has no Records"};
  }
  if (!records->is_array())
    throw bad_body{"Records is not an array"};
  for (size_t i = 0; i < records->size(); ++i)
    parse_record((*records)[i], "Records[" + std::to_string(i) + "]", source,
                 result);
  return result;
}

// Maps EventBridge's `detail.reason` to the S3 notification event name.
std::string eventbridge_name(const std::string& reason) {
  if (reason == "PutObject")
    return "s3:ObjectCreated:Put";
  if (reason == "POST Object")
    return "s3:ObjectCreated:Post";
  if (reason == "CopyObject")
    return "s3:ObjectCreated:Copy";
  if (reason == "CompleteMultipartUpload")
    return "s3:ObjectCreated:CompleteMultipartUpload";
  return "s3:ObjectCreated:*";
}

// Runs `fun` on the parsed body, turning every refusal into an error.
template <class F>
caf::expected<parse_result> guarded(std::string_view body, F fun) {
  auto parsed = parse_object(body);
  if (auto* bad = std::get_if<bad_body>(&parsed))
    return make_bad(std::move(bad->what));
  try {
    return fun(std::get<json>(parsed));
  } catch (const bad_body& bad) {
    return make_bad(bad.what);
  } catch (const std::exception& ex) {
    // nlohmann or allocation failures: still the body's fault to report.
    return make_bad(std::string{"body cannot be read: "} + ex.what());
  }
}

} // namespace

bool decode_key(std::string_view encoded, std::string& out) {
  out.clear();
  out.reserve(encoded.size());
  for (size_t i = 0; i < encoded.size(); ++i) {
    char c = encoded[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%') {
      if (i + 2 >= encoded.size())
        return false;
      int hi = common::hex_digit_value(encoded[i + 1]);
      int lo = common::hex_digit_value(encoded[i + 2]);
      if (hi < 0 || lo < 0)
        return false;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += c;
    }
  }
  return true;
}

caf::expected<parse_result> parse_minio_webhook(std::string_view body) {
  return guarded(body, [](const json& doc) {
    // EventName repeats the record's name; only its type is checked.
    static_cast<void>(optional_string(doc, "EventName", "body"));
    auto key = optional_string(doc, "Key", "body");
    auto result = parse_records(doc, "minio");
    // `Key` is `bucket/decoded key` as the server knows it; trust it over
    // our decoding of the record's key when it names the same bucket, since
    // s3rver (unlike MinIO) does not URL-encode record keys.
    if (!key.empty() && result.events.size() == 1 && result.ignored.empty()) {
      auto& obj = result.events.front().object;
      auto prefix = obj.bucket + "/";
      if (key.size() > prefix.size() && starts_with(key, prefix))
        obj.key = key.substr(prefix.size());
    }
    return result;
  });
}

caf::expected<parse_result> parse_s3_event(std::string_view body,
                                           std::string_view source) {
  return guarded(
    body, [source](const json& doc) { return parse_records(doc, source); });
}

caf::expected<parse_result> parse_eventbridge(std::string_view body,
                                              std::string_view source) {
  return guarded(body, [source](const json& doc) {
    auto origin = require_string(doc, "source", "body");
    if (origin != "aws.s3")
      throw bad_body{"body.source is '" + origin + "', not 'aws.s3'"};
    auto type = require_string(doc, "detail-type", "body");
    auto& detail = require_object(doc, "detail", "body");
    parse_result result;
    if (type != "Object Created") {
      result.ignored.push_back(std::move(type));
      return result;
    }
    auto& bucket = require_object(detail, "bucket", "detail");
    auto& object = require_object(detail, "object", "detail");
    messages::object_event ev;
    ev.name = eventbridge_name(optional_string(detail, "reason", "detail"));
    ev.source = std::string{source};
    // Decoded like notification keys: AWS documents no difference, but this
    // is not yet checked against a live bucket.
    ev.object = make_object(
      require_string(bucket, "name", "detail.bucket"),
      require_string(object, "key", "detail.object"),
      optional_size(object, "size", "detail.object"),
      optional_string(object, "etag", "detail.object"),
      optional_string(object, "version-id", "detail.object"),
      optional_string(object, "sequencer", "detail.object"), "detail.object");
    result.events.push_back(std::move(ev));
    return result;
  });
}

} // namespace vf::adapters::minio
