// The runtime's life cycle: start (scheduler, main process, stop-signal
// watcher), run (the main thread waits for the end), halt, the stop that
// shuts every process down, the scheduler hooks, quiescence and stats.
// Owns the life-cycle fields of R.
#include "runtime/proc/process_internal.h"

#include <semaphore.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "runtime/proc/reason.h"

namespace snow::rt {

inline namespace proc_detail {

namespace {

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

bool quiescent_now() {
  // Every worker parked with nothing queued and no timer pending, and no
  // attached thread that could still send: nothing can wake anyone.
  return R.alive.load() > 0 && R.attached.load() == 0 && !R.dist.started() && timers_pending() == 0 && sched_idle();
}

}  // namespace

}  // namespace proc_detail

void proc_runtime_poke() { post_wakeup(); }

bool proc_runtime_started() { return R.started.load(std::memory_order_acquire); }

int proc_runtime_start(unsigned workers, bool stop_on_signals, const DistHooks& dist) {
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
  SNOW_ASSERT(dist.started && dist.stop && dist.deliver && dist.after_slice && dist.poll_io && dist.poll_io_done &&
              dist.node_monitor && dist.node_demonitor && dist.monitor_all && dist.nodes_connected &&
              dist.node_entries && dist.remote_pids);
  if (!R.dist_set.load(std::memory_order_acquire)) {
    R.dist = dist;
    R.dist_set.store(true, std::memory_order_release);
  }
  SchedHooks hooks{hook_try_sleep,       hook_reap,      hook_overflow,    hook_wait_timeout, hook_send_after_fire,
                   hook_send_after_drop, hook_quiescent, dist.after_slice, dist.poll_io,      dist.poll_io_done};
  R.halting.store(false);
  R.halt_status.store(0);
  R.halt_claimed.store(false);
  draw_pid_salt();
  mem_configure();
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
  if (R.halt_claimed.exchange(true)) return;
  R.halt_status.store(status, std::memory_order_relaxed);
  R.halting.store(true, std::memory_order_release);
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
  uint32_t n = anchors_in_use();
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
    registry_forget_pid(pid);
    R.attached.fetch_sub(1, std::memory_order_acq_rel);
    R.alive.fetch_sub(1, std::memory_order_acq_rel);
    ++abandoned;
  }
  if (abandoned)
    log_line(
        "snowrt: %d attached thread(s) stayed outside the runtime while it stopped; their processes end "
        "when each thread next calls it",
        abandoned);
}

int stop_everything(int status) {
  if (R.dist.started()) R.dist.stop();
  if (R.alive.load() > 0) {
    shutdown_all(0);
    int64_t deadline = deadline_after_ms(2000);
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

}  // namespace

inline namespace proc_detail {

void main_thread_after_exit(int status) {
  int rc = wait_for_end();
  // A halt decides the status; otherwise the main process's own exit does.
  exit(R.halting.load() ? rc : (rc != 0 ? rc : status));
}

}  // namespace proc_detail

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

void proc_stats(snow_stats* out) {
  *out = snow_stats{};
  out->processes_alive = uint64_t(R.alive.load());
  out->processes_spawned = uint64_t(R.spawned.read());
  out->processes_exited = uint64_t(R.exited.read());
  out->messages_sent = uint64_t(R.sent.read());
  if (R.dist_set.load(std::memory_order_acquire)) {
    out->nodes_connected = R.dist.nodes_connected();
    out->node_entries = R.dist.node_entries();
    out->remote_pids = R.dist.remote_pids();
    out->alias_sends_dropped = R.dist.alias_sends_dropped();
    out->dist_messages_refused = R.dist.messages_refused();
  }
  out->schedulers = sched_worker_count();
  out->timers_pending = uint64_t(timers_pending());
  out->stacks_resident = uint64_t(sched_running() ? sched_stacks_resident() : 0);
  HeapTotals heap = heap_totals();
  out->heap_bytes = heap.heap_bytes;
  out->heap_live_bytes = heap.live_bytes;
  out->gc_collections = heap.collections;
  out->gc_shared_bytes = heap.shared_bytes;
  // The reserved words stay 0 (snow_stats{} above).
}

}  // namespace snow::rt
