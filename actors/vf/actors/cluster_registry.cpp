// vf/actors/cluster_registry.cpp

#include "vf/actors/cluster_registry.hpp"

#include "vf/messages/errc.hpp"

#include <algorithm>
#include <cctype>
#include <memory>

namespace vf::actors {

using messages::errc;
using messages::make_error;

namespace {

/// Bounds a forwarded request; the dispatcher and orchestrator answer at
/// once, so this only catches one that is gone.
constexpr auto forward_timeout = std::chrono::seconds{30};

bool valid_name(const std::string& name) {
  if (name.empty() || name.size() > 64)
    return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_'
           || c == '.';
  });
}

void say(cluster_registry_impl* self, const std::string& line) {
  if (self->state.cfg.log)
    self->state.cfg.log(line);
}

} // namespace

messages::cluster_registry_actor::behavior_type
cluster_registry(cluster_registry_impl* self, cluster_registry_config cfg,
                 messages::dispatcher_actor dispatcher,
                 messages::orchestrator_actor orchestrator) {
  self->state.cfg = std::move(cfg);
  self->state.clock = wall_clock{self->state.cfg.wall_ms,
                                 self->clock().now()};
  self->set_down_handler([=](caf::down_msg& msg) {
    auto& nodes = self->state.nodes;
    for (auto i = nodes.begin(); i != nodes.end(); ++i) {
      if (i->second.agent.address() == msg.source) {
        say(self, "node " + i->first + " left the cluster"
                    + (msg.reason ? " (" + to_string(msg.reason) + ")"
                                  : std::string{}));
        nodes.erase(i);
        return;
      }
    }
  });
  return {
    [=](atoms::hello, messages::node_actor& agent,
        const std::string& name) -> caf::result<bool> {
      if (!agent)
        return make_error(errc::invalid_argument, "hello without an agent");
      if (!valid_name(name))
        return make_error(errc::invalid_argument,
                          "node name '" + name
                            + "' must be 1..64 letters, digits, '-', '_' or "
                              "'.'");
      auto& st = self->state;
      auto i = st.nodes.find(name);
      if (i != st.nodes.end() && i->second.agent
          && i->second.agent.address() != agent.address())
        return make_error(errc::conflict,
                          "node name '" + name
                            + "' is in use by a connected node");
      auto& e = st.nodes[name];
      if (!e.agent || e.agent.address() != agent.address()) {
        e.agent = agent;
        self->monitor(agent);
      }
      e.info.name = name;
      e.info.workers = 0;
      e.info.slots = 0;
      e.info.labels.clear();
      e.info.draining = false;
      e.info.joined_at = st.clock.at(self->clock().now());
      e.info.registrations = ++st.registrations[name];
      say(self, "node " + name + (e.info.registrations > 1 ? " re-registered"
                                                            : " joined"));
      return true;
    },
    [=](atoms::join, messages::worker_actor& worker,
        messages::worker_info& info) -> caf::result<bool> {
      auto& st = self->state;
      auto i = st.nodes.find(info.node);
      if (i == st.nodes.end())
        return make_error(errc::invalid_argument,
                          "node '" + info.node
                            + "' must say hello before its workers join");
      auto& e = i->second;
      // Only the node's own agent (its connection) may add its workers.
      auto sender = self->current_sender();
      if (!worker || (sender && sender->node() != e.agent.node())
          || worker.node() != e.agent.node())
        return make_error(errc::forbidden,
                          "workers of node '" + info.node
                            + "' must come from that node");
      if (info.slots == 0 || info.kinds.empty())
        return make_error(errc::invalid_argument,
                          "a worker needs at least one slot and one task "
                          "kind");
      e.info.workers += 1;
      e.info.slots += info.slots;
      for (auto& l : info.labels)
        if (std::find(e.info.labels.begin(), e.info.labels.end(), l)
            == e.info.labels.end())
          e.info.labels.push_back(l);
      return self->delegate(dispatcher, atoms::join_v, std::move(worker),
                            std::move(info));
    },
    [=](atoms::report, std::vector<messages::task_outcome>& outs)
      -> caf::result<uint64_t> {
      if (outs.empty())
        return uint64_t{0};
      auto rp = self->make_response_promise<uint64_t>();
      struct tally {
        size_t pending;
        uint64_t recorded = 0;
      };
      auto t = std::make_shared<tally>(tally{outs.size()});
      for (auto& out : outs) {
        auto done = [t, rp](bool recorded) mutable {
          if (recorded)
            ++t->recorded;
          if (--t->pending == 0)
            rp.deliver(t->recorded);
        };
        self
          ->request(orchestrator, forward_timeout, atoms::report_v,
                    std::move(out))
          .then([done](bool recorded) mutable { done(recorded); },
                [done](caf::error&) mutable { done(false); });
      }
      return rp;
    },
    [=](atoms::drain, const std::string& name) -> caf::result<uint64_t> {
      auto i = self->state.nodes.find(name);
      if (i == self->state.nodes.end())
        return make_error(errc::not_found, "no node named '" + name + "'");
      if (!i->second.info.draining)
        say(self, "draining node " + name);
      i->second.info.draining = true;
      return self->delegate(dispatcher, atoms::drain_v, name);
    },
    [=](atoms::leave, const std::string& name) -> caf::result<bool> {
      auto i = self->state.nodes.find(name);
      if (i == self->state.nodes.end())
        return make_error(errc::not_found, "no node named '" + name + "'");
      self->send(i->second.agent, atoms::leave_v);
      return true;
    },
    [=](atoms::nodes) {
      std::vector<messages::cluster_node> xs;
      for (auto& [name, e] : self->state.nodes)
        xs.push_back(e.info);
      return xs;
    },
  };
}

} // namespace vf::actors
