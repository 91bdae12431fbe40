// What heap.cpp (one process's heap) and shared.cpp (the shared region)
// share: the Heap control block, the mark stack, conservative scanning, and
// the hooks each side calls in the other. Internal to runtime/heap.
#pragma once

#include <cstring>

#include "runtime/common/common.h"
#include "runtime/common/flat_map.h"
#include "runtime/heap/heap.h"
#include "runtime/heap/layout.h"
#include "runtime/heap/sanitize.h"

namespace snow::rt {

struct ExternalRefs;

// One process's heap. Owner only (see heap.h), except `ext`, whose contents
// are guarded by its own lock (shared.cpp).
struct Heap {
  heap_layout::Block* small_head = nullptr;  // Small blocks, allocation order
  heap_layout::Block* small_tail = nullptr;
  heap_layout::Block* big = nullptr;  // Large and Huge blocks
  // Bump region [cur, end) in cur_block; cur_fresh: known zero.
  uintptr_t cur = 0;
  uintptr_t end = 0;
  heap_layout::Block* cur_block = nullptr;
  bool cur_fresh = false;
  // Where the search for the next free run goes on.
  heap_layout::Block* scan_block = nullptr;
  uint32_t scan_granule = 0;
  uint64_t small_bytes = 0;  // bytes of Small blocks held
  uint64_t big_bytes = 0;    // bytes of Large and Huge blocks held
  uint64_t live_bytes = 0;
  uint64_t allocated_total = 0;
  uint64_t allocated_since = 0;
  uint64_t budget = kHeapMinBudget;
  uint64_t collections = 0;
  uint64_t last_pause_ns = 0;
  ExternalRefs* ext = nullptr;
};

// An explicit stack of objects whose words are still to be scanned, so
// marking never recurses. push() fails (and sets `overflowed`) when memory
// runs out or a test cap is reached; the collector then rescans the marked
// objects (rescan loop in the callers) until nothing overflows.
class MarkStack {
 public:
  struct Entry {
    uintptr_t start;
    uint64_t size;
  };
  MarkStack();
  ~MarkStack();
  MarkStack(const MarkStack&) = delete;
  MarkStack& operator=(const MarkStack&) = delete;
  bool push(uintptr_t start, uint64_t size) {
    if (count_ == cap_ && !grow()) {
      overflowed = true;
      return false;
    }
    items_[count_++] = Entry{start, size};
    return true;
  }
  bool pop(Entry* e) {
    if (count_ == 0) return false;
    *e = items_[--count_];
    return true;
  }
  bool overflowed = false;

 private:
  bool grow();
  static constexpr size_t kInline = 128;
  Entry inline_[kInline];
  Entry* items_;
  size_t count_ = 0;
  size_t cap_ = kInline;
};

// Calls visit(word) for every 8-byte aligned word in [lo, hi). The words
// may be anything (stack redzones, padding the program never wrote), hence
// no ASan checks here.
template <class Visit>
SNOW_NO_SANITIZE_ADDRESS inline void scan_words(uintptr_t lo, uintptr_t hi, Visit&& visit) {
  lo = (lo + 7) & ~uintptr_t(7);
  for (uintptr_t p = lo; p + 8 <= hi; p += 8) visit(*reinterpret_cast<const uintptr_t*>(p));
}

// Extent of the Small object starting at granule g of block b.
inline uint64_t small_object_size(const heap_layout::Block* b, uint32_t g) {
  using namespace heap_layout;
  int64_t e = bits_next_set(b->chunk->bits[kEndBits], g, block_g1(b));
  return e < 0 ? kGranule : uint64_t(e - int64_t(g) + 1) << kGranuleShift;
}

// Calls f(granule, size) for every object whose start bit is set in
// `select` (a bitmap of the block's chunk: e.g. shared or mark bits) and in
// the start bitmap.
template <class F>
void for_each_selected(const heap_layout::Block* b, const uint64_t* select, F&& f) {
  using namespace heap_layout;
  const ChunkHeader* c = b->chunk;
  if (load_relaxed(b->kind) != kSmall) {
    if (bit_test(select, c->huge ? 0 : block_g0(b))) f(c->huge ? 0 : block_g0(b), load_relaxed(b->object_size));
    return;
  }
  for (uint32_t w = block_g0(b) / 64; w < block_g1(b) / 64; ++w) {
    uint64_t v = load_acquire(select[w]) & load_relaxed(c->bits[kStartBits][w]);
    while (v) {
      uint32_t g = w * 64 + uint32_t(std::countr_zero(v));
      v &= v - 1;
      f(g, small_object_size(b, g));
    }
  }
}

inline uintptr_t granule_addr(const heap_layout::Block* b, uint32_t g) {
  return b->chunk->base + (uintptr_t(g) << heap_layout::kGranuleShift);
}

// Calls f(block) for every block the heap owns.
template <class F>
void for_each_block(const Heap* h, F&& f) {
  for (heap_layout::Block* b = h->small_head; b; b = b->next) f(b);
  for (heap_layout::Block* b = h->big; b; b = b->next) f(b);
}

// Every marker's overflow path: while `stack` overflowed, the objects that
// bitmap `bits` selects in the blocks for_blocks(f) passes to f are scanned
// again (visit(word) on each word, then drain()) until nothing was left out.
template <class ForBlocks, class Visit, class Drain>
void rescan_after_overflow(MarkStack& stack, ForBlocks&& for_blocks, heap_layout::BitmapKind bits, Visit&& visit,
                           Drain&& drain) {
  while (stack.overflowed) {
    stack.overflowed = false;
    for_blocks([&](heap_layout::Block* b) {
      for_each_selected(b, b->chunk->bits[bits], [&](uint32_t g, uint64_t size) {
        uintptr_t p = granule_addr(b, g);
        scan_words(p, p + size, visit);
        drain();
      });
    });
  }
}

// ------------------------------------------------ hooks into shared.cpp

// After the owner's collection: `found` (may be nullptr: none) becomes the
// heap's external references. Takes ownership of `found`.
void shared_after_collect(Heap* h, FlatMap64* found);
// The heap is being destroyed: forget its external references.
void shared_heap_gone(Heap* h);
// Whether the owner may free (true) an owned block it no longer uses: not
// while it holds shared objects or the shared region still lists it.
bool shared_block_releasable(heap_layout::Block* b);
// At the owner's exit: true if the block holds shared objects and became an
// orphan of the shared region (the caller must not free it); its private
// objects are freed.
bool shared_adopt_orphan(heap_layout::Block* b);
// The heap imported many more external references than its last
// collection found: a collection would trim them.
bool shared_refs_want_collect(const Heap* h);
uint64_t shared_refs_count(const Heap* h);

}  // namespace snow::rt
