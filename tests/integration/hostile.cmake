# Hostile input against the built `vidflow` binary: Python (standard
# library, Debian's /usr/bin/python3) with media made by ffmpeg. A table of
# attacks, each with the answer it must get; then the node must be healthy
# and every uploaded job terminal. Label `integration`.
if(TARGET vidflow)
  add_test(NAME integration.e2e_hostile
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/e2e_hostile.py
                   --binary $<TARGET_FILE:vidflow>)
  set_tests_properties(integration.e2e_hostile
                       PROPERTIES LABELS integration TIMEOUT 600)
endif()
