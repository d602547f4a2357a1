# Multi-node cluster tests against the built `vidflow` binary (Python
# standard library, Debian's /usr/bin/python3, media made by ffmpeg,
# certificates by `vidflow cluster init-certs` and the openssl CLI):
# - e2e_cluster: coordinator (--workers 0) + 3 worker nodes on 127.0.0.1,
#   200 jobs; a worker node killed with SIGKILL mid-run (its leases end as
#   worker_lost and are finished by other nodes, a new node joins and runs
#   tasks), then the coordinator killed and restarted (nodes reconnect and
#   re-report). Every job SUCCEEDED, every step recorded ok exactly once
#   (attempt ledger in the coordinator's SQLite database).
# - e2e_cluster_netns: worker nodes in network namespaces behind veth links;
#   one link cut mid-run (heartbeat timeout, leases handed on) and restored
#   (the node registers again and runs tasks). Needs root; exits 77
#   (Skipped) where namespaces cannot be made.
# - e2e_cluster_frozen: one worker node frozen with SIGSTOP mid-run (no root
#   needed): the heartbeat timeout drops it, its leases end as worker_lost
#   and are done elsewhere; after SIGCONT it registers again and runs tasks.
# - e2e_cluster_tls: the cluster port admits only certificates from the
#   cluster CA: junk bytes, no certificate, self-signed, expired and
#   foreign-CA certificates never register; a valid node does and is not
#   disturbed by the others.
# - e2e_cluster_drain: step labels; --drain and SIGTERM drains lose no lease.
# - e2e_cluster_s3: store.mode s3 against s3rver; nodes fetch by presigned GET.
# - e2e_cluster_outputs: renders on worker nodes (presigned GET of the
#   upload, presigned PUT per output); a node killed mid-encode, the render
#   done again elsewhere, one object per output.
# - e2e_cluster_admin: `vidflow admin --cluster` over the cluster's mutual
#   TLS with the admin certificate and key: status, drain/undrain, jobs,
#   pause/resume, dlq/redrive, and refusals (foreign CA, wrong key).
# Label `integration`: `ctest -LE integration` leaves them out.
if(TARGET vidflow)
  set(vf_cluster_python /usr/bin/python3)
  foreach(t e2e_cluster e2e_cluster_netns e2e_cluster_frozen e2e_cluster_tls
            e2e_cluster_drain e2e_cluster_s3 e2e_cluster_outputs
            e2e_cluster_admin)
    add_test(NAME integration.${t}
             COMMAND ${vf_cluster_python} ${CMAKE_CURRENT_LIST_DIR}/${t}.py
                     --binary $<TARGET_FILE:vidflow>)
  endforeach()
  # Two runs of 200 jobs with kills, restarts and bounded waits.
  set_tests_properties(integration.e2e_cluster PROPERTIES
                       LABELS integration TIMEOUT 900)
  # Label `nosan` (left out of the sanitizer pass, tests/sanitize.sh):
  # partitions, frozen nodes, drains and renders on workers are mostly
  # waiting; the C++ they reach (leases, heartbeats, node loss, the render
  # and composition code) runs under ASan in e2e_cluster, e2e_cluster_tls,
  # e2e_cluster_s3, e2e_cluster_admin, e2e_outputs and e2e_compositions.
  set_tests_properties(integration.e2e_cluster_netns PROPERTIES
                       LABELS "integration;nosan" TIMEOUT 600
                       SKIP_RETURN_CODE 77)
  set_tests_properties(integration.e2e_cluster_frozen PROPERTIES
                       LABELS "integration;nosan" TIMEOUT 300)
  set_tests_properties(integration.e2e_cluster_tls PROPERTIES
                       LABELS integration TIMEOUT 300)
  set_tests_properties(integration.e2e_cluster_drain PROPERTIES
                       LABELS "integration;nosan" TIMEOUT 300)
  set_tests_properties(integration.e2e_cluster_s3 PROPERTIES
                       LABELS integration TIMEOUT 300)
  set_tests_properties(integration.e2e_cluster_outputs PROPERTIES
                       LABELS "integration;nosan" TIMEOUT 600)
  set_tests_properties(integration.e2e_cluster_admin PROPERTIES
                       LABELS integration TIMEOUT 300)
endif()
