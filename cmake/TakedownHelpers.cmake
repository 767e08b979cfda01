# takedown_library(NAME name SRCS ... DEPS ...)
#   A static library named takedown_<name>; headers are included from the repo root.
# takedown_test(NAME name SRCS ... DEPS ... [LABELS ...])
#   A gtest binary registered with CTest (gtest_discover_tests), linked with gmock_main.
#   Tests labelled unit (the default) are also built by the target
#   `unit_tests` (BUILD_TARGET=unit_tests scripts/build.sh DIR, then
#   ctest -L unit: the unit tests without building the rest). A unit test
#   added with add_test must call takedown_unit_test_target(<executable>).
# takedown_fuzz_replay(NAME name DEPS ...)
#   A fuzz target's seed corpus replayed as a unit test (below).
include(GoogleTest)

if(NOT TARGET unit_tests)
  add_custom_target(unit_tests)
endif()

function(takedown_unit_test_target target)
  add_dependencies(unit_tests ${target})
endfunction()

function(takedown_library)
  cmake_parse_arguments(TL "" "NAME" "SRCS;DEPS" ${ARGN})
  add_library(takedown_${TL_NAME} STATIC ${TL_SRCS})
  target_include_directories(takedown_${TL_NAME} PUBLIC ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
  target_link_libraries(takedown_${TL_NAME} PUBLIC ${TL_DEPS})
  add_library(takedown::${TL_NAME} ALIAS takedown_${TL_NAME})
endfunction()

function(takedown_test)
  cmake_parse_arguments(TT "" "NAME" "SRCS;DEPS;LABELS" ${ARGN})
  add_executable(${TT_NAME} ${TT_SRCS})
  target_link_libraries(${TT_NAME} PRIVATE ${TT_DEPS} GTest::gmock GTest::gtest GTest::gmock_main)
  target_compile_definitions(${TT_NAME} PRIVATE
    TAKEDOWN_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    TAKEDOWN_BINARY_DIR="${PROJECT_BINARY_DIR}")
  if(NOT TT_LABELS)
    set(TT_LABELS unit)
  endif()
  gtest_discover_tests(${TT_NAME} PROPERTIES LABELS "${TT_LABELS}" DISCOVERY_TIMEOUT 60)
  if("unit" IN_LIST TT_LABELS)
    takedown_unit_test_target(${TT_NAME})
  endif()
endfunction()

# takedown_fuzz_replay(NAME name DEPS ...)
#   The fuzz target tests/fuzz/<name>_fuzz.cc built without libFuzzer (the
#   build compiler is g++) as <name>_fuzz_replay, and a unit test that replays
#   its seed corpus tests/fuzz/corpus/<name>. Each target's header says how to
#   fuzz it with clang.
function(takedown_fuzz_replay)
  cmake_parse_arguments(TF "" "NAME" "DEPS" ${ARGN})
  set(target ${TF_NAME}_fuzz_replay)
  add_executable(${target}
    ${PROJECT_SOURCE_DIR}/tests/fuzz/${TF_NAME}_fuzz.cc
    ${PROJECT_SOURCE_DIR}/tests/fuzz/fuzz_replay_main.cc)
  target_link_libraries(${target} PRIVATE ${TF_DEPS})
  add_test(NAME ${target} COMMAND ${target} ${PROJECT_SOURCE_DIR}/tests/fuzz/corpus/${TF_NAME})
  set_tests_properties(${target} PROPERTIES LABELS "unit;fuzz")
  takedown_unit_test_target(${target})
endfunction()
