# cmake -DOUT=file -DINPUTS="a|b|c" -P concat.cmake
# Writes the concatenation of INPUTS to OUT (how the codegen tests prepend
# codegen-shims/snowrt.ll to each program, as a code generator would).
string(REPLACE "|" ";" inputs "${INPUTS}")
file(WRITE "${OUT}.tmp" "")
foreach(in IN LISTS inputs)
  file(READ "${in}" text)
  file(APPEND "${OUT}.tmp" "; ---- ${in}\n${text}\n")
endforeach()
file(RENAME "${OUT}.tmp" "${OUT}")
