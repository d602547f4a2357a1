// runtime/main/openssl_queue_fix.cpp
//
// Works around a bug in CAF 0.17.6's OpenSSL module under OpenSSL 3: its
// sessions call SSL_read/SSL_write/SSL_accept/SSL_connect and then
// SSL_get_error without clearing the thread's OpenSSL error queue first.
// OpenSSL requires an empty queue before each I/O call ("or SSL_get_error()
// will not work reliably"): after one peer's connection fails (a scanner,
// a client without a certificate, a node that exits), its error stays in
// the middleman thread's queue and the next read on any other connection
// looks fatal, so every healthy node was disconnected at once
// (tests/integration/e2e_cluster_tls.py reproduces it).
//
// These definitions interpose the four calls for the whole process (the
// executable's symbols come before libssl's in the lookup order), clear
// the queue, and forward to libssl. Link this file into every executable
// that loads caf::openssl::manager; remove it once CAF clears the queue.

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>

namespace {

template <class Fn>
Fn real(const char* name) {
  // The versioned lookup finds libssl's definition, never ours again.
  auto* sym = dlvsym(RTLD_NEXT, name, "OPENSSL_3.0.0");
  if (sym == nullptr)
    sym = dlsym(RTLD_NEXT, name);
  if (sym == nullptr) {
    std::fprintf(stderr, "vidflow: cannot find %s in libssl\n", name);
    std::abort();
  }
  return reinterpret_cast<Fn>(sym);
}

} // namespace

extern "C" {

int SSL_read(SSL* ssl, void* buf, int num) {
  static auto fn = real<int (*)(SSL*, void*, int)>("SSL_read");
  ERR_clear_error();
  return fn(ssl, buf, num);
}

int SSL_write(SSL* ssl, const void* buf, int num) {
  static auto fn = real<int (*)(SSL*, const void*, int)>("SSL_write");
  ERR_clear_error();
  return fn(ssl, buf, num);
}

int SSL_accept(SSL* ssl) {
  static auto fn = real<int (*)(SSL*)>("SSL_accept");
  ERR_clear_error();
  return fn(ssl);
}

int SSL_connect(SSL* ssl) {
  static auto fn = real<int (*)(SSL*)>("SSL_connect");
  ERR_clear_error();
  return fn(ssl);
}

} // extern "C"
