/* ABI.md section 6: timers (sleep, send_after, cancel) and the process heap
 * (snow_gc_alloc_actor). */
#include "harness.h"

#include <pthread.h>
#include <stdlib.h>

static void check_on_time(int64_t elapsed_ms, int64_t ms) {
  if (elapsed_ms < ms) FAILF("%lld ms timer took only %lld ms", (long long)ms, (long long)elapsed_ms);
  if (elapsed_ms >= ms + th_slack_ms())
    FAILF("%lld ms timer took %lld ms (late)", (long long)ms, (long long)elapsed_ms);
}

/* ----------------------------------------------------------------- sleep */

/* args [parent][ms]: reports [T_SLEEPING][self], sleeps, reports
 * [T_SLEPT][self][elapsed ms]. */
static void sleeper(const uint8_t* args) {
  snow_pid_t parent = th_arg(args, 0);
  int64_t ms = (int64_t)th_arg(args, 1);
  th_send2(parent, T_SLEEPING, snow_actor_self());
  int64_t t0 = th_now_ms();
  snow_timer_sleep(ms);
  th_send3(parent, T_SLEPT, snow_actor_self(), (uint64_t)(th_now_ms() - t0));
}

static void reporter(const uint8_t* args) { th_send2(th_arg(args, 0), T_DONE, snow_actor_self()); }

TEST_CASE(sleep_parks_only_the_caller_on_one_scheduler) {
  th_start_n(1);
  uint64_t w[2] = {th_main, 300};
  snow_pid_t s = th_spawn_words(sleeper, w, 2);
  th_wait_user(T_SLEEPING, s);
  /* The only worker must be free to run another process meanwhile. */
  snow_pid_t r = th_spawn_words(reporter, w, 1);
  const snow_msg* m = th_wait_any();
  CHECK_MSG(th_word(m, 0) == T_DONE && th_word(m, 1) == r,
            "the sleeping process blocked its worker (got tag 0x%llx first)", (unsigned long long)th_word(m, 0));
  m = th_wait_user(T_SLEPT, s);
  check_on_time((int64_t)th_word(m, 2), 300);
  th_end();
}

TEST_CASE(many_sleepers_on_one_scheduler_sleep_concurrently) {
  th_start_n(1);
  enum { N = 50 };
  int64_t t0 = th_now_ms();
  for (int i = 0; i < N; i++) {
    uint64_t w[2] = {th_main, 200};
    th_spawn_words(sleeper, w, 2);
  }
  for (int i = 0; i < N; i++) {
    const snow_msg* m = th_wait_user(T_SLEPT, TH_ANY_PID);
    check_on_time((int64_t)th_word(m, 2), 200);
  }
  /* Not 50 x 200 ms one after another. */
  CHECK(th_now_ms() - t0 < 200 + 2 * th_slack_ms());
  th_end();
}

TEST_CASE(sleep_lasts_at_least_ms_in_a_process) {
  th_start();
  for (int64_t ms = 20; ms <= 220; ms += 100) {
    uint64_t w[2] = {th_main, (uint64_t)ms};
    snow_pid_t s = th_spawn_words(sleeper, w, 2);
    const snow_msg* m = th_wait_user(T_SLEPT, s);
    check_on_time((int64_t)th_word(m, 2), ms);
  }
  th_end();
}

TEST_CASE(sleep_on_the_main_process_lasts_at_least_ms) {
  th_start();
  int64_t t0 = th_now_ms();
  snow_timer_sleep(150);
  check_on_time(th_now_ms() - t0, 150);
  th_end();
}

TEST_CASE(sleep_of_0_or_less_returns_at_once) {
  th_start();
  int64_t t0 = th_now_ms();
  snow_timer_sleep(0);
  snow_timer_sleep(-1);
  snow_timer_sleep(INT64_MIN);
  CHECK(th_now_ms() - t0 < th_slack_ms());
  uint64_t w[2] = {th_main, 0};
  snow_pid_t s = th_spawn_words(sleeper, w, 2);
  const snow_msg* m = th_wait_user(T_SLEPT, s);
  CHECK((int64_t)th_word(m, 2) < th_slack_ms());
  th_end();
}

TEST_CASE(sleep_keeps_the_mailbox_intact) {
  th_start();
  CHECK_EQ(th_send3(th_main, T_SEQ, 0, 1), 0);
  uint8_t b[24];
  th_put_u64(b, T_SEQ);
  th_put_u64(b + 8, 0);
  th_put_u64(b + 16, 2);
  CHECK(snow_timer_send_after(th_main, 10, b, 24) != 0);
  snow_timer_sleep(100); /* messages arriving meanwhile are kept */
  for (uint64_t i = 1; i <= 2; i++) {
    const snow_msg* m = snow_actor_receive(0);
    CHECK(m != NULL);
    CHECK_EQ(th_word(m, 2), i);
  }
  th_end();
}

static void* sleep_thread(void* arg) {
  int64_t* out = arg;
  int64_t t0 = th_now_ms();
  snow_timer_sleep(100);
  *out = th_now_ms() - t0;
  return NULL;
}

TEST_CASE(sleep_outside_a_process_sleeps_the_thread) {
  th_start();
  pthread_t t;
  int64_t dt = 0;
  CHECK_EQ(pthread_create(&t, NULL, sleep_thread, &dt), 0);
  pthread_join(t, NULL);
  check_on_time(dt, 100);
  th_end();
}

/* ------------------------------------------------------------ send_after */

TEST_CASE(send_after_delivers_after_ms) {
  th_start();
  uint8_t b[24];
  th_put_u64(b, T_MARK);
  th_put_u64(b + 8, 0);
  th_put_u64(b + 16, 77);
  int64_t t0 = th_now_ms();
  snow_ref_t t = snow_timer_send_after(th_main, 200, b, 24);
  CHECK(t != 0);
  memset(b, 0, sizeof b); /* copied at the call */
  const snow_msg* m = th_wait_user(T_MARK, 0);
  check_on_time(th_now_ms() - t0, 200);
  CHECK_EQ(snow_msg_kind(m), SNOW_MSG_USER);
  CHECK_EQ(m->len, 24);
  CHECK_EQ(th_word(m, 2), 77);
  th_end();
}

TEST_CASE(send_after_to_another_process_delivers_after_ms) {
  th_start();
  snow_pid_t p = th_spawn_puppet(0);
  uint8_t b[16];
  th_put_u64(b, C_PING);
  th_put_u64(b + 8, 4242);
  int64_t t0 = th_now_ms();
  CHECK(snow_timer_send_after(p, 150, b, 16) != 0);
  th_wait_user2(T_PONG, p, 4242);
  check_on_time(th_now_ms() - t0, 150);
  th_end();
}

TEST_CASE(send_after_with_0_or_negative_ms_delivers_at_once) {
  th_start();
  uint8_t b[16];
  th_put_u64(b, T_MARK);
  th_put_u64(b + 8, 1);
  int64_t t0 = th_now_ms();
  CHECK(snow_timer_send_after(th_main, 0, b, 16) != 0);
  th_put_u64(b + 8, 2);
  CHECK(snow_timer_send_after(th_main, -100, b, 16) != 0);
  th_wait_user(T_MARK, 1);
  th_wait_user(T_MARK, 2);
  CHECK(th_now_ms() - t0 < th_slack_ms());
  th_end();
}

TEST_CASE(send_after_of_size_0_delivers_an_empty_message) {
  th_start();
  CHECK(snow_timer_send_after(th_main, 10, NULL, 0) != 0);
  const snow_msg* m = snow_actor_receive(th_wait_ms());
  CHECK(m != NULL);
  CHECK_EQ(m->len, 0);
  CHECK_EQ_U(m->tag, 0);
  CHECK_EQ(snow_msg_kind(m), SNOW_MSG_USER);
  th_end();
}

TEST_CASE(send_after_timers_fire_in_deadline_order) {
  th_start();
  /* Deadlines 30 ms apart, times the sanitizer scale: setting the six
   * timers must take less than one gap, or a later-set shorter timer is
   * rightly due after an earlier-set longer one. */
  const int64_t delays[] = {180, 60, 120, 30, 150, 90};
  for (int i = 0; i < 6; i++) {
    int64_t delay = (int64_t)(delays[i] * th_scale());
    uint8_t b[24];
    th_put_u64(b, T_SEQ);
    th_put_u64(b + 8, 0);
    th_put_u64(b + 16, (uint64_t)delay);
    CHECK(snow_timer_send_after(th_main, delay, b, 24) != 0);
  }
  uint64_t prev = 0;
  for (int i = 0; i < 6; i++) {
    const snow_msg* m = th_wait_user(T_SEQ, 0);
    CHECK(th_word(m, 2) > prev);
    prev = th_word(m, 2);
  }
  th_end();
}

TEST_CASE(send_after_returns_distinct_refs) {
  th_start();
  snow_ref_t refs[20];
  uint8_t b[8] = {1};
  for (int i = 0; i < 20; i++) {
    refs[i] = snow_timer_send_after(th_main, 60000, b, 8);
    CHECK(refs[i] != 0);
    for (int j = 0; j < i; j++) CHECK(refs[i] != refs[j]);
  }
  for (int i = 0; i < 20; i++) CHECK_EQ(snow_timer_cancel(refs[i]), 0);
  th_end();
}

TEST_CASE(many_timers_all_fire) {
  th_start();
  enum { N = 2000 };
  for (int i = 0; i < N; i++) {
    uint8_t b[24];
    th_put_u64(b, T_SEQ);
    th_put_u64(b + 8, 0);
    th_put_u64(b + 16, (uint64_t)i);
    CHECK(snow_timer_send_after(th_main, (i * 37) % 200, b, 24) != 0);
  }
  static bool seen[N];
  for (int i = 0; i < N; i++) {
    const snow_msg* m = th_wait_user(T_SEQ, 0);
    uint64_t s = th_word(m, 2);
    CHECK(s < N && !seen[s]);
    seen[s] = true;
  }
  th_end();
}

TEST_CASE(send_after_to_a_dead_pid_returns_a_ref_and_is_dropped) {
  th_start();
  snow_ref_t ref;
  snow_pid_t p = th_spawn_puppet_mon(0, &ref);
  CHECK_EQ(th_send1(p, C_STOP), 0);
  th_wait_down(ref);
  uint8_t b[8] = {1};
  CHECK(snow_timer_send_after(p, 10, b, 8) != 0);
  /* The sentinel after it still comes. */
  uint8_t s[16];
  th_put_u64(s, T_MARK);
  th_put_u64(s + 8, 3);
  CHECK(snow_timer_send_after(th_main, 50, s, 16) != 0);
  th_wait_user(T_MARK, 3);
  th_end();
}

TEST_CASE(send_after_to_a_process_that_dies_before_it_fires_is_dropped) {
  th_start();
  snow_ref_t ref;
  snow_pid_t p = th_spawn_puppet_mon(0, &ref);
  uint8_t b[8] = {1};
  CHECK(snow_timer_send_after(p, 100, b, 8) != 0);
  CHECK_EQ(th_send1(p, C_STOP), 0);
  th_wait_down(ref);
  uint8_t s[16];
  th_put_u64(s, T_MARK);
  th_put_u64(s + 8, 4);
  CHECK(snow_timer_send_after(th_main, 200, s, 16) != 0);
  th_wait_user(T_MARK, 4);
  th_roundtrip_ok();
  th_end();
}

/* ---------------------------------------------------------------- cancel */

TEST_CASE(cancel_before_firing_returns_0_and_nothing_arrives) {
  th_start();
  uint8_t b[16];
  th_put_u64(b, T_MARK);
  th_put_u64(b + 8, 1);
  snow_ref_t t = snow_timer_send_after(th_main, 100, b, 16);
  CHECK(t != 0);
  CHECK_EQ(snow_timer_cancel(t), 0);
  CHECK_EQ(snow_timer_cancel(t), 1); /* already cancelled */
  /* A later timer is the first thing to arrive. */
  th_put_u64(b + 8, 2);
  CHECK(snow_timer_send_after(th_main, 250, b, 16) != 0);
  const snow_msg* m = th_wait_any();
  CHECK_EQ_U(th_word(m, 0), T_MARK);
  CHECK_EQ(th_word(m, 1), 2);
  th_end();
}

TEST_CASE(cancel_after_firing_returns_1) {
  th_start();
  uint8_t b[16];
  th_put_u64(b, T_MARK);
  th_put_u64(b + 8, 1);
  snow_ref_t t = snow_timer_send_after(th_main, 10, b, 16);
  CHECK(t != 0);
  th_wait_user(T_MARK, 1);
  CHECK_EQ(snow_timer_cancel(t), 1);
  th_end();
}

TEST_CASE(cancel_of_an_unknown_timer_returns_1) {
  th_start();
  CHECK_EQ(snow_timer_cancel(0), 1);
  CHECK_EQ(snow_timer_cancel(123456789), 1);
  CHECK_EQ(snow_timer_cancel(UINT64_MAX), 1);
  th_end();
}

static void* cancel_thread(void* arg) {
  snow_ref_t* t = arg;
  int64_t* out = (int64_t*)(t + 1);
  *out = snow_timer_cancel(*t);
  return NULL;
}

TEST_CASE(cancel_works_from_a_foreign_thread) {
  th_start();
  uint8_t b[16];
  th_put_u64(b, T_MARK);
  th_put_u64(b + 8, 1);
  uint64_t arg[2];
  arg[0] = snow_timer_send_after(th_main, 100, b, 16);
  CHECK(arg[0] != 0);
  pthread_t th;
  CHECK_EQ(pthread_create(&th, NULL, cancel_thread, arg), 0);
  pthread_join(th, NULL);
  CHECK_EQ((int64_t)arg[1], 0);
  th_put_u64(b + 8, 2);
  CHECK(snow_timer_send_after(th_main, 250, b, 16) != 0);
  const snow_msg* m = th_wait_any();
  CHECK_EQ(th_word(m, 1), 2);
  th_end();
}

TEST_CASE(cancel_racing_the_firing_is_exact) {
  /* Exactly one of: cancel returns 0 (nothing arrives) or 1 (it arrived). */
  th_start();
  for (int i = 0; i < 150; i++) {
    uint8_t b[24];
    th_put_u64(b, T_SEQ);
    th_put_u64(b + 8, 0);
    th_put_u64(b + 16, (uint64_t)i);
    snow_ref_t t = snow_timer_send_after(th_main, i % 3, b, 24);
    CHECK(t != 0);
    int64_t rc = snow_timer_cancel(t);
    CHECK(rc == 0 || rc == 1);
    /* Fence: a timer armed now for 10 ms fires after one armed for <= 2 ms. */
    uint8_t f[24];
    th_put_u64(f, T_MARK);
    th_put_u64(f + 8, 0);
    th_put_u64(f + 16, (uint64_t)i);
    CHECK(snow_timer_send_after(th_main, 10, f, 24) != 0);
    th_wait_user2(T_MARK, 0, (uint64_t)i);
    const snow_msg* m = th_poll_user(T_SEQ, 0);
    if (rc == 0 && m) FAILF("iteration %d: cancel returned 0 but the message arrived", i);
    if (rc == 1 && !m) FAILF("iteration %d: cancel returned 1 but the message never arrived", i);
  }
  th_end();
}

/* ----------------------------------------------------------------- stats */

static bool timers_back_to(void* ctx) {
  snow_stats s;
  snow_rt_stats(&s);
  return s.timers_pending <= *(uint64_t*)ctx;
}

TEST_CASE(timers_pending_counts_armed_timers) {
  th_start();
  snow_stats s0, s1;
  CHECK_EQ(snow_rt_stats(&s0), 0);
  uint8_t b[8] = {1};
  snow_ref_t t[3];
  for (int i = 0; i < 3; i++) t[i] = snow_timer_send_after(th_main, 60000, b, 8);
  CHECK_EQ(snow_rt_stats(&s1), 0);
  CHECK(s1.timers_pending >= s0.timers_pending + 3);
  for (int i = 0; i < 3; i++) CHECK_EQ(snow_timer_cancel(t[i]), 0);
  uint64_t base = s0.timers_pending;
  th_wait_until(timers_back_to, &base, "timers_pending back to its baseline after cancel");
  th_end();
}

/* -------------------------------------------------------------------- heap */

/* Memory allocated outside a process is process-wide and never freed (by
 * contract): keep it reachable so LeakSanitizer does not count it. */
static void* volatile g_keep[64];
static _Atomic int g_nkeep;

static void check_alloc(uint64_t size, uint64_t align) {
  uint8_t* p = snow_gc_alloc_actor(size, align);
  if (!snow_actor_self() && p) {
    int i = atomic_fetch_add(&g_nkeep, 1);
    if (i < 64) g_keep[i] = p;
  }
  CHECK_MSG(p != NULL, "alloc(%llu, %llu)", (unsigned long long)size, (unsigned long long)align);
  uint64_t a = align ? align : 16;
  CHECK_MSG(((uintptr_t)p & (a - 1)) == 0, "alloc(%llu, %llu) = %p misaligned", (unsigned long long)size,
            (unsigned long long)align, (void*)p);
  for (uint64_t i = 0; i < size; i++)
    if (p[i] != 0) FAILF("alloc(%llu) byte %llu not zero", (unsigned long long)size, (unsigned long long)i);
  memset(p, 0xA5, size); /* and writable */
}

static void allocating_proc(const uint8_t* args) {
  snow_pid_t parent = th_arg(args, 0);
  const uint64_t aligns[] = {0, 1, 2, 4, 8, 16, 32, 64, 256, 4096};
  for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; i++)
    for (uint64_t size = 1; size <= 70000; size = size * 3 + 1) check_alloc(size, aligns[i]);
  check_alloc(4 << 20, 64);
  th_send2(parent, T_DONE, snow_actor_self());
}

TEST_CASE(gc_alloc_actor_returns_zeroed_aligned_memory_in_a_process) {
  th_start();
  uint64_t w[1] = {th_main};
  snow_pid_t p = th_spawn_words(allocating_proc, w, 1);
  th_wait_user(T_DONE, p);
  th_end();
}

TEST_CASE(gc_alloc_actor_works_on_the_main_process) {
  th_start();
  check_alloc(100, 0);
  check_alloc(1 << 16, 4096);
  th_end();
}

static void* alloc_thread(void* arg) {
  (void)arg;
  check_alloc(1000, 8);
  check_alloc(64, 128);
  return NULL;
}

TEST_CASE(gc_alloc_actor_outside_a_process_returns_zeroed_memory) {
  th_start();
  pthread_t t;
  CHECK_EQ(pthread_create(&t, NULL, alloc_thread, NULL), 0);
  pthread_join(t, NULL);
  th_end();
}

TEST_CASE(gc_alloc_actor_rejects_size_0_bad_alignment_and_huge_sizes) {
  th_start();
  CHECK(snow_gc_alloc_actor(0, 16) == NULL);
  CHECK(snow_gc_alloc_actor(16, 3) == NULL);
  CHECK(snow_gc_alloc_actor(16, 24) == NULL);
  CHECK(snow_gc_alloc_actor(16, UINT64_MAX) == NULL);
  CHECK(snow_gc_alloc_actor(UINT64_MAX, 16) == NULL);
  CHECK(snow_gc_alloc_actor(UINT64_MAX - 15, 16) == NULL);
  CHECK(snow_gc_alloc_actor(16, 16) != NULL);
  th_roundtrip_ok();
  th_end();
}

/* Allocates a lot and exits: freed at exit (the ASan run checks for leaks). */
static void alloc_and_exit(const uint8_t* args) {
  (void)args;
  for (int i = 0; i < 100; i++) CHECK(snow_gc_alloc_actor(10000, 16) != NULL);
}

TEST_CASE(gc_alloc_actor_memory_is_freed_when_the_process_exits) {
  th_start();
  for (int i = 0; i < 200; i++) {
    snow_spawn_opts o;
    memset(&o, 0, sizeof o);
    o.monitor = 1;
    snow_pid_t p = snow_actor_spawn_opts(alloc_and_exit, NULL, 0, &o);
    CHECK(p != 0);
    th_wait_down(o.monitor_ref);
  }
  th_end();
}
