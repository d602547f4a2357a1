// vf/actors/dispatcher.cpp (in progress)
