// Shared vocabulary of the runtime: clocks, allocation, logging, counters.
//
// Nothing here owns runtime state except the statistics counters, which any
// thread may bump (relaxed, per-thread striped) and any thread may read.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

#include <mimalloc.h>

namespace snow::rt {

constexpr std::size_t kCacheLine = 64;

// Hot thread-locals use the initial-exec TLS model: one %fs-relative load
// instead of a __tls_get_addr call from the shared library. They are few and
// small, so they fit glibc's static TLS surplus even when the library is
// loaded with dlopen (Python ctypes).
#define SNOW_TLS thread_local __attribute__((tls_model("initial-exec")))

// Monotonic clock in nanoseconds (CLOCK_MONOTONIC).
int64_t now_ns();

// The now_ns() deadline `ms` (>= 0) milliseconds from now. Saturates: a
// timeout too long to count in nanoseconds lands about 146 years ahead,
// never past INT64_MAX (which callers use for "no deadline"). Any thread.
inline int64_t deadline_after_ms(int64_t ms) {
  constexpr int64_t kMaxMs = INT64_MAX / 2000000;
  return now_ns() + (ms > kMaxMs ? INT64_MAX / 2 : ms * 1000000);
}

// Allocation goes through mimalloc: fast thread-local free lists, and the
// memory of a freed process goes back to the thread that frees it. Sanitizer
// builds use the C allocator instead: ASan and TSan intercept it (they cannot
// see inside an uninstrumented mimalloc, so they would miss heap errors and
// report its cross-thread reuse as races).
#if defined(SNOW_SANITIZE_ADDRESS) || defined(SNOW_SANITIZE_THREAD)
inline void* mem_alloc(std::size_t n) { return std::malloc(n ? n : 1); }
inline void* mem_zalloc(std::size_t n) { return std::calloc(1, n ? n : 1); }
inline void mem_free(void* p) { std::free(p); }
inline void* mem_zalloc_aligned(std::size_t n, std::size_t align) {
  void* p = std::aligned_alloc(align, (n + align - 1) & ~(align - 1));
  if (p) std::memset(p, 0, n);
  return p;
}
#else
inline void* mem_alloc(std::size_t n) { return mi_malloc(n); }
inline void* mem_zalloc(std::size_t n) { return mi_zalloc(n); }
inline void mem_free(void* p) { mi_free(p); }
inline void* mem_zalloc_aligned(std::size_t n, std::size_t align) { return mi_zalloc_aligned(n, align); }
#endif

// Once, before the runtime's first processes: lets mimalloc back its
// segments with transparent huge pages (its `large_os_pages` option, which
// madvises them), unless the environment sets MIMALLOC_LARGE_OS_PAGES
// itself or SNOW_LARGE_PAGES=0. A million idle processes then take about
// 17,000 page faults instead of 200,000 (their control blocks fill 800 MB
// in 2 MiB pages rather than 4 KiB ones), at the price of a few MiB more
// resident memory for a small program. No effect in sanitizer builds
// (they use the C allocator). Any thread; idempotent.
void mem_configure();

template <class T, class... A>
T* make(A&&... a) {
  void* p = mem_alloc(sizeof(T));
  if (!p) return nullptr;
  return new (p) T(static_cast<A&&>(a)...);
}
template <class T>
void destroy(T* p) {
  if (!p) return;
  p->~T();
  mem_free(p);
}

// Logging (log.cpp). A line has a level (the SNOW_LOG_* values of the
// ABI); lines above the chosen level are dropped, the rest go to the
// handler an embedding program set (snow_rt_set_log_handler) or else to
// stderr, one write(2) per line so concurrent lines do not interleave. The
// level is SNOW_LOG's until snow_rt_set_log_level sets one. Any thread.
enum class LogLevel : int32_t { Error = 0, Warning = 1, Info = 2, Debug = 3 };
bool log_enabled(LogLevel level);
void log_at(LogLevel level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
// An error-level line: crash reports and failures the runtime cannot hide.
void log_line(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
// The level in force (SNOW_LOG read on first use); the level a name means
// ("error", "warning" or "warn", "info", "debug", any case), -1 for
// anything else; the set-up calls behind snow_rt_set_log_level (returns
// the previous level) and snow_rt_set_log_handler (NULL: stderr).
int32_t log_level();
int32_t log_parse_level(const char* text);
int32_t log_set_level(int32_t level);
using LogHandler = void (*)(int32_t level, const char* line, uint64_t len, void* ctx);
void log_set_handler(LogHandler fn, void* ctx);

// The fatal-error funnel: logs "snowrt: <message>" and aborts. Every
// condition the runtime cannot survive ends here (a broken invariant, a
// failed allocation that has no error path, see "Out of memory" in
// docs/abi.md), so there is one log format and one breakpoint. Any thread.
[[noreturn]] void fatal(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
// fatal("out of memory <what>"): an allocation failed where no caller can
// be told (delivering a signal, recording an exit reason).
[[noreturn]] void fatal_oom(const char* what);
[[noreturn]] void assert_failed(const char* cond, const char* file, int line);

// SNOW_ASSERT(cond): an invariant, checked in debug and sanitizer builds
// (a failure goes through the funnel) and compiled out of release builds,
// where `cond` is not evaluated: it must have no side effects.
#if !defined(NDEBUG) || defined(SNOW_SANITIZE_ADDRESS) || defined(SNOW_SANITIZE_THREAD)
#define SNOW_ASSERT(cond) ((cond) ? (void)0 : ::snow::rt::assert_failed(#cond, __FILE__, __LINE__))
#else
#define SNOW_ASSERT(cond) ((void)sizeof(!(cond)))
#endif

// A counter that many threads bump without sharing a cache line: each thread
// picks one of kStripes slots on first use; readers sum every slot.
class StripedCounter {
 public:
  void add(int64_t n);
  int64_t read() const;

 private:
  static constexpr int kStripes = 32;
  struct alignas(kCacheLine) Slot {
    std::atomic<int64_t> v{0};
  };
  Slot slots_[kStripes];
};

// A test-and-test-and-set lock for critical sections of a few dozen
// instructions (run queues, stack slots). Unlike a pthread mutex, a
// contended release never makes a futex system call, which on a run queue
// that a thief and its owner hit millions of times a second is most of the
// cost. A waiter spins with `pause` and yields the CPU after a short while,
// so a holder that lost its CPU (a preempted vCPU) gets it back.
// Satisfies BasicLockable, so std::lock_guard works.
class SpinLock {
 public:
  void lock() {
    for (;;) {
      if (!locked_.exchange(true, std::memory_order_acquire)) return;
      wait_unlocked();
    }
  }
  void unlock() { locked_.store(false, std::memory_order_release); }

 private:
  void wait_unlocked();
  std::atomic<bool> locked_{false};
};

// The text of a SNOW_E* code ("success" for any code >= 0, "unknown error"
// for an unknown one): snow_strerror's answer, for the runtime's own
// messages. Static strings; any thread.
const char* error_text(int64_t code);

// Number of code points in well-formed UTF-8 (no overlong forms, surrogates
// or code points past U+10FFFF), or -1 when the bytes are not that. Any
// thread.
int64_t utf8_count(const uint8_t* s, size_t n);

// Little-endian helpers for the fixed message layouts of the ABI.
inline void put_u64(uint8_t* p, uint64_t v) { std::memcpy(p, &v, 8); }
inline uint64_t get_u64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// The tag of a user message (ABI.md section 3): its first min(size, 8)
// payload bytes read little-endian, zero-padded. Senders, timers and the
// distribution's incoming messages all tag with this one rule.
inline uint64_t user_message_tag(const uint8_t* payload, uint64_t size) {
  uint64_t tag = 0;
  if (size) std::memcpy(&tag, payload, size < 8 ? std::size_t(size) : 8);
  return tag;  // x86-64 and aarch64 are little-endian: the bytes are the value
}

}  // namespace snow::rt

namespace snow::rt {
// A fresh, never-zero 64-bit reference (monitor refs, timer refs, request
// ids). Unique within this OS process; threads take blocks of ids from a
// shared counter so the common case touches no shared cache line.
uint64_t new_ref();
}  // namespace snow::rt
