// The process side of the collected heap (runtime/proc/gc.h): the running
// process's stack and extra roots, safepoints, and the export / import of
// heap values that messages and spawn arguments carry.
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

// A safepoint (gc.h): collects if the heap asks for it. Callers are on the
// process's own stack, hold no lock and are outside queue critical sections.
void gc_safepoint(Process* p) {
  if (p->heap && heap_wants_collect(p->heap)) gc_collect(p->heap, own_stack(p), extra_roots(p));
}

}  // namespace proc_detail

void* proc_gc_alloc(Process* p, uint64_t size, uint64_t align) {
  if (!p) return gc_alloc_global(size, align);
  return gc_alloc(p->heap, own_stack(p), extra_roots(p), size, align);
}

void proc_gc_collect(Process* p) {
  if (p->heap) gc_collect(p->heap, own_stack(p), extra_roots(p));
}

void proc_gc_export(Process* self, Signal* s) {
  s->ticket = gc_export(self ? self->heap : nullptr, s->msg.data, s->msg.len);
}

void proc_gc_import(Process* self, Signal* s) {
  (void)gc_import(self->heap, s->ticket);
  s->ticket = nullptr;
}

ExportTicket* proc_gc_export_value(Process* self, const void* payload, uint64_t len) {
  return gc_export(self ? self->heap : nullptr, payload, len);
}

void proc_gc_import_ticket(Process* self, ExportTicket* t) { (void)gc_import(self->heap, t); }

HeapStats proc_gc_stats(Process* self) { return heap_stats(self->heap); }

}  // namespace snow::rt
