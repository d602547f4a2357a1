# vf-bench-probe: in-process probe_file vs spawning the ffprobe CLI per file.
add_executable(vf-bench-probe ${CMAKE_CURRENT_LIST_DIR}/probe_bench.cpp)
target_link_libraries(vf-bench-probe PRIVATE vf::adapters_media vf_internal)
