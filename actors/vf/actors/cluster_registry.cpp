// vf/actors/cluster_registry.cpp

#include "vf/actors/cluster_registry.hpp"

#include "vf/messages/errc.hpp"

#include <algorithm>
#include <iterator>
#include <memory>

namespace vf::actors {

using messages::errc;
using messages::make_error;

namespace {

/// Bounds a forwarded request; the dispatcher and orchestrator answer at
/// once, so this only catches one that is gone.
constexpr auto forward_timeout = std::chrono::seconds{30};

void say(cluster_registry_impl* self, const std::string& line) {
  if (self->state.cfg.log)
    self->state.cfg.log(line);
}

/// Finds node `name`; `errc::forbidden` unless the current message comes
/// from that node's own CAF node (a certificate lets a node act only for
/// itself; operators use the admin key for others).
caf::expected<node_entry*> own_node(cluster_registry_impl* self,
                                    const std::string& name) {
  auto i = self->state.nodes.find(name);
  if (i == self->state.nodes.end())
    return make_error(errc::not_found, "no node named '" + name + "'");
  auto sender = self->current_sender();
  if (!sender || !i->second.agent
      || sender->node() != i->second.agent.node())
    return make_error(errc::forbidden,
                      "only node '" + name
                        + "' itself may ask this; an operator needs the "
                          "cluster admin key");
  return &i->second;
}

/// `errc::unauthorized` unless `mac` signs `command` for `name` under the
/// admin key, recently and for the first time.
caf::error check_admin(cluster_registry_impl* self, const std::string& command,
                       const std::string& name, int64_t at,
                       const std::string& mac) {
  auto& st = self->state;
  if (!st.cfg.admin_mac)
    return make_error(errc::unauthorized,
                      "this coordinator has no cluster admin key "
                      "(cluster.admin_key); only a node may "
                        + command + " itself");
  if (!st.signatures.accept(st.cfg.admin_mac,
                            messages::admin_payload(command, name, at), at,
                            mac, st.clock.at(self->clock().now())))
    return make_error(errc::unauthorized,
                      "the admin signature for '" + command + " " + name
                        + "' is wrong, expired (clocks more than 60 s "
                          "apart?) or used before");
  return {};
}

/// Finds node `name` for an operator's command (see `check_admin`).
caf::expected<node_entry*> admin_node(cluster_registry_impl* self,
                                      const std::string& command,
                                      const std::string& name, int64_t at,
                                      const std::string& mac) {
  if (auto err = check_admin(self, command, name, at, mac))
    return err;
  auto& st = self->state;
  auto i = st.nodes.find(name);
  if (i == st.nodes.end())
    return make_error(errc::not_found, "no node named '" + name + "'");
  return &i->second;
}

/// Marks node `name` as draining and answers with the leases it holds.
caf::result<uint64_t> drain_node(cluster_registry_impl* self,
                                 messages::dispatcher_actor dispatcher,
                                 const std::string& name, node_entry& e) {
  if (!e.info.draining)
    say(self, "draining node " + name);
  e.info.draining = true;
  auto rp = self->make_response_promise<uint64_t>();
  self->request(dispatcher, forward_timeout, atoms::drain_v, name)
    .then([rp](uint64_t n) mutable { rp.deliver(n); },
          [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
  return rp;
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
      if (!messages::is_valid_name(name))
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
      e.info.kinds.clear();
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
      for (auto k : info.kinds)
        if (auto name = to_string(k);
            std::find(e.info.kinds.begin(), e.info.kinds.end(), name)
            == e.info.kinds.end())
          e.info.kinds.push_back(std::move(name));
      // Not delegated: the dispatcher's answer would reach the node with
      // the dispatcher as its sender.
      auto rp = self->make_response_promise<bool>();
      self
        ->request(dispatcher, forward_timeout, atoms::join_v,
                  std::move(worker), std::move(info))
        .then([rp](bool x) mutable { rp.deliver(x); },
              [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
      return rp;
    },
    [=](atoms::report, std::vector<messages::task_outcome>& outs)
      -> caf::result<uint64_t> {
      // Only a node that said hello reports, and only for itself: the
      // dispatcher keeps the outcomes of leases it gave to this node's
      // workers and drops the rest (other nodes', never leased, altered).
      auto sender = self->current_sender();
      auto& nodes = self->state.nodes;
      if (!sender
          || std::none_of(nodes.begin(), nodes.end(), [&](const auto& kv) {
               return kv.second.agent
                      && kv.second.agent.node() == sender->node();
             }))
        return make_error(errc::forbidden,
                          "only a node that said hello may report results");
      if (outs.empty())
        return uint64_t{0};
      auto rp = self->make_response_promise<uint64_t>();
      auto forward = [=](std::vector<messages::task_outcome>& kept) mutable {
        if (kept.empty()) {
          rp.deliver(uint64_t{0});
          return;
        }
        struct tally {
          size_t pending;
          uint64_t recorded = 0;
        };
        auto t = std::make_shared<tally>(tally{kept.size()});
        for (auto& out : kept) {
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
      };
      self
        ->request(dispatcher, forward_timeout, atoms::report_v,
                  sender->node(), std::move(outs))
        .then(forward, [rp](caf::error& err) mutable {
          rp.deliver(std::move(err));
        });
      return rp;
    },
    [=](atoms::drain, const std::string& name) -> caf::result<uint64_t> {
      auto e = own_node(self, name);
      if (!e)
        return std::move(e.error());
      return drain_node(self, dispatcher, name, **e);
    },
    [=](atoms::drained, const std::string& name) -> caf::result<uint64_t> {
      auto e = own_node(self, name);
      if (!e)
        return std::move(e.error());
      // Waits as long as the leases last: the node bounds its own wait
      // (worker.drain_timeout_s), and a lease ends by its deadline anyway.
      auto rp = self->make_response_promise<uint64_t>();
      self->request(dispatcher, caf::infinite, atoms::drained_v, name)
        .then([rp](uint64_t n) mutable { rp.deliver(n); },
              [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
      return rp;
    },
    [=](atoms::leave, const std::string& name) -> caf::result<bool> {
      auto e = own_node(self, name);
      if (!e)
        return std::move(e.error());
      self->send((*e)->agent, atoms::leave_v);
      return true;
    },
    [=](atoms::drain, const std::string& name, int64_t at,
        const std::string& mac) -> caf::result<uint64_t> {
      auto e = admin_node(self, "drain", name, at, mac);
      if (!e)
        return std::move(e.error());
      return drain_node(self, dispatcher, name, **e);
    },
    [=](atoms::leave, const std::string& name, int64_t at,
        const std::string& mac) -> caf::result<bool> {
      auto e = admin_node(self, "leave", name, at, mac);
      if (!e)
        return std::move(e.error());
      say(self, "an operator told node " + name + " to leave");
      self->send((*e)->agent, atoms::leave_v);
      return true;
    },
    [=](atoms::drain, const std::string& name, bool on,
        const std::string& token) -> caf::result<uint64_t> {
      // A token, not the sender's node: CAF 0.17 takes a routed message's
      // source node on the peer's word, so a node could claim to be this
      // one.
      auto& want = self->state.cfg.steer_token;
      if (want.empty() || token.size() != want.size()
          || !admin_signatures::same(token, want))
        return make_error(errc::forbidden,
                          "only the coordinator's admin console may steer "
                          "nodes this way");
      auto i = self->state.nodes.find(name);
      if (i == self->state.nodes.end())
        return make_error(errc::not_found, "no node named '" + name
                                             + "' joined this coordinator");
      if (on)
        return drain_node(self, dispatcher, name, i->second);
      if (i->second.info.draining)
        say(self, "node " + name + " takes tasks again");
      i->second.info.draining = false;
      auto rp = self->make_response_promise<uint64_t>();
      self->request(dispatcher, forward_timeout, atoms::undrain_v, name)
        .then([rp](uint64_t n) mutable { rp.deliver(n); },
              [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
      return rp;
    },
    [=](atoms::console, int64_t at,
        const std::string& mac) -> caf::result<messages::admin_console_actor> {
      // Signed for the sender's CAF node: only an operator's connection
      // ever learns the console's handle.
      auto sender = self->current_sender();
      if (!sender)
        return make_error(errc::unauthorized, "console needs a sender");
      if (auto err = check_admin(self, "console", to_string(sender->node()),
                                 at, mac))
        return err;
      auto& slot = self->state.cfg.console;
      if (!slot || !*slot)
        return make_error(errc::storage_unavailable,
                          "the admin console is not running yet");
      return *slot;
    },
    [=](atoms::intake, int64_t at,
        const std::string& mac) -> caf::result<messages::intake_gate_actor> {
      auto sender = self->current_sender();
      if (!sender)
        return make_error(errc::unauthorized, "intake needs a sender");
      auto& st = self->state;
      if (!st.cfg.ingest_mac)
        return make_error(errc::unauthorized,
                          "this coordinator has no cluster ingest key "
                          "(cluster.ingest_key): ingestion nodes are off");
      if (!st.signatures.accept(st.cfg.ingest_mac,
                                messages::admin_payload(
                                  "intake", to_string(sender->node()), at),
                                at, mac, st.clock.at(self->clock().now())))
        return make_error(errc::unauthorized,
                          "the intake signature is wrong, expired (clocks "
                          "more than 60 s apart?) or used before");
      auto& slot = st.cfg.intake;
      if (!slot || !*slot)
        return make_error(errc::storage_unavailable,
                          "the intake gate is not running yet");
      return *slot;
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
