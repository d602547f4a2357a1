# e2e_lifecycle: cancel (waiting, mid-step, refusals) against the real
# binary; the lifecycle's rarer edges that only fakes covered before.
vf_add_e2e_test(e2e_lifecycle TIMEOUT 300)
