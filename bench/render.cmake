# vf-bench-render: render_file (thumbnails, renditions) vs the ffmpeg CLI on
# the same sources, in one run. Needs ffmpeg on PATH; not part of CI.
add_executable(vf-bench-render ${CMAKE_CURRENT_LIST_DIR}/render_bench.cpp)
target_link_libraries(vf-bench-render PRIVATE vf::adapters_media vf_internal)
