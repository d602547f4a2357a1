// vf/actors/worker.cpp (in progress)
