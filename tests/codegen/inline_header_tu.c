/* inline_header_tu.c: snowrt_inline.h (and so snowrt.h) must compile as C11
 * and as C++17, with gcc and clang, warnings as errors, optimised (so the
 * inlined fast path and its asm are compiled). See CMakeLists.txt. */
#include <snowrt_inline.h>

void snow_inline_header_tu(void);
void snow_inline_header_tu(void) {
  for (int i = 0; i < 1000; i++) snow_reduction_check_inline();
}
