// The process side of the collected heap (runtime/proc/gc.h): the running
// process's stack and extra roots, and the export / import of heap values
// that messages and spawn arguments carry (the safepoint check and the
// per-message export / import are inline in process_internal.h).
#include "runtime/proc/process_internal.h"

namespace snow::rt {

inline namespace proc_detail {

// ---------------------------------------------------------------- heap

// The stack of the running process (owner context).
GcStack own_stack(Process* p) {
  if (p->task.is_thread) return gc_thread_stack();
  return GcStack{p->task.slot->map_base, p->task.slot->top};
}

// Roots besides the stack: the message being handled and the spawn args.
GcExtraRoots extra_roots(const Process* p) {
  GcExtraRoots e;
  if (p->last_msg) e.add(p->last_msg->msg.data, p->last_msg->msg.len);
  e.add(p->args, p->args_size);
  return e;
}

}  // namespace proc_detail

void* proc_gc_alloc(Process* p, uint64_t size, uint64_t align) {
  if (!p) return gc_alloc_global(size, align);
  // The common case first: no collection due, so the roots a collection
  // would scan need not be gathered (that cost as much as the bump itself).
  if (p->heap)
    if (void* q = heap_alloc_unless_collect_due(p->heap, size, align)) return q;
  return gc_alloc(p->heap, own_stack(p), extra_roots(p), size, align);
}

void proc_gc_collect(Process* p) {
  if (p->heap) gc_collect(p->heap, own_stack(p), extra_roots(p));
}

void proc_gc_export(Process* self, Signal* s) { export_payload(self, s); }

void proc_gc_import(Process* self, Signal* s) { import_payload(self, s); }

ExportTicket* proc_gc_export_value(Process* self, const void* payload, uint64_t len) {
  return gc_export(self ? self->heap : nullptr, payload, len);
}

void proc_gc_import_ticket(Process* self, ExportTicket* t) { (void)gc_import(self->heap, t); }

HeapStats proc_gc_stats(Process* self) { return heap_stats(self->heap); }

}  // namespace snow::rt
