# Callbacks: URL checks, the allow-list, signatures (no network; the e2e
# test sends real callbacks to a receiver it starts).
vf_add_unit_test(vf-test-webhooks
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/webhooks.test.cpp
  LIBS vf::adapters_webhooks
  SUITES adapters.webhooks)
