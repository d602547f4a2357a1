#define CAF_SUITE actors.idempotency_guard

#include "vf/actors/idempotency_guard.hpp"

#include "vf_test.hpp"

#include "fakes.hpp"

using namespace caf;
using namespace vf;
using messages::errc;

namespace {

struct fixture : testing::fixture_base {
  fixture() {
    store = sys.spawn(testing::fake_store);
    guard = sys.spawn(actors::idempotency_guard,
                      messages::claim_store_actor{store}, size_t{2});
    consume_messages();
  }

  messages::object_ref obj(std::string key, std::string version = "v1") {
    return {"uploads", std::move(key), std::move(version), "etag", 1, {}, {}};
  }

  std::vector<expected<bool>> replies(size_t n) {
    std::vector<expected<bool>> xs;
    for (size_t i = 0; i < n; ++i)
      self->receive([&](bool x) { xs.emplace_back(x); },
                    [&](error& x) { xs.emplace_back(std::move(x)); },
                    after(std::chrono::seconds(0)) >> [] {});
    return xs;
  }

  expected<bool> claim(const messages::object_ref& o) {
    self->send(guard, atoms::claim_v, o, std::string{"job"});
    consume_messages();
    return replies(1).at(0);
  }

  testing::fake_store_state& st() {
    return deref<testing::fake_store_impl>(store).state;
  }

  messages::store_actor store;
  messages::idempotency_guard_actor guard;
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(idempotency_guard_tests, fixture)

CAF_TEST(the first claim wins and later ones are duplicates) {
  CAF_CHECK_EQUAL(claim(obj("a")), true);
  CAF_CHECK_EQUAL(claim(obj("a")), false);
  CAF_CHECK_EQUAL(claim(obj("a", "v2")), true); // a new upload of the key
  CAF_CHECK_EQUAL(st().claims.size(), 2u);
  // The cached duplicate was answered without a store round trip.
  CAF_CHECK_EQUAL(st().claim_calls, 2u);
}

CAF_TEST(racing claims reach the store once) {
  for (int i = 0; i < 4; ++i)
    self->send(guard, atoms::claim_v, obj("a"), std::string{"job"});
  consume_messages();
  auto xs = replies(4);
  CAF_REQUIRE_EQUAL(xs.size(), 4u);
  CAF_CHECK_EQUAL(xs[0], true);
  for (size_t i = 1; i < xs.size(); ++i)
    CAF_CHECK_EQUAL(xs[i], false);
  CAF_CHECK_EQUAL(st().claim_calls, 1u);
}

CAF_TEST(an evicted key is still a duplicate through the store) {
  CAF_CHECK_EQUAL(claim(obj("a")), true);
  CAF_CHECK_EQUAL(claim(obj("b")), true);
  CAF_CHECK_EQUAL(claim(obj("c")), true); // evicts "a" from the cache
  CAF_CHECK_EQUAL(st().claim_calls, 3u);
  CAF_CHECK_EQUAL(claim(obj("a")), false);
  CAF_CHECK_EQUAL(st().claim_calls, 4u); // not cached any more: asked
}

CAF_TEST(a store failure reaches every claimant and records nothing) {
  st().fail_writes = true;
  self->send(guard, atoms::claim_v, obj("a"), std::string{"job"});
  self->send(guard, atoms::claim_v, obj("a"), std::string{"job"});
  consume_messages();
  auto xs = replies(2);
  CAF_REQUIRE_EQUAL(xs.size(), 2u);
  for (auto& x : xs) {
    CAF_REQUIRE(!x);
    CAF_CHECK_EQUAL(messages::errc_of(x.error()), errc::storage_unavailable);
  }
  st().fail_writes = false;
  CAF_CHECK_EQUAL(claim(obj("a")), true);
}

CAF_TEST(objects without bucket or key are refused) {
  auto r = claim(obj(""));
  CAF_REQUIRE(!r);
  CAF_CHECK_EQUAL(messages::errc_of(r.error()), errc::invalid_argument);
}

CAF_TEST_FIXTURE_SCOPE_END()
