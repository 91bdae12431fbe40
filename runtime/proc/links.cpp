// Links and monitors: the link protocol bookkeeping, monitors (local ones in
// the target's watcher table, remote ones as signals), node monitors. Owns
// the watch stripes of R (see "Local monitors" below).
#include "runtime/proc/process_internal.h"

namespace snow::rt {

inline namespace proc_detail {

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
// The lock is a leaf: nothing else is taken while it is held. (watch_lock
// is inline in process_internal.h.)

namespace {

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

}  // namespace

void unwatch(uint64_t target, uint64_t ref) {
  with_watchable(target, [&](Process* p) {
    if (p->watchers) p->watchers->erase(ref);
  });
}

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

}  // namespace proc_detail

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

void proc_monitor_remote_spawn(Process* p, uint64_t ref, uint64_t target) {
  if (target == 0) {
    rel(p).monitors[ref] = 0;
    return;
  }
  if (uint64_t* t = p->rel ? p->rel->monitors.find(ref) : nullptr) *t = target;
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
        mbox_unlink(p, prev, cur);
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
  R.dist.node_monitor(p->pid, id, node);
  return id;
}

int64_t proc_node_demonitor(Process* p, int64_t id) {
  if (!p->rel || !p->rel->node_monitors.erase(id)) return 1;
  R.dist.node_demonitor(id);
  return 0;
}

int64_t proc_node_monitor_all(Process* p, bool on) {
  bool old = p->rel ? p->rel->monitor_all_nodes : false;
  if (on || p->rel) rel(p).monitor_all_nodes = on;
  if (old != on) R.dist.monitor_all(p->pid, on);
  return old ? 1 : 0;
}

}  // namespace snow::rt
