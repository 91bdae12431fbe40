/*
 * bench_local.c: one-node latency and throughput scenarios of libsnowrt.
 *
 *   bench_local [--quick] [scenario|all]
 *
 * Scenarios (ids shared with the BEAM and CAF peers, see bench/README.md):
 *   spawn_first_instr       spawn -> first instruction in the child (ns)
 *   spawn_exit_tput_main    spawn+run+exit throughput, spawning from the main thread
 *   spawn_exit_tput_proc    the same, spawning from inside a process
 *   pingpong_rtt            round trip between two spawned processes
 *   main_pingpong_rtt       round trip between the main thread and a spawned process
 *   service_call_rtt        snow_service_call from a spawned process to a spawned server
 *   main_service_call_rtt   the same call made from the main thread
 *   send_tput               one-way send throughput 1 -> 1 (8-byte messages)
 *   monitor_kill_down       kill a monitored process -> DOWN at the monitor
 *   monitor_exit_down       target returns -> DOWN at the monitor (one way)
 *   link_kill_exit          kill a linked process -> EXIT at the trapping linker
 *   link_crash_exit         target crashes -> EXIT at the trapping linker (one way)
 *   monitor_demonitor_pair  monitor + demonitor of a live process
 *   link_unlink_pair        link + unlink of a live process
 *   reduction_check_ns      one snow_reduction_check() call in a loop (out of line)
 *   reduction_check_inline_ns  one snow_reduction_check_inline() (snowrt_inline.h)
 *
 * Everything except spawn_exit_tput_main and the main_* scenarios runs
 * inside a spawned driver process; ping-pong and send throughput use two further spawned processes.
 * Targets are parked in receive before they are killed or signalled, so the
 * figures measure the signal path, not a race with the target's first run.
 */
#include "bench_common.h"

#include <snowrt_inline.h>

/* ------------------------------------------------------------------------ */
/* Shared state between the driver and the processes it spawns. */

static snow_pid_t g_driver;
static _Atomic uint64_t g_stamp; /* a time taken by another process */
static uint64_t g_send_count;    /* send_tput: messages per batch */
static uint64_t* g_samples;      /* pingpong: per-round-trip samples */
static uint64_t g_pp_iters;

static void send_u64(snow_pid_t to, uint64_t v) { snow_actor_send(to, (const uint8_t*)&v, 8); }

/* A target that announces it is parked, then waits forever. */
static void parked_target(const uint8_t* args) {
  (void)args;
  send_u64(g_driver, 1);
  snow_actor_receive(-1);
}

/* A target that announces it is parked, then answers every message with a
 * message to the driver until it is killed. Signals from one sender arrive
 * in send order, so its answer to a message sent after a batch of signals
 * proves it has applied them all. */
static void echo_target(const uint8_t* args) {
  (void)args;
  send_u64(g_driver, 1);
  for (;;) {
    const snow_msg* m = snow_actor_receive(-1);
    if (m && snow_msg_kind(m) == SNOW_MSG_USER) send_u64(g_driver, 2);
  }
}

/* A target that announces it is parked, waits for "go", stamps the time and
 * returns (normal exit). */
static void exiting_target(const uint8_t* args) {
  (void)args;
  send_u64(g_driver, 1);
  snow_actor_receive(-1);
  atomic_store(&g_stamp, bench_now_ns());
}

/* Same, but crashes (exit reason error "crash"). */
static void crashing_target(const uint8_t* args) {
  (void)args;
  send_u64(g_driver, 1);
  snow_actor_receive(-1);
  static const uint8_t reason[] = {SNOW_REASON_ERROR, 5, 0, 0, 0, 0, 0, 0, 0, 'c', 'r', 'a', 's', 'h'};
  atomic_store(&g_stamp, bench_now_ns());
  snow_actor_exit_self(reason, sizeof reason);
}

/* Spawns `fn` and waits for its "parked" message. */
static snow_pid_t spawn_parked(void (*fn)(const uint8_t*), uint64_t* unexpected) {
  snow_pid_t p = snow_actor_spawn(fn, NULL, 0, SNOW_PRIO_NORMAL);
  if (!p) return 0;
  bench_recv_kind(SNOW_MSG_USER, -1, unexpected);
  return p;
}

static void note_unexpected(const char* id, uint64_t unexpected) {
  if (unexpected)
    printf("NOTE system=snowrt scenario=%s unexpected_messages=%llu\n", id, (unsigned long long)unexpected);
}

/* ------------------------------------------------------------------------ */
/* spawn -> first instruction */

static void first_instr_child(const uint8_t* args) {
  uint64_t t1 = bench_now_ns();
  snow_pid_t parent = bench_le64(args);
  send_u64(parent, t1);
}

static void run_spawn_first_instr(void) {
  const char* id = "spawn_first_instr";
  size_t n = bench_iters(20000, 2000), warm = n / 10;
  uint64_t* v = malloc(n * sizeof *v);
  snow_pid_t self = snow_actor_self();
  uint64_t unexpected = 0;
  for (size_t i = 0; i < n; i++) {
    uint64_t t0 = bench_now_ns();
    if (!snow_actor_spawn(first_instr_child, (const uint8_t*)&self, 8, SNOW_PRIO_NORMAL)) {
      bench_report_error(id, "spawn_failed");
      free(v);
      return;
    }
    const snow_msg* m = bench_recv_kind(SNOW_MSG_USER, -1, &unexpected);
    v[i] = bench_le64(m->data) - t0;
  }
  bench_report_ns(id, v, n, warm, 1.0, NULL);
  note_unexpected(id, unexpected);
  free(v);
}

/* ------------------------------------------------------------------------ */
/* spawn + run + exit throughput */

static void empty_child(const uint8_t* args) { (void)args; }

static void run_spawn_tput(const char* id, int in_process) {
  uint64_t batch = bench_iters(100000, 20000);
  size_t reps = bench_iters(6, 3), warm = 1;
  double* rate = malloc(reps * sizeof *rate);
  for (size_t r = 0; r < reps; r++) {
    snow_stats st;
    snow_rt_stats(&st);
    uint64_t target = st.processes_exited + batch;
    uint64_t t0 = bench_now_ns();
    for (uint64_t i = 0; i < batch; i++) {
      if (!snow_actor_spawn(empty_child, NULL, 0, SNOW_PRIO_NORMAL)) {
        bench_report_error(id, "spawn_failed");
        free(rate);
        return;
      }
      snow_reduction_check(); /* a compiled loop's back-edge check */
    }
    bench_wait_exited(target, in_process);
    uint64_t t1 = bench_now_ns();
    rate[r] = (double)batch * 1e9 / (double)(t1 - t0);
  }
  char extra[64];
  snprintf(extra, sizeof extra, "batch=%llu", (unsigned long long)batch);
  bench_report_rate(id, rate, reps, warm, extra);
  free(rate);
}

/* ------------------------------------------------------------------------ */
/* ping-pong between two spawned processes */

static void ponger(const uint8_t* args) {
  (void)args;
  for (;;) {
    const snow_msg* m = snow_actor_receive(-1);
    if (!m || m->len < 8) return;
    snow_pid_t from = bench_le64(m->data);
    if (from == 0) return; /* stop */
    send_u64(from, 2);
  }
}

static void pinger(const uint8_t* args) {
  snow_pid_t pong = bench_le64(args);
  snow_pid_t self = snow_actor_self();
  for (uint64_t i = 0; i < g_pp_iters; i++) {
    uint64_t t0 = bench_now_ns();
    send_u64(pong, self);
    snow_actor_receive(-1);
    g_samples[i] = bench_now_ns() - t0;
  }
  send_u64(pong, 0);
  send_u64(g_driver, 3);
}

static void run_pingpong(void) {
  const char* id = "pingpong_rtt";
  g_pp_iters = bench_iters(200000, 20000);
  g_samples = malloc(g_pp_iters * sizeof *g_samples);
  snow_pid_t pong = snow_actor_spawn(ponger, NULL, 0, SNOW_PRIO_NORMAL);
  snow_pid_t ping = pong ? snow_actor_spawn(pinger, (const uint8_t*)&pong, 8, SNOW_PRIO_NORMAL) : 0;
  if (!ping) {
    bench_report_error(id, "spawn_failed");
  } else {
    uint64_t unexpected = 0;
    bench_recv_kind(SNOW_MSG_USER, -1, &unexpected);
    bench_report_ns(id, g_samples, g_pp_iters, g_pp_iters / 10, 1.0, NULL);
    note_unexpected(id, unexpected);
  }
  free(g_samples);
  g_samples = NULL;
}

/* The same round trip with the main thread (its process, snow_main's in a
 * compiled program) as the pinger. */
static void run_main_pingpong(void) {
  const char* id = "main_pingpong_rtt";
  size_t n = bench_iters(200000, 20000), warm = n / 10;
  uint64_t* v = malloc(n * sizeof *v);
  snow_pid_t pong = snow_actor_spawn(ponger, NULL, 0, SNOW_PRIO_NORMAL);
  if (!pong) {
    bench_report_error(id, "spawn_failed");
    free(v);
    return;
  }
  snow_pid_t self = snow_actor_self();
  uint64_t unexpected = 0;
  for (size_t i = 0; i < n; i++) {
    uint64_t t0 = bench_now_ns();
    send_u64(pong, self);
    bench_recv_kind(SNOW_MSG_USER, -1, &unexpected);
    v[i] = bench_now_ns() - t0;
  }
  send_u64(pong, 0);
  bench_report_ns(id, v, n, warm, 1.0, NULL);
  note_unexpected(id, unexpected);
  free(v);
}

/* ------------------------------------------------------------------------ */
/* service call round trip (snow_service_call -> snow_service_reply) */

#define CALL_TAG 0x5E77ull

/* Replies [u64 argument] to calls [tag][caller][u64 argument]; a call with
 * argument 0 is answered and then ends it. */
static void echo_server(const uint8_t* args) {
  (void)args;
  for (;;) {
    const snow_msg* m = snow_actor_receive(-1);
    if (!m || m->len < 24) continue;
    snow_pid_t caller = bench_le64(m->data + 8);
    uint64_t arg = bench_le64(m->data + 16);
    snow_service_reply(caller, m->data + 16, 8);
    if (arg == 0) return;
  }
}

/* Times `n` calls to a fresh echo server from the calling process. */
static void time_service_calls(const char* id) {
  size_t n = bench_iters(200000, 20000), warm = n / 10;
  uint64_t* v = malloc(n * sizeof *v);
  snow_pid_t server = snow_actor_spawn(echo_server, NULL, 0, SNOW_PRIO_NORMAL);
  if (!server) {
    bench_report_error(id, "spawn_failed");
    free(v);
    return;
  }
  for (size_t i = 0; i < n; i++) {
    uint64_t arg = i + 1;
    uint64_t t0 = bench_now_ns();
    const snow_msg* r = snow_service_call(server, CALL_TAG, (const uint8_t*)&arg, 8);
    v[i] = bench_now_ns() - t0;
    if (!r || r->len != 8 || bench_le64(r->data) != arg) {
      bench_report_error(id, "bad_reply");
      free(v);
      return;
    }
  }
  uint64_t stop = 0;
  (void)snow_service_call(server, CALL_TAG, (const uint8_t*)&stop, 8);
  bench_report_ns(id, v, n, warm, 1.0, NULL);
  free(v);
}

/* ------------------------------------------------------------------------ */
/* one-way send throughput 1 -> 1 */

static void counting_receiver(const uint8_t* args) {
  (void)args;
  for (uint64_t i = 0; i < g_send_count; i++) snow_actor_receive(-1);
  uint64_t t1 = bench_now_ns();
  send_u64(g_driver, t1);
}

/* Its loop has the reduction check a code generator puts at every loop
 * back-edge (ABI.md, snow_reduction_check), as a compiled sender's would:
 * the sender then yields every time slice, as BEAM's does. */
static void flooding_sender(const uint8_t* args) {
  snow_pid_t to = bench_le64(args);
  atomic_store(&g_stamp, bench_now_ns());
  for (uint64_t i = 0; i < g_send_count; i++) {
    send_u64(to, i);
    snow_reduction_check();
  }
}

static void run_send_tput(void) {
  const char* id = "send_tput";
  g_send_count = bench_iters(1000000, 100000);
  size_t reps = bench_iters(6, 3), warm = 1;
  double* rate = malloc(reps * sizeof *rate);
  uint64_t unexpected = 0;
  for (size_t r = 0; r < reps; r++) {
    snow_pid_t recv = snow_actor_spawn(counting_receiver, NULL, 0, SNOW_PRIO_NORMAL);
    if (!recv || !snow_actor_spawn(flooding_sender, (const uint8_t*)&recv, 8, SNOW_PRIO_NORMAL)) {
      bench_report_error(id, "spawn_failed");
      free(rate);
      return;
    }
    const snow_msg* m = bench_recv_kind(SNOW_MSG_USER, -1, &unexpected);
    uint64_t t1 = bench_le64(m->data);
    rate[r] = (double)g_send_count * 1e9 / (double)(t1 - atomic_load(&g_stamp));
  }
  char extra[64];
  snprintf(extra, sizeof extra, "batch=%llu", (unsigned long long)g_send_count);
  bench_report_rate(id, rate, reps, warm, extra);
  note_unexpected(id, unexpected);
  free(rate);
}

/* ------------------------------------------------------------------------ */
/* monitors and links: latency of the signal path */

enum { KILL_DOWN, EXIT_DOWN, KILL_EXIT, CRASH_EXIT };

static void run_signal_latency(const char* id, int variant) {
  size_t n = bench_iters(20000, 2000), warm = n / 10;
  uint64_t* v = malloc(n * sizeof *v);
  uint64_t unexpected = 0, bad = 0;
  int links = variant == KILL_EXIT || variant == CRASH_EXIT;
  void (*fn)(const uint8_t*) = variant == KILL_DOWN || variant == KILL_EXIT ? parked_target
                               : variant == EXIT_DOWN                       ? exiting_target
                                                                            : crashing_target;
  if (links) snow_actor_set_trap_exit(true);
  for (size_t i = 0; i < n; i++) {
    snow_pid_t t = spawn_parked(fn, &unexpected);
    if (!t) {
      bench_report_error(id, "spawn_failed");
      free(v);
      if (links) snow_actor_set_trap_exit(false);
      return;
    }
    snow_ref_t ref = 0;
    if (links) snow_actor_link(t);
    else ref = snow_process_monitor(t);
    uint64_t t0 = 0;
    if (variant == KILL_DOWN || variant == KILL_EXIT) {
      t0 = bench_now_ns();
      snow_actor_exit(t, SNOW_REASON_KILLED);
    } else {
      send_u64(t, 7); /* go */
    }
    const snow_msg* m = bench_recv_kind(links ? SNOW_MSG_EXIT : SNOW_MSG_DOWN, -1, &unexpected);
    uint64_t t1 = bench_now_ns();
    if (variant == EXIT_DOWN || variant == CRASH_EXIT) t0 = atomic_load(&g_stamp);
    /* Check that it is the signal we asked for. */
    if (links) {
      if (bench_le64(m->data) != t) bad++;
    } else if (bench_le64(m->data) != ref || bench_le64(m->data + 8) != t) {
      bad++;
    }
    v[i] = t1 - t0;
  }
  if (links) snow_actor_set_trap_exit(false);
  if (bad) {
    char extra[64];
    snprintf(extra, sizeof extra, "mismatched_signals=%llu", (unsigned long long)bad);
    bench_report_ns(id, v, n, warm, 1.0, extra);
  } else {
    bench_report_ns(id, v, n, warm, 1.0, NULL);
  }
  note_unexpected(id, unexpected);
  free(v);
}

/* ------------------------------------------------------------------------ */
/* monitor+demonitor and link+unlink pairs against a live, parked target.
 * Each sample ends with a round trip to the target, so the clock stops only
 * once the target has applied every signal of the batch (as BEAM's and the
 * distribution scenarios' do). */

static void run_pairs(const char* id, int links) {
  const size_t per = 1000;
  size_t n = bench_iters(2000, 200), warm = n / 10;
  uint64_t* v = malloc(n * sizeof *v);
  uint64_t unexpected = 0;
  snow_pid_t t = spawn_parked(echo_target, &unexpected);
  if (!t) {
    bench_report_error(id, "spawn_failed");
    free(v);
    return;
  }
  for (size_t i = 0; i < n; i++) {
    uint64_t t0 = bench_now_ns();
    if (links) {
      for (size_t k = 0; k < per; k++) {
        snow_actor_link(t);
        snow_actor_unlink(t);
      }
    } else {
      for (size_t k = 0; k < per; k++) snow_process_demonitor(snow_process_monitor(t));
    }
    send_u64(t, 1);
    bench_recv_kind(SNOW_MSG_USER, -1, &unexpected);
    v[i] = bench_now_ns() - t0;
  }
  char extra[32];
  snprintf(extra, sizeof extra, "batch=%zu synced=1", per);
  bench_report_ns(id, v, n, warm, (double)per, extra);
  /* The target is still alive and unlinked; kill it and wait for it. */
  snow_ref_t r = snow_process_monitor(t);
  snow_actor_exit(t, SNOW_REASON_KILLED);
  for (;;) {
    const snow_msg* m = bench_recv_kind(SNOW_MSG_DOWN, 5000, &unexpected);
    if (!m || bench_le64(m->data) == r) break;
  }
  note_unexpected(id, unexpected);
  free(v);
}

/* ------------------------------------------------------------------------ */
/* reduction checks: what compiled code pays at every call and back-edge */

static void run_reduction_checks(const char* id, int inline_path) {
  const size_t per = 100000;
  size_t n = bench_iters(500, 50), warm = n / 10;
  uint64_t* v = malloc(n * sizeof *v);
  for (size_t i = 0; i < n; i++) {
    uint64_t t0 = bench_now_ns();
    if (inline_path) {
      for (size_t k = 0; k < per; k++) snow_reduction_check_inline();
    } else {
      for (size_t k = 0; k < per; k++) snow_reduction_check();
    }
    v[i] = bench_now_ns() - t0;
  }
  char extra[32];
  snprintf(extra, sizeof extra, "batch=%zu", per);
  bench_report_ns(id, v, n, warm, (double)per, extra);
  free(v);
}

/* ------------------------------------------------------------------------ */

static void driver(const uint8_t* args) {
  (void)args;
  g_driver = snow_actor_self();
  if (bench_want("spawn_first_instr")) run_spawn_first_instr();
  if (bench_want("spawn_exit_tput_proc")) run_spawn_tput("spawn_exit_tput_proc", 1);
  if (bench_want("pingpong_rtt")) run_pingpong();
  if (bench_want("service_call_rtt")) time_service_calls("service_call_rtt");
  if (bench_want("send_tput")) run_send_tput();
  if (bench_want("monitor_kill_down")) run_signal_latency("monitor_kill_down", KILL_DOWN);
  if (bench_want("monitor_exit_down")) run_signal_latency("monitor_exit_down", EXIT_DOWN);
  if (bench_want("link_kill_exit")) run_signal_latency("link_kill_exit", KILL_EXIT);
  if (bench_want("link_crash_exit")) run_signal_latency("link_crash_exit", CRASH_EXIT);
  if (bench_want("monitor_demonitor_pair")) run_pairs("monitor_demonitor_pair", 0);
  if (bench_want("link_unlink_pair")) run_pairs("link_unlink_pair", 1);
  if (bench_want("reduction_check_ns")) run_reduction_checks("reduction_check_ns", 0);
  if (bench_want("reduction_check_inline_ns")) run_reduction_checks("reduction_check_inline_ns", 1);
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
  if (bench_want("spawn_exit_tput_main")) run_spawn_tput("spawn_exit_tput_main", 0);
  if (bench_want("main_pingpong_rtt")) run_main_pingpong();
  if (bench_want("main_service_call_rtt")) time_service_calls("main_service_call_rtt");
  bench_current = "driver";
  int status = bench_run_driver(driver);
  return bench_finish(status);
}
