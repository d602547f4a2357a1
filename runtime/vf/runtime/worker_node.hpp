// vf/runtime/worker_node.hpp

#pragma once

#include <string>
#include <vector>

namespace vf::runtime {

/// `vidflow worker`: a worker node. Joins the coordinator's cluster
/// registry over TLS, registers its workers (slots, kinds, labels), runs the
/// tasks the coordinator's dispatcher leases to them, reconnects with
/// backoff when the coordinator goes away (re-reporting what it finished
/// meanwhile), and on SIGINT/SIGTERM drains: no new tasks, the leased ones
/// finish, then it leaves. With `--drain` it instead asks the coordinator
/// to drain the node named by `--name` and waits until that node left.
/// Returns the exit code (0 ok, 2 bad configuration, 1 failure).
int worker_node(const std::vector<std::string>& args);

} // namespace vf::runtime
