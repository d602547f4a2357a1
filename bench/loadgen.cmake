# vf-loadgen: native end-to-end load generator (create, upload, follow) for
# a running node; bench/load.py starts a node and runs it. Not part of CI.
add_executable(vf-loadgen ${CMAKE_CURRENT_LIST_DIR}/loadgen.cpp)
target_link_libraries(vf-loadgen PRIVATE Boost::boost nlohmann_json::nlohmann_json Threads::Threads vf_internal)
