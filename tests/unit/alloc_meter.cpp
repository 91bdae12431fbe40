#include "tests/unit/alloc_meter.h"

#include <cstdlib>
#include <cstring>
#include <new>

namespace {

// Per thread, so Catch2's or the runtime's other threads do not disturb a
// measurement. Each block carries its requested size and whether it was
// counted in a header (16 bytes keep malloc's alignment), so counts are
// exact bytes asked for and only counted blocks are subtracted.
constexpr std::size_t kHeader = 16;
thread_local bool t_active = false;
thread_local long long t_live = 0;
thread_local long long t_peak = 0;
thread_local long long t_total = 0;

void* counted_alloc(std::size_t n) {
  auto* block = static_cast<unsigned char*>(std::malloc(n + kHeader));
  if (!block) throw std::bad_alloc();
  std::memcpy(block, &n, sizeof n);
  block[8] = t_active;
  if (t_active) {
    t_live += static_cast<long long>(n);
    t_total += static_cast<long long>(n);
    if (t_live > t_peak) t_peak = t_live;
  }
  return block + kHeader;
}

void counted_free(void* p) {
  if (!p) return;
  unsigned char* block = static_cast<unsigned char*>(p) - kHeader;
  std::size_t n;
  std::memcpy(&n, block, sizeof n);
  if (t_active && block[8]) t_live -= static_cast<long long>(n);
  std::free(block);
}

}  // namespace

namespace snow::test {

AllocMeter::AllocMeter() {
  t_live = t_peak = t_total = 0;
  t_active = true;
}
AllocMeter::~AllocMeter() { t_active = false; }
size_t AllocMeter::peak() const { return static_cast<size_t>(t_peak); }
size_t AllocMeter::total() const { return static_cast<size_t>(t_total); }

}  // namespace snow::test

void* operator new(std::size_t n) { return counted_alloc(n); }
void* operator new[](std::size_t n) { return counted_alloc(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return counted_alloc(n);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept { return operator new(n, t); }
void operator delete(void* p) noexcept { counted_free(p); }
void operator delete[](void* p) noexcept { counted_free(p); }
void operator delete(void* p, std::size_t) noexcept { counted_free(p); }
void operator delete[](void* p, std::size_t) noexcept { counted_free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { counted_free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { counted_free(p); }
