// vf/runtime/admin_command.hpp

#pragma once

#include <string>
#include <vector>

namespace vf::runtime {

/// `vidflow admin <command> ...`: the operators' CLI against a coordinator's
/// admin console (over its HTTP admin routes, with an admin login). Returns
/// the exit code (see `vidflow admin --help`).
int admin_command(const std::vector<std::string>& args);

} // namespace vf::runtime
