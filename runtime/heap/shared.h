// The shared region: how values whose address crossed to another process
// stay alive while any process can reach them, and are reclaimed after.
// Internal to runtime/heap; the interface is heap.h (heap_export,
// heap_import, heap_ticket_drop, shared_collect), the design note is
// docs/design/heap.md ("Values carried by messages").
//
// Vocabulary:
// - *Shared object*: its `shared` bit is set. Set by *promotion*: at send,
//   heap_export marks the sender's objects that the payload points into,
//   and everything they reach in the sender's heap. Objects stay in place.
// - *Owner*: the heap whose block holds the object; owners keep their
//   shared objects alive (they are roots of the owner's collections).
// - *Orphan block*: a block whose owner exited while it held shared
//   objects; owned by the shared region (owner == nullptr).
// - *Ticket*: the shared objects one in-flight payload refers to.
//   Registered in one of kTicketShards lists until imported or dropped.
// - *External references* (ExternalRefs, per heap): shared objects of other
//   heaps the heap may reach: those its last collection met, plus those
//   imported since. Registered in one list.
// - *Shared cycle* (shared_collect): marks, with the `smark` bits, every
//   shared object reachable from the roots (tickets and external
//   references); then *unshares* unmarked shared objects in owned blocks
//   (clears their bit: the owner frees them if it no longer reaches them)
//   and frees unmarked objects of orphan blocks.
//
// Invariant the roots rely on: a process can reach a shared object of
// another heap only through (a) its external references, (b) a ticket in
// flight to it, or (c) another shared object. A process gains such a
// reference only by importing a ticket (a -> (a)), and loses one only when
// its collection replaces its external references, when it exits, or when a
// ticket is dropped. Values are immutable once sent (the compiler's
// contract for message values), so (c) edges do not change while shared.
//
// Cycle phases (g_state: sequence number << 2 | phase):
//
//   Idle --(clear smark bits, grace)--> Marking --(grace, last greys)--> Sweeping --(grace)--> Idle
//
// Barriers (what a mutator operation does, by the phase it read):
//   Marking  export: sets smark on what it promotes (and on already shared
//            objects of its own heap it passes), so they count as reached,
//            and pushes the ticket's references to the grey buffer; every
//            operation that removes a reference (a collection replacing
//            external references, a heap's exit, a drop) or moves one
//            (import) pushes it too.
//   Sweeping export: sets smark on what it promotes in blocks the sweep has
//            not reached yet (swept_cycle != cycle), under the block lock.
//   Idle     none.
// The race the Marking barriers close: the collector has read the tickets
// but not yet some process's external references; that process sends a
// reference it holds (a new ticket, not read) and then drops it (its
// external references no longer hold it). Greying at export, or greying at
// the drop, each closes it alone; both are kept as a margin. The test
// "a reference handed on while a shared collection marks is not lost"
// replays that window deterministically.
//
// Why it is correct (no reachable shared object is unshared or freed):
// - Grace periods: each mutator operation that reads the phase runs in a
//   *section* (MutatorSection): it increments active[parity of the sequence
//   it read], re-reads the state and retries if it changed. After each
//   transition the collector waits until active[old parity] is 0 on every
//   stripe. All accesses are seq_cst, so an operation either saw the new
//   phase or was counted and is waited for (a section that incremented after
//   the collector's read re-reads the state after the collector's store and
//   sees the new phase). Hence every operation that saw Idle has finished
//   (its tickets and references are in place) before the roots are read, and
//   every Marking-phase operation has pushed its greys before the final
//   drain.
// - Snapshot at the beginning: an object reachable by some process when
//   marking begins is reachable from a root at that moment, and every
//   removal of a root reference during marking greys it (and every new
//   ticket greys its references), so it is marked.
//   References created during the cycle either point to objects that were
//   reachable at its start (marked) or to objects promoted during the cycle
//   (given smark when promoted, with their whole own-heap closure).
// - Imports move a reference from a ticket to external references with the
//   second written first and under its lock; the collector reads tickets
//   before external references, so it sees the reference in at least one.
// - smark bits are clean when marking begins: set only during Marking
//   (cleared by that cycle's sweep or by the next cycle's clearing pass,
//   which runs in Idle after a grace period, when nobody sets them) and in
//   Sweeping only on blocks the sweep will still visit.
// - The shared bit is cleared only by a sweep or by an exiting owner, and
//   an owner reads its shared bits when its collection starts: an object the
//   sweep just unshared is freed only if the owner does not reach it.
// - Blocks: a registered block always has a shared bit set except inside
//   the sweep step that deregisters it (under its lock), and owners free a
//   block only after checking both under that lock, so the registry never
//   lists a freed block.
// - Memory safety of the marker: it reads the contents only of shared
//   objects, which no one frees during marking (only sweeps unshare, only
//   owners free private objects), and object_find tolerates racing bitmaps.
//
// Locks (never held while waiting for a grace period), in order:
//   block lock -> registry lock;  ext registry -> ExternalRefs lock;
//   ExternalRefs lock -> grey lock;  ticket shard lock -> grey lock.
//
// Pause: no process is stopped. A process may wait for a lock the
// collector holds: a ticket shard while the collector copies that shard's
// references, one heap's external references while it copies them (it
// visits the copies after unlocking: every change made meanwhile greys),
// one block while it sweeps it. SharedStats.longest_hold_ns reports the
// longest.
#pragma once

namespace snow::rt {}  // namespace snow::rt
