/* ABI.md section 2: lifecycle (init, init_actor, run_scheduler, halt,
 * abi_version, thread attach/detach). */
#include "harness.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

/* ---------------------------------------------------------------- init */

TEST_CASE(init_is_idempotent) {
  snow_rt_init();
  snow_rt_init();
  snow_rt_init();
  th_start(); /* calls snow_rt_init once more */
  snow_rt_init();
  th_roundtrip_ok();
  th_end();
}

static void* init_thread(void* arg) {
  (void)arg;
  for (int i = 0; i < 100; i++) snow_rt_init();
  return NULL;
}

TEST_CASE(init_from_several_threads_at_once_is_safe) {
  pthread_t t[4];
  for (int i = 0; i < 4; i++) CHECK_EQ(pthread_create(&t[i], NULL, init_thread, NULL), 0);
  for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
  th_start();
  th_roundtrip_ok();
  th_end();
}

TEST_CASE(init_actor_twice_returns_ealready) {
  th_start();
  CHECK_EQ(snow_rt_init_actor(0), SNOW_EALREADY);
  CHECK_EQ(snow_rt_init_actor(1), SNOW_EALREADY);
  CHECK_EQ(snow_rt_init_actor(4), SNOW_EALREADY);
  CHECK_EQ_U(snow_actor_self(), th_main);
  th_roundtrip_ok();
  th_end();
}

TEST_CASE(abi_version_is_2_before_and_after_start) {
  CHECK_EQ(SNOW_ABI_VERSION, 2);
  CHECK_EQ(snow_rt_abi_version(), 2);
  th_start();
  CHECK_EQ(snow_rt_abi_version(), SNOW_ABI_VERSION);
  th_end();
}

TEST_CASE(main_thread_becomes_a_process_after_init_actor) {
  snow_rt_init();
  CHECK_EQ_U(snow_actor_self(), 0);
  th_start();
  CHECK(th_main != 0);
  CHECK_EQ(th_send2(th_main, T_MARK, 42), 0);
  const snow_msg* m = th_wait_user(T_MARK, 42);
  CHECK_EQ(m->len, 16);
  th_end();
}

static void* init_actor_thread(void* arg) {
  int32_t* out = arg;
  *out = snow_rt_init_actor(0);
  return NULL;
}

TEST_CASE(init_actor_from_another_thread_after_start_returns_ealready) {
  th_start();
  pthread_t t;
  int32_t r = 1;
  CHECK_EQ(pthread_create(&t, NULL, init_actor_thread, &r), 0);
  pthread_join(t, NULL);
  CHECK_EQ(r, SNOW_EALREADY);
  th_roundtrip_ok();
  th_end();
}

/* ---------------------------------------------------------- run_scheduler */

TEST_CASE(run_scheduler_before_start_returns_enotstarted) {
  snow_rt_init();
  CHECK_EQ(snow_rt_run_scheduler(), SNOW_ENOTSTARTED);
  /* The runtime still starts normally afterwards. */
  th_start();
  th_roundtrip_ok();
  th_end();
}

static _Atomic int g_workers_done;

static void sleeping_worker(const uint8_t* args) {
  (void)args;
  snow_timer_sleep(100);
  for (int i = 0; i < 50; i++) snow_actor_yield();
  atomic_fetch_add(&g_workers_done, 1);
}

TEST_CASE(run_scheduler_returns_0_after_every_process_exits) {
  th_start();
  for (int i = 0; i < 20; i++) CHECK(snow_actor_spawn(sleeping_worker, NULL, 0, SNOW_PRIO_NORMAL));
  th_end_natural();
  /* It waited for all of them. */
  CHECK_EQ(atomic_load(&g_workers_done), 20);
}

static _Atomic int g_watch_state; /* 0 none, 1 DOWN normal, 2 other */
static uint8_t g_watch_reason[64];
static size_t g_watch_len;

static void main_watcher(const uint8_t* args) {
  snow_pid_t mainpid = th_arg(args, 0);
  snow_ref_t ref = snow_process_monitor(mainpid);
  if (!ref) FAILF("monitor(main) returned 0");
  th_send2(mainpid, T_READY, snow_actor_self());
  const snow_msg* m = snow_actor_receive(-1);
  if (!m || snow_msg_kind(m) != SNOW_MSG_DOWN) {
    atomic_store(&g_watch_state, 2);
    return;
  }
  size_t rl;
  const uint8_t* r = th_down_reason(m, &rl);
  if (rl > sizeof g_watch_reason) rl = sizeof g_watch_reason;
  memcpy(g_watch_reason, r, rl);
  g_watch_len = rl;
  atomic_store(&g_watch_state, th_down_ref(m) == ref && th_down_pid(m) == mainpid ? 1 : 2);
}

TEST_CASE(run_scheduler_exits_the_main_process_with_normal) {
  th_start();
  uint64_t w[1] = {th_main};
  snow_pid_t p = th_spawn_words(main_watcher, w, 1);
  th_wait_user(T_READY, p);
  th_end_natural();
  CHECK_EQ(atomic_load(&g_watch_state), 1);
  uint8_t exp[1] = {SNOW_REASON_NORMAL};
  CHECK_REASON(g_watch_reason, g_watch_len, exp, 1);
}

static void expect_term_reason(snow_pid_t p, uint8_t tag) {
  uint8_t r[512];
  size_t rl;
  bool state_null;
  if (!th_term_get(p, r, &rl, &state_null)) FAILF("terminate callback of 0x%llx never ran", (unsigned long long)p);
  CHECK(state_null);
  uint8_t exp[16];
  size_t el = th_reason_for_tag(exp, tag);
  CHECK_REASON(r, rl, exp, el);
}

TEST_CASE(run_scheduler_exits_processes_waiting_forever_with_shutdown) {
  th_start();
  snow_pid_t a = th_spawn_puppet(PUPPET_TERMCB); /* in receive(-1) */
  snow_pid_t b = th_spawn_puppet(PUPPET_TERMCB);
  snow_pid_t c = th_spawn_puppet(PUPPET_TERMCB);
  /* c blocks in a selective receive that matches nothing, no timeout. */
  uint64_t w[3] = {C_BLOCK, 1, (uint64_t)-1};
  CHECK_EQ(th_send_words(c, w, 3), 0);
  th_wait_user(T_BLOCKING, c);
  /* a and b are linked to each other. */
  CHECK_EQ(th_puppet_call(a, C_LINK, b, T_LINKED), 0);
  th_end_natural();
  expect_term_reason(a, SNOW_REASON_SHUTDOWN);
  expect_term_reason(b, SNOW_REASON_SHUTDOWN);
  expect_term_reason(c, SNOW_REASON_SHUTDOWN);
}

TEST_CASE(run_scheduler_exits_trapping_processes_waiting_forever_with_shutdown) {
  th_start();
  snow_pid_t a = th_spawn_puppet(PUPPET_TERMCB | PUPPET_TRAP);
  snow_pid_t b = th_spawn_puppet(PUPPET_TERMCB | PUPPET_TRAP);
  CHECK_EQ(th_puppet_call(a, C_LINK, b, T_LINKED), 0);
  th_end_natural();
  expect_term_reason(a, SNOW_REASON_SHUTDOWN);
  expect_term_reason(b, SNOW_REASON_SHUTDOWN);
}

/* Waits `ms` in receive, then returns (normal). */
static void timed_waiter(const uint8_t* args) {
  snow_pid_t parent = th_arg(args, 0);
  int64_t ms = (int64_t)th_arg(args, 1);
  snow_actor_set_terminate(0, th_term_cb);
  th_send2(parent, T_READY, snow_actor_self());
  const snow_msg* m = snow_actor_receive(ms);
  if (m) snow_actor_exit_self((const uint8_t*)"\x05\x03\0\0\0\0\0\0\0got", 12);
}

/* Waits forever for one message, then returns (normal). */
static void forever_waiter(const uint8_t* args) {
  snow_pid_t parent = th_arg(args, 0);
  snow_actor_set_terminate(0, th_term_cb);
  th_send2(parent, T_READY, snow_actor_self());
  (void)snow_actor_receive(-1);
}

/* Sleeps `ms`, then returns (normal). */
static void sleeper(const uint8_t* args) {
  snow_pid_t parent = th_arg(args, 0);
  snow_actor_set_terminate(0, th_term_cb);
  th_send2(parent, T_READY, snow_actor_self());
  snow_timer_sleep((int64_t)th_arg(args, 1));
}

TEST_CASE(run_scheduler_does_not_shut_down_processes_with_pending_timers) {
  th_start();
  uint64_t w[2] = {th_main, 300};
  snow_pid_t timed = th_spawn_words(timed_waiter, w, 2);
  th_wait_user(T_READY, timed);
  snow_pid_t slept = th_spawn_words(sleeper, w, 2);
  th_wait_user(T_READY, slept);
  snow_pid_t fed = th_spawn_words(forever_waiter, w, 1);
  th_wait_user(T_READY, fed);
  uint8_t msg[8] = {1};
  CHECK(snow_timer_send_after(fed, 300, msg, 8) != 0);
  snow_pid_t stuck = th_spawn_words(forever_waiter, w, 1);
  th_wait_user(T_READY, stuck);
  th_end_natural();
  expect_term_reason(timed, SNOW_REASON_NORMAL);
  expect_term_reason(slept, SNOW_REASON_NORMAL);
  expect_term_reason(fed, SNOW_REASON_NORMAL);
  expect_term_reason(stuck, SNOW_REASON_SHUTDOWN);
}

/* Keeps a receive timeout pending forever (never deadlocked). */
static void ticker(const uint8_t* args) {
  snow_pid_t parent = th_arg(args, 0);
  snow_actor_set_terminate(0, th_term_cb);
  th_send2(parent, T_READY, snow_actor_self());
  for (;;) (void)snow_actor_receive(20);
}

static snow_pid_t spawn_ticker(void) {
  uint64_t w[1] = {th_main};
  snow_pid_t p = th_spawn_words(ticker, w, 1);
  th_wait_user(T_READY, p);
  return p;
}

static void halter(const uint8_t* args) {
  (void)snow_actor_receive(-1);
  snow_rt_halt((int32_t)th_arg(args, 0));
  (void)snow_actor_receive(-1);
}

TEST_CASE(halt_from_a_process_makes_run_scheduler_return_its_status) {
  th_start();
  snow_pid_t t = spawn_ticker();
  uint64_t w[1] = {7};
  snow_pid_t h = th_spawn_words(halter, w, 1);
  CHECK_EQ(th_send1(h, T_GO), 0);
  CHECK_EQ(th_run_scheduler(), 7);
  /* Every process was exited with shutdown. */
  expect_term_reason(t, SNOW_REASON_SHUTDOWN);
}

TEST_CASE(halt_from_main_before_run_scheduler_returns_its_status) {
  th_start();
  snow_pid_t t = spawn_ticker();
  snow_rt_halt(5);
  CHECK_EQ(th_run_scheduler(), 5);
  expect_term_reason(t, SNOW_REASON_SHUTDOWN);
}

static int g_halt_pipe[2];

static void* halt_on_pipe_thread(void* arg) {
  (void)arg;
  char c;
  if (read(g_halt_pipe[0], &c, 1) != 1) FAILF("read from pipe failed");
  snow_rt_halt(3);
  return NULL;
}

static void pipe_poker(const uint8_t* args) {
  (void)args;
  snow_timer_sleep(100);
  char c = 'x';
  if (write(g_halt_pipe[1], &c, 1) != 1) FAILF("write to pipe failed");
}

TEST_CASE(halt_from_a_foreign_thread_makes_run_scheduler_return_its_status) {
  CHECK_EQ(pipe(g_halt_pipe), 0);
  th_start();
  snow_pid_t t = spawn_ticker();
  pthread_t th;
  CHECK_EQ(pthread_create(&th, NULL, halt_on_pipe_thread, NULL), 0);
  /* The process wakes the thread while main is (most likely) inside
   * run_scheduler; either way the status must be 3. */
  CHECK(snow_actor_spawn(pipe_poker, NULL, 0, SNOW_PRIO_NORMAL));
  CHECK_EQ(th_run_scheduler(), 3);
  pthread_join(th, NULL);
  expect_term_reason(t, SNOW_REASON_SHUTDOWN);
}

TEST_CASE(sigterm_makes_run_scheduler_return_143) {
  th_start();
  snow_pid_t t = spawn_ticker();
  CHECK_EQ(kill(getpid(), SIGTERM), 0);
  CHECK_EQ(th_run_scheduler(), 143);
  expect_term_reason(t, SNOW_REASON_SHUTDOWN);
}

TEST_CASE(sigint_makes_run_scheduler_return_130) {
  th_start();
  spawn_ticker();
  CHECK_EQ(kill(getpid(), SIGINT), 0);
  CHECK_EQ(th_run_scheduler(), 130);
}

TEST_CASE(runtime_can_be_started_again_after_run_scheduler_returns) {
  th_start();
  th_roundtrip_ok();
  th_end_natural();
  th_start();
  th_roundtrip_ok();
  snow_pid_t p = th_spawn_puppet(0);
  th_puppet_ping(p);
  th_end();
}

/* ------------------------------------------------------- attach / detach */

static void* attach_thread(void* arg) {
  (void)arg;
  snow_pid_t me = snow_thread_attach();
  CHECK(me != 0);
  CHECK_EQ_U(snow_actor_self(), me);
  CHECK_EQ_U(snow_thread_attach(), me); /* again: the same pid */
  CHECK_EQ(th_send2(th_main, T_READY, me), 0);
  /* A blocking receive on this thread. */
  const snow_msg* m = th_wait_user(C_PING, 77);
  CHECK_EQ(m->len, 16);
  CHECK_EQ(th_send3(th_main, T_PONG, me, 77), 0);
  CHECK_EQ(snow_thread_detach(), 0);
  CHECK_EQ_U(snow_actor_self(), 0);
  CHECK(snow_actor_receive(0) == NULL); /* no longer a process */
  CHECK_EQ(snow_thread_detach(), SNOW_ENOTPROC);
  return NULL;
}

TEST_CASE(attached_thread_receives_and_detach_exits_it_normal) {
  th_start();
  pthread_t t;
  CHECK_EQ(pthread_create(&t, NULL, attach_thread, NULL), 0);
  const snow_msg* m = th_wait_user(T_READY, TH_ANY_PID);
  snow_pid_t tp = th_word(m, 1);
  CHECK(tp != 0 && tp != th_main);
  snow_ref_t ref = snow_process_monitor(tp);
  CHECK(ref != 0);
  CHECK_EQ(th_send2(tp, C_PING, 77), 0);
  th_wait_user(T_PONG, tp);
  uint8_t normal[1] = {SNOW_REASON_NORMAL};
  th_expect_down(ref, tp, normal, 1);
  pthread_join(t, NULL);
  th_end();
}

/* Attaches, reports, then blocks in receive until its process is killed;
 * reports what the receive returned and what it can still do. */
static void* killed_thread(void* arg) {
  (void)arg;
  snow_pid_t me = snow_thread_attach();
  CHECK(me != 0);
  CHECK_EQ(th_send2(th_main, T_READY, me), 0);
  const snow_msg* m = snow_actor_receive(-1);
  uint64_t flags = (m == NULL ? 1u : 0u) | (snow_actor_self() == 0 ? 2u : 0u) |
                   (snow_actor_receive(0) == NULL ? 4u : 0u) | (snow_thread_detach() == SNOW_ENOTPROC ? 8u : 0u);
  /* Still a working thread: it can attach again as a new process. */
  snow_pid_t again = snow_thread_attach();
  if (again != 0 && again != me) flags |= 16u;
  CHECK_EQ(snow_actor_send(th_main, (const uint8_t*)(uint64_t[]){T_DONE, flags}, 16), 0);
  CHECK_EQ(snow_thread_detach(), 0);
  return (void*)(uintptr_t)0x5eed;
}

TEST_CASE(killing_an_attached_thread_returns_from_its_blocking_call_and_detaches_it) {
  th_start();
  pthread_t t;
  CHECK_EQ(pthread_create(&t, NULL, killed_thread, NULL), 0);
  const snow_msg* m = th_wait_user(T_READY, TH_ANY_PID);
  snow_pid_t tp = th_word(m, 1);
  snow_ref_t ref = snow_process_monitor(tp);
  CHECK(ref != 0);
  CHECK_EQ(snow_actor_exit(tp, SNOW_REASON_KILLED), 0);
  uint8_t killed[1] = {SNOW_REASON_KILLED};
  th_expect_down(ref, tp, killed, 1);
  m = th_wait_user(T_DONE, TH_ANY_PID);
  CHECK_MSG(th_word(m, 1) == 31,
            "receive returned NULL: %d, self 0: %d, poll NULL: %d, detach ENOTPROC: %d, "
            "re-attach: %d",
            (int)(th_word(m, 1) & 1), (int)!!(th_word(m, 1) & 2), (int)!!(th_word(m, 1) & 4),
            (int)!!(th_word(m, 1) & 8), (int)!!(th_word(m, 1) & 16));
  void* rv = NULL;
  CHECK_EQ(pthread_join(t, &rv), 0);
  CHECK_MSG(rv == (void*)(uintptr_t)0x5eed, "the thread did not run to its end");
  th_end();
}

static void* attach_link_thread(void* arg) {
  (void)arg;
  snow_pid_t me = snow_thread_attach();
  CHECK(me != 0);
  CHECK_EQ(snow_actor_set_trap_exit(true), false);
  snow_pid_t p = th_spawn_puppet(0); /* its parent is this thread */
  CHECK_EQ(snow_actor_link(p), 0);
  snow_ref_t ref = snow_process_monitor(p);
  CHECK(ref != 0);
  uint8_t r[32];
  size_t rl = th_reason_str(r, SNOW_REASON_CUSTOM, "from-thread");
  th_puppet_exit_self(p, r, rl);
  const snow_msg* m = th_wait_exit(p);
  size_t gl;
  const uint8_t* g = th_exit_reason(m, &gl);
  CHECK_REASON(g, gl, r, rl);
  th_expect_down(ref, p, r, rl);
  CHECK_EQ(th_send2(th_main, T_DONE, me), 0);
  CHECK_EQ(snow_thread_detach(), 0);
  return NULL;
}

TEST_CASE(attached_thread_can_link_monitor_and_trap_exits) {
  th_start();
  pthread_t t;
  CHECK_EQ(pthread_create(&t, NULL, attach_link_thread, NULL), 0);
  th_wait_user(T_DONE, TH_ANY_PID);
  pthread_join(t, NULL);
  th_end();
}

TEST_CASE(thread_attach_on_main_returns_the_main_pid) {
  th_start();
  CHECK_EQ_U(snow_thread_attach(), th_main);
  th_end();
}

TEST_CASE(thread_detach_on_main_returns_einval) {
  th_start();
  CHECK_EQ(snow_thread_detach(), SNOW_EINVAL);
  CHECK_EQ_U(snow_actor_self(), th_main);
  th_roundtrip_ok();
  th_end();
}

static void* detach_unattached_thread(void* arg) {
  int32_t* out = arg;
  *out = snow_thread_detach();
  return NULL;
}

TEST_CASE(thread_detach_on_unattached_thread_returns_enotproc) {
  th_start();
  pthread_t t;
  int32_t r = 0;
  CHECK_EQ(pthread_create(&t, NULL, detach_unattached_thread, &r), 0);
  pthread_join(t, NULL);
  CHECK_EQ(r, SNOW_ENOTPROC);
  th_end();
}

TEST_CASE(thread_attach_before_start_returns_0) {
  snow_rt_init();
  CHECK_EQ_U(snow_thread_attach(), 0);
  th_start();
  th_roundtrip_ok();
  th_end();
}

static void* attach_many_thread(void* arg) {
  (void)arg;
  for (int i = 0; i < 50; i++) {
    snow_pid_t me = snow_thread_attach();
    CHECK(me != 0);
    CHECK_EQ(th_send2(th_main, T_SEQ, me), 0);
    CHECK_EQ(snow_thread_detach(), 0);
  }
  return NULL;
}

TEST_CASE(attach_detach_repeatedly_from_several_threads) {
  th_start();
  pthread_t t[4];
  for (int i = 0; i < 4; i++) CHECK_EQ(pthread_create(&t[i], NULL, attach_many_thread, NULL), 0);
  for (int i = 0; i < 200; i++) th_wait_user(T_SEQ, TH_ANY_PID);
  for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
  th_roundtrip_ok();
  th_end();
}

/* ---------------------------------------------------------------- what ends the wait */

/* Attaches, waits until the main process has exited (run_scheduler has
 * begun waiting), optionally cancels a timer from outside any process, then
 * detaches: after that nothing can wake the remaining waiters. */
struct late_detach {
  snow_ref_t timer; /* 0: none to cancel */
};

static void* late_detach_thread(void* arg) {
  struct late_detach* ld = arg;
  snow_pid_t me = snow_thread_attach();
  CHECK(me != 0);
  snow_ref_t ref = snow_process_monitor(th_main);
  CHECK(ref != 0);
  CHECK_EQ(th_send2(th_main, T_READY, me), 0); /* attached before main waits */
  th_wait_down(ref);                           /* normal, or noproc if it had already gone */
  CHECK_EQ(snow_thread_detach(), 0);
  if (ld->timer) CHECK_EQ(snow_timer_cancel(ld->timer), 0);
  return NULL;
}

/* Idle workers park at once instead of watching for work first, so they
 * are parked, their "quiescent" report already given while the thread was
 * still attached, by the time the thread learns that main has exited: the
 * detach (or cancel) is what must make run_scheduler look again. */
static void start_without_spin(void) {
  CHECK_EQ(setenv("SNOW_SPIN_US", "0", 1), 0);
  th_start();
}

/* A process waits forever; a thread attaches (so nothing counts as
 * deadlocked yet), waits until main is in run_scheduler, then detaches and,
 * given a timer, cancels it. run_scheduler must still shut the waiter down
 * (the case times out if nothing makes it look again). */
static void waiter_outlives_a_late_thread(bool with_timer) {
  start_without_spin();
  uint64_t w[1] = {th_main};
  snow_pid_t stuck = th_spawn_words(forever_waiter, w, 1);
  th_wait_user(T_READY, stuck);
  struct late_detach ld = {0};
  if (with_timer) {
    /* Far beyond the case's timeout: only the cancel can end the wait. */
    uint8_t msg[8] = {1};
    ld.timer = snow_timer_send_after(stuck, 3600 * 1000, msg, 8);
    CHECK(ld.timer != 0);
  }
  pthread_t t;
  CHECK_EQ(pthread_create(&t, NULL, late_detach_thread, &ld), 0);
  th_wait_user(T_READY, TH_ANY_PID);
  th_end_natural();
  expect_term_reason(stuck, SNOW_REASON_SHUTDOWN);
  CHECK_EQ(pthread_join(t, NULL), 0);
}

/* Whether the detach comes after run_scheduler's last look depends on timing
 * here; the timer case below orders it for certain. */
TEST_CASE(run_scheduler_shuts_down_waiters_once_the_last_attached_thread_detaches) {
  waiter_outlives_a_late_thread(false);
}

TEST_CASE(run_scheduler_shuts_down_waiters_once_the_last_timer_is_cancelled_from_a_plain_thread) {
  waiter_outlives_a_late_thread(true);
}

static void* run_scheduler_thread(void* arg) {
  *(int32_t*)arg = snow_rt_run_scheduler();
  return NULL;
}

TEST_CASE(run_scheduler_from_another_thread_returns_einval) {
  th_start();
  int32_t rc = 1;
  pthread_t t;
  CHECK_EQ(pthread_create(&t, NULL, run_scheduler_thread, &rc), 0);
  CHECK_EQ(pthread_join(t, NULL), 0);
  CHECK_EQ(rc, SNOW_EINVAL);
  th_roundtrip_ok(); /* the runtime goes on; main's own call still ends it */
  th_end();
}

/* ---------------------------------------------------------------- a halt while a thread is away */

/* The stages an attached thread and main step through, outside the runtime. */
static pthread_mutex_t away_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t away_cv = PTHREAD_COND_INITIALIZER;
static int away_stage;      /* main: 1 = the runtime stopped, 2 = restarted */
static uint64_t away_flags; /* what the thread saw after the stop */

static void away_wait_stage(int stage) {
  pthread_mutex_lock(&away_mu);
  while (away_stage < stage) pthread_cond_wait(&away_cv, &away_mu);
  pthread_mutex_unlock(&away_mu);
}

static void away_set_stage(int stage) {
  pthread_mutex_lock(&away_mu);
  away_stage = stage;
  pthread_cond_broadcast(&away_cv);
  pthread_mutex_unlock(&away_mu);
}

static void* away_thread(void* arg) {
  (void)arg;
  snow_pid_t me = snow_thread_attach();
  CHECK(me != 0);
  CHECK_EQ(snow_actor_register("away", 4), 0);
  CHECK_EQ(th_send2(th_main, T_READY, me), 0);
  away_wait_stage(1); /* busy in its own code while the runtime stops */
  away_flags = (snow_actor_self() == 0 ? 1u : 0u) | (snow_actor_receive(0) == NULL ? 2u : 0u) |
               (snow_thread_detach() == SNOW_ENOTPROC ? 4u : 0u);
  away_wait_stage(2);
  snow_pid_t again = snow_thread_attach();
  CHECK(again != 0 && again != me);
  CHECK_EQ(th_send2(th_main, T_DONE, again), 0);
  CHECK_EQ(snow_thread_detach(), 0);
  return NULL;
}

TEST_CASE(a_halt_gives_up_on_an_attached_thread_that_stays_away_and_a_restart_starts_clean) {
  th_start();
  pthread_t t;
  CHECK_EQ(pthread_create(&t, NULL, away_thread, NULL), 0);
  const snow_msg* m = th_wait_user(T_READY, TH_ANY_PID);
  snow_pid_t old = th_word(m, 1);
  th_end(); /* returns once the grace period for the absent thread is over */
  away_set_stage(1);
  /* Once it calls in again the thread is not a process any more. */
  th_start();
  away_set_stage(2);
  m = th_wait_user(T_DONE, TH_ANY_PID);
  snow_pid_t again = th_word(m, 1);
  CHECK_MSG(away_flags == 7, "after the stop: self 0: %d, receive NULL: %d, detach ENOTPROC: %d", (int)(away_flags & 1),
            (int)!!(away_flags & 2), (int)!!(away_flags & 4));
  CHECK(again != old);
  /* The old process is gone from the new runtime: its name is free, a
   * monitor of it reports noproc, and only main counts as alive once the
   * new attachment has detached. */
  CHECK_EQ_U(snow_actor_whereis("away", 4), 0);
  snow_ref_t ref = snow_process_monitor(old);
  CHECK(ref != 0);
  uint8_t noproc[1] = {SNOW_REASON_NOPROC};
  th_expect_down(ref, old, noproc, 1);
  th_sync_dead(again);
  snow_stats st;
  CHECK_EQ(snow_rt_stats(&st), 0);
  CHECK_EQ(st.processes_alive, 1);
  CHECK_EQ(pthread_join(t, NULL), 0);
  th_end();
}

/* Attaches, waits for T_GO, then ends without detaching. */
static void* forgetful_thread(void* arg) {
  (void)arg;
  snow_pid_t me = snow_thread_attach();
  CHECK(me != 0);
  CHECK_EQ(th_send2(th_main, T_READY, me), 0);
  th_wait_user(T_GO, th_main);
  return NULL;
}

TEST_CASE(a_thread_that_ends_attached_is_detached_with_normal) {
  th_start();
  pthread_t t;
  CHECK_EQ(pthread_create(&t, NULL, forgetful_thread, NULL), 0);
  const snow_msg* m = th_wait_user(T_READY, TH_ANY_PID);
  snow_pid_t tp = th_word(m, 1);
  snow_ref_t ref = snow_process_monitor(tp);
  CHECK(ref != 0);
  CHECK_EQ(th_send2(tp, T_GO, th_main), 0);
  uint8_t normal[1] = {SNOW_REASON_NORMAL};
  th_expect_down(ref, tp, normal, 1);
  CHECK_EQ(pthread_join(t, NULL), 0);
  /* Nothing attached is left: run_scheduler ends by itself. */
  th_end_natural();
}
