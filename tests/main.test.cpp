// The only translation unit that includes unit_test_impl.hpp: it defines the
// CAF test engine and main(). Every suite lives in its own *.test.cpp file.
#define CAF_SUITE main
#include "caf/test/unit_test_impl.hpp"
