# adapters.compose: compose_file (clips, music, voiceover, overlays) on media
# ffmpeg generates at test time, checked with the ffprobe / ffmpeg CLIs
# (needs both on PATH and fonts-dejavu-core; fails, never skips, without).
vf_add_unit_test(vf-test-compose
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/compose.test.cpp
  LIBS vf::adapters_media nlohmann_json::nlohmann_json
  SUITES adapters.compose)
# adapters.composition: the composition recipe from POST /compositions to the
# worker (request rules, the stored recipe read back, output checks); pure.
vf_add_unit_test(vf-test-composition
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/composition.test.cpp
  LIBS vf::adapters_media vf::adapters_http nlohmann_json::nlohmann_json
  SUITES adapters.composition)
