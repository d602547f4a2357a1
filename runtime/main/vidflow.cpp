// The vidflow binary: everything lives in vf::runtime.

#include "vf/runtime/cli.hpp"

int main(int argc, char** argv) {
  return vf::runtime::run(argc, argv);
}
