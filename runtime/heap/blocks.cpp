// The block allocator: chunks from the OS, a buddy system of units inside
// them, Huge mappings, the page map, and giving memory back (purging).
//
// Free blocks of each order (1 KiB << order) sit on one list per order,
// linked through their head descriptors; a free block's descriptor carries
// kFreeListed so that coalescing can tell a free buddy from a stale
// descriptor. Blocks of any unit count are carved from the next power of two
// and the unused tail goes back as smaller aligned pieces, so a Large object
// wastes less than one unit.
//
// Memory goes back to the OS in two ways: a chunk whose units are all free
// again is purged at once (MADV_DONTNEED; the mapping and its header stay, so
// racing lookups stay safe), and free blocks of at least a page are purged,
// largest first, whenever more than kDirtyLimit bytes of free memory are
// dirty. Purged memory reads as zero, which the heap uses to skip zeroing.
#include <sys/mman.h>
#include <unistd.h>

#include <mutex>
#include <new>
#include <thread>

#include "runtime/common/common.h"
#include "runtime/heap/heap.h"
#include "runtime/heap/layout.h"
#include "runtime/heap/sanitize.h"

namespace snow::rt {
namespace heap_layout {

std::atomic<uintptr_t> g_heap_lo{0};
std::atomic<uintptr_t> g_heap_hi{0};
ChunkHeader** g_page_map[uintptr_t(1) << kMapRootBits] = {};

namespace {

constexpr uint8_t kFreeListed = 4;
constexpr uint64_t kDirtyLimit = 4u << 20;

struct Allocator {
  SpinLock mu;        // free lists, descriptors of free blocks, counters
  std::mutex map_mu;  // page map leaves, huge header pool
  Block* free_lists[kMaxOrder + 1] = {};
  uint64_t mapped = 0;  // chunks + huge mappings
  uint64_t in_use = 0;  // blocks handed out
  uint64_t free_bytes = 0;
  uint64_t dirty = 0;   // free bytes not known to be zero
  uint64_t purged = 0;  // bytes given back over time
  ChunkHeader* huge_pool = nullptr;
};

// Never destroyed (see Dist in dist.cpp): heaps may be freed by exiting
// threads during static destruction.
Allocator& A = *new Allocator();

size_t os_page() {
  static const size_t p = size_t(sysconf(_SC_PAGESIZE));
  return p;
}

uintptr_t round_up(uintptr_t v, uintptr_t a) { return (v + a - 1) & ~(a - 1); }

// Normal chunk header layout: the struct, the head index, the descriptors,
// then the bitmaps page aligned.
constexpr size_t kHeadOffset = (sizeof(ChunkHeader) + 63) & ~size_t(63);
constexpr size_t kBlocksOffset = (kHeadOffset + kUnitsPerChunk * sizeof(uint16_t) + 63) & ~size_t(63);
constexpr size_t kBitsOffset = (kBlocksOffset + kUnitsPerChunk * sizeof(Block) + 4095) & ~size_t(4095);
constexpr size_t kHeaderBytes = kBitsOffset + kBitmapKinds * kBitmapWords * sizeof(uint64_t);

void widen_bounds(uintptr_t lo, uintptr_t hi) {
  uintptr_t cur = g_heap_lo.load(std::memory_order_relaxed);
  while ((cur == 0 || lo < cur) && !g_heap_lo.compare_exchange_weak(cur, lo, std::memory_order_relaxed)) {
  }
  cur = g_heap_hi.load(std::memory_order_relaxed);
  while (hi > cur && !g_heap_hi.compare_exchange_weak(cur, hi, std::memory_order_relaxed)) {
  }
}

// Publishes `h` for the 1 MiB windows of [base, base + len). Under map_mu.
bool page_map_set(uintptr_t base, uintptr_t len, ChunkHeader* h) {
  for (uintptr_t a = base; a < base + len; a += kChunkSize) {
    uintptr_t idx = a >> kChunkShift;
    ChunkHeader**& leaf = g_page_map[idx >> kMapLeafBits];
    if (!load_relaxed(leaf)) {
      void* m = mmap(nullptr, sizeof(ChunkHeader*) << kMapLeafBits, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
      if (m == MAP_FAILED) return false;
      asan_unpoison(m, sizeof(ChunkHeader*) << kMapLeafBits);
      store_release(leaf, static_cast<ChunkHeader**>(m));
    }
    store_release(leaf[idx & ((uintptr_t(1) << kMapLeafBits) - 1)], h);
  }
  return true;
}

// Maps `len` bytes aligned to 1 MiB. nullptr on failure.
void* map_aligned(uintptr_t len) {
  uintptr_t total = len + kChunkSize;
  void* m = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED) return nullptr;
  uintptr_t raw = reinterpret_cast<uintptr_t>(m);
  uintptr_t base = round_up(raw, kChunkSize);
  if (base > raw) munmap(m, base - raw);
  uintptr_t tail = raw + total - (base + len);
  if (tail) munmap(reinterpret_cast<void*>(base + len), tail);
  return reinterpret_cast<void*>(base);
}

void list_push(unsigned order, Block* b) {
  b->prev = nullptr;
  b->next = A.free_lists[order];
  if (b->next) b->next->prev = b;
  A.free_lists[order] = b;
}

void list_remove(unsigned order, Block* b) {
  if (b->prev) b->prev->next = b->next;
  else A.free_lists[order] = b->next;
  if (b->next) b->next->prev = b->prev;
  b->next = b->prev = nullptr;
}

uint64_t order_bytes(unsigned order) { return uint64_t(kUnit) << order; }

// Under A.mu: a free block of 2^order units at `unit`, on its list.
Block* make_free(ChunkHeader* c, uint32_t unit, unsigned order, bool zeroed) {
  Block* b = &c->blocks[unit];
  b->chunk = c;
  b->unit = uint16_t(unit);
  b->start = c->base + (uintptr_t(unit) << kUnitShift);
  b->order = uint8_t(order);
  b->flags = uint8_t(kFreeListed | (zeroed ? kZeroed : 0));
  store_relaxed(b->units, uint32_t(1) << order);
  store_release(b->kind, uint8_t(kFree));
  list_push(order, b);
  A.free_bytes += order_bytes(order);
  if (!zeroed) A.dirty += order_bytes(order);
  return b;
}

// Under A.mu: takes a listed free block off its list.
void take_free(Block* b) {
  list_remove(b->order, b);
  b->flags &= uint8_t(~kFreeListed);
  A.free_bytes -= order_bytes(b->order);
  if (!(b->flags & kZeroed)) A.dirty -= order_bytes(b->order);
}

bool purge_range(uintptr_t start, uint64_t len) {
  if (start % os_page() || len % os_page()) return false;
  madvise(reinterpret_cast<void*>(start), len, MADV_DONTNEED);
  A.purged += len;
  return true;
}

// Under A.mu: frees 2^order units at `unit`, merging with free buddies.
void free_coalesce(ChunkHeader* c, uint32_t unit, unsigned order, bool zeroed) {
  while (order < kMaxOrder) {
    uint32_t buddy = unit ^ (uint32_t(1) << order);
    Block* bd = &c->blocks[buddy];
    // The buddy may be owned, its owner writing its flags (clear_zeroed in
    // heap.cpp): read atomically; an owned block is never kFreeListed.
    uint8_t bflags = load_relaxed(bd->flags);
    if (!(bflags & kFreeListed) || bd->order != order) break;
    zeroed = zeroed && (bflags & kZeroed);
    take_free(bd);
    unit = unit < buddy ? unit : buddy;
    ++order;
  }
  if (order == kMaxOrder && !zeroed) zeroed = purge_range(c->base, kChunkSize);
  make_free(c, unit, order, zeroed);
}

// Under A.mu: frees [unit, unit + n) as maximal aligned power-of-two pieces.
void free_units(ChunkHeader* c, uint32_t unit, uint32_t n, bool zeroed) {
  uint32_t end = unit + n;
  while (unit < end) {
    unsigned o = kMaxOrder;
    while ((unit & ((uint32_t(1) << o) - 1)) != 0 || unit + (uint32_t(1) << o) > end) --o;
    free_coalesce(c, unit, o, zeroed);
    unit += uint32_t(1) << o;
  }
}

// Under A.mu: purges dirty free blocks of at least a page, largest first,
// until at most half the limit is dirty.
void purge_some() {
  for (int o = int(kMaxOrder); o >= 0 && A.dirty > kDirtyLimit / 2; --o) {
    if (order_bytes(unsigned(o)) < os_page()) break;
    for (Block* b = A.free_lists[o]; b && A.dirty > kDirtyLimit / 2; b = b->next) {
      if (b->flags & kZeroed) continue;
      if (!purge_range(b->start, order_bytes(unsigned(o)))) continue;
      b->flags |= kZeroed;
      A.dirty -= order_bytes(unsigned(o));
    }
  }
}

ChunkHeader* map_chunk() {
  void* mem = map_aligned(kChunkSize);
  if (!mem) return nullptr;
  void* hm = mmap(nullptr, kHeaderBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (hm == MAP_FAILED) {
    munmap(mem, kChunkSize);
    return nullptr;
  }
  // A fresh mapping may land where ASan still records poison of an earlier
  // one (stacks of frames that never returned): the header is read through
  // atomics from any thread, so clear it.
  asan_unpoison(hm, kHeaderBytes);
  auto* hdr = static_cast<char*>(hm);
  auto* c = new (hdr) ChunkHeader();
  c->base = reinterpret_cast<uintptr_t>(mem);
  c->map_size = kChunkSize;
  c->huge = false;
  c->head = reinterpret_cast<uint16_t*>(hdr + kHeadOffset);
  c->blocks = reinterpret_cast<Block*>(hdr + kBlocksOffset);
  for (unsigned k = 0; k < kBitmapKinds; ++k)
    c->bits[k] = reinterpret_cast<uint64_t*>(hdr + kBitsOffset + k * kBitmapWords * sizeof(uint64_t));
  asan_poison(mem, kChunkSize);
  {
    std::lock_guard<std::mutex> lk(A.map_mu);
    if (!page_map_set(c->base, kChunkSize, c)) {
      munmap(mem, kChunkSize);
      munmap(hm, kHeaderBytes);
      return nullptr;
    }
  }
  widen_bounds(c->base, c->base + kChunkSize);
  return c;
}

unsigned order_for(uint32_t units) {
  unsigned o = 0;
  while ((uint32_t(1) << o) < units) ++o;
  return o;
}

}  // namespace

void block_lock(Block* b) {
  std::atomic_ref<uint8_t> l(b->lock);
  for (int spins = 0;; ++spins) {
    if (l.load(std::memory_order_relaxed) == 0 && l.exchange(1, std::memory_order_acquire) == 0) return;
    if (spins >= 64) std::this_thread::yield();
  }
}

uint64_t block_bytes(const Block* b) {
  if (b->kind == kHuge) return b->chunk->map_size;
  return uint64_t(b->units) << kUnitShift;
}

void block_clear_bits(Block* b) {
  ChunkHeader* c = b->chunk;
  if (c->huge) {
    for (unsigned k = 0; k < kBitmapKinds; ++k) store_relaxed(c->bits[k][0], uint64_t(0));
    return;
  }
  uint32_t w0 = block_g0(b) / 64, w1 = block_g1(b) / 64;
  for (unsigned k = 0; k < kBitmapKinds; ++k)
    for (uint32_t w = w0; w < w1; ++w) store_relaxed(c->bits[k][w], uint64_t(0));
}

Block* block_alloc(uint32_t units, uint32_t align_units, uint8_t kind, Heap* owner) {
  if (units == 0 || units > kUnitsPerChunk) return nullptr;
  unsigned want = order_for(units > align_units ? units : align_units);
  Block* b = nullptr;
  for (;;) {
    {
      std::lock_guard<SpinLock> lk(A.mu);
      unsigned o = want;
      while (o <= kMaxOrder && !A.free_lists[o]) ++o;
      if (o <= kMaxOrder) {
        b = A.free_lists[o];
        take_free(b);
        bool zeroed = b->flags & kZeroed;
        while (o > want) {
          --o;
          make_free(b->chunk, b->unit + (uint32_t(1) << o), o, zeroed);
        }
        uint32_t span = uint32_t(1) << want;
        if (units < span) free_units(b->chunk, b->unit + units, span - units, zeroed);
        b->next = b->prev = b->shared_next = b->shared_prev = nullptr;
        b->flags = zeroed ? kZeroed : 0;
        b->shared_state = 0;
        b->live_bytes = 0;
        b->swept_cycle = 0;
        b->order = uint8_t(want);
        store_relaxed(b->object_size, uint64_t(0));
        store_relaxed(b->units, units);
        store_relaxed(b->owner, owner);
        for (uint32_t u = b->unit; u < uint32_t(b->unit) + units; ++u) store_relaxed(b->chunk->head[u], b->unit);
        store_release(b->kind, kind);
        A.in_use += uint64_t(units) << kUnitShift;
        return b;
      }
    }
    ChunkHeader* c = map_chunk();
    if (!c) return nullptr;
    std::lock_guard<SpinLock> lk(A.mu);
    A.mapped += kChunkSize;
    make_free(c, 0, kMaxOrder, true);
  }
}

Block* huge_alloc(uint64_t size, Heap* owner) {
  if (size > (uint64_t(1) << 46)) return nullptr;
  uintptr_t len = round_up(uintptr_t(size), kChunkSize);
  void* mem = map_aligned(len);
  if (!mem) return nullptr;
  asan_poison(mem, len);
  ChunkHeader* c;
  {
    std::lock_guard<std::mutex> lk(A.map_mu);
    c = A.huge_pool;
    if (c) {
      A.huge_pool = c->pool_next;
    } else {
      // Headers are never freed (racing lookups may still read one); they
      // are pooled for the next Huge object.
      size_t bytes = sizeof(ChunkHeader) + sizeof(Block) + kBitmapKinds * sizeof(uint64_t);
      auto* raw = static_cast<char*>(mem_zalloc(bytes));
      if (!raw) {
        munmap(mem, len);
        return nullptr;
      }
      c = new (raw) ChunkHeader();
      c->blocks = reinterpret_cast<Block*>(raw + sizeof(ChunkHeader));
      auto* words = reinterpret_cast<uint64_t*>(raw + sizeof(ChunkHeader) + sizeof(Block));
      for (unsigned k = 0; k < kBitmapKinds; ++k) c->bits[k] = &words[k];
      c->huge = true;
    }
    c->base = reinterpret_cast<uintptr_t>(mem);
    c->map_size = len;
    c->pool_next = nullptr;
    Block* b = c->blocks;
    b->chunk = c;
    b->unit = 0;
    b->next = b->prev = b->shared_next = b->shared_prev = nullptr;
    b->flags = kZeroed;
    b->shared_state = 0;
    b->live_bytes = 0;
    b->swept_cycle = 0;
    store_relaxed(b->start, c->base);
    store_relaxed(b->units, uint32_t(0));
    store_relaxed(b->object_size, size);
    store_relaxed(b->owner, owner);
    for (unsigned k = 0; k < kBitmapKinds; ++k) store_relaxed(c->bits[k][0], uint64_t(0));
    store_release(b->kind, uint8_t(kHuge));
    if (!page_map_set(c->base, len, c)) {
      store_release(b->kind, uint8_t(kFree));
      c->pool_next = A.huge_pool;
      A.huge_pool = c;
      munmap(mem, len);
      return nullptr;
    }
  }
  widen_bounds(c->base, c->base + len);
  std::lock_guard<SpinLock> lk(A.mu);
  A.mapped += len;
  A.in_use += len;
  return c->blocks;
}

void block_free(Block* b) {
  ChunkHeader* c = b->chunk;
  if (c->huge) {
    uintptr_t len = c->map_size;
    {
      std::lock_guard<std::mutex> lk(A.map_mu);
      store_release(b->kind, uint8_t(kFree));
      for (uintptr_t a = c->base; a < c->base + len; a += kChunkSize) {
        uintptr_t idx = a >> kChunkShift;
        store_release(g_page_map[idx >> kMapLeafBits][idx & ((uintptr_t(1) << kMapLeafBits) - 1)],
                      static_cast<ChunkHeader*>(nullptr));
      }
      c->pool_next = A.huge_pool;
      A.huge_pool = c;
    }
    // The address range may be mapped again by anyone: leave no poison.
    asan_unpoison(reinterpret_cast<void*>(c->base), len);
    munmap(reinterpret_cast<void*>(c->base), len);
    std::lock_guard<SpinLock> lk(A.mu);
    A.mapped -= len;
    A.in_use -= len;
    return;
  }
  uint32_t units = b->units;
  asan_poison(reinterpret_cast<void*>(b->start), uint64_t(units) << kUnitShift);
  std::lock_guard<SpinLock> lk(A.mu);
  bool zeroed = b->flags & kZeroed;
  store_relaxed(b->owner, static_cast<Heap*>(nullptr));
  store_release(b->kind, uint8_t(kFree));
  A.in_use -= uint64_t(units) << kUnitShift;
  free_units(c, b->unit, units, zeroed);
  if (A.dirty > kDirtyLimit) purge_some();
}

}  // namespace heap_layout

HeapMemoryStats heap_memory_stats() {
  using namespace heap_layout;
  std::lock_guard<SpinLock> lk(A.mu);
  return HeapMemoryStats{A.mapped, A.in_use, A.free_bytes, A.dirty, A.purged};
}

void heap_memory_purge() {
  using namespace heap_layout;
  std::lock_guard<SpinLock> lk(A.mu);
  for (unsigned o = 0; o <= kMaxOrder; ++o) {
    if (order_bytes(o) < os_page()) continue;
    for (Block* b = A.free_lists[o]; b; b = b->next) {
      if (b->flags & kZeroed) continue;
      if (!purge_range(b->start, order_bytes(o))) continue;
      b->flags |= kZeroed;
      A.dirty -= order_bytes(o);
    }
  }
}

}  // namespace snow::rt
