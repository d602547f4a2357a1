# adapters.render: render_file (thumbnails, renditions) on clips ffmpeg
# generates at test time, checked with the ffprobe / ffmpeg CLIs (needs both
# on PATH; fails, never skips, without them).
vf_add_unit_test(vf-test-render
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/render.test.cpp
  LIBS vf::adapters_media nlohmann_json::nlohmann_json
  SUITES adapters.render)
