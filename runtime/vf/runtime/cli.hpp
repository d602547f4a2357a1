// vf/runtime/cli.hpp

#pragma once

namespace vf::runtime {

/// The `vidflow` command: dispatches to its subcommands. Returns the exit
/// code.
int run(int argc, char** argv);

} // namespace vf::runtime
