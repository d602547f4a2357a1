// vf/actors/idempotency_guard.cpp (in progress)
