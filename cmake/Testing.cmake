# Testing.cmake - helpers that add an executable, its ctest and labels in one call, so no test
# is ever left unregistered.
#
#   obsflow_test(<name> SOURCES ... [LIBS ...] [LABELS ...] [PG] [ARGS ...] [ENV ...]
#                [TIMEOUT s] [SERIAL])
#     A test executable (cmocka or plain; exit 0 = pass, 77 = skipped).
#     PG: requires the private PostgreSQL fixture; the test gets PGHOST/PGUSER/PGDATABASE
#     and OBSFLOW_TEST_PGHOST. Every test gets OBSFLOW_SHARED (../shared), OBSFLOW_SOURCE_DIR,
#     OBSFLOW_BIN_DIR and OBSFLOW_TEST_TMP (a private scratch directory).
#   obsflow_script_test(<name> COMMAND ... [LABELS ...] [PG] [ENV ...] [TIMEOUT s] [SERIAL])
#     A test that runs a command (shell script, python oracle) with the same environment.
#   obsflow_fuzz_target(<name> SOURCES ... [LIBS ...])
#     A libFuzzer target. ENABLE_FUZZING=ON (clang): links -fsanitize=fuzzer. Otherwise it links
#     tests/fuzz/replay_main.c and replays tests/fuzz/corpus/<name>/ as ctest fuzz_<name>.

set(OBSFLOW_PG_DIR ${CMAKE_BINARY_DIR}/pg)
set(OBSFLOW_TEST_BIN_DIR ${CMAKE_BINARY_DIR}/tests)

# Takes the caller's whole argument list; the keywords that only the caller uses (SOURCES, LIBS,
# ARGS, COMMAND) are parsed here too so that their values never leak into LABELS or ENV.
function(_obsflow_test_props name)
  cmake_parse_arguments(T "PG;SERIAL" "TIMEOUT" "LABELS;ENV;SOURCES;LIBS;ARGS;COMMAND" ${ARGN})
  set(env
    "OBSFLOW_SHARED=${OBSFLOW_SHARED_DIR}"
    "OBSFLOW_SOURCE_DIR=${PROJECT_SOURCE_DIR}"
    "OBSFLOW_BIN_DIR=${OBSFLOW_BIN_DIR}"
    "OBSFLOW_TEST_TMP=${CMAKE_BINARY_DIR}/tmp/${name}"
    ${T_ENV})
  file(MAKE_DIRECTORY ${CMAKE_BINARY_DIR}/tmp/${name})
  if(T_PG)
    list(APPEND env "PGHOST=${OBSFLOW_PG_DIR}" "PGUSER=postgres" "PGDATABASE=postgres"
      "OBSFLOW_TEST_PGHOST=${OBSFLOW_PG_DIR}")
    set_tests_properties(${name} PROPERTIES FIXTURES_REQUIRED PG)
  endif()
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  set_tests_properties(${name} PROPERTIES ENVIRONMENT "${env}" LABELS "${T_LABELS}"
    TIMEOUT ${T_TIMEOUT} SKIP_RETURN_CODE 77)
  if(T_SERIAL)
    set_tests_properties(${name} PROPERTIES RUN_SERIAL TRUE)
  endif()
endfunction()

function(obsflow_test name)
  cmake_parse_arguments(T "PG;SERIAL" "TIMEOUT" "SOURCES;LIBS;LABELS;ARGS;ENV" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} PkgConfig::CMOCKA)
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/lib ${PROJECT_SOURCE_DIR}/tests)
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${OBSFLOW_TEST_BIN_DIR})
  obsflow_warnings(${name})
  add_test(NAME ${name} COMMAND ${name} ${T_ARGS})
  _obsflow_test_props(${name} ${ARGN})
endfunction()

function(obsflow_script_test name)
  cmake_parse_arguments(T "PG;SERIAL" "TIMEOUT" "COMMAND;LABELS;ENV" ${ARGN})
  add_test(NAME ${name} COMMAND ${T_COMMAND})
  _obsflow_test_props(${name} ${ARGN})
endfunction()

function(obsflow_fuzz_target name)
  cmake_parse_arguments(F "" "" "SOURCES;LIBS" ${ARGN})
  if(ENABLE_FUZZING)
    add_executable(fuzz_${name} ${F_SOURCES})
    target_compile_options(fuzz_${name} PRIVATE -fsanitize=fuzzer)
    target_link_options(fuzz_${name} PRIVATE -fsanitize=fuzzer)
  else()
    add_executable(fuzz_${name} ${F_SOURCES} ${PROJECT_SOURCE_DIR}/tests/fuzz/replay_main.c)
    add_test(NAME fuzz_${name} COMMAND fuzz_${name} ${PROJECT_SOURCE_DIR}/tests/fuzz/corpus/${name})
    set_tests_properties(fuzz_${name} PROPERTIES LABELS fuzz-regression TIMEOUT 300)
  endif()
  target_link_libraries(fuzz_${name} PRIVATE ${F_LIBS})
  target_include_directories(fuzz_${name} PRIVATE ${PROJECT_SOURCE_DIR}/lib ${PROJECT_SOURCE_DIR}/tests)
  set_target_properties(fuzz_${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${OBSFLOW_TEST_BIN_DIR})
  obsflow_warnings(fuzz_${name})
endfunction()
