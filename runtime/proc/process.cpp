#include "runtime/proc/process.h"

#include <semaphore.h>
#include <pthread.h>
#include <signal.h>
#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <semaphore>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "runtime/common/common.h"
#include "runtime/common/flat_map.h"
#include "runtime/dist/dist.h"
#include "runtime/proc/gc.h"
#include "runtime/proc/jobs.h"
#include "runtime/proc/reason.h"
#include "runtime/proc/signal_queue.h"
#include "runtime/sched/scheduler.h"

namespace snow::rt {

namespace {

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
  std::unordered_map<uint64_t, uint64_t> pending_calls; // caller -> call ref (server side)
  bool monitor_all_nodes = false;
};

}  // namespace

struct Process {
  Task task;  // first: a Task* is a Process*
  uint64_t pid = 0;
  Anchor* anchor = nullptr;
  Signal* mbox_head = nullptr;
  Signal* mbox_tail = nullptr;
  Signal* inbox = nullptr;       // taken from the queue, not yet applied
  Signal* last_msg = nullptr;    // returned by the last receive
  Signal* offering = nullptr;    // being offered to a receive_match callback
  Relations* rel = nullptr;
  JobTable* jobs = nullptr;  // jobs this process started (jobs.h)
  // Local watchers (ref -> watcher pid), written by the watchers themselves
  // under watch_lock(pid); closed when the exit begins notifying. See
  // "Local monitors" below.
  FlatMap64* watchers = nullptr;
  bool watchers_closed = false;
  void (*fn)(const uint8_t*) = nullptr;
  uint8_t* args = nullptr;
  uint64_t args_size = 0;
  // The heap values the spawn arguments carry, until the process imports
  // them before its function runs (see runtime/proc/gc.h).
  ExportTicket* args_ticket = nullptr;
  // The terminate callback: 0 none, kTerminateTaken once the exit took it,
  // else the callback. Any thread may set it (see "Terminate callbacks").
  std::atomic<uintptr_t> terminate{0};
  Heap* heap = nullptr;  // collected heap: created on first allocation or import
  std::string* name = nullptr;
  uint8_t* exit_reason = nullptr;
  uint64_t exit_reason_len = 0;
  uint64_t wait_seq = 0;
  uint64_t call_ref = 0;         // the service call in progress (caller side)
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
};

enum : uint8_t { kAttached = 0, kExiting = 1, kAbandoned = 2 };

// No function lives at address 1.
constexpr uintptr_t kTerminateTaken = 1;

namespace {

struct Runtime {
  SpinLock table_mu;  // free list and chunk creation (short sections, hit by every spawn and exit)
  std::atomic<Anchor*> chunks[kMaxChunks] = {};
  // Free anchors are reused oldest first, so a pid's slot comes back only
  // after every other free slot did: generations wrap as late as possible.
  // Until kMinFree anchors are free, a fresh index is taken instead, so one
  // index comes back at most once per kMinFree exits: its 24-bit generation
  // wraps only after ~17 billion spawns.
  static constexpr uint32_t kMinFree = 1024;
  uint32_t free_head = UINT32_MAX;
  uint32_t free_tail = UINT32_MAX;
  uint32_t free_count = 0;
  uint32_t next_unused = 0;
  // This incarnation's pid randomness (see "Pid" in process.h), drawn at
  // the first start in this OS process and kept across restarts (anchors
  // and their generations outlive a restart). index_mask is written before
  // the first start publishes `started`; readers load it relaxed.
  bool pid_salt_drawn = false;
  std::atomic<uint32_t> index_mask{0};
  uint64_t generation_seed = 0;

  std::mutex reg_mu;
  std::unordered_map<std::string, uint64_t> names;

  // Locks for local monitor tables, striped by anchor index (see "Local
  // monitors").
  static constexpr unsigned kWatchStripes = 256;
  struct alignas(kCacheLine) WatchStripe {
    SpinLock lock;
  } watch[kWatchStripes];

  StripedCounter spawned, exited, sent;
  std::atomic<int64_t> alive{0};
  std::atomic<int64_t> attached{0};

  std::atomic<bool> started{false};
  std::atomic<bool> halting{false};
  std::atomic<int> halt_status{0};
  sem_t wakeup;  // posted on events the main thread may be waiting for
  bool wakeup_ready = false;
  sem_t stop_signal;  // posted by the SIGINT/SIGTERM handler
  std::atomic<int> stop_signal_status{0};
  std::thread stop_watcher;
  Process* main_proc = nullptr;
  std::thread::id main_thread;  // the thread that started the runtime
  struct sigaction old_int {}, old_term {};
  bool signals_installed = false;  // old_int/old_term hold what to restore
};

// Never destroyed (see Dist in dist.cpp).
Runtime& R = *new Runtime();
SNOW_TLS Process* t_thread_proc = nullptr;

void post_wakeup() {
  if (R.wakeup_ready) sem_post(&R.wakeup);
}

// ---------------------------------------------------------------- table

Anchor* anchor_at(uint64_t index) {
  Anchor* c = R.chunks[index >> kChunkBits].load(std::memory_order_acquire);
  return c ? &c[index & (kChunkSize - 1)] : nullptr;
}

// The anchor index a local pid's index field stands for.
uint32_t anchor_index(uint64_t pid) {
  return uint32_t(pid & kIndexMask) ^ R.index_mask.load(std::memory_order_relaxed);
}

Anchor* anchor_of(uint64_t pid) {
  if (pid == 0 || (pid >> 48) != 0) return nullptr;
  return anchor_at(anchor_index(pid));
}

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Draws this OS process's pid randomness, once (before the first start
// makes any pid).
void draw_pid_salt() {
  if (R.pid_salt_drawn) return;
  uint64_t seed[2] = {0, 0};
  if (getrandom(seed, sizeof seed, 0) != ssize_t(sizeof seed)) {
    // No entropy source: the clock and the OS pid still differ between
    // incarnations on one host.
    seed[0] = uint64_t(now_ns()) ^ (uint64_t(getpid()) << 32);
    seed[1] = splitmix64(seed[0] ^ uint64_t(reinterpret_cast<uintptr_t>(&seed)));
  }
  R.index_mask.store(uint32_t(splitmix64(seed[0]) & kIndexMask), std::memory_order_relaxed);
  R.generation_seed = seed[1];
  R.pid_salt_drawn = true;
}

// Takes a free anchor and gives it the next generation. Returns nullptr when
// the table is full.
Anchor* anchor_alloc(uint64_t* pid_out) {
  std::lock_guard<SpinLock> lk(R.table_mu);
  uint32_t idx;
  bool fresh_left = R.next_unused < (1u << kIndexBits);
  if (R.free_head != UINT32_MAX && (R.free_count >= Runtime::kMinFree || !fresh_left)) {
    idx = R.free_head;
    R.free_head = anchor_at(idx)->next_free;
    if (R.free_head == UINT32_MAX) R.free_tail = UINT32_MAX;
    --R.free_count;
  } else {
    if (R.next_unused >= (1u << kIndexBits)) return nullptr;
    idx = R.next_unused++;
    if ((idx & (kChunkSize - 1)) == 0 && !R.chunks[idx >> kChunkBits].load(std::memory_order_relaxed)) {
      Anchor* c = new (std::nothrow) Anchor[kChunkSize];
      if (!c) {
        --R.next_unused;
        return nullptr;
      }
      // Each anchor's generations start at a random point (see "Pid").
      for (uint32_t i = 0; i < kChunkSize; ++i)
        c[i].generation = uint32_t(splitmix64(R.generation_seed ^ (idx + i)) & kGenMask);
      R.chunks[idx >> kChunkBits].store(c, std::memory_order_release);
    }
  }
  Anchor* a = anchor_at(idx);
  a->generation = (a->generation + 1) & kGenMask;
  if (a->generation == 0) a->generation = 1;
  *pid_out = (uint64_t(a->generation) << kIndexBits) | (idx ^ R.index_mask.load(std::memory_order_relaxed));
  return a;
}

void anchor_free(Anchor* a, uint64_t pid) {
  a->proc.store(nullptr, std::memory_order_relaxed);
  a->pid.store(0, std::memory_order_release);
  std::lock_guard<SpinLock> lk(R.table_mu);
  uint32_t idx = anchor_index(pid);
  a->next_free = UINT32_MAX;
  if (R.free_tail == UINT32_MAX) R.free_head = idx; else anchor_at(R.free_tail)->next_free = idx;
  R.free_tail = idx;
  ++R.free_count;
}

Process* as_process(Task* t) { return reinterpret_cast<Process*>(t); }

Relations& rel(Process* p) {
  if (!p->rel) p->rel = new Relations();
  return *p->rel;
}

// ---------------------------------------------------------------- local monitors

// Local monitors: a watcher on this node writes its ref straight into the
// target's `watchers` table instead of sending the target a Monitor signal,
// and a demonitor erases it there. A monitor + demonitor pair then costs two
// short critical sections, allocates nothing for the target and never wakes
// it (a Monitor signal per pair would pile up in the queue of a target that
// is not running).
//
// Correctness: `watchers` and `watchers_closed` of the process with pid P
// are read and written only under watch_lock(P). The two transitions that
// end a target take that lock too:
//  - finish_exit closes the table (watchers_closed = true) and takes it
//    before it notifies anyone, so every ref inserted before the close gets
//    exactly one DOWN with the real reason, and a watcher that comes later
//    finds it closed and gets DOWN noproc (as if its Monitor signal had
//    found the queue closed).
//  - free_process clears the anchor's pid under the lock before the control
//    block is freed. So a watcher that holds the lock and reads the anchor's
//    pid equal to P knows P's control block is still there.
// The lock is a leaf: nothing else is taken while it is held.
SpinLock& watch_lock(uint64_t pid) { return R.watch[(pid & kIndexMask) % Runtime::kWatchStripes].lock; }

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

// Runs f on the control block of the live local process `target` under its
// watch lock; false (f not run) when the target is gone or exiting.
template <class F>
bool with_watchable(uint64_t target, F&& f) {
  return with_control_block(target, [&](Process* p) {
    if (p->watchers_closed) return false;
    f(p);
    return true;
  });
}

// Registers `watcher` for a DOWN from the local process `target`. false when
// the target is gone or no longer takes watchers (it exits).
bool watch(uint64_t target, uint64_t ref, uint64_t watcher) {
  return with_watchable(target, [&](Process* p) {
    if (!p->watchers) p->watchers = new FlatMap64();
    (*p->watchers)[ref] = watcher;
  });
}

void unwatch(uint64_t target, uint64_t ref) {
  with_watchable(target, [&](Process* p) {
    if (p->watchers) p->watchers->erase(ref);
  });
}

// The exiting process takes its watcher table; later watchers see it closed.
FlatMap64* close_watchers(Process* p) {
  std::lock_guard<SpinLock> lk(watch_lock(p->pid));
  p->watchers_closed = true;
  FlatMap64* w = p->watchers;
  p->watchers = nullptr;
  return w;
}

// ---------------------------------------------------------------- terminate callbacks

// Terminate callbacks: any thread may set the callback of a live local
// process (the Snow compiler sets it from the spawner, right after the
// spawn; a spawn option sets it before the child exists). The slot is one
// atomic word in the control block:
//  - a setter that is not the process finds the block with
//    with_control_block (the watch lock that free_process takes before the
//    block goes, so the block cannot be freed under it) and CASes its
//    callback in unless the slot holds kTerminateTaken;
//  - the exiting process takes the slot with one exchange to
//    kTerminateTaken in begin_exit, on its own context, before its links
//    and monitors fire, and runs what it took.
// The exchange is the linearisation point: a set whose CAS precedes it in
// the slot's modification order is run by the exit (the last such set
// wins); a set after it finds kTerminateTaken and has no effect, as on a
// dead pid. Each value is taken by one exchange, so a callback runs at most
// once. Nothing on the send, receive or scheduling paths touches the slot.
void set_terminate_slot(Process* p, TerminateFn cb) {
  uintptr_t cur = p->terminate.load(std::memory_order_relaxed);
  while (cur != kTerminateTaken &&
         !p->terminate.compare_exchange_weak(cur, reinterpret_cast<uintptr_t>(cb), std::memory_order_acq_rel,
                                             std::memory_order_relaxed)) {
  }
}

// ---------------------------------------------------------------- signals

void oom_signal() {
  log_line("snowrt: out of memory allocating a signal");
  abort();
}

const uint8_t kReasonNoproc[1] = {SNOW_REASON_NOPROC};
const uint8_t kReasonNormal[1] = {SNOW_REASON_NORMAL};
const uint8_t kReasonKilled[1] = {SNOW_REASON_KILLED};
const uint8_t kReasonShutdown[1] = {SNOW_REASON_SHUTDOWN};

// The target of `s` is dead: answer what needs an answer, drop the rest.
void answer_dead_target(Signal* s) {
  if (s->kind == SigKind::Unlink && s->from) {
    Signal* r = signal_control(SigKind::UnlinkAck, s->from, s->target, s->ref);
    if (!r) oom_signal();
    proc_deliver(s->from, r);
  } else if (s->kind == SigKind::Link && s->from) {
    Signal* r = signal_exit_like(SigKind::LinkExit, s->from, s->target, kReasonNoproc, 1);
    if (!r) oom_signal();
    proc_deliver(s->from, r);
  } else if (s->kind == SigKind::Monitor && s->from) {
    Signal* r = signal_down(s->from, s->ref, s->target, kReasonNoproc, 1);
    if (!r) oom_signal();
    proc_deliver(s->from, r);
  }
  signal_free(s);
}

void mbox_append(Process* p, Signal* s) {
  s->next = nullptr;
  if (p->mbox_tail) p->mbox_tail->next = s; else p->mbox_head = s;
  p->mbox_tail = s;
}

[[noreturn]] void exit_now(Process* p, const uint8_t* reason, uint64_t len);
void store_reason(Process* p, const uint8_t* reason, uint64_t len);

// Link protocol bookkeeping (see Relations).
void apply_link_signal(Process* p, Signal* s) {
  switch (s->kind) {
    case SigKind::Link:
      rel(p).links.emplace(s->from, 0);  // an existing entry (even inactive) wins
      break;
    case SigKind::Unlink: {
      if (p->rel) {
        uint64_t* id = p->rel->links.find(s->from);
        if (id && *id == 0) p->rel->links.erase(s->from);
      }
      Signal* ack = signal_control(SigKind::UnlinkAck, s->from, p->pid, s->ref);
      if (!ack) oom_signal();
      proc_deliver(s->from, ack);
      break;
    }
    case SigKind::UnlinkAck:
      if (p->rel) {
        uint64_t* id = p->rel->links.find(s->from);
        if (id && *id == s->ref) p->rel->links.erase(s->from);
      }
      break;
    default:
      break;
  }
}

// Applies one signal in the owner context. May not return (exit).
void apply(Process* p, Signal* s) {
  if (s->target != p->pid) {
    answer_dead_target(s);
    return;
  }
  switch (s->kind) {
    case SigKind::Message:
      mbox_append(p, s);
      return;
    case SigKind::Link:
    case SigKind::Unlink:
    case SigKind::UnlinkAck:
      apply_link_signal(p, s);
      break;
    case SigKind::Monitor:
      rel(p).monitored_by[s->ref] = s->from;
      break;
    case SigKind::Demonitor:
      if (p->rel) p->rel->monitored_by.erase(s->ref);
      break;
    case SigKind::Exit: {
      const uint8_t* reason = s->msg.data + 8;
      uint64_t rlen = s->msg.len - 8;
      if (s->flags & kSigKill) {
        signal_free(s);
        exit_now(p, kReasonKilled, 1);
      }
      if (s->flags & kSigShutdown) {
        signal_free(s);
        exit_now(p, kReasonShutdown, 1);
      }
      if (p->trap_exit) {
        mbox_append(p, s);
        return;
      }
      if (reason_is_normal(reason)) {
        if (s->from == p->pid) {
          signal_free(s);
          exit_now(p, kReasonNormal, 1);
        }
        break;
      }
      store_reason(p, reason, rlen);
      signal_free(s);
      exit_now(p, p->exit_reason, p->exit_reason_len);
    }
    case SigKind::LinkExit: {
      // React only to an active link; an entry with an unlink in flight
      // means the link is already gone for us.
      if (!p->rel) break;
      uint64_t* id = p->rel->links.find(s->from);
      if (!id) break;
      bool active = *id == 0;
      p->rel->links.erase(s->from);
      if (!active) break;
      const uint8_t* reason = s->msg.data + 8;
      if (p->trap_exit) {
        mbox_append(p, s);
        return;
      }
      if (reason_is_normal(reason)) break;
      store_reason(p, reason, s->msg.len - 8);
      signal_free(s);
      exit_now(p, p->exit_reason, p->exit_reason_len);
    }
    case SigKind::Down:
      if (p->jobs && jobs_take_signal(p, s)) return;
      if (p->rel && p->rel->monitors.erase(s->ref)) {
        mbox_append(p, s);
        return;
      }
      break;
    case SigKind::JobResult:
      if (p->jobs && jobs_take_signal(p, s)) return;
      break;
    case SigKind::Timeout:
      if (s->ref == p->wait_seq) p->timed_out = true;
      break;
    case SigKind::ServiceReply:
      if (p->call_ref != 0 && s->ref == p->call_ref) {
        mbox_append(p, s);
        return;
      }
      break;
  }
  signal_free(s);
}

// Applies every pending signal, oldest first. Signals not yet applied stay
// reachable through p->inbox, so an exit in the middle drains them too.
void apply_pending(Process* p) {
  Signal* s = p->anchor->queue.take_all();
  if (!s) return;
  if (p->inbox) {
    Signal* t = p->inbox;
    while (t->next) t = t->next;
    t->next = s;
  } else {
    p->inbox = s;
  }
  while ((s = p->inbox)) {
    p->inbox = s->next;
    apply(p, s);
  }
}

// Link/monitor bookkeeping for signals that arrive while exiting: links and
// monitors still count (they are notified with the real reason), the rest is
// dropped.
void apply_while_exiting(Process* p, Signal* s) {
  if (s->target != p->pid) {
    answer_dead_target(s);
    return;
  }
  switch (s->kind) {
    case SigKind::Link:
    case SigKind::Unlink:
    case SigKind::UnlinkAck:
      apply_link_signal(p, s);
      break;
    case SigKind::Monitor:
      rel(p).monitored_by[s->ref] = s->from;
      break;
    case SigKind::Demonitor:
      if (p->rel) p->rel->monitored_by.erase(s->ref);
      break;
    default:
      break;
  }
  signal_free(s);
}

void free_list(Signal* s) {
  while (s) {
    Signal* n = s->next;
    signal_free(s);
    s = n;
  }
}

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

// ---------------------------------------------------------------- waiting

// Parks the calling process until a signal arrives or `deadline` passes
// (INT64_MAX: none). Thread processes wait on their OS thread: the main
// process's runs the host loop meanwhile, an attached thread's blocks.
void park(Process* p, int64_t deadline) {
  gc_safepoint(p);
  if (!p->task.is_thread) {
    if (deadline != INT64_MAX && !p->timer_armed) {
      p->timed_out = false;
      ++p->wait_seq;
      timer_arm_wait(&p->task, deadline, p->pid, p->wait_seq);
      p->timer_armed = true;
    }
    sched_switch_out(&p->task, SwitchReason::Park);
    return;
  }
  if (!p->anchor->queue.try_sleep()) return;
  if (sched_thread_wait(&p->task, deadline)) return;
  if (p->anchor->queue.cancel_sleep()) {
    p->timed_out = true;
    return;
  }
  (void)sched_thread_wait(&p->task, INT64_MAX);  // a pusher woke us meanwhile: take its wake
}

void disarm(Process* p) {
  if (p->timer_armed) {
    timer_cancel_wait(&p->task);
    p->timer_armed = false;
  }
  p->timed_out = false;
}

// The absolute deadline `ms` (> 0) milliseconds from now, saturating.
int64_t deadline_after(int64_t ms) {
  return now_ns() + (ms > INT64_MAX / 2000000 ? INT64_MAX / 2 : ms * 1000000);
}

bool deadline_passed(Process* p, int64_t deadline) {
  if (p->timed_out) return true;
  return deadline != INT64_MAX && now_ns() >= deadline;
}

// ---------------------------------------------------------------- exit

void registry_release(Process* p);

void crash_report(Process* p, const uint8_t* reason) {
  char desc[512];
  reason_describe(reason, desc, sizeof desc);
  log_line("=CRASH REPORT==== process <0.%u.%u> exited: %s", local_pid_id(p->pid), local_pid_serial(p->pid), desc);
}

// What a finished process still holds in its mailbox and heap.
void free_held_memory(Process* p) {
  free_list(p->mbox_head);
  p->mbox_head = p->mbox_tail = nullptr;
  if (p->last_msg) signal_free(p->last_msg);
  p->last_msg = nullptr;
  if (p->args_ticket) heap_ticket_drop(p->args_ticket);
  p->args_ticket = nullptr;
  gc_destroy(p->heap);
  p->heap = nullptr;
  mem_free(p->args);
  p->args = nullptr;
  p->args_size = 0;
}

// Everything an exit does after the terminate callback; runs in the owner
// context, or on the scheduler context when the stack is unusable.
void finish_exit(Process* p) {
  if (p->notified) return;
  p->notified = true;
  disarm(p);
  Signal* rest = p->anchor->queue.close();
  Signal* pending = p->inbox;
  p->inbox = nullptr;
  while (pending) {
    Signal* n = pending->next;
    apply_while_exiting(p, pending);
    pending = n;
  }
  while (rest) {
    Signal* n = rest->next;
    apply_while_exiting(p, rest);
    rest = n;
  }
  // Jobs die with their caller (no result can reach it any more).
  if (p->jobs) jobs_end(p, true);
  registry_release(p);
  const uint8_t* reason = p->exit_reason ? p->exit_reason : kReasonNormal;
  uint64_t rlen = p->exit_reason ? p->exit_reason_len : 1;
  auto notify_watcher = [&](uint64_t ref, uint64_t watcher) {
    Signal* s = signal_down(watcher, ref, p->pid, reason, rlen);
    if (!s) oom_signal();
    proc_deliver(watcher, s);
  };
  if (p->rel) {
    p->rel->links.for_each([&](uint64_t peer, uint64_t unlink_id) {
      if (unlink_id != 0) return;  // the peer processes our unlink first
      Signal* s = signal_exit_like(SigKind::LinkExit, peer, p->pid, reason, rlen);
      if (!s) oom_signal();
      proc_deliver(peer, s);
    });
  }
  if (FlatMap64* watchers = close_watchers(p)) {
    watchers->for_each(notify_watcher);
    delete watchers;
  }
  if (p->rel) {
    p->rel->monitored_by.for_each(notify_watcher);
    p->rel->monitors.for_each([&](uint64_t ref, uint64_t target) {
      if (!pid_is_remote(target)) {
        unwatch(target, ref);
        return;
      }
      Signal* s = signal_control(SigKind::Demonitor, target, p->pid, ref);
      if (!s) oom_signal();
      proc_deliver(target, s);
    });
    for (auto& [id, node] : p->rel->node_monitors) dist_node_demonitor(id);
    if (p->rel->monitor_all_nodes) dist_monitor_all(p->pid, false);
    delete p->rel;
    p->rel = nullptr;
  }
  free_held_memory(p);
}

// The control block itself, its stack binding and its anchor slot (whose pid
// the caller has already cleared).
void free_control_block(Process* p) {
  Anchor* a = p->anchor;
  uint64_t pid = p->pid;
  mem_free(p->exit_reason);
  if (!p->task.is_thread) sched_task_release(&p->task);
  delete p->task.parker;
  destroy(p);
  anchor_free(a, pid);
}

void free_process(Process* p) {
  {
    // Before the control block goes (see "Local monitors").
    std::lock_guard<SpinLock> lk(watch_lock(p->pid));
    p->anchor->pid.store(0, std::memory_order_release);
  }
  free_control_block(p);
  R.exited.add(1);
  if (R.alive.fetch_sub(1, std::memory_order_acq_rel) == 1) post_wakeup();
}

void store_reason(Process* p, const uint8_t* reason, uint64_t len) {
  uint8_t* copy = static_cast<uint8_t*>(mem_alloc(len));
  if (!copy) oom_signal();
  std::memcpy(copy, reason, len);
  mem_free(p->exit_reason);
  p->exit_reason = copy;
  p->exit_reason_len = len;
}

// Frees the process of an attached thread that the runtime stopped without
// (see abandon_attached_threads): its pid is already gone from the table,
// the counters no longer count it and every process it knew has ended, so
// nothing is notified; only memory and its anchor slot are given back. On
// the thread itself.
void release_abandoned(Process* p) {
  free_list(p->anchor->queue.close());
  free_list(p->inbox);
  delete close_watchers(p);
  delete p->rel;
  if (p->jobs) jobs_end(p, false);  // every job ended with the runtime
  delete p->name;  // the registry forgot it at the stop
  free_held_memory(p);
  free_control_block(p);
}

// Runs the exit of a thread process and frees it; returns to the thread.
void exit_thread_process(Process* p) {
  uint8_t fate = kAttached;
  if (!p->is_main && !p->thread_fate.compare_exchange_strong(fate, kExiting, std::memory_order_acq_rel)) {
    // The runtime stopped without this process: nothing is left to notify.
    t_thread_proc = nullptr;
    release_abandoned(p);
    return;
  }
  finish_exit(p);
  // What main woke and never ran goes to the workers.
  if (p->is_main) sched_host_detach(&p->task);
  t_thread_proc = nullptr;
  bool last_attached = !p->is_main && R.attached.fetch_sub(1, std::memory_order_acq_rel) == 1;
  free_process(p);
  // The last attached thread was all that kept waiting processes from
  // counting as deadlocked: run_scheduler re-checks.
  if (last_attached) post_wakeup();
}

void main_thread_after_exit(int status);

// Marks the process exiting and runs its terminate callback, once, on its
// own context with the stored reason (a nested exit skips it).
void begin_exit(Process* p) {
  if (p->exiting) return;
  p->exiting = true;
  uintptr_t cb = p->terminate.exchange(kTerminateTaken, std::memory_order_acq_rel);
  if (cb != 0 && cb != kTerminateTaken) reinterpret_cast<TerminateFn>(cb)(nullptr, p->exit_reason);
}

[[noreturn]] void exit_now(Process* p, const uint8_t* reason, uint64_t len) {
  // Already exiting: this exit comes from inside the terminate callback.
  bool nested = p->exiting;
  store_reason(p, reason, len);  // copy first: `reason` may live in a signal we free
  begin_exit(p);
  if (!p->task.is_thread) {
    finish_exit(p);
    sched_switch_out(&p->task, SwitchReason::Exit);
    log_line("snowrt: an exited process was resumed");
    abort();
  }
  bool is_main = p->is_main;
  int status = reason_is_normal(p->exit_reason) ? 0 : 1;
  exit_thread_process(p);
  if (is_main) main_thread_after_exit(status);
  // Frames of the outer exit that called the terminate callback are still
  // on this thread and would touch the freed process if we returned to
  // them: such a thread ends here, as exit_self's does.
  if (nested) pthread_exit(nullptr);
  throw ThreadProcessEnded{};  // caught at the ABI entry point
}

// ---------------------------------------------------------------- hooks

bool hook_try_sleep(Task* t) { return as_process(t)->anchor->queue.try_sleep(); }

void hook_reap(Task* t) { free_process(as_process(t)); }

void hook_overflow(Task* t) {
  Process* p = as_process(t);
  char msg[160];
  int n = snprintf(msg, sizeof msg, "stack overflow (stack of %zu bytes)", t->slot ? t->slot->usable : size_t(0));
  std::vector<uint8_t> r(reason_size(SNOW_REASON_ERROR, uint64_t(n)));
  reason_write(r.data(), SNOW_REASON_ERROR, std::string_view(msg, size_t(n)));
  store_reason(p, r.data(), r.size());
  p->exiting = true;
  // The stack is unusable: the callback cannot run; later sets see it taken.
  p->terminate.store(kTerminateTaken, std::memory_order_release);
  crash_report(p, p->exit_reason);
  finish_exit(p);
}

void hook_wait_timeout(uint64_t pid, uint64_t seq) {
  Signal* s = signal_control(SigKind::Timeout, pid, 0, seq);
  if (!s) oom_signal();
  proc_deliver(pid, s);
}

void hook_send_after_fire(void* payload, uint64_t target) {
  Signal* s = static_cast<Signal*>(payload);
  R.sent.add(1);
  proc_deliver(target, s);
}

void hook_send_after_drop(void* payload) { signal_free(static_cast<Signal*>(payload)); }

void hook_quiescent() { post_wakeup(); }

void task_entry(Task* t) {
  Process* p = as_process(t);
  (void)gc_import(p->heap, p->args_ticket);
  p->args_ticket = nullptr;
  p->fn(p->args);
  exit_now(p, kReasonNormal, 1);
}

// ---------------------------------------------------------------- registry

void registry_release(Process* p) {
  if (!p->name) return;
  {
    std::lock_guard<std::mutex> lk(R.reg_mu);
    auto it = R.names.find(*p->name);
    if (it != R.names.end() && it->second == p->pid) R.names.erase(it);
  }
  delete p->name;
  p->name = nullptr;
}

Process* new_process() {
  Process* p = make<Process>();
  if (!p) return nullptr;
  uint64_t pid;
  Anchor* a = anchor_alloc(&pid);
  if (!a) {
    destroy(p);
    return nullptr;
  }
  p->pid = pid;
  p->anchor = a;
  return p;
}

// Makes the process reachable by its pid.
void publish(Process* p) {
  Anchor* a = p->anchor;
  a->proc.store(p, std::memory_order_relaxed);
  // Open before the pid appears: whoever reads the new pid can push. A
  // stale sender that pushes in between is caught by the target check.
  a->queue.open();
  a->pid.store(p->pid, std::memory_order_release);
  R.spawned.add(1);
  R.alive.fetch_add(1, std::memory_order_acq_rel);
}

// Signal handlers may only post a semaphore; the watcher thread does the
// halt itself (it allocates and takes locks).
void on_stop_signal(int sig) {
  R.stop_signal_status.store(sig == SIGINT ? 130 : 143);
  sem_post(&R.stop_signal);
}

void stop_watcher_main() {
  while (sem_wait(&R.stop_signal) != 0) {
  }
  int status = R.stop_signal_status.load();
  if (status != 0) proc_runtime_halt(status);
}

// Exits every live process except `keep` with an untrappable shutdown.
void shutdown_all(uint64_t keep) {
  uint32_t n;
  {
    std::lock_guard<SpinLock> lk(R.table_mu);
    n = R.next_unused;
  }
  for (uint32_t i = 0; i < n; ++i) {
    Anchor* a = anchor_at(i);
    if (!a) continue;
    uint64_t pid = a->pid.load(std::memory_order_acquire);
    if (pid == 0 || pid == keep) continue;
    Signal* s = signal_exit_like(SigKind::Exit, pid, 0, kReasonShutdown, 1);
    if (!s) oom_signal();
    s->flags = kSigShutdown;
    proc_deliver(pid, s);
  }
}

bool quiescent_now() {
  // Every worker parked with nothing queued and no timer pending, and no
  // attached thread that could still send: nothing can wake anyone.
  return R.alive.load() > 0 && R.attached.load() == 0 && !dist_started() && timers_pending() == 0 &&
         sched_idle();
}

int stop_everything(int status);

}  // namespace

// ================================================================ public

uint64_t proc_pid(const Process* p) { return p ? p->pid : 0; }

__attribute__((noinline)) Process* proc_current() {
  if (Task* t = sched_current_task()) return as_process(t);
  Process* p = t_thread_proc;
  if (p && p->thread_fate.load(std::memory_order_acquire) == kAbandoned) {
    // The runtime stopped without this thread (abandon_attached_threads).
    t_thread_proc = nullptr;
    release_abandoned(p);
    return nullptr;
  }
  return p;
}

void proc_runtime_poke() { post_wakeup(); }

bool proc_runtime_started() { return R.started.load(std::memory_order_acquire); }

int proc_runtime_start(unsigned workers, bool stop_on_signals) {
  if (R.started.load()) return SNOW_EALREADY;
  if (!R.wakeup_ready) {
    sem_init(&R.wakeup, 0, 0);
    sem_init(&R.stop_signal, 0, 0);
    R.wakeup_ready = true;
  }
  SchedConfig cfg;
  cfg.workers = workers;
  if (const char* s = getenv("SNOW_STACK_SIZE")) {
    long long v = atoll(s);
    if (v >= 16 * 1024 && v <= (1ll << 30)) cfg.stack_size = size_t(v);
  }
  if (const char* s = getenv("SNOW_SPIN_US")) {
    long long v = atoll(s);
    if (v >= 0 && v <= 10000) cfg.spin_ns = v * 1000;
  }
  if (const char* s = getenv("SNOW_STACK_SLOTS")) {
    long long v = atoll(s);
    if (v >= 1 && v <= 4096) cfg.slots_per_worker = unsigned(v);
  }
  SchedHooks hooks{hook_try_sleep,        hook_reap,          hook_overflow, hook_wait_timeout,
                   hook_send_after_fire, hook_send_after_drop, hook_quiescent, dist_flush_slice, dist_poll_io, dist_poll_io_done};
  R.halting.store(false);
  R.halt_status.store(0);
  draw_pid_salt();
  int rc = sched_start(cfg, hooks);
  if (rc < 0) return rc;
  Process* m = new_process();
  if (!m) {
    sched_stop(1000);
    return SNOW_ENOMEM;
  }
  m->task.is_thread = true;
  m->is_main = true;
  sched_host_attach(&m->task);
  publish(m);
  R.main_proc = m;
  R.main_thread = std::this_thread::get_id();
  t_thread_proc = m;
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  R.stop_signal_status.store(0);
  R.stop_watcher = std::thread(stop_watcher_main);
  R.signals_installed = stop_on_signals;
  if (stop_on_signals) {
    sigaction(SIGINT, &sa, &R.old_int);
    sigaction(SIGTERM, &sa, &R.old_term);
  }
  R.started.store(true, std::memory_order_release);
  return 0;
}

void proc_runtime_halt(int status) {
  if (!R.started.load(std::memory_order_acquire)) return;
  if (R.halting.exchange(true)) return;
  R.halt_status.store(status);
  // Every process, the main one included, gets an untrappable shutdown: a
  // main thread blocked in receive then ends the program with `status`.
  shutdown_all(0);
  post_wakeup();
}

namespace {

// An attached thread whose process got the stop's shutdown while the thread
// was outside the runtime (busy in its own code) cannot run that exit until
// it calls in again, maybe never. After the grace period such processes are
// given up: their pids leave the table (a monitor of one gets noproc), their
// names are released and the counters forget them, so a restarted runtime
// starts clean. The thread notices on its next call (proc_current) and
// frees the process; for it, that call happens outside any process.
void abandon_attached_threads() {
  uint32_t n;
  {
    std::lock_guard<SpinLock> lk(R.table_mu);
    n = R.next_unused;
  }
  int abandoned = 0;
  for (uint32_t i = 0; i < n; ++i) {
    Anchor* a = anchor_at(i);
    if (!a) continue;
    uint64_t pid = a->pid.load(std::memory_order_acquire);
    if (pid == 0) continue;
    {
      // Under the lock free_process takes before the control block goes.
      std::lock_guard<SpinLock> lk(watch_lock(pid));
      Process* p = a->proc.load(std::memory_order_acquire);
      if (a->pid.load(std::memory_order_acquire) != pid || !p || !p->task.is_thread || p->is_main) continue;
      uint8_t fate = kAttached;
      if (!p->thread_fate.compare_exchange_strong(fate, kAbandoned, std::memory_order_acq_rel)) continue;
      a->pid.store(0, std::memory_order_release);
    }
    {
      std::lock_guard<std::mutex> lk(R.reg_mu);
      for (auto it = R.names.begin(); it != R.names.end();) {
        if (it->second == pid) it = R.names.erase(it); else ++it;
      }
    }
    R.attached.fetch_sub(1, std::memory_order_acq_rel);
    R.alive.fetch_sub(1, std::memory_order_acq_rel);
    ++abandoned;
  }
  if (abandoned)
    log_line("snowrt: %d attached thread(s) stayed outside the runtime while it stopped; their processes end "
             "when each thread next calls it", abandoned);
}

int stop_everything(int status) {
  if (dist_started()) dist_stop();
  if (R.alive.load() > 0) {
    shutdown_all(0);
    int64_t deadline = now_ns() + 2000 * 1000000ll;
    while (R.alive.load() > 0 && now_ns() < deadline) {
      timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      ts.tv_nsec += 10 * 1000000;
      if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
      }
      sem_timedwait(&R.wakeup, &ts);
    }
    if (R.alive.load() > 0) abandon_attached_threads();
  }
  sched_stop(1000);
  if (R.signals_installed) {
    sigaction(SIGINT, &R.old_int, nullptr);
    sigaction(SIGTERM, &R.old_term, nullptr);
    R.signals_installed = false;
  }
  R.stop_signal_status.store(0);
  sem_post(&R.stop_signal);
  if (R.stop_watcher.joinable()) R.stop_watcher.join();
  R.main_proc = nullptr;
  R.started.store(false, std::memory_order_release);
  while (sem_trywait(&R.wakeup) == 0) {
  }
  return status;
}

int wait_for_end() {
  for (;;) {
    if (R.halting.load(std::memory_order_acquire)) return stop_everything(R.halt_status.load());
    // A started node does not keep the program alive by itself (ABI v2):
    // once no process is left, stop_everything stops it and peers see it
    // go. Until then a waiting process (a server) keeps both running, and
    // processes peers spawn here count like any other; one arriving while
    // the node stops is shut down with the rest.
    if (R.alive.load(std::memory_order_acquire) == 0) return stop_everything(0);
    if (quiescent_now()) {
      // Let the workers confirm: quiescent() fires when the last one parks.
      // Re-check after a shutdown round; exits wake everyone up again.
      shutdown_all(0);
    }
    while (sem_wait(&R.wakeup) != 0) {
    }
  }
}

void main_thread_after_exit(int status) {
  int rc = wait_for_end();
  // A halt decides the status; otherwise the main process's own exit does.
  exit(R.halting.load() ? rc : (rc != 0 ? rc : status));
}

}  // namespace

int proc_runtime_run() {
  if (!R.started.load(std::memory_order_acquire)) return SNOW_ENOTSTARTED;
  // Only the thread that started the runtime waits for its end (another
  // waiter would return early and leave the main thread's call hanging).
  // (Nor a process the main thread runs as the host.)
  if (std::this_thread::get_id() != R.main_thread || sched_current_task()) return SNOW_EINVAL;
  Process* m = t_thread_proc;
  if (m && m->is_main) {
    store_reason(m, kReasonNormal, 1);
    begin_exit(m);
    exit_thread_process(m);
  }
  return wait_for_end();
}

uint64_t proc_spawn(const SpawnRequest& r) {
  if (!R.started.load(std::memory_order_acquire) || !r.fn) return 0;
  Process* p = new_process();
  if (!p) return 0;
  if (r.size > 0) {
    p->args = static_cast<uint8_t*>(mem_alloc(r.size));
    if (!p->args) {
      anchor_free(p->anchor, p->pid);
      destroy(p);
      return 0;
    }
    std::memcpy(p->args, r.args, r.size);
    p->args_size = r.size;
    Process* spawner = proc_current();
    p->args_ticket = gc_export(spawner ? spawner->heap : nullptr, p->args, r.size);
  }
  p->fn = r.fn;
  p->terminate.store(reinterpret_cast<uintptr_t>(r.terminate), std::memory_order_relaxed);
  p->task.entry = task_entry;
  p->task.priority = r.priority <= SNOW_PRIO_LOW ? r.priority : uint8_t(SNOW_PRIO_NORMAL);
  if (!sched_task_init(&p->task, r.stack_size)) {
    if (p->args_ticket) heap_ticket_drop(p->args_ticket);
    mem_free(p->args);
    anchor_free(p->anchor, p->pid);
    destroy(p);
    return 0;
  }
  // Link and monitor are in place before anyone can see the child, so even
  // an instant exit is reported with its real reason.
  if (r.parent && r.link) {
    rel(r.parent).links[p->pid] = 0;
    rel(p).links[r.parent->pid] = 0;
  }
  if (r.remote_link) rel(p).links[r.remote_link] = 0;
  if (r.remote_watcher) rel(p).monitored_by[r.remote_monitor_ref] = r.remote_watcher;
  if (r.parent && r.monitor) {
    uint64_t ref = new_ref();
    rel(r.parent).monitors[ref] = p->pid;
    p->watchers = new FlatMap64();  // not published yet: no lock needed
    (*p->watchers)[ref] = r.parent->pid;
    if (r.monitor_ref_out) *r.monitor_ref_out = ref;
  }
  if (r.parent && r.job_ref) {
    if (!p->watchers) p->watchers = new FlatMap64();
    (*p->watchers)[r.job_ref] = r.parent->pid;
  }
  uint64_t pid = p->pid;
  if (r.before_start) r.before_start(pid, r.before_start_ctx);
  publish(p);
  sched_make_runnable(&p->task);
  return pid;
}

void proc_expect_reply(Process* p, uint64_t ref) { p->call_ref = ref; }

namespace {
struct ReplyMatch {
  uint64_t ref;
};
int match_reply(const snow_msg* m, void* ctx) {
  Signal* s = signal_of_msg(m);
  return s->kind == SigKind::ServiceReply && s->ref == static_cast<ReplyMatch*>(ctx)->ref;
}
}  // namespace

bool proc_wait_reply(Process* p, uint64_t ref, int64_t timeout_ms, void* out, size_t len) {
  ReplyMatch rm{ref};
  const snow_msg* m = proc_receive(p, timeout_ms, match_reply, &rm);
  p->call_ref = 0;
  if (!m) return false;
  std::memcpy(out, m->data, m->len < len ? size_t(m->len) : len);
  return true;
}

void proc_reply(uint64_t pid, uint64_t ref, const void* data, size_t len) {
  Signal* s = signal_alloc(SigKind::ServiceReply, pid, 0, len);
  if (!s) oom_signal();
  if (len) std::memcpy(s->msg.data, data, len);
  s->ref = ref;
  proc_deliver(pid, s);
}

namespace {

// A thread that ends while still attached is detached on its way out (exit
// `normal`, as snow_thread_detach would), by a thread-specific-data
// destructor, which runs on the ending thread. Without it the process would
// stay alive with nobody to run it, and run_scheduler would wait forever.
pthread_key_t g_attach_key;
pthread_once_t g_attach_key_once = PTHREAD_ONCE_INIT;

void detach_on_thread_end(void*) {
  if (t_thread_proc && !t_thread_proc->is_main) (void)proc_thread_detach();
}

void make_attach_key() { pthread_key_create(&g_attach_key, detach_on_thread_end); }

}  // namespace

uint64_t proc_thread_attach() {
  if (!R.started.load(std::memory_order_acquire)) return 0;
  if (Process* cur = proc_current()) return cur->pid;
  pthread_once(&g_attach_key_once, make_attach_key);
  Process* p = new_process();
  if (!p) return 0;
  p->task.is_thread = true;
  p->task.parker = new std::binary_semaphore(0);
  R.attached.fetch_add(1, std::memory_order_acq_rel);
  publish(p);
  t_thread_proc = p;
  // Any non-null value arms the destructor; it finds the process itself.
  pthread_setspecific(g_attach_key, p);
  return p->pid;
}

int proc_thread_detach() {
  Process* p = sched_current_task() ? nullptr : proc_current();
  if (!p) return SNOW_ENOTPROC;
  if (p->is_main) return SNOW_EINVAL;
  store_reason(p, kReasonNormal, 1);
  begin_exit(p);
  exit_thread_process(p);
  return 0;
}

namespace {

// Whether a signal must wake its owner if it sleeps. Bookkeeping (a link, an
// unlink and its ack, a remote node's monitor or demonitor) changes only
// tables the owner reads when it next runs or exits, when it applies its
// queue anyway: those signals are lazy and wait for the owner instead of
// scheduling it, a few at a time (the push that makes
// SignalQueue::kLazyLimit of them pending wakes it). The rest can put
// something in the mailbox, end the process or end a wait.
bool wakes_owner(SigKind kind) {
  switch (kind) {
    case SigKind::Link:
    case SigKind::Unlink:
    case SigKind::UnlinkAck:
    case SigKind::Monitor:
    case SigKind::Demonitor:
      return false;
    case SigKind::Message:
    case SigKind::Exit:
    case SigKind::LinkExit:
    case SigKind::Down:
    case SigKind::Timeout:
    case SigKind::ServiceReply:
    case SigKind::JobResult:
      return true;
  }
  return true;
}

}  // namespace

void proc_deliver(uint64_t pid, Signal* s) {
  if (pid_is_remote(pid)) {
    dist_deliver(pid, s);
    return;
  }
  Anchor* a = anchor_of(pid);
  if (!a || a->pid.load(std::memory_order_acquire) != pid) {
    answer_dead_target(s);
    return;
  }
  switch (a->queue.push(s, wakes_owner(s->kind))) {
    case SignalQueue::Push::Queued:
      return;
    case SignalQueue::Push::WokeOwner:
      // The owner is asleep until we make it runnable: its control block is
      // stable, and it is the current incarnation (a sleeping queue is open).
      sched_make_runnable(&a->proc.load(std::memory_order_acquire)->task);
      return;
    case SignalQueue::Push::Closed:
      answer_dead_target(s);
      return;
  }
}

int proc_send(uint64_t from, uint64_t to, const uint8_t* msg, uint64_t size, uint32_t msg_kind, uint64_t tag) {
  Signal* s = signal_alloc(SigKind::Message, to, from, size);
  if (!s) return SNOW_ENOMEM;
  if (size) std::memcpy(s->msg.data, msg, size);
  s->msg.tag = tag;
  s->msg_kind = msg_kind;
  if (!pid_is_remote(to)) proc_gc_export(proc_current(), s);
  R.sent.add(1);
  proc_deliver(to, s);
  return 0;
}

const snow_msg* proc_receive(Process* p, int64_t timeout_ms, int (*match)(const snow_msg*, void*), void* ctx) {
  if (p->last_msg) {
    signal_free(p->last_msg);
    p->last_msg = nullptr;
  }
  int64_t deadline = timeout_ms > 0 ? deadline_after(timeout_ms) : INT64_MAX;
  Signal* prev = nullptr;  // last message this call examined and rejected
  for (;;) {
    apply_pending(p);
    Signal* cur = prev ? prev->next : p->mbox_head;
    while (cur) {
      bool take = true;
      if (match) {
        p->offering = cur;
        take = match(&cur->msg, ctx) != 0;
        p->offering = nullptr;
      }
      if (take) {
        if (prev) prev->next = cur->next; else p->mbox_head = cur->next;
        if (p->mbox_tail == cur) p->mbox_tail = prev;
        cur->next = nullptr;
        disarm(p);
        proc_gc_import(p, cur);
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

uint32_t proc_msg_kind(Process* p, const snow_msg* m) {
  // Only the messages this process holds are read: the one its last receive
  // returned and the one offered to its match callback right now. Anything
  // else (a user buffer, a message already released) is USER, unread.
  if (!p || !m) return SNOW_MSG_USER;
  if (p->last_msg && &p->last_msg->msg == m) return p->last_msg->msg_kind;
  if (p->offering && &p->offering->msg == m) return p->offering->msg_kind;
  return SNOW_MSG_USER;
}

uint64_t proc_local_call_sender(Process* p, const snow_msg* m) {
  if (!p || !m || !p->last_msg || &p->last_msg->msg != m) return 0;
  const Signal* s = p->last_msg;
  if (!(s->flags & kSigServiceCall) || !s->from || pid_is_remote(s->from)) return 0;
  return s->from;
}

void proc_sleep(Process* p, int64_t ms) {
  if (ms <= 0) return;
  int64_t deadline = deadline_after(ms);
  for (;;) {
    apply_pending(p);
    if (deadline_passed(p, deadline)) break;
    park(p, deadline);
  }
  disarm(p);
}

bool proc_wait_until(Process* p, int64_t timeout_ms, bool (*ready)(void*), void* ctx) {
  int64_t deadline = timeout_ms > 0 ? deadline_after(timeout_ms) : INT64_MAX;
  bool ok;
  for (;;) {
    apply_pending(p);
    if ((ok = ready(ctx)) || timeout_ms == 0 || deadline_passed(p, deadline)) break;
    park(p, deadline);
  }
  disarm(p);
  return ok;
}

JobTable*& proc_jobs(Process* p) { return p->jobs; }

void proc_reduction_check_slow(Process* p) {
  gc_safepoint(p);
  if (p->task.is_thread) {
    apply_pending(p);
    return;
  }
  proc_yield(p);
}

void proc_yield(Process* p) {
  if (!p->task.is_thread) sched_switch_out(&p->task, SwitchReason::Yield);
  else std::this_thread::yield();
  apply_pending(p);
}

int proc_link(Process* p, uint64_t pid) {
  if (pid == p->pid) return 0;
  auto [id, inserted] = rel(p).links.emplace(pid, 0);
  if (!inserted) {
    if (*id == 0) return 0;  // already linked: idempotent
    *id = 0;                 // re-link while our unlink is in flight
  }
  Signal* s = signal_control(SigKind::Link, pid, p->pid, 0);
  if (!s) return SNOW_ENOMEM;
  proc_deliver(pid, s);
  // A dead target answered with noproc on our own queue: apply it now so a
  // non-trapping caller exits here rather than at some later point.
  apply_pending(p);
  return 0;
}

int proc_unlink(Process* p, uint64_t pid) {
  if (!p->rel) return 0;
  uint64_t* slot = p->rel->links.find(pid);
  if (!slot || *slot != 0) return 0;
  // From here exit signals from pid find no active link and are ignored.
  uint64_t id = new_ref();
  *slot = id;
  Signal* s = signal_control(SigKind::Unlink, pid, p->pid, id);
  if (!s) return SNOW_ENOMEM;
  proc_deliver(pid, s);
  return 0;
}

bool proc_set_trap_exit(Process* p, bool on) {
  bool old = p->trap_exit;
  p->trap_exit = on;
  return old;
}

int proc_exit_signal(uint64_t from, uint64_t to, const uint8_t* reason, uint64_t len) {
  Signal* s = signal_exit_like(SigKind::Exit, to, from, reason, len);
  if (!s) return SNOW_ENOMEM;
  if (reason[0] == SNOW_REASON_KILLED) s->flags = kSigKill;
  proc_deliver(to, s);
  // An exit signal to oneself takes effect before the call returns.
  Process* self = proc_current();
  if (self && self->pid == to && !self->exiting) apply_pending(self);
  return 0;
}

void proc_exit_self(Process* p, const uint8_t* reason, uint64_t len) {
  bool thread_ended = false;
  try {
    exit_now(p, reason, len);
  } catch (const ThreadProcessEnded&) {
    thread_ended = true;
  }
  // Only an attached thread gets here (exit_now does not return otherwise):
  // this call cannot return, so the thread ends.
  if (thread_ended) pthread_exit(nullptr);
  abort();
}

void proc_set_terminate(Process* self, uint64_t pid, TerminateFn cb) {
  if (self && (pid == 0 || pid == self->pid)) {
    set_terminate_slot(self, cb);
    return;
  }
  if (pid == 0 || pid_is_remote(pid)) return;
  with_control_block(pid, [&](Process* p) {
    set_terminate_slot(p, cb);
    return true;
  });
}

uint64_t proc_monitor(Process* p, uint64_t pid) {
  uint64_t ref = new_ref();
  rel(p).monitors[ref] = pid;
  if (!pid_is_remote(pid)) {
    if (!watch(pid, ref, p->pid)) {
      Signal* down = signal_down(p->pid, ref, pid, kReasonNoproc, 1);
      if (!down) oom_signal();
      proc_deliver(p->pid, down);
    }
    return ref;
  }
  Signal* s = signal_control(SigKind::Monitor, pid, p->pid, ref);
  if (!s) {
    p->rel->monitors.erase(ref);
    return 0;
  }
  proc_deliver(pid, s);
  return ref;
}

int64_t proc_demonitor(Process* p, uint64_t ref, bool flush) {
  int64_t result = 1;
  if (p->rel) {
    uint64_t* t = ref ? p->rel->monitors.find(ref) : nullptr;
    if (t) {
      uint64_t target = *t;
      p->rel->monitors.erase(ref);
      if (!pid_is_remote(target)) {
        unwatch(target, ref);
      } else {
        Signal* s = signal_control(SigKind::Demonitor, target, p->pid, ref);
        if (!s) oom_signal();
        proc_deliver(target, s);
      }
      result = 0;
    }
  }
  if (flush) {
    // A DOWN for ref may already sit in the queue (not yet applied) or in
    // the mailbox: apply pending signals (the ref is gone, so a queued DOWN
    // is dropped) and remove a delivered one.
    apply_pending(p);
    Signal* prev = nullptr;
    for (Signal* cur = p->mbox_head; cur; prev = cur, cur = cur->next) {
      if (cur->msg_kind == SNOW_MSG_DOWN && cur->ref == ref) {
        if (prev) prev->next = cur->next; else p->mbox_head = cur->next;
        if (p->mbox_tail == cur) p->mbox_tail = prev;
        signal_free(cur);
        break;
      }
    }
  }
  return result;
}

int64_t proc_node_monitor(Process* p, std::string_view node) {
  int64_t id = int64_t(new_ref() & INT64_MAX);
  rel(p).node_monitors.emplace(id, std::string(node));
  // Without a started node it is down as far as this runtime can tell:
  // NODEDOWN at once, NODEUP if a node started later connects to it.
  dist_node_monitor(p->pid, id, node);
  return id;
}

int64_t proc_node_demonitor(Process* p, int64_t id) {
  if (!p->rel || !p->rel->node_monitors.erase(id)) return 1;
  dist_node_demonitor(id);
  return 0;
}

int64_t proc_node_monitor_all(Process* p, bool on) {
  bool old = p->rel ? p->rel->monitor_all_nodes : false;
  if (on || p->rel) rel(p).monitor_all_nodes = on;
  if (old != on) dist_monitor_all(p->pid, on);
  return old ? 1 : 0;
}

int proc_register(Process* p, std::string_view name) {
  if (p->name) return SNOW_EEXIST;
  std::lock_guard<std::mutex> lk(R.reg_mu);
  auto [it, inserted] = R.names.emplace(std::string(name), p->pid);
  if (!inserted) return SNOW_EEXIST;
  p->name = new std::string(name);
  return 0;
}

int proc_unregister(Process* p, std::string_view name) {
  if (!p->name || *p->name != name) return SNOW_ENOTFOUND;
  registry_release(p);
  return 0;
}

uint64_t proc_whereis(std::string_view name) {
  std::lock_guard<std::mutex> lk(R.reg_mu);
  auto it = R.names.find(std::string(name));
  return it == R.names.end() ? 0 : it->second;
}

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

namespace {
struct CallMatch {
  uint64_t call_ref;
  uint64_t monitor_ref;
};
int match_call(const snow_msg* m, void* ctx) {
  auto* c = static_cast<CallMatch*>(ctx);
  Signal* s = signal_of_msg(m);
  if (s->kind == SigKind::ServiceReply && s->ref == c->call_ref) return 1;
  if (s->kind == SigKind::Down && s->ref == c->monitor_ref) return 1;
  return 0;
}

// Ends a failed service call: records `code` for snow_service_last_error,
// or (CallFailure::ExitCaller) exits the caller, as gen_server:call does,
// with `reason` (the server's, from its DOWN) or, when reason is null, the
// one `code` stands for: noproc, noconnection, custom "timeout", or error
// "service call: <what>". A crash report says why.
const snow_msg* service_call_failed(Process* p, uint64_t server, int64_t code, const uint8_t* reason, uint64_t rlen,
                                    CallFailure how) {
  p->call_error = code;
  if (how == CallFailure::ReturnNull) return nullptr;
  static const char kPrefix[] = "service call: ";
  uint8_t own[9 + sizeof kPrefix + 64];
  if (!reason) {
    if (code == SNOW_ENOPROC || code == SNOW_ENONODE) {
      own[0] = code == SNOW_ENOPROC ? SNOW_REASON_NOPROC : SNOW_REASON_NOCONNECTION;
      rlen = 1;
    } else if (code == SNOW_ETIMEDOUT) {
      reason_write(own, SNOW_REASON_CUSTOM, "timeout");
      rlen = reason_size(SNOW_REASON_CUSTOM, 7);
    } else {
      char text[sizeof kPrefix + 64];
      int n = snprintf(text, sizeof text, "%s%s", kPrefix, snow_strerror(code));
      size_t tn = n < 0 ? 0 : std::min(size_t(n), sizeof text - 1);
      reason_write(own, SNOW_REASON_ERROR, std::string_view(text, tn));
      rlen = reason_size(SNOW_REASON_ERROR, tn);
    }
    reason = own;
  }
  char desc[512];
  reason_describe(reason, desc, sizeof desc);
  if (pid_is_remote(server)) {
    log_line("=CRASH REPORT==== process <0.%u.%u> exited: service call to remote pid 0x%llx failed: %s",
             local_pid_id(p->pid), local_pid_serial(p->pid), static_cast<unsigned long long>(server), desc);
  } else {
    log_line("=CRASH REPORT==== process <0.%u.%u> exited: service call to <0.%u.%u> failed: %s", local_pid_id(p->pid),
             local_pid_serial(p->pid), local_pid_id(server), local_pid_serial(server), desc);
  }
  exit_now(p, reason, rlen);  // copies the reason before anything frees it
}

}  // namespace

const snow_msg* proc_service_call_refused(Process* p, uint64_t server, int64_t code, CallFailure how) {
  return service_call_failed(p, server, code, nullptr, 0, how);
}

const snow_msg* proc_service_call(Process* p, uint64_t server, uint64_t tag, const uint8_t* payload,
                                  uint64_t size, int64_t timeout_ms, CallFailure how) {
  p->call_error = 0;
  uint64_t mref = proc_monitor(p, server);
  if (!mref) return service_call_failed(p, server, SNOW_ENOMEM, nullptr, 0, how);
  uint64_t cref = new_ref();
  Signal* s = signal_alloc(SigKind::Message, server, p->pid, 16 + size);
  if (!s) {
    proc_demonitor(p, mref, true);
    return service_call_failed(p, server, SNOW_ENOMEM, nullptr, 0, how);
  }
  put_u64(s->msg.data, tag);
  put_u64(s->msg.data + 8, p->pid);
  if (size) std::memcpy(s->msg.data + 16, payload, size);
  s->msg.tag = tag;
  s->ref = cref;
  s->flags = kSigServiceCall;
  if (!pid_is_remote(server)) proc_gc_export(p, s);
  p->call_ref = cref;
  R.sent.add(1);
  proc_deliver(server, s);
  CallMatch cm{cref, mref};
  const snow_msg* m = proc_receive(p, timeout_ms < 0 ? -1 : timeout_ms, match_call, &cm);
  p->call_ref = 0;  // a reply arriving from now on is dropped
  if (!m) {
    proc_demonitor(p, mref, true);
    return service_call_failed(p, server, SNOW_ETIMEDOUT, nullptr, 0, how);
  }
  Signal* got = signal_of_msg(m);
  if (got->kind == SigKind::Down) {
    const uint8_t* reason = m->data + 16;
    int64_t code = reason[0] == SNOW_REASON_NOPROC          ? int64_t(SNOW_ENOPROC)
                   : reason[0] == SNOW_REASON_NOCONNECTION ? int64_t(SNOW_ENONODE)
                                                            : SNOW_SERVICE_EXITED + reason[0];
    return service_call_failed(p, server, code, reason, m->len - 16, how);
  }
  proc_demonitor(p, mref, true);
  got->msg_kind = SNOW_MSG_USER;
  return m;
}

int proc_service_reply(Process* p, uint64_t caller, const uint8_t* reply, uint64_t size) {
  if (!p->rel) return SNOW_EINVAL;
  auto it = p->rel->pending_calls.find(caller);
  if (it == p->rel->pending_calls.end()) return SNOW_EINVAL;
  uint64_t ref = it->second;
  p->rel->pending_calls.erase(it);
  Signal* s = signal_alloc(SigKind::ServiceReply, caller, p->pid, size);
  if (!s) return SNOW_ENOMEM;
  if (size) std::memcpy(s->msg.data, reply, size);
  uint64_t tag = 0;
  std::memcpy(&tag, reply, size < 8 ? size_t(size) : 8);
  s->msg.tag = tag;
  s->ref = ref;
  if (!pid_is_remote(caller)) proc_gc_export(p, s);
  R.sent.add(1);
  proc_deliver(caller, s);
  return 0;
}

int64_t proc_service_last_error(Process* p) { return p->call_error; }

void proc_stats(snow_stats* out) {
  *out = snow_stats{};
  out->processes_alive = uint64_t(R.alive.load());
  out->processes_spawned = uint64_t(R.spawned.read());
  out->processes_exited = uint64_t(R.exited.read());
  out->messages_sent = uint64_t(R.sent.read());
  out->nodes_connected = dist_nodes_connected();
  out->schedulers = sched_worker_count();
  out->timers_pending = uint64_t(timers_pending());
  out->stacks_resident = uint64_t(sched_running() ? sched_stacks_resident() : 0);
  out->node_entries = dist_node_entries();
  out->remote_pids = dist_remote_pids();
  out->alias_sends_dropped = dist_alias_sends_dropped();
  // The reserved words stay 0 (snow_stats{} above).
}

}  // namespace snow::rt
