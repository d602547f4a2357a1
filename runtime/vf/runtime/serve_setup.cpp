// vf/runtime/serve_setup.cpp

#include "vf/runtime/serve_setup.hpp"

#include "vf/runtime/command.hpp"
#include "vf/runtime/fd_limits.hpp"
#include "vf/runtime/settings.hpp"

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <sys/stat.h>
#include <unistd.h>

namespace vf::runtime {

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0 || buf[0] == '\0')
    return "local";
  return buf;
}

void print_serve_help() {
  std::cout
    << "Usage: vidflow serve [--config FILE] [options]\n\n"
       "Runs a whole vidflow node in the foreground: the JSON API, the job\n"
       "store (SQLite), the built-in S3-compatible object store, the\n"
       "orchestrator and the workers. Stops cleanly on SIGINT or SIGTERM.\n\n"
       "Every option is also a config-file key and an environment variable;\n"
       "flags win over the environment, which wins over the file.\n\n"
       "Options:\n"
    << usage(serve_specs())
    << "  --print-config                print the effective settings and "
       "exit\n"
       "  -h, --help                    show this help\n";
}

int prepare_data_dir(const node_config& cfg, logger& log) {
  // Uploads, outputs, the database and its journal belong to this node
  // alone, whoever started it (systemd sets the same; a shell may not).
  ::umask(077);
  if (!make_dirs(cfg.data_dir)) {
    std::cerr << "vidflow serve: setting data.dir: cannot create directory '"
              << cfg.data_dir << "'\n";
    return 2;
  }
  if (struct stat st {}; ::stat(cfg.data_dir.c_str(), &st) == 0
                         && (st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%04o", st.st_mode & 07777);
    log.warn("serve", "data.dir '" + cfg.data_dir + "' is open to other "
                        "users (mode " + mode + "); run: chmod 700 '"
                        + cfg.data_dir + "'");
  }
  return 0;
}

listener_limits plan_listeners(const node_config& cfg, logger& log) {
  auto fds = raise_fd_limit();
  auto caps = split_descriptors(fds.soft, cfg.fd_reserve,
                                cfg.http_max_connections,
                                cfg.store_max_connections,
                                cfg.store_mode == store_mode::builtin);
  // One client may never hold more than half of a listener's slots, or a
  // single address could still lock everyone else out under a low limit.
  auto per_client = [](size_t configured, size_t cap) -> size_t {
    if (configured == 0)
      return 0;
    return std::min(configured, std::max<size_t>(1, cap / 2));
  };
  listener_limits x;
  x.http = caps.http;
  x.store = caps.store;
  x.http_per_client = per_client(cfg.http_max_connections_per_client,
                                 caps.http);
  x.store_per_client = per_client(cfg.store_max_connections_per_client,
                                  caps.store);
  auto line = "file descriptors: limit " + std::to_string(fds.soft) + " (was "
              + std::to_string(fds.before) + ", hard "
              + std::to_string(fds.hard) + "), "
              + std::to_string(cfg.fd_reserve) + " reserved; API up to "
              + std::to_string(x.http) + " connections ("
              + std::to_string(x.http_per_client) + " per client), store up to "
              + std::to_string(x.store) + " ("
              + std::to_string(x.store_per_client) + " per client)";
  if (!fds.error.empty())
    log.warn("serve", line + "; raising the limit failed: " + fds.error);
  else
    log.info("serve", line);
  return x;
}

std::string describe_uploads(const node_config& cfg,
                             const adapters::objectstore::store_server* srv) {
  return cfg.public_url + "/" + cfg.bucket + " (" + to_string(cfg.store_mode)
         + " store"
         + (srv != nullptr ? " on port " + std::to_string(srv->port())
                           : std::string{})
         + "), " + std::to_string(cfg.workers) + " local workers";
}

} // namespace vf::runtime
