# adapters.aws: the credential chain's parsers and sources, the Bedrock
# bodies, prompt and answers (no network; e2e_bedrock drives the real calls).
vf_add_unit_test(vf-test-aws
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/aws.test.cpp
  LIBS vf::adapters_aws
  SUITES adapters.aws)
