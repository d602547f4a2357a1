# vf-bench-request-timeouts: what an answered request still holds,
# by its timeout, on CAF's clock and timed by the actor (vf::actors::ask).
add_executable(vf-bench-request-timeouts
               ${CMAKE_CURRENT_LIST_DIR}/request_timeouts_bench.cpp)
target_link_libraries(vf-bench-request-timeouts PRIVATE vf::actors CAF::core
                      vf_internal)
