# vf-bench-request-timeouts: what an answered CAF request still holds, by
# the timeout it was made with.
add_executable(vf-bench-request-timeouts
               ${CMAKE_CURRENT_LIST_DIR}/request_timeouts_bench.cpp)
target_link_libraries(vf-bench-request-timeouts PRIVATE CAF::core vf_internal)
