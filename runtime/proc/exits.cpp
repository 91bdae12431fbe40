// Exits: terminate callbacks, the exit of a process (callback, queue
// close, links, monitors and watchers notified, memory freed), the exit of
// thread processes and of abandoned attached threads, exit signals.
#include "runtime/proc/process_internal.h"

#include <pthread.h>

#include <cstdlib>

#include "runtime/proc/jobs.h"
#include "runtime/proc/reason.h"

namespace snow::rt {

inline namespace proc_detail {

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

void crash_report(Process* p, const uint8_t* reason) {
  char desc[512];
  reason_describe(reason, desc, sizeof desc);
  log_line("=CRASH REPORT==== process <0.%u.%u> exited: %s", local_pid_id(p->pid), local_pid_serial(p->pid), desc);
}

// What a finished process still holds in its mailbox and heap.
void free_held_memory(Process* p) {
  free_list(p->mbox_head);
  p->mbox_head = p->mbox_tail = nullptr;
  p->gauges.set(p->gauges.message_queue_len, 0);
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
  SNOW_ASSERT(p->exiting);
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
    for (auto& [id, node] : p->rel->node_monitors) R.dist.node_demonitor(id);
    if (p->rel->monitor_all_nodes) R.dist.monitor_all(p->pid, false);
    delete p->rel;
    p->rel = nullptr;
  }
  free_held_memory(p);
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
  drop_signals(p->anchor->queue.close());
  drop_signals(p->inbox);
  delete close_watchers(p);
  delete p->rel;
  if (p->jobs) jobs_end(p, false);  // every job ended with the runtime
  delete p->name;                   // the registry forgot it at the stop
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

// Marks the process exiting and runs its terminate callback, once, on its
// own context with the stored reason (a nested exit skips it).
void begin_exit(Process* p) {
  if (p->exiting) return;
  p->exiting = true;
  p->gauges.set_status(SNOW_PROC_EXITING);
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
    fatal("an exited process was resumed");
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

}  // namespace proc_detail

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
  fatal("an exit returned to its process");
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

}  // namespace snow::rt
