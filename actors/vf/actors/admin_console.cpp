// vf/actors/admin_console.cpp

#include "vf/actors/admin_console.hpp"

#include "vf/messages/atoms.hpp"
#include "vf/messages/errc.hpp"

#include <algorithm>
#include <iterator>
#include <memory>
#include <utility>

namespace vf::actors {

namespace {

using messages::errc;
using messages::make_error;

/// How long one look may wait for an actor.
constexpr auto ask_timeout = std::chrono::seconds{10};

/// Empty for a sender on the console's own CAF node (the HTTP routes, the
/// operators' gate); `errc::unauthorized` otherwise. The console's handle
/// never leaves its process (remote operators reach it through
/// `admin_gate`), so no remote actor can address it; this check only
/// keeps it that way should a handle ever leak.
caf::error stranger(admin_console_impl* self) {
  auto sender = self->current_sender();
  if (sender && sender->node() == self->node())
    return {};
  return make_error(errc::unauthorized,
                    "the admin console answers actors of its own node only; "
                    "remote operators go through the admin gate");
}

/// Sets each node's `busy` from the dispatcher's count.
void with_busy(std::vector<messages::cluster_node>& ns,
               const messages::dispatcher_stats& stats) {
  for (auto& n : ns)
    if (auto i = stats.busy_by_node.find(n.name);
        i != stats.busy_by_node.end())
      n.busy = static_cast<uint32_t>(i->second);
}

/// Forwards one request and passes its answer (or error) on.
template <class T, class Dest, class... Ts>
caf::result<T> forward(admin_console_impl* self, const Dest& dest,
                       Ts&&... xs) {
  auto rp = self->make_response_promise<T>();
  self->request(dest, ask_timeout, std::forward<Ts>(xs)...)
    .then([rp](T& x) mutable { rp.deliver(std::move(x)); },
          [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
  return rp;
}

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
  // Drains (or undrains) a worker node through the cluster registry.
  auto steer = [self](const std::string& node,
                      bool drain) -> caf::result<uint64_t> {
    if (auto err = stranger(self))
      return err;
    if (!self->state.cfg.cluster)
      return make_error(errc::not_found, "no node named '" + node
                                           + "': this coordinator runs no "
                                             "cluster");
    return forward<uint64_t>(self, self->state.cfg.cluster, atoms::drain_v,
                             node, drain, self->state.cfg.steer_token);
  };
  return {
    [=](atoms::overview) -> caf::result<messages::admin_overview> {
      if (auto err = stranger(self))
        return err;
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
                        with_busy(x->nodes, x->queue);
                        rp.deliver(std::move(*x));
                      },
                      fail);
                },
                fail);
          },
          fail);
      return rp;
    },
    [=](atoms::active) -> caf::result<std::vector<messages::job>> {
      if (auto err = stranger(self))
        return err;
      return forward<std::vector<messages::job>>(self, self->state.cfg.jobs,
                                                 atoms::active_v);
    },
    [=](atoms::find_jobs, const messages::job_query& q)
      -> caf::result<std::vector<messages::job>> {
      if (auto err = stranger(self))
        return err;
      if (auto problem = messages::job_query_problem(q))
        return make_error(errc::invalid_argument, *problem);
      return forward<std::vector<messages::job>>(self, self->state.cfg.jobs,
                                                 atoms::find_jobs_v, q);
    },
    [=](atoms::get, const std::string& id)
      -> caf::result<messages::job, std::vector<messages::attempt_record>> {
      if (auto err = stranger(self))
        return err;
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
    [=](atoms::pause) -> caf::result<bool> {
      if (auto err = stranger(self))
        return err;
      return set_intake(false);
    },
    [=](atoms::resume) -> caf::result<bool> {
      if (auto err = stranger(self))
        return err;
      return set_intake(true);
    },
    [=](atoms::dlq_list, int64_t since, uint32_t limit)
      -> caf::result<std::vector<messages::dead_letter>> {
      if (auto err = stranger(self))
        return err;
      return forward<std::vector<messages::dead_letter>>(
        self, self->state.cfg.registry, atoms::dlq_list_v, since, limit);
    },
    [=](atoms::dlq_get,
        const std::string& id) -> caf::result<messages::dead_letter> {
      if (auto err = stranger(self))
        return err;
      return forward<messages::dead_letter>(self, self->state.cfg.registry,
                                            atoms::dlq_get_v, id);
    },
    [=](atoms::dlq_remove, const std::string& id) -> caf::result<bool> {
      if (auto err = stranger(self))
        return err;
      return forward<bool>(self, self->state.cfg.registry, atoms::dlq_remove_v,
                           id);
    },
    [=](atoms::nodes) -> caf::result<std::vector<messages::cluster_node>> {
      if (auto err = stranger(self))
        return err;
      if (!self->state.cfg.cluster)
        return make_error(errc::storage_unavailable,
                          "the cluster registry is not running on this node");
      auto rp = self->make_response_promise<
        std::vector<messages::cluster_node>>();
      auto fail = [rp](caf::error& err) mutable { rp.deliver(std::move(err)); };
      self->request(self->state.cfg.cluster, ask_timeout, atoms::nodes_v)
        .then(
          [=](std::vector<messages::cluster_node>& ns) mutable {
            self
              ->request(self->state.cfg.dispatcher, ask_timeout,
                        atoms::stats_v)
              .then(
                [=](messages::dispatcher_stats& stats) mutable {
                  with_busy(ns, stats);
                  rp.deliver(std::move(ns));
                },
                fail);
          },
          fail);
      return rp;
    },
    [=](atoms::analyze,
        int64_t window_ms) -> caf::result<messages::incident_report> {
      if (auto err = stranger(self))
        return err;
      if (!self->state.cfg.analyzer)
        return make_error(errc::storage_unavailable,
                          "the DLQ analyzer is not running on this node");
      return forward<messages::incident_report>(
        self, self->state.cfg.analyzer, atoms::analyze_v, window_ms);
    },
    [=](atoms::redrive, const std::string& id) -> caf::result<messages::job> {
      if (auto err = stranger(self))
        return err;
      return forward<messages::job>(self, self->state.cfg.orchestrator,
                                    atoms::redrive_v, id);
    },
    [=](atoms::redrive, atoms::category,
        const std::string& name) -> caf::result<uint64_t> {
      if (auto err = stranger(self))
        return err;
      if (!self->state.cfg.analyzer)
        return make_error(errc::storage_unavailable,
                          "the DLQ analyzer is not running on this node");
      return forward<uint64_t>(self, self->state.cfg.analyzer,
                               atoms::redrive_v, name);
    },
    [=](atoms::cancel, const std::string& id) -> caf::result<messages::job> {
      if (auto err = stranger(self))
        return err;
      return forward<messages::job>(self, self->state.cfg.orchestrator,
                                    atoms::cancel_v, id);
    },
    [=](atoms::drain, const std::string& node) {
      return steer(node, true);
    },
    [=](atoms::undrain, const std::string& node) {
      return steer(node, false);
    },
    [=](atoms::admit, int64_t, const std::string&) -> caf::result<bool> {
      // Admission is the gate's business; a local sender needs none.
      if (auto err = stranger(self))
        return err;
      return true;
    },
  };
}

} // namespace vf::actors
