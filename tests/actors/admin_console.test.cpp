#define CAF_SUITE actors.admin_console

#include "vf/actors/admin_console.hpp"
#include "vf/actors/admin_gate.hpp"
#include "vf/actors/cluster_registry.hpp"
#include "vf/actors/intake_gate.hpp"
#include "vf/actors/job_registry.hpp"

#include "vf_test.hpp"

#include "fakes.hpp"

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

using namespace caf;
using namespace vf;
using messages::errc;
using messages::job_status;

namespace {

constexpr int64_t t0 = 1'800'000'000'000;

// A stand-in for HMAC-SHA256: 64 hex digits that depend on the text.
std::string fake_mac(const std::string& text) {
  std::string out;
  uint64_t h = 1469598103934665603ull;
  for (int round = 0; round < 4; ++round) {
    for (auto c : text)
      h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
    char buf[17];
    std::snprintf(buf, sizeof(buf), "%016llx",
                  static_cast<unsigned long long>(h));
    out += buf;
  }
  return out;
}

// A worker node's agent that ignores `leave`.
messages::node_actor::behavior_type quiet_agent(int) {
  return {[](atoms::leave) {}};
}

struct fixture : testing::fixture_base {
  fixture() {
    store = sys.spawn(testing::fake_store);
    disp = sys.spawn(testing::fake_dispatcher);
    actors::job_registry_config rcfg;
    rcfg.wall_ms = t0;
    reg = sys.spawn(actors::job_registry, messages::stores_of(store), rcfg);
    actors::admin_console_config cfg;
    cfg.version = "1.2.3";
    cfg.wall_ms = t0;
    cfg.registry = reg;
    cfg.jobs = messages::job_store_actor{store};
    cfg.dispatcher = messages::dispatcher_actor{disp};
    console = sys.spawn(actors::admin_console, cfg);
    consume_messages();
  }

  ~fixture() {
    for (auto hdl : {actor_cast<actor>(console), actor_cast<actor>(reg),
                     actor_cast<actor>(disp), actor_cast<actor>(store)})
      anon_send_exit(hdl, exit_reason::user_shutdown);
    run();
  }

  template <class T, class Dest, class... Ts>
  expected<T> ask(const Dest& dest, Ts&&... xs) {
    expected<T> result = make_error(errc::internal, "no answer");
    auto h = self->request(dest, infinite, std::forward<Ts>(xs)...);
    consume_messages();
    h.receive([&](T& x) { result = std::move(x); },
              [&](error& err) { result = std::move(err); });
    return result;
  }

  void add(const std::string& id, job_status st, int64_t created) {
    messages::job j;
    j.id = id;
    j.owner = "demo";
    j.status = st;
    j.created_at = created;
    j.updated_at = created;
    deref<testing::fake_store_impl>(store).state.jobs.emplace(id, j);
  }

  messages::store_actor store;
  testing::fake_dispatcher_actor disp;
  messages::job_registry_actor reg;
  messages::admin_console_actor console;
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(admin_console_tests, fixture)

CAF_TEST(the overview counts jobs and shows the queue and intake) {
  add("a", job_status::processing, t0);
  add("b", job_status::failed, t0);
  add("c", job_status::failed, t0);
  advance_time(std::chrono::seconds{90});
  auto x = ask<messages::admin_overview>(console, atoms::overview_v);
  CAF_REQUIRE(x);
  CAF_CHECK_EQUAL(x->version, "1.2.3");
  CAF_CHECK_EQUAL(x->started_at, t0);
  CAF_CHECK_EQUAL(x->now, t0 + 90'000);
  CAF_CHECK(!x->paused);
  CAF_REQUIRE_EQUAL(x->jobs.size(), messages::job_status_count);
  CAF_CHECK_EQUAL(x->jobs[static_cast<size_t>(job_status::failed)], 2u);
  CAF_CHECK_EQUAL(x->jobs[static_cast<size_t>(job_status::processing)], 1u);
  CAF_CHECK(x->nodes.empty());
}

CAF_TEST(pause refuses new jobs and resume takes them again) {
  messages::job_request req;
  req.owner = "demo";
  req.filename = "a.mp4";
  CAF_CHECK_EQUAL(ask<bool>(console, atoms::pause_v), true);
  auto refused = ask<messages::job>(reg, atoms::create_v, req);
  CAF_REQUIRE(!refused);
  CAF_CHECK_EQUAL(messages::errc_of(refused.error()), errc::intake_paused);
  auto paused = ask<messages::admin_overview>(console, atoms::overview_v);
  CAF_REQUIRE(paused);
  CAF_CHECK(paused->paused);
  CAF_CHECK_EQUAL(ask<bool>(console, atoms::resume_v), false);
  auto made = ask<messages::job>(reg, atoms::create_v, req);
  CAF_CHECK(made);
}

CAF_TEST(active lists waiting and processing jobs and get adds the ledger) {
  add("old", job_status::processing, t0 - 5000);
  add("new", job_status::submitted, t0);
  add("done", job_status::succeeded, t0);
  auto xs = ask<std::vector<messages::job>>(console, atoms::active_v);
  CAF_REQUIRE(xs);
  std::vector<std::string> ids;
  for (auto& j : *xs)
    ids.push_back(j.id);
  std::sort(ids.begin(), ids.end());
  CAF_CHECK_EQUAL(ids, (std::vector<std::string>{"new", "old"}));
  messages::attempt_record r;
  r.job_id = "old";
  r.attempt = 1;
  deref<testing::fake_store_impl>(store).state.ledger.push_back(r);
  auto h = self->request(console, infinite, atoms::get_v, std::string{"old"});
  consume_messages();
  bool answered = false;
  h.receive(
    [&](messages::job& j, std::vector<messages::attempt_record>& ledger) {
      answered = true;
      CAF_CHECK_EQUAL(j.id, "old");
      CAF_CHECK_EQUAL(ledger.size(), 1u);
    },
    [&](error& err) { CAF_FAIL("get failed: " << sys.render(err)); });
  CAF_CHECK(answered);
  auto h2 = self->request(console, infinite, atoms::get_v,
                          std::string{"nope"});
  consume_messages();
  bool refused = false;
  h2.receive([&](messages::job&, std::vector<messages::attempt_record>&) {},
             [&](error& err) {
               refused = messages::errc_of(err) == errc::not_found;
             });
  CAF_CHECK(refused);
}

CAF_TEST(find_jobs asks the store and refuses a bad search itself) {
  add("f1", job_status::failed, t0 - 10);
  add("f2", job_status::failed, t0);
  add("s1", job_status::succeeded, t0);
  deref<testing::fake_store_impl>(store).state.jobs["f2"].filename = "x.mov";
  auto xs = ask<std::vector<messages::job>>(
    console, atoms::find_jobs_v,
    messages::job_query{"FAILED", "demo", "", 10});
  CAF_REQUIRE(xs);
  std::vector<std::string> ids;
  for (auto& j : *xs)
    ids.push_back(j.id);
  CAF_CHECK_EQUAL(ids, (std::vector<std::string>{"f2", "f1"}));
  xs = ask<std::vector<messages::job>>(console, atoms::find_jobs_v,
                                       messages::job_query{"", "", "x.m", 10});
  CAF_REQUIRE(xs);
  CAF_REQUIRE_EQUAL(xs->size(), 1u);
  CAF_CHECK_EQUAL(xs->front().id, "f2");
  for (auto q : {messages::job_query{}, messages::job_query{"DONE", "", "", 5},
                 messages::job_query{"FAILED", "", "", 0}}) {
    auto bad = ask<std::vector<messages::job>>(console, atoms::find_jobs_v, q);
    CAF_REQUIRE(!bad);
    CAF_CHECK_EQUAL(messages::errc_of(bad.error()), errc::invalid_argument);
  }
}

CAF_TEST(drain and undrain steer a joined node through the registry) {
  actors::cluster_registry_config ccfg;
  ccfg.wall_ms = t0;
  ccfg.steer_token = "a-secret-of-this-process";
  auto cluster = sys.spawn(actors::cluster_registry, ccfg,
                           messages::dispatcher_actor{disp},
                           messages::orchestrator_actor{});
  actors::admin_console_config cfg;
  cfg.wall_ms = t0;
  cfg.registry = reg;
  cfg.jobs = messages::job_store_actor{store};
  cfg.dispatcher = messages::dispatcher_actor{disp};
  cfg.cluster = cluster;
  cfg.steer_token = ccfg.steer_token;
  auto with_cluster = sys.spawn(actors::admin_console, cfg);
  auto agent = sys.spawn(quiet_agent, 0);
  consume_messages();
  CAF_REQUIRE_EQUAL(ask<bool>(cluster, atoms::hello_v,
                              messages::node_actor{agent},
                              std::string{"w1"}),
                    true);
  auto draining = [&] {
    auto x = ask<messages::admin_overview>(with_cluster, atoms::overview_v);
    if (!x || x->nodes.size() != 1)
      CAF_FAIL("no overview with one node");
    return x->nodes[0].draining;
  };
  CAF_CHECK(!draining());
  CAF_CHECK_EQUAL(ask<uint64_t>(with_cluster, atoms::drain_v,
                                std::string{"w1"}),
                  0u);
  CAF_CHECK(draining());
  CAF_CHECK_EQUAL(ask<uint64_t>(with_cluster, atoms::undrain_v,
                                std::string{"w1"}),
                  0u);
  CAF_CHECK(!draining());
  auto unknown = ask<uint64_t>(with_cluster, atoms::drain_v,
                               std::string{"pluto"});
  CAF_REQUIRE(!unknown);
  CAF_CHECK_EQUAL(messages::errc_of(unknown.error()), errc::not_found);
  // Steering through the registry takes the console's token, not a claim
  // to be a local actor (a peer can forge that in CAF 0.17).
  for (auto token : {std::string{}, std::string{"a-secret-of-this-procesS"},
                     std::string{"short"}}) {
    auto forged = ask<uint64_t>(cluster, atoms::drain_v, std::string{"w1"},
                                true, token);
    CAF_REQUIRE(!forged);
    CAF_CHECK_EQUAL(messages::errc_of(forged.error()), errc::forbidden);
  }
  CAF_CHECK(!draining());
  for (auto hdl : {actor_cast<actor>(with_cluster), actor_cast<actor>(cluster),
                   actor_cast<actor>(agent)})
    anon_send_exit(hdl, exit_reason::user_shutdown);
}

CAF_TEST(the gate answers only senders admitted with the admin key) {
  auto sign = fake_mac;
  actors::admin_gate_config gcfg;
  gcfg.wall_ms = t0;
  gcfg.admin_mac = sign;
  gcfg.console = console;
  auto gate = sys.spawn(actors::admin_gate, gcfg);
  consume_messages();
  auto refused = [&](caf::expected<messages::admin_overview> x) {
    return !x && messages::errc_of(x.error()) == errc::unauthorized;
  };
  // Not even a sender on the coordinator's own node is exempt.
  CAF_CHECK(refused(ask<messages::admin_overview>(gate, atoms::overview_v)));
  auto node = to_string(self->node());
  auto admit = [&](int64_t at, const std::string& mac) {
    return ask<bool>(gate, atoms::admit_v, at, mac);
  };
  auto unauthorized = [](const caf::expected<bool>& x) {
    return !x && messages::errc_of(x.error()) == errc::unauthorized;
  };
  CAF_CHECK(unauthorized(
    admit(t0, sign(messages::console_payload("other-node", t0)))));
  CAF_CHECK(unauthorized(admit(
    t0 - 61'000, sign(messages::console_payload(node, t0 - 61'000)))));
  CAF_CHECK(unauthorized(admit(t0, "x")));
  CAF_CHECK(refused(ask<messages::admin_overview>(gate, atoms::overview_v)));
  auto good = sign(messages::console_payload(node, t0));
  CAF_CHECK_EQUAL(admit(t0, good), true);
  auto x = ask<messages::admin_overview>(gate, atoms::overview_v);
  CAF_REQUIRE(x);
  CAF_CHECK_EQUAL(x->version, "1.2.3");
  CAF_CHECK_EQUAL(ask<bool>(gate, atoms::pause_v), true);
  CAF_CHECK_EQUAL(ask<bool>(gate, atoms::resume_v), false);
  // A signature admits once.
  auto replay = admit(t0, good);
  CAF_REQUIRE(!replay);
  CAF_CHECK_EQUAL(messages::errc_of(replay.error()), errc::unauthorized);
  // The admission lasts an hour at most.
  advance_time(std::chrono::minutes{61});
  CAF_CHECK(refused(ask<messages::admin_overview>(gate, atoms::overview_v)));
  anon_send_exit(gate, exit_reason::user_shutdown);
}

CAF_TEST(the intake gate answers only nodes admitted with the ingest key) {
  actors::intake_gate_config gcfg;
  gcfg.wall_ms = t0;
  gcfg.ingest_mac = fake_mac;
  gcfg.accounts = [] { return std::string{R"({"users":[]})"}; };
  // What the runtime checks (intake_request_check); here: one filename.
  gcfg.check_request = [](messages::job_request& x) -> caf::error {
    if (x.filename == "refused.mp4")
      return messages::make_error(errc::invalid_argument, "refused");
    return {};
  };
  gcfg.registry = reg;
  gcfg.dispatcher = messages::dispatcher_actor{disp};
  auto gate = sys.spawn(actors::intake_gate, gcfg);
  consume_messages();
  auto node = to_string(self->node());
  auto unauthorized = [](const auto& x) {
    return !x && messages::errc_of(x.error()) == errc::unauthorized;
  };
  messages::job_request req;
  req.owner = "alice";
  req.filename = "clip.mp4";
  req.content_type = "video/mp4";
  // Nothing before an admission, not even from this node.
  CAF_CHECK(unauthorized(ask<messages::job>(gate, atoms::create_v, req)));
  CAF_CHECK(unauthorized(ask<std::string>(gate, atoms::get_v, atoms::head_v)));
  auto admit = [&](int64_t at, const std::string& mac) {
    return ask<bool>(gate, atoms::admit_v, at, mac);
  };
  // The admin key's payload, another node's, a stale time, garbage: no.
  CAF_CHECK(unauthorized(
    admit(t0, fake_mac(messages::console_payload(node, t0)))));
  CAF_CHECK(unauthorized(
    admit(t0, fake_mac(messages::intake_payload("other-node", t0)))));
  CAF_CHECK(unauthorized(admit(
    t0 - 61'000, fake_mac(messages::intake_payload(node, t0 - 61'000)))));
  CAF_CHECK(unauthorized(admit(t0, "x")));
  auto good = fake_mac(messages::intake_payload(node, t0));
  CAF_CHECK_EQUAL(admit(t0, good), true);
  CAF_CHECK(unauthorized(admit(t0, good))); // once
  // Admitted: requests reach the registry, answers and errors come back.
  auto made = ask<messages::job>(gate, atoms::create_v, req);
  CAF_REQUIRE(made);
  CAF_CHECK_EQUAL(made->owner, "alice");
  auto got = ask<messages::job>(gate, atoms::get_v, made->id);
  CAF_REQUIRE(got);
  CAF_CHECK_EQUAL(got->id, made->id);
  auto missing = ask<messages::job>(gate, atoms::get_v, std::string{"nope"});
  CAF_REQUIRE(!missing);
  CAF_CHECK_EQUAL(messages::errc_of(missing.error()), errc::not_found);
  auto bad = req;
  bad.filename = "../etc/passwd";
  auto refused = ask<messages::job>(gate, atoms::create_v, bad);
  CAF_REQUIRE(!refused);
  CAF_CHECK_EQUAL(messages::errc_of(refused.error()), errc::invalid_argument);
  // The gate's own check comes before the registry.
  auto checked = req;
  checked.filename = "refused.mp4";
  auto no = ask<messages::job>(gate, atoms::create_v, checked);
  CAF_REQUIRE(!no);
  CAF_CHECK_EQUAL(messages::errc_of(no.error()), errc::invalid_argument);
  caf::error keyed_err;
  auto keyed = self->request(gate, infinite, atoms::create_keyed_v, checked);
  consume_messages();
  keyed.receive([](messages::job&, bool) { CAF_FAIL("created"); },
                [&](caf::error& err) { keyed_err = std::move(err); });
  CAF_CHECK_EQUAL(messages::errc_of(keyed_err), errc::invalid_argument);
  auto mine = ask<std::vector<messages::job>>(gate, atoms::history_v,
                                              std::string{"alice"},
                                              uint32_t{10}, std::string{});
  CAF_REQUIRE(mine);
  CAF_CHECK_EQUAL(mine->size(), 1u);
  CAF_CHECK_EQUAL(ask<std::string>(gate, atoms::get_v, atoms::head_v),
                  std::string{R"({"users":[]})"});
  // The admission lasts an hour at most.
  advance_time(std::chrono::minutes{61});
  CAF_CHECK(unauthorized(ask<messages::job>(gate, atoms::get_v, made->id)));
  anon_send_exit(gate, exit_reason::user_shutdown);
}

CAF_TEST(the registry hands out the intake gate for the ingest key only) {
  auto gate_slot = std::make_shared<messages::intake_gate_actor>();
  actors::cluster_registry_config ccfg;
  ccfg.wall_ms = t0;
  ccfg.admin_mac = [](const std::string& text) {
    return fake_mac("admin:" + text);
  };
  ccfg.ingest_mac = fake_mac;
  ccfg.intake = gate_slot;
  auto cluster = sys.spawn(actors::cluster_registry, ccfg,
                           messages::dispatcher_actor{disp},
                           messages::orchestrator_actor{});
  consume_messages();
  auto node = to_string(self->node());
  auto ask_gate = [&](int64_t at, const std::string& mac) {
    return ask<messages::intake_gate_actor>(cluster, atoms::intake_v, at, mac);
  };
  auto payload = [&](int64_t at) {
    return messages::admin_payload("intake", node, at);
  };
  // Not running yet.
  auto early = ask_gate(t0, fake_mac(payload(t0)));
  CAF_REQUIRE(!early);
  CAF_CHECK_EQUAL(messages::errc_of(early.error()), errc::storage_unavailable);
  actors::intake_gate_config gcfg;
  gcfg.wall_ms = t0;
  gcfg.ingest_mac = fake_mac;
  gcfg.registry = reg;
  *gate_slot = sys.spawn(actors::intake_gate, gcfg);
  // Signed with the admin key instead: refused.
  auto wrong = ask_gate(t0 + 1, fake_mac("admin:" + payload(t0 + 1)));
  CAF_REQUIRE(!wrong);
  CAF_CHECK_EQUAL(messages::errc_of(wrong.error()), errc::unauthorized);
  auto got = ask_gate(t0 + 2, fake_mac(payload(t0 + 2)));
  CAF_REQUIRE(got);
  CAF_CHECK(got->address() == gate_slot->address());
  for (auto hdl : {actor_cast<actor>(*gate_slot), actor_cast<actor>(cluster)})
    anon_send_exit(hdl, exit_reason::user_shutdown);
}

CAF_TEST(commands that need a part this node lacks say so) {
  auto drain = ask<uint64_t>(console, atoms::drain_v, std::string{"w1"});
  CAF_REQUIRE(!drain);
  CAF_CHECK_EQUAL(messages::errc_of(drain.error()), errc::not_found);
  auto report = ask<messages::incident_report>(console, atoms::analyze_v,
                                               int64_t{0});
  CAF_REQUIRE(!report);
  CAF_CHECK_EQUAL(messages::errc_of(report.error()),
                  errc::storage_unavailable);
  // A local sender needs no admission; the console says yes at once.
  CAF_CHECK_EQUAL(ask<bool>(console, atoms::admit_v, int64_t{0},
                            std::string{"x"}),
                  true);
  auto letters = ask<std::vector<messages::dead_letter>>(
    console, atoms::dlq_list_v, int64_t{0}, uint32_t{10});
  CAF_REQUIRE(letters);
  CAF_CHECK(letters->empty());
}

CAF_TEST_FIXTURE_SCOPE_END()
