// vf/runtime/serve_setup.hpp
//
// What `vidflow serve` checks and decides before it spawns anything.

#pragma once

#include "vf/adapters/objectstore/store_server.hpp"
#include "vf/runtime/logger.hpp"
#include "vf/runtime/node_config.hpp"

#include <cstddef>
#include <string>

namespace vf::runtime {

/// This machine's host name ("local" when it has none).
std::string host_name();

/// Prints `vidflow serve --help`.
void print_serve_help();

/// Creates `data.dir` (and its `tmp/` in s3 mode) private to this user and
/// warns when it is open to others. Returns 0, or the exit code after the
/// error was printed.
int prepare_data_dir(const node_config& cfg, logger& log);

/// How many connections each listener may hold, in total and per client.
struct listener_limits {
  size_t http = 0;
  size_t http_per_client = 0;
  size_t store = 0;
  size_t store_per_client = 0;
};

/// Raises the descriptor limit and splits it between the listeners after a
/// reserve, so neither can starve the other or the database; logs it.
listener_limits plan_listeners(const node_config& cfg, logger& log);

/// The uploads part of the "vidflow ready" line: where uploads go, which
/// store (and its port), how many local workers.
std::string describe_uploads(const node_config& cfg,
                             const adapters::objectstore::store_server* srv);

} // namespace vf::runtime
