// Starting processes: spawn (a task on the scheduler), the task entry,
// the calling process, and foreign threads attached as processes.
#include "runtime/proc/process_internal.h"

#include <pthread.h>

#include <semaphore>

namespace snow::rt {

inline namespace proc_detail {

void task_entry(Task* t) {
  Process* p = as_process(t);
  (void)gc_import(p->heap, p->args_ticket);
  p->args_ticket = nullptr;
  p->fn(p->args);
  exit_now(p, kReasonNormal, 1);
}

}  // namespace proc_detail

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

}  // namespace snow::rt
