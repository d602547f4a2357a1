// vf/runtime/intake_link.cpp

#include "vf/runtime/intake_link.hpp"

#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "caf/scoped_actor.hpp"
#include "caf/send.hpp"
#include "caf/typed_event_based_actor.hpp"

#include "vf/actors/gate_admissions.hpp"
#include "vf/adapters/http/user_table.hpp"
#include "vf/messages/cluster_registry_actor.hpp"
#include "vf/messages/errc.hpp"
#include "vf/runtime/cluster.hpp"

#include <fstream>
#include <iterator>
#include <random>

namespace vf::runtime {

namespace {

using namespace std::chrono_literals;
using messages::errc;
using std::chrono::milliseconds;

/// How long the proxy waits for the gate: less than the API's request
/// timeout (10 s), more than the gate waits for the coordinator's actors
/// (8 s), so the most specific answer wins.
constexpr auto proxy_timeout = 9s;

/// How long one request of the link may take.
constexpr auto call_timeout = 10s;

/// Admissions last an hour; the link asks again well before.
constexpr auto readmit_every = 30min;

int64_t unix_ms_now() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch())
    .count();
}

struct proxy_state {
  static inline const char* name = "vf.coordinator-proxy";
  messages::intake_gate_actor gate;
  /// The link (the sender of the first `put`): the only one whose `put`
  /// counts, and the one told when the gate stops admitting this node.
  caf::actor link;
};

using proxy_impl = coordinator_proxy_actor::stateful_pointer<proxy_state>;

/// Errors as the API should see them: the coordinator's own (not found,
/// conflict, quota ...) unchanged; the link's (no answer, the gate
/// refusing this node) as `storage_unavailable`, so clients retry.
caf::error as_client_error(caf::error err) {
  if (err.category() == messages::errc_category
      && messages::errc_of(err) != errc::unauthorized)
    return err;
  return messages::make_error(errc::storage_unavailable,
                              "the coordinator did not answer this "
                              "ingestion node; try again shortly");
}

/// Passes the current request to the gate; answers its reply, or an error
/// if none came within `timeout`.
template <class... Rs, class... Ts>
caf::result<Rs...> pass_within(proxy_impl self, std::chrono::seconds timeout,
                               Ts&&... xs) {
  auto& gate = self->state.gate;
  if (!gate)
    return messages::make_error(errc::storage_unavailable,
                                "this ingestion node cannot reach the "
                                "coordinator right now; try again shortly");
  return actors::relay<Rs...>(
    self, gate, timeout, [self](caf::error err) {
      // The gate no longer admits this node (it restarted its bookkeeping,
      // or an admission ran out): the link admits again at once instead of
      // at its next renewal.
      if (err.category() == messages::errc_category
          && messages::errc_of(err) == errc::unauthorized && self->state.link)
        caf::anon_send(self->state.link, atoms::admit_v);
      return as_client_error(std::move(err));
    },
    std::forward<Ts>(xs)...);
}

template <class... Rs, class... Ts>
caf::result<Rs...> pass(proxy_impl self, Ts&&... xs) {
  return pass_within<Rs...>(self, proxy_timeout, std::forward<Ts>(xs)...);
}

coordinator_proxy_actor::behavior_type coordinator_proxy(proxy_impl self) {
  using messages::job;
  return {
    [=](atoms::put, messages::intake_gate_actor& gate) {
      auto sender = caf::actor_cast<caf::actor>(self->current_sender());
      auto& st = self->state;
      if (!st.link)
        st.link = sender;
      else if (sender != st.link)
        return; // Only the link hands out the gate.
      st.gate = std::move(gate);
    },
    [=](atoms::create, messages::job_request& x) {
      return pass<job>(self, atoms::create_v, std::move(x));
    },
    [=](atoms::create_keyed, messages::job_request& x) {
      return pass<job, bool>(self, atoms::create_keyed_v, std::move(x));
    },
    [=](atoms::get, const std::string& id) {
      return pass<job>(self, atoms::get_v, id);
    },
    [=](atoms::history, const std::string& owner, uint32_t limit,
        const std::string& kind) {
      return pass<std::vector<job>>(self, atoms::history_v, owner, limit,
                                    kind);
    },
    [=](atoms::events, const std::string& id, uint64_t after) {
      return pass<std::vector<messages::job_event>>(self, atoms::events_v, id,
                                                    after);
    },
    [=](atoms::deliveries, const std::string& id) {
      return pass<std::vector<messages::delivery>>(self, atoms::deliveries_v,
                                                   id);
    },
    [=](atoms::get_result, const std::string& id) {
      return pass<messages::job_result>(self, atoms::get_result_v, id);
    },
    [=](atoms::counts) {
      return pass<messages::status_counts>(self, atoms::counts_v);
    },
    [=](atoms::attempts, const std::string& id) {
      return pass<std::vector<messages::attempt_record>>(self,
                                                         atoms::attempts_v, id);
    },
    [=](atoms::erase, const std::string& id) {
      return pass<uint64_t>(self, atoms::erase_v, id);
    },
    [=](atoms::await_end, const std::string& id, uint32_t wait_ms) {
      // Held by the registry up to `wait_ms`, on top of the gate's own.
      return pass_within<bool>(self,
                               proxy_timeout
                                 + messages::end_wait_seconds(wait_ms),
                               atoms::await_end_v, id, wait_ms);
    },
    [=](atoms::cancel, const std::string& id) {
      return pass<job>(self, atoms::cancel_v, id);
    },
    [=](atoms::compose, const std::string& id) {
      return pass<job>(self, atoms::compose_v, id);
    },
    [=](atoms::stats) {
      return pass<messages::dispatcher_stats>(self, atoms::stats_v);
    },
    [=](atoms::lease_of, const std::string& id) {
      return pass<std::vector<messages::task_progress>>(self, atoms::lease_of_v,
                                                        id);
    },
  };
}

/// Tells the link's loop to stop: a signal number, or 0 when a kept actor
/// failed. Local only.
struct link_stop {
  int sig = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, link_stop& x) {
  return f(caf::meta::type_name("link_stop"), x.sig);
}

std::string read_text(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  return {std::istreambuf_iterator<char>{in}, {}};
}

} // namespace

coordinator_proxy_actor spawn_coordinator_proxy(caf::actor_system& sys) {
  return sys.spawn(coordinator_proxy);
}

struct intake_link::impl {
  caf::actor_system& sys;
  intake_link_config cfg;
  coordinator_proxy_actor proxy;
  caf::scoped_actor self;
  messages::intake_gate_actor gate;
  std::chrono::steady_clock::time_point admitted_at;

  impl(caf::actor_system& sys, intake_link_config cfg,
       coordinator_proxy_actor proxy)
    : sys(sys), cfg(std::move(cfg)), proxy(std::move(proxy)), self(sys) {
    // No request from the proxy can go out before the first `put` names
    // this actor as the link.
  }

  std::string sign(const std::string& payload) const {
    return admin_mac(cfg.coordinator.ingest_key, payload);
  }

  /// Asks `hdl` and returns the answer or the error in words.
  template <class T, class Handle, class... Ts>
  std::string ask(const Handle& hdl, T& out, Ts&&... xs) {
    std::string why;
    self->request(hdl, call_timeout, std::forward<Ts>(xs)...)
      .receive([&](T& x) { out = std::move(x); },
               [&](caf::error& err) { why = messages::message_of(err); });
    return why;
  }

  /// Admits this node at `gate` (again).
  std::string admit() {
    auto at = unix_ms_now();
    bool ok = false;
    auto why = ask(gate, ok, atoms::admit_v, at,
                   sign(messages::intake_payload(to_string(self->node()), at)));
    if (why.empty())
      admitted_at = std::chrono::steady_clock::now();
    return why;
  }

  /// Copies the coordinator's accounts to `users_path` when they differ
  /// from the file there (validated first: a bad copy never replaces a
  /// good one).
  std::string copy_accounts() {
    std::string text;
    if (auto why = ask(gate, text, atoms::get_v, atoms::head_v); !why.empty())
      return "accounts: " + why;
    auto users = adapters::http::parse_users_text(text, "from the coordinator");
    if (!users)
      return "accounts: the coordinator sent an invalid users file: "
             + messages::message_of(users.error());
    if (adapters::http::users_text(*users) == read_text(cfg.users_path))
      return {};
    if (auto err = adapters::http::write_users_file(cfg.users_path, *users))
      return "accounts: " + messages::message_of(err);
    return {};
  }

  std::string connect() {
    auto reg = connect_registry(sys, cfg.coordinator);
    if (!reg)
      return sys.render(reg.error());
    auto at = unix_ms_now();
    messages::intake_gate_actor g;
    auto why = ask(
      *reg, g, atoms::intake_v, at,
      sign(messages::admin_payload("intake", to_string(self->node()), at)));
    if (!why.empty())
      return why;
    gate = std::move(g);
    if (why = admit(); !why.empty()) {
      gate = nullptr;
      return why;
    }
    self->monitor(gate);
    // A failed copy is not fatal: the last good copy stays in use.
    why = copy_accounts();
    self->send(proxy, atoms::put_v, gate);
    return why.empty() ? std::string{} : "connected, but " + why;
  }
};

intake_link::intake_link(caf::actor_system& sys, intake_link_config cfg,
                         coordinator_proxy_actor proxy)
  : impl_(std::make_unique<impl>(sys, std::move(cfg), std::move(proxy))) {
  exempt_caf_network_from_leak_check(sys);
}

intake_link::~intake_link() = default;

std::string intake_link::connect() {
  return impl_->connect();
}

int intake_link::run(node& n) {
  auto& d = *impl_;
  auto& log = n.log();
  auto where
    = d.cfg.coordinator.host + ":" + std::to_string(d.cfg.coordinator.port);
  int sig = 0; // SIGINT/SIGTERM, or -1 after a kept actor failed
  n.forward_signals(
    [hdl = caf::actor{d.self}](int s) { caf::anon_send(hdl, link_stop{s}); });
  // A kept actor that failed before the signals came here (during the
  // first connect, or while the API started) stops the node too.
  if (n.exit_code() != 0)
    sig = -1;
  auto& gauge = prometheus::BuildGauge()
                  .Name("vidflow_ingest_coordinator_connected")
                  .Help("1 while this ingestion node is admitted by its "
                        "coordinator, 0 while it reconnects (its API then "
                        "answers 503 for job requests; webhooks go on)")
                  .Register(*n.metrics())
                  .Add({});
  gauge.Set(d.gate ? 1 : 0);
  std::minstd_rand rng{std::random_device{}()};
  auto backoff = milliseconds{200};
  auto next_wait = [&] {
    auto half = backoff / 2;
    std::uniform_int_distribution<int64_t> pick{0, half.count()};
    auto wait = half + milliseconds{pick(rng)};
    backoff = std::min<milliseconds>(backoff * 2, d.cfg.reconnect_max);
    return wait;
  };
  auto nap = [&](milliseconds t) {
    d.self->receive([&](link_stop& x) { sig = x.sig != 0 ? x.sig : -1; },
                    [](caf::down_msg&) {}, caf::after(t) >> [] {});
  };
  std::string last_why;
  // Says `why` (if any) unless it is what was said last.
  std::string last_warning;
  auto warn_once = [&](const std::string& why) {
    if (!why.empty() && why != last_warning)
      log.warn("ingest", why);
    last_warning = why;
  };
  while (sig == 0) {
    if (!d.gate) {
      auto why = d.connect();
      if (!d.gate) {
        auto wait = next_wait();
        if (why != last_why)
          log.warn("ingest", "cannot reach the coordinator at " + where + ": "
                               + why + "; retrying (every "
                               + std::to_string(d.cfg.reconnect_max.count())
                               + " ms at most)");
        last_why = why;
        nap(wait);
        continue;
      }
      last_why.clear();
      backoff = milliseconds{200};
      gauge.Set(1);
      log.info("ingest", "admitted by the coordinator at " + where
                           + (why.empty() ? "" : " (" + why + ")"));
    }
    d.self->receive(
      [&](link_stop& x) { sig = x.sig != 0 ? x.sig : -1; },
      [&](caf::down_msg& dm) {
        if (dm.source != d.gate.address())
          return;
        d.gate = nullptr;
        d.self->send(d.proxy, atoms::put_v, messages::intake_gate_actor{});
        gauge.Set(0);
        log.warn("ingest", "lost the coordinator at " + where + " ("
                             + to_string(dm.reason)
                             + "); job requests answer 503 until it is "
                               "back, webhooks go on into Redis");
        // The middleman forgets a dead connection only after its own down
        // message: reconnecting at once would get the stale handle back.
        nap(100ms + next_wait());
      },
      [&](atoms::admit) {
        // The proxy heard `unauthorized` from the gate.
        if (auto why = d.admit(); !why.empty())
          warn_once("could not renew the admission: " + why);
      },
      caf::after(d.cfg.accounts_every) >>
        [&] {
          if (std::chrono::steady_clock::now() - d.admitted_at > readmit_every)
            if (auto why = d.admit(); !why.empty())
              warn_once("could not renew the admission: " + why);
          warn_once(d.copy_accounts());
        });
  }
  if (d.gate)
    d.self->demonitor(d.gate.address());
  return sig > 0 ? sig : 0;
}

} // namespace vf::runtime
