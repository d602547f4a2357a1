# vf-bench-redis-bus: events/s through the Redis event bus (publish only,
# and publish → durable write → XACK), beside redis-benchmark's XADD.
add_executable(vf-bench-redis-bus ${CMAKE_CURRENT_LIST_DIR}/redis_bus_bench.cpp)
target_include_directories(vf-bench-redis-bus PRIVATE
                           ${CMAKE_SOURCE_DIR}/tests)
target_link_libraries(vf-bench-redis-bus PRIVATE vf::adapters_redis
                      vf::adapters_sqlite vf::messages vf_internal)
