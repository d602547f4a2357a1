# Crash and duplicate-delivery tests against the built `vidflow` binary
# (Python standard library, Debian's /usr/bin/python3, media made by ffmpeg):
# - e2e_storm: every object event delivered 3-5 more times through the MinIO
#   webhook, concurrently and out of order; effects must happen once.
# - e2e_chaos: 300 jobs while the node is killed with SIGKILL and restarted
#   at least five times; none may be lost or processed twice. Prints its
#   random seed; rerun one with `e2e_chaos.py --binary ... --seed N`.
# Label `integration`: `ctest -LE integration` leaves them out.
if(TARGET vidflow)
  set(vf_chaos_python /usr/bin/python3)
  add_test(NAME integration.e2e_storm
           COMMAND ${vf_chaos_python} ${CMAKE_CURRENT_LIST_DIR}/e2e_storm.py
                   --binary $<TARGET_FILE:vidflow>)
  add_test(NAME integration.e2e_chaos
           COMMAND ${vf_chaos_python} ${CMAKE_CURRENT_LIST_DIR}/e2e_chaos.py
                   --binary $<TARGET_FILE:vidflow>)
  set_tests_properties(integration.e2e_storm PROPERTIES
                       LABELS integration TIMEOUT 600)
  # Kills, restarts and a bounded settle phase (180 s) of its own.
  set_tests_properties(integration.e2e_chaos PROPERTIES
                       LABELS integration TIMEOUT 1200)
endif()
