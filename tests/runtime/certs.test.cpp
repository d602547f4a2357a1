#define CAF_SUITE runtime.certs

#include "vf/runtime/certs.hpp"

#include "vf_test.hpp"

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <sys/stat.h>

using namespace vf;
using runtime::cert_options;

namespace {

template <class T, void (*Free)(T*)>
struct ossl_deleter {
  void operator()(T* ptr) const {
    Free(ptr);
  }
};

using x509_ptr = std::unique_ptr<X509, ossl_deleter<X509, X509_free>>;
using pkey_ptr
  = std::unique_ptr<EVP_PKEY, ossl_deleter<EVP_PKEY, EVP_PKEY_free>>;
using store_ptr
  = std::unique_ptr<X509_STORE, ossl_deleter<X509_STORE, X509_STORE_free>>;
using store_ctx_ptr
  = std::unique_ptr<X509_STORE_CTX,
                    ossl_deleter<X509_STORE_CTX, X509_STORE_CTX_free>>;

x509_ptr load_cert(const std::string& path) {
  x509_ptr result;
  if (auto* f = std::fopen(path.c_str(), "r")) {
    result.reset(PEM_read_X509(f, nullptr, nullptr, nullptr));
    std::fclose(f);
  }
  return result;
}

pkey_ptr load_key(const std::string& path) {
  pkey_ptr result;
  if (auto* f = std::fopen(path.c_str(), "r")) {
    result.reset(PEM_read_PrivateKey(f, nullptr, nullptr, nullptr));
    std::fclose(f);
  }
  return result;
}

/// Verifies the certificate at `cert_path` against the CA at `ca_path` for
/// `purpose`; returns X509_V_OK or the verification error.
int verify(const std::string& ca_path, const std::string& cert_path,
           int purpose) {
  auto ca = load_cert(ca_path);
  auto cert = load_cert(cert_path);
  if (!ca || !cert)
    return -1;
  store_ptr store{X509_STORE_new()};
  store_ctx_ptr ctx{X509_STORE_CTX_new()};
  if (!store || !ctx || X509_STORE_add_cert(store.get(), ca.get()) != 1
      || X509_STORE_CTX_init(ctx.get(), store.get(), cert.get(), nullptr) != 1
      || X509_STORE_CTX_set_purpose(ctx.get(), purpose) != 1)
    return -2;
  if (X509_verify_cert(ctx.get()) == 1)
    return X509_V_OK;
  auto err = X509_STORE_CTX_get_error(ctx.get());
  return err == X509_V_OK ? -3 : err;
}

std::string slurp(const std::string& path) {
  std::ifstream in{path};
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

int mode_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return -1;
  return static_cast<int>(st.st_mode & 07777);
}

bool exists(const std::string& path) {
  return std::filesystem::exists(path);
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

/// A fresh temp dir per test; the certificates go to its subdirectory
/// `certs`, which init_certs must create.
struct fixture {
  fixture() {
    char tmpl[] = "/tmp/vf-certs-XXXXXX";
    auto* res = ::mkdtemp(tmpl);
    CAF_REQUIRE(res != nullptr);
    root = res;
    dir = root + "/certs";
  }

  ~fixture() {
    std::error_code ec;
    std::filesystem::remove_all(root, ec);
  }

  /// Runs init_certs with `nodes` in `dir`; returns the error text and
  /// stores the progress output in `out`.
  std::string run(std::vector<std::string> nodes, cert_options opts = {}) {
    opts.dir = dir;
    opts.nodes = std::move(nodes);
    std::ostringstream progress;
    auto err = runtime::init_certs(opts, progress);
    out = progress.str();
    CAF_MESSAGE("progress: " << out);
    if (!err.empty())
      CAF_MESSAGE("error: " << err);
    return err;
  }

  std::string file(const std::string& name) const {
    return dir + "/" + name;
  }

  std::string root;
  std::string dir;
  std::string out;
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(certs_tests, fixture)

CAF_TEST(node certificates verify against the CA as client and server) {
  std::vector<std::string> nodes{"coordinator", "worker-1", "worker_2.a"};
  CAF_REQUIRE_EQUAL(run(nodes), "");
  CAF_CHECK_EQUAL(mode_of(dir), 0700);
  CAF_CHECK_EQUAL(mode_of(file("ca.key")), 0600);
  auto ca = load_cert(file("ca.pem"));
  CAF_REQUIRE(ca != nullptr);
  CAF_CHECK_EQUAL(X509_check_ca(ca.get()), 1);
  auto ca_key = load_key(file("ca.key"));
  CAF_REQUIRE(ca_key != nullptr);
  CAF_CHECK_EQUAL(X509_check_private_key(ca.get(), ca_key.get()), 1);
  std::vector<std::string> serials;
  for (auto& node : nodes) {
    CAF_MESSAGE("node " << node);
    auto pem = file(node + ".pem");
    auto key_path = file(node + ".key");
    CAF_CHECK_EQUAL(verify(file("ca.pem"), pem, X509_PURPOSE_SSL_SERVER),
                    X509_V_OK);
    CAF_CHECK_EQUAL(verify(file("ca.pem"), pem, X509_PURPOSE_SSL_CLIENT),
                    X509_V_OK);
    CAF_CHECK_EQUAL(mode_of(key_path), 0600);
    // PKCS#8, unencrypted.
    CAF_CHECK(contains(slurp(key_path), "-----BEGIN PRIVATE KEY-----"));
    auto cert = load_cert(pem);
    auto key = load_key(key_path);
    CAF_REQUIRE(cert != nullptr && key != nullptr);
    CAF_CHECK_EQUAL(X509_check_private_key(cert.get(), key.get()), 1);
    CAF_CHECK_EQUAL(X509_check_private_key(cert.get(), ca_key.get()), 0);
    CAF_CHECK_EQUAL(X509_check_ca(cert.get()), 0);
    CAF_CHECK_EQUAL(X509_check_host(cert.get(), node.c_str(), 0, 0, nullptr),
                    1);
    CAF_CHECK_EQUAL(X509_check_host(cert.get(), "localhost", 0, 0, nullptr), 1);
    CAF_CHECK_EQUAL(X509_check_ip_asc(cert.get(), "127.0.0.1", 0), 1);
    CAF_CHECK_EQUAL(X509_check_host(cert.get(), "other", 0, 0, nullptr), 0);
    CAF_CHECK_EQUAL(EVP_PKEY_get_bits(key.get()), 256);
    auto* serial = X509_get0_serialNumber(cert.get());
    serials.emplace_back(reinterpret_cast<const char*>(serial->data),
                         static_cast<size_t>(serial->length));
    CAF_CHECK_GREATER_OR_EQUAL(serials.back().size(), 8u);
    // Progress never shows key material.
    CAF_CHECK(!contains(out, "PRIVATE KEY"));
    CAF_CHECK(!contains(out, slurp(key_path).substr(100, 40)));
  }
  CAF_CHECK_NOT_EQUAL(serials[0], serials[1]);
  CAF_CHECK_NOT_EQUAL(serials[1], serials[2]);
}

CAF_TEST(a certificate of another CA does not verify) {
  CAF_REQUIRE_EQUAL(run({"worker"}), "");
  auto first_ca = root + "/first-ca.pem";
  std::filesystem::copy_file(file("ca.pem"), first_ca);
  std::filesystem::remove_all(dir);
  CAF_REQUIRE_EQUAL(run({"worker"}), "");
  CAF_CHECK_EQUAL(
    verify(file("ca.pem"), file("worker.pem"), X509_PURPOSE_SSL_CLIENT),
    X509_V_OK);
  CAF_CHECK_EQUAL(verify(first_ca, file("worker.pem"), X509_PURPOSE_SSL_CLIENT),
                  X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
}

CAF_TEST(existing node files are only replaced with force) {
  CAF_REQUIRE_EQUAL(run({"coordinator", "worker"}), "");
  auto ca_before = slurp(file("ca.pem"));
  auto pem_before = slurp(file("worker.pem"));
  auto key_before = slurp(file("worker.key"));
  auto err = run({"worker"});
  CAF_CHECK(contains(err, file("worker.pem")));
  CAF_CHECK(contains(err, "use --force"));
  CAF_CHECK_EQUAL(slurp(file("worker.pem")), pem_before);
  CAF_CHECK_EQUAL(slurp(file("worker.key")), key_before);
  // A refused run writes nothing, not even the nodes that are new.
  CAF_CHECK(!run({"fresh", "worker"}).empty());
  CAF_CHECK(!exists(file("fresh.pem")));
  CAF_CHECK(!exists(file("fresh.key")));
  cert_options opts;
  opts.force = true;
  CAF_REQUIRE_EQUAL(run({"worker"}, opts), "");
  CAF_CHECK_NOT_EQUAL(slurp(file("worker.pem")), pem_before);
  CAF_CHECK_NOT_EQUAL(slurp(file("worker.key")), key_before);
  CAF_CHECK_EQUAL(mode_of(file("worker.key")), 0600);
  CAF_CHECK_EQUAL(slurp(file("ca.pem")), ca_before);
  CAF_CHECK_EQUAL(
    verify(file("ca.pem"), file("worker.pem"), X509_PURPOSE_SSL_SERVER),
    X509_V_OK);
  // No temporary files left behind.
  size_t files = 0;
  for (auto& entry : std::filesystem::directory_iterator{dir}) {
    CAF_CHECK(!contains(entry.path().string(), ".tmp-"));
    ++files;
  }
  // CA, 2 nodes, admin.pem/.key, admin.secret, ingest.secret
  CAF_CHECK_EQUAL(files, 10u);
}

CAF_TEST(the admin client certificate is made once and is client only) {
  CAF_REQUIRE_EQUAL(run({"coordinator"}), "");
  auto pem = slurp(file("admin.pem"));
  CAF_CHECK_EQUAL(mode_of(file("admin.key")), 0600);
  CAF_CHECK_EQUAL(
    verify(file("ca.pem"), file("admin.pem"), X509_PURPOSE_SSL_CLIENT),
    X509_V_OK);
  CAF_CHECK_NOT_EQUAL(
    verify(file("ca.pem"), file("admin.pem"), X509_PURPOSE_SSL_SERVER),
    X509_V_OK);
  // Adding a node keeps it; no node may take its name.
  CAF_REQUIRE_EQUAL(run({"w9"}), "");
  CAF_CHECK_EQUAL(slurp(file("admin.pem")), pem);
  CAF_CHECK_NOT_EQUAL(run({"admin"}), "");
  // Reissuing node files with --force keeps operators' access.
  cert_options opts;
  opts.force = true;
  CAF_REQUIRE_EQUAL(run({"w9"}, opts), "");
  CAF_CHECK_EQUAL(slurp(file("admin.pem")), pem);
}

CAF_TEST(the cluster admin and ingest secrets are made once and kept private) {
  CAF_REQUIRE_EQUAL(run({"coordinator"}), "");
  auto secret = slurp(file("admin.secret"));
  auto ingest = slurp(file("ingest.secret"));
  for (auto& x : {secret, ingest}) {
    CAF_REQUIRE_EQUAL(x.size(), 65u);
    CAF_CHECK_EQUAL(x.find_first_not_of("0123456789abcdef"), 64u);
  }
  CAF_CHECK_EQUAL(mode_of(file("admin.secret")), 0600);
  CAF_CHECK_EQUAL(mode_of(file("ingest.secret")), 0600);
  // Two secrets, not one under two names.
  CAF_CHECK_NOT_EQUAL(secret, ingest);
  // Adding a node keeps them: operators and the coordinator already hold
  // them.
  CAF_REQUIRE_EQUAL(run({"w9"}), "");
  CAF_CHECK_EQUAL(slurp(file("admin.secret")), secret);
  CAF_CHECK_EQUAL(slurp(file("ingest.secret")), ingest);
}

CAF_TEST(a node added later is signed by the existing CA) {
  CAF_REQUIRE_EQUAL(run({"coordinator", "worker-1"}), "");
  auto original_ca = root + "/original-ca.pem";
  std::filesystem::copy_file(file("ca.pem"), original_ca);
  auto ca_key_before = slurp(file("ca.key"));
  CAF_REQUIRE_EQUAL(run({"worker-5"}), "");
  CAF_CHECK(contains(out, "using existing CA " + file("ca.pem")));
  CAF_CHECK_EQUAL(slurp(file("ca.key")), ca_key_before);
  CAF_CHECK_EQUAL(
    verify(original_ca, file("worker-5.pem"), X509_PURPOSE_SSL_CLIENT),
    X509_V_OK);
  CAF_CHECK_EQUAL(
    verify(original_ca, file("worker-5.pem"), X509_PURPOSE_SSL_SERVER),
    X509_V_OK);
  // Without reuse, an existing CA is only replaced with force.
  cert_options opts;
  opts.reuse_ca = false;
  auto err = run({"worker-6"}, opts);
  CAF_CHECK(contains(err, file("ca.pem")));
  CAF_CHECK(contains(err, "--force"));
  // Half a CA is an error that names the missing file.
  std::filesystem::remove(file("ca.key"));
  err = run({"worker-7"});
  CAF_CHECK(contains(err, file("ca.key")));
  CAF_CHECK(!exists(file("worker-7.pem")));
}

CAF_TEST(backdated certificates are expired) {
  cert_options opts;
  opts.days = 1;
  opts.backdate_days = 30;
  CAF_REQUIRE_EQUAL(run({"old"}, opts), "");
  CAF_CHECK_EQUAL(
    verify(file("ca.pem"), file("old.pem"), X509_PURPOSE_SSL_CLIENT),
    X509_V_ERR_CERT_HAS_EXPIRED);
  // The same CA still signs valid certificates.
  CAF_REQUIRE_EQUAL(run({"new"}), "");
  CAF_CHECK_EQUAL(
    verify(file("ca.pem"), file("new.pem"), X509_PURPOSE_SSL_CLIENT),
    X509_V_OK);
}

CAF_TEST(invalid node names are refused) {
  for (auto name :
       {"../x", "", "ca", "admin", "a b", "-rf", ".hidden", "x/y", "n\xc3\xa9"}) {
    auto err = run({name});
    CAF_CHECK(!err.empty());
    CAF_CHECK(!exists(dir));
  }
  CAF_CHECK(contains(run({"../x"}), "'../x'"));
  CAF_CHECK(!run({std::string(65, 'a')}).empty());
  CAF_CHECK(!run({"a", "a"}).empty());
  CAF_CHECK(!run({}).empty());
  CAF_CHECK(!exists(dir));
  CAF_CHECK_EQUAL(run({std::string(64, 'a')}), "");
}

CAF_TEST(the command line) {
  using runtime::cluster_command;
  CAF_CHECK_EQUAL(cluster_command({"--help"}), 0);
  CAF_CHECK_EQUAL(cluster_command({"init-certs", "--help"}), 0);
  CAF_CHECK_EQUAL(cluster_command({"init-certs", "-h"}), 0);
  CAF_CHECK_EQUAL(cluster_command({}), 2);
  CAF_CHECK_EQUAL(cluster_command({"no-such-command"}), 2);
  CAF_CHECK_EQUAL(cluster_command({"init-certs", "--dir", dir, "--bogus"}), 2);
  CAF_CHECK_EQUAL(cluster_command({"init-certs", "--dir"}), 2);
  CAF_CHECK_EQUAL(cluster_command({"init-certs", "--dir", dir, "--days"}), 2);
  CAF_CHECK_EQUAL(
    cluster_command({"init-certs", "--dir", dir, "--days", "soon"}), 2);
  CAF_CHECK_EQUAL(
    cluster_command({"init-certs", "--dir", dir, "--nodes", "../x"}), 2);
  CAF_CHECK(!exists(dir));
  CAF_CHECK_EQUAL(cluster_command({"init-certs", "--dir=" + dir, "--nodes",
                                   "a,b", "--days", "10"}),
                  0);
  CAF_CHECK_EQUAL(
    verify(file("ca.pem"), file("b.pem"), X509_PURPOSE_SSL_SERVER), X509_V_OK);
  CAF_CHECK_EQUAL(cluster_command({"init-certs", "--dir", dir, "--nodes", "a"}),
                  1);
  CAF_CHECK_EQUAL(
    cluster_command({"init-certs", "--dir", dir, "--nodes", "a", "--force"}),
    0);
}

CAF_TEST_FIXTURE_SCOPE_END()
