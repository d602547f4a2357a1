// vf/runtime/incident_writer.cpp

#include "vf/runtime/incident_writer.hpp"

#include "caf/send.hpp"
#include "caf/typed_event_based_actor.hpp"

#include "vf/adapters/http/json_views.hpp"
#include "vf/adapters/s3/client.hpp"
#include "vf/messages/errc.hpp"

#include <cstdio>
#include <ctime>
#include <fstream>
#include <random>

namespace vf::runtime {

namespace {

using writer_actor
  = caf::typed_actor<caf::reacts_to<atoms::put, std::string, std::string>>;

} // namespace

std::string incident_key(const std::string& prefix, int64_t generated_at) {
  auto secs = static_cast<std::time_t>(generated_at / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char path[40];
  std::strftime(path, sizeof(path), "%Y/%m/%d/%H%M%SZ", &tm);
  return prefix + path + "-" + std::to_string(generated_at) + ".json";
}

std::function<void(const messages::incident_report&)>
incident_writer_of(node& n, const node_config& cfg) {
  if (cfg.store_mode != store_mode::s3 || cfg.incident_prefix.empty())
    return {};
  auto client = s3_client_config_of(cfg);
  auto bucket = cfg.bucket;
  auto tmp_dir = cfg.data_dir + "/tmp";
  auto& log = n.log();
  auto behavior
    = [client, bucket, tmp_dir, &log]() -> writer_actor::behavior_type {
    return {
      [=, &log](atoms::put, const std::string& key, const std::string& body) {
        // A file first: the S3 client uploads files (and retries nothing).
        std::random_device rd;
        auto path = tmp_dir + "/incident-" + std::to_string(rd()) + ".json";
        {
          std::ofstream out{path, std::ios::binary | std::ios::trunc};
          out << body;
          if (!out) {
            log.warn("dlq",
                     "cannot write " + path + " for incident report " + key);
            return;
          }
        }
        auto res = adapters::s3::put_object_from_file(
          client, bucket, key, path, 30000, "application/json");
        std::remove(path.c_str());
        if (res)
          log.info("dlq",
                   "incident report written to s3://" + bucket + "/" + key);
        else
          log.warn("dlq", "incident report not written to s3://" + bucket + "/"
                            + key + ": " + messages::message_of(res.error())
                            + " (the next report covers the same records)");
      },
    };
  };
  auto writer = n.keep("incident writer", tier::edge,
                       n.system().spawn<caf::detached>(behavior));
  auto prefix = cfg.incident_prefix;
  log.info("dlq", "scheduled incident reports with dead letters go to s3://"
                    + bucket + "/" + prefix);
  return [writer, prefix](const messages::incident_report& r) {
    caf::anon_send(writer, atoms::put_v, incident_key(prefix, r.generated_at),
                   adapters::http::incident_report_json(r));
  };
}

} // namespace vf::runtime
