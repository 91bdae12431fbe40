// Signals in and out: applying a process's pending signals in its owner
// context (mailbox, links, monitors, exit signals, timeouts, replies),
// answering signals aimed at a dead target, and delivery to a local queue
// or to runtime/dist.
#include "runtime/proc/process_internal.h"

#include "runtime/proc/jobs.h"
#include "runtime/proc/reason.h"

namespace snow::rt {

inline namespace proc_detail {

void oom_signal() { fatal_oom("allocating a signal"); }

// The functions of this file that no other file calls have internal linkage
// (the anonymous namespace): GCC then inlines them into their callers here
// (apply into apply_pending, as when proc was one file), which a function
// other files could call does not get. The round trips of bench/ pay for
// every call on this path.
namespace {

// The target of `s` is dead: answer what needs an answer, drop the rest.
// Out of line: the rare path stays out of proc_deliver.
__attribute__((noinline)) void answer_dead_target(Signal* s) {
  if (s->kind == SigKind::RelationsRequest) {
    answer_relations_gone(s);
    return;
  }
  proc_answer_undeliverable(s->kind, s->from, s->target, s->ref, kReasonNoproc);
  signal_free(s);
}

// Link and monitor bookkeeping, which a live and an exiting process apply
// alike: links and monitors still count while exiting (they are notified
// with the real reason). Consumes `s` and returns true when it was such a
// signal.
inline bool apply_relation(Process* p, Signal* s) {
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
      return false;
  }
  signal_free(s);
  return true;
}

// Applies one signal in the owner context. May not return (exit).
void apply(Process* p, Signal* s) {
  if (s->target != p->pid) {
    answer_dead_target(s);
    return;
  }
  if (s->kind == SigKind::Message) {
    mbox_append(p, s);
    return;
  }
  if (apply_relation(p, s)) return;
  switch (s->kind) {
    case SigKind::Message:
    case SigKind::Link:
    case SigKind::Unlink:
    case SigKind::UnlinkAck:
    case SigKind::Monitor:
    case SigKind::Demonitor:
      break;  // applied above
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
    case SigKind::RelationsRequest:
      answer_relations(p, s);
      return;
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

}  // namespace

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
// monitors still count (they are notified with the real reason), a
// relations request is answered "gone" (an exiting process is no longer
// alive for process_info), the rest is dropped.
void apply_while_exiting(Process* p, Signal* s) {
  if (s->target != p->pid || s->kind == SigKind::RelationsRequest) {
    answer_dead_target(s);
    return;
  }
  if (!apply_relation(p, s)) signal_free(s);
}

void free_list(Signal* s) {
  while (s) {
    Signal* n = s->next;
    signal_free(s);
    s = n;
  }
}

}  // namespace proc_detail

namespace {

// Whether a signal must wake its owner if it sleeps. Bookkeeping (a link, an
// unlink and its ack, a remote node's monitor or demonitor) changes only
// tables the owner reads when it next runs or exits, when it applies its
// queue anyway: those signals are lazy and wait for the owner instead of
// scheduling it, a few at a time (the push that makes
// SignalQueue::kLazyLimit of them pending wakes it). The rest can put
// something in the mailbox, end the process or end a wait, or (a relations
// request) has a requester waiting for the owner's answer.
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
    case SigKind::RelationsRequest:
      return true;
  }
  return true;
}

}  // namespace

void proc_answer_undeliverable(SigKind kind, uint64_t from, uint64_t target, uint64_t ref, const uint8_t* reason) {
  if (!from) return;
  Signal* r;
  switch (kind) {
    case SigKind::Link:
      r = signal_exit_like(SigKind::LinkExit, from, target, reason, 1);
      break;
    case SigKind::Monitor:
      r = signal_down(from, ref, target, reason, 1);
      break;
    case SigKind::Unlink:
      r = signal_control(SigKind::UnlinkAck, from, target, ref);
      break;
    default:
      return;
  }
  if (!r) oom_signal();
  proc_deliver(from, r);
}

void proc_deliver(uint64_t pid, Signal* s) {
  if (pid_is_remote(pid)) {
    R.dist.deliver(pid, s);
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

namespace {

bool send_room(void* to) { return !R.dist.send_busy(*static_cast<uint64_t*>(to)); }

}  // namespace

int proc_await_send_room(uint64_t to) {
  if (!R.dist.send_busy(to)) return 0;
  Process* self = proc_current();
  if (!self) return SNOW_EBUSY;
  if (self->exiting) return 0;  // a terminate callback's sends are not held up
  // Enlisted first, then parked until the queue has room: the waker's
  // proc_wake ends the park, and proc_wait_until re-checks. An exit while
  // parked leaves the enlistment behind; its wake is dropped.
  if (!R.dist.busy_enlist(to, self->pid)) return 0;
  (void)proc_wait_until(self, -1, send_room, &to);
  return 0;
}

void proc_wake(uint64_t pid) { proc_reply(pid, 0, nullptr, 0); }  // no call expects ref 0

int proc_send(uint64_t from, uint64_t to, const uint8_t* msg, uint64_t size, uint32_t msg_kind, uint64_t tag) {
  if (pid_is_remote(to)) {
    int rc = proc_await_send_room(to);  // before anything is allocated: an exit while parked frees nothing
    if (rc != 0) return rc;
  }
  Signal* s = signal_alloc(SigKind::Message, to, from, size);
  if (!s) return SNOW_ENOMEM;
  if (size) std::memcpy(s->msg.data, msg, size);
  s->msg.tag = tag;
  s->msg_kind = msg_kind;
  if (!pid_is_remote(to)) export_payload(proc_current(), s);
  R.sent.add(1);
  proc_deliver(to, s);
  return 0;
}

}  // namespace snow::rt
