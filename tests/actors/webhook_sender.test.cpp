#define CAF_SUITE actors.webhook_sender

#include "vf/actors/webhook_sender.hpp"

#include "vf_test.hpp"

#include "fakes.hpp"

#include <deque>
#include <string>
#include <vector>

using namespace caf;
using namespace vf;

namespace {

constexpr int64_t t0 = 1'800'000'000'000;

/// A callback port whose answers the test scripts; remembers what it got.
struct fake_client_state {
  std::vector<messages::delivery> got;
  /// Answers in order; when empty, every attempt succeeds.
  std::deque<messages::delivery_attempt> script;
};

using fake_client_impl
  = messages::callback_actor::stateful_base<fake_client_state>;

messages::callback_actor::behavior_type fake_client(fake_client_impl* self) {
  return {
    [=](atoms::deliver, const messages::delivery& d) {
      self->state.got.push_back(d);
      if (self->state.script.empty()) {
        messages::delivery_attempt ok;
        ok.ok = true;
        ok.status = 204;
        return ok;
      }
      auto x = self->state.script.front();
      self->state.script.pop_front();
      return x;
    },
  };
}

messages::delivery_attempt failed(uint32_t status, bool permanent = false) {
  messages::delivery_attempt x;
  x.status = status;
  x.permanent = permanent;
  x.error = "the receiver answered " + std::to_string(status);
  return x;
}

struct fixture : testing::fixture_base {
  fixture() {
    store = sys.spawn(testing::fake_store);
    client = sys.spawn(fake_client);
    consume_messages();
  }

  ~fixture() {
    for (auto hdl : {actor_cast<actor>(sender), actor_cast<actor>(client),
                     actor_cast<actor>(store)})
      if (hdl)
        anon_send_exit(hdl, exit_reason::user_shutdown);
    run();
  }

  void spawn_sender() {
    cfg.interval = std::chrono::seconds{1};
    cfg.retry_base = std::chrono::seconds{5};
    cfg.retry_cap = std::chrono::seconds{60};
    cfg.give_up_after = std::chrono::minutes{10};
    cfg.wall_ms = t0;
    cfg.on_outcome = [this](const std::string& x) { outcomes.push_back(x); };
    cfg.batch = 2;
    sender = sys.spawn(actors::webhook_sender, store,
                       std::function<messages::callback_actor()>{
                         [this] { return client; }},
                       cfg);
    consume_messages();
  }

  void add(const std::string& id, int64_t due) {
    messages::delivery d;
    d.id = id;
    d.job_id = "job-" + id;
    d.owner = "demo";
    d.url = "https://example.org/hook";
    d.body = R"({"id":")" + id + "\"}";
    d.state = "pending";
    d.next_at = due;
    d.created_at = due;
    store_state().deliveries[id] = d;
  }

  testing::fake_store_state& store_state() {
    return deref<testing::fake_store_impl>(store).state;
  }

  fake_client_state& client_state() {
    return deref<fake_client_impl>(client).state;
  }

  messages::delivery& stored(const std::string& id) {
    return store_state().deliveries.at(id);
  }

  void tick(std::chrono::milliseconds dt = std::chrono::seconds{1}) {
    advance_time(dt);
    consume_messages();
  }

  actors::webhook_sender_config cfg;
  std::vector<std::string> outcomes;
  messages::store_actor store;
  messages::callback_actor client;
  messages::webhook_sender_actor sender;
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(webhook_sender_tests, fixture)

CAF_TEST(a due delivery is sent once and recorded as delivered) {
  add("dlv_1", t0);
  add("dlv_later", t0 + 60'000);
  spawn_sender();
  CAF_REQUIRE_EQUAL(client_state().got.size(), 1u);
  auto sent_id = client_state().got[0].id;
  CAF_CHECK_EQUAL(sent_id, "dlv_1");
  auto state = stored("dlv_1").state;
  CAF_CHECK_EQUAL(state, "delivered");
  CAF_CHECK_EQUAL(stored("dlv_1").attempts, 1u);
  CAF_CHECK_EQUAL(stored("dlv_1").delivered_at, t0);
  CAF_CHECK_EQUAL(stored("dlv_1").last_status, 204u);
  // Delivered stays delivered; the later one waits for its time.
  tick();
  tick();
  CAF_CHECK_EQUAL(client_state().got.size(), 1u);
  auto later = stored("dlv_later").state;
  CAF_CHECK_EQUAL(later, "pending");
  CAF_CHECK_EQUAL(outcomes, std::vector<std::string>{"delivered"});
}

CAF_TEST(failures back off exponentially until the receiver answers) {
  add("dlv_1", t0);
  client_state().script = {failed(500), failed(503), failed(502)};
  spawn_sender();
  CAF_CHECK_EQUAL(client_state().got.size(), 1u);
  CAF_CHECK_EQUAL(stored("dlv_1").next_at, t0 + 5'000);
  auto err = stored("dlv_1").last_error;
  CAF_CHECK_EQUAL(err, "the receiver answered 500");
  // Not before it is due.
  tick(std::chrono::seconds{4});
  CAF_CHECK_EQUAL(client_state().got.size(), 1u);
  tick(); // t0 + 5 s
  CAF_CHECK_EQUAL(client_state().got.size(), 2u);
  CAF_CHECK_EQUAL(stored("dlv_1").next_at, t0 + 5'000 + 10'000);
  tick(std::chrono::seconds{10}); // t0 + 15 s
  CAF_CHECK_EQUAL(client_state().got.size(), 3u);
  CAF_CHECK_EQUAL(stored("dlv_1").next_at, t0 + 15'000 + 20'000);
  tick(std::chrono::seconds{20}); // t0 + 35 s: the script is out, 2xx
  CAF_CHECK_EQUAL(client_state().got.size(), 4u);
  auto state = stored("dlv_1").state;
  CAF_CHECK_EQUAL(state, "delivered");
  CAF_CHECK_EQUAL(stored("dlv_1").attempts, 4u);
  CAF_CHECK(stored("dlv_1").last_error.empty());
  // Every attempt sent the same body.
  for (auto& d : client_state().got)
    CAF_CHECK_EQUAL(d.body, R"({"id":"dlv_1"})");
  CAF_CHECK_EQUAL(outcomes, (std::vector<std::string>{"retry", "retry",
                                                      "retry", "delivered"}));
}

CAF_TEST(a refused target is given up at once and an old one in time) {
  add("dlv_1", t0);
  add("dlv_2", t0);
  // dlv_1 goes first: refused for good; dlv_2 fails for ten minutes.
  client_state().script = {failed(0, true)};
  for (int i = 0; i < 100; ++i)
    client_state().script.push_back(failed(500));
  spawn_sender();
  auto refused = stored("dlv_1").state;
  CAF_CHECK_EQUAL(refused, "failed");
  CAF_CHECK_EQUAL(stored("dlv_1").attempts, 1u);
  auto pending = stored("dlv_2").state;
  CAF_CHECK_EQUAL(pending, "pending");
  for (int i = 0; i < 11; ++i)
    tick(std::chrono::minutes{1});
  auto old = stored("dlv_2").state;
  CAF_CHECK_EQUAL(old, "failed");
  auto attempts = stored("dlv_2").attempts;
  CAF_CHECK_GREATER(attempts, 3u);
  tick(std::chrono::minutes{5});
  CAF_CHECK_EQUAL(stored("dlv_2").attempts, attempts);
  CAF_CHECK_EQUAL(stored("dlv_1").attempts, 1u);
}

CAF_TEST(the backoff is capped) {
  actors::webhook_sender_config c;
  c.retry_base = std::chrono::seconds{5};
  c.retry_cap = std::chrono::seconds{60};
  c.give_up_after = std::chrono::hours{24};
  messages::delivery d;
  d.created_at = t0;
  d.state = "pending";
  auto now = t0;
  std::vector<int64_t> waits;
  for (int i = 0; i < 8; ++i) {
    d = actors::after_attempt(d, failed(500), now, c);
    waits.push_back(d.next_at - now);
    now = d.next_at;
  }
  CAF_CHECK_EQUAL(waits, (std::vector<int64_t>{5'000, 10'000, 20'000, 40'000,
                                               60'000, 60'000, 60'000,
                                               60'000}));
}

CAF_TEST_FIXTURE_SCOPE_END()
