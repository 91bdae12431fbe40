// Shared by the libFuzzer targets (tests/fuzz/CMakeLists.txt): a check that
// reports and aborts (libFuzzer then saves the input as a crash artifact),
// and a meter of the heap a piece of code uses, so amplification is a
// finding even when it stays under the run's -rss_limit_mb.
//
// Threads: the meter counts every thread's allocations; measure code that
// runs on the calling thread while nothing else allocates (targets that
// start the runtime measure only their own decoding steps).
#pragma once

#include <sanitizer/allocator_interface.h>

#include <cstddef>
#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond)                                              \
  do {                                                                \
    if (!(cond)) snow::fuzz::check_failed(__FILE__, __LINE__, #cond); \
  } while (0)

namespace snow::fuzz {

[[noreturn]] inline void check_failed(const char* file, int line, const char* what) {
  std::fprintf(stderr, "%s:%d: fuzz check failed: %s\n", file, line, what);
  std::abort();
}

namespace detail {
inline bool g_metering = false;
inline long long g_live = 0;
inline long long g_peak = 0;
inline void on_malloc(const volatile void*, size_t size) {
  if (!g_metering) return;
  g_live += static_cast<long long>(size);
  if (g_live > g_peak) g_peak = g_live;
}
inline void on_free(const volatile void* p) {
  if (g_metering && p) g_live -= static_cast<long long>(__sanitizer_get_allocated_size(p));
}
}  // namespace detail

// The most heap bytes live at once between construction and peak(). Frees
// of blocks allocated before the meter started lower the count, so measure
// code that frees only what it allocated. One meter at a time.
class HeapMeter {
 public:
  HeapMeter() {
    static const bool installed = __sanitizer_install_malloc_and_free_hooks(detail::on_malloc, detail::on_free) != 0;
    FUZZ_CHECK(installed);
    detail::g_live = detail::g_peak = 0;
    detail::g_metering = true;
  }
  ~HeapMeter() { detail::g_metering = false; }
  HeapMeter(const HeapMeter&) = delete;
  HeapMeter& operator=(const HeapMeter&) = delete;
  size_t peak() const { return static_cast<size_t>(detail::g_peak); }
};

}  // namespace snow::fuzz
