// vf/runtime/aws_keys.cpp

#include "vf/runtime/aws_keys.hpp"

#include "caf/typed_event_based_actor.hpp"

#include "vf/messages/errc.hpp"
#include "vf/messages/type_ids.hpp"

#include <chrono>
#include <map>
#include <memory>
#include <mutex>

namespace vf::runtime {

std::shared_ptr<adapters::aws::credential_chain>
aws_chain_of(const std::string& profile) {
  static std::mutex mtx;
  static std::map<std::string, std::shared_ptr<adapters::aws::credential_chain>>
    chains;
  std::lock_guard<std::mutex> guard{mtx};
  auto& chain = chains[profile];
  if (!chain) {
    adapters::aws::chain_config cfg;
    cfg.profile = profile;
    chain = std::make_shared<adapters::aws::credential_chain>(std::move(cfg));
  }
  return chain;
}

adapters::s3::key_source s3_keys_of(const std::string& profile, bool fetch) {
  return [chain = aws_chain_of(profile),
          fetch]() -> caf::expected<adapters::sigv4::credentials> {
    auto now = std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
    auto creds = fetch ? chain->get(now) : chain->peek(now);
    if (!creds)
      return std::move(creds.error());
    return std::move(creds->keys);
  };
}

void keep_aws_keys_fresh(node& n, const std::string& profile) {
  using refresher_actor = caf::typed_actor<caf::reacts_to<atoms::tick>>;
  auto chain = aws_chain_of(profile);
  auto& log = n.log();
  // The first keys before the API opens: its presigners only peek, so a
  // request right after start would otherwise find none.
  auto now = std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
               .count();
  auto first = chain->get(now);
  bool failing_at_start = !first;
  if (!first)
    log.warn("aws", "no AWS credentials for the store at start ("
                      + messages::message_of(first.error())
                      + "); presigning answers 503 until there are");
  auto behavior
    = [chain, &log, failing_at_start](
        refresher_actor::pointer self) -> refresher_actor::behavior_type {
    auto failing = std::make_shared<bool>(failing_at_start);
    self->send(self, atoms::tick_v);
    return {
      [self, chain, failing, &log](atoms::tick) {
        auto now = std::chrono::duration_cast<std::chrono::seconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
        auto keys = chain->get(now);
        if (!keys && !*failing)
          log.warn("aws", "no AWS credentials for the store now ("
                            + messages::message_of(keys.error())
                            + "); presigning answers 503 until there are");
        else if (keys && *failing)
          log.info("aws",
                   "AWS credentials for the store again, from " + keys->source);
        *failing = !keys;
        self->delayed_send(self, std::chrono::seconds{30}, atoms::tick_v);
      },
    };
  };
  n.keep("aws keys refresher", tier::edge,
         n.system().spawn<caf::detached>(behavior));
}

} // namespace vf::runtime
