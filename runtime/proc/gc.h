// The process layer's side of the collected heap (runtime/heap, ABI.md
// section 6): when a process collects, what its roots are, how values that
// a message or a spawn carries are exported and imported, the shared
// collector's thread, and the process-wide heap used outside processes.
//
// Vocabulary (the heap's own terms are in runtime/heap/heap.h):
// - *Safepoint*: a call from the program into the runtime where a
//   collection may run: the reduction check whose budget ran out, a park
//   (receive, sleep, service calls, job awaits), snow_gc_collect, and an
//   allocation once the heap has allocated its budget. Each is reached on
//   the process's own stack with no runtime lock held and outside every
//   signal-queue critical section (the callers guarantee it).
// - *Stack base*: one past the highest byte of the stack the process's
//   frames live on: its slot's top for a process on a worker (at a
//   safepoint the running process is always resident in its slot, so
//   copied-out stacks are never scanned), the OS thread's stack end for the
//   main process and attached threads.
// - *Roots* of one collection: [stack pointer at the safepoint, stack
//   base) with the callee-saved registers spilled below the stack pointer,
//   plus the ranges the process layer passes (the message being handled,
//   the spawn arguments).
//
// Ownership: a process's Heap* lives in its control block, created on the
// first allocation or import (a process that never allocates has none) and
// destroyed at exit. The process-wide heap (threads outside any process)
// is a list of blocks never freed, as before the collected heap.
//
// Threads: everything taking a Heap*& or a Heap* runs in the owner's
// context (gc_destroy: any thread once the owner is done). The shared
// collector runs on a thread of its own, started on first need and parked
// on a condition variable between cycles; it never runs on a worker, so no
// process waits for a whole shared cycle.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>

#include "runtime/heap/heap.h"

namespace snow::rt {

// The stack a process's frames live on: [lo, hi), hi being the stack base.
// A safepoint whose stack pointer is outside it (a foreign thread running
// on a stack of its own making) collects nothing, which is always safe.
struct GcStack {
  const void* lo = nullptr;
  const void* hi = nullptr;
};

// What a collection of one process scans besides its stack.
struct GcExtraRoots {
  HeapRange ranges[2];
  size_t count = 0;
  void add(const void* lo, uint64_t len) {
    if (len) ranges[count++] = HeapRange{lo, static_cast<const uint8_t*>(lo) + len};
  }
};

// Zeroed memory in `heap` (created on first use); collects first when the
// heap asks for it (an allocation safepoint). nullptr when out of memory.
void* gc_alloc(Heap*& heap, GcStack stack, const GcExtraRoots& extra, uint64_t size, uint64_t align);
// Outside any process: the process-wide heap (never collected).
void* gc_alloc_global(uint64_t size, uint64_t align);
// Collects `heap` (no-op without one) from a safepoint of its owner.
void gc_collect(Heap* heap, GcStack stack, const GcExtraRoots& extra);
// The calling OS thread's stack (cached per thread), for the main process
// and attached threads. {nullptr, nullptr} when it cannot be found.
GcStack gc_thread_stack();

// The ticket for a payload the owner of `heap` (nullptr: no heap) sends or
// hands to a spawn: see heap_export. Wakes the shared collector when the
// shared region asks for a cycle.
ExportTicket* gc_export(Heap* heap, const void* payload, uint64_t len);
// Consumes `t` (nullptr: nothing) into `heap`, creating the heap when
// needed. Returns false when the heap cannot be created (the ticket is then
// dropped and the values it pinned may be reclaimed; logged).
bool gc_import(Heap*& heap, ExportTicket* t);
// A ticket kept in runtime memory instead of travelling with a message:
// while it is held, the heap values the exported payload refers to stay
// alive (a ticket is a root of the shared collection), whoever their owner
// and whether or not it still runs. For payloads the runtime keeps and
// hands out again (a supervisor's child arguments). Dropped on destruction
// or reset(), on any thread. Move-only: one holder per ticket.
class GcPin {
 public:
  GcPin() = default;
  explicit GcPin(ExportTicket* t) : ticket_(t) {}
  GcPin(GcPin&& o) noexcept : ticket_(std::exchange(o.ticket_, nullptr)) {}
  GcPin& operator=(GcPin&& o) noexcept {
    if (this != &o) {
      reset();
      ticket_ = std::exchange(o.ticket_, nullptr);
    }
    return *this;
  }
  GcPin(const GcPin&) = delete;
  GcPin& operator=(const GcPin&) = delete;
  ~GcPin() { reset(); }
  void reset();

 private:
  ExportTicket* ticket_ = nullptr;
};

// The owner is gone: frees its heap (shared objects become orphans) and
// wakes the shared collector if needed.
void gc_destroy(Heap* heap);

}  // namespace snow::rt
