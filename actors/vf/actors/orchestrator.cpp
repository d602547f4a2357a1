// vf/actors/orchestrator.cpp (in progress)
