// vf/runtime/sqs_edge.cpp

#include "vf/runtime/sqs_edge.hpp"

#include <nlohmann/json.hpp>
#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include "caf/send.hpp"

#include "vf/actors/dlq_analyzer.hpp"
#include "vf/adapters/aws/sqs_publisher.hpp"
#include "vf/adapters/minio/events.hpp"
#include "vf/messages/errc.hpp"
#include "vf/runtime/aws_keys.hpp"

#include <ctime>
#include <map>
#include <memory>

namespace vf::runtime {

using messages::errc;
using messages::make_error;

namespace {

/// A counter family `name{outcome}` with every outcome at 0 from the
/// start, and the function the SQS actors count with.
std::function<void(const char*)>
outcome_counter(node& n, const char* name, const char* help,
                std::initializer_list<const char*> outcomes) {
  auto& family
    = prometheus::BuildCounter().Name(name).Help(help).Register(*n.metrics());
  auto counters
    = std::make_shared<std::map<std::string, prometheus::Counter*>>();
  for (auto op : outcomes)
    (*counters)[op] = &family.Add({{"outcome", op}});
  return [counters](const char* op) {
    if (auto i = counters->find(op); i != counters->end())
      i->second->Increment();
  };
}

/// The SQS actors' log lines, under component `sqs`.
std::function<void(bool, const std::string&)> logger_of(node& n,
                                                        std::string prefix) {
  return [&log = n.log(), prefix](bool warn, const std::string& text) {
    if (warn)
      log.warn("sqs", prefix + text);
    else
      log.info("sqs", prefix + text);
  };
}

} // namespace

const std::vector<setting_spec>& sqs_specs() {
  static const std::vector<setting_spec> specs{
    {"sqs.queue_url", "--sqs-queue-url", "",
     "SQS queue that S3 notifies of uploads (directly or through "
     "EventBridge); the coordinator takes object events from it. Empty: no "
     "SQS intake"},
    {"sqs.endpoint", "--sqs-endpoint", "",
     "SQS endpoint URL (empty: the queue URL's scheme and host)"},
    {"sqs.region", "--sqs-region", "",
     "region of the SQS signature (empty: from the queue URL's host, else "
     "us-east-1)"},
    {"sqs.wait_s", "--sqs-wait-s", "5",
     "long-poll wait of one receive, in seconds (0..20); also how long "
     "stopping may wait for the source"},
    {"sqs.visibility_s", "--sqs-visibility-s", "60",
     "how long a received message stays hidden (extended while its events "
     "are being recorded); a message not deleted shows again after it"},
    {"sqs.max_inflight", "--sqs-max-inflight", "100",
     "messages received and not yet deleted, at most"},
    {"sqs.dlq_url", "--sqs-dlq-url", "",
     "SQS queue that gets every failed job (dead letter) as JSON: job_id, "
     "bucket, key, error_code, error_message, recommendation, category "
     "(empty: none)"},
  };
  return specs;
}

caf::expected<std::optional<adapters::aws::sqs_source_config>>
sqs_edge_of(const settings& xs, const std::string& profile) {
  using result = std::optional<adapters::aws::sqs_source_config>;
  auto bad = [&](const std::string& key, const std::string& why) {
    return make_error(errc::invalid_argument,
                      "setting " + key + " (" + xs.origin(key) + ") " + why);
  };
  adapters::aws::sqs_source_config cfg;
  cfg.queue.queue_url = xs.str("sqs.queue_url");
  if (cfg.queue.queue_url.empty())
    return result{};
  cfg.queue.endpoint = xs.str("sqs.endpoint");
  cfg.queue.region = xs.str("sqs.region");
  if (auto err = adapters::aws::complete(cfg.queue)) {
    // Name the setting the message is about.
    auto why = messages::message_of(err);
    auto key = why.rfind("endpoint", 0) == 0 ? "sqs.endpoint"
               : why.rfind("region", 0) == 0 ? "sqs.region"
                                             : "sqs.queue_url";
    return bad(key, why);
  }
#define VF_UINT(var, key, lo, hi)                                              \
  auto var = xs.uint(key, lo, hi);                                             \
  if (!var)                                                                    \
    return std::move(var.error());
  VF_UINT(wait, "sqs.wait_s", 0, 20)
  VF_UINT(vis, "sqs.visibility_s", 2, 43200)
  VF_UINT(inflight, "sqs.max_inflight", 1, 10000)
#undef VF_UINT
  cfg.wait_s = static_cast<uint32_t>(*wait);
  cfg.visibility_s = static_cast<uint32_t>(*vis);
  cfg.max_inflight = *inflight;
  cfg.queue.creds = aws_chain_of(profile);
  cfg.parse = parse_sqs_body;
  return result{std::move(cfg)};
}

caf::expected<std::vector<messages::object_event>>
parse_sqs_body(std::string_view body) {
  auto doc = nlohmann::json::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object())
    return make_error(errc::invalid_argument,
                      "body is not a JSON object (want an S3 event "
                      "notification or an EventBridge S3 event)");
  // S3 → SNS → SQS: the notification is the envelope's Message, as text
  // (raw message delivery off). One level only.
  if (auto t = doc.find("Type"); t != doc.end() && *t == "Notification") {
    auto m = doc.find("Message");
    if (m == doc.end() || !m->is_string())
      return make_error(errc::invalid_argument,
                        "SNS envelope without a Message string");
    auto inner = m->get<std::string>();
    auto inner_doc = nlohmann::json::parse(inner, nullptr, false);
    if (inner_doc.is_discarded() || !inner_doc.is_object()
        || inner_doc.contains("Type"))
      return make_error(errc::invalid_argument,
                        "the SNS envelope's Message is not an S3 event "
                        "notification");
    return parse_sqs_body(inner);
  }
  auto parsed = doc.contains("detail-type")
                  ? adapters::minio::parse_eventbridge(body, "sqs")
                  : adapters::minio::parse_s3_event(body, "sqs");
  if (!parsed)
    return std::move(parsed.error());
  return std::move(parsed->events);
}

std::string dead_letter_message(const messages::job& j) {
  messages::dead_letter dl;
  dl.error_code = j.error_code;
  auto category = actors::classify(dl);
  auto ms = j.updated_at;
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char when[32];
  std::strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
  nlohmann::json doc{{"job_id", j.id},
                     {"bucket", j.object.bucket},
                     {"key", j.object.key},
                     {"filename", j.filename},
                     {"error_code", messages::to_string(j.error_code)},
                     {"error_message", j.error_message},
                     {"category", category},
                     {"recommendation", actors::recommendation(category)},
                     {"failed_at", when},
                     {"source", "vidflow"}};
  return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

caf::expected<std::function<void(const messages::job&, int64_t)>>
dead_letter_feed(node& n, const settings& xs, const std::string& profile,
                 const std::string& data_dir) {
  using result = std::function<void(const messages::job&, int64_t)>;
  adapters::aws::sqs_publisher_config cfg;
  cfg.queue.queue_url = xs.str("sqs.dlq_url");
  if (cfg.queue.queue_url.empty())
    return result{};
  cfg.queue.endpoint = xs.str("sqs.endpoint");
  cfg.queue.region = xs.str("sqs.region");
  if (auto err = adapters::aws::complete(cfg.queue))
    return make_error(errc::invalid_argument,
                      "setting sqs.dlq_url (" + xs.origin("sqs.dlq_url") + ") "
                        + messages::message_of(err));
  cfg.queue.creds = aws_chain_of(profile);
  // Taken messages survive a crash or an outage until SQS has them.
  cfg.outbox_dir = data_dir + "/outbox/sqs-dead-letters";
  cfg.count = outcome_counter(n, "vidflow_sqs_dead_letters_total",
                              "Failed jobs fed to the SQS dead-letter queue "
                              "(sqs.dlq_url): sent, failed (a try that "
                              "failed, kept and retried), dropped (buffer "
                              "full)",
                              {"sent", "failed", "dropped"});
  cfg.log = logger_of(n, "dead-letter feed: ");
  n.log().info("sqs", "failed jobs also go to " + cfg.queue.queue_url);
  auto pub
    = n.keep("sqs dead-letter feed", tier::edge,
             adapters::aws::spawn_sqs_publisher(n.system(), std::move(cfg)));
  return result{[pub](const messages::job& j, int64_t) {
    if (j.status == messages::job_status::failed)
      caf::anon_send(pub, atoms::put_v, dead_letter_message(j));
  }};
}

void start_sqs_source(node& n, adapters::aws::sqs_source_config cfg,
                      messages::object_sink_actor sink) {
  cfg.count = outcome_counter(
    n, "vidflow_sqs_messages_total",
    "What the SQS event source did with messages: received, delivered "
    "(events handed on), deleted, rejected, ignored, retried (left for "
    "redelivery), extended, receive_error, delete_error",
    {"received", "delivered", "deleted", "rejected", "ignored", "retried",
     "extended", "receive_error", "delete_error"});
  cfg.log = logger_of(n, "");
  n.log().info("sqs", "taking object events from " + cfg.queue.queue_url
                        + " (region " + cfg.queue.region + ")");
  n.keep("sqs source", tier::edge,
         adapters::aws::spawn_sqs_source(n.system(), std::move(cfg),
                                         std::move(sink)));
}

} // namespace vf::runtime
