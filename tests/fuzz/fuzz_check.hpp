// tests/fuzz/fuzz_check.hpp
//
// A property check for fuzz targets: a broken promise aborts, so libFuzzer
// saves the input as a crash artifact just as it does for a sanitizer report.

#pragma once

#include <cstdio>
#include <cstdlib>

/// Aborts with the failed condition when `cond` is false.
#define VF_FUZZ_CHECK(cond)                                                    \
  do {                                                                         \
    if (!(cond)) {                                                             \
      std::fprintf(stderr, "%s:%d: property violated: %s\n", __FILE__,         \
                   __LINE__, #cond);                                           \
      std::abort();                                                            \
    }                                                                          \
  } while (false)
