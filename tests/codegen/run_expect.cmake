# cmake -DPROG=program -DEXPECTED=file [-DIGNORE=regex] -P run_expect.cmake
# Runs PROG and fails unless it exits 0 with exactly EXPECTED on stdout
# (stderr, where crash reports go, is shown but not compared). Lines of
# stdout matching IGNORE (measurements such as a round-trip time) are left
# out of the comparison and shown with stderr, so they reach the test log.
cmake_policy(VERSION 3.25)
execute_process(COMMAND ${PROG} OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc TIMEOUT 60)
file(READ "${EXPECTED}" want)
set(shown "")
if(NOT "${IGNORE}" STREQUAL "")
  # Lines become list items; a ';' inside one would split it, so it is
  # carried as a placeholder while the lines are split.
  string(REPLACE ";" "<semicolon>" out "${out}")
  string(REGEX MATCHALL "[^\n]*\n" lines "${out}")
  set(kept "")
  foreach(line IN LISTS lines)
    if(line MATCHES "${IGNORE}")
      string(APPEND shown "${line}")
    else()
      string(APPEND kept "${line}")
    endif()
  endforeach()
  string(REPLACE "<semicolon>" ";" out "${kept}")
  string(REPLACE "<semicolon>" ";" shown "${shown}")
endif()
if(NOT rc STREQUAL "0" OR NOT out STREQUAL want)
  message(FATAL_ERROR "${PROG}: exit status ${rc}\n--- stdout\n${out}--- expected\n${want}--- not compared\n${shown}--- stderr\n${err}")
endif()
message(STATUS "${PROG}: output as expected\n${shown}--- stderr\n${err}")
