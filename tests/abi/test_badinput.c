/* Bad input for every ABI function of sections 2, 3, 4 and 6: bad pids
 * (random, another node's index, reserved values), 0, NULL with a size, huge
 * sizes, calls before start and from the wrong context. Each gets the
 * documented error code or no-op, and the runtime keeps working (every case
 * ends with a spawn/send/receive round trip). */
#include "harness.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static const snow_pid_t k_bad_pids[] = {
    0x0000123456789abcull, /* never used, node 0 */
    0x00000000DEADBEEFull, /* never used, node 0 */
    (5ull << 48) | 1,      /* node index 5: no such node */
    (1ull << 48) | 7,      /* node index 1 */
    0xFFFF000000000001ull, /* last node index */
    UINT64_MAX,            /* all ones */
    1ull << 63,
};
#define NBAD (sizeof k_bad_pids / sizeof k_bad_pids[0])

static bool is_remote_index(snow_pid_t p) { return (p >> 48) != 0; }

static void nothing(const uint8_t* args) { (void)args; }

static int match_none(const snow_msg* m, void* ctx) {
  (void)m;
  (void)ctx;
  return 0;
}

/* ----------------------------------------------------------------- pids */

TEST_CASE(send_to_bad_pids_returns_0_and_drops_the_message) {
  th_start();
  uint8_t b[16] = {1, 2, 3};
  for (size_t i = 0; i < NBAD; i++) {
    CHECK_EQ(snow_actor_send(k_bad_pids[i], b, sizeof b), 0);
    CHECK_EQ(snow_actor_send(k_bad_pids[i], NULL, 0), 0);
  }
  CHECK(snow_actor_receive(0) == NULL);
  th_roundtrip_ok();
  th_end();
}

TEST_CASE(exit_to_bad_pids_returns_0) {
  th_start();
  uint8_t r[32];
  size_t rl = th_reason_str(r, SNOW_REASON_ERROR, "bad");
  for (size_t i = 0; i < NBAD; i++) {
    for (int k = 0; k < 8; k++) CHECK_EQ(snow_actor_exit(k_bad_pids[i], th_reason_tags[k]), 0);
    CHECK_EQ(snow_actor_exit_reason(k_bad_pids[i], r, rl), 0);
  }
  CHECK(snow_actor_receive(0) == NULL);
  th_roundtrip_ok();
  th_end();
}

static void expect_noproc_or_noconnection(const uint8_t* r, size_t rl, snow_pid_t p) {
  bool ok = rl == 1 && (r[0] == SNOW_REASON_NOPROC || (is_remote_index(p) && r[0] == SNOW_REASON_NOCONNECTION));
  if (!ok) {
    char d[200];
    th_format_reason(d, sizeof d, r, rl);
    FAILF("pid 0x%llx: reason %s, expected noproc%s", (unsigned long long)p, d,
          is_remote_index(p) ? " or noconnection" : "");
  }
}

TEST_CASE(link_to_bad_pids_gives_a_trapping_caller_noproc_or_noconnection) {
  th_start();
  snow_actor_set_trap_exit(true);
  for (size_t i = 0; i < NBAD; i++) {
    CHECK_EQ(snow_actor_link(k_bad_pids[i]), 0);
    const snow_msg* m = th_wait_exit(k_bad_pids[i]);
    size_t rl;
    const uint8_t* r = th_exit_reason(m, &rl);
    expect_noproc_or_noconnection(r, rl, k_bad_pids[i]);
  }
  th_roundtrip_ok();
  th_end();
}

TEST_CASE(link_to_a_bad_pid_exits_a_non_trapping_caller) {
  th_start();
  for (size_t i = 0; i < NBAD; i++) {
    snow_ref_t ref;
    snow_pid_t p = th_spawn_puppet_mon(0, &ref);
    CHECK_EQ(th_send2(p, C_LINK, k_bad_pids[i]), 0);
    const snow_msg* m = th_wait_down(ref);
    size_t rl;
    const uint8_t* r = th_down_reason(m, &rl);
    expect_noproc_or_noconnection(r, rl, k_bad_pids[i]);
  }
  th_roundtrip_ok();
  th_end();
}

TEST_CASE(unlink_of_bad_pids_returns_0) {
  th_start();
  for (size_t i = 0; i < NBAD; i++) CHECK_EQ(snow_actor_unlink(k_bad_pids[i]), 0);
  CHECK(snow_actor_receive(0) == NULL);
  th_roundtrip_ok();
  th_end();
}

TEST_CASE(monitor_of_bad_pids_gives_down_noproc_or_noconnection) {
  th_start();
  for (size_t i = 0; i < NBAD; i++) {
    snow_ref_t ref = snow_process_monitor(k_bad_pids[i]);
    CHECK(ref != 0);
    const snow_msg* m = th_wait_down(ref);
    CHECK_EQ_U(th_down_pid(m), k_bad_pids[i]);
    size_t rl;
    const uint8_t* r = th_down_reason(m, &rl);
    expect_noproc_or_noconnection(r, rl, k_bad_pids[i]);
    CHECK_EQ(snow_process_demonitor(ref), 1);
  }
  th_roundtrip_ok();
  th_end();
}

TEST_CASE(send_after_to_bad_pids_returns_a_ref_and_drops) {
  th_start();
  uint8_t b[8] = {1};
  for (size_t i = 0; i < NBAD; i++) {
    snow_ref_t t = snow_timer_send_after(k_bad_pids[i], 1, b, 8);
    CHECK(t != 0);
  }
  uint8_t s[16];
  th_put_u64(s, T_MARK);
  th_put_u64(s + 8, 1);
  CHECK(snow_timer_send_after(th_main, 30, s, 16) != 0);
  const snow_msg* m = th_wait_any();
  CHECK_EQ_U(th_word(m, 0), T_MARK);
  th_roundtrip_ok();
  th_end();
}

TEST_CASE(set_terminate_for_bad_pids_is_ignored) {
  th_start();
  for (size_t i = 0; i < NBAD; i++) snow_actor_set_terminate(k_bad_pids[i], th_term_cb);
  snow_pid_t p = th_spawn_puppet(0);
  snow_ref_t ref = snow_process_monitor(p);
  CHECK_EQ(th_send1(p, C_STOP), 0);
  th_wait_down(ref);
  CHECK_EQ(th_term_count(), 0);
  th_roundtrip_ok();
  th_end();
}

TEST_CASE(pid_0_is_rejected_everywhere) {
  th_start();
  uint8_t b[8] = {1};
  CHECK_EQ(snow_actor_send(0, b, 8), SNOW_EINVAL);
  CHECK_EQ(snow_actor_link(0), SNOW_EINVAL);
  CHECK_EQ(snow_actor_unlink(0), SNOW_EINVAL);
  CHECK_EQ(snow_actor_exit(0, SNOW_REASON_KILLED), SNOW_EINVAL);
  uint8_t r[1] = {SNOW_REASON_KILLED};
  CHECK_EQ(snow_actor_exit_reason(0, r, 1), SNOW_EINVAL);
  CHECK_EQ_U(snow_process_monitor(0), 0);
  CHECK_EQ_U(snow_timer_send_after(0, 10, b, 8), 0);
  CHECK(snow_actor_receive(0) == NULL);
  th_roundtrip_ok();
  th_end();
}

/* ------------------------------------------------------- NULL and sizes */

TEST_CASE(send_rejects_null_with_a_size_and_huge_sizes) {
  th_start();
  uint8_t b[16] = {0};
  CHECK_EQ(snow_actor_send(th_main, NULL, 1), SNOW_EINVAL);
  CHECK_EQ(snow_actor_send(th_main, NULL, UINT64_MAX), SNOW_EINVAL);
  CHECK_EQ(snow_actor_send(th_main, b, UINT64_MAX), SNOW_EMSGSIZE);
  CHECK_EQ(snow_actor_send(th_main, b, SNOW_MAX_MSG_SIZE + 1), SNOW_EMSGSIZE);
  CHECK_EQ(snow_actor_send(th_main, b, 1ull << 62), SNOW_EMSGSIZE);
  CHECK(snow_actor_receive(0) == NULL);
  th_roundtrip_ok();
  th_end();
}

TEST_CASE(spawn_rejects_null_fn_null_args_with_a_size_and_huge_sizes) {
  th_start();
  uint8_t b[16] = {0};
  CHECK_EQ_U(snow_actor_spawn(NULL, NULL, 0, 1), 0);
  CHECK_EQ_U(snow_actor_spawn(NULL, b, 16, 1), 0);
  CHECK_EQ_U(snow_actor_spawn(nothing, NULL, 1, 1), 0);
  CHECK_EQ_U(snow_actor_spawn(nothing, NULL, UINT64_MAX, 1), 0);
  CHECK_EQ_U(snow_actor_spawn(nothing, b, UINT64_MAX, 1), 0);
  CHECK_EQ_U(snow_actor_spawn(nothing, b, SNOW_MAX_MSG_SIZE + 1, 1), 0);
  snow_spawn_opts o;
  memset(&o, 0, sizeof o);
  CHECK_EQ_U(snow_actor_spawn_opts(NULL, NULL, 0, &o), 0);
  CHECK_EQ_U(snow_actor_spawn_opts(nothing, NULL, 8, &o), 0);
  CHECK_EQ_U(snow_actor_spawn_opts(nothing, b, UINT64_MAX, &o), 0);
  o.monitor = 1;
  o.link = 1;
  CHECK_EQ_U(snow_actor_spawn_opts(nothing, b, UINT64_MAX, &o), 0);
  /* A failed spawn with link/monitor sends nothing. */
  CHECK(snow_actor_receive(0) == NULL);
  th_roundtrip_ok();
  th_end();
}

TEST_CASE(spawn_opts_with_absurd_stack_size_fails_or_works_but_never_crashes) {
  th_start();
  snow_spawn_opts o;
  memset(&o, 0, sizeof o);
  o.stack_size = UINT64_MAX;
  snow_pid_t p = snow_actor_spawn_opts(nothing, NULL, 0, &o);
  (void)p;
  o.stack_size = 1; /* tiny: rounded up or refused */
  o.monitor = 1;
  p = snow_actor_spawn_opts(nothing, NULL, 0, &o);
  if (p) {
    uint8_t n[1] = {SNOW_REASON_NORMAL};
    th_expect_down(o.monitor_ref, p, n, 1);
  }
  th_roundtrip_ok();
  th_end();
}

TEST_CASE(send_after_rejects_null_negative_and_huge_sizes) {
  th_start();
  uint8_t b[16] = {0};
  CHECK_EQ_U(snow_timer_send_after(th_main, 1, NULL, 1), 0);
  CHECK_EQ_U(snow_timer_send_after(th_main, 1, b, -1), 0);
  CHECK_EQ_U(snow_timer_send_after(th_main, 1, b, INT64_MIN), 0);
  CHECK_EQ_U(snow_timer_send_after(th_main, 1, b, INT64_MAX), 0);
  CHECK_EQ_U(snow_timer_send_after(th_main, 1, b, (int64_t)SNOW_MAX_MSG_SIZE + 1), 0);
  CHECK(snow_actor_receive(50) == NULL);
  th_roundtrip_ok();
  th_end();
}

TEST_CASE(registry_rejects_null_names_and_huge_lengths) {
  th_start();
  int32_t r = snow_actor_register(NULL, 5);
  CHECK_MSG(r == SNOW_EBADNAME || r == SNOW_EINVAL, "register(NULL, 5) = %d", r);
  CHECK_EQ(snow_actor_register("abc", UINT64_MAX), SNOW_EBADNAME);
  r = snow_actor_unregister(NULL, 5);
  CHECK_MSG(r == SNOW_EBADNAME || r == SNOW_EINVAL, "unregister(NULL, 5) = %d", r);
  CHECK_EQ(snow_actor_unregister("abc", UINT64_MAX), SNOW_EBADNAME);
  CHECK_EQ_U(snow_actor_whereis(NULL, 5), 0);
  CHECK_EQ_U(snow_actor_whereis(NULL, 0), 0);
  CHECK_EQ_U(snow_actor_whereis("", 0), 0);
  CHECK_EQ_U(snow_actor_whereis("abc", UINT64_MAX), 0);
  uint8_t b[8] = {1};
  r = snow_actor_send_named(NULL, 5, NULL, 0, b, 8);
  CHECK_MSG(r == SNOW_EBADNAME || r == SNOW_EINVAL, "send_named(NULL, 5) = %d", r);
  CHECK_EQ(snow_actor_send_named("abc", UINT64_MAX, NULL, 0, b, 8), SNOW_EBADNAME);
  r = snow_actor_send_named("abc", 3, NULL, 5, b, 8);
  CHECK_MSG(r == SNOW_EBADNAME || r == SNOW_EINVAL || r == SNOW_ENONODE, "send_named(node NULL, 5) = %d", r);
  r = snow_actor_send_named("abc", 3, "n@h", UINT64_MAX, b, 8);
  CHECK_MSG(r == SNOW_EBADNAME || r == SNOW_EINVAL || r == SNOW_ENONODE, "send_named(node len max) = %d", r);
  /* The registry still works. */
  CHECK_EQ(snow_actor_register("abi_bad_ok", 10), 0);
  CHECK_EQ_U(snow_actor_whereis("abi_bad_ok", 10), th_main);
  th_roundtrip_ok();
  th_end();
}

TEST_CASE(node_monitor_rejects_null_names_and_huge_lengths) {
  th_start();
  int64_t r = snow_node_monitor(NULL, 5);
  CHECK_MSG(r == SNOW_EBADNAME || r == SNOW_EINVAL, "node_monitor(NULL, 5) = %lld", (long long)r);
  r = snow_node_monitor("a@b", UINT64_MAX);
  CHECK_MSG(r == SNOW_EBADNAME || r == SNOW_EINVAL, "node_monitor(len max) = %lld", (long long)r);
  CHECK(snow_actor_receive(0) == NULL);
  th_roundtrip_ok();
  th_end();
}

TEST_CASE(null_pointers_to_queries_are_rejected) {
  th_start();
  CHECK_EQ(snow_rt_stats(NULL), SNOW_EINVAL);
  CHECK_EQ(snow_msg_kind(NULL), SNOW_MSG_USER);
  CHECK(snow_actor_receive_match(NULL, NULL, 0) == NULL);
  CHECK(snow_actor_receive_match(NULL, NULL, -1) == NULL); /* must not block */
  snow_actor_set_terminate(0, NULL);
  th_roundtrip_ok();
  th_end();
}

/* ------------------------------------------------------- huge timeouts */

TEST_CASE(huge_timeouts_do_not_overflow) {
  th_start();
  /* A message already there is returned at once whatever the timeout. */
  CHECK_EQ(th_send2(th_main, T_MARK, 1), 0);
  CHECK(snow_actor_receive(INT64_MAX) != NULL);
  /* A huge timeout waits (does not wrap into "poll"). */
  uint8_t b[16];
  th_put_u64(b, T_MARK);
  th_put_u64(b + 8, 2);
  /* Read the clock before arming: the timer counts from when it is set. */
  int64_t t0 = th_now_ms();
  CHECK(snow_timer_send_after(th_main, 100, b, 16) != 0);
  const snow_msg* m = snow_actor_receive(INT64_MAX);
  CHECK(m != NULL);
  CHECK(th_now_ms() - t0 >= 100);
  CHECK(snow_timer_send_after(th_main, 100, b, 16) != 0);
  CHECK(snow_actor_receive(INT64_MIN) != NULL); /* negative: forever */
  /* A timer far in the future is pending and cancellable. */
  snow_ref_t t = snow_timer_send_after(th_main, INT64_MAX, b, 16);
  CHECK(t != 0);
  CHECK_EQ(snow_timer_cancel(t), 0);
  /* A process sleeping "forever" is still killed promptly. */
  snow_ref_t ref;
  snow_pid_t p = th_spawn_puppet_mon(0, &ref);
  CHECK_EQ(th_send2(p, C_SLEEP, (uint64_t)INT64_MAX), 0);
  th_wait_user(T_SLEEPING, p);
  CHECK_EQ(snow_actor_exit(p, SNOW_REASON_KILLED), 0);
  th_wait_down(ref);
  th_roundtrip_ok();
  th_end();
}

/* --------------------------------------------------------- before start */

TEST_CASE(send_spawn_and_receive_before_start_fail_cleanly) {
  snow_rt_init();
  uint8_t b[8] = {1};
  CHECK_EQ(snow_actor_send(0x1234, b, 8), SNOW_ENOTSTARTED);
  CHECK_EQ_U(snow_actor_spawn(nothing, NULL, 0, 1), 0);
  CHECK_EQ_U(snow_actor_spawn_opts(nothing, NULL, 0, NULL), 0);
  CHECK_EQ_U(snow_actor_self(), 0);
  CHECK(snow_actor_receive(0) == NULL);
  CHECK(snow_actor_receive(-1) == NULL); /* not a process: no blocking */
  CHECK(snow_actor_receive_match(match_none, NULL, -1) == NULL);
  int32_t rn = snow_actor_send_named("x", 1, NULL, 0, b, 8);
  CHECK_MSG(rn == SNOW_ENOTSTARTED || rn == 0, "send_named = %d", rn);
  CHECK_EQ_U(snow_actor_whereis("x", 1), 0);
  CHECK_EQ_U(snow_thread_attach(), 0);
  snow_reduction_check();
  snow_actor_yield();
  th_start();
  th_roundtrip_ok();
  th_end();
}

TEST_CASE(links_monitors_and_names_before_start_fail_cleanly) {
  snow_rt_init();
  int32_t r = snow_actor_link(0x1234);
  CHECK_MSG(r == SNOW_ENOTPROC || r == SNOW_ENOTSTARTED, "link = %d", r);
  r = snow_actor_unlink(0x1234);
  CHECK_MSG(r == SNOW_ENOTPROC || r == SNOW_ENOTSTARTED, "unlink = %d", r);
  CHECK_EQ_U(snow_process_monitor(0x1234), 0);
  int64_t d = snow_process_demonitor(5);
  CHECK_MSG(d == SNOW_ENOTPROC || d == SNOW_ENOTSTARTED, "demonitor = %lld", (long long)d);
  r = snow_actor_register("x", 1);
  CHECK_MSG(r == SNOW_ENOTPROC || r == SNOW_ENOTSTARTED, "register = %d", r);
  CHECK_EQ(snow_actor_trap_exit(), false);
  CHECK_EQ(snow_actor_set_trap_exit(true), false);
  r = snow_actor_exit(0x1234, SNOW_REASON_KILLED);
  CHECK_MSG(r == 0 || r == SNOW_ENOTSTARTED, "exit = %d", r);
  d = snow_node_monitor("a@b", 3);
  CHECK_MSG(d == SNOW_ENOTPROC || d == SNOW_ENOTSTARTED, "node_monitor = %lld", (long long)d);
  snow_actor_set_terminate(0, th_term_cb);
  CHECK_EQ(snow_thread_detach(), SNOW_ENOTPROC);
  th_start();
  th_roundtrip_ok();
  th_end();
}

TEST_CASE(timers_before_start_fail_cleanly) {
  snow_rt_init();
  uint8_t b[8] = {1};
  CHECK_EQ_U(snow_timer_send_after(0x1234, 10, b, 8), 0);
  CHECK_EQ(snow_timer_cancel(1), 1);
  int64_t t0 = th_now_ms();
  snow_timer_sleep(20); /* outside a process: sleeps the thread */
  CHECK(th_now_ms() - t0 >= 20);
  /* Outside a process: process-wide, never freed; kept reachable for LSan. */
  static void* volatile keep;
  keep = snow_gc_alloc_actor(64, 16);
  CHECK(keep != NULL);
  snow_stats s;
  CHECK_EQ(snow_rt_stats(&s), 0);
  th_start();
  th_roundtrip_ok();
  th_end();
}

/* ------------------------------------------------------- wrong context */

typedef struct foreign_results {
  const snow_msg* recv_forever;
  const snow_msg* recv_match;
  int64_t recv_ms;
  int32_t link, unlink, reg, unreg, send, exit_rc, detach;
  snow_ref_t monitor;
  int64_t demon, demon_flush, node_mon, node_mon_all;
  bool trap, set_trap;
  snow_pid_t self, spawned, spawn_link, spawn_monitor;
} foreign_results;

static void* foreign_calls(void* arg) {
  foreign_results* r = arg;
  int64_t t0 = th_now_ms();
  r->recv_forever = snow_actor_receive(-1); /* must return NULL at once */
  r->recv_match = snow_actor_receive_match(match_none, NULL, -1);
  r->recv_ms = th_now_ms() - t0;
  r->link = snow_actor_link(th_main);
  r->unlink = snow_actor_unlink(th_main);
  r->reg = snow_actor_register("abi_bad_thr", 11);
  r->unreg = snow_actor_unregister("abi_bad_thr", 11);
  r->monitor = snow_process_monitor(th_main);
  r->demon = snow_process_demonitor(1);
  r->demon_flush = snow_process_demonitor_flush(1);
  r->node_mon = snow_node_monitor("a@b", 3);
  r->node_mon_all = snow_node_monitor_all(true);
  r->trap = snow_actor_trap_exit();
  r->set_trap = snow_actor_set_trap_exit(true);
  r->self = snow_actor_self();
  r->detach = snow_thread_detach();
  snow_actor_set_terminate(0, th_term_cb); /* no calling process: no effect */
  snow_reduction_check();
  snow_actor_yield();
  /* Allowed from any thread: */
  r->send = th_send2(th_main, T_MARK, 0xF0);
  r->exit_rc = snow_actor_exit(th_main, SNOW_REASON_NORMAL); /* ignored by main */
  uint8_t b[8];
  th_put_u64(b, th_main);
  r->spawned = snow_actor_spawn(nothing, b, 8, 1);
  snow_spawn_opts o;
  memset(&o, 0, sizeof o);
  o.link = 1;
  r->spawn_link = snow_actor_spawn_opts(nothing, NULL, 0, &o);
  memset(&o, 0, sizeof o);
  o.monitor = 1;
  r->spawn_monitor = snow_actor_spawn_opts(nothing, NULL, 0, &o);
  return NULL;
}

TEST_CASE(calls_from_a_non_attached_thread_get_enotproc_or_no_op) {
  th_start();
  foreign_results r;
  memset(&r, 0x55, sizeof r);
  pthread_t t;
  CHECK_EQ(pthread_create(&t, NULL, foreign_calls, &r), 0);
  pthread_join(t, NULL);
  CHECK(r.recv_forever == NULL);
  CHECK(r.recv_match == NULL);
  CHECK(r.recv_ms < th_slack_ms());
  CHECK_EQ(r.link, SNOW_ENOTPROC);
  CHECK_EQ(r.unlink, SNOW_ENOTPROC);
  CHECK_EQ(r.reg, SNOW_ENOTPROC);
  CHECK_EQ(r.unreg, SNOW_ENOTPROC);
  CHECK_EQ_U(r.monitor, 0);
  CHECK_EQ(r.demon, SNOW_ENOTPROC);
  CHECK_EQ(r.demon_flush, SNOW_ENOTPROC);
  CHECK_EQ(r.node_mon, SNOW_ENOTPROC);
  CHECK_EQ(r.node_mon_all, SNOW_ENOTPROC);
  CHECK_EQ(r.trap, false);
  CHECK_EQ(r.set_trap, false);
  CHECK_EQ_U(r.self, 0);
  CHECK_EQ(r.detach, SNOW_ENOTPROC);
  CHECK_EQ(r.send, 0);
  CHECK_EQ(r.exit_rc, 0);
  CHECK(r.spawned != 0);
  CHECK_EQ_U(r.spawn_link, 0);
  CHECK_EQ_U(r.spawn_monitor, 0);
  CHECK_EQ_U(snow_actor_whereis("abi_bad_thr", 11), 0);
  /* The thread's message arrived; main survived the normal exit signal. */
  th_wait_user(T_MARK, 0xF0);
  CHECK_EQ_U(snow_actor_self(), th_main);
  th_roundtrip_ok();
  th_end();
  CHECK_EQ(th_term_count(), 0);
}

/* ----------------------------------------------------- aborting calls */

/* Runs fn in a grandchild with stderr captured; returns its wait status. */
static int run_in_grandchild(void (*fn)(void), char* err, size_t cap) {
  int fds[2];
  CHECK_EQ(pipe(fds), 0);
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    close(fds[0]);
    dup2(fds[1], 2);
    fn();
    _exit(0);
  }
  close(fds[1]);
  size_t n = 0;
  int64_t deadline = th_now_ms() + th_wait_ms();
  for (;;) {
    struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
    int64_t left = deadline - th_now_ms();
    if (left <= 0) {
      kill(pid, SIGKILL);
      break;
    }
    if (poll(&pfd, 1, (int)left) <= 0) continue;
    ssize_t k = read(fds[0], err + n, cap - 1 - n);
    if (k <= 0) break;
    n += (size_t)k;
    if (n >= cap - 1) break;
  }
  err[n] = 0;
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

static void do_exit_self_outside(void) {
  snow_rt_init();
  uint8_t r[1] = {SNOW_REASON_NORMAL};
  snow_actor_exit_self(r, 1);
}

TEST_CASE(exit_self_outside_a_process_aborts) {
  char err[4096];
  int st = run_in_grandchild(do_exit_self_outside, err, sizeof err);
  CHECK_MSG(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "status 0x%x, stderr: %.200s", st, err);
}

static void do_panic_outside(void) {
  snow_rt_init();
  snow_panic("outside-panic-msg", 17, "pfile.c", 7, 99);
}

TEST_CASE(panic_outside_a_process_prints_the_message_and_aborts) {
  char err[4096];
  int st = run_in_grandchild(do_panic_outside, err, sizeof err);
  CHECK_MSG(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "status 0x%x, stderr: %.200s", st, err);
  CHECK_MSG(strstr(err, "outside-panic-msg") != NULL, "stderr: %.300s", err);
  CHECK_MSG(strstr(err, "pfile.c:99") != NULL, "stderr lacks file:line: %.300s", err);
}

static void* exit_self_thread(void* arg) {
  (void)arg;
  uint8_t r[1] = {SNOW_REASON_NORMAL};
  snow_actor_exit_self(r, 1);
}

static void do_exit_self_on_foreign_thread(void) {
  snow_rt_init();
  if (snow_rt_init_actor(1) != 0) _exit(3);
  pthread_t t;
  pthread_create(&t, NULL, exit_self_thread, NULL);
  pthread_join(t, NULL);
  _exit(4); /* exit_self returned: wrong */
}

TEST_CASE(exit_self_on_a_non_attached_thread_after_start_aborts) {
  char err[4096];
  int st = run_in_grandchild(do_exit_self_on_foreign_thread, err, sizeof err);
  CHECK_MSG(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "status 0x%x, stderr: %.200s", st, err);
}

/* -------------------------------------------------------------- strerror */

TEST_CASE(strerror_names_every_code) {
#define CHECK_STR(name, value, text) \
  CHECK_MSG(strcmp(snow_strerror(value), text) == 0, "%s: \"%s\"", #name, snow_strerror(value));
  SNOW_ERRNO_MAP(CHECK_STR)
#undef CHECK_STR
  CHECK(strcmp(snow_strerror(0), "success") == 0);
  CHECK(strcmp(snow_strerror(1), "success") == 0);
  CHECK(strcmp(snow_strerror(INT64_MAX), "success") == 0);
  CHECK(strcmp(snow_strerror(-22), "unknown error") == 0);
  CHECK(strcmp(snow_strerror(-1000), "unknown error") == 0);
  CHECK(strcmp(snow_strerror(INT64_MIN), "unknown error") == 0);
  /* The error values of ABI.md exist and are negative and distinct. */
  const int codes[] = {
      SNOW_EINVAL,       SNOW_ENOTPROC,  SNOW_ENOPROC,    SNOW_ENOTSTARTED, SNOW_EALREADY,  SNOW_EEXIST,   SNOW_ENONODE,
      SNOW_ECONNREFUSED, SNOW_EAUTH,     SNOW_ETIMEDOUT,  SNOW_ENOMEM,      SNOW_EBADNAME,  SNOW_EMSGSIZE, SNOW_ENOFUNC,
      SNOW_ENOTFOUND,    SNOW_ESHUTDOWN, SNOW_EADDRINUSE, SNOW_EEPMD,       SNOW_ENOCOOKIE, SNOW_EBUSY,    SNOW_ETLS};
  for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
    CHECK(codes[i] < 0);
    for (size_t j = 0; j < i; j++) CHECK(codes[i] != codes[j]);
  }
}

/* --------------------------------------------------- bad messages kinds */

TEST_CASE(send_term_rejects_malformed_external_terms) {
  th_start();
  const uint8_t bad1[] = {131};
  const uint8_t bad2[] = {130, 97, 1};
  const uint8_t bad3[] = {131, 109, 0, 0, 0, 10, 'a'}; /* binary longer than data */
  /* Atoms an Erlang node refuses (it would drop the connection they came
   * on): text that is not UTF-8, in both UTF-8 atom forms. */
  const uint8_t bad4[] = {131, 119, 2, 0xC3, 0x28};
  const uint8_t bad5[] = {131, 118, 0, 2, 0xC3, 0x28};
  const uint8_t bad6[] = {131, 104, 2, 97, 1, 119, 3, 0xED, 0xA0, 0x80}; /* {1, <surrogate atom>} */
  CHECK_EQ(snow_actor_send_term(th_main, bad1, sizeof bad1), SNOW_EINVAL);
  CHECK_EQ(snow_actor_send_term(th_main, bad2, sizeof bad2), SNOW_EINVAL);
  CHECK_EQ(snow_actor_send_term(th_main, bad3, sizeof bad3), SNOW_EINVAL);
  CHECK_EQ(snow_actor_send_term(th_main, bad4, sizeof bad4), SNOW_EINVAL);
  CHECK_EQ(snow_actor_send_term(th_main, bad5, sizeof bad5), SNOW_EINVAL);
  CHECK_EQ(snow_actor_send_term(th_main, bad6, sizeof bad6), SNOW_EINVAL);
  CHECK_EQ(snow_actor_send_term(th_main, NULL, 3), SNOW_EINVAL);
  CHECK_EQ(snow_actor_send_term(th_main, bad1, 0), SNOW_EINVAL);
  CHECK(snow_actor_receive(0) == NULL);
  th_roundtrip_ok();
  th_end();
}

/* A remote target gets everything in one distribution message, which
 * keeps 64 KiB of SNOW_MAX_MSG_SIZE for its control message: payloads in
 * that last 64 KiB say SNOW_EMSGSIZE for another node. Bits 63..48 of a
 * handle name another node; no connection is needed to be refused. The
 * buffer is an untouched mapping: the 2 GiB cost no memory. */
TEST_CASE(oversized_payloads_for_another_node_are_refused_with_emsgsize) {
  th_start();
  const snow_pid_t remote = ((uint64_t)1 << 48) | 5;
  const uint64_t big = SNOW_MAX_MSG_SIZE - 1000;
  uint8_t* r = mmap(NULL, 9 + big, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  CHECK(r != MAP_FAILED);
  r[0] = SNOW_REASON_ERROR;
  memcpy(r + 1, &big, 8);
  CHECK_EQ(snow_actor_exit_reason(remote, r, 9 + big), SNOW_EMSGSIZE);
  CHECK_EQ(snow_actor_send(remote, r, big), SNOW_EMSGSIZE);
  CHECK(snow_service_try_call(remote, 7, r, big, 100) == NULL);
  CHECK_EQ(snow_service_last_error(), SNOW_EMSGSIZE);
  CHECK_EQ(snow_service_reply(remote, r, big), SNOW_EMSGSIZE);
  munmap(r, 9 + big);
  th_roundtrip_ok();
  th_end();
}
