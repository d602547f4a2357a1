// vf/actors/idempotency_guard.cpp

#include "vf/actors/idempotency_guard.hpp"

#include "vf/messages/errc.hpp"

#include <chrono>

namespace vf::actors {

using namespace std::chrono_literals;

void idempotency_guard_state::remember(const std::string& key) {
  auto [at, added] = known.insert(key);
  if (!added)
    return;
  order.push_back(&*at);
  while (order.size() > capacity) {
    // By iterator: the key erased must not be a reference into itself.
    known.erase(known.find(*order.front()));
    order.pop_front();
  }
}

messages::idempotency_guard_actor::behavior_type
idempotency_guard(idempotency_guard_impl* self,
                  messages::claim_store_actor store, size_t capacity) {
  self->state.capacity = capacity > 0 ? capacity : 1;
  return {
    [=](atoms::claim, const messages::object_ref& obj,
        const std::string& job_id) -> caf::result<bool> {
      if (obj.bucket.empty() || obj.key.empty())
        return messages::make_error(messages::errc::invalid_argument,
                                    "object event without bucket or key");
      auto key = messages::claim_key(obj);
      auto& st = self->state;
      if (st.known.count(key) > 0)
        return false;
      auto rp = self->make_response_promise<bool>();
      auto i = st.pending.find(key);
      if (i != st.pending.end()) {
        // A claim for this key is on its way to the store: whatever it
        // yields, this one is second.
        i->second.push_back(rp);
        return rp;
      }
      st.pending[key].push_back(rp);
      ask(self, self->state.timeouts, store, 30s, atoms::claim_v, key, job_id)
        .then(
          [=](bool first) {
            auto& st = self->state;
            auto waiting = std::move(st.pending[key]);
            st.pending.erase(key);
            st.remember(key);
            for (size_t n = 0; n < waiting.size(); ++n)
              waiting[n].deliver(n == 0 && first);
          },
          [=](caf::error& err) {
            // Not recorded: every claimant must see the failure so that the
            // event is redelivered, never dropped.
            auto& st = self->state;
            auto waiting = std::move(st.pending[key]);
            st.pending.erase(key);
            for (auto& p : waiting)
              p.deliver(err);
          });
      return rp;
    },
  };
}

} // namespace vf::actors
