// vf/runtime/settings.hpp

#pragma once

#include "caf/expected.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace vf::runtime {

/// CAF's scheduler policy (`scheduler.policy`), parsed once in
/// `make_node_config` / `make_worker_config`.
enum class scheduler_policy : uint8_t {
  /// One shared job queue (`sharing`).
  sharing,
  /// Work stealing between per-thread queues (`stealing`).
  stealing,
};

/// One configuration key: its name in files (`http.port`), its flag
/// (`--http-port`), its environment variable (`VIDFLOW_HTTP_PORT`), its
/// default and what it means.
struct setting_spec {
  std::string key;
  std::string flag;
  std::string default_value;
  std::string help;
  /// Secrets are never printed (e.g. by `--print-config`).
  bool secret = false;
};

/// Returns the environment variable of `key`: `VIDFLOW_` + upper case, with
/// `.` and `-` turned into `_`.
std::string env_name(const std::string& key);

/// Raw configuration: key → value, after file, environment and flags.
class settings {
public:
  /// Builds settings from `specs` defaults, then the file named by
  /// `--config` (or `VIDFLOW_CONFIG`), then the environment, then the
  /// flags in `args`. Unknown keys in the file and unknown flags are
  /// errors that name them.
  static caf::expected<settings>
  load(const std::vector<setting_spec>& specs,
       const std::vector<std::string>& args);

  /// Returns the value of `key` (must be a known key).
  const std::string& str(const std::string& key) const;

  /// Parses `key` as an unsigned integer in [lo, hi]; the error names the
  /// key and the accepted range.
  caf::expected<uint64_t> uint(const std::string& key, uint64_t lo,
                               uint64_t hi) const;

  /// Parses a size such as `512`, `64KiB`, `5GiB`, `10MB`.
  caf::expected<uint64_t> bytes(const std::string& key) const;

  /// Returns where each value came from (`default`, file path, `env`, `flag`).
  const std::string& origin(const std::string& key) const;

  /// Prints `key = value (origin)` lines, masking secrets.
  std::string dump(const std::vector<setting_spec>& specs) const;

private:
  std::map<std::string, std::string> values_;
  std::map<std::string, std::string> origins_;
};

/// Renders the flag table of `specs` for `--help`.
std::string usage(const std::vector<setting_spec>& specs);

} // namespace vf::runtime
