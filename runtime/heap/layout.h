// Heap memory layout: chunks, blocks, bitmaps, the page map, and the O(1)
// object lookup every collector and the export scan use. Internal to
// runtime/heap (heap.h is the module's interface).
//
// Vocabulary (sizes are compile-time constants below):
// - *Granule* (16 bytes): the allocation grain. Every object starts on a
//   granule boundary and covers whole granules. One bit per granule in each
//   bitmap.
// - *Chunk* (1 MiB, aligned to 1 MiB): what the block allocator maps from
//   the OS. Its *header* (ChunkHeader, mapped separately and never freed)
//   holds the per-unit block index, the block descriptors and the bitmaps for
//   the whole chunk, so a lookup never reads the chunk's own memory.
// - *Unit* (1 KiB): the block allocator's grain (a chunk has 1024).
// - *Block*: a run of units owned by one heap (or by the shared region, see
//   shared.h) and described by the Block at its first (*head*) unit. Kinds:
//     Small  power-of-two units (1..64 KiB); many objects, bump-allocated;
//            an object's extent is its *start* bit and its *end* bit (the
//            bit of its last granule).
//     Large  one object of more than kSmallMax bytes, exact units.
//     Huge   one object of more than kLargeMax bytes in its own mapping
//            (1 MiB aligned), described by a small header of its own.
// - *Page map*: a two-level radix table from address bits 47..20 to the
//   ChunkHeader (chunk_lookup). With the header's `head` array (unit -> head
//   unit of the block covering it) it answers "which block holds this
//   address" in three dependent loads.
// - *Bitmaps* (per chunk, one bit per granule): start, end (object extents),
//   mark (the owner's collection), shared (the object is shared: it or a
//   value reaching it was sent to another process), smark (the shared
//   region's collection). Large and Huge objects use only their head
//   granule's bits.
//
// Ownership and threads:
// - The block allocator's state (free lists, the `next`/`prev` links and
//   `order` of free blocks, `head` entries) is guarded by its lock.
// - A block's `start`, `end` and `mark` bits, and its allocation fields, are
//   written only by its owner heap's process (or by the shared collector for
//   orphan blocks, which have no owner). Other threads read them: any
//   process's collection classifies words that point into other heaps, and
//   the shared collector reads the extent of shared objects. So every bitmap
//   word and every field a foreign reader may see is accessed through
//   std::atomic_ref (relaxed: the readers only need a value that was once
//   there; see object_find), and a foreign reader's answer is checked
//   against the shared bit before anything trusts it.
// - `shared` bits: set by the owner (export), cleared by the shared
//   collector (unshare) or the owner's exit (orphaning), with RMW atomics.
//   `smark` bits: set by the shared collector and by exporting owners during
//   a cycle, cleared by the shared collector. See shared.h for the protocol.
// - Chunk headers and the page map are never freed, so a racing lookup
//   always reads mapped memory; at worst it reads a stale answer, which the
//   callers tolerate (a stale foreign answer only retains memory).
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>

namespace snow::rt {

struct Heap;

namespace heap_layout {

constexpr unsigned kGranuleShift = 4;
constexpr uintptr_t kGranule = uintptr_t(1) << kGranuleShift;
constexpr unsigned kUnitShift = 10;
constexpr uintptr_t kUnit = uintptr_t(1) << kUnitShift;
constexpr unsigned kChunkShift = 20;
constexpr uintptr_t kChunkSize = uintptr_t(1) << kChunkShift;
constexpr unsigned kUnitsPerChunk = unsigned(kChunkSize >> kUnitShift);        // 1024
constexpr unsigned kGranulesPerUnit = unsigned(kUnit >> kGranuleShift);        // 64
constexpr unsigned kGranulesPerChunk = unsigned(kChunkSize >> kGranuleShift);  // 65536
constexpr unsigned kBitmapWords = kGranulesPerChunk / 64;                      // 1024
constexpr unsigned kMaxOrder = 10;                                             // buddy orders 0 (1 KiB) .. 10 (1 MiB)

// Objects up to kSmallMax bytes are bump-allocated in Small blocks, up to
// kLargeMax in Large blocks, beyond that in Huge mappings.
constexpr uint64_t kSmallMax = 2048;
constexpr uint64_t kLargeMax = 512 * 1024;
// Small blocks are 1 KiB .. kMaxSmallUnits KiB.
constexpr uint32_t kMaxSmallUnits = 64;
constexpr uint64_t kMaxAlign = 4096;

enum BlockKind : uint8_t { kFree = 0, kSmall = 1, kLarge = 2, kHuge = 3 };
enum BitmapKind : unsigned { kStartBits = 0, kEndBits, kMarkBits, kSharedBits, kSharedMarkBits, kBitmapKinds };

// Block::flags (the allocator's while free, the owner's while owned).
enum : uint8_t { kZeroed = 1 };  // every byte of the block is zero (fresh or purged memory)
// Block::shared_state (under the block's lock; set under the registry lock).
enum : uint8_t { kRegistered = 1 };  // in the shared region's list of blocks holding shared objects

struct ChunkHeader;

// A block descriptor. Trivial on purpose: descriptors live in mmap'd chunk
// headers (zero bytes are a valid free descriptor) and are read by racing
// lookups through atomic_ref.
struct Block {
  Block* next;         // Free: allocator free list; owned: the owner's block list
  Block* prev;         // Free: allocator free list
  Block* shared_next;  // shared region's registry (under its lock)
  Block* shared_prev;
  ChunkHeader* chunk;
  uintptr_t start;       // first byte
  uint64_t object_size;  // Large/Huge: the object's size in bytes (atomic_ref)
  Heap* owner;           // atomic_ref; nullptr on an owned kind = orphan (shared region)
  uint32_t units;        // length in units (Huge: 0, see object_size) (atomic_ref)
  uint32_t live_bytes;   // Small: bytes in objects after the last sweep
  uint32_t swept_cycle;  // the shared cycle that last swept it (under lock)
  uint16_t unit;         // head unit index in its chunk
  uint8_t order;         // Free: buddy order
  uint8_t kind;          // BlockKind (atomic_ref)
  uint8_t lock;          // spin lock word (block_lock / block_unlock)
  uint8_t flags;
  uint8_t shared_state;
};

struct ChunkHeader {
  uintptr_t base;      // chunk (or huge mapping) start
  uintptr_t map_size;  // bytes mapped at base
  bool huge;
  ChunkHeader* pool_next;        // huge headers: free pool
  uint16_t* head;                // per unit: head unit of the block covering it (atomic_ref)
  Block* blocks;                 // normal: per head unit; huge: one
  uint64_t* bits[kBitmapKinds];  // normal: kBitmapWords words each; huge: one word each
};

// ---------------------------------------------------------------- atomics

template <class T>
inline T load_relaxed(const T& v) {
  return std::atomic_ref<T>(const_cast<T&>(v)).load(std::memory_order_relaxed);
}
template <class T>
inline T load_acquire(const T& v) {
  return std::atomic_ref<T>(const_cast<T&>(v)).load(std::memory_order_acquire);
}
template <class T>
inline void store_relaxed(T& v, T x) {
  std::atomic_ref<T>(v).store(x, std::memory_order_relaxed);
}
template <class T>
inline void store_release(T& v, T x) {
  std::atomic_ref<T>(v).store(x, std::memory_order_release);
}

void block_lock(Block* b);
inline void block_unlock(Block* b) { std::atomic_ref<uint8_t>(b->lock).store(0, std::memory_order_release); }

// ---------------------------------------------------------------- bitmaps

inline bool bit_test(const uint64_t* bits, uint32_t g) { return (load_relaxed(bits[g >> 6]) >> (g & 63)) & 1; }
inline bool bit_test_acquire(const uint64_t* bits, uint32_t g) { return (load_acquire(bits[g >> 6]) >> (g & 63)) & 1; }
// Single-writer updates (the owner's start/end/mark bits).
inline void bit_set_owner(uint64_t* bits, uint32_t g) {
  uint64_t& w = bits[g >> 6];
  store_relaxed(w, load_relaxed(w) | (uint64_t(1) << (g & 63)));
}
inline void bit_clear_owner(uint64_t* bits, uint32_t g) {
  uint64_t& w = bits[g >> 6];
  store_relaxed(w, load_relaxed(w) & ~(uint64_t(1) << (g & 63)));
}
// Multi-writer updates (shared and smark bits). Returns whether it was set.
inline bool bit_fetch_set(uint64_t* bits, uint32_t g) {
  uint64_t m = uint64_t(1) << (g & 63);
  return std::atomic_ref<uint64_t>(bits[g >> 6]).fetch_or(m, std::memory_order_acq_rel) & m;
}
inline void bit_fetch_clear(uint64_t* bits, uint32_t g) {
  std::atomic_ref<uint64_t>(bits[g >> 6]).fetch_and(~(uint64_t(1) << (g & 63)), std::memory_order_acq_rel);
}

// Highest set bit in [lo, g] or -1; lowest set bit in [g, hi) or -1. lo and
// hi are multiples of 64 (blocks are word aligned in the bitmaps).
inline int64_t bits_prev_set(const uint64_t* bits, uint32_t g, uint32_t lo) {
  uint32_t w = g >> 6;
  uint64_t v = load_relaxed(bits[w]) & (~uint64_t(0) >> (63 - (g & 63)));
  for (;;) {
    if (v) return int64_t(w) * 64 + 63 - std::countl_zero(v);
    if (w * 64 <= lo) return -1;
    --w;
    v = load_relaxed(bits[w]);
  }
}

inline int64_t bits_next_set(const uint64_t* bits, uint32_t g, uint32_t hi) {
  if (g >= hi) return -1;
  uint32_t w = g >> 6;
  uint64_t v = load_relaxed(bits[w]) & (~uint64_t(0) << (g & 63));
  for (;;) {
    if (v) {
      int64_t r = int64_t(w) * 64 + std::countr_zero(v);
      return r < int64_t(hi) ? r : -1;
    }
    ++w;
    if (w * 64 >= hi) return -1;
    v = load_relaxed(bits[w]);
  }
}

// ---------------------------------------------------------------- page map

// Bounds of every address the heap ever mapped (a quick reject for most
// words a conservative scan meets).
extern std::atomic<uintptr_t> g_heap_lo;
extern std::atomic<uintptr_t> g_heap_hi;

constexpr unsigned kMapLeafBits = 14;
constexpr unsigned kMapRootBits = 48 - kChunkShift - kMapLeafBits;  // 14
extern ChunkHeader** g_page_map[uintptr_t(1) << kMapRootBits];

inline ChunkHeader* chunk_lookup(uintptr_t addr) {
  if (addr >> 48) return nullptr;
  uintptr_t idx = addr >> kChunkShift;
  ChunkHeader** leaf = load_acquire(g_page_map[idx >> kMapLeafBits]);
  if (!leaf) return nullptr;
  return load_acquire(leaf[idx & ((uintptr_t(1) << kMapLeafBits) - 1)]);
}

// ---------------------------------------------------------------- lookup

struct ObjectRef {
  Block* block;
  uint64_t* const* bits;  // the chunk's bitmaps
  uintptr_t start;
  uint64_t size;     // whole granules for Small, exact bytes for Large/Huge
  uint32_t granule;  // index of the start granule in `bits`
};

inline uint32_t granule_of(const ChunkHeader* c, uintptr_t addr) { return uint32_t((addr - c->base) >> kGranuleShift); }

// Which object, if any, covers `word`: any address inside it counts
// (interior pointers). O(1): the page map, the block index and, for Small
// blocks, a bitmap scan bounded by the block size (at most 64 words). Safe
// from any thread at any time: every index read from racing memory is
// range-checked, so a racing reader gets a possibly stale answer, never a
// fault. The owner's own lookups are exact.
inline bool object_find(uintptr_t word, ObjectRef* out) {
  uintptr_t lo = g_heap_lo.load(std::memory_order_relaxed);
  if (word - lo >= g_heap_hi.load(std::memory_order_relaxed) - lo) return false;
  ChunkHeader* c = chunk_lookup(word);
  if (!c) return false;
  if (c->huge) {
    Block* b = c->blocks;
    if (load_acquire(b->kind) != kHuge) return false;
    uintptr_t start = load_relaxed(b->start);
    uint64_t size = load_relaxed(b->object_size);
    if (word - start >= size) return false;
    *out = ObjectRef{b, c->bits, start, size, 0};
    return true;
  }
  uintptr_t off = word - c->base;
  uint32_t unit = uint32_t(off >> kUnitShift);
  uint16_t h = load_relaxed(c->head[unit]);
  if (h > unit) return false;
  Block* b = &c->blocks[h];
  uint8_t kind = load_acquire(b->kind);
  uint32_t units = load_relaxed(b->units);
  if (units == 0 || h + units > kUnitsPerChunk || unit >= h + units) return false;
  if (kind == kSmall) {
    uint32_t g = uint32_t(off >> kGranuleShift);
    uint32_t g0 = uint32_t(h) * kGranulesPerUnit, g1 = (uint32_t(h) + units) * kGranulesPerUnit;
    int64_t s = bits_prev_set(c->bits[kStartBits], g, g0);
    if (s < 0) return false;
    int64_t e = bits_next_set(c->bits[kEndBits], uint32_t(s), g1);
    if (e < int64_t(g)) return false;
    *out = ObjectRef{b, c->bits, c->base + (uintptr_t(s) << kGranuleShift), uint64_t(e - s + 1) << kGranuleShift,
                     uint32_t(s)};
    return true;
  }
  if (kind == kLarge) {
    uintptr_t start = c->base + (uintptr_t(h) << kUnitShift);
    uint64_t size = load_relaxed(b->object_size);
    if (word - start >= size) return false;
    *out = ObjectRef{b, c->bits, start, size, uint32_t(h) * kGranulesPerUnit};
    return true;
  }
  return false;
}

// ---------------------------------------------------------------- block allocator

// A block of `units` units (power of two for Small), aligned to
// `align_units`, for `owner`. Its bitmaps are clear and its memory is
// poisoned (ASan). nullptr when memory runs out.
Block* block_alloc(uint32_t units, uint32_t align_units, uint8_t kind, Heap* owner);
// A Huge object's mapping of at least `size` bytes, aligned to `align`.
Block* huge_alloc(uint64_t size, Heap* owner);
// Gives a block back (any kind). Its bitmaps must be clear; its memory is
// poisoned here. Any thread.
void block_free(Block* b);
// Clears every bitmap of the block's granules (owner or collector).
void block_clear_bits(Block* b);
uint64_t block_bytes(const Block* b);
inline uint32_t block_g0(const Block* b) { return uint32_t(b->unit) * kGranulesPerUnit; }
inline uint32_t block_g1(const Block* b) { return (uint32_t(b->unit) + b->units) * kGranulesPerUnit; }

}  // namespace heap_layout
}  // namespace snow::rt
