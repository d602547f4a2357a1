# vf-bench-dispatch: the dispatcher's cost per lease, local vs remote worker.
add_executable(vf-bench-dispatch ${CMAKE_CURRENT_LIST_DIR}/dispatch_bench.cpp)
target_link_libraries(vf-bench-dispatch PRIVATE vf::actors vf::runtime
                      CAF::openssl vf::openssl_queue_fix ${CMAKE_DL_LIBS}
                      vf_internal)
