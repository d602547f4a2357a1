# vf-bench-sqlite-store: group commit vs. one commit per write on the SQLite
# job store. Not a test: run by hand, prints one line per mode.
add_executable(vf-bench-sqlite-store
  ${CMAKE_CURRENT_LIST_DIR}/sqlite_store_bench.cpp)
target_link_libraries(vf-bench-sqlite-store PRIVATE vf::adapters_sqlite
                      vf::messages vf_internal)
