# integration.dynamodb: vidflow's DynamoDB client and store (claims, attempt
# ledger) against dynalite, a DynamoDB emulator under node (DynamoDB cannot
# run here). `deploy/install-deps.sh --test` installs it into build/tools;
# without it the test fails and says so.
vf_add_unit_test(vf-test-dynamodb
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/dynamodb.test.cpp
  LIBS vf::adapters_aws vf::messages CAF::core
  SUITES integration.dynamodb
  LABELS integration)
target_compile_definitions(vf-test-dynamodb PRIVATE
  VF_NODE_EXECUTABLE="${VF_NODE_EXECUTABLE}"
  VF_DYNALITE_MODULE="${CMAKE_SOURCE_DIR}/build/tools/node_modules/dynalite"
  VF_DYNALITE_LAUNCHER="${CMAKE_CURRENT_LIST_DIR}/dynalite-launcher.js")
