# The HTTP API adapter: JWT unit tests and a real server on an ephemeral port
# driven by a Beast client (loopback only, no outside services).
vf_add_unit_test(vf-test-http
  SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/jwt.test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/http.test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/http_routes.test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/users.test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/web_app.test.cpp
  LIBS vf::adapters_http vf::actors OpenSSL::Crypto nlohmann_json::nlohmann_json
  SUITES adapters.http adapters.http_routes adapters.jwt adapters.users
         adapters.web_app)
