// vf/runtime/certs.cpp

#include "vf/runtime/certs.hpp"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <iostream>
#include <memory>
#include <set>
#include <string_view>
#include <utility>
#include <sys/stat.h>
#include <unistd.h>

namespace vf::runtime {

namespace {

/// Validity of a new cluster CA, in days.
constexpr uint32_t ca_days = 3650;

/// Longest validity we accept for node certificates (and backdating).
constexpr uint32_t max_days = 3650;

/// notBefore lies this far in the past, so nodes whose clocks run a little
/// behind the signer's accept a fresh certificate.
constexpr long skew_seconds = 3600;

constexpr const char* default_dir = "./var/certs";

template <class T, void (*Free)(T*)>
struct ossl_deleter {
  void operator()(T* ptr) const {
    Free(ptr);
  }
};

using bio_ptr = std::unique_ptr<BIO, ossl_deleter<BIO, BIO_free_all>>;
using bn_ptr = std::unique_ptr<BIGNUM, ossl_deleter<BIGNUM, BN_free>>;
using pkey_ptr
  = std::unique_ptr<EVP_PKEY, ossl_deleter<EVP_PKEY, EVP_PKEY_free>>;
using x509_ptr = std::unique_ptr<X509, ossl_deleter<X509, X509_free>>;
using ext_ptr
  = std::unique_ptr<X509_EXTENSION,
                    ossl_deleter<X509_EXTENSION, X509_EXTENSION_free>>;

/// Drains OpenSSL's error queue into one line (at most three entries).
std::string openssl_error() {
  std::string out;
  int n = 0;
  for (auto code = ERR_get_error(); code != 0; code = ERR_get_error()) {
    if (++n > 3)
      continue;
    char buf[256];
    ERR_error_string_n(code, buf, sizeof(buf));
    if (!out.empty())
      out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

/// Creates `dir` (mode 0700) and its missing parents (mode 0755).
std::string make_dir(const std::string& dir, std::ostream& progress) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode))
      return dir + " exists but is not a directory: choose another --dir";
    if ((st.st_mode & 077) != 0)
      progress << "note: " << dir
               << " is accessible by group or others; the keys in it are "
                  "not (mode 0600)\n";
    return {};
  }
  std::string cur;
  for (size_t i = 0; i <= dir.size(); ++i) {
    if (i == dir.size() || (dir[i] == '/' && i > 0)) {
      auto mode = i == dir.size() ? 0700 : 0755;
      if (::mkdir(cur.c_str(), static_cast<mode_t>(mode)) != 0
          && errno != EEXIST)
        return "cannot create directory " + cur + ": " + std::strerror(errno);
    }
    if (i < dir.size())
      cur += dir[i];
  }
  progress << "created directory " << dir << " (mode 0700)\n";
  return {};
}

/// Writes `len` bytes to `path` via a temporary file created with `mode`
/// (never chmod-ed later, so a key is never readable by others, not even
/// for a moment) and renamed over `path`.
std::string write_file(const std::string& path, const char* data, size_t len,
                       mode_t mode) {
  auto tmp = path + ".tmp-" + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(),
                  O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0)
    return "cannot create " + tmp + ": " + std::strerror(errno)
           + " (check the directory's permissions; remove a stale " + tmp + ")";
  auto fail = [&](const char* what) {
    auto err
      = std::string{"cannot "} + what + " " + tmp + ": " + std::strerror(errno);
    ::close(fd);
    ::unlink(tmp.c_str());
    return err;
  };
  while (len > 0) {
    auto n = ::write(fd, data, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return fail("write");
    data += n;
    len -= static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0)
    return fail("sync");
  if (::close(fd) != 0) {
    auto err = "cannot write " + tmp + ": " + std::strerror(errno);
    ::unlink(tmp.c_str());
    return err;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    auto err
      = "cannot rename " + tmp + " to " + path + ": " + std::strerror(errno);
    ::unlink(tmp.c_str());
    return err;
  }
  return {};
}

/// Writes the contents of a memory BIO to `path`.
std::string write_bio(const std::string& path, BIO* bio, mode_t mode) {
  char* data = nullptr;
  auto len = BIO_get_mem_data(bio, &data);
  if (len <= 0 || data == nullptr)
    return "cannot encode " + path + ": " + openssl_error();
  return write_file(path, data, static_cast<size_t>(len), mode);
}

std::string write_cert(const std::string& path, X509* cert) {
  bio_ptr bio{BIO_new(BIO_s_mem())};
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1)
    return "cannot encode " + path + ": " + openssl_error();
  return write_bio(path, bio.get(), 0644);
}

std::string write_key(const std::string& path, EVP_PKEY* key) {
  // A secure-memory BIO is wiped when freed: no key bytes linger on the heap.
  bio_ptr bio{BIO_new(BIO_s_secmem())};
  if (!bio
      || PEM_write_bio_PKCS8PrivateKey(bio.get(), key, nullptr, nullptr, 0,
                                       nullptr, nullptr)
           != 1)
    return "cannot encode " + path + ": " + openssl_error();
  return write_bio(path, bio.get(), 0600);
}

/// Password callback that refuses: an encrypted key is an error, never a
/// prompt on the terminal.
int no_password(char*, int, int, void*) {
  return -1;
}

std::string load_ca(const std::string& pem, const std::string& key_path,
                    x509_ptr& cert, pkey_ptr& key, std::ostream& progress) {
  bio_ptr in{BIO_new_file(pem.c_str(), "r")};
  if (!in)
    return "cannot read " + pem + ": " + openssl_error();
  cert.reset(PEM_read_bio_X509(in.get(), nullptr, nullptr, nullptr));
  if (!cert)
    return pem + " is not a PEM certificate (" + openssl_error()
           + "): restore it, or move ca.pem and ca.key away to create a new "
             "CA";
  in.reset(BIO_new_file(key_path.c_str(), "r"));
  if (!in)
    return "cannot read " + key_path + ": " + openssl_error();
  key.reset(PEM_read_bio_PrivateKey(in.get(), nullptr, no_password, nullptr));
  if (!key)
    return key_path + " is not an unencrypted PEM private key ("
           + openssl_error() + "): restore it, or move ca.pem and ca.key "
           + "away to create a new CA";
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    ERR_clear_error();
    return key_path + " does not belong to " + pem
           + ": restore the matching pair, or move both away to create a "
             "new CA";
  }
  if (X509_check_ca(cert.get()) == 0)
    return pem + " is not a CA certificate (no basicConstraints CA:TRUE): "
           + "move ca.pem and ca.key away to create a new CA";
  if (X509_cmp_current_time(X509_get0_notAfter(cert.get())) <= 0)
    return "the CA " + pem + " has expired: move ca.pem and ca.key away to "
           + "create a new CA, then reissue every node certificate (--force)";
  struct stat st {};
  if (::stat(key_path.c_str(), &st) == 0 && (st.st_mode & 077) != 0)
    progress << "warning: " << key_path
             << " is readable by group or others: chmod 600 " << key_path
             << "\n";
  return {};
}

std::string format_time(const ASN1_TIME* t) {
  struct tm tm {};
  if (ASN1_TIME_to_tm(t, &tm) != 1)
    return "?";
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M UTC", &tm);
  return buf;
}

bool set_random_serial(X509* cert) {
  bn_ptr bn{BN_new()};
  if (!bn)
    return false;
  do {
    if (BN_rand(bn.get(), 128, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1)
      return false;
  } while (BN_is_zero(bn.get()));
  return BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert)) != nullptr;
}

bool add_ext(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
  ext_ptr ext{X509V3_EXT_conf_nid(nullptr, ctx, nid, value)};
  return ext && X509_add_ext(cert, ext.get(), -1) == 1;
}

/// Makes a certificate for `key` with CN `cn`, signed by `issuer_key`
/// (self-signed if `issuer` is null, which makes a CA).
std::string make_cert(const std::string& cn, EVP_PKEY* key, X509* issuer,
                      EVP_PKEY* issuer_key, uint32_t days, uint32_t backdate,
                      x509_ptr& out, bool client_only = false) {
  auto err = [&](const std::string& what) {
    return "cannot create the certificate of '" + cn + "' (" + what
           + "): " + openssl_error();
  };
  x509_ptr cert{X509_new()};
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1
      || !set_random_serial(cert.get()))
    return err("serial");
  auto back = static_cast<int>(backdate);
  if (!X509_time_adj_ex(X509_getm_notBefore(cert.get()), -back, -skew_seconds,
                        nullptr)
      || !X509_time_adj_ex(X509_getm_notAfter(cert.get()),
                           static_cast<int>(days) - back, 0, nullptr))
    return err("validity");
  auto* name = X509_get_subject_name(cert.get());
  if (X509_NAME_add_entry_by_txt(
        name, "CN", MBSTRING_UTF8,
        reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0)
        != 1
      || X509_set_issuer_name(
           cert.get(), issuer != nullptr ? X509_get_subject_name(issuer) : name)
           != 1
      || X509_set_pubkey(cert.get(), key) != 1)
    return err("subject");
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer != nullptr ? issuer : cert.get(), cert.get(),
                 nullptr, nullptr, 0);
  auto* x = cert.get();
  if (issuer == nullptr) {
    if (!add_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE")
        || !add_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign")
        || !add_ext(x, &ctx, NID_subject_key_identifier, "hash"))
      return err("CA extensions");
  } else {
    auto san = "DNS:" + cn + ",DNS:localhost,IP:127.0.0.1";
    if (!add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE")
        || !add_ext(x, &ctx, NID_key_usage,
                    "critical,digitalSignature,keyEncipherment,keyAgreement")
        || !add_ext(x, &ctx, NID_ext_key_usage,
                    client_only ? "clientAuth" : "serverAuth,clientAuth")
        || !add_ext(x, &ctx, NID_subject_alt_name, san.c_str())
        || !add_ext(x, &ctx, NID_subject_key_identifier, "hash")
        || !add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always"))
      return err("node extensions");
  }
  if (X509_sign(x, issuer_key, EVP_sha256()) <= 0)
    return err("signature");
  out = std::move(cert);
  return {};
}

pkey_ptr make_key() {
  return pkey_ptr{EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")};
}

std::string join(const std::vector<std::string>& xs, const char* sep) {
  std::string out;
  for (auto& x : xs)
    out += (out.empty() ? "" : sep) + x;
  return out;
}

std::string do_init_certs(const cert_options& opts, std::ostream& progress) {
  auto dir = opts.dir;
  while (dir.size() > 1 && dir.back() == '/')
    dir.pop_back();
  if (dir.empty())
    return "no output directory given (--dir DIR)";
  if (opts.days < 1 || opts.days > max_days)
    return "validity must be 1 to " + std::to_string(max_days) + " days, got "
           + std::to_string(opts.days);
  if (opts.backdate_days > max_days)
    return "backdating must be 0 to " + std::to_string(max_days) + " days, got "
           + std::to_string(opts.backdate_days);
  if (opts.nodes.empty())
    return "no node names given (--nodes a,b,c)";
  std::set<std::string> seen;
  for (auto& node : opts.nodes) {
    if (auto err = check_node_name(node); !err.empty())
      return err;
    if (!seen.insert(node).second)
      return "node '" + node + "' is listed twice";
  }
  auto path = [&](const std::string& file) {
    return dir + "/" + file;
  };
  // Check everything before writing anything: a refused run changes nothing.
  std::vector<std::string> taken;
  for (auto& node : opts.nodes)
    for (auto* ext : {".pem", ".key"})
      if (exists(path(node + ext)))
        taken.push_back(path(node + ext));
  if (!taken.empty() && !opts.force)
    return join(taken, ", ") + (taken.size() == 1 ? " exists" : " exist")
           + ": use --force to overwrite (the node must then be restarted "
             "with the new files), or choose other --nodes";
  auto ca_pem = path("ca.pem");
  auto ca_key_path = path("ca.key");
  auto have_pem = exists(ca_pem);
  auto have_key = exists(ca_key_path);
  bool reuse = false;
  if (have_pem || have_key) {
    if (opts.reuse_ca) {
      if (!have_key)
        return ca_pem + " exists but " + ca_key_path
               + " does not: restore ca.key, or move ca.pem away to create "
                 "a new CA (then reissue every node certificate)";
      if (!have_pem)
        return ca_key_path + " exists but " + ca_pem
               + " does not: restore ca.pem, or move ca.key away to create "
                 "a new CA (then reissue every node certificate)";
      reuse = true;
    } else if (!opts.force) {
      return (have_pem ? ca_pem : ca_key_path)
             + " exists: use --force to replace the CA (then reissue every "
               "node certificate)";
    }
  }
  x509_ptr ca;
  pkey_ptr ca_key;
  if (reuse) {
    if (auto err = load_ca(ca_pem, ca_key_path, ca, ca_key, progress);
        !err.empty())
      return err;
    progress << "using existing CA " << ca_pem << "\n";
  }
  if (auto err = make_dir(dir, progress); !err.empty())
    return err;
  if (!reuse) {
    ca_key = make_key();
    if (!ca_key)
      return "cannot generate the CA key: " + openssl_error();
    if (auto err = make_cert("vidflow cluster CA", ca_key.get(), nullptr,
                             ca_key.get(), ca_days, opts.backdate_days, ca);
        !err.empty())
      return err;
    if (auto err = write_key(ca_key_path, ca_key.get()); !err.empty())
      return err;
    if (auto err = write_cert(ca_pem, ca.get()); !err.empty())
      return err;
    progress << "created CA " << ca_pem << " (key " << ca_key_path
             << ", valid until " << format_time(X509_get0_notAfter(ca.get()))
             << ")\n";
  }
  // The operators' secret for commands on other nodes (drain, leave): a
  // node certificate only lets a node act for itself. Made once, kept.
  // The ingestion nodes' secret: admits a node to the coordinator's API
  // (jobs for any user), which a worker's certificate must not. Made once.
  for (auto [file, what] :
       {std::pair{"admin.secret", "the cluster admin key"},
        std::pair{"ingest.secret", "the cluster ingest key"}}) {
    auto secret = path(file);
    if (exists(secret))
      continue;
    unsigned char raw[32];
    if (RAND_bytes(raw, sizeof(raw)) != 1)
      return std::string{"cannot generate "} + what + ": " + openssl_error();
    static constexpr char digits[] = "0123456789abcdef";
    std::string hex;
    for (auto b : raw) {
      hex.push_back(digits[b >> 4]);
      hex.push_back(digits[b & 0xf]);
    }
    hex.push_back('\n');
    if (auto err = write_file(secret, hex.data(), hex.size(), 0600);
        !err.empty())
      return err;
    progress << "created " << what << " " << secret
             << (std::string_view{file} == "admin.secret"
                   ? " (mode 0600; for the coordinator and operators only)\n"
                   : " (mode 0600; for the coordinator and ingestion nodes "
                     "only)\n");
  }
  // The operators' client certificate for `vidflow admin --cluster`: TLS
  // client only, so it can never serve as a coordinator. Made once, kept
  // (with the CA it belongs to; a new CA makes a new one). --force, which
  // reissues node files, leaves it alone: operators keep their access.
  if (auto pem = path("admin.pem");
      !exists(pem) || !exists(path("admin.key")) || !reuse) {
    auto key = make_key();
    if (!key)
      return "cannot generate the admin client key: " + openssl_error();
    x509_ptr cert;
    if (auto err = make_cert("admin", key.get(), ca.get(), ca_key.get(),
                             opts.days, opts.backdate_days, cert, true);
        !err.empty())
      return err;
    if (auto err = write_key(path("admin.key"), key.get()); !err.empty())
      return err;
    if (auto err = write_cert(pem, cert.get()); !err.empty())
      return err;
    progress << "wrote " << pem << " and " << path("admin.key")
             << " (the operators' client certificate for 'vidflow admin "
                "--cluster'; keep with admin.secret)\n";
  }
  for (auto& node : opts.nodes) {
    auto key = make_key();
    if (!key)
      return "cannot generate the key of '" + node + "': " + openssl_error();
    x509_ptr cert;
    if (auto err = make_cert(node, key.get(), ca.get(), ca_key.get(), opts.days,
                             opts.backdate_days, cert);
        !err.empty())
      return err;
    auto pem = path(node + ".pem");
    auto key_path = path(node + ".key");
    // Key first: a certificate never sits next to a key it does not match.
    if (auto err = write_key(key_path, key.get()); !err.empty())
      return err;
    if (auto err = write_cert(pem, cert.get()); !err.empty())
      return err;
    auto* not_after = X509_get0_notAfter(cert.get());
    progress << "wrote " << pem << " and " << key_path << " (CN=" << node
             << ", DNS:" << node << ", DNS:localhost, IP:127.0.0.1; valid "
             << "until " << format_time(not_after) << ")\n";
    if (ASN1_TIME_compare(not_after, X509_get0_notAfter(ca.get())) > 0)
      progress << "warning: " << pem << " outlives the CA (until "
               << format_time(X509_get0_notAfter(ca.get()))
               << "): peers reject it once the CA expires\n";
  }
  return {};
}

// -- command line -------------------------------------------------------------

void print_cluster_usage(std::ostream& out) {
  out << "Usage: vidflow cluster <command> [options]\n\n"
         "Commands:\n"
         "  init-certs   create the cluster CA and node certificates for the\n"
         "               mutual TLS between vidflow nodes\n\n"
         "Run 'vidflow cluster <command> --help' for its options.\n";
}

void print_init_certs_help(std::ostream& out) {
  out << "Usage: vidflow cluster init-certs [--dir DIR] [--nodes a,b,c]\n"
         "                                  [--days N] [--force]\n"
         "\n"
         "Creates a cluster CA (DIR/ca.pem, DIR/ca.key) and, for each node,\n"
         "a key and a certificate signed by the CA (DIR/<node>.key,\n"
         "DIR/<node>.pem): EC P-256, SHA-256, CN and DNS name = the node\n"
         "name, plus DNS:localhost and IP:127.0.0.1, usable as TLS server\n"
         "and client. Keys are written with mode 0600. If DIR already holds\n"
         "ca.pem and ca.key, they sign the new certificates, so a node can\n"
         "be added later:\n"
         "  vidflow cluster init-certs --dir DIR --nodes worker-5\n"
         "\n"
         "Options:\n"
         "  --dir DIR           output directory, created with mode 0700\n"
         "                      (default ./var/certs)\n"
         "  --nodes a,b,c       node names: letters, digits, '-', '_', '.'\n"
         "                      (default coordinator,worker)\n"
         "  --days N            validity of node certificates, 1..3650 days\n"
         "                      (default 825; the CA's: 3650)\n"
         "  --force             overwrite existing node certificates and keys\n"
         "  --backdate-days N   TEST ONLY: move the validity of the new\n"
         "                      certificates N days into the past (with\n"
         "                      --days below N they are already expired),\n"
         "                      for refusal tests\n"
         "  -h, --help          show this help\n"
         "\n"
         "Copy DIR/ca.pem and a node's <node>.pem and <node>.key to that\n"
         "node. Keep DIR/ca.key on this machine: whoever has it can add\n"
         "nodes. DIR/admin.secret (made once, mode 0600) is the operators'\n"
         "secret: the coordinator's cluster.admin_key, and what 'vidflow\n"
         "worker --drain --name NODE --cluster-admin-key FILE' signs with;\n"
         "never copy it to worker nodes. DIR/admin.pem and DIR/admin.key\n"
         "(a TLS client certificate, made once per CA) with ca.pem and\n"
         "admin.secret are what 'vidflow admin --cluster HOST:PORT --certs\n"
         "DIR' needs on an operator's machine. DIR/ingest.secret (made\n"
         "once, mode 0600) admits ingestion nodes ('vidflow serve --role\n"
         "ingest --join HOST:PORT'): the cluster.ingest_key of the\n"
         "coordinator and of each ingestion node, never of workers.\n";
  static_assert(max_days == 3650, "update the help text");
}

/// Parses a whole number in [lo, hi]; false on anything else.
bool parse_uint(const std::string& str, uint32_t lo, uint32_t hi,
                uint32_t& out) {
  if (str.empty() || str.size() > 9
      || str.find_first_not_of("0123456789") != std::string::npos)
    return false;
  auto x = std::stoul(str);
  if (x < lo || x > hi)
    return false;
  out = static_cast<uint32_t>(x);
  return true;
}

std::vector<std::string> split_nodes(const std::string& str) {
  std::vector<std::string> out;
  std::string cur;
  for (size_t i = 0; i <= str.size(); ++i) {
    if (i == str.size() || str[i] == ',') {
      auto b = cur.find_first_not_of(" \t");
      auto e = cur.find_last_not_of(" \t");
      out.push_back(b == std::string::npos ? "" : cur.substr(b, e - b + 1));
      cur.clear();
    } else {
      cur += str[i];
    }
  }
  return out;
}

int init_certs_command(const std::vector<std::string>& args) {
  constexpr const char* me = "vidflow cluster init-certs: ";
  for (auto& a : args) {
    if (a == "-h" || a == "--help") {
      print_init_certs_help(std::cout);
      return 0;
    }
  }
  auto usage_error = [&](const std::string& msg) {
    std::cerr << me << msg << "\n(see 'vidflow cluster init-certs --help')\n";
    return 2;
  };
  cert_options opts;
  opts.dir = default_dir;
  for (size_t i = 0; i < args.size(); ++i) {
    auto flag = args[i];
    std::string value;
    bool inline_value = false;
    if (auto eq = flag.find('=');
        flag.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = flag.substr(eq + 1);
      flag.resize(eq);
      inline_value = true;
    }
    auto take_value = [&]() {
      if (inline_value)
        return true;
      if (i + 1 >= args.size() || args[i + 1].rfind("--", 0) == 0)
        return false;
      value = args[++i];
      return true;
    };
    auto number = [&](uint32_t lo, uint32_t hi, uint32_t& out) {
      if (!take_value())
        return usage_error("option " + flag + " needs a value");
      if (!parse_uint(value, lo, hi, out))
        return usage_error("option " + flag + " must be a whole number from "
                           + std::to_string(lo) + " to " + std::to_string(hi)
                           + ", got '" + value + "'");
      return 0;
    };
    if (flag == "--dir") {
      if (!take_value() || value.empty())
        return usage_error("option --dir needs a value");
      opts.dir = value;
    } else if (flag == "--nodes") {
      if (!take_value() || value.empty())
        return usage_error("option --nodes needs a value (e.g. "
                           "coordinator,worker-1)");
      opts.nodes = split_nodes(value);
      std::set<std::string> seen;
      for (auto& node : opts.nodes) {
        if (auto err = check_node_name(node); !err.empty())
          return usage_error("option --nodes: " + err);
        if (!seen.insert(node).second)
          return usage_error("option --nodes: '" + node + "' is listed twice");
      }
    } else if (flag == "--days") {
      if (auto rc = number(1, max_days, opts.days); rc != 0)
        return rc;
    } else if (flag == "--backdate-days") {
      if (auto rc = number(0, max_days, opts.backdate_days); rc != 0)
        return rc;
    } else if (flag == "--force") {
      if (inline_value)
        return usage_error("option --force takes no value");
      opts.force = true;
    } else if (flag.rfind("-", 0) == 0) {
      return usage_error("unknown option '" + flag + "'");
    } else {
      return usage_error("unexpected argument '" + flag + "'");
    }
  }
  if (auto err = init_certs(opts, std::cout); !err.empty()) {
    std::cerr << me << err << "\n";
    return 1;
  }
  auto dir = opts.dir;
  while (dir.size() > 1 && dir.back() == '/')
    dir.pop_back();
  std::cout << "\nNext: copy " << dir
            << "/ca.pem and a node's <node>.pem + <node>.key to that node "
               "(keep "
            << dir << "/ca.key here), then start each node with its own "
            << "files:\n";
  for (auto& node : opts.nodes)
    std::cout << "  " << node << ": --cluster-ca " << dir
              << "/ca.pem --cluster-cert " << dir << "/" << node
              << ".pem --cluster-key " << dir << "/" << node << ".key\n";
  return 0;
}

} // namespace

std::string check_node_name(const std::string& name) {
  if (name.empty())
    return "empty node name";
  if (name.size() > 64)
    return "node name '" + name.substr(0, 16) + "...' is longer than 64 "
           + "characters";
  for (auto c : name) {
    auto ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    if (!ok)
      return "node name '" + name
             + "' may only contain letters, digits, '-', '_' and '.'";
  }
  if (name.front() == '.' || name.front() == '-')
    return "node name '" + name + "' must not start with '.' or '-'";
  if (name == "ca")
    return "node name 'ca' is reserved for the CA's own files";
  if (name == "admin")
    return "node name 'admin' is reserved for the operators' client "
           "certificate (admin.pem)";
  return {};
}

std::string init_certs(const cert_options& opts, std::ostream& progress) {
  ERR_clear_error();
  auto err = do_init_certs(opts, progress);
  ERR_clear_error();
  return err;
}

int cluster_command(const std::vector<std::string>& args) {
  if (args.empty()) {
    print_cluster_usage(std::cerr);
    return 2;
  }
  auto& cmd = args.front();
  if (cmd == "-h" || cmd == "--help" || cmd == "help") {
    print_cluster_usage(std::cout);
    return 0;
  }
  if (cmd == "init-certs")
    return init_certs_command({args.begin() + 1, args.end()});
  std::cerr << "vidflow cluster: unknown command '" << cmd << "'\n\n";
  print_cluster_usage(std::cerr);
  return 2;
}

} // namespace vf::runtime
