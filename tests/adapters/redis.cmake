# Redis edge: stream layout and parsing (adapters.redis), and the actors
# against a real redis-server the test starts on a free loopback port
# (integration.redis; `deploy/install-deps.sh --test` installs it; without
# it the suite fails and says so).
vf_add_unit_test(vf-test-redis
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/redis.test.cpp
  LIBS vf::adapters_redis
  SUITES adapters.redis)
add_test(NAME integration.redis
         COMMAND vf-test-redis -s "^integration.redis$" -n -r 300)
set_tests_properties(integration.redis PROPERTIES LABELS integration
                     FAIL_REGULAR_EXPRESSION "(suites|tests|checks):[ ]+0[^0-9]")
