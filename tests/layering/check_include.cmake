# cmake -DCXX=<c++> -DHEADER=<path> -DEXPECT=pass|fail -DINCLUDES=<a|b|...>
#       -DWORK=<dir> -P check_include.cmake
# Compiles a file that includes HEADER with exactly the include path
# INCLUDES. EXPECT=fail passes only if the header is not found (a failure
# for any other reason fails the test); EXPECT=pass needs a clean compile.
string(REPLACE "|" ";" dirs "${INCLUDES}")
set(args -std=c++20 -fsyntax-only)
foreach(d ${dirs})
  list(APPEND args -I${d})
endforeach()
file(MAKE_DIRECTORY ${WORK})
file(WRITE ${WORK}/probe.cpp "#include \"${HEADER}\"\n")
execute_process(COMMAND ${CXX} ${args} ${WORK}/probe.cpp RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(EXPECT STREQUAL "fail")
  if(rc EQUAL 0)
    message(FATAL_ERROR "${HEADER} compiled with the include path ${dirs}; the layering lets it through")
  endif()
  string(FIND "${out}" "${HEADER}: No such file or directory" at)
  if(at EQUAL -1)
    string(FIND "${out}" "'${HEADER}' file not found" at)  # clang's wording
  endif()
  if(at EQUAL -1)
    message(FATAL_ERROR "compiling failed, but not because ${HEADER} is out of reach:\n${out}")
  endif()
else()
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${HEADER} does not compile with the include path ${dirs}:\n${out}")
  endif()
endif()
