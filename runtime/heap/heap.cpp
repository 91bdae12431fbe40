// One process's heap: bump allocation in free runs of Small blocks, Large and
// Huge objects in blocks of their own, and the owner's mark-sweep
// collection. See heap.h for the contract, layout.h for the memory layout.
//
// Allocation: objects up to kSmallMax go to the *bump region* [cur, end), a
// free run of some Small block. When it is too small, a medium object
// (> kMediumMin) first looks for a run that fits further on without giving
// up the region (so one 1 KiB object does not waste the rest of a run that
// small objects can still use); otherwise the region moves to the next run
// that fits, and past the last block a new block is added (sizes double
// with the heap, 1 KiB to 64 KiB). Runs are found from the bitmaps: after
// a sweep a block's free space is exactly the granules outside live
// objects' [start, end] bits, so no free list is stored anywhere (nothing to
// unpoison for ASan, nothing to keep consistent). Skipped runs are found
// again after the next collection, which restarts the search at the first
// block.
//
// Collection: mark from the roots and from this heap's shared objects
// (other processes may reach those), iteratively; words that point into
// other heaps' shared objects are collected as the heap's external
// references. Sweep: per Small block, keep the start and end bits of marked
// objects only and poison everything else; free unmarked Large/Huge blocks.
// Then size: budget = max(kHeapMinBudget, live), and empty Small blocks
// beyond live + budget go back to the block allocator.
#include "runtime/heap/heap_internal.h"

#include <algorithm>

namespace snow::rt {

using namespace heap_layout;

namespace {

constexpr uint64_t kMediumMin = 256;
std::atomic<size_t> g_mark_stack_limit{0};

// Totals over every heap (heap_totals): the live bytes of each existing
// heap's last collection, summed, and the collections run since start.
std::atomic<uint64_t> g_live_total{0};
std::atomic<uint64_t> g_collections_total{0};

uintptr_t align_up(uintptr_t v, uintptr_t a) { return (v + a - 1) & ~(a - 1); }

// The owner's first use of a block it got from the allocator: its memory
// is no longer known to be zero. Atomic: the allocator reads the flags of
// a free block's buddies (owned or not) while merging, under its lock only.
void clear_zeroed(Block* b) { store_relaxed(b->flags, uint8_t(load_relaxed(b->flags) & ~kZeroed)); }

uint32_t pow2_ceil(uint64_t v) {
  uint32_t p = 1;
  while (p < v) p <<= 1;
  return p;
}

// Marks the object [p, p + n) allocated in block b and hands out `size`
// zeroed bytes.
// Zeroes n bytes at p (both granule multiples). Most objects are a few
// granules: whole-granule stores beat memset's dispatch on the size.
inline void zero_granules(void* p, uint64_t n) {
  if (n > 8 * kGranule) {
    std::memset(p, 0, n);
    return;
  }
  auto* w = static_cast<uint64_t*>(p);
  for (uint64_t i = 0; i < n / 8; i += 2) {
    w[i] = 0;
    w[i + 1] = 0;
  }
}

// Inlined into the bump path (heap_alloc, heap_alloc_unless_collect_due).
__attribute__((always_inline)) inline void* commit(Heap* h, Block* b, uintptr_t p, uint64_t n, uint64_t size,
                                                   bool fresh) {
  ChunkHeader* c = b->chunk;
  uint32_t g = granule_of(c, p);
  bit_set_owner(c->bits[kStartBits], g);
  bit_set_owner(c->bits[kEndBits], g + uint32_t(n >> kGranuleShift) - 1);
  void* out = reinterpret_cast<void*>(p);
  if (!fresh) {
    asan_unpoison(out, n);
    zero_granules(out, n);
    asan_poison(out, n);
  }
  asan_unpoison(out, size);
  h->allocated_since += n;
  h->allocated_total += n;
  return out;
}

// The next free run at or after granule *g of block *b that can hold n
// bytes aligned to `align`. Advances (*b, *g) past the run it returns (or
// to the end). Runs that are too small are skipped.
bool find_run(Block** bp, uint32_t* gp, uint64_t n, uint64_t align, uintptr_t* run_lo, uintptr_t* run_hi) {
  for (Block* b = *bp; b; b = b->next) {
    uint32_t g = (b == *bp) ? *gp : block_g0(b);
    uint32_t g1 = block_g1(b);
    const uint64_t* st = b->chunk->bits[kStartBits];
    const uint64_t* en = b->chunk->bits[kEndBits];
    while (g < g1) {
      int64_t s = bits_next_set(st, g, g1);
      uint32_t run_end = s < 0 ? g1 : uint32_t(s);
      if (run_end > g) {
        uintptr_t lo = granule_addr(b, g), hi = granule_addr(b, run_end);
        uintptr_t p = align_up(lo, align);
        if (p + n <= hi) {
          *bp = b;
          *gp = run_end;
          *run_lo = lo;
          *run_hi = hi;
          return true;
        }
      }
      if (s < 0) break;
      int64_t e = bits_next_set(en, uint32_t(s), g1);
      g = e < 0 ? g1 : uint32_t(e) + 1;
    }
    *bp = b;
    *gp = g1;
  }
  return false;
}

void* new_small_block(Heap* h, uint64_t n, uint64_t size, uint64_t align) {
  uint64_t want = std::max<uint64_t>(n * 2, h->small_bytes) >> kUnitShift;
  uint32_t units = std::clamp<uint32_t>(pow2_ceil(want ? want : 1), 1, kMaxSmallUnits);
  Block* b = block_alloc(units, 1, kSmall, h);
  if (!b) return nullptr;
  if (h->small_tail) h->small_tail->next = b;
  else h->small_head = b;
  h->small_tail = b;
  h->small_bytes += block_bytes(b);
  h->cur_block = b;
  h->cur = b->start;
  h->end = b->start + block_bytes(b);
  h->cur_fresh = load_relaxed(b->flags) & kZeroed;
  clear_zeroed(b);
  h->scan_block = b;
  h->scan_granule = block_g1(b);
  uintptr_t p = align_up(h->cur, align);
  h->cur = p + n;
  return commit(h, b, p, n, size, h->cur_fresh);
}

void* alloc_small_slow(Heap* h, uint64_t n, uint64_t size, uint64_t align) {
  uintptr_t lo, hi;
  Block* b = h->scan_block;
  uint32_t g = h->scan_granule;
  bool found = find_run(&b, &g, n, align, &lo, &hi);
  if (found && n > kMediumMin && h->cur_block && h->end - h->cur >= kMediumMin) {
    // Keep the bump region for the small objects that still fit it.
    return commit(h, b, align_up(lo, align), n, size, false);
  }
  if (found) {
    h->scan_block = b;
    h->scan_granule = g;
    h->cur_block = b;
    h->cur_fresh = false;
    uintptr_t p = align_up(lo, align);
    h->cur = p + n;
    h->end = hi;
    return commit(h, b, p, n, size, false);
  }
  h->scan_block = b;
  h->scan_granule = g;
  return new_small_block(h, n, size, align);
}

void* alloc_big(Heap* h, uint64_t size, uint64_t align) {
  Block* b;
  if (size > kLargeMax) {
    b = huge_alloc(size, h);
  } else {
    uint32_t units = uint32_t((size + kUnit - 1) >> kUnitShift);
    uint32_t align_units = align > kUnit ? uint32_t(align >> kUnitShift) : 1;
    b = block_alloc(units, align_units, kLarge, h);
    if (b) store_relaxed(b->object_size, size);
  }
  if (!b) return nullptr;
  b->next = h->big;
  h->big = b;
  uint64_t bytes = block_bytes(b);
  h->big_bytes += bytes;
  h->allocated_since += bytes;
  h->allocated_total += bytes;
  void* p = reinterpret_cast<void*>(b->start);
  asan_unpoison(p, size);
  if (!(load_relaxed(b->flags) & kZeroed)) std::memset(p, 0, size);
  clear_zeroed(b);
  return p;
}

// ---------------------------------------------------------------- marking

class LocalMarker {
 public:
  explicit LocalMarker(Heap* h) : h_(h) {}
  ~LocalMarker() { destroy(found_); }

  void visit(uintptr_t word) {
    ObjectRef o;
    if (!object_find(word, &o)) return;
    if (load_relaxed(o.block->owner) == h_) {
      uint64_t* mark = o.bits[kMarkBits];
      if (bit_test(mark, o.granule)) return;
      bit_set_owner(mark, o.granule);
      stack_.push(o.start, o.size);
    } else if (bit_test_acquire(o.bits[kSharedBits], o.granule)) {
      if (!found_) found_ = make<FlatMap64>();
      if (found_) found_->emplace(o.start, 0);
    }
  }

  void scan(uintptr_t lo, uintptr_t hi) {
    scan_words(lo, hi, [this](uintptr_t w) { visit(w); });
  }

  void drain() {
    MarkStack::Entry e;
    while (stack_.pop(&e)) scan(e.start, e.start + e.size);
  }

  // This heap's shared objects are roots: other processes may reach them.
  void mark_shared() {
    for_each_block(h_, [this](Block* b) {
      for_each_selected(b, b->chunk->bits[kSharedBits], [&](uint32_t g, uint64_t) { visit(granule_addr(b, g)); });
    });
  }

  // Drains; after an overflow, scans every marked object again (children
  // still unmarked get pushed) until the stack held everything.
  void finish() {
    drain();
    rescan_after_overflow(
        stack_, [this](auto&& f) { for_each_block(h_, f); }, kMarkBits, [this](uintptr_t w) { visit(w); },
        [this] { drain(); });
  }

  FlatMap64* take_found() {
    FlatMap64* f = found_;
    found_ = nullptr;
    return f;
  }

 private:
  Heap* h_;
  MarkStack stack_;
  FlatMap64* found_ = nullptr;
};

// ---------------------------------------------------------------- sweeping

void poison_granules(const Block* b, uint32_t from, uint32_t to) {
  if (from < to) asan_poison(reinterpret_cast<void*>(granule_addr(b, from)), uint64_t(to - from) << kGranuleShift);
}

// Keeps marked objects, poisons the rest. Returns the live bytes.
uint64_t sweep_small(Block* b) {
  ChunkHeader* c = b->chunk;
  uint32_t g0 = block_g0(b), g1 = block_g1(b);
  uint32_t w0 = g0 / 64, w1 = g1 / 64;
  uint64_t* st = c->bits[kStartBits];
  uint64_t* en = c->bits[kEndBits];
  uint64_t* mk = c->bits[kMarkBits];
  uint64_t new_end[kMaxSmallUnits * kGranulesPerUnit / 64] = {};
  uint64_t live = 0;
  uint32_t free_from = g0;
  for (uint32_t w = w0; w < w1; ++w) {
    uint64_t keep = load_relaxed(st[w]) & load_relaxed(mk[w]);
    store_relaxed(st[w], keep);
    store_relaxed(mk[w], uint64_t(0));
    while (keep) {
      uint32_t g = w * 64 + uint32_t(std::countr_zero(keep));
      keep &= keep - 1;
      int64_t e = bits_next_set(en, g, g1);
      if (e < 0) e = g;  // cannot happen: every start has its end
      poison_granules(b, free_from, g);
      new_end[uint32_t(e) / 64 - w0] |= uint64_t(1) << (uint32_t(e) & 63);
      live += uint64_t(uint32_t(e) - g + 1) << kGranuleShift;
      free_from = uint32_t(e) + 1;
    }
  }
  poison_granules(b, free_from, g1);
  for (uint32_t w = w0; w < w1; ++w) store_relaxed(en[w], new_end[w - w0]);
  b->live_bytes = uint32_t(live);
  return live;
}

void release_block(Heap* h, Block* b) {
  (b->kind == kSmall ? h->small_bytes : h->big_bytes) -= block_bytes(b);
  block_clear_bits(b);
  block_free(b);
}

// Empty Small blocks go back while the heap keeps at least `keep` bytes of
// Small blocks (0: all of them).
void release_empty(Heap* h, uint64_t keep) {
  Block* prev = nullptr;
  for (Block* b = h->small_head; b;) {
    Block* next = b->next;
    bool empty = true;
    for (uint32_t w = block_g0(b) / 64; w < block_g1(b) / 64 && empty; ++w)
      empty = load_relaxed(b->chunk->bits[kStartBits][w]) == 0;
    if (empty && h->small_bytes - block_bytes(b) >= keep && shared_block_releasable(b)) {
      if (prev) prev->next = next;
      else h->small_head = next;
      if (h->small_tail == b) h->small_tail = prev;
      if (h->cur_block == b) {
        h->cur_block = nullptr;
        h->cur = h->end = 0;
      }
      if (h->scan_block == b) {
        h->scan_block = next;
        h->scan_granule = next ? block_g0(next) : 0;
      }
      release_block(h, b);
    } else {
      prev = b;
    }
    b = next;
  }
  if (!h->scan_block) {
    // Nothing left to search: the next allocation adds a block.
    h->scan_block = h->small_tail;
    h->scan_granule = h->small_tail ? block_g1(h->small_tail) : 0;
  }
}

}  // namespace

MarkStack::MarkStack() : items_(inline_) {}

MarkStack::~MarkStack() {
  if (items_ != inline_) mem_free(items_);
}

bool MarkStack::grow() {
  size_t limit = g_mark_stack_limit.load(std::memory_order_relaxed);
  size_t ncap = cap_ * 2;
  if (limit && ncap > limit) return false;
  auto* n = static_cast<Entry*>(mem_alloc(ncap * sizeof(Entry)));
  if (!n) return false;
  std::memcpy(n, items_, count_ * sizeof(Entry));
  if (items_ != inline_) mem_free(items_);
  items_ = n;
  cap_ = ncap;
  return true;
}

Heap* heap_create() { return make<Heap>(); }

void heap_destroy(Heap* h) {
  if (!h) return;
  g_live_total.fetch_sub(h->live_bytes, std::memory_order_relaxed);
  shared_heap_gone(h);
  for (Block* lists : {h->small_head, h->big}) {
    for (Block* b = lists; b;) {
      Block* next = b->next;
      b->next = nullptr;
      if (!shared_adopt_orphan(b)) {
        block_clear_bits(b);
        block_free(b);
      }
      b = next;
    }
  }
  destroy(h);
}

void* heap_alloc(Heap* h, uint64_t size, uint64_t align) {
  if (!h || size == 0) return nullptr;
  if (align == 0) align = kGranule;
  if ((align & (align - 1)) != 0 || align > kMaxAlign) return nullptr;
  if (size > kSmallMax) return alloc_big(h, size, align);
  uint64_t n = (size + kGranule - 1) & ~(kGranule - 1);
  uintptr_t p = align <= kGranule ? h->cur : align_up(h->cur, align);
  if (h->cur_block && p + n <= h->end) {
    h->cur = p + n;
    return commit(h, h->cur_block, p, n, size, h->cur_fresh);
  }
  return alloc_small_slow(h, n, size, align);
}

bool heap_wants_collect(const Heap* h) {
  if (!h) return false;
  return h->allocated_since >= h->budget || (h->ext && shared_refs_want_collect(h));
}

void* heap_alloc_unless_collect_due(Heap* h, uint64_t size, uint64_t align) {
  if (heap_wants_collect(h)) return nullptr;
  return heap_alloc(h, size, align);
}

void heap_collect(Heap* h, const HeapRoots& roots) {
  if (!h) return;
  int64_t t0 = now_ns();
  LocalMarker m(h);
  for (size_t i = 0; i < roots.range_count; ++i)
    m.scan(reinterpret_cast<uintptr_t>(roots.ranges[i].lo), reinterpret_cast<uintptr_t>(roots.ranges[i].hi));
  for (size_t i = 0; i < roots.word_count; ++i) m.visit(roots.words[i]);
  m.mark_shared();
  m.finish();

  uint64_t live = 0;
  for (Block* b = h->small_head; b; b = b->next) live += sweep_small(b);
  Block** link = &h->big;
  while (Block* b = *link) {
    uint32_t g = b->chunk->huge ? 0 : block_g0(b);
    uint64_t* mark = b->chunk->bits[kMarkBits];
    if (bit_test(mark, g)) {
      bit_clear_owner(mark, g);
      live += block_bytes(b);
      link = &b->next;
    } else if (shared_block_releasable(b)) {
      *link = b->next;
      release_block(h, b);
    } else {
      link = &b->next;  // unshared but still listed by the shared region: next time
    }
  }
  shared_after_collect(h, m.take_found());

  g_live_total.fetch_add(live - h->live_bytes, std::memory_order_relaxed);  // wraps when it shrank
  g_collections_total.fetch_add(1, std::memory_order_relaxed);
  h->live_bytes = live;
  h->budget = std::max(kHeapMinBudget, live);
  h->allocated_since = 0;
  h->cur_block = nullptr;
  h->cur = h->end = 0;
  h->cur_fresh = false;
  h->scan_block = h->small_head;
  h->scan_granule = h->small_head ? block_g0(h->small_head) : 0;
  uint64_t small_live = 0;
  for (Block* b = h->small_head; b; b = b->next) small_live += b->live_bytes;
  release_empty(h, small_live + h->budget);
  ++h->collections;
  h->last_pause_ns = uint64_t(now_ns() - t0);
}

void heap_release_free(Heap* h) {
  if (h) release_empty(h, 0);
}

HeapStats heap_stats(const Heap* h) {
  if (!h) return HeapStats{};
  return HeapStats{h->live_bytes,  h->small_bytes + h->big_bytes, h->allocated_total, h->allocated_since, h->budget,
                   h->collections, shared_refs_count(h),          h->last_pause_ns};
}

HeapTotals heap_totals() {
  return HeapTotals{heap_memory_stats().in_use_bytes, g_live_total.load(std::memory_order_relaxed),
                    g_collections_total.load(std::memory_order_relaxed), shared_stats().shared_bytes};
}

__attribute__((noinline)) void heap_with_registers_spilled(void (*fn)(const void* sp, void* ctx), void* ctx) {
  uintptr_t regs[12] = {};
#if defined(__x86_64__)
  asm volatile(
      "movq %%rbx, 0(%0)\n\t"
      "movq %%rbp, 8(%0)\n\t"
      "movq %%r12, 16(%0)\n\t"
      "movq %%r13, 24(%0)\n\t"
      "movq %%r14, 32(%0)\n\t"
      "movq %%r15, 40(%0)\n\t"
      :
      : "r"(regs)
      : "memory");
#elif defined(__aarch64__)
  asm volatile(
      "stp x19, x20, [%0, #0]\n\t"
      "stp x21, x22, [%0, #16]\n\t"
      "stp x23, x24, [%0, #32]\n\t"
      "stp x25, x26, [%0, #48]\n\t"
      "stp x27, x28, [%0, #64]\n\t"
      "stp x29, x30, [%0, #80]\n\t"
      :
      : "r"(regs)
      : "memory");
#else
  __builtin_unwind_init();
#endif
  fn(regs, ctx);
  asm volatile("" : : "r"(regs) : "memory");
}

bool heap_find_object(const void* p, const void** start, uint64_t* size) {
  ObjectRef o;
  if (!object_find(reinterpret_cast<uintptr_t>(p), &o)) return false;
  if (start) *start = reinterpret_cast<const void*>(o.start);
  if (size) *size = o.size;
  return true;
}

bool heap_object_is_shared(const void* p) {
  ObjectRef o;
  return object_find(reinterpret_cast<uintptr_t>(p), &o) && bit_test_acquire(o.bits[kSharedBits], o.granule);
}

void heap_debug_set_mark_stack_limit(size_t entries) { g_mark_stack_limit.store(entries); }

}  // namespace snow::rt
