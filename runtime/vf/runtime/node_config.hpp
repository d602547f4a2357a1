// vf/runtime/node_config.hpp

#pragma once

#include "vf/runtime/logger.hpp"
#include "vf/runtime/settings.hpp"

#include "caf/expected.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace vf::runtime {

/// An account allowed to log in (from `auth.users`).
struct account {
  std::string name;
  std::string password;
  std::string role;
};

/// Everything `vidflow serve` needs, parsed and checked.
struct node_config {
  std::string http_host;
  uint16_t http_port = 8000;
  size_t http_threads = 1;
  uint64_t http_max_body = 1 << 20;
  std::string data_dir;
  size_t workers = 2;
  uint32_t task_timeout_ms = 60000;
  uint32_t max_attempts = 3;
  std::chrono::milliseconds backoff_base{500};
  std::chrono::milliseconds backoff_cap{30000};
  /// `builtin` or `s3`.
  std::string store_mode;
  std::string store_host;
  uint16_t store_port = 9000;
  std::string public_url;
  std::string store_endpoint;
  std::string bucket;
  std::string region;
  std::string access_key;
  std::string secret_key;
  uint64_t max_upload_bytes = 0;
  uint32_t presign_expires = 900;
  std::string jwt_secret;
  uint32_t token_ttl = 3600;
  std::vector<account> users;
  std::string webhook_token;
  log_level level = log_level::info;
  /// Requests per second one client may make (0: unlimited) and its burst.
  double rate_limit = 1000;
  uint32_t rate_burst = 2000;
  /// DLQ analyzer schedule and window.
  std::chrono::milliseconds dlq_interval{300000};
  std::chrono::milliseconds dlq_window{86400000};
  /// Test-only: share of probes that fail with `fault_code` (0: off).
  double fault_rate = 0;
  std::string fault_code = "storage_unavailable";
  /// CAF scheduler policy: `sharing` or `stealing`.
  std::string scheduler = "sharing";
  /// CAF scheduler threads; 0 lets CAF choose.
  size_t scheduler_threads = 0;
};

/// The keys `vidflow serve` understands, with flags, defaults and help.
const std::vector<setting_spec>& serve_specs();

/// Turns raw settings into a node configuration; an error names the
/// setting that is missing or wrong and says what it accepts.
caf::expected<node_config> make_node_config(const settings& xs);

} // namespace vf::runtime
