// vf/adapters/aws/sqs_publisher.cpp

#include "vf/adapters/aws/sqs_publisher.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "caf/typed_event_based_actor.hpp"

#include "vf/adapters/aws/tick_once.hpp"
#include "vf/messages/errc.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace vf::adapters::aws {

namespace {

using std::chrono::milliseconds;

/// A message and the outbox file that holds it (empty: none).
struct entry {
  std::string body;
  std::string path;
};

struct publisher_state {
  sqs_publisher_config cfg;
  std::deque<entry> buffer;
  uint64_t written = 0;
  bool tick_pending = false;
  milliseconds backoff{0};
  bool failing = false;
  static inline const char* name = "sqs-publisher";
};

using publisher_ptr = sqs_publisher_actor::stateful_pointer<publisher_state>;

void schedule(publisher_ptr self, milliseconds delay) {
  tick_once(self, self->state.tick_pending, delay);
}

void count(publisher_ptr self, const char* what, size_t n = 1) {
  if (self->state.cfg.count)
    for (size_t i = 0; i < n; ++i)
      self->state.cfg.count(what);
}

void log(publisher_ptr self, bool warn, const std::string& text) {
  if (self->state.cfg.log)
    self->state.cfg.log(warn, text);
}

/// Writes `body` to a new file of the outbox (temporary name, synced,
/// renamed, directory synced); returns its path, or "" after logging why.
std::string keep(publisher_ptr self, const std::string& body) {
  auto& st = self->state;
  if (st.cfg.outbox_dir.empty())
    return {};
  auto now = std::chrono::duration_cast<milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
               .count();
  char name[64];
  std::snprintf(name, sizeof(name), "%015lld-%08llu.json",
                static_cast<long long>(now),
                static_cast<unsigned long long>(++st.written));
  auto path = st.cfg.outbox_dir + "/" + name;
  auto tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  bool ok = fd >= 0;
  for (size_t off = 0; ok && off < body.size();) {
    auto n = ::write(fd, body.data() + off, body.size() - off);
    if (n < 0 && errno == EINTR)
      continue;
    ok = n > 0;
    off += ok ? static_cast<size_t>(n) : 0;
  }
  ok = ok && ::fsync(fd) == 0;
  if (fd >= 0)
    ::close(fd);
  ok = ok && std::rename(tmp.c_str(), path.c_str()) == 0;
  if (ok) {
    int dir = ::open(st.cfg.outbox_dir.c_str(), O_RDONLY | O_DIRECTORY);
    if (dir >= 0) {
      ::fsync(dir);
      ::close(dir);
    }
    return path;
  }
  log(self, true,
      "cannot keep a message in " + st.cfg.outbox_dir + " ("
        + std::strerror(errno) + "): it is held in memory only");
  ::unlink(tmp.c_str());
  return {};
}

/// Takes what an earlier run left in the outbox, oldest first.
void restore(publisher_ptr self) {
  auto& st = self->state;
  if (st.cfg.outbox_dir.empty())
    return;
  std::error_code ec;
  std::filesystem::create_directories(st.cfg.outbox_dir, ec);
  std::vector<std::string> paths;
  for (auto& e : std::filesystem::directory_iterator{st.cfg.outbox_dir, ec}) {
    auto name = e.path().filename().string();
    if (name.size() > 5 && name.compare(name.size() - 5, 5, ".json") == 0)
      paths.push_back(e.path().string());
    else if (name.size() > 4 && name.compare(name.size() - 4, 4, ".tmp") == 0)
      std::filesystem::remove(e.path(), ec); // cut short by a crash
  }
  if (ec) {
    log(self, true, "cannot read " + st.cfg.outbox_dir + ": " + ec.message());
    return;
  }
  std::sort(paths.begin(), paths.end());
  for (auto& path : paths) {
    std::ifstream in{path, std::ios::binary};
    std::ostringstream body;
    body << in.rdbuf();
    st.buffer.push_back(entry{body.str(), path});
  }
  if (!paths.empty()) {
    log(self, false,
        std::to_string(paths.size()) + " message(s) left from before in "
          + st.cfg.outbox_dir + ": sending them");
    schedule(self, milliseconds{0});
  }
}

/// Forgets a message SQS has (or that is dropped).
void done_with(const entry& e) {
  if (!e.path.empty())
    ::unlink(e.path.c_str());
}

void flush(publisher_ptr self) {
  auto& st = self->state;
  st.tick_pending = false;
  while (!st.buffer.empty()) {
    auto n = std::min<size_t>(st.buffer.size(), 10);
    std::vector<entry> chunk(st.buffer.begin(),
                             st.buffer.begin() + static_cast<ptrdiff_t>(n));
    std::vector<std::string> bodies;
    for (auto& e : chunk)
      bodies.push_back(e.body);
    auto failed = sqs_send_batch(st.cfg.queue, bodies);
    if (!failed) {
      count(self, "failed");
      st.backoff = std::min(std::max(st.backoff * 2, milliseconds{500}),
                            milliseconds{30000});
      if (!st.failing && st.cfg.log)
        st.cfg.log(true, messages::message_of(failed.error()) + "; keeping "
                           + std::to_string(st.buffer.size())
                           + " message(s), trying again");
      st.failing = true;
      schedule(self, st.backoff);
      return;
    }
    if (st.failing && st.cfg.log)
      st.cfg.log(false, "SQS sends work again");
    st.failing = false;
    st.backoff = milliseconds{0};
    // Entries SQS refused one by one go back to the end of the buffer.
    std::vector<entry> again;
    std::vector<bool> refused(chunk.size(), false);
    for (auto i : *failed)
      if (i < chunk.size()) {
        refused[i] = true;
        again.push_back(chunk[i]);
      }
    for (size_t i = 0; i < chunk.size(); ++i)
      if (!refused[i])
        done_with(chunk[i]);
    st.buffer.erase(st.buffer.begin(),
                    st.buffer.begin() + static_cast<ptrdiff_t>(n));
    count(self, "sent", n - again.size());
    if (!again.empty()) {
      count(self, "failed", again.size());
      for (auto& x : again)
        st.buffer.push_back(std::move(x));
      schedule(self, milliseconds{1000});
      return;
    }
  }
}

sqs_publisher_actor::behavior_type sqs_publisher(publisher_ptr self,
                                                 sqs_publisher_config cfg) {
  self->state.cfg = std::move(cfg);
  restore(self);
  return {
    [self](atoms::put, std::string& body) {
      auto& st = self->state;
      if (st.buffer.size() >= st.cfg.max_buffered) {
        count(self, "dropped");
        if (st.cfg.log)
          st.cfg.log(true, "buffer full (" + std::to_string(st.buffer.size())
                             + " messages): one dropped");
        return;
      }
      auto path = keep(self, body);
      st.buffer.push_back(entry{std::move(body), std::move(path)});
      if (!st.failing)
        schedule(self, milliseconds{0});
    },
    [self](atoms::tick) { flush(self); },
  };
}

} // namespace

sqs_publisher_actor spawn_sqs_publisher(caf::actor_system& sys,
                                        sqs_publisher_config cfg) {
  return sys.spawn<caf::detached>(sqs_publisher, std::move(cfg));
}

} // namespace vf::adapters::aws
