# cmake -DPROG=program -DEXPECTED=file -P run_expect.cmake
# Runs PROG and fails unless it exits 0 with exactly EXPECTED on stdout
# (stderr, where crash reports go, is shown but not compared).
execute_process(COMMAND ${PROG} OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc TIMEOUT 60)
file(READ "${EXPECTED}" want)
if(NOT rc STREQUAL "0" OR NOT out STREQUAL want)
  message(FATAL_ERROR "${PROG}: exit status ${rc}\n--- stdout\n${out}--- expected\n${want}--- stderr\n${err}")
endif()
message(STATUS "${PROG}: output as expected\n--- stderr\n${err}")
