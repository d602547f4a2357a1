// vf/adapters/aws/sqs.cpp

#include "vf/adapters/aws/sqs.hpp"

#include <nlohmann/json.hpp>

#include "vf/adapters/aws/json_protocol.hpp"
#include "vf/messages/errc.hpp"

#include <algorithm>
#include <cctype>

namespace vf::adapters::aws {

namespace {

using messages::errc;
using messages::make_error;
using nlohmann::json;

// One JSON-protocol call; the parsed answer or an error naming the action.
caf::expected<json> call(const sqs_config& cfg, const std::string& action,
                         json body, std::chrono::milliseconds extra = {}) {
  body["QueueUrl"] = cfg.queue_url;
  json_service svc{{cfg.endpoint, cfg.region, "sqs"},
                   "AmazonSQS",
                   "SQS",
                   cfg.creds,
                   cfg.timeout,
                   4 << 20}; // ten messages of 256 KiB, escaped
  auto answer = json_call(svc, action, body, extra);
  if (!answer)
    return std::move(answer.error());
  if (answer->status != 200) {
    // Throttling and 5xx pass; anything else is our configuration.
    auto code = answer->status >= 500 || answer->status == 429
                    || answer->type == "RequestThrottled"
                    || answer->type == "ThrottlingException"
                  ? errc::storage_unavailable
                  : errc::invalid_argument;
    return make_error(code, answer->describe("SQS", action));
  }
  return std::move(answer->doc);
}

std::vector<std::string> failed_handles(const json& doc,
                                        const std::vector<std::string>& rs) {
  std::vector<std::string> out;
  auto i = doc.find("Failed");
  if (i == doc.end() || !i->is_array())
    return out;
  for (auto& f : *i) {
    if (!f.is_object())
      continue;
    auto id = f.find("Id");
    if (id == f.end() || !id->is_string())
      continue;
    auto n = std::strtoul(id->get<std::string>().c_str(), nullptr, 10);
    if (n < rs.size())
      out.push_back(rs[n]);
  }
  return out;
}

caf::expected<std::vector<std::string>>
batch(const sqs_config& cfg, const std::string& action,
      const std::vector<std::string>& receipts, const uint32_t* seconds) {
  if (receipts.empty())
    return std::vector<std::string>{};
  if (receipts.size() > 10)
    return make_error(errc::invalid_argument,
                      "SQS " + action + ": more than 10 entries");
  json entries = json::array();
  for (size_t i = 0; i < receipts.size(); ++i) {
    json e{{"Id", std::to_string(i)}, {"ReceiptHandle", receipts[i]}};
    if (seconds != nullptr)
      e["VisibilityTimeout"] = *seconds;
    entries.push_back(std::move(e));
  }
  auto doc = call(cfg, action, json{{"Entries", std::move(entries)}});
  if (!doc)
    return std::move(doc.error());
  return failed_handles(*doc, receipts);
}

} // namespace

caf::error complete(sqs_config& cfg) {
  auto bad = [](const std::string& why) {
    return make_error(errc::invalid_argument, why);
  };
  auto scheme_end = cfg.queue_url.find("://");
  if ((cfg.queue_url.compare(0, 7, "http://") != 0
       && cfg.queue_url.compare(0, 8, "https://") != 0)
      || scheme_end == std::string::npos)
    return bad("queue URL '" + cfg.queue_url
               + "' is not http(s)://host/account/name");
  auto path_at = cfg.queue_url.find('/', scheme_end + 3);
  if (path_at == std::string::npos || path_at + 1 >= cfg.queue_url.size())
    return bad("queue URL '" + cfg.queue_url + "' has no queue path");
  auto host = cfg.queue_url.substr(scheme_end + 3, path_at - scheme_end - 3);
  if (cfg.endpoint.empty())
    cfg.endpoint = cfg.queue_url.substr(0, path_at);
  if (!sigv4::parse_endpoint(cfg.endpoint))
    return bad("endpoint '" + cfg.endpoint + "' is not http(s)://host[:port]");
  if (cfg.region.empty()) {
    // sqs.<region>.amazonaws.com, sqs-fips.<region>…, VPC endpoint names
    // (…sqs.<region>.vpce.amazonaws.com), legacy <region>.queue.amazonaws.com
    std::string h = host.substr(0, host.find(':'));
    for (auto& c : h)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string_view v = h;
    if (v.find("amazonaws.com") != v.npos) {
      for (std::string_view mark : {"sqs.", "sqs-fips."})
        if (auto at = v.find(mark); at != v.npos && cfg.region.empty()) {
          auto start = at + mark.size();
          cfg.region = std::string{v.substr(start, v.find('.', start) - start)};
        }
      if (auto q = v.find(".queue.amazonaws.com");
          q != v.npos && cfg.region.empty())
        cfg.region = std::string{v.substr(0, q)};
    }
    if (cfg.region.empty())
      cfg.region = "us-east-1";
  }
  for (auto c : cfg.region)
    if (!std::islower(static_cast<unsigned char>(c))
        && !std::isdigit(static_cast<unsigned char>(c)) && c != '-')
      return bad("region '" + cfg.region + "' is not a region name");
  return caf::none;
}

caf::expected<std::vector<sqs_message>> sqs_receive(const sqs_config& cfg,
                                                    uint32_t max,
                                                    uint32_t wait_s,
                                                    uint32_t visibility_s) {
  json body{
    {"MaxNumberOfMessages", std::clamp<uint32_t>(max, 1, 10)},
    {"WaitTimeSeconds", std::min<uint32_t>(wait_s, 20)},
    {"VisibilityTimeout", visibility_s},
    {"AttributeNames", json::array({"ApproximateReceiveCount"})},
    {"MessageSystemAttributeNames", json::array({"ApproximateReceiveCount"})}};
  auto doc = call(cfg, "ReceiveMessage", std::move(body),
                  std::chrono::seconds{std::min<uint32_t>(wait_s, 20)});
  if (!doc)
    return std::move(doc.error());
  std::vector<sqs_message> out;
  auto i = doc->find("Messages");
  if (i == doc->end() || !i->is_array())
    return out;
  for (auto& m : *i) {
    if (!m.is_object())
      continue;
    sqs_message x;
    auto str = [&](const char* key) -> std::string {
      auto j = m.find(key);
      return j != m.end() && j->is_string() ? j->get<std::string>() : "";
    };
    x.message_id = str("MessageId");
    x.receipt_handle = str("ReceiptHandle");
    x.body = str("Body");
    if (auto a = m.find("Attributes"); a != m.end() && a->is_object())
      if (auto c = a->find("ApproximateReceiveCount");
          c != a->end() && c->is_string())
        x.receive_count = static_cast<uint32_t>(
          std::strtoul(c->get<std::string>().c_str(), nullptr, 10));
    if (x.receipt_handle.empty())
      continue; // cannot be deleted: SQS shows it again
    out.push_back(std::move(x));
  }
  return out;
}

caf::expected<std::vector<std::string>>
sqs_delete(const sqs_config& cfg, const std::vector<std::string>& receipts) {
  return batch(cfg, "DeleteMessageBatch", receipts, nullptr);
}

caf::expected<std::vector<std::string>>
sqs_extend(const sqs_config& cfg, const std::vector<std::string>& receipts,
           uint32_t seconds) {
  return batch(cfg, "ChangeMessageVisibilityBatch", receipts, &seconds);
}

caf::expected<std::string> sqs_send(const sqs_config& cfg,
                                    const std::string& body) {
  auto doc = call(cfg, "SendMessage", json{{"MessageBody", body}});
  if (!doc)
    return std::move(doc.error());
  auto i = doc->find("MessageId");
  return i != doc->end() && i->is_string() ? i->get<std::string>() : "";
}

caf::expected<std::vector<size_t>>
sqs_send_batch(const sqs_config& cfg, const std::vector<std::string>& bodies) {
  std::vector<size_t> failed;
  if (bodies.empty())
    return failed;
  if (bodies.size() > 10)
    return make_error(errc::invalid_argument,
                      "SQS SendMessageBatch: more than 10 entries");
  json entries = json::array();
  for (size_t i = 0; i < bodies.size(); ++i)
    entries.push_back({{"Id", std::to_string(i)}, {"MessageBody", bodies[i]}});
  auto doc = call(cfg, "SendMessageBatch", json{{"Entries", entries}});
  if (!doc)
    return std::move(doc.error());
  if (auto i = doc->find("Failed"); i != doc->end() && i->is_array())
    for (auto& f : *i)
      if (f.is_object())
        if (auto id = f.find("Id"); id != f.end() && id->is_string()) {
          auto n = std::strtoul(id->get<std::string>().c_str(), nullptr, 10);
          if (n < bodies.size())
            failed.push_back(n);
        }
  return failed;
}

caf::expected<std::map<std::string, std::string>>
sqs_attributes(const sqs_config& cfg) {
  auto doc = call(cfg, "GetQueueAttributes",
                  json{{"AttributeNames", json::array({"All"})}});
  if (!doc)
    return std::move(doc.error());
  std::map<std::string, std::string> out;
  if (auto i = doc->find("Attributes"); i != doc->end() && i->is_object())
    for (auto& [k, v] : i->items())
      if (v.is_string())
        out[k] = v.get<std::string>();
  return out;
}

} // namespace vf::adapters::aws
