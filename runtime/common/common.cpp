#include "runtime/common/common.h"

#include "abi/include/snowrt.h"

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <mutex>
#include <sched.h>
#include <unistd.h>

namespace snow::rt {

int64_t utf8_count(const uint8_t* s, size_t n) {
  size_t i = 0;
  int64_t count = 0;
  while (i < n) {
    uint8_t c = s[i];
    ++count;
    if (c < 0x80) {
      ++i;
      continue;
    }
    int more;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      more = 1;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      more = 2;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      more = 3;
      cp = c & 0x07;
    } else {
      return -1;
    }
    if (n - i <= size_t(more)) return -1;
    for (int k = 1; k <= more; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return -1;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if ((more == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (more == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
      return -1;
    i += size_t(more) + 1;
  }
  return count;
}

int64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

void fatal(const char* fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  log_line("snowrt: %s", n < 0 ? fmt : buf);
  abort();
}

void mem_configure() {
#if !defined(SNOW_SANITIZE_ADDRESS) && !defined(SNOW_SANITIZE_THREAD)
  static std::once_flag once;
  std::call_once(once, [] {
    if (std::getenv("MIMALLOC_LARGE_OS_PAGES")) return;
    const char* snow = std::getenv("SNOW_LARGE_PAGES");
    if (snow && std::strcmp(snow, "0") == 0) return;
    mi_option_enable(mi_option_large_os_pages);
  });
#endif
}

void fatal_oom(const char* what) { fatal("out of memory %s", what); }

void assert_failed(const char* cond, const char* file, int line) {
  fatal("assertion failed: %s (%s:%d)", cond, file, line);
}

namespace {
std::atomic<unsigned> g_next_stripe{0};
SNOW_TLS int t_stripe = -1;
}  // namespace

void SpinLock::wait_unlocked() {
  for (int spins = 0; locked_.load(std::memory_order_relaxed); ++spins) {
    if (spins < 64) {
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    } else {
      sched_yield();
    }
  }
}

void StripedCounter::add(int64_t n) {
  if (t_stripe < 0) t_stripe = int(g_next_stripe.fetch_add(1, std::memory_order_relaxed) % kStripes);
  slots_[t_stripe].v.fetch_add(n, std::memory_order_relaxed);
}

int64_t StripedCounter::read() const {
  int64_t sum = 0;
  for (const Slot& s : slots_) sum += s.v.load(std::memory_order_relaxed);
  return sum;
}

}  // namespace snow::rt

namespace snow::rt {
namespace {
std::atomic<uint64_t> g_ref_blocks{1};
SNOW_TLS uint64_t t_ref_next = 0;
SNOW_TLS uint64_t t_ref_limit = 0;
constexpr uint64_t kRefBlock = 1024;
}  // namespace

uint64_t new_ref() {
  if (t_ref_next == t_ref_limit) {
    uint64_t block = g_ref_blocks.fetch_add(1, std::memory_order_relaxed);
    t_ref_next = block * kRefBlock;
    t_ref_limit = t_ref_next + kRefBlock;
  }
  return t_ref_next++;
}
const char* error_text(int64_t code) {
  if (code >= 0) return "success";
  switch (code) {
#define SNOW_ERROR_TEXT_CASE_(name, value, text) \
  case value:                                    \
    return text;
    SNOW_ERRNO_MAP(SNOW_ERROR_TEXT_CASE_)
#undef SNOW_ERROR_TEXT_CASE_
    default:
      return "unknown error";
  }
}

}  // namespace snow::rt
