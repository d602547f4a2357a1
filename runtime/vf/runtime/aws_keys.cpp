// vf/runtime/aws_keys.cpp

#include "vf/runtime/aws_keys.hpp"

#include <chrono>
#include <map>
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

adapters::s3::key_source s3_keys_of(const std::string& profile) {
  return [chain = aws_chain_of(
            profile)]() -> caf::expected<adapters::sigv4::credentials> {
    auto now = std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
    auto creds = chain->get(now);
    if (!creds)
      return std::move(creds.error());
    return std::move(creds->keys);
  };
}

} // namespace vf::runtime
