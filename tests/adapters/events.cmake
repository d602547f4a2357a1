# adapters.events: MinIO webhook, S3-via-SQS and EventBridge bodies
# (tests/data/events) -> object_event.
vf_add_unit_test(vf-test-events
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/events.test.cpp
  LIBS vf::adapters_minio
  SUITES adapters.events)
