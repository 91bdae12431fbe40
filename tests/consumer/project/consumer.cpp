// consumer.cpp: consumer.c compiled as C++ (the header is C and C++), plus
// a definition of a name the runtime has inside (snow::rt::now_ns): a static
// link fails if libsnowrt.a leaked its C++ symbols.
#include <cstdint>

namespace snow::rt {
int64_t now_ns();
int64_t now_ns() { return 0; }
}  // namespace snow::rt

#include "consumer.c"
