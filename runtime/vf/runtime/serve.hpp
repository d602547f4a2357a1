// vf/runtime/serve.hpp

#pragma once

#include <string>
#include <vector>

namespace vf::runtime {

/// `vidflow serve`: every actor on one node with embedded defaults. Runs
/// in the foreground until SIGINT or SIGTERM, then stops cleanly. Returns
/// the process exit code (0 ok, 2 bad configuration, 1 start-up failure).
int serve(const std::vector<std::string>& args);

} // namespace vf::runtime
