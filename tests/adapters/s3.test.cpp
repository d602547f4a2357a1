// Unit tests of vf::adapters::s3's addressing and key sources (no network:
// the client against a real server is integration.s3rver, virtual-hosted
// requests against a botocore-checked double are e2e_s3_aws).

#define CAF_SUITE adapters.s3

#include "vf_test.hpp"

#include "vf/adapters/s3/client.hpp"
#include "vf/adapters/sigv4/sigv4.hpp"
#include "vf/messages/errc.hpp"

#include <string>

using namespace vf::adapters;
using vf::messages::errc;

CAF_TEST(auto picks virtual hosting on AWS for DNS-safe buckets only) {
  using s3::addressing;
  auto aws = "https://s3.eu-west-1.amazonaws.com";
  CAF_CHECK(s3::addressing_for("auto", aws, "uploads")
            == addressing::virtual_hosted);
  CAF_CHECK(
    s3::addressing_for("auto", "https://s3.amazonaws.com:443", "my-bucket-1")
    == addressing::virtual_hosted);
  // Dots break the TLS wildcard *.s3.<region>.amazonaws.com.
  CAF_CHECK(s3::addressing_for("auto", aws, "media.example.com")
            == addressing::path);
  // MinIO, s3rver, a host that only ends like AWS.
  CAF_CHECK(s3::addressing_for("auto", "http://127.0.0.1:9000", "uploads")
            == addressing::path);
  CAF_CHECK(s3::addressing_for("auto", "http://minio.local:9000", "uploads")
            == addressing::path);
  CAF_CHECK(s3::addressing_for("auto", "https://evilamazonaws.com", "uploads")
            == addressing::path);
  CAF_CHECK(s3::addressing_for("auto", "not a url", "uploads")
            == addressing::path);
  // Explicit choices win, unknown ones are refused.
  CAF_CHECK(s3::addressing_for("path", aws, "uploads") == addressing::path);
  CAF_CHECK(s3::addressing_for("virtual", "http://s3.localhost:9000",
                               "media.example.com")
            == addressing::virtual_hosted);
  CAF_CHECK(!s3::addressing_for("vhost", aws, "uploads"));
  CAF_CHECK(!s3::addressing_for("", aws, "uploads"));
}

CAF_TEST(virtual hosting moves the bucket into the host) {
  auto t = s3::target_of("https://s3.eu-west-1.amazonaws.com", "uploads",
                         s3::addressing::virtual_hosted);
  CAF_CHECK_EQUAL(t.endpoint, "https://uploads.s3.eu-west-1.amazonaws.com");
  CAF_CHECK_EQUAL(t.bucket, "");
  t = s3::target_of("http://s3.localhost:9000/base", "uploads",
                    s3::addressing::virtual_hosted);
  CAF_CHECK_EQUAL(t.endpoint, "http://uploads.s3.localhost:9000/base");
  t = s3::target_of("http://127.0.0.1:9000", "uploads", s3::addressing::path);
  CAF_CHECK_EQUAL(t.endpoint, "http://127.0.0.1:9000");
  CAF_CHECK_EQUAL(t.bucket, "uploads");
  // A presigned URL built on it: key in the path, bucket in the host, the
  // session token signed into the query.
  sigv4::presign_params p;
  p.method = "GET";
  t = s3::target_of("https://s3.eu-west-1.amazonaws.com", "uploads",
                    s3::addressing::virtual_hosted);
  p.endpoint = t.endpoint;
  p.bucket = t.bucket;
  p.key = "outputs/ab/thumb small.jpg";
  p.creds = {"ASIAEXAMPLE", "secret", "token/with+chars"};
  p.region = "eu-west-1";
  p.now = 1764950400;
  auto url = sigv4::presign_url(p);
  CAF_CHECK_EQUAL(url.substr(0, url.find('?')),
                  "https://uploads.s3.eu-west-1.amazonaws.com/outputs/ab/"
                  "thumb%20small.jpg");
  CAF_CHECK(url.find("X-Amz-Security-Token=token%2Fwith%2Bchars")
            != std::string::npos);
  CAF_CHECK(url.find("X-Amz-Credential=ASIAEXAMPLE%2F20251205%2Feu-west-1%2F"
                     "s3%2Faws4_request")
            != std::string::npos);
}

CAF_TEST(keys come from the source when there is one) {
  s3::client_config cfg;
  cfg.creds = {"STATIC", "static-secret", ""};
  auto keys = s3::keys_of(cfg);
  CAF_REQUIRE(keys);
  CAF_CHECK_EQUAL(keys->access_key, "STATIC");
  cfg.keys = []() -> caf::expected<sigv4::credentials> {
    return sigv4::credentials{"ASIAROTATED", "s", "t"};
  };
  keys = s3::keys_of(cfg);
  CAF_REQUIRE(keys);
  CAF_CHECK_EQUAL(keys->access_key, "ASIAROTATED");
  CAF_CHECK_EQUAL(keys->session_token, "t");
  cfg.keys = []() -> caf::expected<sigv4::credentials> {
    return vf::messages::make_error(errc::unauthorized, "chain empty");
  };
  keys = s3::keys_of(cfg);
  CAF_REQUIRE(!keys);
  CAF_CHECK_EQUAL(vf::messages::errc_of(keys.error()), errc::unauthorized);
}
