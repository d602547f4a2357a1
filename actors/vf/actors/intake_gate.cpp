// vf/actors/intake_gate.cpp

#include "vf/actors/intake_gate.hpp"

#include "vf/messages/atoms.hpp"
#include "vf/messages/errc.hpp"

#include <utility>

namespace vf::actors {

namespace {

using messages::errc;
using messages::make_error;

/// How long the actors behind the gate may take: less than the API's own
/// request timeout (10 s), so the gate's answer arrives first.
constexpr auto ask_timeout = std::chrono::seconds{8};

/// Empty if the sender's CAF node is admitted; `errc::unauthorized`.
caf::error refuse_unless_admitted(intake_gate_impl* self) {
  auto& st = self->state;
  if (st.admissions.admitted(self->current_sender(),
                             st.clock.at(self->clock().now())))
    return {};
  return make_error(errc::unauthorized,
                    "the intake gate answers an ingestion node only after "
                    "'admit' signed with the cluster ingest key");
}

/// An error as the ingestion node sees it: ours pass unchanged, CAF's (an
/// actor behind the gate did not answer) become `storage_unavailable`, so
/// the client gets 503 + Retry-After.
caf::error as_ours(caf::error err) {
  if (err.category() == messages::errc_category)
    return err;
  return make_error(errc::storage_unavailable,
                    "the coordinator did not answer in time; try again");
}

/// Asks `dest` and passes its answer (or error) on.
template <class... Rs, class Handle, class... Ts>
caf::result<Rs...> ask(intake_gate_impl* self, const Handle& dest, Ts&&... xs) {
  if (auto err = refuse_unless_admitted(self))
    return err;
  return relay<Rs...>(self, dest, ask_timeout, as_ours,
                      std::forward<Ts>(xs)...);
}

/// Empty if an admitted node sent `x` and it passes `check_request`.
caf::error check(intake_gate_impl* self, messages::job_request& x) {
  if (auto err = refuse_unless_admitted(self))
    return err;
  if (auto& fn = self->state.cfg.check_request)
    return fn(x);
  return {};
}

} // namespace

messages::intake_gate_actor::behavior_type intake_gate(intake_gate_impl* self,
                                                       intake_gate_config cfg) {
  self->state.cfg = std::move(cfg);
  self->state.clock = wall_clock{self->state.cfg.wall_ms, self->clock().now()};
  // CAF kills the proxy of a remote actor when its node goes away: the
  // admission ends with the node's connection.
  self->set_down_handler(
    [self](caf::down_msg& msg) { self->state.admissions.forget(msg.source); });
  using messages::job;
  return {
    [=](atoms::create, messages::job_request& x) -> caf::result<job> {
      if (auto err = check(self, x))
        return err;
      return ask<job>(self, self->state.cfg.registry, atoms::create_v,
                      std::move(x));
    },
    [=](atoms::create_keyed,
        messages::job_request& x) -> caf::result<job, bool> {
      if (auto err = check(self, x))
        return err;
      return ask<job, bool>(self, self->state.cfg.registry,
                            atoms::create_keyed_v, std::move(x));
    },
    [=](atoms::get, const std::string& id) {
      return ask<job>(self, self->state.cfg.registry, atoms::get_v, id);
    },
    [=](atoms::history, const std::string& owner, uint32_t limit,
        const std::string& kind) {
      return ask<std::vector<job>>(self, self->state.cfg.registry,
                                   atoms::history_v, owner, limit, kind);
    },
    [=](atoms::events, const std::string& id, uint64_t after) {
      return ask<std::vector<messages::job_event>>(
        self, self->state.cfg.registry, atoms::events_v, id, after);
    },
    [=](atoms::deliveries, const std::string& id) {
      return ask<std::vector<messages::delivery>>(
        self, self->state.cfg.registry, atoms::deliveries_v, id);
    },
    [=](atoms::get_result, const std::string& id) {
      return ask<messages::job_result>(self, self->state.cfg.registry,
                                       atoms::get_result_v, id);
    },
    [=](atoms::counts) {
      return ask<messages::status_counts>(self, self->state.cfg.registry,
                                          atoms::counts_v);
    },
    [=](atoms::attempts, const std::string& id) {
      return ask<std::vector<messages::attempt_record>>(
        self, self->state.cfg.registry, atoms::attempts_v, id);
    },
    [=](atoms::erase, const std::string& id) {
      return ask<uint64_t>(self, self->state.cfg.registry, atoms::erase_v, id);
    },
    [=](atoms::await_end, const std::string& id,
        uint32_t wait_ms) -> caf::result<bool> {
      if (auto err = refuse_unless_admitted(self))
        return err;
      // The registry holds it up to `wait_ms`: the relay waits that long
      // on top.
      return relay<bool>(self, self->state.cfg.registry,
                         ask_timeout + messages::end_wait_seconds(wait_ms),
                         as_ours, atoms::await_end_v, id, wait_ms);
    },
    [=](atoms::cancel, const std::string& id) {
      return ask<job>(self, self->state.cfg.orchestrator, atoms::cancel_v, id);
    },
    [=](atoms::compose, const std::string& id) {
      return ask<job>(self, self->state.cfg.orchestrator, atoms::compose_v,
                      id);
    },
    [=](atoms::stats) {
      return ask<messages::dispatcher_stats>(self, self->state.cfg.dispatcher,
                                             atoms::stats_v);
    },
    [=](atoms::lease_of, const std::string& id) {
      return ask<std::vector<messages::task_progress>>(
        self, self->state.cfg.dispatcher, atoms::lease_of_v, id);
    },
    [=](atoms::get, atoms::head) -> caf::result<std::string> {
      if (auto err = refuse_unless_admitted(self))
        return err;
      if (!self->state.cfg.accounts)
        return make_error(errc::storage_unavailable,
                          "this coordinator shares no accounts");
      auto text = self->state.cfg.accounts();
      if (!text)
        return as_ours(text.error());
      return std::move(*text);
    },
    [=](atoms::admit, int64_t at, const std::string& mac) -> caf::result<bool> {
      auto& st = self->state;
      if (!st.cfg.ingest_mac)
        return make_error(errc::unauthorized,
                          "this coordinator has no cluster ingest key "
                          "(cluster.ingest_key): ingestion nodes are off");
      auto sender = self->current_sender();
      if (auto err = st.admissions.admit(
            sender, st.cfg.ingest_mac,
            messages::intake_payload(
              sender ? to_string(sender->node()) : std::string{}, at),
            at, mac, st.clock.at(self->clock().now()), "intake"))
        return err;
      self->monitor(sender);
      return true;
    },
  };
}

} // namespace vf::actors
