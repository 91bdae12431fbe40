/* ABI.md section 3: spawning (snow_actor_spawn, snow_actor_spawn_opts,
 * snow_actor_self). */
#include "harness.h"

#include <pthread.h>
#include <stdlib.h>

/* args: [parent][n][pattern bytes...]; on T_GO checks bytes[i] == (i*7+3)&255. */
static void args_checker(const uint8_t* args) {
  snow_pid_t parent = th_arg(args, 0);
  uint64_t n = th_arg(args, 1);
  th_send2(parent, T_READY, snow_actor_self());
  th_wait_user(T_GO, TH_ANY_PID);
  uint64_t bad = UINT64_MAX;
  for (uint64_t i = 0; i < n; i++)
    if (args[16 + i] != (uint8_t)(i * 7 + 3)) {
      bad = i;
      break;
    }
  th_send3(parent, T_DONE, snow_actor_self(), bad);
}

static uint8_t* make_pattern_args(uint64_t n) {
  uint8_t* buf = malloc(16 + n);
  CHECK(buf != NULL);
  th_put_u64(buf, th_main);
  th_put_u64(buf + 8, n);
  for (uint64_t i = 0; i < n; i++) buf[16 + i] = (uint8_t)(i * 7 + 3);
  return buf;
}

static void check_args_copied(uint64_t n) {
  uint8_t* buf = make_pattern_args(n);
  snow_pid_t p = snow_actor_spawn(args_checker, buf, 16 + n, SNOW_PRIO_NORMAL);
  CHECK(p != 0);
  /* The caller reuses and frees its buffer at once. */
  memset(buf + 16, 0xEE, n);
  free(buf);
  th_wait_user(T_READY, p);
  CHECK_EQ(th_send2(p, T_GO, th_main), 0);
  const snow_msg* m = th_wait_user(T_DONE, p);
  if (th_word(m, 2) != UINT64_MAX) FAILF("args byte %llu differs in the child", (unsigned long long)th_word(m, 2));
}

TEST_CASE(spawn_copies_args_so_the_caller_may_reuse_its_buffer) {
  th_start();
  check_args_copied(100);
  th_end();
}

TEST_CASE(spawn_copies_large_args_1mib) {
  th_start();
  check_args_copied(1 << 20);
  th_end();
}

/* Checks its args, does a lot of runtime work, checks again. */
static void busy_args_checker(const uint8_t* args) {
  snow_pid_t parent = th_arg(args, 0);
  uint64_t n = th_arg(args, 1);
  for (int round = 0; round < 3; round++) {
    for (uint64_t i = 0; i < n; i++)
      if (args[16 + i] != (uint8_t)(i * 7 + 3)) FAILF("args byte %llu changed", (unsigned long long)i);
    for (int k = 0; k < 20; k++) snow_actor_yield();
    snow_timer_sleep(5);
    void* mem = snow_gc_alloc_actor(4096, 16);
    CHECK(mem != NULL);
    memset(mem, 0x55, 4096);
    CHECK_EQ(th_send2(snow_actor_self(), T_MARK, 1), 0);
    CHECK(snow_actor_receive(th_wait_ms()) != NULL);
  }
  th_send3(parent, T_DONE, snow_actor_self(), 0);
}

TEST_CASE(spawn_args_stay_valid_for_the_whole_life_of_the_process) {
  th_start();
  uint8_t* buf = make_pattern_args(5000);
  snow_pid_t p = snow_actor_spawn(busy_args_checker, buf, 16 + 5000, SNOW_PRIO_NORMAL);
  CHECK(p != 0);
  free(buf);
  th_wait_user(T_DONE, p);
  th_end();
}

static void null_args_reporter(const uint8_t* args) { th_send3(th_main, T_DONE, snow_actor_self(), args == NULL); }

TEST_CASE(spawn_with_null_args_and_size_0_calls_fn_with_null) {
  th_start();
  snow_pid_t p = snow_actor_spawn(null_args_reporter, NULL, 0, SNOW_PRIO_NORMAL);
  CHECK(p != 0);
  const snow_msg* m = th_wait_user(T_DONE, p);
  CHECK_EQ(th_word(m, 2), 1);
  th_end();
}

static void self_reporter(const uint8_t* args) {
  snow_pid_t parent = th_arg(args, 0);
  th_send3(parent, T_DONE, snow_actor_self(), th_arg(args, 1));
}

TEST_CASE(actor_self_in_the_child_equals_the_pid_spawn_returned) {
  th_start();
  for (uint64_t i = 0; i < 50; i++) {
    uint64_t w[2] = {th_main, i};
    snow_pid_t p = th_spawn_words(self_reporter, w, 2);
    const snow_msg* m = th_wait_user2(T_DONE, TH_ANY_PID, i);
    CHECK_EQ_U(th_word(m, 1), p);
  }
  th_end();
}

static int cmp_u64(const void* a, const void* b) {
  uint64_t x = *(const uint64_t*)a, y = *(const uint64_t*)b;
  return x < y ? -1 : x > y;
}

static void nothing(const uint8_t* args) { (void)args; }

TEST_CASE(spawn_returns_distinct_nonzero_pids) {
  th_start();
  enum { N = 2000 };
  static uint64_t pids[N + 1];
  for (int i = 0; i < N; i++) {
    pids[i] = snow_actor_spawn(nothing, NULL, 0, SNOW_PRIO_NORMAL);
    CHECK(pids[i] != 0);
    CHECK(pids[i] != th_main);
  }
  pids[N] = th_main;
  qsort(pids, N + 1, sizeof pids[0], cmp_u64);
  for (int i = 0; i < N; i++) CHECK(pids[i] != pids[i + 1]);
  th_end();
}

TEST_CASE(spawn_accepts_every_priority_value) {
  th_start();
  const unsigned prios[] = {SNOW_PRIO_HIGH, SNOW_PRIO_NORMAL, SNOW_PRIO_LOW, 3, 7, 128, 255};
  const size_t n = sizeof prios / sizeof prios[0];
  for (size_t i = 0; i < n; i++) {
    uint8_t buf[16];
    th_put_u64(buf, th_main);
    th_put_u64(buf + 8, prios[i]);
    CHECK(snow_actor_spawn(self_reporter, buf, 16, (uint8_t)prios[i]) != 0);
  }
  for (size_t i = 0; i < n; i++) th_wait_user2(T_DONE, TH_ANY_PID, prios[i]);
  th_end();
}

TEST_CASE(spawn_opts_accepts_every_priority_value) {
  th_start();
  const unsigned prios[] = {SNOW_PRIO_HIGH, SNOW_PRIO_NORMAL, SNOW_PRIO_LOW, 3, 255};
  const size_t n = sizeof prios / sizeof prios[0];
  for (size_t i = 0; i < n; i++) {
    uint8_t buf[16];
    th_put_u64(buf, th_main);
    th_put_u64(buf + 8, prios[i]);
    snow_spawn_opts o;
    memset(&o, 0, sizeof o);
    o.priority = (uint8_t)prios[i];
    CHECK(snow_actor_spawn_opts(self_reporter, buf, 16, &o) != 0);
  }
  for (size_t i = 0; i < n; i++) th_wait_user2(T_DONE, TH_ANY_PID, prios[i]);
  th_end();
}

/* A high priority process is not held up by normal ones that keep yielding
 * on the only scheduler. (The reverse is not required: as in Erlang, busy
 * high priority processes may starve lower ones.) */
static _Atomic int g_stop_spinning;
static void spinner(const uint8_t* args) {
  (void)args;
  while (!atomic_load(&g_stop_spinning)) snow_actor_yield();
}

TEST_CASE(high_priority_process_runs_while_normal_ones_keep_yielding) {
  th_start_n(1);
  for (int i = 0; i < 4; i++) CHECK(snow_actor_spawn(spinner, NULL, 0, SNOW_PRIO_NORMAL));
  uint8_t buf[16];
  th_put_u64(buf, th_main);
  th_put_u64(buf + 8, 99);
  CHECK(snow_actor_spawn(self_reporter, buf, 16, SNOW_PRIO_HIGH));
  th_wait_user2(T_DONE, TH_ANY_PID, 99);
  th_put_u64(buf + 8, 100);
  CHECK(snow_actor_spawn(self_reporter, buf, 16, SNOW_PRIO_NORMAL));
  th_wait_user2(T_DONE, TH_ANY_PID, 100);
  atomic_store(&g_stop_spinning, 1);
  th_end();
}

TEST_CASE(spawn_opts_null_opts_is_a_plain_spawn) {
  th_start();
  uint64_t w[2] = {th_main, 5};
  uint8_t buf[16];
  th_put_u64(buf, w[0]);
  th_put_u64(buf + 8, w[1]);
  snow_pid_t p = snow_actor_spawn_opts(self_reporter, buf, 16, NULL);
  CHECK(p != 0);
  const snow_msg* m = th_wait_user2(T_DONE, TH_ANY_PID, 5);
  CHECK_EQ_U(th_word(m, 1), p);
  th_end();
}

TEST_CASE(returning_from_fn_exits_normal_as_seen_by_a_monitor) {
  th_start();
  snow_spawn_opts o;
  memset(&o, 0, sizeof o);
  o.monitor = 1;
  snow_pid_t p = snow_actor_spawn_opts(nothing, NULL, 0, &o);
  CHECK(p != 0);
  CHECK(o.monitor_ref != 0);
  uint8_t normal[1] = {SNOW_REASON_NORMAL};
  th_expect_down(o.monitor_ref, p, normal, 1);
  th_end();
}

TEST_CASE(returning_from_fn_exits_normal_as_seen_by_a_trapping_link) {
  th_start();
  snow_actor_set_trap_exit(true);
  snow_spawn_opts o;
  memset(&o, 0, sizeof o);
  o.link = 1;
  snow_pid_t p = snow_actor_spawn_opts(nothing, NULL, 0, &o);
  CHECK(p != 0);
  const snow_msg* m = th_wait_exit(p);
  size_t rl;
  const uint8_t* r = th_exit_reason(m, &rl);
  uint8_t normal[1] = {SNOW_REASON_NORMAL};
  CHECK_REASON(r, rl, normal, 1);
  th_end();
}

static const char* k_early = "early-exit";

static void exit_at_once(const uint8_t* args) {
  (void)args;
  uint8_t r[32];
  size_t rl = th_reason_str(r, SNOW_REASON_CUSTOM, k_early);
  snow_actor_exit_self(r, rl);
}

TEST_CASE(spawn_opts_monitor_sees_an_immediate_exit_with_its_real_reason) {
  th_start();
  uint8_t exp[32];
  size_t el = th_reason_str(exp, SNOW_REASON_CUSTOM, k_early);
  snow_ref_t prev = 0;
  for (int i = 0; i < 300; i++) {
    snow_spawn_opts o;
    memset(&o, 0, sizeof o);
    o.monitor = 1;
    snow_pid_t p = snow_actor_spawn_opts(exit_at_once, NULL, 0, &o);
    CHECK(p != 0);
    CHECK(o.monitor_ref != 0);
    CHECK(o.monitor_ref != prev);
    prev = o.monitor_ref;
    th_expect_down(o.monitor_ref, p, exp, el); /* not noproc */
  }
  th_end();
}

TEST_CASE(spawn_opts_link_sees_an_immediate_exit_with_its_real_reason) {
  th_start();
  snow_actor_set_trap_exit(true);
  uint8_t exp[32];
  size_t el = th_reason_str(exp, SNOW_REASON_CUSTOM, k_early);
  for (int i = 0; i < 300; i++) {
    snow_spawn_opts o;
    memset(&o, 0, sizeof o);
    o.link = 1;
    snow_pid_t p = snow_actor_spawn_opts(exit_at_once, NULL, 0, &o);
    CHECK(p != 0);
    const snow_msg* m = th_wait_exit(p);
    size_t rl;
    const uint8_t* r = th_exit_reason(m, &rl);
    CHECK_REASON(r, rl, exp, el); /* not noproc */
  }
  th_end();
}

TEST_CASE(spawn_opts_link_and_monitor_together_both_fire_with_the_real_reason) {
  th_start();
  snow_actor_set_trap_exit(true);
  uint8_t exp[32];
  size_t el = th_reason_str(exp, SNOW_REASON_CUSTOM, k_early);
  for (int i = 0; i < 100; i++) {
    snow_spawn_opts o;
    memset(&o, 0, sizeof o);
    o.link = 1;
    o.monitor = 1;
    snow_pid_t p = snow_actor_spawn_opts(exit_at_once, NULL, 0, &o);
    CHECK(p != 0);
    CHECK(o.monitor_ref != 0);
    const snow_msg* m = th_wait_exit(p);
    size_t rl;
    const uint8_t* r = th_exit_reason(m, &rl);
    CHECK_REASON(r, rl, exp, el);
    th_expect_down(o.monitor_ref, p, exp, el);
  }
  th_end();
}

/* Spawns a trapping puppet (reporting to main) linked through the options,
 * tells main its pid, then exits with custom "parent-died" on T_GO. */
static void linking_parent(const uint8_t* args) {
  snow_pid_t mainpid = th_arg(args, 0);
  uint8_t buf[16];
  th_put_u64(buf, mainpid);
  th_put_u64(buf + 8, PUPPET_TRAP);
  snow_spawn_opts o;
  memset(&o, 0, sizeof o);
  o.link = 1;
  snow_pid_t child = snow_actor_spawn_opts(th_puppet, buf, 16, &o);
  CHECK(child != 0);
  th_send3(mainpid, T_DONE, snow_actor_self(), child);
  th_wait_user(T_GO, TH_ANY_PID);
  uint8_t r[32];
  size_t rl = th_reason_str(r, SNOW_REASON_CUSTOM, "parent-died");
  snow_actor_exit_self(r, rl);
}

TEST_CASE(spawn_opts_link_also_links_the_child_to_the_parent) {
  th_start();
  uint64_t w[1] = {th_main};
  snow_pid_t parent = th_spawn_words(linking_parent, w, 1);
  const snow_msg* m = th_wait_user(T_DONE, parent);
  snow_pid_t child = th_word(m, 2);
  th_wait_user(T_READY, child);
  CHECK_EQ(th_send2(parent, T_GO, th_main), 0);
  /* The trapping child gets the parent's exit signal as an EXIT message. */
  m = th_wait_report(child, SNOW_MSG_EXIT);
  size_t dl;
  const uint8_t* d = th_report_data(m, &dl);
  CHECK(dl >= 8);
  CHECK_EQ_U(th_get_u64(d), parent);
  uint8_t r[32];
  size_t rl = th_reason_str(r, SNOW_REASON_CUSTOM, "parent-died");
  CHECK_REASON(d + 8, dl - 8, r, rl);
  th_puppet_ping(child); /* and survives it */
  th_end();
}

TEST_CASE(spawn_opts_monitor_refs_are_distinct) {
  th_start();
  enum { N = 200 };
  static uint64_t refs[N];
  for (int i = 0; i < N; i++) {
    snow_spawn_opts o;
    memset(&o, 0, sizeof o);
    o.monitor = 1;
    CHECK(snow_actor_spawn_opts(nothing, NULL, 0, &o) != 0);
    refs[i] = o.monitor_ref;
    CHECK(refs[i] != 0);
  }
  qsort(refs, N, sizeof refs[0], cmp_u64);
  for (int i = 0; i + 1 < N; i++) CHECK(refs[i] != refs[i + 1]);
  th_end();
}

TEST_CASE(spawn_opts_with_nonzero_reserved_bytes_returns_0) {
  th_start();
  for (int i = 0; i < 5; i++) {
    snow_spawn_opts o;
    memset(&o, 0, sizeof o);
    o.reserved_[i] = 1;
    CHECK_EQ_U(snow_actor_spawn_opts(nothing, NULL, 0, &o), 0);
  }
  th_roundtrip_ok();
  th_end();
}

/* Uses `n` bytes of its own stack. */
static void stack_user(const uint8_t* args) {
  snow_pid_t parent = th_arg(args, 0);
  volatile uint8_t big[256 * 1024];
  for (size_t i = 0; i < sizeof big; i += 512) big[i] = (uint8_t)i;
  uint64_t sum = 0;
  for (size_t i = 0; i < sizeof big; i += 512) sum += big[i];
  th_send3(parent, T_DONE, snow_actor_self(), sum);
}

TEST_CASE(spawn_opts_stack_size_gives_the_process_that_much_stack) {
  th_start();
  snow_spawn_opts o;
  memset(&o, 0, sizeof o);
  o.stack_size = 2u << 20; /* 2 MiB; the child uses 256 KiB */
  o.monitor = 1;
  uint8_t buf[8];
  th_put_u64(buf, th_main);
  snow_pid_t p = snow_actor_spawn_opts(stack_user, buf, 8, &o);
  CHECK(p != 0);
  th_wait_user(T_DONE, p);
  uint8_t normal[1] = {SNOW_REASON_NORMAL};
  th_expect_down(o.monitor_ref, p, normal, 1);
  th_end();
}

/* A process that spawns a grandchild which reports to main. */
static void spawner(const uint8_t* args) {
  snow_pid_t parent = th_arg(args, 0);
  for (uint64_t i = 0; i < 10; i++) {
    uint64_t w[2] = {parent, 1000 + i};
    th_spawn_words(self_reporter, w, 2);
  }
}

TEST_CASE(spawn_works_from_inside_a_process) {
  th_start();
  uint64_t w[1] = {th_main};
  th_spawn_words(spawner, w, 1);
  for (uint64_t i = 0; i < 10; i++) th_wait_user2(T_DONE, TH_ANY_PID, 1000 + i);
  th_end();
}

static void* foreign_spawner(void* arg) {
  (void)arg;
  for (uint64_t i = 0; i < 10; i++) {
    uint8_t buf[16];
    th_put_u64(buf, th_main);
    th_put_u64(buf + 8, 2000 + i);
    CHECK(snow_actor_spawn(self_reporter, buf, 16, SNOW_PRIO_NORMAL) != 0);
  }
  return NULL;
}

TEST_CASE(spawn_works_from_a_foreign_thread) {
  th_start();
  pthread_t t;
  CHECK_EQ(pthread_create(&t, NULL, foreign_spawner, NULL), 0);
  pthread_join(t, NULL);
  for (uint64_t i = 0; i < 10; i++) th_wait_user2(T_DONE, TH_ANY_PID, 2000 + i);
  th_end();
}

static void* self_in_thread(void* arg) {
  snow_pid_t* out = arg;
  *out = snow_actor_self();
  return NULL;
}

TEST_CASE(actor_self_is_0_outside_a_process) {
  snow_rt_init();
  CHECK_EQ_U(snow_actor_self(), 0);
  th_start();
  pthread_t t;
  snow_pid_t got = 12345;
  CHECK_EQ(pthread_create(&t, NULL, self_in_thread, &got), 0);
  pthread_join(t, NULL);
  CHECK_EQ_U(got, 0);
  th_end();
}

/* ------------------------------------------- busy processes spread out */

/* Two busy processes share no worker while another one is free
 * (docs/design/scheduler.md, "Placement"): each spins in windows of 200 us
 * without any reduction point, counting, and yields between windows. A
 * process sees the other's count move during one of its own windows only
 * when both run at the same moment, on two workers. */
static atomic_uint_fast64_t busy_count[2];
static atomic_int busy_overlap_seen[2];
static atomic_int busy_may_stop;

/* args [parent][index]: waits for T_GO, then spins and yields until both
 * have seen the other run at the same time (the first to see it keeps
 * running for the other), or main says stop; then reports
 * [T_DONE][self][seen]. */
static void busy_spinner(const uint8_t* args) {
  snow_pid_t parent = th_arg(args, 0);
  int i = (int)th_arg(args, 1);
  th_wait_user(T_GO, TH_ANY_PID);
  while (!atomic_load(&busy_may_stop) && !(atomic_load(&busy_overlap_seen[0]) && atomic_load(&busy_overlap_seen[1]))) {
    uint64_t other_before = atomic_load(&busy_count[1 - i]);
    int64_t end = th_now_us() + 200;
    while (th_now_us() < end) atomic_fetch_add_explicit(&busy_count[i], 1, memory_order_relaxed);
    if (atomic_load(&busy_count[1 - i]) != other_before) atomic_store(&busy_overlap_seen[i], 1);
    snow_actor_yield();
  }
  th_send3(parent, T_DONE, snow_actor_self(), (uint64_t)atomic_load(&busy_overlap_seen[i]));
}

/* args [parent]: spawns the two spinners and sends both T_GO in one slice
 * (so both wait on this process's worker, children that have not run yet
 * and count as busy only after their first yield), then waits. */
static void busy_spawner(const uint8_t* args) {
  snow_pid_t parent = th_arg(args, 0);
  snow_pid_t kids[2];
  for (uint64_t i = 0; i < 2; i++) {
    uint64_t w[2] = {parent, i};
    kids[i] = th_spawn_words(busy_spinner, w, 2);
    CHECK(kids[i] != 0);
  }
  for (int i = 0; i < 2; i++) CHECK_EQ(th_send2(kids[i], T_GO, 0), 0);
  th_send2(parent, T_READY, snow_actor_self());
  (void)snow_actor_receive(-1);
}

TEST_CASE_TIMEOUT(two_busy_processes_woken_by_one_process_run_at_the_same_time_on_two_schedulers, 60) {
  th_start_n(th_schedulers() >= 2 ? th_schedulers() : 2);
  uint64_t w[1] = {th_main};
  snow_pid_t spawner = th_spawn_words(busy_spawner, w, 1);
  CHECK(spawner != 0);
  th_wait_user(T_READY, spawner);
  /* Both report once each has seen the other run during one of its
   * windows; main stops them at the deadline otherwise. */
  int64_t deadline = th_now_ms() + 2 * th_wait_ms();
  while (!(atomic_load(&busy_overlap_seen[0]) && atomic_load(&busy_overlap_seen[1])) && th_now_ms() < deadline)
    (void)snow_actor_receive(10);
  atomic_store(&busy_may_stop, 1);
  CHECK(atomic_load(&busy_overlap_seen[0]));
  CHECK(atomic_load(&busy_overlap_seen[1]));
  th_end();
}
