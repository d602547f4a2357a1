# adapters.s3: how requests and presigned URLs name a bucket (path style or
# virtual-hosted) and where signing keys come from. The client against a
# real S3 server is integration.s3rver (tests/integration/s3rver.cmake).
vf_add_unit_test(vf-test-s3
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/s3.test.cpp
  LIBS vf::adapters_s3 vf::adapters_sigv4
  SUITES adapters.s3)
