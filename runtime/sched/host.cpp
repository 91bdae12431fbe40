// The host: the main thread runs scheduler work while the main process
// waits (scheduler.h, "Host"; docs/design/scheduler.md, "The host").
//
// State machine of the hosting thread (one Worker object, `host`):
//
//   main's own code --main waits (sched_thread_wait)--> host loop
//   host loop: hosted_ready?  -> back to main's code
//              deadline due?  -> back to main's code (the wait timed out)
//              a task queued? -> run one slice of it (run_task), loop
//              otherwise      -> spin (spin_ns), then park on park_cv
//
// Why no wake-up is lost: the waker stores hosted_ready and then reads
// `parked`; the host stores `parked` and then reads hosted_ready, all
// seq_cst (Dekker), so at least one sees the other; a waker that sees the
// host parked takes park_mu, which the host holds from its check until it
// waits on the condition variable. Only the hosting thread pushes to the
// host's queue (enqueue and run_task on that thread), so a task can never
// arrive there while the host is parked. The host loop's context is the
// native main stack at the point where main waits: switching into a task
// and back is the same fcontext switch a worker makes, so the host's
// sanitizer fiber is the thread's own (host_thread_setup).
#include <sys/mman.h>

#include <csignal>

#include "runtime/sched/worker.h"

namespace snow::rt {

namespace {

constexpr std::size_t kAltStackBytes = 64 * 1024;

bool has_work(Worker* h) { return h->hosted_ready.load(std::memory_order_acquire) || rq_len(h) > 0; }

// Waits until the hosted task is made runnable or `deadline` passes: watches
// for spin_ns first, yielding the CPU each round (an answer from a process
// on a worker usually comes within microseconds, and catching it here
// saves the futex wake-up), then parks.
void idle_wait(Worker* h, int64_t deadline) {
  const int64_t spin_end = std::min(now_ns() + sched_spin_ns(), deadline);
  while (now_ns() < spin_end) {
    if (has_work(h)) return;
    std::this_thread::yield();
  }
  std::unique_lock<std::mutex> lk(h->park_mu);
  h->parked.store(true, std::memory_order_seq_cst);
  while (h->wake == kNotWoken && !h->hosted_ready.load(std::memory_order_seq_cst)) {
    if (deadline == INT64_MAX) {
      h->park_cv.wait(lk);
      continue;
    }
    const int64_t left = deadline - now_ns();
    if (left <= 0 || h->park_cv.wait_for(lk, std::chrono::nanoseconds(left)) == std::cv_status::timeout) break;
  }
  h->wake = kNotWoken;
  h->parked.store(false, std::memory_order_seq_cst);
}

}  // namespace

bool host_wait(Worker* h, int64_t deadline) {
  worker_set_current(h);
  h->host_idle.store(true, std::memory_order_seq_cst);
  bool ready = false;
  for (;;) {
    if (h->hosted_ready.exchange(false, std::memory_order_acq_rel)) {
      ready = true;
      break;
    }
    if (deadline != INT64_MAX && now_ns() >= deadline) break;
    if (Task* t = rq_pop(h)) {
      h->host_idle.store(false, std::memory_order_seq_cst);
      run_task(h, t);
      h->host_idle.store(true, std::memory_order_seq_cst);
      continue;
    }
    idle_wait(h, deadline);
  }
  h->host_idle.store(false, std::memory_order_seq_cst);
  worker_set_current(nullptr);
  return ready;
}

void host_wake_hosted(Worker* h) {
  h->hosted_ready.store(true, std::memory_order_seq_cst);
  // On the host's own thread (a task it runs, or main itself) nobody parks.
  if (worker_current() != h && h->parked.load(std::memory_order_seq_cst)) wake_worker(h);
}

void host_thread_setup(Worker* h) {
  sanitizer_fiber_adopt_thread(h->san);
  // The stack overflow handler runs on an alternate stack (the overflowed
  // one is unusable). Keep the program's own if it set one.
  stack_t old{};
  if (sigaltstack(nullptr, &old) != 0 || !(old.ss_flags & SS_DISABLE)) return;
  void* p = mmap(nullptr, kAltStackBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return;
  stack_t ss{};
  ss.ss_sp = p;
  ss.ss_size = kAltStackBytes;
  if (sigaltstack(&ss, nullptr) != 0) {
    munmap(p, kAltStackBytes);
    return;
  }
  h->altstack = p;
  h->own_altstack = true;
}

void host_thread_teardown(Worker* h) {
  if (!h->own_altstack) return;
  stack_t ss{};
  ss.ss_flags = SS_DISABLE;
  sigaltstack(&ss, nullptr);
  munmap(h->altstack, kAltStackBytes);
  h->altstack = nullptr;
  h->own_altstack = false;
}

}  // namespace snow::rt
