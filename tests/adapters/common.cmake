# Small shared pieces of the adapters (vf::adapters_common) that have no
# adapter of their own: the lease journal, on real files in temp dirs.
vf_add_unit_test(vf-test-adapters-common
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/common.test.cpp
  LIBS vf::adapters_common
  SUITES adapters.common)
