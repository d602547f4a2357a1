# vf-bench-compose: compose_file vs the same edit as one ffmpeg
# -filter_complex command, in one run. Needs ffmpeg on PATH; not part of CI.
add_executable(vf-bench-compose ${CMAKE_CURRENT_LIST_DIR}/compose_bench.cpp)
target_link_libraries(vf-bench-compose PRIVATE vf::adapters_media vf_internal)
