# End-to-end tests: Python (standard library, Debian's /usr/bin/python3)
# driving the built `vidflow` binary over HTTP with media made by ffmpeg.
# Label `integration`: `ctest -LE integration` leaves them out.
if(TARGET vidflow)
  set(vf_e2e_python /usr/bin/python3)
  add_test(NAME integration.e2e_single_node
           COMMAND ${vf_e2e_python} ${CMAKE_CURRENT_LIST_DIR}/e2e_single_node.py
                   --binary $<TARGET_FILE:vidflow>)
  add_test(NAME integration.e2e_s3rver
           COMMAND ${vf_e2e_python} ${CMAKE_CURRENT_LIST_DIR}/e2e_s3rver.py
                   --binary $<TARGET_FILE:vidflow>)
  set_tests_properties(integration.e2e_single_node integration.e2e_s3rver
                       PROPERTIES LABELS integration TIMEOUT 600)
endif()
if(TARGET vidflow)
  add_test(NAME integration.e2e_faults
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/e2e_faults.py
                   --binary $<TARGET_FILE:vidflow>)
  set_tests_properties(integration.e2e_faults
                       PROPERTIES LABELS integration TIMEOUT 600)
endif()
