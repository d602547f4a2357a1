// Tests of vf::adapters::minio event parsing against the captured and
// documented payloads in tests/data/events, plus hand-made edge cases.

#define CAF_SUITE adapters.events

#include "vf/adapters/minio/events.hpp"

#include "vf_test.hpp"

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using namespace vf::adapters::minio;
using vf::messages::errc;
using vf::messages::object_event;
using vf::messages::object_ref;

namespace {

/// Reads a payload from tests/data/events.
std::string payload(const std::string& name) {
  std::ifstream in{vf::testing::data_dir() + "/events/" + name,
                   std::ios::binary};
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

/// The expected outcome of one parsed event.
object_ref ref(std::string bucket, std::string key, std::string version,
               std::string etag, uint64_t size) {
  return object_ref{std::move(bucket), std::move(key), std::move(version),
                    std::move(etag), size, {}, {}};
}

/// A MinIO-shaped body with one record, for edge cases.
std::string minio_body(const std::string& event_name, const std::string& key,
                       const std::string& extra_object_fields
                       = R"("size": 7, "eTag": "e", "sequencer": "S1")",
                       const std::string& top_key = "") {
  std::string body = R"({"EventName": ")" + event_name + R"(",)";
  if (!top_key.empty())
    body += R"("Key": ")" + top_key + R"(",)";
  body += R"("Records": [{"eventName": ")" + event_name
          + R"(", "s3": {"bucket": {"name": "uploads"}, "object": {"key": ")"
          + key + R"(", )" + extra_object_fields + "}}}]}";
  return body;
}

} // namespace

// Checks that an error message names what was wrong.
#define CHECK_CONTAINS(str, part)                                              \
  do {                                                                         \
    if ((str).find(part) != std::string::npos)                                 \
      CAF_CHECK(true);                                                         \
    else                                                                       \
      CAF_ERROR("message '" << (str) << "' lacks '" << (part) << "'");         \
  } while (false)

CAF_TEST(minio documentation example) {
  auto res = parse_minio_webhook(payload("minio-webhook-docs-example.json"));
  CAF_REQUIRE(res);
  CAF_REQUIRE_EQUAL(res->events.size(), 1u);
  CAF_CHECK(res->ignored.empty());
  auto& ev = res->events[0];
  CAF_CHECK_EQUAL(ev.name, "s3:ObjectCreated:Put");
  CAF_CHECK_EQUAL(ev.source, "minio");
  // versionId "1" wins over the sequencer.
  CAF_CHECK_EQUAL(ev.object, ref("images", "myphoto.jpg", "1",
                                 "430f89010c77aa34fc8760696da62d08-1", 6474));
}

CAF_TEST(minio current source shape decodes the key) {
  auto res
    = parse_minio_webhook(payload("minio-webhook-current-source-shape.json"));
  CAF_REQUIRE(res);
  CAF_REQUIRE_EQUAL(res->events.size(), 1u);
  auto& ev = res->events[0];
  CAF_CHECK_EQUAL(ev.name, "s3:ObjectCreated:Put");
  CAF_CHECK_EQUAL(ev.source, "minio");
  // Record key "videos%2Fmy+clip.mp4"; no versionId, so the sequencer.
  CAF_CHECK_EQUAL(ev.object,
                  ref("uploads", "videos/my clip.mp4", "1879F4C3A0F1E2D3",
                      "42da0367bc040679b24831f987ff02f3", 100000));
}

CAF_TEST(s3rver capture through the launcher) {
  auto res = parse_minio_webhook(
    payload("s3rver-4.0.4-launcher-webhook-captured.json"));
  CAF_REQUIRE(res);
  CAF_REQUIRE_EQUAL(res->events.size(), 1u);
  auto& ev = res->events[0];
  // s3rver's eventName lacks the "s3:" prefix; we add it.
  CAF_CHECK_EQUAL(ev.name, "s3:ObjectCreated:Put");
  CAF_CHECK_EQUAL(ev.source, "minio");
  CAF_CHECK_EQUAL(ev.object,
                  ref("uploads", "videos/clip-001.mp4", "1A1FDF91690",
                      "42da0367bc040679b24831f987ff02f3", 100000));
}

CAF_TEST(s3 notification via sqs) {
  auto body = payload("aws-s3-to-sqs-objectcreated-put.json");
  auto res = parse_s3_event(body);
  CAF_REQUIRE(res);
  CAF_REQUIRE_EQUAL(res->events.size(), 1u);
  auto& ev = res->events[0];
  CAF_CHECK_EQUAL(ev.name, "s3:ObjectCreated:Put");
  CAF_CHECK_EQUAL(ev.source, "sqs");
  CAF_CHECK_EQUAL(ev.object, ref("mybucket", "HappyFace.jpg",
                                 "096fKKXTRTtl3on89fVO.nfljtsv6qko",
                                 "d41d8cd98f00b204e9800998ecf8427e", 1024));
  auto other = parse_s3_event(body, "redis");
  CAF_REQUIRE(other);
  CAF_CHECK_EQUAL(other->events.at(0).source, "redis");
  // The same records parse as a webhook body (no EventName/Key there).
  auto hook = parse_minio_webhook(body);
  CAF_REQUIRE(hook);
  CAF_CHECK_EQUAL(hook->events.at(0).object, ev.object);
}

CAF_TEST(s3 test event yields nothing) {
  for (auto res :
       {parse_s3_event(payload("aws-s3-to-sqs-testevent.json")),
        parse_minio_webhook(payload("aws-s3-to-sqs-testevent.json"))}) {
    CAF_REQUIRE(res);
    CAF_CHECK(res->events.empty());
    CAF_CHECK_EQUAL(res->ignored, std::vector<std::string>{"s3:TestEvent"});
  }
  // Another "Event" value is not a test event.
  auto res = parse_s3_event(R"({"Event": "s3:Other"})");
  CAF_REQUIRE(!res);
  CAF_CHECK_EQUAL(vf::messages::errc_of(res.error()), errc::invalid_argument);
}

CAF_TEST(eventbridge object created) {
  auto res
    = parse_eventbridge(payload("aws-s3-eventbridge-object-created.json"));
  CAF_REQUIRE(res);
  CAF_REQUIRE_EQUAL(res->events.size(), 1u);
  auto& ev = res->events[0];
  CAF_CHECK_EQUAL(ev.name, "s3:ObjectCreated:Put"); // reason "PutObject"
  CAF_CHECK_EQUAL(ev.source, "sqs");
  CAF_CHECK_EQUAL(ev.object, ref("DOC-EXAMPLE-BUCKET1", "example-key",
                                 "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e",
                                 "b1946ac92492d2347c6235b4d2611184", 5));
  auto multipart = parse_eventbridge(
    R"({"source": "aws.s3", "detail-type": "Object Created", "detail": {
        "bucket": {"name": "b"}, "object": {"key": "a+b%2Fc", "size": 1,
        "etag": "e", "sequencer": "0A"}, "reason": "CompleteMultipartUpload"}})");
  CAF_REQUIRE(multipart);
  CAF_CHECK_EQUAL(multipart->events.at(0).name,
                  "s3:ObjectCreated:CompleteMultipartUpload");
  CAF_CHECK_EQUAL(multipart->events.at(0).object,
                  ref("b", "a b/c", "0A", "e", 1));
  auto deleted = parse_eventbridge(
    R"({"source": "aws.s3", "detail-type": "Object Deleted", "detail": {
        "bucket": {"name": "b"}, "object": {"key": "k"}}})");
  CAF_REQUIRE(deleted);
  CAF_CHECK(deleted->events.empty());
  CAF_CHECK_EQUAL(deleted->ignored, std::vector<std::string>{"Object Deleted"});
}

CAF_TEST(object keys are url decoded) {
  std::string out;
  CAF_CHECK(decode_key("a+b%2Fc", out));
  CAF_CHECK_EQUAL(out, "a b/c");
  CAF_CHECK(decode_key("%41%62%2b%20", out));
  CAF_CHECK_EQUAL(out, "Ab+ ");
  CAF_CHECK(decode_key("plain/key.mp4", out));
  CAF_CHECK_EQUAL(out, "plain/key.mp4");
  for (auto bad : {"%", "%4", "a%zz", "%g0"})
    CAF_CHECK(!decode_key(bad, out));
  // Through a record without a top-level Key.
  auto res = parse_minio_webhook(minio_body("s3:ObjectCreated:Put", "a+b%2Fc"));
  CAF_REQUIRE(res);
  CAF_CHECK_EQUAL(res->events.at(0).object.key, "a b/c");
  // MinIO's Key agrees with our decoding.
  res = parse_minio_webhook(minio_body("s3:ObjectCreated:Put", "a+b%2Fc",
                                       R"("size": 7, "eTag": "e")",
                                       "uploads/a b/c"));
  CAF_REQUIRE(res);
  CAF_CHECK_EQUAL(res->events.at(0).object.key, "a b/c");
  // s3rver sends keys unencoded; its Key is the truth ("+" stays).
  res = parse_minio_webhook(minio_body("ObjectCreated:Put", "clip+1.mp4",
                                       R"("size": 7, "eTag": "e")",
                                       "uploads/clip+1.mp4"));
  CAF_REQUIRE(res);
  CAF_CHECK_EQUAL(res->events.at(0).object.key, "clip+1.mp4");
  // A Key naming another bucket is not used.
  res = parse_minio_webhook(
    minio_body("s3:ObjectCreated:Put", "a+b", R"("eTag": "e")", "other/x"));
  CAF_REQUIRE(res);
  CAF_CHECK_EQUAL(res->events.at(0).object.key, "a b");
}

CAF_TEST(removed and unknown events are ignored) {
  auto res = parse_minio_webhook(
    minio_body("s3:ObjectRemoved:Delete", "k", R"("sequencer": "S")"));
  CAF_REQUIRE(res);
  CAF_CHECK(res->events.empty());
  CAF_CHECK_EQUAL(res->ignored,
                  std::vector<std::string>{"s3:ObjectRemoved:Delete"});
  // Mixed records; ignored ones need no s3 block; AWS names get the prefix.
  res = parse_s3_event(R"({"Records": [
      {"eventName": "ObjectRemoved:Delete"},
      {"eventName": "ObjectCreated:Copy", "s3": {"bucket": {"name": "b"},
       "object": {"key": "k", "size": 3, "eTag": "\"quoted\"",
                  "versionId": "null", "sequencer": "SEQ"}}},
      {"eventName": "s3:Replication:OperationFailedReplication"},
      {"eventName": "s3:ObjectCreated:Post", "s3": {"bucket": {"name": "b"},
       "object": {"key": "k2", "eTag": "e2"}}}]})");
  CAF_REQUIRE(res);
  CAF_REQUIRE_EQUAL(res->events.size(), 2u);
  CAF_CHECK_EQUAL(res->events[0].name, "s3:ObjectCreated:Copy");
  // versionId "null" means unversioned: the sequencer; quotes stripped.
  CAF_CHECK_EQUAL(res->events[0].object, ref("b", "k", "SEQ", "quoted", 3));
  // Neither versionId nor sequencer: the ETag; no size: 0.
  CAF_CHECK_EQUAL(res->events[1].object, ref("b", "k2", "e2", "e2", 0));
  CAF_CHECK_EQUAL(
    res->ignored,
    (std::vector<std::string>{"s3:ObjectRemoved:Delete",
                              "s3:Replication:OperationFailedReplication"}));
  // An empty Records array is nothing to do, not an error.
  res = parse_minio_webhook(R"({"EventName": "x", "Records": []})");
  CAF_REQUIRE(res);
  CAF_CHECK(res->events.empty() && res->ignored.empty());
}

CAF_TEST(malformed bodies are refused with a clear message) {
  struct row {
    std::string body;
    std::string message; // expected substring
  };
  std::string created = R"("eventName": "s3:ObjectCreated:Put")";
  auto rec = [&](const std::string& s3) {
    return R"({"Records": [{)" + created + R"(, "s3": )" + s3 + "}]}";
  };
  auto obj = [&](const std::string& object) {
    return rec(R"({"bucket": {"name": "b"}, "object": )" + object + "}");
  };
  std::vector<row> rows{
    {"", "not valid JSON"},
    {"{", "not valid JSON"},
    {"{} trailing", "not valid JSON"},
    {"{\"Records\": [\"\xff\xfe\"]}", "not valid JSON"},
    {"[]", "not a JSON object"},
    {"null", "not a JSON object"},
    {"42", "not a JSON object"},
    {"\"Records\"", "not a JSON object"},
    {std::string(10000, '[') + std::string(10000, ']'), "not a JSON object"},
    {std::string(10000, '['), "not valid JSON"},
    {"{}", "body has no Records"},
    {R"({"EventName": "s3:ObjectCreated:Put", "Key": "b/k"})",
     "body has no Records"},
    {R"({"Records": {}})", "Records is not an array"},
    {R"({"Records": "x"})", "Records is not an array"},
    {R"({"Records": [1]})", "Records[0] is not an object"},
    {R"({"Records": [{}]})", "Records[0].eventName is missing"},
    {R"({"Records": [{"eventName": 5}]})",
     "Records[0].eventName is not a string"},
    {R"({"Records": [{"eventName": ""}]})", "Records[0].eventName is empty"},
    {R"({"Records": [{"eventName": "s3:ObjectCreated:Put"}]})",
     "Records[0].s3 is missing"},
    {rec(R"("s3")"), "Records[0].s3 is not an object"},
    {rec(R"({"object": {"key": "k"}})"), "Records[0].s3.bucket is missing"},
    {rec(R"({"bucket": [], "object": {"key": "k"}})"),
     "Records[0].s3.bucket is not an object"},
    {rec(R"({"bucket": {}, "object": {"key": "k", "eTag": "e"}})"),
     "Records[0].s3.bucket.name is missing"},
    {rec(R"({"bucket": {"name": ""}, "object": {"key": "k", "eTag": "e"}})"),
     "Records[0].s3.bucket.name is empty"},
    {rec(R"({"bucket": {"name": "b"}})"), "Records[0].s3.object is missing"},
    {obj(R"({"eTag": "e"})"), "Records[0].s3.object.key is missing"},
    {obj(R"({"key": 5, "eTag": "e"})"),
     "Records[0].s3.object.key is not a string"},
    {obj(R"({"key": "", "eTag": "e"})"), "Records[0].s3.object.key is empty"},
    {obj(R"({"key": "a%zz", "eTag": "e"})"),
     "Records[0].s3.object.key has a malformed %-escape"},
    {obj(R"({"key": "k", "size": "7", "eTag": "e"})"),
     "Records[0].s3.object.size is not a non-negative integer"},
    {obj(R"({"key": "k", "size": -1, "eTag": "e"})"),
     "Records[0].s3.object.size is not a non-negative integer"},
    {obj(R"({"key": "k", "size": 1.5, "eTag": "e"})"),
     "Records[0].s3.object.size is not a non-negative integer"},
    {obj(R"({"key": "k", "eTag": 5})"),
     "Records[0].s3.object.eTag is not a string"},
    {obj(R"({"key": "k", "eTag": "e", "versionId": 1})"),
     "Records[0].s3.object.versionId is not a string"},
    {obj(R"({"key": "k", "eTag": "e", "sequencer": {}})"),
     "Records[0].s3.object.sequencer is not a string"},
    {obj(R"({"key": "k", "size": 1})"),
     "Records[0].s3.object has no versionId, sequencer or eTag"},
    {obj(R"({"key": "k", "versionId": "null"})"),
     "Records[0].s3.object has no versionId, sequencer or eTag"},
    {R"({"Records": [{"eventName": "s3:ObjectRemoved:Delete"}, 7]})",
     "Records[1] is not an object"},
    {R"({"EventName": 5, "Records": []})", "body.EventName is not a string"},
    {R"({"Key": [], "Records": []})", "body.Key is not a string"},
  };
  for (auto& [body, message] : rows) {
    auto res = parse_minio_webhook(body);
    CAF_MESSAGE("body: " << body.substr(0, 80));
    if (!res) {
      CAF_CHECK_EQUAL(vf::messages::errc_of(res.error()),
                      errc::invalid_argument);
      auto got = vf::messages::message_of(res.error());
      CHECK_CONTAINS(got, message);
    } else {
      CAF_ERROR("accepted a malformed body: " << body);
    }
    // The plain S3 parser shares the record rules (except the MinIO-only
    // top-level fields).
    if (body.find("EventName") == std::string::npos
        && body.find("\"Key\"") == std::string::npos)
      CAF_CHECK(!parse_s3_event(body));
  }
}

CAF_TEST(malformed eventbridge bodies are refused) {
  std::vector<std::pair<std::string, std::string>> rows{
    {"", "not valid JSON"},
    {"[]", "not a JSON object"},
    {R"({"detail-type": "Object Created", "detail": {}})",
     "body.source is missing"},
    {R"({"source": "aws.ec2", "detail-type": "Object Created", "detail": {}})",
     "not 'aws.s3'"},
    {R"({"source": "aws.s3", "detail": {}})", "body.detail-type is missing"},
    {R"({"source": "aws.s3", "detail-type": "Object Created"})",
     "body.detail is missing"},
    {R"({"source": "aws.s3", "detail-type": "Object Created", "detail": {
         "object": {"key": "k", "etag": "e"}}})",
     "detail.bucket is missing"},
    {R"({"source": "aws.s3", "detail-type": "Object Created", "detail": {
         "bucket": {"name": "b"}, "object": {"etag": "e"}}})",
     "detail.object.key is missing"},
    {R"({"source": "aws.s3", "detail-type": "Object Created", "detail": {
         "bucket": {"name": "b"}, "object": {"key": "k", "size": "5"}}})",
     "detail.object.size is not a non-negative integer"},
  };
  for (auto& [body, message] : rows) {
    auto res = parse_eventbridge(body);
    CAF_MESSAGE("body: " << body);
    CAF_REQUIRE(!res);
    CAF_CHECK_EQUAL(vf::messages::errc_of(res.error()), errc::invalid_argument);
    auto got = vf::messages::message_of(res.error());
    CHECK_CONTAINS(got, message);
  }
}
