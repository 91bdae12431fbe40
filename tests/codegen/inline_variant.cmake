# cmake -DIN=prog.ll -DINLINE=snowrt_inline.ll -DOUT=file -P inline_variant.cmake
# Writes the Snow-style program IN as a compiler that uses the inline fast
# path would emit it: every `call void @snow_reduction_check()` becomes
# `call void @snow_reduction_check_inline()`, and INLINE (which needs only
# the program's own declaration of @snow_reduction_check) is appended.
file(READ "${IN}" text)
string(REPLACE "call void @snow_reduction_check()" "call void @snow_reduction_check_inline()" text "${text}")
file(READ "${INLINE}" inline)
file(WRITE "${OUT}.tmp" "${text}\n; ---- ${INLINE}\n${inline}")
file(RENAME "${OUT}.tmp" "${OUT}")
