// Internal to runtime/sched: the worker structure and the loop pieces that
// scheduler.cpp (the workers) and host.cpp (the main thread's host) share.
// Nothing outside runtime/sched includes this file.
//
// Vocabulary (see scheduler.h for the public one):
// - *Worker*: a scheduler loop with a run queue: one per worker thread, plus
//   the *host*, a Worker object that the main thread drives while the main
//   process waits (host.cpp). The host is not in the list of workers: it
//   never owns timers, is never woken for general work and never steals;
//   workers steal from it and the watcher watches it like any worker.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "runtime/common/common.h"
#include "runtime/sched/run_queue.h"
#include "runtime/sched/scheduler.h"

namespace snow::rt {

struct TaskList {
  Task* head = nullptr;
  Task* tail = nullptr;
  void push_back(Task* t) {
    t->rq_next = nullptr;
    if (tail) tail->rq_next = t;
    else head = t;
    tail = t;
  }
  void push_front(Task* t) {
    t->rq_next = head;
    head = t;
    if (!tail) tail = t;
  }
  Task* pop_front() {
    Task* t = head;
    if (!t) return nullptr;
    head = t->rq_next;
    if (!head) tail = nullptr;
    t->rq_next = nullptr;
    return t;
  }
};

// Why a parked worker was woken. A worker woken to watch goes straight back
// to watching the busy workers, without taking a task queued behind one of
// them (see "Watching busy workers" in scheduler.cpp); for work it takes
// whatever it finds. The stronger reason wins when both arrive.
enum Wake : uint8_t { kNotWoken = 0, kWakeToWatch = 1, kWakeForWork = 2 };

struct alignas(kCacheLine) Worker {
  unsigned index = 0;
  std::thread thread;

  // Run queue, in two parts (scheduler.cpp, "run queues"):
  // - `ring`: normal-priority tasks this loop's own thread made runnable,
  //   without a lock (run_queue.h); thieves take half at a time.
  // - `inbox`: by priority, under `inbox_mu`: what other threads push, high
  //   and low priorities, tasks pushed to the front, and the older half of
  //   a full ring. `inbox_size` counts it (seq_cst on push, for parking).
  TaskRing ring;
  alignas(kCacheLine) SpinLock inbox_mu;
  TaskList inbox[3];
  TaskList urgent;  // normal-priority tasks pushed to the front
  std::atomic<int64_t> inbox_size{0};
  // Tasks in inbox[1] (written under inbox_mu): while there are any, the
  // owner queues its own normal tasks there too, behind them.
  std::atomic<int64_t> inbox_normal{0};
  // Owned by this loop's thread: picks so far (low-priority fairness).
  alignas(kCacheLine) unsigned picks = 0;

  // Owned by the thread running this loop.
  fcontext_t sched_ctx = nullptr;
  SanitizerFiber san;
  Task* current = nullptr;
  bool overflowed = false;
  void* altstack = nullptr;
  // Tasks started here so far. Written by this loop's thread only; watchers
  // read it to tell a worker that keeps switching from one stuck in one task.
  std::atomic<uint64_t> slices{0};
  std::vector<uint64_t> seen_slices;  // each worker's slices when this one last looked
  // Processes that have never run which the task running here queued here
  // during its current slice (0 between slices). Written by this loop's
  // thread only; thieves read it to leave them alone (scheduler.cpp,
  // "placement").
  std::atomic<int64_t> young{0};
  // Tasks queued here whose last slice was busy (ended in a yield, and not
  // a consumer's): pushed by this loop's thread, taken by it or by thieves
  // (a hint; scheduler.cpp, requeue_yielded).
  std::atomic<int64_t> busy_queued{0};
  // Children queued here by the task running here that have not run yet
  // (counted like busy_queued), and whether such children have lately
  // been cheap: most of the last kFreshWindow first slices run here ended
  // in an exit within a few reductions (a spawn+exit loop). Cheap children
  // are not movable: a thief would pay more in cache misses and remote
  // frees of their control blocks than running them costs (scheduler.cpp,
  // "placement"). Counted by this loop's thread.
  std::atomic<int64_t> fresh_queued{0};
  std::atomic<bool> fresh_cheap{false};
  uint32_t first_slices = 0;
  uint32_t cheap_first_slices = 0;

  // Parking.
  std::mutex park_mu;
  std::condition_variable park_cv;
  Wake wake = kNotWoken;
  std::atomic<bool> parked{false};
  std::atomic<int64_t> park_deadline{INT64_MAX};

  // Timers: a binary min-heap on (deadline, order). Never used by the host.
  std::mutex timer_mu;
  std::vector<TimerNode*> heap;
  std::atomic<int64_t> next_deadline{INT64_MAX};

  // Host only (host.cpp). `hosted`: the thread task the host serves (the
  // main process), null when nobody is hosted. `hosted_ready`: that task
  // was made runnable since it last waited (any thread sets it; the host
  // clears it). `host_idle`: the host's thread is waiting for its hosted
  // task (spinning or parked), as opposed to running the hosted task's own
  // code or a queued task; a hint for the watcher.
  std::atomic<Task*> hosted{nullptr};
  std::atomic<bool> hosted_ready{false};
  std::atomic<bool> host_idle{false};
  bool own_altstack = false;
};

// Tasks queued on `w` (ring and inbox): a snapshot from any thread.
inline int64_t rq_len(const Worker* w, std::memory_order order = std::memory_order_relaxed) {
  return w->inbox_size.load(order) + w->ring.size(order);
}

// Tasks queued on `w` that another worker may take: all but the young
// ones, and none while cheap children wait there (a thief takes the older
// half, which is then mostly such children; a snapshot from any thread; the two counters are read apart, so
// it is a hint).
inline int64_t rq_movable(const Worker* w, std::memory_order order = std::memory_order_relaxed) {
  if (w->fresh_cheap.load(std::memory_order_relaxed) && w->fresh_queued.load(std::memory_order_relaxed) > 0) return 0;
  const int64_t n = rq_len(w, order) - w->young.load(std::memory_order_relaxed);
  return n > 0 ? n : 0;
}

// ---- shared by scheduler.cpp and host.cpp (defined in scheduler.cpp) ----

// The loop running on this thread (a worker, or the host inside its wait).
Worker* worker_current();
void worker_set_current(Worker* w);
// The host Worker while the scheduler runs, else null.
Worker* sched_host();
// The next task of `w`'s queue, on the thread that owns it (the loop's).
Task* rq_pop(Worker* w);
// Switches `t` in on `w` and acts on how it switched out.
void run_task(Worker* w, Task* t);
void wake_worker(Worker* w, Wake why = kWakeForWork);
// Moves what is queued on the host to the workers (hosting ended).
void hand_host_queue_to_workers(Worker* host);

// ---- defined in host.cpp ----

// The host loop: runs tasks queued on `host` until its hosted task is made
// runnable (true) or `deadline` passes (false). On the hosting thread.
bool host_wait(Worker* host, int64_t deadline);
// The hosted task was made runnable: tell the host, waking its thread if it
// parked. Any thread.
void host_wake_hosted(Worker* host);
// On the hosting thread when hosting starts / ends: sanitizer fiber of the
// native stack, alternate signal stack for the overflow handler.
void host_thread_setup(Worker* host);
void host_thread_teardown(Worker* host);

}  // namespace snow::rt
