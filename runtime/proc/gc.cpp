// The process layer's side of the collected heap: see gc.h.
#include "runtime/proc/gc.h"

#include <pthread.h>

#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "runtime/common/common.h"

namespace snow::rt {

namespace {

struct CollectRequest {
  Heap* heap;
  GcStack stack;
  const GcExtraRoots* extra;
};

void collect_from(const void* sp, void* ctx) {
  auto* r = static_cast<CollectRequest*>(ctx);
  // A stack pointer outside the known stack: the safepoint runs on some
  // other stack, whose frames we cannot find. Skipping the collection frees
  // nothing, which is always safe.
  if (sp < r->stack.lo || sp >= r->stack.hi) return;
  HeapRange ranges[3];
  size_t n = 0;
  ranges[n++] = HeapRange{sp, r->stack.hi};
  for (size_t i = 0; i < r->extra->count; ++i) ranges[n++] = r->extra->ranges[i];
  HeapRoots roots;
  roots.ranges = ranges;
  roots.range_count = n;
  heap_collect(r->heap, roots);
}

// The shared collector: one thread, started on first need, never stopped
// (like the shared region it serves, it outlives runtime restarts).
struct SharedCollector {
  std::mutex mu;
  std::condition_variable cv;
  bool wanted = false;
  bool started = false;
};
SharedCollector& C = *new SharedCollector();

void shared_collector_main() {
  for (;;) {
    {
      std::unique_lock<std::mutex> lk(C.mu);
      C.cv.wait(lk, [] { return C.wanted; });
      C.wanted = false;
    }
    shared_collect();
  }
}

void wake_shared_collector() {
  if (!shared_wants_collect()) return;
  std::lock_guard<std::mutex> lk(C.mu);
  if (C.wanted) return;
  C.wanted = true;
  if (!C.started) {
    C.started = true;
    std::thread(shared_collector_main).detach();
    return;
  }
  C.cv.notify_one();
}

// The process-wide heap: blocks never freed. Never destroyed, so the
// blocks stay reachable for LeakSanitizer even after static destructors.
struct GlobalHeap {
  std::mutex mu;
  std::vector<void*> blocks;
};
GlobalHeap& GH = *new GlobalHeap();

SNOW_TLS const void* t_stack_lo = nullptr;
SNOW_TLS const void* t_stack_hi = nullptr;

}  // namespace

void gc_collect(Heap* heap, GcStack stack, const GcExtraRoots& extra) {
  if (!heap || !stack.hi) return;
  CollectRequest r{heap, stack, &extra};
  heap_with_registers_spilled(collect_from, &r);
}

void* gc_alloc(Heap*& heap, GcStack stack, const GcExtraRoots& extra, uint64_t size, uint64_t align) {
  if (!heap) {
    heap = heap_create();
    if (!heap) return nullptr;
  } else if (void* p = heap_alloc_unless_collect_due(heap, size, align)) {
    return p;
  } else if (heap_wants_collect(heap)) {
    gc_collect(heap, stack, extra);
  }
  return heap_alloc(heap, size, align);
}

void* gc_alloc_global(uint64_t size, uint64_t align) {
  void* b = mem_zalloc_aligned(size_t(size), size_t(align));
  if (!b) return nullptr;
  std::lock_guard<std::mutex> lk(GH.mu);
  GH.blocks.push_back(b);
  return b;
}

GcStack gc_thread_stack() {
  if (!t_stack_hi) {
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) != 0) return GcStack{};
    void* addr = nullptr;
    size_t size = 0;
    int rc = pthread_attr_getstack(&attr, &addr, &size);
    pthread_attr_destroy(&attr);
    if (rc != 0) return GcStack{};
    t_stack_lo = addr;
    t_stack_hi = static_cast<const char*>(addr) + size;
  }
  return GcStack{t_stack_lo, t_stack_hi};
}

ExportTicket* gc_export(Heap* heap, const void* payload, uint64_t len) {
  if (len < sizeof(uintptr_t)) return nullptr;
  ExportTicket* t = heap_export(heap, payload, len);
  if (t) wake_shared_collector();
  return t;
}

bool gc_import(Heap*& heap, ExportTicket* t) {
  if (!t) return true;
  if (!heap) heap = heap_create();
  if (!heap) {
    log_line("snowrt: out of memory creating a process heap; a received value may be reclaimed");
    heap_ticket_drop(t);
    return false;
  }
  heap_import(heap, t);
  return true;
}

void GcPin::reset() {
  if (ticket_) heap_ticket_drop(std::exchange(ticket_, nullptr));
}

void gc_destroy(Heap* heap) {
  if (!heap) return;
  heap_destroy(heap);
  wake_shared_collector();
}

}  // namespace snow::rt
