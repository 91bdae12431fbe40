// The M:N scheduler: worker threads that run tasks (process contexts).
//
// Vocabulary:
// - *Worker*: an OS thread running the scheduler loop on its own stack. It
//   owns a run queue (a lock-free ring of the normal-priority tasks it
//   makes runnable itself, run_queue.h, and a locked inbox of FIFO lists
//   by priority for the rest, worker.h) and a timer heap.
// - *Task*: the schedulable part of a process (context, stack binding,
//   run-queue link, wait timer). runtime/proc embeds it in the process
//   control block; the scheduler never looks past it.
// - *Watcher*: while some worker runs tasks, at most one idle worker parks
//   for short periods instead of indefinitely, and takes a task queued
//   behind a worker that kept one task for a whole period (a process that
//   never yields), so that such a task runs whenever a worker is idle.
// - *Thread task*: the task of the main thread or of an attached foreign
//   thread. It runs on its own OS thread and is never queued. An attached
//   thread's task parks on a semaphore instead of switching.
// - *Host*: the main thread while the main process (a hosted thread task)
//   waits. Instead of sleeping it runs tasks queued on its own run queue,
//   switching between the native main stack and process stacks as a worker
//   does, and returns to the main process as soon as that is made runnable.
//   Processes main wakes are queued there, so a main <-> process exchange
//   stays in user space on one thread. The host owns no timers and never
//   steals; workers steal from it, and the watcher takes what waits there
//   while main runs its own code (host.cpp, docs/design/scheduler.md,
//   "The host").
//
// Task state machine (scheduler's view):
//
//   new --make_runnable--> queued --picked--> running --switch_out(Yield)--> queued
//                                                 |--switch_out(Park)--> [try_sleep hook]
//                                                 |       sleeping  (hook said yes)
//                                                 |       queued    (signals arrived meanwhile)
//                                                 |--switch_out(Exit)--> reaped (reap hook)
//   sleeping --make_runnable (by whoever ended the sleep, exactly once)--> queued
//
// The decision to sleep is taken by the worker after the task's context has
// been saved (try_sleep hook, one atomic step on the task's signal queue, see
// runtime/proc/signal_queue.h), so a waker can never resume a context that is
// still being switched out, and no wake-up is lost.
//
// Threads: make_runnable, timer_* and wake calls are safe from any thread.
// switch_out, current_task and the reduction budget only from the task's
// own context.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <semaphore>

#include "runtime/common/common.h"
#include "runtime/sched/context.h"
#include "runtime/sched/stack.h"

namespace snow::rt {

struct Worker;

enum class SwitchReason : uint8_t { Yield, Park, Exit };

// Timer nodes live in one worker's heap (owner). Wait timers are embedded in
// their task; send-after timers are heap-allocated (see timer API below).
struct TimerNode {
  int64_t deadline = 0;     // CLOCK_MONOTONIC ns
  uint64_t order = 0;       // tie-break: FIFO among equal deadlines
  int32_t heap_index = -1;  // -1: not in a heap
  uint8_t is_send_after = 0;
  Worker* owner = nullptr;  // whose heap holds it (guarded by that heap's lock)
};

struct WaitTimer : TimerNode {
  uint64_t cookie = 0;  // the waiting process's pid, copied out under the lock
  uint64_t seq = 0;     // which wait of that process
};

struct Task {
  Task* rq_next = nullptr;
  fcontext_t ctx = nullptr;
  StackSlot* slot = nullptr;
  uint8_t* saved = nullptr;  // evicted stack bytes (see stack.h)
  uint32_t saved_len = 0;
  uint32_t saved_cap = 0;
  uint8_t priority = 1;  // 0 high, 1 normal, 2 low
  SwitchReason switch_reason = SwitchReason::Yield;
  bool started = false;
  bool is_thread = false;
  bool hosted = false;  // thread task served by the host (main)
  // Queued by a yield that ended a busy slice (not a consumer's): counted in
  // that worker's `busy_queued` until taken from its queue (scheduler.cpp,
  // requeue_yielded). Written by whoever holds the task.
  bool queued_busy = false;
  // Queued before it ever ran, by the task running on that worker (its
  // spawner): counted in that worker's `fresh_queued` until taken.
  bool queued_fresh = false;
  int32_t last_worker = -1;
  void (*entry)(Task*) = nullptr;  // runs on the task's own stack; never returns
  SanitizerFiber san;
  std::binary_semaphore* parker = nullptr;  // thread tasks only
  WaitTimer wait_timer;
};

struct SchedHooks {
  // Park: atomically mark the task's process sleeping unless signals are
  // pending. true = now sleeping (someone will call make_runnable later).
  bool (*try_sleep)(Task*);
  // Exit: the task's context is finished; free the process.
  void (*reap)(Task*);
  // A stack overflow hit the task; exit it from the scheduler context (the
  // stack is unusable), then it is reaped.
  void (*overflow)(Task*);
  // A wait timer fired for process `cookie`, wait `seq`.
  void (*wait_timeout)(uint64_t cookie, uint64_t seq);
  // A send-after timer fired: deliver its payload (ownership passes).
  void (*send_after_fire)(void* payload, uint64_t target);
  void (*send_after_drop)(void* payload);
  // Every worker is idle with no timer pending.
  void (*quiescent)();
  // After every time slice, on the worker thread (distribution flushes the
  // frames the slice queued, see dist.h). May be null.
  void (*after_slice)();
  // Called on each round of an idle worker's spin, on the worker thread:
  // the distribution reads its sockets here when no other thread is doing
  // so, and frames that arrive make their targets runnable on this worker
  // without a thread switch. May be null.
  void (*poll_io)();
  // Called when the last spinning worker stops spinning to park (no more
  // poll_io rounds will come from workers for now). May be null.
  void (*poll_io_done)();
};

// True on a worker thread (the current code runs a task or the scheduler).
bool sched_on_worker();
// The index of the scheduler loop running on this thread: 0 .. workers - 1
// for the workers, `workers` for the host while it runs its loop or a task;
// -1 on any other thread. Lets a caller keep per-worker state without
// contention. Any thread; the answer holds until the caller's process
// next yields (it may resume on another worker).
int sched_worker_index();

struct SchedConfig {
  unsigned workers = 1;
  std::size_t stack_size = 1 << 20;  // usable bytes per shared slot
  unsigned slots_per_worker = 8;     // few mappings: a node dies (and is noticed) faster
  int64_t spin_ns = 50 * 1000;       // how long an idle worker watches for work before parking
  // While another worker is busy, an idle one parks for this long at a time
  // and then takes a task queued behind a worker that started no task
  // meanwhile (scheduler.cpp, "watching").
  int64_t watch_ns = 1000 * 1000;
};

// Starts the workers. Returns 0 or a negative SNOW_E* code.
int sched_start(const SchedConfig& cfg, const SchedHooks& hooks);
// Stops and joins the workers (tasks still queued are abandoned: the caller
// exits every process first). Waits at most grace_ms for a worker stuck in a
// task that never yields, then leaves it detached.
void sched_stop(int64_t grace_ms);
bool sched_running();
// Every worker is parked and no task is queued (a snapshot; exact only when
// nothing else can enqueue, which is how run_scheduler uses it).
bool sched_idle();
unsigned sched_worker_count();

// Prepares a new task: binds it to a stack slot (shared, or dedicated when
// stack_size exceeds the shared slot size). Returns false when no stack can
// be mapped.
bool sched_task_init(Task* t, std::size_t stack_size);
// Releases what sched_task_init took (dedicated slot, saved bytes). Only for
// tasks that are not running and never will again.
void sched_task_release(Task* t);

// Makes a sleeping or new task runnable. Any thread. Thread tasks are woken
// through their semaphore.
void sched_make_runnable(Task* t);

// Waits, on its own thread, for thread task `t` (whose signal queue just
// agreed to sleep) to be made runnable: true, or false once `deadline`
// (CLOCK_MONOTONIC ns; INT64_MAX: none) passed first. A hosted task's
// thread runs the host loop meanwhile; an attached thread blocks.
bool sched_thread_wait(Task* t, int64_t deadline);

// Makes the calling thread the host of thread task `t` (the main process;
// one at a time): from now on sched_thread_wait(t) runs the host loop, and
// tasks `t` makes runnable may be queued on the host. Before `t` can be
// made runnable.
void sched_host_attach(Task* t);
// Ends hosting when `t` exits, on the host thread, outside the host loop:
// what is queued on the host goes to the workers. No effect if `t` is not
// hosted.
void sched_host_detach(Task* t);

// From the task's own context: give the worker back.
void sched_switch_out(Task* t, SwitchReason why);

// The task running on this thread's worker (nullptr on other threads).
Task* sched_current_task();
// Reduction budget of the code running on this thread: on a worker, what
// is left of the running task's time slice (reset to a full slice each
// time a task is switched in); on any other thread, a countdown between two
// slow reduction checks. Only the thread itself reads and writes it.
// Initial-exec TLS, so counting one reduction is a load, a decrement and a
// store relative to the thread pointer (snow_reduction_check's fast path).
// (__thread rather than thread_local: no dynamic initialisation, so other
// files reach it without an initialisation wrapper call.)
extern __thread int32_t t_sched_reductions __attribute__((tls_model("initial-exec")));

// Counts one reduction; false once the budget is spent (the caller then
// takes the slow path: apply signals, yield).
inline bool sched_reductions_left() { return --t_sched_reductions > 0; }
// Reduction checks a worker's current time slice has run so far (for
// snow_process_info's reductions, counted when the process switches out).
constexpr int32_t kSchedBudget = 2000;
inline uint64_t sched_reductions_used() {
  return uint64_t(kSchedBudget - (t_sched_reductions > 0 ? t_sched_reductions : 0));
}

// Receives the running task has made in its current time slice (reset when
// a task is switched in). The process layer counts them; the scheduler reads
// them when the slice ends in a yield, to tell a consumer that keeps up with
// its producer (many receives per slice) from a busy process
// (scheduler.cpp, run_task). Same TLS model as t_sched_reductions.
// Unsigned: on a thread that is not a worker it counts on and wraps.
extern __thread uint32_t t_sched_slice_receives __attribute__((tls_model("initial-exec")));
inline void sched_note_receive() { ++t_sched_slice_receives; }

// A full budget for the calling thread when it is not a worker (thread
// processes do not yield; they only apply their signals every so often).
void sched_reductions_refill_off_worker();

// How long an idle worker watches for work before it parks (SNOW_SPIN_US);
// the distribution loop watches its sockets as long. Any thread.
int64_t sched_spin_ns();

// How many workers are spinning right now (each polls the poll_io hook on
// every round). A hint, read without synchronisation. Any thread.
int sched_spinning_workers();

// Wait timers: arm on the calling worker's heap (or worker 0 from a thread
// that is not a worker); cancel from any thread. Returns false if it had
// already fired (or was not armed).
void timer_arm_wait(Task* t, int64_t deadline_ns, uint64_t cookie, uint64_t seq);
bool timer_cancel_wait(Task* t);

// Send-after timers. Returns the timer ref (never 0), or 0 on failure.
uint64_t timer_send_after(int64_t deadline_ns, uint64_t target, void* payload);
// 0 if cancelled before firing, 1 otherwise.
int64_t timer_cancel_send_after(uint64_t ref);
int64_t timers_pending();

// Execution stack slots mapped (shared + dedicated).
int64_t sched_stacks_resident();

}  // namespace snow::rt
