# adapters.summarizer: the mock summarizer, pure CPU, deterministic.
vf_add_unit_test(vf-test-summarizer
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/summarizer.test.cpp
  LIBS vf::adapters_summarizer
  SUITES adapters.summarizer)
