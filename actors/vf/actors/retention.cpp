// vf/actors/retention.cpp

#include "vf/actors/retention.hpp"

#include "vf/messages/errc.hpp"

#include <memory>

namespace vf::actors {

using namespace std::chrono_literals;

namespace {

constexpr auto store_timeout = 30s;
constexpr auto delete_timeout = 60s;

/// One sweep: what is left to do and how it went.
struct sweep {
  size_t pending = 0;
  size_t found = 0;
  uint64_t deleted = 0;
  uint64_t failed = 0;
};

} // namespace

messages::retention_actor::behavior_type
retention(retention_impl* self, messages::job_store_actor store,
          messages::object_deleter_actor deleter, retention_config cfg) {
  self->state.cfg = std::move(cfg);
  self->state.clock = wall_clock{self->state.cfg.wall_ms, self->clock().now()};
  self->delayed_send(self, self->state.cfg.interval, atoms::tick_v);
  // Ends a sweep: schedules the next one, at once after a full batch.
  auto finish = [self](const std::shared_ptr<sweep>& s) {
    auto& st = self->state;
    st.busy = false;
    st.purged += s->deleted;
    if (st.cfg.log && (s->deleted > 0 || s->failed > 0))
      st.cfg.log("retention: deleted the uploads of " + std::to_string(s->deleted)
                 + " failed, cancelled or expired jobs"
                 + (s->failed > 0 ? " (" + std::to_string(s->failed)
                                      + " failed, retried next sweep)"
                                  : std::string{}));
    if (s->found >= st.cfg.batch && s->failed == 0)
      self->send(self, atoms::tick_v);
    else
      self->delayed_send(self, st.cfg.interval, atoms::tick_v);
  };
  return {
    [=](atoms::tick) {
      auto& st = self->state;
      if (st.busy)
        return;
      st.busy = true;
      auto now = st.clock.at(self->clock().now());
      auto before = now - static_cast<int64_t>(st.cfg.keep.count());
      self->request(store, store_timeout, atoms::purgeable_v, before,
                    st.cfg.batch)
        .then(
          [=](std::vector<messages::job>& jobs) {
            auto s = std::make_shared<sweep>();
            s->found = jobs.size();
            s->pending = jobs.size();
            if (jobs.empty()) {
              finish(s);
              return;
            }
            auto one_done = [=] {
              if (--s->pending == 0)
                finish(s);
            };
            for (auto& j : jobs) {
              // Delete first, record after: a crash in between deletes
              // again next time (idempotent), never records a purge of
              // bytes still on disk.
              self->request(deleter, delete_timeout, atoms::erase_v, j.bucket,
                            j.key)
                .then(
                  [=, id = j.id](bool) {
                    auto at = self->state.clock.at(self->clock().now());
                    self->request(store, store_timeout, atoms::purged_v, id, at)
                      .then(
                        [=](bool) {
                          ++s->deleted;
                          one_done();
                        },
                        [=](caf::error&) {
                          ++s->failed;
                          one_done();
                        });
                  },
                  [=](caf::error&) {
                    ++s->failed;
                    one_done();
                  });
            }
          },
          [=](caf::error&) {
            auto s = std::make_shared<sweep>();
            s->failed = 1;
            finish(s);
          });
    },
  };
}

} // namespace vf::actors
