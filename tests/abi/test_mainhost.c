/* ABI.md v2 section 2: the main process (the main thread after
 * snow_rt_init_actor) talking to processes. While the main process waits
 * (receive, service call, sleep) its thread runs the processes main woke
 * (docs/design/scheduler.md, "The host"); these cases pin down what a user
 * sees of that: every message arrives, in order, processes keep running
 * while main waits and while main computes without calling the runtime,
 * their timers fire, main's own timeouts hold, and exits, monitors and
 * run_scheduler keep their meaning when the process involved ran on the
 * main thread. */
#include "harness.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define SVC_TAG 0x5E78ull

/* Waits (without calling the runtime: main computes) until *flag is set or
 * the case's event deadline passes; true if it was set. */
static bool spin_until_set(atomic_int* flag) {
  int64_t give_up = th_now_ms() + th_wait_ms();
  while (!atomic_load(flag))
    if (th_now_ms() > give_up) return false;
  return true;
}

TEST_CASE(main_receives_one_answer_from_each_of_200_processes) {
  th_start();
  enum { N = 200 };
  snow_pid_t p[N];
  for (int i = 0; i < N; i++) p[i] = th_spawn_puppet(0);
  for (int i = 0; i < N; i++) CHECK_EQ(th_send2(p[i], C_PING, (uint64_t)i), 0);
  bool seen[N] = {false};
  for (int k = 0; k < N; k++) {
    const snow_msg* m = th_wait_user(T_PONG, TH_ANY_PID);
    uint64_t i = th_word(m, 2);
    CHECK_MSG(i < N && th_word(m, 1) == p[i], "answer %d: seq %llu from an unexpected sender", k,
              (unsigned long long)i);
    CHECK_MSG(!seen[i], "process %llu answered twice", (unsigned long long)i);
    seen[i] = true;
  }
  for (int i = 0; i < N; i++) CHECK_EQ(th_send1(p[i], C_STOP), 0);
  th_end();
}

TEST_CASE(main_and_a_process_complete_20000_round_trips_in_order) {
  th_start();
  snow_pid_t p = th_spawn_puppet(0);
  uint64_t n = (uint64_t)(20000 / th_scale());
  for (uint64_t i = 0; i < n; i++) {
    CHECK_EQ(th_send2(p, C_PING, i), 0);
    th_wait_user2(T_PONG, p, i);
  }
  th_end();
}

/* args [peer][rounds][main]: with peer 0, waits for its partner's pid
 * first. Bounces a counter with the partner; the one that sees it reach
 * `rounds` tells main [T_DONE][self] and the partner to stop. */
static void bouncer(const uint8_t* args) {
  snow_pid_t peer = th_arg(args, 0), main_pid = th_arg(args, 2);
  uint64_t rounds = th_arg(args, 1);
  if (peer == 0) {
    const snow_msg* m = snow_actor_receive(-1);
    peer = th_word(m, 1);
  } else {
    CHECK_EQ(th_send2(peer, T_SEQ, snow_actor_self()), 0);
    CHECK_EQ(th_send2(peer, T_SEQ, 0), 0);
  }
  for (;;) {
    const snow_msg* m = snow_actor_receive(-1);
    uint64_t v = th_word(m, 1);
    if (th_word(m, 0) == C_STOP) return;
    if (v >= rounds) {
      CHECK_EQ(th_send1(peer, C_STOP), 0);
      CHECK_EQ(th_send2(main_pid, T_DONE, snow_actor_self()), 0);
      return;
    }
    CHECK_EQ(th_send2(peer, T_SEQ, v + 1), 0);
  }
}

TEST_CASE(two_processes_exchange_20000_messages_while_main_waits_in_receive) {
  th_start();
  uint64_t rounds = (uint64_t)(20000 / th_scale());
  uint64_t wa[3] = {0, rounds, th_main};
  snow_pid_t a = th_spawn_words(bouncer, wa, 3);
  uint64_t wb[3] = {a, rounds, th_main};
  snow_pid_t b = th_spawn_words(bouncer, wb, 3);
  CHECK(a != 0 && b != 0);
  th_wait_user(T_DONE, TH_ANY_PID);
  th_end();
}

static atomic_int g_flag;

/* Spawns fn with args [main] and waits for its [T_READY][pid]: it has run
 * and waits for main's T_GO. */
static snow_pid_t spawn_waiting_for_go(void (*fn)(const uint8_t*)) {
  uint64_t w[1] = {th_main};
  snow_pid_t p = th_spawn_words(fn, w, 1);
  CHECK(p != 0);
  th_wait_user(T_READY, p);
  return p;
}

/* args [main]: tells main it waits, then sets g_flag when any message comes. */
static void flag_on_message(const uint8_t* args) {
  CHECK_EQ(th_send2(th_arg(args, 0), T_READY, snow_actor_self()), 0);
  (void)snow_actor_receive(-1);
  atomic_store(&g_flag, 1);
  (void)snow_actor_receive(-1);
}

/* Main wakes the process, then computes without calling the runtime: the
 * process must not wait for main's next wait to run, even when every worker
 * had parked. */
TEST_CASE(a_process_main_woke_runs_while_main_computes_without_runtime_calls) {
  th_start();
  atomic_store(&g_flag, 0);
  snow_pid_t p = spawn_waiting_for_go(flag_on_message);
  snow_timer_sleep(20); /* the workers go idle and park */
  CHECK_EQ(th_send2(p, T_GO, th_main), 0);
  CHECK_MSG(spin_until_set(&g_flag), "the process main woke did not run while main computed");
  th_end();
}

/* args [main]: on T_GO tells main [T_BLOCKING][self] and waits 20 ms for a
 * message that never comes, then sets g_flag. */
static void timeout_after_go(const uint8_t* args) {
  snow_pid_t main_pid = th_arg(args, 0);
  CHECK_EQ(th_send2(main_pid, T_READY, snow_actor_self()), 0);
  th_wait_user(T_GO, main_pid);
  CHECK_EQ(th_send2(main_pid, T_BLOCKING, snow_actor_self()), 0);
  CHECK(snow_actor_receive(20) == NULL);
  atomic_store(&g_flag, 1);
  (void)snow_actor_receive(-1);
}

/* The process runs on the main thread when main wakes it and waits for its
 * answer; its receive timeout must still fire while main then computes. */
TEST_CASE(a_receive_timeout_of_a_process_main_woke_fires_while_main_computes) {
  th_start();
  atomic_store(&g_flag, 0);
  snow_pid_t p = spawn_waiting_for_go(timeout_after_go);
  CHECK_EQ(th_send2(p, T_GO, th_main), 0);
  th_wait_user(T_BLOCKING, p);
  CHECK_MSG(spin_until_set(&g_flag), "the process's 20 ms receive timeout did not fire while main computed");
  th_end();
}

/* While the process main woke yields in a loop, main's own receive timeout
 * still ends its wait on time. */
TEST_CASE(a_receive_timeout_on_main_expires_on_time_while_a_process_it_woke_keeps_yielding) {
  th_start();
  snow_pid_t p = th_spawn_puppet(0);
  CHECK_EQ(th_send1(p, C_YIELD_LOOP), 0);
  th_wait_user(T_LOOPING, p);
  int64_t t0 = th_now_ms();
  CHECK(snow_actor_receive(100) == NULL);
  int64_t took = th_now_ms() - t0;
  CHECK_MSG(took >= 100 && took < 100 + th_slack_ms(), "a 100 ms receive timeout took %lld ms", (long long)took);
  CHECK_EQ(snow_actor_exit(p, SNOW_REASON_KILLED), 0);
  th_end();
}

/* args []: answers calls [tag][caller][u64 v] with [v + 1]. */
static void increment_server(const uint8_t* args) {
  (void)args;
  for (;;) {
    const snow_msg* m = snow_actor_receive(-1);
    if (snow_msg_kind(m) != SNOW_MSG_USER || m->len < 24) continue;
    uint8_t r[8];
    th_put_u64(r, th_word(m, 2) + 1);
    CHECK_EQ(snow_service_reply(th_word(m, 1), r, 8), 0);
  }
}

TEST_CASE(main_makes_5000_service_calls_and_gets_each_reply) {
  th_start();
  snow_pid_t s = snow_actor_spawn(increment_server, NULL, 0, SNOW_PRIO_NORMAL);
  CHECK(s != 0);
  uint64_t n = (uint64_t)(5000 / th_scale());
  for (uint64_t i = 0; i < n; i++) {
    uint8_t req[8];
    th_put_u64(req, i);
    const snow_msg* r = snow_service_call(s, SVC_TAG, req, 8);
    CHECK(r != NULL && r->len == 8);
    CHECK_EQ_U(th_get_u64(r->data), i + 1);
  }
  CHECK_EQ(snow_actor_exit(s, SNOW_REASON_KILLED), 0);
  th_end();
}

/* args [main]: tells main it waits, then on T_GO calls snow_rt_run_scheduler
 * and tells main what it returned. */
static void calls_run_scheduler(const uint8_t* args) {
  snow_pid_t main_pid = th_arg(args, 0);
  CHECK_EQ(th_send2(main_pid, T_READY, snow_actor_self()), 0);
  th_wait_user(T_GO, main_pid);
  int32_t rc = snow_rt_run_scheduler();
  CHECK_EQ(th_send3(main_pid, T_DONE, snow_actor_self(), (uint64_t)(int64_t)rc), 0);
  (void)snow_actor_receive(-1);
}

/* Main waits for the answer, so the process runs on the main thread: it is
 * still not the main thread's run_scheduler call. */
TEST_CASE(run_scheduler_called_by_a_process_main_woke_returns_einval_and_main_lives_on) {
  th_start();
  snow_pid_t p = spawn_waiting_for_go(calls_run_scheduler);
  CHECK_EQ(th_send2(p, T_GO, th_main), 0);
  const snow_msg* m = th_wait_user(T_DONE, p);
  CHECK_EQ((int64_t)th_word(m, 2), SNOW_EINVAL);
  CHECK_EQ(snow_actor_self(), th_main);
  th_puppet_ping(th_spawn_puppet(0));
  th_end();
}

/* ---- main killed by a process it woke, observed from outside the program */

static int g_pipe[2];

/* args [main]: monitors main and writes the DOWN reason's tag to g_pipe. */
static void main_watcher(const uint8_t* args) {
  snow_pid_t main_pid = th_arg(args, 0);
  snow_ref_t ref = snow_process_monitor(main_pid);
  CHECK_EQ(th_send2(main_pid, T_MONITORED, ref), 0);
  for (;;) {
    const snow_msg* m = snow_actor_receive(-1);
    if (snow_msg_kind(m) != SNOW_MSG_DOWN) continue;
    size_t len = 0;
    const uint8_t* r = th_down_reason(m, &len);
    uint8_t tag = len ? r[0] : 0xFF;
    if (write(g_pipe[1], &tag, 1) != 1) _exit(75);
    return;
  }
}

/* args [main]: tells main it waits, then on any message kills main and
 * keeps running. */
static void main_killer(const uint8_t* args) {
  uint8_t ready[8] = {1};
  if (snow_actor_send(th_arg(args, 0), ready, 8) != 0) _exit(77);
  (void)snow_actor_receive(-1);
  if (snow_actor_exit(th_arg(args, 0), SNOW_REASON_KILLED) != 0) _exit(76);
  for (;;) (void)snow_actor_receive(-1);
}

static void program_whose_main_is_killed_while_waiting(void) {
  snow_rt_init();
  if (snow_rt_init_actor(th_schedulers()) != 0) _exit(70);
  snow_pid_t self = snow_actor_self();
  if (!snow_actor_spawn(main_watcher, (const uint8_t*)&self, 8, SNOW_PRIO_NORMAL)) _exit(71);
  (void)snow_actor_receive(-1); /* [T_MONITORED] */
  snow_pid_t k = snow_actor_spawn(main_killer, (const uint8_t*)&self, 8, SNOW_PRIO_NORMAL);
  if (!k) _exit(72);
  (void)snow_actor_receive(-1); /* the killer waits */
  uint8_t go[8] = {0};
  if (snow_actor_send(k, go, 8) != 0) _exit(72);
  (void)snow_actor_receive(-1); /* ended by the kill: never returns */
  _exit(73);
}

TEST_CASE(main_killed_by_a_process_it_woke_ends_the_program_with_1_and_its_monitor_sees_killed) {
  CHECK(pipe(g_pipe) == 0);
  fflush(NULL);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    close(g_pipe[0]);
    program_whose_main_is_killed_while_waiting();
  }
  close(g_pipe[1]);
  int status = 0;
  CHECK(waitpid(pid, &status, 0) == pid);
  CHECK_MSG(WIFEXITED(status), "the program did not exit normally (wait status 0x%x)", status);
  CHECK_MSG(WEXITSTATUS(status) == 1, "exit status %d (73: main's receive returned)", WEXITSTATUS(status));
  uint8_t tag = 0;
  CHECK_MSG(read(g_pipe[0], &tag, 1) == 1, "main's monitor never saw it go");
  CHECK_MSG(tag == SNOW_REASON_KILLED, "main's DOWN reason tag %u, expected killed", tag);
}
