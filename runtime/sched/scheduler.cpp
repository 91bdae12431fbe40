// The M:N scheduler's engine: per-worker timer heaps, run queues and
// stealing, stack slot binding and eviction, parking and spinning, the
// watcher that takes work from a stuck worker, the stack overflow handler,
// worker threads, and the public sched_* / timer_* calls.
//
// Why one file of about 1,000 lines: these parts are one state machine over
// one shared state (`g`, the workers' fields in worker.h): a timer insert
// wakes a parked worker through the same park protocol the run queues use,
// the watcher reads every queue and every worker's slice counters, and
// parking decides on timers, queues and spinning in one place. Its
// correctness argument (docs/design/scheduler.md) reads in this order. The
// one seam is the timer heaps with send_after (about 230 lines: the
// "timers" section and timer_*); moving them out means moving `Sched` into
// worker.h, which is the next step if the file grows. host.cpp (the main
// thread as a worker), stack.cpp and context.cpp are already apart.
#include "runtime/sched/scheduler.h"

#include <csignal>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include <sys/mman.h>

#include "abi/include/snowrt.h"
#include "runtime/common/common.h"
#include "runtime/sched/worker.h"

namespace snow::rt {

namespace {

constexpr int kBudget = kSchedBudget;  // reduction checks per time slice
constexpr int kLowEvery = 8;           // a low-priority task runs at least every 8 picks

struct SendAfterTimer : TimerNode {
  std::atomic<int> state{0};  // 0 pending, 1 fired, 2 cancelled
  uint64_t ref = 0;
  uint64_t target = 0;
  void* payload = nullptr;
};
enum { kPending = 0, kFired = 1, kCancelled = 2 };

}  // namespace

namespace {

struct Sched {
  std::atomic<bool> running{false};
  std::atomic<bool> stopping{false};
  SchedHooks hooks{};
  SchedConfig cfg{};
  std::vector<Worker*> workers;
  // The host (worker.h, host.cpp), and every run queue: the workers, then
  // the host. Stealing, watching and the idle checks look at all of them.
  Worker* host = nullptr;
  std::vector<Worker*> queues;
  std::vector<StackSlot*> slots;
  std::atomic<uint64_t> next_slot{0};
  std::atomic<uint64_t> next_foreign_worker{0};
  // Idle workers, read by every enqueue: on a line of their own.
  alignas(kCacheLine) std::atomic<int> num_parked{0};
  std::atomic<int> num_spinning{0};  // workers in spin_for_work (a hint)
  std::atomic<int> num_watching{0};  // 0 or 1: the watcher (wait_for_work)
  alignas(kCacheLine) std::atomic<int64_t> timers_pending{0};
  std::atomic<int64_t> dedicated_slots{0};
  std::atomic<uint64_t> timer_order{0};
  std::atomic<int> exited_workers{0};
  // send_after refs -> timer, striped.
  static constexpr int kStripes = 64;
  struct Stripe {
    std::mutex mu;
    std::unordered_map<uint64_t, SendAfterTimer*> map;
  } stripes[kStripes];
};

// Never destroyed (see Dist in dist.cpp).
Sched& g = *new Sched();
SNOW_TLS Worker* t_worker = nullptr;
// The hosting thread while its hosted task runs its own code (not in the
// host loop): what it makes runnable may go to the host's queue.
SNOW_TLS bool t_hosting = false;
struct sigaction g_old_segv;
struct sigaction g_old_bus;

// ---------------------------------------------------------------- timers

bool timer_less(const TimerNode* a, const TimerNode* b) {
  return a->deadline < b->deadline || (a->deadline == b->deadline && a->order < b->order);
}

void heap_swap(std::vector<TimerNode*>& h, size_t i, size_t j) {
  std::swap(h[i], h[j]);
  h[i]->heap_index = int32_t(i);
  h[j]->heap_index = int32_t(j);
}

void heap_up(std::vector<TimerNode*>& h, size_t i) {
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (!timer_less(h[i], h[p])) break;
    heap_swap(h, i, p);
    i = p;
  }
}

void heap_down(std::vector<TimerNode*>& h, size_t i) {
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < h.size() && timer_less(h[l], h[m])) m = l;
    if (r < h.size() && timer_less(h[r], h[m])) m = r;
    if (m == i) break;
    heap_swap(h, i, m);
    i = m;
  }
}

// Both under w->timer_mu.
void heap_insert(Worker* w, TimerNode* n) {
  n->owner = w;
  n->heap_index = int32_t(w->heap.size());
  w->heap.push_back(n);
  heap_up(w->heap, w->heap.size() - 1);
  w->next_deadline.store(w->heap.front()->deadline, std::memory_order_release);
}

void heap_remove(Worker* w, TimerNode* n) {
  auto& h = w->heap;
  size_t i = size_t(n->heap_index);
  size_t last = h.size() - 1;
  if (i != last) {
    heap_swap(h, i, last);
  }
  h.pop_back();
  n->heap_index = -1;
  if (i < h.size()) {
    heap_down(h, i);
    heap_up(h, i);
  }
  w->next_deadline.store(h.empty() ? INT64_MAX : h.front()->deadline, std::memory_order_release);
}

}  // namespace

void wake_worker(Worker* w, Wake why) {
  std::lock_guard<std::mutex> lk(w->park_mu);
  if (why > w->wake) w->wake = why;
  w->park_cv.notify_one();
}

namespace {

void insert_timer(Worker* w, TimerNode* n) {
  n->order = g.timer_order.fetch_add(1, std::memory_order_relaxed);
  // Read before publishing: once in the heap the owner may fire and free a
  // send-after timer at any moment.
  const int64_t deadline = n->deadline;
  bool earlier;
  {
    std::lock_guard<std::mutex> lk(w->timer_mu);
    heap_insert(w, n);
    earlier = w->heap.front() == n;
  }
  // A parked worker sleeps until its earliest deadline: wake it if this
  // timer is earlier (only possible when the inserter is another thread).
  if (earlier && w != t_worker && w->parked.load(std::memory_order_seq_cst) &&
      deadline < w->park_deadline.load(std::memory_order_acquire))
    wake_worker(w);
}

// The host owns no timers: its thread may run main's code for a long time
// and would strand them.
Worker* timer_home() {
  Worker* w = t_worker;
  if (w && w != g.host) return w;
  return g.workers[g.next_foreign_worker.fetch_add(1, std::memory_order_relaxed) % g.workers.size()];
}

void run_expired_timers(Worker* w) {
  int64_t nd = w->next_deadline.load(std::memory_order_acquire);
  if (nd == INT64_MAX) return;
  int64_t now = now_ns();
  if (nd > now) return;
  struct Fired {
    bool send_after;
    uint64_t a, b;
    SendAfterTimer* sa;
  };
  Fired fired[64];
  int n = 0;
  {
    std::lock_guard<std::mutex> lk(w->timer_mu);
    while (!w->heap.empty() && w->heap.front()->deadline <= now && n < 64) {
      TimerNode* t = w->heap.front();
      heap_remove(w, t);
      if (t->is_send_after) {
        fired[n++] = Fired{true, 0, 0, static_cast<SendAfterTimer*>(t)};
      } else {
        auto* wt = static_cast<WaitTimer*>(t);
        // Copy what delivery needs now: the task may be freed once we unlock.
        fired[n++] = Fired{false, wt->cookie, wt->seq, nullptr};
      }
    }
  }
  for (int i = 0; i < n; ++i) {
    g.timers_pending.fetch_sub(1, std::memory_order_acq_rel);
    if (!fired[i].send_after) {
      g.hooks.wait_timeout(fired[i].a, fired[i].b);
      continue;
    }
    SendAfterTimer* t = fired[i].sa;
    int expect = kPending;
    bool fire = t->state.compare_exchange_strong(expect, kFired, std::memory_order_acq_rel);
    {
      auto& st = g.stripes[t->ref % Sched::kStripes];
      std::lock_guard<std::mutex> lk(st.mu);
      st.map.erase(t->ref);
    }
    if (fire) g.hooks.send_after_fire(t->payload, t->target);
    else g.hooks.send_after_drop(t->payload);
    destroy(t);
  }
}

// ---------------------------------------------------------------- run queues

// Each worker's queue has a lock-free ring for the normal-priority tasks its
// own thread makes runnable (the common case: a process wakes or spawns
// another, a slice ends), and a locked inbox for the rest (worker.h). The
// owner's path takes no lock while its inbox is empty; thieves take half
// a ring at a time, so a busy worker feeding an idle one is interrupted
// once per batch rather than once per task.
//
// Order among normal tasks is FIFO as with one list: tasks pushed to the
// front (`urgent`) come first, then the ring, then inbox[1]. Every task in
// the ring is older than every task in inbox[1]: other threads push to
// inbox[1]; the owner pushes to the ring only while inbox[1] is empty
// (otherwise behind it, into inbox[1]); a full ring sends the new task to
// inbox[1]; inbox[1] is picked from only once the ring is empty, and the
// owner's pushes return to the ring once inbox[1] is empty. (Moving inbox[1]
// into an empty ring in one go chased 256 cold `rq_next` links in a row,
// which one scheduler spawning 100,000 processes paid as 5 % of its time;
// one pick at a time, the next task's line is prefetched while this one
// runs.) Pick order on the owner: high priority first; then,
// counting picks, a low-priority task on every kLowEvery-th pick;
// otherwise normal tasks in the order above; low-priority tasks when
// nothing else is queued.

unsigned priority_of(const Task* t) { return t->priority < 3 ? t->priority : 1; }

// This thread owns `w`'s ring: it runs w's loop, or it is the hosting
// thread (which alone pushes to the host's queue, see host.cpp).
bool owns_ring(const Worker* w) { return w == t_worker || (t_hosting && w == g.host); }

void inbox_push(Worker* w, Task* t, bool front) {
  {
    std::lock_guard<SpinLock> lk(w->inbox_mu);
    const unsigned p = priority_of(t);
    if (front && p == 1) w->urgent.push_front(t);
    else if (front) w->inbox[p].push_front(t);
    else w->inbox[p].push_back(t);
    if (p == 1 && !front)
      w->inbox_normal.store(w->inbox_normal.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  w->inbox_size.fetch_add(1, std::memory_order_seq_cst);
}

void rq_push(Worker* w, Task* t, bool front) {
  if (front || priority_of(t) != 1 || !owns_ring(w) || w->inbox_normal.load(std::memory_order_relaxed) > 0 ||
      !w->ring.push(t))
    inbox_push(w, t, front);
}

// Under inbox_mu: the first task of `l`, counted out of the inbox.
Task* take_locked(Worker* w, TaskList& l) {
  Task* t = l.pop_front();
  if (!t) return nullptr;
  if (&l == &w->inbox[1])
    w->inbox_normal.store(w->inbox_normal.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
  w->inbox_size.fetch_sub(1, std::memory_order_acq_rel);
  return t;
}

// The owner's pick from an inbox that may hold something (see above).
// High, low and front-pushed tasks are looked for first only when the
// inbox holds more than its normal tasks: a spawner whose ring filled then
// pays one lock per pick, not two. (`inbox_normal` is exact under the lock
// and `inbox_size` is raised just after it, so a task pushed by another
// thread a moment ago may be seen one pick later; none is missed: the
// last section looks at every list.)
Task* rq_pop_with_inbox(Worker* w) {
  if (w->inbox_size.load(std::memory_order_acquire) > w->inbox_normal.load(std::memory_order_relaxed)) {
    std::lock_guard<SpinLock> lk(w->inbox_mu);
    if (Task* t = take_locked(w, w->inbox[0])) return t;
    ++w->picks;
    if (w->picks % kLowEvery == 0)
      if (Task* t = take_locked(w, w->inbox[2])) return t;
    if (Task* t = take_locked(w, w->urgent)) return t;
  } else {
    ++w->picks;
  }
  if (Task* t = w->ring.pop()) return t;
  std::lock_guard<SpinLock> lk(w->inbox_mu);
  for (TaskList* l : {&w->inbox[1], &w->inbox[0], &w->urgent, &w->inbox[2]})
    if (Task* t = take_locked(w, *l)) {
      // The next pick's task is cold (queued long ago, or by another CPU):
      // fetch its line while this one runs.
      if (l->head) __builtin_prefetch(l->head);
      return t;
    }
  return nullptr;
}

// Under inbox_mu: the older half of v's inbox[1] (rounded up, at most
// `max`) into out[0..n), in order; one inbox_size update for the batch.
size_t take_inbox_half_locked(Worker* v, Task** out, size_t max) {
  const int64_t queued = v->inbox_normal.load(std::memory_order_relaxed);
  size_t n = size_t((queued + 1) / 2);
  if (n > max) n = max;
  for (size_t i = 0; i < n; ++i) out[i] = v->inbox[1].pop_front();
  v->inbox_normal.store(queued - int64_t(n), std::memory_order_relaxed);
  if (n) v->inbox_size.fetch_sub(int64_t(n), std::memory_order_acq_rel);
  return n;
}

// A task leaves v's queue: it no longer counts in v's busy_queued or
// fresh_queued.
inline void left_queue(Worker* v, Task* t) {
  if (t->queued_busy) {
    t->queued_busy = false;
    v->busy_queued.fetch_sub(1, std::memory_order_relaxed);
  }
  if (t->queued_fresh) {
    t->queued_fresh = false;
    v->fresh_queued.fetch_sub(1, std::memory_order_relaxed);
  }
}

// Takes up to half of `v`'s queue into out[0..n), returns n (0: nothing).
// High-priority and front-pushed tasks are taken alone and first (they are
// rare: a failed park, another priority). Then normal tasks by age: the
// older half of v's ring in one CAS, or, when the ring is empty, the older
// half of v's inbox[1] under one lock (a spawner whose ring filled queues
// its children there: one at a time, a thief would contend with every
// push). Low-priority tasks one at a time, last.
size_t take_for_thief(Worker* v, Task** out) {
  if (v->inbox_size.load(std::memory_order_acquire) > 0) {
    std::lock_guard<SpinLock> lk(v->inbox_mu);
    for (TaskList* l : {&v->inbox[0], &v->urgent})
      if ((out[0] = take_locked(v, *l))) return 1;
  }
  size_t n = v->ring.steal(out, TaskRing::kCapacity / 2);
  if (n == 0 && v->inbox_size.load(std::memory_order_acquire) > 0) {
    std::lock_guard<SpinLock> lk(v->inbox_mu);
    n = take_inbox_half_locked(v, out, TaskRing::kCapacity / 2);
    if (n == 0)
      for (TaskList* l : {&v->inbox[2], &v->inbox[0], &v->urgent})
        if ((out[0] = take_locked(v, *l))) return 1;
  }
  return n;
}

// Up to half of `v`'s queue for `self` (a worker, on its own thread): the
// first task is returned, the rest go to self's ring.
Task* steal_from(Worker* v, Worker* self) {
  Task* batch[TaskRing::kCapacity / 2];
  const size_t n = take_for_thief(v, batch);
  for (size_t i = 0; i < n; ++i) left_queue(v, batch[i]);
  for (size_t i = 1; i < n; ++i) rq_push(self, batch[i], false);
  return n ? batch[0] : nullptr;
}

}  // namespace

Task* rq_pop(Worker* w) {
  Task* t;
  if (w->inbox_size.load(std::memory_order_acquire) > 0) {
    t = rq_pop_with_inbox(w);
  } else {
    t = w->ring.pop();
    if (t) ++w->picks;
  }
  if (t) left_queue(w, t);
  return t;
}

namespace {

// The loop's look for work in the other queues, young tasks left out (see
// "placement" below). The host's queue counts: what main woke waits there
// while main runs.
Task* steal(Worker* self) {
  size_t n = g.queues.size();
  for (size_t k = 1; k < n; ++k) {
    Worker* v = g.queues[(self->index + k) % n];
    if (rq_movable(v) <= 0) continue;
    if (Task* t = steal_from(v, self)) return t;
  }
  return nullptr;
}

bool any_queued() {
  for (Worker* w : g.queues)
    if (rq_len(w, std::memory_order_seq_cst) > 0) return true;
  return false;
}

void wake_one_parked(Worker* prefer, Wake why = kWakeForWork) {
  if (g.num_parked.load(std::memory_order_seq_cst) == 0) return;
  if (prefer && prefer->parked.load(std::memory_order_seq_cst)) {
    wake_worker(prefer, why);
    return;
  }
  for (Worker* w : g.workers)
    if (w->parked.load(std::memory_order_seq_cst)) {
      wake_worker(w, why);
      return;
    }
}

// No idle worker is watching, so none would notice a task queued behind a
// worker that keeps its current task (see "watching" below). A spinning
// worker does not count: it may find work of its own and stay busy.
bool nobody_watching() { return g.num_watching.load(std::memory_order_seq_cst) == 0; }

// Runnable task: onto the current worker's queue (cache affinity: the waker
// just touched the data the task will read), or for other threads onto the
// worker it last ran on. Another worker is woken for it only when there is
// more work than the current one will get to soon. When a running task
// queues one behind itself and no idle worker watches, a parked one is
// woken to watch: it takes the task only if this worker then keeps the
// same task for a whole watch period.
//
// The main thread running main's own code counts as its host running a
// task: a process it wakes goes to the host's queue, so that main's next
// wait runs it on this thread (a main <-> process round trip then never
// leaves user space), but only while that queue is empty: a batch goes to
// the workers as from any other thread. A process that has never run
// starts on the workers, spawned by main or by a process the host runs:
// the host cannot be preempted, and main waits behind whatever it runs,
// so it runs only processes that already answered main (or its partners)
// rather than new code that may compute for long without yielding.
//
// Placement of new processes: a process that the running task spawns is
// *young* until that task's slice ends. Young tasks count for no wake-up
// and no thief takes them (`rq_movable`): moving a child that exits within
// a microsecond costs more than running it here (its control block, pid
// slot and stack binding were just written by this CPU and would be read,
// written and freed by the other: measured, two schedulers then ran
// spawn+exit at a fifth of one's rate). They become movable when the
// spawner's slice ends (a yield, a wait, an exit): then the usual rules
// spread them, unless the children spawned here have lately been cheap
// (most exited within a few reductions of their first slice: a spawn+exit
// loop): while such children wait here, nothing here is movable
// (`Worker::fresh_cheap`). A spawner that keeps its worker past a watch
// period is the watcher's case: it takes half the queue, young or not.
void enqueue(Task* t, bool front) {
  Worker* self = t_worker;
  if (self == g.host && !t->started) self = nullptr;
  if (self) {
    // Read before the push: once queued, a thief may start the task.
    const bool young = self->current && !t->started;
    if (young) {
      t->queued_fresh = true;
      self->fresh_queued.fetch_add(1, std::memory_order_relaxed);
    }
    rq_push(self, t, front);
    if (young) self->young.store(self->young.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    if (rq_movable(self) >= 2) wake_one_parked(nullptr);
    else if (self->current && nobody_watching()) wake_one_parked(nullptr, kWakeToWatch);
    return;
  }
  if (t_hosting && t->started && rq_len(g.host) == 0) {
    rq_push(g.host, t, front);
    if (nobody_watching()) wake_one_parked(nullptr, kWakeToWatch);
    return;
  }
  Worker* w = t->last_worker >= 0
                  ? g.workers[size_t(t->last_worker) % g.workers.size()]
                  : g.workers[g.next_foreign_worker.fetch_add(1, std::memory_order_relaxed) % g.workers.size()];
  rq_push(w, t, front);
  wake_one_parked(w);
}

// ---------------------------------------------------------------- slots

bool slot_acquire(StackSlot* s, Task* t) {
  std::lock_guard<SpinLock> lk(s->mu);
  if (s->busy) {
    t->rq_next = nullptr;
    if (s->waiting_tail) s->waiting_tail->rq_next = t;
    else s->waiting_head = t;
    s->waiting_tail = t;
    return false;
  }
  s->busy = true;
  return true;
}

void slot_release(Worker* w, StackSlot* s) {
  Task* waiting;
  {
    std::lock_guard<SpinLock> lk(s->mu);
    s->busy = false;
    waiting = s->waiting_head;
    s->waiting_head = s->waiting_tail = nullptr;
  }
  while (waiting) {
    Task* next = waiting->rq_next;
    rq_push(w, waiting, false);
    waiting = next;
  }
}

void evict(StackSlot* s, Task* r) {
  size_t used = size_t(s->top - static_cast<char*>(r->ctx));
  if (used > r->saved_cap) {
    mem_free(r->saved);
    r->saved = static_cast<uint8_t*>(mem_alloc(used));
    if (!r->saved) fatal_oom("evicting a process stack");
    r->saved_cap = uint32_t(used);
  }
  sanitizer_unpoison(r->ctx, used);
  std::memcpy(r->saved, r->ctx, used);
  r->saved_len = uint32_t(used);
}

void restore(StackSlot* s, Task* t) {
  sanitizer_unpoison(s->top - s->usable, s->usable);
  std::memcpy(t->ctx, t->saved, t->saved_len);
  // Keep small buffers for the next eviction; give big ones back.
  if (t->saved_cap > 16 * 1024) {
    mem_free(t->saved);
    t->saved = nullptr;
    t->saved_cap = 0;
  }
  t->saved_len = 0;
}

void task_trampoline(transfer_t tr) {
  Worker* w = static_cast<Worker*>(tr.data);
  Task* t = w->current;
  sanitizer_finish_switch(t->san);
  w->sched_ctx = tr.fctx;
  t->entry(t);
  fatal("a process entry returned into the trampoline");
}

// After a task's first slice: whether the children spawned here are cheap
// (Worker::fresh_cheap), judged every kFreshWindow first slices: cheap when
// three quarters of them ended in an exit within kCheapReductions.
// `reductions_left` is what the slice left of its budget.
constexpr uint32_t kFreshWindow = 64;
constexpr int32_t kCheapReductions = kBudget / 20;

void note_first_slice(Worker* w, bool exited, int32_t reductions_left) {
  if (exited && reductions_left > kBudget - kCheapReductions) ++w->cheap_first_slices;
  if (++w->first_slices < kFreshWindow) return;
  w->fresh_cheap.store(w->cheap_first_slices * 4 >= kFreshWindow * 3, std::memory_order_relaxed);
  w->first_slices = w->cheap_first_slices = 0;
}

// A task's time slice ran out while others wait here: two busy processes
// must not share one worker, so an idle one is woken to take some of them.
// "Busy" is judged by how a task's last slice ended: a yield, unless the
// slice went mostly to receives (a quarter of its budget or more): such a
// task is a consumer keeping up with its producer, which most likely waits
// in this same queue. Tasks woken or spawned (their last slice ended in a
// wait, or they have not run) do not count either. Moving the consumer, or
// the producer away from it, would make each message cross between CPUs:
// one-way sends then ran at a third of one scheduler's rate (send_tput).
// A busy task among the waiting ones wakes a worker at its own yield;
// enqueue wakes one when a running task queues two movable tasks, and the
// watcher still takes work from a worker that keeps one task.
// Pushes a task whose slice ended in a yield back onto w's queue, and wakes
// an idle worker when it and another busy task now wait there.
void requeue_yielded(Worker* w, Task* t) {
  const bool busy = t_sched_slice_receives < uint32_t(kBudget / 4);
  if (busy) {
    t->queued_busy = true;
    w->busy_queued.fetch_add(1, std::memory_order_relaxed);
  }
  rq_push(w, t, false);
  if (busy && w->busy_queued.load(std::memory_order_relaxed) >= 2) wake_one_parked(nullptr);
}

}  // namespace

void run_task(Worker* w, Task* t) {
  StackSlot* s = t->slot;
  if (!slot_acquire(s, t)) return;
  const bool first_slice = !t->started;
  if (s->resident != t) {
    if (Task* r = s->resident) evict(s, r);
    if (t->started) {
      restore(s, t);
    } else {
      sanitizer_unpoison(s->top - s->usable, s->usable);
      t->ctx = boost::context::detail::make_fcontext(s->top, s->usable, task_trampoline);
      t->started = true;
    }
    s->resident = t;
  }
  t->san.stack_bottom = s->top - s->usable;
  t->san.stack_size = s->usable;
  w->current = t;
  w->slices.store(w->slices.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  t_sched_reductions = kBudget;
  t_sched_slice_receives = 0;
  t->last_worker = int32_t(w->index);
  w->overflowed = false;
  transfer_t tr = switch_context(w->san, t->san, t->ctx, w);
  w->current = nullptr;
  w->young.store(0, std::memory_order_relaxed);  // the slice is over: what it spawned may move
  if (g.hooks.after_slice) g.hooks.after_slice();
  if (w->overflowed) {
    s->resident = nullptr;
    slot_release(w, s);
    g.hooks.overflow(t);
    g.hooks.reap(t);
    return;
  }
  t->ctx = tr.fctx;
  // Read now: an exit frees the task.
  const SwitchReason reason = t->switch_reason;
  const int32_t reductions_left = t_sched_reductions;
  switch (reason) {
    case SwitchReason::Yield:
      slot_release(w, s);
      requeue_yielded(w, t);
      break;
    case SwitchReason::Park:
      slot_release(w, s);
      if (!g.hooks.try_sleep(t)) rq_push(w, t, true);
      break;
    case SwitchReason::Exit:
      s->resident = nullptr;
      slot_release(w, s);
      g.hooks.reap(t);
      break;
  }
  if (first_slice) note_first_slice(w, reason == SwitchReason::Exit, reductions_left);
}

namespace {

// ---------------------------------------------------------------- parking

// Before parking, watch the queues for a short while (yielding the CPU each
// round, so on a busy or single CPU this costs nothing): work that arrives
// within the window is picked up without a futex wake-up, which on this kind
// of machine costs tens of microseconds when it crosses CPUs. A quiet
// runtime still parks after the window and then uses no CPU.

// Work worth ending the spin (or a watching park) for: this worker's own
// queue (wake-ups from other threads land there), or another worker with
// more than it can start next. A single task queued behind a busy worker
// does not count: the wake policy would not wake us for it either, since
// taking it would split a ping-pong pair across CPUs. The steal right
// before the spin still takes it when it was already there, and a watching
// worker takes it once the busy worker has kept one task for a whole watch
// period (below).
bool work_for(Worker* w, std::memory_order order = std::memory_order_relaxed) {
  if (rq_len(w, order) > 0) return true;
  for (Worker* v : g.queues)
    if (v != w && rq_movable(v, order) >= 2) return true;
  return false;
}

// Between two looks a spinning worker gives the CPU away (sched_yield).
// Waiting with `pause` instead and yielding only every 8th round saved
// system calls on an idle thief, but when the CPU is shared (two nodes on
// one CPU, a container with one CPU) the spinner then kept it from the
// thread that had the work: every remote latency row with both nodes on
// CPU0 went from about 30 us to 100 us (the whole spin period per hop).
bool spin_rounds(Worker* w) {
  int64_t end = now_ns() + g.cfg.spin_ns;
  while (now_ns() < end) {
    if (g.hooks.poll_io) g.hooks.poll_io();
    if (work_for(w) || g.stopping.load(std::memory_order_relaxed)) return true;
    if (w->next_deadline.load(std::memory_order_relaxed) <= now_ns()) return true;
    std::this_thread::yield();
  }
  return false;
}

bool spin_for_work(Worker* w) {
  if (g.cfg.spin_ns <= 0) return false;
  g.num_spinning.fetch_add(1, std::memory_order_seq_cst);
  bool found = spin_rounds(w);
  int left = g.num_spinning.fetch_sub(1, std::memory_order_seq_cst) - 1;
  if (!found && left == 0 && g.hooks.poll_io_done) g.hooks.poll_io_done();
  return found;
}

enum class ParkEnd {
  Work,    // woken for work, work seen at the re-check, a timer due, or stopping
  Watch,   // woken to watch the busy workers
  Period,  // the watch period passed
};

// Parks until woken or this worker's earliest timer is due; the watcher
// (watch_until != INT64_MAX) at most until watch_until. The re-check after
// announcing the park looks for work_for's work and, when nobody watches,
// for any queued task; a task queued behind a busy worker is the watcher's
// to take when its period ends.
ParkEnd park(Worker* w, int64_t watch_until) {
  const bool watching = watch_until != INT64_MAX;
  const int64_t timer = w->next_deadline.load(std::memory_order_acquire);
  const int64_t deadline = std::min(timer, watch_until);
  std::unique_lock<std::mutex> lk(w->park_mu);
  w->park_deadline.store(deadline, std::memory_order_release);
  w->parked.store(true, std::memory_order_seq_cst);
  int parked_now = g.num_parked.fetch_add(1, std::memory_order_seq_cst) + 1;
  // Re-check after announcing: a pusher either sees us parked or we see its
  // work (both sides use seq_cst: Dekker's argument, see scheduler.md).
  bool work = work_for(w, std::memory_order_seq_cst) || (!watching && nobody_watching() && any_queued()) ||
              w->wake != kNotWoken || g.stopping.load(std::memory_order_acquire) ||
              w->next_deadline.load(std::memory_order_acquire) < timer;
  if (!work) {
    if (parked_now == int(g.workers.size()) && g.timers_pending.load(std::memory_order_acquire) == 0 &&
        g.hooks.quiescent)
      g.hooks.quiescent();
    while (w->wake == kNotWoken && !g.stopping.load(std::memory_order_acquire)) {
      if (deadline == INT64_MAX) {
        w->park_cv.wait(lk);
      } else {
        int64_t left = deadline - now_ns();
        if (left <= 0) break;
        if (w->park_cv.wait_for(lk, std::chrono::nanoseconds(left)) == std::cv_status::timeout) break;
      }
    }
  }
  const Wake why = w->wake;
  w->wake = kNotWoken;
  w->parked.store(false, std::memory_order_seq_cst);
  g.num_parked.fetch_sub(1, std::memory_order_seq_cst);
  w->park_deadline.store(INT64_MAX, std::memory_order_release);
  if (work || why == kWakeForWork || g.stopping.load(std::memory_order_acquire)) return ParkEnd::Work;
  if (why == kWakeToWatch) return ParkEnd::Watch;
  if (!watching || w->next_deadline.load(std::memory_order_acquire) <= now_ns()) return ParkEnd::Work;
  return ParkEnd::Period;
}

// ---------------------------------------------------------------- watching

// A task made runnable by a running task waits in that worker's queue (the
// ping-pong rule in enqueue). If the running task then keeps the worker (a
// process that never reaches a reduction check), only another worker can
// run it. So while some worker is busy, one idle worker (at most one: the
// watcher) parks for watch periods instead of indefinitely, and when a
// period ends takes a task from a worker that has tasks queued but started
// none during the period. Ping-pong partners are started by their own
// worker within microseconds and are left alone. scheduler.md, "Watching
// busy workers", explains why no queued task goes unwatched.

// Whether another worker is running tasks: neither parked nor spinning.
// Asked by a worker that is neither; a hint (the counts move as they are
// read): a wrong "no" is caught by the park's re-check or costs a wake-up,
// a wrong "yes" costs a watch period.
bool workers_busy() {
  return g.num_parked.load(std::memory_order_seq_cst) + g.num_spinning.load(std::memory_order_seq_cst) <
         int(g.workers.size()) - 1;
}

// The host is busy while its thread runs the hosted task's own code or a
// task, rather than waiting in the host loop.
bool host_busy() {
  Worker* h = g.host;
  return h->hosted.load(std::memory_order_relaxed) && !h->host_idle.load(std::memory_order_seq_cst);
}

bool others_busy() { return workers_busy() || host_busy(); }

// After a watch period: the watch goes on while a worker is busy, or while
// the host is and tasks may queue behind it: some are queued, or it started
// tasks during the period (main is talking to processes, and each message
// main sends may queue one). A main thread busy in its own code and talking
// to nobody keeps no worker awake.
bool keep_watching(bool host_moved) {
  return workers_busy() || (host_busy() && (host_moved || rq_len(g.host, std::memory_order_seq_cst) > 0));
}

bool queued_elsewhere(Worker* w) {
  for (Worker* v : g.queues)
    if (v != w && rq_len(v, std::memory_order_seq_cst) > 0) return true;
  return false;
}

bool start_watching() {
  int none = 0;
  return g.num_watching.compare_exchange_strong(none, 1, std::memory_order_seq_cst);
}

// Hands the watch over when a task may still wait behind another worker
// (an enqueue that saw us watching woke nobody for it) and nobody else has
// taken the watch.
void stop_watching(Worker* w) {
  g.num_watching.fetch_sub(1, std::memory_order_seq_cst);
  if (queued_elsewhere(w) && nobody_watching()) wake_one_parked(nullptr, kWakeToWatch);
}

void remember_slices(Worker* w) {
  for (Worker* v : g.queues) w->seen_slices[v->index] = v->slices.load(std::memory_order_relaxed);
}

// A task from a worker that still has tasks queued and started none since
// this one last looked, or nullptr. *host_moved: the host started tasks.
Task* take_from_stuck_worker(Worker* w, bool* host_moved) {
  Task* t = nullptr;
  for (Worker* v : g.queues) {
    uint64_t slices = v->slices.load(std::memory_order_relaxed);
    if (v == g.host) *host_moved = slices != w->seen_slices[v->index];
    if (!t && v != w && slices == w->seen_slices[v->index] && rq_len(v) > 0) t = steal_from(v, w);
    w->seen_slices[v->index] = slices;
  }
  return t;
}

// An idle worker's wait: the watcher's while another worker is busy and
// nobody else watches, otherwise a plain park. Returns a task taken from a
// stuck worker, or nullptr when this worker should look for work again;
// *to_watch then says it was woken only to watch (so it should take no
// single task from a busy worker now).
// A worker woken to watch watches at least one period even when nothing
// looks busy any more: the host that woke it may be between two of main's
// sends (its loop idle for a moment), and returning to a plain park would
// make main's next send wake a worker again.
Task* wait_for_work(Worker* w, bool* to_watch) {
  const bool asked = *to_watch;
  *to_watch = false;
  if (!(asked || others_busy()) || !start_watching()) {
    *to_watch = park(w, INT64_MAX) == ParkEnd::Watch;
    return nullptr;
  }
  remember_slices(w);
  Task* t = nullptr;
  for (;;) {
    ParkEnd end = park(w, now_ns() + g.cfg.watch_ns);
    if (end == ParkEnd::Work) break;
    if (end != ParkEnd::Period) continue;
    bool host_moved = false;
    if ((t = take_from_stuck_worker(w, &host_moved)) || !keep_watching(host_moved)) break;
  }
  stop_watching(w);
  return t;
}

// ---------------------------------------------------------------- overflow

void segv_handler(int sig, siginfo_t* si, void* uc) {
  Worker* w = t_worker;
  if (w && w->current && w->current->slot && stack_slot_guard_hit(w->current->slot, si->si_addr)) {
    w->overflowed = true;
    // Leave the dead stack for the scheduler context; SA_NODEFER keeps
    // SIGSEGV deliverable afterwards, and the kernel sees we left the
    // alternate stack by the stack pointer.
    boost::context::detail::jump_fcontext(w->sched_ctx, nullptr);
  }
  struct sigaction* old = sig == SIGSEGV ? &g_old_segv : &g_old_bus;
  if (old->sa_flags & SA_SIGINFO) {
    if (old->sa_sigaction) {
      old->sa_sigaction(sig, si, uc);
      return;
    }
  } else if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN) {
    old->sa_handler(sig);
    return;
  }
  signal(sig, SIG_DFL);
  raise(sig);
}

void install_overflow_handler() {
#if defined(SNOW_SANITIZE_ADDRESS)
  // ASan has its own SIGSEGV handler that reports stack overflows; our jump
  // out of a signal handler would bypass its fiber bookkeeping.
  return;
#endif
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_sigaction = segv_handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigaction(SIGSEGV, &sa, &g_old_segv);
    sigaction(SIGBUS, &sa, &g_old_bus);
  });
}

void worker_main(Worker* w) {
  t_worker = w;
  sanitizer_fiber_adopt_thread(w->san);
  const size_t alt = 64 * 1024;
  w->altstack = mmap(nullptr, alt, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (w->altstack != MAP_FAILED) {
    stack_t ss{};
    ss.ss_sp = w->altstack;
    ss.ss_size = alt;
    sigaltstack(&ss, nullptr);
  } else {
    w->altstack = nullptr;
  }
  w->seen_slices.assign(g.queues.size(), 0);
  bool to_watch = false;  // woken only to watch: take no task from a busy worker yet
  while (!g.stopping.load(std::memory_order_acquire)) {
    run_expired_timers(w);
    if (g.hooks.after_slice) g.hooks.after_slice();  // timers may have queued frames
    Task* t = rq_pop(w);
    if (!t && !to_watch) t = steal(w);
    if (!t && !to_watch && spin_for_work(w)) continue;
    if (!t) t = wait_for_work(w, &to_watch);
    if (t) run_task(w, t);
  }
  if (w->altstack) {
    stack_t ss{};
    ss.ss_flags = SS_DISABLE;
    sigaltstack(&ss, nullptr);
    munmap(w->altstack, alt);
  }
  t_worker = nullptr;
  g.exited_workers.fetch_add(1, std::memory_order_acq_rel);
}

// A cancelled timer leaves the count. When it was the last one and every
// worker is already parked (the cancel came from a thread that is not a
// worker), no worker will park again to report the runtime quiescent:
// report it here. The hook re-checks, so a false alarm costs a look.
void timer_uncount() {
  if (g.timers_pending.fetch_sub(1, std::memory_order_acq_rel) == 1 && g.hooks.quiescent &&
      g.num_parked.load(std::memory_order_seq_cst) == int(g.workers.size()))
    g.hooks.quiescent();
}

}  // namespace

// ---------------------------------------------------------------- public

// Not inlined: a process may resume on another thread, and the compiler
// must not keep the TLS address of the thread it started on (context.h).
__attribute__((noinline)) Worker* worker_current() { return t_worker; }
void worker_set_current(Worker* w) { t_worker = w; }
Worker* sched_host() { return g.host; }

void hand_host_queue_to_workers(Worker* host) {
  while (Task* t = rq_pop(host)) {
    Worker* w = g.workers[g.next_foreign_worker.fetch_add(1, std::memory_order_relaxed) % g.workers.size()];
    rq_push(w, t, false);
    wake_one_parked(w);
  }
}

int sched_start(const SchedConfig& cfg, const SchedHooks& hooks) {
  if (g.running.load()) return SNOW_EALREADY;
  g.cfg = cfg;
  if (g.cfg.workers == 0) g.cfg.workers = 1;
  g.hooks = hooks;
  g.stopping.store(false);
  g.exited_workers.store(0);
  g.num_parked.store(0);
  install_overflow_handler();
  size_t nslots = size_t(g.cfg.workers) * g.cfg.slots_per_worker;
  for (size_t i = 0; i < nslots; ++i) {
    StackSlot* s = stack_slot_create(g.cfg.stack_size, false);
    if (!s) {
      for (StackSlot* x : g.slots) stack_slot_destroy(x);
      g.slots.clear();
      return SNOW_ENOMEM;
    }
    g.slots.push_back(s);
  }
  for (unsigned i = 0; i < g.cfg.workers; ++i) {
    Worker* w = new Worker();
    w->index = i;
    g.workers.push_back(w);
  }
  g.queues = g.workers;
  g.host = new Worker();
  g.host->index = g.cfg.workers;
  g.host->seen_slices.assign(g.cfg.workers + 1, 0);
  g.queues.push_back(g.host);
  g.running.store(true);
  for (Worker* w : g.workers) w->thread = std::thread(worker_main, w);
  return 0;
}

void sched_stop(int64_t grace_ms) {
  if (!g.running.load()) return;
  g.stopping.store(true, std::memory_order_seq_cst);
  for (Worker* w : g.workers) wake_worker(w);
  int64_t deadline = deadline_after_ms(grace_ms);
  while (g.exited_workers.load(std::memory_order_acquire) < int(g.workers.size()) && now_ns() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  bool all_exited = g.exited_workers.load() == int(g.workers.size());
  for (Worker* w : g.workers) {
    if (all_exited) w->thread.join();
    else w->thread.detach();
  }
  if (!all_exited) {
    // A worker is stuck in a task that never yields: its worker, slots and
    // timers stay allocated (it may still touch them); the tables forget
    // them so a later start begins clean.
    g.workers.clear();
    g.queues.clear();
    g.host = nullptr;
    g.slots.clear();
    g.timers_pending.store(0);
    g.running.store(false);
    return;
  }
  for (Worker* w : g.workers) {
    for (TimerNode* n : w->heap) {
      n->heap_index = -1;
      if (n->is_send_after) {
        auto* t = static_cast<SendAfterTimer*>(n);
        g.hooks.send_after_drop(t->payload);
        destroy(t);
      }
    }
    delete w;
  }
  for (auto& st : g.stripes) st.map.clear();
  g.workers.clear();
  g.queues.clear();
  delete g.host;  // its queue was handed over when hosting ended
  g.host = nullptr;
  for (StackSlot* s : g.slots) stack_slot_destroy(s);
  g.slots.clear();
  g.timers_pending.store(0);
  g.running.store(false);
}

bool sched_idle() { return g.num_parked.load(std::memory_order_seq_cst) == int(g.workers.size()) && !any_queued(); }

bool sched_running() { return g.running.load(std::memory_order_acquire); }
unsigned sched_worker_count() { return unsigned(g.workers.size()); }

bool sched_task_init(Task* t, size_t stack_size) {
  if (stack_size > g.cfg.stack_size) {
    StackSlot* s = stack_slot_create(stack_size, true);
    if (!s) return false;
    t->slot = s;
    g.dedicated_slots.fetch_add(1, std::memory_order_relaxed);
  } else {
    // One counter for every spawner: processes spawned one after another
    // get different slots whoever spawns them (a per-worker cursor made
    // the host and a worker hand out the same slots to a supervisor and its
    // children, which then waited on each other's slot).
    t->slot = g.slots[g.next_slot.fetch_add(1, std::memory_order_relaxed) % g.slots.size()];
  }
  sanitizer_fiber_create(t->san);
  return true;
}

void sched_task_release(Task* t) {
  if (t->slot && t->slot->dedicated) {
    stack_slot_destroy(t->slot);
    g.dedicated_slots.fetch_sub(1, std::memory_order_relaxed);
  }
  t->slot = nullptr;
  mem_free(t->saved);
  t->saved = nullptr;
  t->saved_cap = t->saved_len = 0;
  sanitizer_fiber_destroy(t->san);
}

void sched_make_runnable(Task* t) {
  if (t->is_thread) {
    if (t->hosted) host_wake_hosted(g.host);
    else t->parker->release();
    return;
  }
  enqueue(t, false);
}

bool sched_thread_wait(Task* t, int64_t deadline) {
  if (t->hosted) return host_wait(g.host, deadline);
  if (deadline == INT64_MAX) {
    t->parker->acquire();
    return true;
  }
  for (;;) {
    int64_t left = deadline - now_ns();
    if (left <= 0) return false;
    if (t->parker->try_acquire_for(std::chrono::nanoseconds(left))) return true;
  }
}

void sched_host_attach(Task* t) {
  Worker* h = g.host;
  t->hosted = true;
  h->hosted_ready.store(false, std::memory_order_relaxed);
  h->hosted.store(t, std::memory_order_release);
  host_thread_setup(h);
  t_hosting = true;
}

void sched_host_detach(Task* t) {
  Worker* h = g.host;
  if (!h || h->hosted.load(std::memory_order_relaxed) != t) return;
  t_hosting = false;
  h->hosted.store(nullptr, std::memory_order_release);
  t->hosted = false;
  host_thread_teardown(h);
  hand_host_queue_to_workers(h);
}

void sched_switch_out(Task* t, SwitchReason why) {
  Worker* w = worker_current();
  t->switch_reason = why;
  transfer_t tr = switch_context(t->san, w->san, w->sched_ctx, nullptr, why == SwitchReason::Exit);
  // Resumed, possibly by another worker: it passed itself.
  Worker* now = static_cast<Worker*>(tr.data);
  now->sched_ctx = tr.fctx;
}

bool sched_on_worker() { return worker_current() != nullptr; }

int sched_worker_index() {
  Worker* w = worker_current();
  return w ? int(w->index) : -1;
}

Task* sched_current_task() {
  Worker* w = worker_current();
  return w ? w->current : nullptr;
}

int64_t sched_spin_ns() { return g.cfg.spin_ns; }

int sched_spinning_workers() { return g.num_spinning.load(std::memory_order_seq_cst); }

__thread int32_t t_sched_reductions __attribute__((tls_model("initial-exec"))) = 0;
__thread uint32_t t_sched_slice_receives __attribute__((tls_model("initial-exec"))) = 0;

void sched_reductions_refill_off_worker() {
  if (!worker_current()) t_sched_reductions = kBudget;
}

void timer_arm_wait(Task* t, int64_t deadline_ns, uint64_t cookie, uint64_t seq) {
  WaitTimer& wt = t->wait_timer;
  wt.deadline = deadline_ns;
  wt.cookie = cookie;
  wt.seq = seq;
  wt.is_send_after = 0;
  g.timers_pending.fetch_add(1, std::memory_order_acq_rel);
  insert_timer(timer_home(), &wt);
}

bool timer_cancel_wait(Task* t) {
  WaitTimer& wt = t->wait_timer;
  Worker* w = wt.owner;
  if (!w) return false;
  bool removed = false;
  {
    std::lock_guard<std::mutex> lk(w->timer_mu);
    if (wt.heap_index >= 0) {
      heap_remove(w, &wt);
      removed = true;
    }
  }
  wt.owner = nullptr;
  if (removed) timer_uncount();
  return removed;
}

uint64_t timer_send_after(int64_t deadline_ns, uint64_t target, void* payload) {
  if (!sched_running()) return 0;
  auto* t = make<SendAfterTimer>();
  if (!t) return 0;
  t->is_send_after = 1;
  t->deadline = deadline_ns;
  t->target = target;
  t->payload = payload;
  t->ref = new_ref();
  // The owner is fixed before the ref becomes findable, so a racing cancel
  // always knows which heap lock to take.
  t->owner = timer_home();
  {
    auto& st = g.stripes[t->ref % Sched::kStripes];
    std::lock_guard<std::mutex> lk(st.mu);
    st.map.emplace(t->ref, t);
  }
  uint64_t ref = t->ref;
  g.timers_pending.fetch_add(1, std::memory_order_acq_rel);
  insert_timer(t->owner, t);
  return ref;
}

int64_t timer_cancel_send_after(uint64_t ref) {
  if (ref == 0 || !sched_running()) return 1;
  auto& st = g.stripes[ref % Sched::kStripes];
  std::lock_guard<std::mutex> lk(st.mu);
  auto it = st.map.find(ref);
  if (it == st.map.end()) return 1;
  SendAfterTimer* t = it->second;
  int expect = kPending;
  bool cancelled = t->state.compare_exchange_strong(expect, kCancelled, std::memory_order_acq_rel);
  st.map.erase(it);
  if (!cancelled) return 1;
  // Still in its heap: take it out now so its payload does not linger. If
  // the owner already popped it, the owner sees kCancelled and frees it.
  Worker* w = t->owner;
  bool removed = false;
  {
    std::lock_guard<std::mutex> hl(w->timer_mu);
    if (t->heap_index >= 0) {
      heap_remove(w, t);
      removed = true;
    }
  }
  if (removed) {
    timer_uncount();
    g.hooks.send_after_drop(t->payload);
    destroy(t);
  }
  return 0;
}

int64_t timers_pending() { return g.timers_pending.load(std::memory_order_acquire); }

int64_t sched_stacks_resident() { return int64_t(g.slots.size()) + g.dedicated_slots.load(std::memory_order_relaxed); }

}  // namespace snow::rt
