# cmake -DARCHIVE=<lib.a> -DLINKER=<ld> -DOBJCOPY=<objcopy> -DAR=<ar> -P localize_archive.cmake
#
# Rewrites a static archive as one relocatable object whose only global
# symbols are the snow_* ones: every other global (the runtime's C++
# functions, template instances, helper names) becomes local to it. A
# program linking libsnowrt.a may then define any name it likes, as with
# libsnowrt.so, whose version script exports snow_* only.
if(NOT ARCHIVE OR NOT LINKER OR NOT OBJCOPY OR NOT AR)
  message(FATAL_ERROR "localize_archive.cmake needs ARCHIVE, LINKER, OBJCOPY and AR")
endif()
get_filename_component(dir "${ARCHIVE}" DIRECTORY)
set(object "${dir}/snowrt_localized.o")
execute_process(
  COMMAND "${LINKER}" -r -o "${object}" --whole-archive "${ARCHIVE}" --no-whole-archive
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "ld -r of ${ARCHIVE} failed (${rc})")
endif()
execute_process(COMMAND "${OBJCOPY}" --wildcard --keep-global-symbol=snow_* "${object}" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "objcopy of ${object} failed (${rc})")
endif()
file(REMOVE "${ARCHIVE}")
execute_process(COMMAND "${AR}" qcs "${ARCHIVE}" "${object}" RESULT_VARIABLE rc)
file(REMOVE "${object}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "ar of ${ARCHIVE} failed (${rc})")
endif()
