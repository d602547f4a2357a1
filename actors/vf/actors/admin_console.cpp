// vf/actors/admin_console.cpp

#include "vf/actors/admin_console.hpp"

#include "vf/messages/atoms.hpp"

#include <algorithm>
#include <memory>
#include <utility>

namespace vf::actors {

namespace {

/// How long one look may wait for an actor.
constexpr auto ask_timeout = std::chrono::seconds{10};

} // namespace

messages::admin_console_actor::behavior_type
admin_console(admin_console_impl* self, admin_console_config cfg) {
  self->state.cfg = std::move(cfg);
  self->state.clock = wall_clock{self->state.cfg.wall_ms, self->clock().now()};
  // Tells the registry; answers once intake is as asked.
  auto set_intake = [self](bool open) {
    auto rp = self->make_response_promise<bool>();
    self
      ->request(self->state.cfg.registry, ask_timeout, atoms::intake_v, open)
      .then(
        [self, rp, open](bool) mutable {
          self->state.paused = !open;
          rp.deliver(!open);
        },
        [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
    return rp;
  };
  return {
    [=](atoms::overview) -> caf::result<messages::admin_overview> {
      auto& st = self->state;
      auto rp = self->make_response_promise<messages::admin_overview>();
      auto x = std::make_shared<messages::admin_overview>();
      x->version = st.cfg.version;
      x->started_at = st.cfg.wall_ms;
      x->now = st.clock.at(self->clock().now());
      x->paused = st.paused;
      // Counts, then the queue, then the nodes: a failure of any answers
      // the error (an overview that silently lacks a part misleads).
      auto fail = [rp](caf::error& err) mutable { rp.deliver(std::move(err)); };
      self->request(st.cfg.registry, ask_timeout, atoms::counts_v)
        .then(
          [=](messages::status_counts& counts) mutable {
            x->jobs = std::move(counts);
            self
              ->request(self->state.cfg.dispatcher, ask_timeout,
                        atoms::stats_v)
              .then(
                [=](messages::dispatcher_stats& stats) mutable {
                  x->queue = std::move(stats);
                  auto& cluster = self->state.cfg.cluster;
                  if (!cluster) {
                    rp.deliver(std::move(*x));
                    return;
                  }
                  self->request(cluster, ask_timeout, atoms::nodes_v)
                    .then(
                      [=](std::vector<messages::cluster_node>& ns) mutable {
                        x->nodes = std::move(ns);
                        rp.deliver(std::move(*x));
                      },
                      fail);
                },
                fail);
          },
          fail);
      return rp;
    },
    [=](atoms::active) {
      return self->delegate(self->state.cfg.jobs, atoms::active_v);
    },
    [=](atoms::get, const std::string& id)
      -> caf::result<messages::job, std::vector<messages::attempt_record>> {
      auto rp = self->make_response_promise<
        messages::job, std::vector<messages::attempt_record>>();
      auto fail = [rp](caf::error& err) mutable { rp.deliver(std::move(err)); };
      self->request(self->state.cfg.registry, ask_timeout, atoms::get_v, id)
        .then(
          [=](messages::job& j) mutable {
            self
              ->request(self->state.cfg.registry, ask_timeout,
                        atoms::attempts_v, j.id)
              .then(
                [rp, j](std::vector<messages::attempt_record>& xs) mutable {
                  rp.deliver(j, std::move(xs));
                },
                fail);
          },
          fail);
      return rp;
    },
    [=](atoms::pause) -> caf::result<bool> { return set_intake(false); },
    [=](atoms::resume) -> caf::result<bool> { return set_intake(true); },
  };
}

} // namespace vf::actors
