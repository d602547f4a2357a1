// vf/runtime/users.hpp
//
// The user table's life outside the HTTP adapter: `serve` opens (and on the
// first start seeds) `<data.dir>/users.json`, and `vidflow users` edits it.
// The running server re-reads the file within a second of a change, so
// removing an account, demoting it or changing its password takes effect
// without a restart.

#pragma once

#include "vf/adapters/http/user_table.hpp"
#include "vf/runtime/logger.hpp"
#include "vf/runtime/node_config.hpp"

#include "caf/expected.hpp"

#include <memory>
#include <string>
#include <vector>

namespace vf::runtime {

/// Returns the table of `cfg.data_dir`. Without a users file, writes one
/// from `cfg.users` (passwords hashed on the way in); with one, `auth.users`
/// is ignored (a warning says so when it is set). The error names the file.
caf::expected<std::shared_ptr<const adapters::http::user_table>>
open_user_table(const node_config& cfg, logger& log);

/// `vidflow users add|remove|passwd|role|list`: returns the exit code.
int users_command(const std::vector<std::string>& args);

} // namespace vf::runtime
