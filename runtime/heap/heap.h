// The collected heap: one per process, found conservatively, plus the shared
// region that keeps values other processes can reach.
//
// Vocabulary (layout details in layout.h, the shared region in shared.h):
// - *Heap*: one process's objects. Created on first use (a process that
//   never allocates or receives a heap value has none), destroyed at exit.
//   Objects are never moved: conservative roots cannot be updated.
// - *Object*: what heap_alloc returns: zeroed, at least 16-byte aligned,
//   size rounded up to 16 bytes. Any address inside it (interior pointers
//   included) keeps it alive.
// - *Roots*: what the caller hands to heap_collect: address ranges scanned
//   conservatively (the process stack from the safepoint's stack pointer to
//   its base, with callee-saved registers spilled into it by
//   heap_with_registers_spilled; the message being handled; spawn args) and
//   single words. Every aligned word of a root or of a reached object that
//   points anywhere inside an object of this heap marks it; marking is
//   iterative (no recursion, any depth).
// - *Collection*: mark from the roots, then sweep: unmarked objects are
//   freed (and poisoned under ASan); blocks left empty go back to the block
//   allocator when the heap holds more than it needs. Sizing follows BEAM's
//   idea: a heap asks for its next collection (heap_wants_collect) once it
//   has allocated `budget` bytes since the last one, where budget =
//   max(kMinBudget, live bytes), so it grows and shrinks with its live data.
// - *Shared object*: an object whose address was carried to another process
//   (a message, spawn or job argument). heap_export, called on the payload
//   at send, finds the sender's objects its aligned words point into and
//   marks them, and everything they reach in the sender's heap, shared
//   (*promotion*; the objects stay where they are). The owner's collections
//   keep shared objects. The *shared collection* (shared_collect) finds
//   which shared objects no process can reach any more and *unshares* them;
//   the owner's next collection then frees them if it does not reach them
//   itself. When the owner exits, blocks holding shared objects become
//   *orphans*, owned by the shared region and swept by shared collections.
// - *Export ticket*: the shared objects one payload refers to, registered
//   while the message is in flight (a root of the shared collection) and
//   turned into the receiver's *external references* by heap_import when it
//   is received.
// - *External references*: per heap, the shared objects of other heaps it
//   may reach: those its last collection found, plus those it imported
//   since. They are the shared collection's roots, so that collection never
//   scans a process stack and never stops a process.
//
// Object states:
//
//   allocated (private) --heap_export--> shared --unshared by a shared cycle--> private
//        |                                  |
//        | not reached by the owner's       | owner exits
//        v collection                       v
//      free  <---- not reached by a shared cycle ---- orphan
//
// Threads: a Heap is used by its owner only (the process running it, on
// whatever worker), except heap_destroy, which may run on any thread once
// the owner is done. heap_export/heap_import/heap_ticket_drop run on the
// sender's/receiver's/dropper's thread. shared_collect, the stats and the
// memory functions: any thread. No function here blocks on another process;
// shared_collect takes short per-heap locks (see shared.h for the pause).
#pragma once

#include <cstddef>
#include <cstdint>

namespace snow::rt {

struct Heap;
struct ExportTicket;

struct HeapRange {
  const void* lo;
  const void* hi;  // one past the last byte; scanned in 8-byte aligned words
};

struct HeapRoots {
  const HeapRange* ranges = nullptr;
  size_t range_count = 0;
  const uintptr_t* words = nullptr;  // single candidate words (e.g. saved registers)
  size_t word_count = 0;
};

struct HeapStats {
  uint64_t live_bytes;       // found live by the last collection
  uint64_t heap_bytes;       // memory in the blocks the heap holds
  uint64_t allocated_bytes;  // allocated over its life (granule-rounded)
  uint64_t allocated_since_collect;
  uint64_t budget;  // allocation allowed before it wants a collection
  uint64_t collections;
  uint64_t external_refs;  // shared objects of others it may reach
  uint64_t last_pause_ns;  // duration of its last collection
};

struct SharedStats {
  uint64_t cycles;           // shared collections completed
  uint64_t shared_bytes;     // bytes of shared objects kept by the last cycle
  uint64_t orphan_bytes;     // bytes of orphan blocks (owners gone)
  uint64_t unshared_bytes;   // bytes unshared or freed by the last cycle
  uint64_t promoted_bytes;   // promoted since the last cycle (drives shared_wants_collect)
  uint64_t tickets;          // export tickets in flight
  uint64_t last_cycle_ns;    // duration of the last shared collection
  uint64_t longest_hold_ns;  // longest any lock a process may wait on was held by the last cycle
};

struct HeapMemoryStats {
  uint64_t mapped_bytes;  // address space taken from the OS
  uint64_t in_use_bytes;  // in blocks held by heaps or the shared region
  uint64_t free_bytes;    // free in the block allocator
  uint64_t dirty_bytes;   // free but still resident
  uint64_t purged_bytes;  // given back to the OS over time
};

// Totals over every heap, for snow_rt_stats. Any thread; each figure is
// read on its own (they may come from slightly different moments).
struct HeapTotals {
  uint64_t heap_bytes;    // in blocks held by heaps and the shared region (HeapMemoryStats.in_use_bytes)
  uint64_t live_bytes;    // live bytes of each existing heap's last collection, summed
  uint64_t collections;   // heap collections since the program started
  uint64_t shared_bytes;  // shared objects kept by the last shared collection (SharedStats.shared_bytes)
};

// The smallest collection budget (bytes a heap may allocate between two
// collections, however little it keeps live).
constexpr uint64_t kHeapMinBudget = 8 * 1024;

// A new, empty heap: a control block only, no memory blocks until the first
// allocation. nullptr when out of memory.
Heap* heap_create();
// Frees everything the heap holds; blocks holding shared objects go to the
// shared region (orphans). Any thread, once the owner no longer runs.
void heap_destroy(Heap* h);

// `size` zeroed bytes aligned to `align` (a power of two up to 4096; 0 means
// 16). nullptr for size 0, a bad alignment, or when out of memory. Never
// collects: the caller checks heap_wants_collect at its safepoints.
void* heap_alloc(Heap* h, uint64_t size, uint64_t align);
// heap_alloc, unless the heap wants a collection first (heap_wants_collect):
// then nullptr, allocating nothing. One call for an allocation path's
// common case; nullptr also when heap_alloc gives it.
void* heap_alloc_unless_collect_due(Heap* h, uint64_t size, uint64_t align);
// The heap has allocated its budget since its last collection, or has
// imported many external references since (they are only trimmed by a
// collection).
bool heap_wants_collect(const Heap* h);
// Collects now (owner only). Roots as described above.
void heap_collect(Heap* h, const HeapRoots& roots);
// Gives every empty block back to the block allocator (after a collection,
// e.g. when the process goes idle). Owner only.
void heap_release_free(Heap* h);
HeapStats heap_stats(const Heap* h);

// Spills the callee-saved registers into this frame, then calls
// fn(sp, ctx), where [sp, stack base) covers them and every caller frame.
void heap_with_registers_spilled(void (*fn)(const void* sp, void* ctx), void* ctx);

// Send side: scans the payload's aligned words; promotes the sender's
// objects they point into (and all they reach in its heap); returns a
// ticket for every shared object they point to, or nullptr when there is
// none. `sender` may be nullptr (no heap: only other heaps' shared objects
// can be referred to). The ticket must reach heap_import or heap_ticket_drop
// exactly once. nullptr is also returned when out of memory: the refs are
// then not pinned (logged).
ExportTicket* heap_export(Heap* sender, const void* payload, uint64_t len);
// Receive side: the receiver may now reach the ticket's objects; consumes
// the ticket. `receiver` must not be nullptr (create the heap first).
void heap_import(Heap* receiver, ExportTicket* t);
// The message carrying the ticket was dropped unread; consumes the ticket.
void heap_ticket_drop(ExportTicket* t);

// Enough was promoted or orphaned since the last shared collection that
// another would pay off.
bool shared_wants_collect();
// One shared collection (any thread; a caller arriving while one runs waits
// for it). Processes keep running meanwhile.
void shared_collect();
SharedStats shared_stats();

HeapMemoryStats heap_memory_stats();
HeapTotals heap_totals();
// Gives every free block of at least a page back to the OS.
void heap_memory_purge();

// For tests and debugging: the object covering `p` (any heap), its start
// and size; whether it is shared.
bool heap_find_object(const void* p, const void** start, uint64_t* size);
bool heap_object_is_shared(const void* p);
// For tests: caps the mark stack (entries, 0 = no cap) so the overflow path
// (rescanning marked objects) runs.
void heap_debug_set_mark_stack_limit(size_t entries);
// For tests: shared_collect calls hook() on its own thread once it has read
// the tickets and before it reads the external references (nullptr: none),
// so a test can move references inside that window deterministically.
void heap_debug_set_shared_cycle_hook(void (*hook)());

}  // namespace snow::rt
