// vf/runtime/fault_injector.cpp

#include "vf/runtime/fault_injector.hpp"

#include "vf/messages/errc.hpp"

#include "caf/typed_event_based_actor.hpp"

#include <cstdio>
#include <cstdlib>
#include <random>

namespace vf::runtime {

namespace {

struct injector_state {
  std::mt19937_64 rng;
};

messages::media_actor::behavior_type
injector(messages::media_actor::stateful_pointer<injector_state> self,
         messages::media_actor inner, double rate, std::string code,
         uint64_t seed, std::string crash_on) {
  self->state.rng.seed(seed);
  auto err = messages::errc_from_string(code);
  return {
    [=](atoms::probe, const messages::object_ref& obj,
        const std::string& input, uint32_t timeout_ms,
        uint64_t lease) -> caf::result<std::string> {
      if (!crash_on.empty() && obj.key.find(crash_on) != std::string::npos) {
        std::fprintf(stderr, "TEST ONLY: aborting on %s (testing.crash_on)\n",
                     obj.key.c_str());
        std::fflush(stderr);
        std::abort();
      }
      std::uniform_real_distribution<double> u{0.0, 1.0};
      if (u(self->state.rng) < rate)
        return messages::make_error(err, "injected fault (testing.fault_rate)");
      return self->delegate(inner, atoms::probe_v, obj, input, timeout_ms,
                            lease);
    },
    // Faults are injected into probes only; renders pass through.
    [=](atoms::render, const messages::object_ref& obj,
        const std::string& job_id, const std::string& input,
        const std::vector<messages::object_ref>& outputs,
        const std::vector<messages::object_ref>& sources, uint32_t timeout_ms,
        uint64_t lease) {
      return self->delegate(inner, atoms::render_v, obj, job_id, input, outputs,
                            sources, timeout_ms, lease);
    },
  };
}

} // namespace

messages::media_actor spawn_fault_injector(caf::actor_system& sys,
                                           messages::media_actor inner,
                                           double rate, std::string code,
                                           uint64_t seed, std::string crash_on) {
  return sys.spawn(injector, std::move(inner), rate, std::move(code), seed,
                   std::move(crash_on));
}

} // namespace vf::runtime
