# adapters.media: probe_file vs the ffprobe CLI on clips ffmpeg generates at
# test time (needs ffmpeg + ffprobe on PATH; fails, never skips, without them).
vf_add_unit_test(vf-test-media
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/media.test.cpp
  LIBS vf::adapters_media vf::adapters_summarizer vf::adapters_common
       nlohmann_json::nlohmann_json
  SUITES adapters.media)
