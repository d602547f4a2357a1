// vf/adapters/http/api_state.cpp

#include "vf/adapters/http/api_state.hpp"

#include "vf/adapters/http/password_hash.hpp"

#include <chrono>
#include <utility>
#include <vector>

namespace vf::adapters::http {

api_state::api_state(api_config cfg, api_handles hdl,
                     std::shared_ptr<prometheus::Registry> registry)
  : config(std::move(cfg)), handles(std::move(hdl)),
    metrics(std::move(registry),
            !(config.intake_only || config.ingest_node)),
    limiter(config.rate_limit, config.rate_burst),
    streams(config.max_streams, config.max_streams_per_user),
    web(config.web_dir, web_csp(config.web_store_origins)) {
  if (config.accounts) {
    users = config.accounts;
    return;
  }
  std::vector<user_account> xs;
  xs.reserve(config.users.size());
  for (auto& u : config.users)
    xs.push_back(user_account{u.name, u.role.empty() ? "user" : u.role,
                              hash_password(u.password), new_user_epoch()});
  users = std::make_shared<const user_table>(std::move(xs));
}

int64_t api_state::now() const {
  if (config.now)
    return config.now();
  using namespace std::chrono;
  return duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
}

} // namespace vf::adapters::http
