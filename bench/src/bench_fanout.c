/*
 * bench_fanout.c: one process dies, 10,000 observers must hear of it.
 *
 *   bench_fanout [--quick] [scenario|all]
 *
 *   fanout_monitors_procs  10,000 processes each monitor one target; kill it;
 *                          time from the kill to the last DOWN received
 *   fanout_monitors_one    one process holds 10,000 monitors of the target;
 *                          time from the kill to its 10,000th DOWN
 *   fanout_links           10,000 trapping processes linked to the target;
 *                          time from the kill to the last EXIT received
 *
 * Each observer stamps the time it received its signal into its own slot;
 * the figure is max(slot) - t(kill). Observers are all set up (and the
 * target parked) before the clock starts. 10,000 observers in quick mode
 * too (the count is the scenario); only the repetitions shrink.
 */
#include "bench_common.h"

#define FANOUT 10000

static snow_pid_t g_driver;
static snow_pid_t g_target;
static uint64_t g_stamps[FANOUT];
static _Atomic uint64_t g_acked, g_done, g_wrong;

static void send_u64(snow_pid_t to, uint64_t v) { snow_actor_send(to, (const uint8_t*)&v, 8); }

static void parked_target(const uint8_t* args) {
  (void)args;
  send_u64(g_driver, 1);
  snow_actor_receive(-1);
}

static void ack_setup(void) {
  if (atomic_fetch_add(&g_acked, 1) + 1 == FANOUT) send_u64(g_driver, 2);
}

static void ack_done(uint64_t idx) {
  g_stamps[idx] = bench_now_ns();
  if (atomic_fetch_add(&g_done, 1) + 1 == FANOUT) send_u64(g_driver, 3);
}

static void monitoring_observer(const uint8_t* args) {
  uint64_t idx = bench_le64(args);
  snow_ref_t ref = snow_process_monitor(g_target);
  ack_setup();
  for (;;) {
    const snow_msg* m = snow_actor_receive(-1);
    if (m && snow_msg_kind(m) == SNOW_MSG_DOWN) {
      if (bench_le64(m->data) != ref) atomic_fetch_add(&g_wrong, 1);
      break;
    }
  }
  ack_done(idx);
}

static void linked_observer(const uint8_t* args) {
  uint64_t idx = bench_le64(args);
  snow_actor_set_trap_exit(true);
  snow_actor_link(g_target);
  ack_setup();
  for (;;) {
    const snow_msg* m = snow_actor_receive(-1);
    if (m && snow_msg_kind(m) == SNOW_MSG_EXIT) {
      if (bench_le64(m->data) != g_target || m->data[8] != SNOW_REASON_KILLED) atomic_fetch_add(&g_wrong, 1);
      break;
    }
  }
  ack_done(idx);
}

static int spawn_target(void) {
  g_target = snow_actor_spawn(parked_target, NULL, 0, SNOW_PRIO_NORMAL);
  if (!g_target) return 0;
  bench_recv_kind(SNOW_MSG_USER, -1, NULL);
  return 1;
}

/* One repetition with FANOUT observer processes; returns ns or 0. */
static uint64_t rep_observers(void (*observer)(const uint8_t*)) {
  uint64_t base = bench_alive();
  if (!spawn_target()) return 0;
  atomic_store(&g_acked, 0);
  atomic_store(&g_done, 0);
  for (uint64_t i = 0; i < FANOUT; i++) {
    if (!snow_actor_spawn(observer, (const uint8_t*)&i, 8, SNOW_PRIO_NORMAL)) return 0;
  }
  bench_recv_kind(SNOW_MSG_USER, -1, NULL); /* all set up */
  uint64_t t0 = bench_now_ns();
  snow_actor_exit(g_target, SNOW_REASON_KILLED);
  bench_recv_kind(SNOW_MSG_USER, -1, NULL); /* all done */
  uint64_t last = 0;
  for (size_t i = 0; i < FANOUT; i++)
    if (g_stamps[i] > last) last = g_stamps[i];
  bench_wait_alive_at_most(base); /* let the observers finish exiting */
  return last - t0;
}

/* One repetition with one process (the driver) holding FANOUT monitors. */
static uint64_t rep_one_holder(void) {
  if (!spawn_target()) return 0;
  for (size_t i = 0; i < FANOUT; i++) snow_process_monitor(g_target);
  uint64_t t0 = bench_now_ns();
  snow_actor_exit(g_target, SNOW_REASON_KILLED);
  for (size_t i = 0; i < FANOUT; i++) bench_recv_kind(SNOW_MSG_DOWN, -1, NULL);
  return bench_now_ns() - t0;
}

static void run(const char* id, int which) {
  size_t reps = bench_iters(11, 4), warm = 1;
  uint64_t* v = malloc(reps * sizeof *v);
  atomic_store(&g_wrong, 0);
  for (size_t r = 0; r < reps; r++) {
    uint64_t ns = which == 0   ? rep_observers(monitoring_observer)
                  : which == 1 ? rep_one_holder()
                               : rep_observers(linked_observer);
    if (ns == 0) {
      bench_report_error(id, "spawn_failed");
      free(v);
      return;
    }
    v[r] = ns;
  }
  char extra[64];
  snprintf(extra, sizeof extra, "fanout=%d%s", FANOUT, atomic_load(&g_wrong) ? " wrong_signals=1" : "");
  bench_report_ns(id, v, reps, warm, 1.0, extra);
  free(v);
}

static void driver(const uint8_t* args) {
  (void)args;
  g_driver = snow_actor_self();
  if (bench_want("fanout_monitors_procs")) run("fanout_monitors_procs", 0);
  if (bench_want("fanout_monitors_one")) run("fanout_monitors_one", 1);
  if (bench_want("fanout_links")) run("fanout_links", 2);
}

int main(int argc, char** argv) {
  bench_setup(argc, argv, 300);
  snow_rt_init();
  int rc = snow_rt_init_actor(0);
  if (rc != 0) {
    printf("RESULT system=snowrt scenario=startup error=init_actor_%d\n", rc);
    return 2;
  }
  bench_print_info();
  bench_current = "driver";
  int status = bench_run_driver(driver);
  return bench_finish(status);
}
