// vf-bench-sqlite-store: how many `(create, job)` per second the SQLite job
// store acknowledges durably, with group commit and with one commit per
// write (max_batch = 1), driven by M closed-loop requesters (like M HTTP
// clients each waiting for its POST /jobs answer).
//
// Usage: vf-bench-sqlite-store [creates=50000] [requesters=256] [dir=$TMPDIR]
// The database goes to a fresh directory under `dir`, which should be on the
// disk the product would use: fsync on tmpfs costs nothing and proves
// nothing.

#include "vf/adapters/sqlite/job_store.hpp"
#include "vf/messages/job.hpp"
#include "vf/messages/register_types.hpp"

#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "caf/event_based_actor.hpp"
#include "caf/exit_reason.hpp"
#include "caf/scoped_actor.hpp"
#include "caf/stateful_actor.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace {

using vf::messages::job;
using vf::messages::job_store_actor;

/// A job shaped like what `POST /jobs` stores.
job make_job(const std::string& id) {
  job x;
  x.id = id;
  x.owner = "bench-user";
  x.filename = "holiday-video.mp4";
  x.content_type = "video/mp4";
  x.bucket = "vidflow-uploads";
  x.key = "uploads/" + id + "/holiday-video.mp4";
  x.created_at = 1700000000000;
  x.updated_at = x.created_at;
  return x;
}

/// One closed-loop client: the next create goes out when the last returns.
struct requester_state {
  job_store_actor store;
  caf::actor report_to;
  std::string prefix;
  size_t total = 0;
  size_t sent = 0;
  uint64_t failed = 0;
};

using requester_pointer = caf::stateful_actor<requester_state>*;

void send_next(requester_pointer self) {
  auto& st = self->state;
  if (st.sent == st.total) {
    self->send(st.report_to, st.failed);
    self->quit();
    return;
  }
  auto x = make_job(st.prefix + std::to_string(st.sent++));
  self->request(st.store, caf::infinite, vf::atoms::create_v, std::move(x))
    .then([self](bool) { send_next(self); },
          [self](caf::error&) {
            ++self->state.failed;
            send_next(self);
          });
}

caf::behavior requester(requester_pointer self, job_store_actor store,
                        caf::actor report_to, std::string prefix,
                        size_t total) {
  self->state.store = std::move(store);
  self->state.report_to = std::move(report_to);
  self->state.prefix = std::move(prefix);
  self->state.total = total;
  send_next(self);
  // Kept alive by its pending request; quits itself when done.
  return {[](caf::ok_atom) {
  }};
}

struct config : caf::actor_system_config {
  config() {
    vf::messages::register_types(*this);
  }
};

/// Runs one mode and prints its line; returns false on any failure.
bool run(caf::actor_system& sys, const std::string& dir, const char* label,
         uint32_t max_batch, size_t creates, size_t requesters) {
  auto path = dir + "/" + label + ".db";
  auto store = vf::adapters::sqlite::spawn_job_store(
    sys, {path, max_batch, nullptr, {}});
  if (!store) {
    std::fprintf(stderr, "%s\n", sys.render(store.error()).c_str());
    return false;
  }
  caf::scoped_actor self{sys};
  auto start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < requesters; ++i) {
    // Spread the remainder so that exactly `creates` go out.
    auto share = creates / requesters + (i < creates % requesters ? 1 : 0);
    sys.spawn(requester, *store, caf::actor{self},
              std::string{label} + "-" + std::to_string(i) + "-", share);
  }
  uint64_t failed = 0;
  for (size_t i = 0; i < requesters; ++i)
    self->receive([&](uint64_t n) { failed += n; });
  std::chrono::duration<double> secs = std::chrono::steady_clock::now() - start;
  uint64_t commits = 0;
  uint64_t writes = 0;
  auto full
    = caf::actor_cast<vf::adapters::sqlite::sqlite_job_store_actor>(*store);
  self->request(full, caf::infinite, vf::atoms::stats_v)
    .receive(
      [&](uint64_t c, uint64_t w) {
        commits = c;
        writes = w;
      },
      [&](caf::error& err) {
        std::fprintf(stderr, "stats: %s\n", sys.render(err).c_str());
      });
  std::printf("%-13s %9u %10zu %8zu %8.3f %10.0f %8llu %9.1f %6llu\n", label,
              max_batch, requesters, creates, secs.count(),
              static_cast<double>(creates) / secs.count(),
              static_cast<unsigned long long>(commits),
              commits > 0
                ? static_cast<double>(writes) / static_cast<double>(commits)
                : 0.0,
              static_cast<unsigned long long>(failed));
  self->send_exit(*store, caf::exit_reason::user_shutdown);
  self->wait_for(*store);
  return failed == 0 && writes == creates;
}

} // namespace

int main(int argc, char** argv) {
  size_t creates = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 50000;
  size_t requesters = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 256;
  auto base = argc > 3 ? std::filesystem::path{argv[3]}
                       : std::filesystem::temp_directory_path();
  if (creates == 0 || requesters == 0) {
    std::fprintf(stderr, "usage: %s [creates>0] [requesters>0] [dir]\n",
                 argv[0]);
    return EXIT_FAILURE;
  }
  auto tmpl = (base / "vf-bench-sqlite-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) {
    std::perror(tmpl.c_str());
    return EXIT_FAILURE;
  }
  bool ok = true;
  {
    config cfg;
    caf::actor_system sys{cfg};
    std::printf("%-13s %9s %10s %8s %8s %10s %8s %9s %6s\n", "mode",
                "max_batch", "requesters", "creates", "seconds", "creates/s",
                "commits", "avg_batch", "errors");
    ok = run(sys, tmpl, "group-commit", 512, creates, requesters) && ok;
    // One fsync per write is slow by design: keep that run short.
    ok = run(sys, tmpl, "commit-each", 1, std::min<size_t>(creates, 3000),
             requesters)
         && ok;
  }
  std::error_code ec;
  std::filesystem::remove_all(tmpl, ec);
  return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
