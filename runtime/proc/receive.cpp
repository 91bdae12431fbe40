// Receiving and waiting (owner context): selective receive over the
// mailbox (its loop, receive_matching, is inline in process_internal.h for
// the service calls), sleeps, waits for a condition, yields and reduction
// checks, and parking.
#include "runtime/proc/process_internal.h"

#include <thread>

namespace snow::rt {

inline namespace proc_detail {

// ---------------------------------------------------------------- waiting

namespace {

// The heap's size for its gauge. Out of line: heap_stats fills a whole
// struct, which would give every park a stack frame, and most processes
// have no heap.
__attribute__((noinline)) uint64_t heap_bytes_of(const Heap* h) { return heap_stats(h).heap_bytes; }

// Publishes the gauges only the owner can compute (introspect.h), at a
// park or yield: a few loads and stores, inlined into park.
inline void publish_gauges(Process* p) {
  ProcessGauges& g = p->gauges;
  const Relations* r = p->rel;
  g.set(g.links, r ? r->links.size() : 0);
  g.set(g.monitors, r ? r->monitors.size() : 0);
  g.set(g.heap_bytes, p->heap ? heap_bytes_of(p->heap) : 0);
  if (!p->task.is_thread) g.add_reductions(sched_reductions_used());
}

}  // namespace

// Thread processes wait on their OS thread: the main process's runs the
// host loop meanwhile, an attached thread's blocks.
void park(Process* p, int64_t deadline) {
  gc_safepoint(p);
  publish_gauges(p);
  GaugeStatus waiting(p->gauges, SNOW_PROC_WAITING);
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

}  // namespace proc_detail

const snow_msg* proc_receive(Process* p, int64_t timeout_ms, int (*match)(const snow_msg*, void*), void* ctx) {
  // Every receive counts one reduction, as a call does in BEAM: a loop
  // that polls with timeout 0 never parks, and without this it would keep
  // its worker (and its stack slot) for good. At the end of the budget the
  // process yields here, before it looks at its mailbox.
  sched_note_receive();
  if (!sched_reductions_left()) {
    sched_reductions_refill_off_worker();
    proc_reduction_check_slow(p);
  }
  return receive_matching(p, timeout_ms, [&](const snow_msg* m) {
    if (!match) return true;
    // proc_msg_kind answers for the message on offer.
    p->offering = signal_of_msg(m);
    bool take = match(m, ctx) != 0;
    p->offering = nullptr;
    return take;
  });
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
  int64_t deadline = deadline_after_ms(ms);
  for (;;) {
    apply_pending(p);
    if (deadline_passed(p, deadline)) break;
    park(p, deadline);
  }
  disarm(p);
}

bool proc_wait_until(Process* p, int64_t timeout_ms, bool (*ready)(void*), void* ctx) {
  int64_t deadline = timeout_ms > 0 ? deadline_after_ms(timeout_ms) : INT64_MAX;
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
  publish_gauges(p);
  if (!p->task.is_thread) sched_switch_out(&p->task, SwitchReason::Yield);
  else std::this_thread::yield();
  apply_pending(p);
}

}  // namespace snow::rt
