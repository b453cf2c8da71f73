# switchboard_cc_library(NAME SRCS ... DEPS ...): one library per module, includes relative to the
# repository root (and to the generated-code root for the protos).
set(SWITCHBOARD_WARNINGS -Wall -Wextra -Wpedantic -Wshadow)

function(switchboard_cc_library name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SRCS})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
  target_compile_options(${name} PRIVATE ${SWITCHBOARD_WARNINGS})
endfunction()

# switchboard_cc_test(NAME SRCS ... DEPS ... LABELS ...): one gtest binary per module.
# Tests find fixtures and built binaries through the two compile definitions below.
function(switchboard_cc_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SRCS;DEPS;LABELS" ${ARGN})
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 120)
  endif()
  add_executable(${name} ${ARG_SRCS})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  target_compile_options(${name} PRIVATE ${SWITCHBOARD_WARNINGS})
  target_compile_definitions(${name} PRIVATE
    SWITCHBOARD_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    SWITCHBOARD_BINARY_DIR="${PROJECT_BINARY_DIR}")
  gtest_discover_tests(${name}
    DISCOVERY_TIMEOUT 60
    PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT})
endfunction()
