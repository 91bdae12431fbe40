/* ABI.md section 4 (v2): terminate callbacks set by someone other than the
 * dying process (the spawner, another process, a plain thread) or by a
 * spawn option. The callback must run once, on the dying process's own
 * context, before its links and monitors fire, with state NULL and the exit
 * reason; a set on a dead pid has no effect.
 *
 * th_term_cb (harness) records (snow_actor_self(), reason) and sends
 * [T_TERMINATED][self][reason] to th_main, so "recorded for p" proves the
 * callback ran as p, and the message arriving before p's DOWN proves it ran
 * before the monitors fired (both come from p, in order). */
#include "harness.h"

#include <pthread.h>

/* Spawns a monitored puppet whose callback this process (its spawner) sets
 * right after the spawn, as the Snow compiler does. */
static snow_pid_t spawn_with_callback_set_by_spawner(snow_ref_t* ref) {
  snow_pid_t p = th_spawn_puppet_mon(0, ref);
  snow_actor_set_terminate(p, th_term_cb);
  return p;
}

TEST_CASE(callback_set_by_the_spawner_runs_when_the_child_returns) {
  th_start();
  snow_ref_t ref;
  snow_pid_t p = spawn_with_callback_set_by_spawner(&ref);
  CHECK_EQ(th_send1(p, C_STOP), 0);
  uint8_t normal[1] = {SNOW_REASON_NORMAL};
  th_expect_terminated_then_down(p, ref, normal, 1);
  CHECK_EQ(th_term_count(), 1);
  th_end();
}

TEST_CASE(callback_set_by_the_spawner_runs_when_the_child_panics) {
  th_start();
  snow_ref_t ref;
  snow_pid_t p = spawn_with_callback_set_by_spawner(&ref);
  uint8_t cmd[24];
  th_put_u64(cmd, C_PANIC);
  th_put_u64(cmd + 8, 7);
  memcpy(cmd + 16, "oops", 4);
  CHECK_EQ(snow_actor_send(p, cmd, 20), 0);
  uint8_t r[64];
  size_t rl = th_reason_str(r, SNOW_REASON_ERROR, "puppet.c:7: oops");
  th_expect_terminated_then_down(p, ref, r, rl);
  th_end();
}

TEST_CASE(callback_set_by_the_spawner_runs_when_the_child_is_killed_in_a_loop) {
  th_start();
  snow_ref_t ref;
  snow_pid_t p = spawn_with_callback_set_by_spawner(&ref);
  CHECK_EQ(th_send1(p, C_LOOP), 0);
  th_wait_user(T_LOOPING, p);
  CHECK_EQ(snow_actor_exit(p, SNOW_REASON_KILLED), 0);
  uint8_t killed[1] = {SNOW_REASON_KILLED};
  th_expect_terminated_then_down(p, ref, killed, 1);
  th_end();
}

TEST_CASE(callback_set_by_another_process_runs_with_the_exit_signals_reason) {
  th_start();
  snow_ref_t ref;
  snow_pid_t p = th_spawn_puppet_mon(0, &ref);
  snow_pid_t setter = th_spawn_puppet(0);
  th_puppet_call(setter, C_SET_TERM, p, T_TERM_SET);
  CHECK_EQ(snow_actor_exit(p, SNOW_REASON_SHUTDOWN), 0);
  uint8_t shutdown[1] = {SNOW_REASON_SHUTDOWN};
  th_expect_terminated_then_down(p, ref, shutdown, 1);
  th_end();
}

static void* set_from_thread(void* arg) {
  snow_actor_set_terminate(*(snow_pid_t*)arg, th_term_cb);
  return NULL;
}

TEST_CASE(callback_set_from_a_thread_that_is_not_a_process_runs) {
  th_start();
  snow_ref_t ref;
  snow_pid_t p = th_spawn_puppet_mon(0, &ref);
  pthread_t t;
  CHECK_EQ(pthread_create(&t, NULL, set_from_thread, &p), 0);
  pthread_join(t, NULL);
  CHECK_EQ(th_send1(p, C_STOP), 0);
  uint8_t normal[1] = {SNOW_REASON_NORMAL};
  th_expect_terminated_then_down(p, ref, normal, 1);
  th_end();
}

static void other_cb(const uint8_t* state, const uint8_t* reason) {
  (void)state;
  (void)reason;
  th_send2(th_main, T_MARK, snow_actor_self());
}

TEST_CASE(the_last_set_before_the_exit_wins_and_null_clears) {
  th_start();
  snow_ref_t ref;
  snow_pid_t p = th_spawn_puppet_mon(0, &ref);
  snow_actor_set_terminate(p, other_cb);
  snow_actor_set_terminate(p, th_term_cb);
  CHECK_EQ(th_send1(p, C_STOP), 0);
  uint8_t normal[1] = {SNOW_REASON_NORMAL};
  th_expect_terminated_then_down(p, ref, normal, 1);
  CHECK(th_poll_user(T_MARK, p) == NULL);

  snow_pid_t q = th_spawn_puppet_mon(0, &ref);
  snow_actor_set_terminate(q, th_term_cb);
  snow_actor_set_terminate(q, NULL);
  CHECK_EQ(th_send1(q, C_STOP), 0);
  th_wait_down(ref);
  CHECK_EQ(th_term_count(), 1); /* only p's */
  CHECK(th_poll_user(T_TERMINATED, q) == NULL);
  th_end();
}

TEST_CASE(set_terminate_on_a_dead_pid_has_no_effect_even_after_its_slot_is_reused) {
  th_start();
  snow_ref_t ref;
  snow_pid_t dead = th_spawn_puppet_mon(0, &ref);
  CHECK_EQ(th_send1(dead, C_STOP), 0);
  th_wait_down(ref);
  snow_actor_set_terminate(dead, th_term_cb);
  /* Processes spawned afterwards (some may take the dead one's slot). */
  for (int i = 0; i < 50; i++) {
    snow_pid_t p = th_spawn_puppet_mon(0, &ref);
    CHECK(p != dead);
    snow_actor_set_terminate(dead, th_term_cb);
    CHECK_EQ(th_send1(p, C_STOP), 0);
    th_wait_down(ref);
  }
  CHECK_EQ(th_term_count(), 0);
  CHECK(th_poll_user(T_TERMINATED, TH_ANY_PID) == NULL);
  th_end();
}

static void returns_at_once(const uint8_t* args) { (void)args; }

TEST_CASE(the_spawn_option_covers_a_child_that_returns_at_once) {
  th_start();
  enum { N = 50 };
  for (int i = 0; i < N; i++) {
    snow_spawn_opts o;
    memset(&o, 0, sizeof o);
    o.monitor = 1;
    o.terminate = th_term_cb;
    snow_pid_t p = snow_actor_spawn_opts(returns_at_once, NULL, 0, &o);
    CHECK(p != 0);
    th_wait_user(T_TERMINATED, p);
    th_wait_down(o.monitor_ref);
  }
  CHECK_EQ(th_term_count(), N);
  th_end();
}

TEST_CASE(a_set_racing_with_the_childs_exit_runs_at_most_once_and_before_the_down) {
  th_start();
  enum { N = 200 };
  int ran = 0;
  for (int i = 0; i < N; i++) {
    snow_spawn_opts o;
    memset(&o, 0, sizeof o);
    o.monitor = 1;
    snow_pid_t p = snow_actor_spawn_opts(returns_at_once, NULL, 0, &o);
    CHECK(p != 0);
    snow_actor_set_terminate(p, th_term_cb);
    /* Whatever won the race, a callback's message comes before the DOWN. */
    const snow_msg* m = th_wait_either(th_m_user(T_TERMINATED, p), th_m_down(o.monitor_ref));
    if (snow_msg_kind(m) == SNOW_MSG_USER) {
      ran++;
      th_wait_down(o.monitor_ref);
    }
    CHECK_MSG(th_poll_user(T_TERMINATED, p) == NULL, "a callback ran after the DOWN, or twice");
  }
  CHECK_EQ(th_term_count(), ran);
  th_end();
}
