// vf/runtime/cli.cpp

#include "vf/runtime/cli.hpp"

#include "vf/runtime/admin_command.hpp"
#include "vf/runtime/certs.hpp"
#include "vf/runtime/serve.hpp"
#include "vf/runtime/users.hpp"
#include "vf/runtime/worker_node.hpp"

#include <iostream>
#include <string>
#include <vector>

namespace vf::runtime {

namespace {

void print_usage(std::ostream& out) {
  out << "Usage: vidflow <command> [options]\n\n"
         "Commands:\n"
         "  serve      run a whole node (API, store, orchestrator, workers);\n"
         "             with --cluster-port it is a cluster's coordinator\n"
         "  worker     run a worker node that joins a coordinator\n"
         "  cluster    cluster tools (init-certs: a CA and node certificates)\n"
         "  users      manage accounts (add, remove, passwd, role, list)\n"
         "  admin      operate a running coordinator (status, jobs, dlq,\n"
         "             redrive, cancel, pause, resume, top)\n"
         "  version    print the version\n"
         "  help       show this help\n\n"
         "Run 'vidflow <command> --help' for the options of a command.\n";
}

} // namespace

int run(int argc, char** argv) {
  std::vector<std::string> args{argv + (argc > 0 ? 1 : 0), argv + argc};
  if (args.empty()) {
    print_usage(std::cerr);
    return 2;
  }
  auto cmd = args.front();
  args.erase(args.begin());
  if (cmd == "serve")
    return serve(args);
  if (cmd == "worker")
    return worker_node(args);
  if (cmd == "cluster")
    return cluster_command(args);
  if (cmd == "users")
    return users_command(args);
  if (cmd == "admin")
    return admin_command(args);
  if (cmd == "version" || cmd == "--version") {
    std::cout << "vidflow " << VF_VERSION << "\n";
    return 0;
  }
  if (cmd == "help" || cmd == "--help" || cmd == "-h") {
    print_usage(std::cout);
    return 0;
  }
  std::cerr << "vidflow: unknown command '" << cmd << "'\n\n";
  print_usage(std::cerr);
  return 2;
}

} // namespace vf::runtime
