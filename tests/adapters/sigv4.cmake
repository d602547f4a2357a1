# adapters.sigv4: AWS SigV4 test suite vectors, the S3 presign example and
# the presigned-URL verifier (tests/data/sigv4).
vf_add_unit_test(vf-test-sigv4
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/sigv4.test.cpp
  LIBS vf::adapters_sigv4 nlohmann_json::nlohmann_json
  SUITES adapters.sigv4)
