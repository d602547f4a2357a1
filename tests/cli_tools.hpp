// tests/cli_tools.hpp
//
// Running the ffmpeg / ffprobe CLIs from media tests (they generate clips at
// test time and check outputs against the real tools), and small file
// helpers.

#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

namespace vf::testing {

/// Runs `cmd` through the shell; true when it exited with 0.
inline bool run(const std::string& cmd) {
  // NOLINTNEXTLINE(concurrency-mt-unsafe): tests run on one thread.
  auto status = std::system(cmd.c_str());
  return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/// Runs `cmd`, returns its stdout; `ok` tells whether it exited with 0.
inline std::string capture(const std::string& cmd, bool* ok = nullptr) {
  std::string out;
  bool good = false;
  if (auto* pipe = ::popen(cmd.c_str(), "r")) {
    char buf[65536];
    size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof(buf), pipe)) > 0)
      out.append(buf, n);
    good = ::pclose(pipe) == 0;
  }
  if (ok != nullptr)
    *ok = good;
  return out;
}

/// `ffprobe -show_format -show_streams` of `path` as JSON text.
inline std::string ffprobe_json_text(const std::string& path,
                                     bool* ok = nullptr) {
  return capture("ffprobe -v error -print_format json -show_format "
                 "-show_streams '"
                   + path + "'",
                 ok);
}

inline std::string read_all(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  return {std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
}

} // namespace vf::testing
