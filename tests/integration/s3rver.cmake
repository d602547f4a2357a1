# integration.s3rver: presigned PUT (sigv4) and the S3 client against a real
# S3 server, @20minutes/s3rver 4.0.4 under node. `deploy/install-deps.sh
# --test` installs it into build/tools; without it the test fails and says so.
vf_add_unit_test(vf-test-s3rver
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/s3rver.test.cpp
  LIBS vf::adapters_s3 vf::adapters_sigv4 CURL::libcurl
  SUITES integration.s3rver
  LABELS integration)
target_compile_definitions(vf-test-s3rver PRIVATE
  VF_NODE_EXECUTABLE="${VF_NODE_EXECUTABLE}"
  VF_S3RVER_MODULE="${CMAKE_SOURCE_DIR}/build/tools/node_modules/@20minutes/s3rver"
  VF_S3RVER_LAUNCHER="${CMAKE_CURRENT_LIST_DIR}/s3rver-launcher.js")
