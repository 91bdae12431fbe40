// What the heap tells the sanitizers. ASan: free memory (dead objects, free
// runs, blocks in the allocator) is poisoned, so a use after the collector
// freed an object is reported; an allocation unpoisons exactly the bytes it
// returns. Conservative scanning reads words the program never wrote
// (stack redzones, the padding after an object), so the scanning loops
// carry SNOW_NO_SANITIZE_ADDRESS. Without ASan all of this compiles away.
#pragma once

#include <cstddef>

#if defined(SNOW_SANITIZE_ADDRESS)
#include <sanitizer/asan_interface.h>
#endif

namespace snow::rt {

#if defined(SNOW_SANITIZE_ADDRESS)
#define SNOW_NO_SANITIZE_ADDRESS __attribute__((no_sanitize("address")))
inline void asan_poison(const void* p, size_t n) { __asan_poison_memory_region(p, n); }
inline void asan_unpoison(const void* p, size_t n) { __asan_unpoison_memory_region(p, n); }
#else
#define SNOW_NO_SANITIZE_ADDRESS
inline void asan_poison(const void*, size_t) {}
inline void asan_unpoison(const void*, size_t) {}
#endif

}  // namespace snow::rt
