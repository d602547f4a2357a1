// tests/integration/fault_shim.cpp — TEST ONLY: an LD_PRELOAD library that
// makes write, fsync/fdatasync and rename fail on demand, for durability
// tests of a real vidflow process (e2e_durability.py). Never linked into
// vidflow; nothing happens unless VF_FAULT_SHIM names a rules file.
//
// The rules file is re-read at most every 20 ms, so a test switches faults
// on and off while the process runs. One rule per line:
//
//   <call> <errno> <path substring>
//
// <call> is `write` (write, pwrite, pwrite64, writev), `fsync` (fsync,
// fdatasync) or `rename` (matches the source or target path); <errno> is
// EIO, ENOSPC or EDQUOT. A call fails with that errno when the path of its
// file descriptor (from /proc/self/fd) or one of its paths contains the
// substring. An empty or missing file means no faults. Every injected
// failure is counted in `<rules file>.hits` (one line per failure: the
// call, errno and path), so tests can prove the fault really happened.

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

namespace {

struct rule {
  std::string call;
  int err = 0;
  std::string needle;
};

std::mutex mtx;
std::vector<rule> rules;
long long last_read_ms = -1;
// Fast path: no rules, no work (checked without the mutex).
std::atomic<bool> any_rules{false};
// Set while the shim itself does I/O, so its own reads are not judged.
thread_local bool inside = false;

long long now_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<long long>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

int errno_of(const char* name) {
  if (std::strcmp(name, "EIO") == 0)
    return EIO;
  if (std::strcmp(name, "ENOSPC") == 0)
    return ENOSPC;
  if (std::strcmp(name, "EDQUOT") == 0)
    return EDQUOT;
  return 0;
}

const char* rules_path() {
  static const char* path = std::getenv("VF_FAULT_SHIM");
  return path;
}

void reload_locked() {
  auto t = now_ms();
  if (last_read_ms >= 0 && t - last_read_ms < 20)
    return;
  last_read_ms = t;
  rules.clear();
  if (auto* f = std::fopen(rules_path(), "re")) {
    char line[1024];
    while (std::fgets(line, sizeof line, f)) {
      char call[32], err[32], needle[900];
      if (std::sscanf(line, "%31s %31s %899s", call, err, needle) == 3
          && errno_of(err) != 0)
        rules.push_back({call, errno_of(err), needle});
    }
    std::fclose(f);
  }
  any_rules = !rules.empty();
}

std::string path_of_fd(int fd) {
  char link[64];
  std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  char buf[4096];
  auto n = ::readlink(link, buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string{};
}

void record_hit(const char* call, int err, const std::string& path) {
  auto hits = std::string{rules_path()} + ".hits";
  if (auto* f = std::fopen(hits.c_str(), "ae")) {
    std::fprintf(f, "%s %s %s\n", call, std::strerror(err), path.c_str());
    std::fclose(f);
  }
}

// The errno to fail `call` on these paths with, or 0.
int fault_for(const char* call, const std::string& a,
              const std::string& b = {}) {
  int err = 0;
  std::lock_guard<std::mutex> guard{mtx};
  for (auto& r : rules)
    if (r.call == call
        && (a.find(r.needle) != std::string::npos
            || (!b.empty() && b.find(r.needle) != std::string::npos))) {
      err = r.err;
      break;
    }
  if (err != 0)
    record_hit(call, err, a);
  return err;
}

// Whether rules may apply right now (re-reads the file when due).
bool active() {
  if (rules_path() == nullptr || inside)
    return false;
  inside = true;
  {
    std::lock_guard<std::mutex> guard{mtx};
    reload_locked();
  }
  inside = false;
  return any_rules.load();
}

int fd_fault(const char* call, int fd) {
  if (!active())
    return 0;
  inside = true;
  auto err = fault_for(call, path_of_fd(fd));
  inside = false;
  return err;
}

template <class Fn>
Fn next(const char* name) {
  return reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));
}

} // namespace

extern "C" {

ssize_t write(int fd, const void* buf, size_t n) {
  static auto real = next<ssize_t (*)(int, const void*, size_t)>("write");
  // Standard streams (logs) are never failed.
  if (fd > 2)
    if (auto err = fd_fault("write", fd)) {
      errno = err;
      return -1;
    }
  return real(fd, buf, n);
}

ssize_t pwrite(int fd, const void* buf, size_t n, off_t off) {
  static auto real = next<ssize_t (*)(int, const void*, size_t, off_t)>(
    "pwrite");
  if (auto err = fd_fault("write", fd)) {
    errno = err;
    return -1;
  }
  return real(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void* buf, size_t n, off64_t off) {
  static auto real = next<ssize_t (*)(int, const void*, size_t, off64_t)>(
    "pwrite64");
  if (auto err = fd_fault("write", fd)) {
    errno = err;
    return -1;
  }
  return real(fd, buf, n, off);
}

ssize_t writev(int fd, const struct iovec* iov, int n) {
  static auto real = next<ssize_t (*)(int, const struct iovec*, int)>(
    "writev");
  if (fd > 2)
    if (auto err = fd_fault("write", fd)) {
      errno = err;
      return -1;
    }
  return real(fd, iov, n);
}

int fsync(int fd) {
  static auto real = next<int (*)(int)>("fsync");
  if (auto err = fd_fault("fsync", fd)) {
    errno = err;
    return -1;
  }
  return real(fd);
}

int fdatasync(int fd) {
  static auto real = next<int (*)(int)>("fdatasync");
  if (auto err = fd_fault("fsync", fd)) {
    errno = err;
    return -1;
  }
  return real(fd);
}

int rename(const char* from, const char* to) {
  static auto real = next<int (*)(const char*, const char*)>("rename");
  if (active()) {
    inside = true;
    auto err = fault_for("rename", from, to);
    inside = false;
    if (err) {
      errno = err;
      return -1;
    }
  }
  return real(from, to);
}

} // extern "C"
