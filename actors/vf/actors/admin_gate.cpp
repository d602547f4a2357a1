// vf/actors/admin_gate.cpp

#include "vf/actors/admin_gate.hpp"

#include "vf/messages/atoms.hpp"
#include "vf/messages/errc.hpp"

#include <utility>

namespace vf::actors {

namespace {

using messages::errc;
using messages::make_error;

/// How long the console may take (an overview chains three asks of at
/// most 10 s each); the CLI waits 60 s for the gate.
constexpr auto ask_timeout = std::chrono::seconds{30};

/// Empty if the sender's CAF node is admitted; `errc::unauthorized`.
caf::error refuse_unless_admitted(admin_gate_impl* self) {
  auto& st = self->state;
  if (st.admissions.admitted(self->current_sender(),
                             st.clock.at(self->clock().now())))
    return {};
  return make_error(errc::unauthorized,
                    "the admin console answers a remote operator only after "
                    "'admit' signed with the cluster admin key");
}

/// A console error as the operator sees it: ours pass unchanged, CAF's
/// (the console or an actor behind it did not answer) become
/// `storage_unavailable`, so the CLI never mistakes them for a broken
/// connection of its own.
caf::error as_ours(caf::error err) {
  if (err.category() == messages::errc_category)
    return err;
  return make_error(errc::storage_unavailable,
                    "the coordinator's admin console did not answer in "
                    "time; try again");
}

/// Asks the console and passes its answer (or error) on.
template <class... Rs, class... Ts>
caf::result<Rs...> ask(admin_gate_impl* self, Ts&&... xs) {
  if (auto err = refuse_unless_admitted(self))
    return err;
  return relay<Rs...>(self, self->state.cfg.console, ask_timeout, as_ours,
                      std::forward<Ts>(xs)...);
}

} // namespace

messages::admin_console_actor::behavior_type
admin_gate(admin_gate_impl* self, admin_gate_config cfg) {
  self->state.cfg = std::move(cfg);
  self->state.clock = wall_clock{self->state.cfg.wall_ms, self->clock().now()};
  // CAF kills the proxy of a remote actor when its node goes away: the
  // admission ends with the operator's connection.
  self->set_down_handler([self](caf::down_msg& msg) {
    self->state.admissions.forget(msg.source);
  });
  using messages::job;
  return {
    [=](atoms::overview) {
      return ask<messages::admin_overview>(self, atoms::overview_v);
    },
    [=](atoms::active) { return ask<std::vector<job>>(self, atoms::active_v); },
    [=](atoms::find_jobs, const messages::job_query& q) {
      return ask<std::vector<job>>(self, atoms::find_jobs_v, q);
    },
    [=](atoms::get, const std::string& id) {
      return ask<job, std::vector<messages::attempt_record>>(self, atoms::get_v,
                                                             id);
    },
    [=](atoms::pause) { return ask<bool>(self, atoms::pause_v); },
    [=](atoms::resume) { return ask<bool>(self, atoms::resume_v); },
    [=](atoms::dlq_list, int64_t since, uint32_t limit) {
      return ask<std::vector<messages::dead_letter>>(self, atoms::dlq_list_v,
                                                     since, limit);
    },
    [=](atoms::dlq_get, const std::string& id) {
      return ask<messages::dead_letter>(self, atoms::dlq_get_v, id);
    },
    [=](atoms::dlq_remove, const std::string& id) {
      return ask<bool>(self, atoms::dlq_remove_v, id);
    },
    [=](atoms::nodes) {
      return ask<std::vector<messages::cluster_node>>(self, atoms::nodes_v);
    },
    [=](atoms::analyze, int64_t window_ms) {
      return ask<messages::incident_report>(self, atoms::analyze_v,
                                            window_ms);
    },
    [=](atoms::redrive, const std::string& id) {
      return ask<job>(self, atoms::redrive_v, id);
    },
    [=](atoms::redrive, atoms::category, const std::string& name) {
      return ask<uint64_t>(self, atoms::redrive_v, atoms::category_v, name);
    },
    [=](atoms::cancel, const std::string& id) {
      return ask<job>(self, atoms::cancel_v, id);
    },
    [=](atoms::drain, const std::string& node) {
      return ask<uint64_t>(self, atoms::drain_v, node);
    },
    [=](atoms::undrain, const std::string& node) {
      return ask<uint64_t>(self, atoms::undrain_v, node);
    },
    [=](atoms::admit, int64_t at, const std::string& mac) -> caf::result<bool> {
      auto& st = self->state;
      if (!st.cfg.admin_mac)
        return make_error(errc::unauthorized,
                          "this coordinator has no cluster admin key "
                          "(cluster.admin_key): remote operators are off");
      auto sender = self->current_sender();
      if (auto err = st.admissions.admit(
            sender, st.cfg.admin_mac,
            messages::console_payload(sender ? to_string(sender->node())
                                             : std::string{},
                                      at),
            at, mac, st.clock.at(self->clock().now()), "admin"))
        return err;
      self->monitor(sender);
      return true;
    },
  };
}

} // namespace vf::actors
