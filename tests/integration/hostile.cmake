# Hostile input against the built `vidflow` binary, with media made by
# ffmpeg (see vf_add_e2e_test). Label `integration`.

# A table of attacks, each with the answer it must get; then the node must be
# healthy and every uploaded job terminal.
vf_add_e2e_test(e2e_hostile TIMEOUT 600)

# Issue 8 #3: uploads that name other files (HLS playlists, ffconcat) are
# bad_media and show nothing of another user's upload (confined_input).
vf_add_e2e_test(e2e_sec_media TIMEOUT 300)

# Accounts and logins (issue 8): tokens die with their account, roles come
# from the user table, password guessing gets 429.
vf_add_e2e_test(e2e_sec_auth TIMEOUT 600)

# Issue 8 #1, #5, #9, #13, #14: forged webhook events, one upload per job,
# history per user, file modes, pipelines that cannot run.
vf_add_e2e_test(e2e_sec_events TIMEOUT 600)

# Issue 8 #8: a cluster certificate lets a node act only for itself; drain
# or evict another node only with the cluster admin secret.
vf_add_e2e_test(e2e_sec_cluster TIMEOUT 300)

# Connection exhaustion and HTTP framing (issue 8): idle-socket floods per
# listener, slow headers and uploads, ambiguous framing on both listeners, a
# node under a low descriptor limit. About 25 s.
vf_add_e2e_test(e2e_sec_net TIMEOUT 300)

# Issue 8 #12: readiness (/readyz) next to liveness; a full data disk makes
# the node not ready and POST /jobs answer 507 (a real full tmpfs as root).
vf_add_e2e_test(e2e_sec_storage TIMEOUT 300)
