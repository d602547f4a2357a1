# End-to-end tests: Python driving the built `vidflow` binary over HTTP with
# media made by ffmpeg (see vf_add_e2e_test).
# Label `integration`: `ctest -LE integration` leaves them out.
vf_add_e2e_test(e2e_single_node TIMEOUT 600)
vf_add_e2e_test(e2e_s3rver TIMEOUT 600)
vf_add_e2e_test(e2e_faults TIMEOUT 600)
vf_add_e2e_test(e2e_outputs TIMEOUT 600)
vf_add_e2e_test(e2e_events TIMEOUT 300)
vf_add_e2e_test(e2e_webhooks TIMEOUT 300)
vf_add_e2e_test(e2e_observability TIMEOUT 300)
vf_add_e2e_test(e2e_admin TIMEOUT 300)
vf_add_e2e_test(e2e_redis TIMEOUT 600)
vf_add_e2e_test(e2e_ingest TIMEOUT 600)
vf_add_e2e_test(e2e_bedrock TIMEOUT 600)
vf_add_e2e_test(e2e_sqs TIMEOUT 600)
vf_add_e2e_test(e2e_s3_aws TIMEOUT 600)
vf_add_e2e_test(e2e_store_s3api TIMEOUT 300)
vf_add_e2e_test(e2e_library TIMEOUT 300)
vf_add_e2e_test(e2e_compositions TIMEOUT 600)
# The web app in headless chromium. Not in the sanitizer pass: the C++ it
# reaches (pages, CORS, multipart, events, compositions) runs under ASan in
# adapters.web_app, e2e_store_s3api, e2e_events and e2e_compositions; a
# second run of the browser flows there would cost ~2 min of CI for no
# new C++ path.
vf_add_e2e_test(e2e_web TIMEOUT 900 LABELS browser)
