// tests/redis_server.hpp: a real redis-server for tests and benchmarks, on
// a free loopback port, AOF on (`appendfsync always`), in a fresh
// directory; `stop` and `start` again keep its data.

#pragma once

#include "vf/adapters/redis/connection.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace vf::testing {

class redis_server {
public:
  redis_server() {
    char tmpl[] = "/tmp/vf-redis-XXXXXX";
    if (::mkdtemp(tmpl) != nullptr)
      dir_ = tmpl;
    port_ = free_port();
  }

  redis_server(const redis_server&) = delete;
  redis_server& operator=(const redis_server&) = delete;

  ~redis_server() {
    stop();
    std::error_code ec;
    if (!dir_.empty())
      std::filesystem::remove_all(dir_, ec);
  }

  /// Starts the server and waits until it answers PING; "" or why not.
  std::string start() {
    using namespace std::chrono_literals;
    std::vector<std::string> args{"redis-server", "--port",
                                  std::to_string(port_), "--bind",
                                  "127.0.0.1", "--save", "",
                                  "--appendonly", "yes", "--appendfsync",
                                  "always", "--dir", dir_.string(),
                                  "--daemonize", "no"};
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    auto log = (dir_ / "server.log").string();
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0600);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    auto rc = ::posix_spawnp(&pid_, "redis-server", &actions, nullptr,
                             argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
      pid_ = 0;
      return std::string{"cannot start redis-server ("} + std::strerror(rc)
             + "): install it (deploy/install-deps.sh --test)";
    }
    auto deadline = std::chrono::steady_clock::now() + 20s;
    adapters::redis::redis_settings s;
    s.port = port_;
    while (std::chrono::steady_clock::now() < deadline) {
      adapters::redis::connection c{s};
      if (auto r = c.run({"PING"}); r && r->text() == "PONG")
        return {};
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = 0;
        return "redis-server exited: " + slurp(dir_ / "server.log");
      }
      std::this_thread::sleep_for(50ms);
    }
    return "redis-server not answering after 20 s: "
           + slurp(dir_ / "server.log");
  }

  /// SIGTERM (Redis fsyncs its AOF and exits) and wait.
  void stop() {
    if (pid_ <= 0)
      return;
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = 0;
  }

  uint16_t port() const {
    return port_;
  }

private:
  static std::string slurp(const std::filesystem::path& path) {
    std::ifstream in{path};
    std::stringstream out;
    out << in.rdbuf();
    return out.str();
  }

  static uint16_t free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    socklen_t len = sizeof(addr);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
  }

  std::filesystem::path dir_;
  uint16_t port_ = 0;
  pid_t pid_ = 0;
};

} // namespace vf::testing
