# Crash and duplicate-delivery tests against the built `vidflow` binary
# (see vf_add_e2e_test; media made by ffmpeg):
# - e2e_storm: every object event delivered 3-5 more times through the MinIO
#   webhook, concurrently and out of order; effects must happen once.
# - e2e_chaos: 300 jobs while the node is killed with SIGKILL and restarted
#   at least five times; none may be lost or processed twice. Prints its
#   random seed; rerun one with `e2e_chaos.py --binary ... --seed N`.
# Label `integration`: `ctest -LE integration` leaves them out.
vf_add_e2e_test(e2e_storm TIMEOUT 600)
# Kills, restarts and a bounded settle phase (180 s) of its own. Label
# `nosan` (not in the sanitizer pass, tests/sanitize.sh): minutes of kills
# and waits; the recovery it drives (start-up after SIGKILL, the ledger,
# the guard) runs under ASan in e2e_durability, e2e_outputs, e2e_redis and
# e2e_cluster.
vf_add_e2e_test(e2e_chaos TIMEOUT 1200 LABELS nosan)
# The checker behind the effects log of e2e_chaos and e2e_cluster, on
# hand-made histories: it must fail each kind of unexplained effect. Python
# only (no vidflow process): nothing for a sanitizer to see.
vf_add_e2e_test(effects_check TIMEOUT 60 LABELS nosan)
