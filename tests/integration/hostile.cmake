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

# Issue 8 #3: uploads that name other files (HLS playlists, ffconcat) are
# bad_media and show nothing of another user's upload (confined_input).
if(TARGET vidflow)
  add_test(NAME integration.e2e_sec_media
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/e2e_sec_media.py
                   --binary $<TARGET_FILE:vidflow>)
  set_tests_properties(integration.e2e_sec_media
                       PROPERTIES LABELS integration TIMEOUT 300)
endif()

# Accounts and logins (issue 8): tokens die with their account, roles come
# from the user table, password guessing gets 429.
if(TARGET vidflow)
  add_test(NAME integration.e2e_sec_auth
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/e2e_sec_auth.py
                   --binary $<TARGET_FILE:vidflow>)
  set_tests_properties(integration.e2e_sec_auth
                       PROPERTIES LABELS integration TIMEOUT 600)
endif()

# Issue 8 #1, #5, #9, #13, #14: forged webhook events, one upload per job,
# history per user, file modes, pipelines that cannot run.
if(TARGET vidflow)
  add_test(NAME integration.e2e_sec_events
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/e2e_sec_events.py
                   --binary $<TARGET_FILE:vidflow>)
  set_tests_properties(integration.e2e_sec_events
                       PROPERTIES LABELS integration TIMEOUT 600)
endif()

# Issue 8 #8: a cluster certificate lets a node act only for itself; drain
# or evict another node only with the cluster admin secret.
if(TARGET vidflow)
  add_test(NAME integration.e2e_sec_cluster
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/e2e_sec_cluster.py
                   --binary $<TARGET_FILE:vidflow>)
  set_tests_properties(integration.e2e_sec_cluster
                       PROPERTIES LABELS integration TIMEOUT 300)
endif()

# Connection exhaustion and HTTP framing (issue 8): idle-socket floods per
# listener, slow headers and uploads, ambiguous framing on both listeners, a
# node under a low descriptor limit. About 25 s.
if(TARGET vidflow)
  add_test(NAME integration.e2e_sec_net
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/e2e_sec_net.py
                   --binary $<TARGET_FILE:vidflow>)
  set_tests_properties(integration.e2e_sec_net
                       PROPERTIES LABELS integration TIMEOUT 300)
endif()

# Issue 8 #12: readiness (/readyz) next to liveness; a full data disk makes
# the node not ready and POST /jobs answer 507 (a real full tmpfs as root).
if(TARGET vidflow)
  add_test(NAME integration.e2e_sec_storage
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/e2e_sec_storage.py
                   --binary $<TARGET_FILE:vidflow>)
  set_tests_properties(integration.e2e_sec_storage
                       PROPERTIES LABELS integration TIMEOUT 300)
endif()
