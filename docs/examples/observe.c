/*
 * observe.c: what an operator sees of a running program (docs/operating.md).
 *
 * It routes the runtime's log lines through its own handler, starts a few
 * processes (a registered server with a backlog, a busy worker, one that
 * crashes), then prints the process table the way a `top` would: every
 * live process with its status, mailbox length, links, monitors, heap and
 * reductions, the longest mailbox first.
 *
 *   build/debug/docs/examples/snow_observe
 *   SNOW_LOG=error build/debug/docs/examples/snow_observe
 */
#include <snowrt.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char* const kLevels[] = {"error", "warning", "info", "debug"};

/* Runs on whichever thread logs: it only formats and writes. */
static void on_log(int32_t level, const char* line, uint64_t len, void* ctx) {
  (void)ctx;
  printf("[log %s] %.*s\n", level >= 0 && level <= 3 ? kLevels[level] : "?", (int)len, line);
  fflush(stdout);
}

enum { TAG_GO = 1, TAG_WORK = 2, TAG_READY = 3 };

static int is_go(const snow_msg* m, void* ctx) {
  (void)ctx;
  return snow_msg_kind(m) == SNOW_MSG_USER && m->tag == TAG_GO;
}

static void report_ready(const uint8_t* args) {
  snow_pid_t main_pid;
  memcpy(&main_pid, args, 8);
  uint64_t msg = TAG_READY;
  snow_actor_send(main_pid, (const uint8_t*)&msg, 8);
}

/* Registered as "orders"; takes only TAG_GO, so work piles up. */
static void server(const uint8_t* args) {
  snow_actor_register("orders", 6);
  report_ready(args);
  snow_actor_receive_match(is_go, NULL, -1);
}

/* Allocates on its heap and runs reduction checks, then waits. */
static void worker(const uint8_t* args) {
  volatile uint8_t* scratch = snow_gc_alloc_actor(256 * 1024, 16);
  for (int i = 0; i < 50000; i++) snow_reduction_check();
  report_ready(args);
  snow_actor_receive_match(is_go, NULL, -1);
  if (scratch) scratch[0] = 1;
}

static void crasher(const uint8_t* args) {
  (void)args;
  snow_panic("disk full", 9, "observe.c", 9, 60);
}

static const char* status_name(uint8_t s) {
  return s == SNOW_PROC_WAITING ? "waiting" : s == SNOW_PROC_EXITING ? "exiting" : "running";
}

static int by_queue_desc(const void* a, const void* b) {
  const snow_proc_info* x = a;
  const snow_proc_info* y = b;
  return (y->message_queue_len > x->message_queue_len) - (y->message_queue_len < x->message_queue_len);
}

static void print_table(void) {
  int64_t n = snow_rt_processes(NULL, 0);
  snow_pid_t* pids = calloc((size_t)n + 16, sizeof *pids);
  n = snow_rt_processes(pids, (uint64_t)n + 16); /* room for a few spawned meanwhile */
  snow_proc_info* infos = calloc((size_t)n, sizeof *infos);
  int64_t live = 0;
  for (int64_t i = 0; i < n; i++)
    if (snow_process_info(pids[i], &infos[live]) == 0) live++; /* it may have exited since */
  qsort(infos, (size_t)live, sizeof *infos, by_queue_desc);
  printf("%-8s %-8s %6s %6s %9s %10s %12s\n", "name", "status", "queue", "links", "monitors", "heap", "reductions");
  for (int64_t i = 0; i < live; i++) {
    const snow_proc_info* p = &infos[i];
    printf("%-8s %-8s %6llu %6llu %9llu %10llu %12llu\n", p->name_len ? (const char*)p->name : "-",
           status_name(p->status), (unsigned long long)p->message_queue_len, (unsigned long long)p->links,
           (unsigned long long)p->monitors, (unsigned long long)p->heap_size, (unsigned long long)p->reductions);
  }
  printf("%lld processes\n", (long long)live);
  free(infos);
  free(pids);
}

int main(void) {
  snow_rt_set_log_handler(on_log, NULL);
  snow_rt_init();
  if (snow_rt_init_actor(2) != 0) return 1;
  snow_pid_t self = snow_actor_self();
  uint8_t args[8];
  memcpy(args, &self, 8);

  snow_pid_t srv = snow_actor_spawn(server, args, 8, SNOW_PRIO_NORMAL);
  snow_pid_t wrk = snow_actor_spawn(worker, args, 8, SNOW_PRIO_NORMAL);
  for (int ready = 0; ready < 2;) {
    const snow_msg* m = snow_actor_receive(-1);
    if (snow_msg_kind(m) == SNOW_MSG_USER && m->tag == TAG_READY) ready++;
  }
  uint64_t work = TAG_WORK;
  for (int i = 0; i < 5; i++) snow_actor_send(srv, (const uint8_t*)&work, 8);

  snow_spawn_opts o;
  memset(&o, 0, sizeof o);
  o.monitor = 1;
  snow_actor_spawn_opts(crasher, NULL, 0, &o);
  snow_actor_receive(-1); /* its DOWN: the crash report was logged before it */

  /* The server takes its backlog in when it wakes for each message. */
  snow_proc_info info;
  do {
    snow_timer_sleep(5);
  } while (snow_process_info(srv, &info) == 0 && info.message_queue_len < 5);
  print_table();

  uint64_t go = TAG_GO;
  snow_actor_send(srv, (const uint8_t*)&go, 8);
  snow_actor_send(wrk, (const uint8_t*)&go, 8);
  int rc = snow_rt_run_scheduler();
  printf("snow_rt_run_scheduler returned %d\n", rc);
  return rc;
}
