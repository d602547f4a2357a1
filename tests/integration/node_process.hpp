// tests/integration/node_process.hpp — runs a node.js launcher script
// (s3rver, dynalite, ...) for the lifetime of an object: the launcher
// prints "ready on 127.0.0.1:<port>" once it listens and exits when its
// stdin closes (the env flag given), so a test that dies leaves nothing
// running. Shared by the integration tests that talk to emulators and
// servers written for node.

#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

extern char** environ;

namespace vf_test {

namespace fs = std::filesystem;

/// Reads a whole file, empty if absent.
inline std::string slurp(const fs::path& path) {
  std::ifstream in{path, std::ios::binary};
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

/// Runs the launcher for the lifetime of the object; kills it on
/// destruction, also when a check failed and unwound the test.
class node_process {
public:
  /// `node launcher module 0 <dir>/data`, with `exit_flag=1` in its
  /// environment; `what` names it in messages.
  node_process(std::string what, std::string node, std::string launcher,
               std::string module, std::string exit_flag)
    : what_(std::move(what)), node_(std::move(node)),
      launcher_(std::move(launcher)), module_(std::move(module)),
      exit_flag_(std::move(exit_flag)) {}

  node_process(const node_process&) = delete;

  node_process& operator=(const node_process&) = delete;

  ~node_process() {
    stop();
    if (!dir_.empty()) {
      std::error_code ec;
      fs::remove_all(dir_, ec);
    }
  }

  /// Starts the launcher and waits until it listens; returns an error text
  /// or "".
  std::string start() {
    if (node_.empty())
      return "node not found when configuring (install nodejs)";
    if (!fs::exists(fs::path{module_} / "package.json"))
      return what_ + " module missing at " + module_
             + ": run `deploy/install-deps.sh --test`";
    if (!fs::exists(launcher_))
      return "launcher missing at " + launcher_;
    char tmpl[] = "/tmp/vf-node-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr)
      return std::string{"mkdtemp: "} + std::strerror(errno);
    dir_ = tmpl;
    fs::create_directory(dir_ / "data");
    log_ = dir_ / "launcher.log";
    int fds[2];
    // Close-on-exec: only the launcher's dup2'ed stdin survives the exec.
    if (::pipe2(fds, O_CLOEXEC) != 0)
      return std::string{"pipe: "} + std::strerror(errno);
    stdin_ = fds[1];
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[0], 0);
    posix_spawn_file_actions_addclose(&actions, fds[1]);
    posix_spawn_file_actions_addopen(&actions, 1, log_.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    std::vector<std::string> args{node_, launcher_, module_, "0",
                                  (dir_ / "data").string()};
    std::vector<char*> argv;
    for (auto& arg : args)
      argv.push_back(arg.data());
    argv.push_back(nullptr);
    // Our environment plus the flag that ends the launcher with our stdin
    // pipe, i.e. when this process goes away for any reason.
    std::vector<std::string> env_strings{exit_flag_ + "=1"};
    for (char** e = environ; *e != nullptr; ++e)
      env_strings.emplace_back(*e);
    std::vector<char*> envp;
    for (auto& e : env_strings)
      envp.push_back(e.data());
    envp.push_back(nullptr);
    auto rc = ::posix_spawn(&pid_, node_.c_str(), &actions, nullptr,
                            argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[0]);
    if (rc != 0) {
      pid_ = 0;
      return "posix_spawn " + node_ + ": " + std::strerror(rc);
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{30};
    while (std::chrono::steady_clock::now() < deadline) {
      auto out = slurp(log_);
      auto pos = out.find("ready on 127.0.0.1:");
      if (pos != std::string::npos
          && out.find('\n', pos) != std::string::npos) {
        port_ = std::atoi(out.c_str() + pos + 19);
        if (port_ <= 0)
          return "cannot read the port from: " + out;
        return {};
      }
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = 0;
        return "launcher exited before it was ready: " + out;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds{50});
    }
    return "launcher not ready after 30 s: " + slurp(log_);
  }

  /// Terminates the launcher (SIGTERM, then SIGKILL after 5 s).
  void stop() {
    if (stdin_ >= 0) {
      ::close(stdin_);
      stdin_ = -1;
    }
    if (pid_ <= 0)
      return;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 100; ++i) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = 0;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds{50});
    }
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = 0;
  }

  /// Port the server listens on.
  int port() const {
    return port_;
  }

  /// The temporary directory (the server's data lives in `data/`).
  const fs::path& dir() const {
    return dir_;
  }

  /// What the launcher printed so far.
  std::string log() const {
    return slurp(log_);
  }

private:
  std::string what_;
  std::string node_;
  std::string launcher_;
  std::string module_;
  std::string exit_flag_;
  pid_t pid_ = 0;
  int stdin_ = -1;
  int port_ = 0;
  fs::path dir_;
  fs::path log_;
};

} // namespace vf_test
