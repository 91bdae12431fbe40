// Internal to runtime/proc: the process control block, the process table
// and the functions the files of proc share (process.h is the interface
// the rest of the runtime sees).
//
// Files (each opens with what it owns):
//   lifecycle.cpp  runtime start / run / halt / stop, scheduler hooks, stats
//   table.cpp      anchors, pid values, control block allocation and freeing
//   spawn.cpp      spawning, the calling process, attached threads
//   signals.cpp    applying signals, delivering and sending them
//   receive.cpp    receive, sleeps and waits, yields
//   exits.cpp      exits, terminate callbacks, exit signals
//   links.cpp      links, monitors (local watcher tables), node monitors
//   registry.cpp   registered names
//   services.cpp   service calls and internal request replies
//   heap_glue.cpp  the process's collected heap (stack, roots, safepoints)
//
// Ownership of the control block (Process). "Owner" is the process's own
// context (its task on a worker, or its thread); "spawner" is the thread in
// proc_spawn / proc_thread_attach / proc_runtime_start, before publish()
// makes the pid visible.
//
//   field                          written by                 read by
//   task                           scheduler + owner (see sched/scheduler.h)
//   pid, anchor, is_main           spawner                    any thread (*)
//   fn, args, args_size            spawner                    owner
//   args_ticket                    spawner, owner (import)    owner
//   mbox_*, inbox, last_msg,       owner                      owner
//     offering
//   rel (links, monitors, node     owner (spawner may seed    owner
//     monitors, pending calls)       links and monitors)
//   jobs                           owner (jobs.h)             owner
//   watchers, watchers_closed      any thread under           same
//                                    watch_lock(pid)
//   terminate                      any thread, atomic CAS;    exiting owner
//                                    owner takes it with one exchange
//   heap, name, exit_reason*,      owner                      owner; the reaper
//     wait_seq, call_*, flags                                   after the exit
//   thread_fate                    the attached thread or the stopping
//                                    runtime, one CAS each (see below)
//   (*) another thread reads a control block only under watch_lock(pid)
//   after checking that the anchor still holds pid (with_control_block).
//   After a stack overflow the scheduler context acts as the owner for the
//   exit (hook_overflow in lifecycle.cpp), and after the exit the reaper
//   (free_process) frees what is left.
//
// Ownership of an anchor: `pid` and `proc` are written by publish() and
// free_process() (pid cleared under watch_lock), read by any thread;
// `queue` is pushed by any thread and drained by the owner (signal_queue.h);
// `generation` and `next_free` belong to the table, under R.table_mu.
//
// Locks of proc and their order. Every one is a leaf (no other lock, and
// no call out of proc (delivery, distribution, the scheduler), is taken
// while one is held) except an anchor cache's lock, under which only
// R.table_mu is taken.
//   anchor cache lock (SpinLock, one per scheduler loop, table.cpp)
//                              that loop's ready and freed anchors
//   R.table_mu (SpinLock)      free list, next_unused, chunk creation
//   R.reg_mu (mutex)           the name registry R.names
//   watch_lock(pid) (SpinLock, 256 stripes)  watcher tables, and the
//                              anchor pid / control block lifetime check
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <semaphore.h>
#include <signal.h>
#include <string>
#include <thread>
#include <type_traits>
#include <unordered_map>

#include "runtime/common/common.h"
#include "runtime/common/flat_map.h"
#include "runtime/proc/gc.h"
#include "runtime/proc/introspect.h"
#include "runtime/proc/process.h"
#include "runtime/proc/signal_queue.h"
#include "runtime/sched/scheduler.h"

namespace snow::rt {

// An inline namespace: the files of proc name these unqualified, while their
// symbols cannot collide with another module's internals of the same name.
inline namespace proc_detail {

constexpr unsigned kIndexBits = 24;
constexpr uint64_t kIndexMask = (uint64_t(1) << kIndexBits) - 1;
constexpr uint64_t kGenMask = (uint64_t(1) << 24) - 1;
constexpr unsigned kChunkBits = 12;
constexpr unsigned kChunkSize = 1u << kChunkBits;
constexpr unsigned kMaxChunks = 1u << (kIndexBits - kChunkBits);

struct alignas(32) Anchor {
  std::atomic<uint64_t> pid{0};
  SignalQueue queue;
  std::atomic<Process*> proc{nullptr};
  uint32_t generation = 0;
  uint32_t next_free = UINT32_MAX;
};
// A chunk of 4096 anchors is 128 KiB; anchors never straddle a cache line.
static_assert(sizeof(Anchor) == 32, "an anchor is half a cache line");

// Links and monitors: allocated on first use, since most processes have few
// or none and a million idle processes should not pay for empty tables.
// Links follow Erlang's link protocol with unlink ids: a peer maps to 0
// while the link is active, or to the id of our unacknowledged unlink. The
// entry goes away when the peer acknowledges that unlink (or its exit signal
// arrives), so concurrent link/unlink from both sides always converge.
struct Relations {
  FlatMap64 links;         // peer -> 0 active, else unlink id
  FlatMap64 monitors;      // ref -> target I watch
  FlatMap64 monitored_by;  // ref -> remote watcher (Monitor signals from runtime/dist)
  std::unordered_map<int64_t, std::string> node_monitors;
  std::unordered_map<uint64_t, uint64_t> pending_calls;  // caller -> call ref (server side)
  bool monitor_all_nodes = false;
};

}  // namespace proc_detail

struct Process {
  Task task;  // first: a Task* is a Process*
  uint64_t pid = 0;
  Anchor* anchor = nullptr;
  Signal* mbox_head = nullptr;
  Signal* mbox_tail = nullptr;
  Signal* inbox = nullptr;     // taken from the queue, not yet applied
  Signal* last_msg = nullptr;  // returned by the last receive
  Signal* offering = nullptr;  // being offered to a receive_match callback
  Relations* rel = nullptr;
  JobTable* jobs = nullptr;  // jobs this process started (jobs.h)
  // Local watchers (ref -> watcher pid), written by the watchers themselves
  // under watch_lock(pid); closed when the exit begins notifying. See
  // "Local monitors" in links.cpp.
  FlatMap64* watchers = nullptr;
  bool watchers_closed = false;
  void (*fn)(const uint8_t*) = nullptr;
  uint8_t* args = nullptr;
  uint64_t args_size = 0;
  // The heap values the spawn arguments carry, until the process imports
  // them before its function runs (see runtime/proc/gc.h).
  ExportTicket* args_ticket = nullptr;
  // The terminate callback: 0 none, kTerminateTaken once the exit took it,
  // else the callback. Any thread may set it (see "Terminate callbacks" in
  // exits.cpp).
  std::atomic<uintptr_t> terminate{0};
  Heap* heap = nullptr;  // collected heap: created on first allocation or import
  std::string* name = nullptr;
  uint8_t* exit_reason = nullptr;
  uint64_t exit_reason_len = 0;
  uint64_t wait_seq = 0;
  uint64_t call_ref = 0;  // the service call in progress (caller side)
  int64_t call_error = 0;
  bool trap_exit = false;
  bool exiting = false;
  bool timed_out = false;
  bool timer_armed = false;
  bool is_main = false;
  bool notified = false;  // finish_exit has started (it must run once)
  // Attached threads only: who ends the process. The thread CASes
  // kAttached -> kExiting when it runs the exit; a stopping runtime CASes
  // kAttached -> kAbandoned for a thread that stayed away through the halt's
  // grace period, and the thread frees the process the next time it calls
  // in (release_abandoned). Exactly one side wins.
  std::atomic<uint8_t> thread_fate{0};
  ProcessGauges gauges;  // published for snow_process_info (introspect.h)
};

// The scheduler hands proc a Task*, which is the Process it runs. Process
// is not standard-layout (Task holds a derived timer node), where offsetof
// is conditionally supported; GCC and Clang support it for classes without
// virtual bases, which is all this check needs.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winvalid-offsetof"
static_assert(offsetof(Process, task) == 0, "Task must be the first member of Process (as_process)");
#pragma GCC diagnostic pop
#if !defined(SNOW_SANITIZE_ADDRESS) && !defined(SNOW_SANITIZE_THREAD)
// An idle process costs its control block, anchor and saved stack bytes
// (docs/design/scheduler.md): a field that pushes the block past seven cache
// lines should be a deliberate choice (and the figure in the docs updated;
// the gauges of introspect.h took it from six lines to seven).
static_assert(sizeof(Process) <= 7 * kCacheLine, "the control block outgrew its budget");
#endif

inline namespace proc_detail {

enum : uint8_t { kAttached = 0, kExiting = 1, kAbandoned = 2 };

// No function lives at address 1.
constexpr uintptr_t kTerminateTaken = 1;

inline constexpr uint8_t kReasonNoproc[1] = {SNOW_REASON_NOPROC};
inline constexpr uint8_t kReasonNormal[1] = {SNOW_REASON_NORMAL};
inline constexpr uint8_t kReasonKilled[1] = {SNOW_REASON_KILLED};
inline constexpr uint8_t kReasonShutdown[1] = {SNOW_REASON_SHUTDOWN};

// The state of proc, one per OS process. Sections by owner: the table
// (table.cpp), the registry (registry.cpp), the watch stripes (links.cpp),
// the counters (any thread) and the life cycle (lifecycle.cpp).
struct Runtime {
  // Read by every pid lookup (anchor_at, anchor_index) and written only at
  // the first start and when a chunk is created: on lines apart from the
  // free list below, which every refill and flush of an anchor cache
  // writes (table.cpp).
  std::atomic<Anchor*> chunks[kMaxChunks] = {};
  // This incarnation's pid randomness (see "Pid" in process.h), drawn at
  // the first start in this OS process and kept across restarts (anchors
  // and their generations outlive a restart). index_mask is written before
  // the first start publishes `started`; readers load it relaxed.
  bool pid_salt_drawn = false;
  std::atomic<uint32_t> index_mask{0};
  uint64_t generation_seed = 0;

  // Free anchors are reused oldest first, so a pid's slot comes back only
  // after every other free slot did: generations wrap as late as possible.
  // Until kMinFree anchors are free, a fresh index is taken instead, so one
  // index comes back at most once per kMinFree exits: its 24-bit generation
  // wraps only after ~17 billion spawns.
  static constexpr uint32_t kMinFree = 1024;
  alignas(kCacheLine) SpinLock table_mu;  // free list and chunk creation (taken once per 32 spawns or exits per worker)
  uint32_t free_head = UINT32_MAX;
  uint32_t free_tail = UINT32_MAX;
  uint32_t free_count = 0;
  uint32_t next_unused = 0;

  alignas(kCacheLine) std::mutex reg_mu;
  std::unordered_map<std::string, uint64_t> names;

  // Locks for local monitor tables, striped by anchor index (see "Local
  // monitors" in links.cpp).
  static constexpr unsigned kWatchStripes = 256;
  struct alignas(kCacheLine) WatchStripe {
    SpinLock lock;
  } watch[kWatchStripes];

  StripedCounter spawned, exited, sent;
  std::atomic<int64_t> alive{0};
  std::atomic<int64_t> attached{0};

  std::atomic<bool> started{false};
  // A halt claims `halt_claimed` (only the first halt counts), stores its
  // status and only then sets `halting`: whoever sees `halting` reads the
  // status the halt asked for.
  std::atomic<bool> halt_claimed{false};
  std::atomic<bool> halting{false};
  std::atomic<int> halt_status{0};
  sem_t wakeup;  // posted on events the main thread may be waiting for
  bool wakeup_ready = false;
  sem_t stop_signal;  // posted by the SIGINT/SIGTERM handler
  std::atomic<int> stop_signal_status{0};
  std::thread stop_watcher;
  Process* main_proc = nullptr;
  std::thread::id main_thread;  // the thread that started the runtime
  struct sigaction old_int {
  }, old_term{};
  bool signals_installed = false;  // old_int/old_term hold what to restore
  // Copied by the first proc_runtime_start, then published by dist_set
  // (release) and never written again; before it, no node can exist and
  // proc_stats reports no distribution figures.
  DistHooks dist{};
  std::atomic<bool> dist_set{false};
};

// Never destroyed (see Dist in runtime/dist).
extern Runtime& R;
// The process of this thread when it is not a task: the main process or an
// attached thread's.
extern constinit SNOW_TLS Process* t_thread_proc;

inline void post_wakeup() {
  if (R.wakeup_ready) sem_post(&R.wakeup);
}

inline Process* as_process(Task* t) { return reinterpret_cast<Process*>(t); }

inline Relations& rel(Process* p) {
  if (!p->rel) p->rel = new Relations();
  return *p->rel;
}

inline void mbox_append(Process* p, Signal* s) {
  s->next = nullptr;
  if (p->mbox_tail) p->mbox_tail->next = s;
  else p->mbox_head = s;
  p->mbox_tail = s;
  p->gauges.queue_add(1);
}

// Takes `cur` out of the mailbox; `prev` is the message before it (null:
// cur is the head). Owner context.
inline void mbox_unlink(Process* p, Signal* prev, Signal* cur) {
  SNOW_ASSERT(prev ? prev->next == cur : p->mbox_head == cur);
  if (prev) prev->next = cur->next;
  else p->mbox_head = cur->next;
  if (p->mbox_tail == cur) p->mbox_tail = prev;
  cur->next = nullptr;
  p->gauges.queue_add(-1);
}

// ---------------------------------------------------------------- table (table.cpp)

inline Anchor* anchor_at(uint64_t index) {
  Anchor* c = R.chunks[index >> kChunkBits].load(std::memory_order_acquire);
  return c ? &c[index & (kChunkSize - 1)] : nullptr;
}

// The anchor index a local pid's index field stands for.
inline uint32_t anchor_index(uint64_t pid) {
  return uint32_t(pid & kIndexMask) ^ R.index_mask.load(std::memory_order_relaxed);
}

inline Anchor* anchor_of(uint64_t pid) {
  if (pid == 0 || (pid >> 48) != 0) return nullptr;
  return anchor_at(anchor_index(pid));
}

void draw_pid_salt();
void anchor_free(Anchor* a, uint64_t pid);
// A control block with a fresh pid, not yet reachable; nullptr when out of
// memory or the table is full.
Process* new_process();
// Makes the process reachable by its pid. Inline (one call per spawn).
inline void publish(Process* p) {
  Anchor* a = p->anchor;
  SNOW_ASSERT(a->pid.load(std::memory_order_relaxed) == 0);
  a->proc.store(p, std::memory_order_relaxed);
  // Open before the pid appears: whoever reads the new pid can push. A
  // stale sender that pushes in between is caught by the target check.
  a->queue.open();
  a->pid.store(p->pid, std::memory_order_release);
  R.spawned.add(1);
  R.alive.fetch_add(1, std::memory_order_acq_rel);
}
void free_control_block(Process* p);
void free_process(Process* p);
// Exits every live process except `keep` with an untrappable shutdown.
void shutdown_all(uint64_t keep);
// The number of anchor indexes ever handed out (the range to scan).
uint32_t anchors_in_use();

// ---------------------------------------------------------------- local monitors (links.cpp)

// The stripe lock of `pid`'s watcher table (see "Local monitors" in
// links.cpp).
inline SpinLock& watch_lock(uint64_t pid) { return R.watch[(pid & kIndexMask) % Runtime::kWatchStripes].lock; }

// Runs f on the control block of the local process `target` under its
// watch lock, while the anchor still names it (so the block cannot be
// freed meanwhile); returns f's result, false when the target is gone.
template <class F>
bool with_control_block(uint64_t target, F&& f) {
  Anchor* a = anchor_of(target);
  if (!a) return false;
  std::lock_guard<SpinLock> lk(watch_lock(target));
  if (a->pid.load(std::memory_order_acquire) != target) return false;
  Process* p = a->proc.load(std::memory_order_acquire);
  return p && f(p);
}

void unwatch(uint64_t target, uint64_t ref);
// The exiting process takes its watcher table; later watchers see it
// closed. Inline (one call per exit).
inline FlatMap64* close_watchers(Process* p) {
  std::lock_guard<SpinLock> lk(watch_lock(p->pid));
  p->watchers_closed = true;
  FlatMap64* w = p->watchers;
  p->watchers = nullptr;
  return w;
}
// Applies a Link, Unlink or UnlinkAck signal (link protocol bookkeeping).
void apply_link_signal(Process* p, Signal* s);

// ---------------------------------------------------------------- signals (signals.cpp)

// A signal (or a copy of a reason) could not be allocated: aborts.
[[noreturn]] void oom_signal();

// Applies every pending signal, oldest first. May not return (exit).
void apply_pending(Process* p);
// Applies a signal that arrives while `p` exits (links and monitors only).
void apply_while_exiting(Process* p, Signal* s);
void free_list(Signal* s);

// ---------------------------------------------------------------- relations requests (introspect.cpp)

// Answers a RelationsRequest with p's relations and frees it. Owner context.
void answer_relations(Process* p, Signal* s);
// Answers a RelationsRequest "gone" (its target is dead or exiting) and
// frees it. Any thread.
void answer_relations_gone(Signal* s);
// Frees a chain of signals nobody will apply, answering the relations
// requests among them "gone".
void drop_signals(Signal* s);

// ---------------------------------------------------------------- heap (heap_glue.cpp)

GcStack own_stack(Process* p);
GcExtraRoots extra_roots(const Process* p);

// A safepoint (gc.h): collects if the heap asks for it. Callers are on the
// process's own stack, hold no lock and are outside queue critical sections.
inline void gc_safepoint(Process* p) {
  if (p->heap && heap_wants_collect(p->heap)) gc_collect(p->heap, own_stack(p), extra_roots(p));
}

// proc_gc_export / proc_gc_import for the message paths of proc (sends,
// service calls, receive), which call them once per message.
inline void export_payload(Process* self, Signal* s) {
  s->ticket = gc_export(self ? self->heap : nullptr, s->msg.data, s->msg.len);
}
inline void import_payload(Process* self, Signal* s) {
  (void)gc_import(self->heap, s->ticket);
  s->ticket = nullptr;
}

// ---------------------------------------------------------------- waiting (receive.cpp)

// Parks the calling process until a signal arrives or `deadline` passes
// (INT64_MAX: none).
void park(Process* p, int64_t deadline);

inline void disarm(Process* p) {
  if (p->timer_armed) {
    timer_cancel_wait(&p->task);
    p->timer_armed = false;
  }
  p->timed_out = false;
}

inline bool deadline_passed(Process* p, int64_t deadline) {
  if (p->timed_out) return true;
  return deadline != INT64_MAX && now_ns() >= deadline;
}

// The selective receive of proc_receive: takes the first mailbox message
// take(const snow_msg*) accepts, waiting up to timeout_ms (< 0: no limit, 0:
// one look) for it; nullptr on timeout. `take` runs in the owner context
// and may apply no signals. A template in this header, not a
// function of receive.cpp, so that a service call (services.cpp) gets the
// loop with its match inlined, as it did when proc was one file: the call
// round trip of bench/ pays for every call on this path. Owner context.
template <class Take>
const snow_msg* receive_matching(Process* p, int64_t timeout_ms, Take&& take) {
  if (p->last_msg) {
    signal_free(p->last_msg);
    p->last_msg = nullptr;
  }
  int64_t deadline = timeout_ms > 0 ? deadline_after_ms(timeout_ms) : INT64_MAX;
  Signal* prev = nullptr;  // last message this call examined and rejected
  for (;;) {
    apply_pending(p);
    Signal* cur = prev ? prev->next : p->mbox_head;
    while (cur) {
      if (take(&cur->msg)) {
        mbox_unlink(p, prev, cur);
        disarm(p);
        import_payload(p, cur);
        p->last_msg = cur;
        // A service call being handled: snow_service_reply(caller) answers
        // the request received last from that caller.
        if ((cur->flags & kSigServiceCall) && cur->from) rel(p).pending_calls[cur->from] = cur->ref;
        return &cur->msg;
      }
      prev = cur;
      cur = cur->next;
    }
    if (timeout_ms == 0 || deadline_passed(p, deadline)) {
      disarm(p);
      return nullptr;
    }
    park(p, deadline);
  }
}

// ---------------------------------------------------------------- exits (exits.cpp)

void store_reason(Process* p, const uint8_t* reason, uint64_t len);
void crash_report(Process* p, const uint8_t* reason);
void finish_exit(Process* p);
void begin_exit(Process* p);
[[noreturn]] void exit_now(Process* p, const uint8_t* reason, uint64_t len);
void exit_thread_process(Process* p);
void release_abandoned(Process* p);

// ---------------------------------------------------------------- elsewhere

void registry_release(Process* p);                     // registry.cpp
void registry_forget_pid(uint64_t pid);                // registry.cpp
[[noreturn]] void main_thread_after_exit(int status);  // lifecycle.cpp
void task_entry(Task* t);                              // spawn.cpp

}  // namespace proc_detail

}  // namespace snow::rt
