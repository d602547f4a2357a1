# e2e_durability: failing write/fsync/rename under a real vidflow process
# through fault_shim.cpp, a TEST-ONLY LD_PRELOAD library (never linked into
# vidflow), then kill -9: nothing acknowledged is lost.
if(TARGET vidflow)
  add_library(vf_fault_shim MODULE ${CMAKE_CURRENT_LIST_DIR}/fault_shim.cpp)
  target_link_libraries(vf_fault_shim PRIVATE ${CMAKE_DL_LIBS})
  set_target_properties(vf_fault_shim PROPERTIES
                        LIBRARY_OUTPUT_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
  add_test(NAME integration.e2e_durability
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/e2e_durability.py
                   --binary $<TARGET_FILE:vidflow>
                   --shim $<TARGET_FILE:vf_fault_shim>)
  set_tests_properties(integration.e2e_durability PROPERTIES
                       LABELS integration TIMEOUT 300)
endif()
