// vf/actors/job_registry.cpp (in progress)
