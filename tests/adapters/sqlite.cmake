# SQLite job store: real database files in fresh temp directories, a real
# actor system (the store is a detached actor, so no test coordinator).
vf_add_unit_test(vf-test-sqlite
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/sqlite.test.cpp
  LIBS vf::adapters_sqlite SQLite::SQLite3 nlohmann_json::nlohmann_json
  SUITES adapters.sqlite)

# The video library on the same store: views, likes, pages, stats.
vf_add_unit_test(vf-test-library
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/library.test.cpp
  LIBS vf::adapters_sqlite
  SUITES adapters.library)
