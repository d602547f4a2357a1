#define CAF_SUITE runtime.settings

#include "vf/runtime/settings.hpp"

#include "vf_test.hpp"
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "vf/adapters/http/recipe.hpp"
#include "vf/runtime/logger.hpp"
#include "vf/runtime/node_config.hpp"
#include "vf/runtime/sqs_edge.hpp"

#include <cstdio>
#include <cstdlib>
#include <fstream>

using namespace vf;
using runtime::settings;

namespace {

/// A config file in a temp dir, removed afterwards.
struct temp_file {
  explicit temp_file(const std::string& text) {
    char tmpl[] = "/tmp/vf-settings-XXXXXX";
    auto fd = mkstemp(tmpl);
    CAF_REQUIRE(fd >= 0);
    close(fd);
    path = tmpl;
    std::ofstream{path} << text;
  }
  ~temp_file() {
    std::remove(path.c_str());
  }
  std::string path;
};

const std::string valid = "store.access_key = ak\n"
                          "store.secret_key = secret-key-1\n"
                          "auth.jwt_secret = 0123456789abcdef\n"
                          "auth.users = demo:demo:user\n";

caf::expected<runtime::node_config> parse(std::vector<std::string> args) {
  auto xs = settings::load(runtime::serve_specs(), args);
  if (!xs)
    return xs.error();
  return runtime::make_node_config(*xs);
}

std::string error_of(std::vector<std::string> args) {
  auto cfg = parse(std::move(args));
  CAF_REQUIRE(!cfg);
  return messages::message_of(cfg.error());
}

bool contains(const std::string& haystack, const std::string& needle) {
  if (haystack.find(needle) == std::string::npos) {
    CAF_MESSAGE("'" << needle << "' not in: " << haystack);
    return false;
  }
  return true;
}

} // namespace

CAF_TEST(env names follow the key) {
  CAF_CHECK_EQUAL(runtime::env_name("http.port"), "VIDFLOW_HTTP_PORT");
  CAF_CHECK_EQUAL(runtime::env_name("store.max_upload_bytes"),
                  "VIDFLOW_STORE_MAX_UPLOAD_BYTES");
}

CAF_TEST(flags beat the environment which beats the file) {
  temp_file f{valid + "http.port = 8100\nworkers.count = 3\n"};
  auto cfg = parse({"--config", f.path});
  CAF_REQUIRE(cfg);
  CAF_CHECK_EQUAL(cfg->http_port, 8100u);
  CAF_CHECK_EQUAL(cfg->workers, 3u);
  CAF_CHECK_EQUAL(cfg->bucket, "uploads"); // default
  setenv("VIDFLOW_HTTP_PORT", "8200", 1);
  cfg = parse({"--config", f.path});
  CAF_REQUIRE(cfg);
  CAF_CHECK_EQUAL(cfg->http_port, 8200u);
  cfg = parse({"--config=" + f.path, "--http-port", "8300"});
  CAF_REQUIRE(cfg);
  CAF_CHECK_EQUAL(cfg->http_port, 8300u);
  unsetenv("VIDFLOW_HTTP_PORT");
}

CAF_TEST(derived defaults) {
  temp_file f{valid + "store.port = 9100\n"};
  auto cfg = parse({"--config", f.path});
  CAF_REQUIRE(cfg);
  CAF_CHECK_EQUAL(cfg->public_url, "http://127.0.0.1:9100");
  CAF_REQUIRE_EQUAL(cfg->users.size(), 1u);
  CAF_CHECK_EQUAL(cfg->users[0].role, "user");
  CAF_CHECK_EQUAL(cfg->max_upload_bytes, uint64_t{5} << 30);
  CAF_CHECK_EQUAL(cfg->upload_grace.count(), 60);
  CAF_CHECK_EQUAL(cfg->expire_sweep.count(), 60);
  CAF_CHECK_EQUAL(cfg->commit_delay.count(), 1000);
  CAF_CHECK_EQUAL(cfg->memory_trim_interval.count(), 60);
  CAF_CHECK(cfg->scheduler == runtime::scheduler_policy::sharing);
  cfg = parse({"--config", f.path, "--scheduler", "stealing"});
  CAF_REQUIRE(cfg);
  CAF_CHECK(cfg->scheduler == runtime::scheduler_policy::stealing);
  // The edges of their ranges are taken.
  cfg = parse({"--config", f.path, "--upload-grace-s", "0",
               "--expire-sweep-s", "1", "--commit-delay-us", "0",
               "--memory-trim-interval-s", "0"});
  CAF_REQUIRE(cfg);
  CAF_CHECK_EQUAL(cfg->commit_delay.count(), 0);
  CAF_CHECK_EQUAL(cfg->memory_trim_interval.count(), 0);
  CAF_CHECK_EQUAL(cfg->upload_grace.count(), 0);
  CAF_CHECK_EQUAL(cfg->expire_sweep.count(), 1);
}

CAF_TEST(bad settings are named) {
  temp_file f{valid};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args{"--config", f.path};
    args.insert(args.end(), extra.begin(), extra.end());
    return error_of(args);
  };
  CAF_CHECK(contains(with({"--http-port", "eighty"}), "http.port"));
  CAF_CHECK(contains(with({"--http-port", "70000"}), "0 to 65535"));
  CAF_CHECK(contains(with({"--store-mode", "ftp"}), "store.mode"));
  CAF_CHECK(contains(with({"--store-mode", "s3"}), "store.endpoint"));
  CAF_CHECK(contains(with({"--jwt-secret", "short"}), "auth.jwt_secret"));
  CAF_CHECK(contains(with({"--users", "demo"}), "auth.users"));
  CAF_CHECK(contains(with({"--users", "a:b:root"}), "role"));
  CAF_CHECK(contains(with({"--max-upload-bytes", "5 parsecs"}),
                     "store.max_upload_bytes"));
  CAF_CHECK(contains(with({"--log-level", "loud"}), "log.level"));
  CAF_CHECK(contains(with({"--bucket", "Bad_Bucket"}), "store.bucket"));
  CAF_CHECK(contains(with({"--no-such-flag", "1"}), "--no-such-flag"));
  CAF_CHECK(contains(with({"--http-port"}), "needs a value"));
  // Steps whose inputs do not fit fail every job: refused at start-up.
  CAF_CHECK(contains(with({"--pipeline", "probe,sleep,summarize"}),
                     "pipeline.steps"));
  CAF_CHECK(contains(with({"--pipeline", "summarize"}), "after 'probe'"));
  // The webhook: a short secret, and s3 mode without one (its only
  // source of events would be open to anyone, or closed).
  CAF_CHECK(contains(with({"--webhook-token", "short"}), "webhook.token"));
  CAF_CHECK(contains(with({"--store-mode", "s3", "--store-endpoint",
                           "http://127.0.0.1:9"}),
                     "webhook.token"));
  CAF_CHECK(contains(with({"--webhook-max-records", "0"}),
                     "webhook.max_records"));
  CAF_CHECK(contains(with({"--scheduler", "fifo"}), "scheduler.policy"));
  // Expiry: a sweep every 0 s would spin; more than a day is a typo.
  CAF_CHECK(contains(with({"--expire-sweep-s", "0"}), "store.expire_sweep_s"));
  CAF_CHECK(contains(with({"--expire-sweep-s", "86401"}),
                     "store.expire_sweep_s"));
  CAF_CHECK(contains(with({"--upload-grace-s", "86401"}),
                     "store.upload_grace_s"));
  CAF_CHECK(contains(with({"--upload-grace-s", "-1"}),
                     "store.upload_grace_s"));
  // A commit held for more than 0.1 s is a typo (seconds for microseconds).
  CAF_CHECK(contains(with({"--commit-delay-us", "100001"}),
                     "data.commit_delay_us"));
  CAF_CHECK(contains(with({"--memory-trim-interval-s", "86401"}),
                     "memory.trim_interval_s"));
  CAF_CHECK(contains(error_of({}), "store.access_key"));
  temp_file bad_key{valid + "http.prot = 1\n"};
  CAF_CHECK(contains(error_of({"--config", bad_key.path}), ":5: unknown "
                                                            "setting "
                                                            "'http.prot'"));
  CAF_CHECK(contains(error_of({"--config", "/nonexistent/vidflow.conf"}),
                     "/nonexistent/vidflow.conf"));
}

CAF_TEST(sizes take units) {
  temp_file f{valid + "store.max_upload_bytes = 64KiB\n"
                      "http.max_body_bytes = 10MB\n"};
  auto cfg = parse({"--config", f.path});
  CAF_REQUIRE(cfg);
  CAF_CHECK_EQUAL(cfg->max_upload_bytes, 65536u);
  CAF_CHECK_EQUAL(cfg->http_max_body, 10000000u);
  CAF_CHECK_EQUAL(cfg->memory_budget_mb, 0u); // From the machine.
  cfg = parse({"--config", f.path, "--memory-budget", "6GiB"});
  CAF_REQUIRE(cfg);
  CAF_CHECK_EQUAL(cfg->memory_budget_mb, 6144u);
  CAF_CHECK(!parse({"--config", f.path, "--memory-budget", "512KiB"}));
  CAF_CHECK(!parse({"--config", f.path, "--memory-budget", "lots"}));
}

CAF_TEST(an s3 store on AWS takes the chain and virtual hosting) {
  // No keys in the file: the AWS chain signs.
  temp_file f{"auth.jwt_secret = 0123456789abcdef\n"
              "auth.users = demo:demo:user\n"
              "webhook.token = 0123456789abcdef0123\n"};
  auto base = std::vector<std::string>{
    "--config", f.path,     "--store-mode", "s3", "--store-credentials",
    "aws",      "--region", "eu-west-1"};
  auto cfg = parse(base);
  CAF_REQUIRE(cfg);
  CAF_CHECK(cfg->store_aws_credentials);
  CAF_CHECK_EQUAL(cfg->store_endpoint, "https://s3.eu-west-1.amazonaws.com");
  CAF_CHECK(cfg->store_style == adapters::s3::addressing::virtual_hosted);
  CAF_CHECK_EQUAL(cfg->multipart_threshold, uint64_t{64} << 20);
  CAF_CHECK_EQUAL(cfg->part_size, uint64_t{16} << 20);
  auto s3 = runtime::s3_client_config_of(*cfg);
  CAF_CHECK(static_cast<bool>(s3.keys));
  CAF_CHECK(s3.style == adapters::s3::addressing::virtual_hosted);
  auto with = [&](std::vector<std::string> extra) {
    auto args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  };
  cfg = parse(with({"--store-addressing", "path", "--multipart-threshold", "0",
                    "--part-size", "8MiB"}));
  CAF_REQUIRE(cfg);
  CAF_CHECK(cfg->store_style == adapters::s3::addressing::path);
  CAF_CHECK_EQUAL(cfg->multipart_threshold, 0u);
  CAF_CHECK_EQUAL(cfg->part_size, uint64_t{8} << 20);
  // MinIO with keys: path style, no chain.
  temp_file keys{valid + "webhook.token = 0123456789abcdef0123\n"};
  cfg = parse({"--config", keys.path, "--store-mode", "s3", "--store-endpoint",
               "http://127.0.0.1:9000"});
  CAF_REQUIRE(cfg);
  CAF_CHECK(!cfg->store_aws_credentials);
  CAF_CHECK(cfg->store_style == adapters::s3::addressing::path);
  CAF_CHECK(!runtime::s3_client_config_of(*cfg).keys);
  CAF_CHECK(contains(error_of(with({"--store-addressing", "vhost"})),
                     "store.addressing"));
  CAF_CHECK(
    contains(error_of(with({"--part-size", "1MiB"})), "store.part_size"));
  CAF_CHECK(cfg->s3_deletes);
  CAF_CHECK(!parse(with({"--store-delete-objects", "0"}))->s3_deletes);
  CAF_CHECK(contains(error_of(with({"--store-delete-objects", "yes"})),
                     "store.delete_objects"));
  CAF_CHECK(contains(error_of(with({"--store-credentials", "iam"})),
                     "store.credentials"));
  // The built-in store checks its own keys.
  CAF_CHECK(
    contains(error_of({"--config", keys.path, "--store-credentials", "aws"}),
             "store.mode = s3"));
  // Keys mode still needs them.
  CAF_CHECK(contains(error_of({"--config", f.path, "--store-mode", "s3",
                               "--store-endpoint", "http://127.0.0.1:9000"}),
                     "store.access_key"));
}

CAF_TEST(render settings are checked and named) {
  temp_file f{valid};
  auto cfg = parse({"--config", f.path});
  CAF_REQUIRE(cfg);
  CAF_CHECK_EQUAL(cfg->reserve_after.count(), 30000);
  CAF_CHECK(cfg->reuse_outputs);
  cfg = parse({"--config", f.path, "--reserve-after-s", "0",
               "--reuse-outputs", "0"});
  CAF_REQUIRE(cfg);
  CAF_CHECK_EQUAL(cfg->reserve_after.count(), 0);
  CAF_CHECK(!cfg->reuse_outputs);
  CAF_CHECK(contains(error_of({"--config", f.path, "--reuse-outputs", "2"}),
                     "outputs.reuse"));
  CAF_CHECK(contains(error_of({"--config", f.path, "--reserve-after-s",
                               "-3"}),
                     "workers.reserve_after_s"));
  // A render is never a configured step; it follows them.
  CAF_CHECK(contains(error_of({"--config", f.path, "--pipeline",
                               "probe,render"}),
                     "pipeline.steps"));
}

CAF_TEST(an ingestion node needs its coordinator and the ingest key) {
  temp_file f{valid};
  CAF_CHECK(contains(error_of({"--config", f.path, "--join", "nohost"}),
                     "ingest.join"));
  // TLS files first, then the key.
  CAF_CHECK(contains(error_of({"--config", f.path, "--join", "c:4242"}),
                     "cluster."));
  temp_file key{"0123456789abcdef0123456789abcdef0123\n"};
  temp_file short_key{"short\n"};
  CAF_CHECK(contains(error_of({"--config", f.path, "--cluster-ingest-key",
                               short_key.path}),
                     "cluster.ingest_key"));
  auto cfg = parse({"--config", f.path, "--cluster-ingest-key", key.path});
  CAF_REQUIRE(cfg);
  CAF_CHECK_EQUAL(cfg->cluster.ingest_key,
                  "0123456789abcdef0123456789abcdef0123");
  CAF_CHECK_EQUAL(cfg->join.port, 0u);
}

CAF_TEST(job requests from ingestion nodes are checked like a client) {
  temp_file f{valid};
  auto cfg = parse({"--config", f.path});
  CAF_REQUIRE(cfg);
  auto check = runtime::intake_request_check(*cfg);
  auto recipe = adapters::http::canonical_recipe(nlohmann::json::parse(
    R"({"thumbnails":["small",{"width":200,"height":200}],)"
    R"("thumbnail_at":2.5,"renditions":["720p","360p"]})"));
  CAF_REQUIRE(recipe.error.empty());
  messages::job_request good;
  good.owner = "alice";
  good.filename = "clip.mp4";
  good.content_type = "video/mp4";
  good.outputs = recipe.canonical;
  good.idempotency_key = "k-1";
  auto x = good;
  CAF_CHECK(!check(x));
  CAF_CHECK_EQUAL(x.outputs, recipe.canonical);
  auto refused = [&](auto change) {
    auto y = good;
    change(y);
    auto err = check(y);
    return err && messages::errc_of(err) == messages::errc::invalid_argument;
  };
  using req = messages::job_request;
  CAF_CHECK(refused([](req& y) { y.owner = ""; }));
  CAF_CHECK(refused([](req& y) { y.owner = "../admin"; }));
  CAF_CHECK(refused([](req& y) { y.priority = 7; }));
  CAF_CHECK(refused([](req& y) { y.content_type = "a\r\nb"; }));
  // Recipes the API would never store: a name that is a path, more
  // renditions than allowed, an upscaled box, not JSON, not canonical.
  CAF_CHECK(refused([](req& y) {
    y.outputs = R"({"renditions":[{"name":"../x","height":720}]})";
  }));
  CAF_CHECK(refused([](req& y) {
    y.outputs = R"({"thumbnails":[{"name":"huge","width":9000,)"
                R"("height":9000}]})";
  }));
  CAF_CHECK(refused([](req& y) { y.outputs = "{"; }));
  CAF_CHECK(refused([](req& y) { y.outputs = R"({"renditions":["720p"]})"; }));
  CAF_CHECK(refused([](req& y) { y.callback_url = "file:///etc/passwd"; }));
  CAF_CHECK(refused([](req& y) { y.idempotency_key = std::string(300, 'k'); }));
  CAF_CHECK(refused([](req& y) { y.request_id = "a\nb"; }));
}

CAF_TEST(worker nodes run renders and compositions by default and name bad kinds) {
  // Only checked for being readable here.
  temp_file pem{"-----BEGIN CERTIFICATE-----\n"};
  auto worker = [&pem](std::vector<std::string> args) {
    args.insert(args.begin(),
                {"--join", "127.0.0.1:4242", "--cluster-ca", pem.path,
                 "--cluster-cert", pem.path, "--cluster-key", pem.path});
    auto xs = settings::load(runtime::worker_specs(), args);
    CAF_REQUIRE(xs);
    return runtime::make_worker_config(*xs);
  };
  auto cfg = worker({});
  CAF_REQUIRE(cfg);
  CAF_CHECK_EQUAL(cfg->kinds,
                  (std::vector<std::string>{"probe", "summarize", "sleep",
                                            "render", "compose"}));
  auto bad = worker({"--kinds", "probe,transcode"});
  CAF_REQUIRE(!bad);
  auto msg = messages::message_of(bad.error());
  CAF_CHECK(contains(msg, "worker.kinds"));
  CAF_CHECK(contains(msg, "transcode"));
}

CAF_TEST(json log lines are one object with the fields) {
  using runtime::log_format;
  using runtime::log_level;
  using runtime::logger;
  auto line = logger::format_line(
    log_format::json, "2026-12-05T03:19:13.453Z", log_level::warning,
    "worker", "failed probe: bad \"media\"\nsecond line \xff\x01 caf\xc3\xa9",
    {{"job_id", "j1"}, {"request_id", "req-42"}});
  CAF_CHECK_EQUAL(line,
                  R"({"ts":"2026-12-05T03:19:13.453Z","level":"warning",)"
                  R"("component":"worker","msg":"failed probe: bad )"
                  R"(\"media\"\nsecond line )"
                  "\xef\xbf\xbd"
                  R"(\u0001 caf)"
                  "\xc3\xa9"
                  R"(",)"
                  R"("job_id":"j1","request_id":"req-42"})");
  // Text lines stay one line too, fields after the text.
  auto text = logger::format_line(log_format::text, "T", log_level::info,
                                  "orchestrator", "job ended\nFAILED",
                                  {{"job_id", "j1"}});
  CAF_CHECK_EQUAL(text, "T INFO  orchestrator: job ended FAILED job_id=j1");
  log_format f = log_format::text;
  CAF_CHECK(logger::parse(std::string{"json"}, f));
  CAF_CHECK(f == log_format::json);
  CAF_CHECK(!logger::parse(std::string{"yaml"}, f));
}

CAF_TEST(adapter problems are logged as warnings and errors) {
  using runtime::log_level;
  using runtime::logger;
  auto c = [](const std::string& line) {
    return logger::classify_adapter_line(line);
  };
  // The review saw ENOSPC and accept failures logged at INFO.
  auto [lvl, text] = c("objectstore: ERROR fsync: No space left on device");
  CAF_CHECK(lvl == log_level::error);
  CAF_CHECK_EQUAL(text, "objectstore: fsync: No space left on device");
  CAF_CHECK(c("http api: WARN accept failed: Too many open files").first
            == log_level::warning);
  CAF_CHECK(c("objectstore: listening on 127.0.0.1:9000").first
            == log_level::info);
  // A marker elsewhere in the text is just text.
  CAF_CHECK(c("objectstore: stored x/ERROR y").first == log_level::info);
}

CAF_TEST(sqs bodies in every shape S3 delivers them) {
  using vf::runtime::parse_sqs_body;
  auto s3 = std::string{R"({"Records":[{"eventVersion":"2.1",
    "eventSource":"aws:s3","eventName":"ObjectCreated:Put",
    "s3":{"bucket":{"name":"uploads"},
          "object":{"key":"uploads/j1/beach+day.mp4","size":5,"eTag":"e1"}}}]})"};
  auto direct = parse_sqs_body(s3);
  CAF_REQUIRE(direct);
  CAF_REQUIRE_EQUAL(direct->size(), 1u);
  CAF_CHECK_EQUAL((*direct)[0].object.key, "uploads/j1/beach day.mp4");
  CAF_CHECK_EQUAL((*direct)[0].source, "sqs");
  auto eb = parse_sqs_body(R"({"version":"0","detail-type":"Object Created",
    "source":"aws.s3","detail":{"bucket":{"name":"uploads"},
    "object":{"key":"uploads/j2/x.mp4","size":7,"etag":"e2"},
    "reason":"PutObject"}})");
  CAF_REQUIRE(eb);
  CAF_REQUIRE_EQUAL(eb->size(), 1u);
  CAF_CHECK_EQUAL((*eb)[0].object.key, "uploads/j2/x.mp4");
  nlohmann::json sns{{"Type", "Notification"},
                     {"MessageId", "m"},
                     {"TopicArn", "arn:aws:sns:eu-west-1:1:t"},
                     {"Message", s3}};
  auto wrapped = parse_sqs_body(sns.dump());
  CAF_REQUIRE(wrapped);
  CAF_REQUIRE_EQUAL(wrapped->size(), 1u);
  CAF_CHECK_EQUAL((*wrapped)[0].object.key, "uploads/j1/beach day.mp4");
  // Envelopes in envelopes, envelopes without a message, junk: refused.
  nlohmann::json twice{{"Type", "Notification"}, {"Message", sns.dump()}};
  for (auto bad : {twice.dump(), std::string{R"({"Type":"Notification"})"},
                   std::string{R"({"Type":"Notification","Message":"x"})"},
                   std::string{"not json"}, std::string{"[]"},
                   std::string{R"({"Records":5})"}})
    if (parse_sqs_body(bad))
      CAF_FAIL("accepted: " << bad);
  // A test event is no upload: nothing to do, no error.
  auto test_event = parse_sqs_body(
    R"({"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"uploads"})");
  CAF_REQUIRE(test_event);
  CAF_CHECK(test_event->empty());
}
