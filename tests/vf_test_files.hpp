// tests/vf_test_files.hpp: files and directories for suites that touch the
// file system (include after vf_test.hpp).

#pragma once

#include "caf/test/unit_test.hpp"

#include <fstream>
#include <sstream>
#include <string>

#include <stdlib.h>
#include <sys/stat.h>

namespace vf::testing {

/// Creates a fresh, empty directory `/tmp/vf-<name>-XXXXXX` and returns its
/// path; the test stops if it cannot be made.
inline std::string temp_dir(const std::string& name) {
  std::string tmpl = "/tmp/vf-" + name + "-XXXXXX";
  auto dir = ::mkdtemp(tmpl.data());
  CAF_REQUIRE(dir != nullptr);
  return dir;
}

/// Returns the permission bits (`mode & 0777`) of the file at `path`; the
/// test stops if there is no such file.
inline unsigned file_mode(const std::string& path) {
  struct stat st {};
  CAF_REQUIRE_EQUAL(::stat(path.c_str(), &st), 0);
  return st.st_mode & 0777;
}

/// Returns the contents of the file at `path`; empty if it cannot be read.
inline std::string slurp(const std::string& path) {
  std::ifstream in{path};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

} // namespace vf::testing
