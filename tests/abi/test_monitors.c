/* ABI.md section 4: monitors (process monitors, demonitor, demonitor_flush,
 * node monitors without distribution). */
#include "harness.h"

#include <pthread.h>
#include <stdlib.h>

static size_t custom(uint8_t* out, const char* s) { return th_reason_str(out, SNOW_REASON_CUSTOM, s); }

static void nothing(const uint8_t* args) { (void)args; }

static snow_pid_t dead_pid(void) {
  snow_spawn_opts o;
  memset(&o, 0, sizeof o);
  o.monitor = 1;
  snow_pid_t p = snow_actor_spawn_opts(nothing, NULL, 0, &o);
  CHECK(p != 0);
  th_wait_down(o.monitor_ref);
  return p;
}

TEST_CASE(down_carries_the_real_reason_the_ref_and_the_pid) {
  th_start();
  snow_pid_t p = th_spawn_puppet(0);
  snow_ref_t ref = snow_process_monitor(p);
  CHECK(ref != 0);
  uint8_t r[32];
  size_t rl = custom(r, "why");
  th_puppet_exit_self(p, r, rl);
  const snow_msg* m = th_wait_down(ref);
  CHECK_EQ(snow_msg_kind(m), SNOW_MSG_DOWN);
  CHECK_EQ_U(m->tag, SNOW_TAG_DOWN);
  CHECK_EQ(m->len, 16 + rl);
  CHECK_EQ_U(th_down_ref(m), ref);
  CHECK_EQ_U(th_down_pid(m), p);
  size_t gl;
  const uint8_t* g = th_down_reason(m, &gl);
  CHECK_REASON(g, gl, r, rl);
  th_end();
}

TEST_CASE(down_for_a_normal_exit_says_normal) {
  th_start();
  snow_pid_t p = th_spawn_puppet(0);
  snow_ref_t ref = snow_process_monitor(p);
  CHECK_EQ(th_send1(p, C_STOP), 0);
  uint8_t n[1] = {SNOW_REASON_NORMAL};
  th_expect_down(ref, p, n, 1);
  th_end();
}

TEST_CASE(each_monitor_call_returns_a_new_ref_and_each_fires_once) {
  th_start();
  snow_pid_t p = th_spawn_puppet(0);
  enum { K = 5 };
  snow_ref_t refs[K];
  for (int i = 0; i < K; i++) {
    refs[i] = snow_process_monitor(p);
    CHECK(refs[i] != 0);
    for (int j = 0; j < i; j++) CHECK(refs[i] != refs[j]);
  }
  uint8_t r[32];
  size_t rl = custom(r, "multi");
  th_puppet_exit_self(p, r, rl);
  for (int i = 0; i < K; i++) th_expect_down(refs[i], p, r, rl);
  th_sync_dead(p);
  for (int i = 0; i < K; i++) CHECK(th_poll_down(refs[i]) == NULL);
  th_end();
}

TEST_CASE(monitor_of_a_dead_pid_gives_down_noproc_at_once) {
  th_start();
  snow_pid_t d = dead_pid();
  int64_t t0 = th_now_ms();
  snow_ref_t ref = snow_process_monitor(d);
  CHECK(ref != 0);
  uint8_t noproc[1] = {SNOW_REASON_NOPROC};
  th_expect_down(ref, d, noproc, 1);
  CHECK(th_now_ms() - t0 < th_slack_ms());
  th_end();
}

TEST_CASE(monitor_of_a_never_used_pid_gives_down_noproc) {
  th_start();
  const snow_pid_t ghost = 0x00000000DEADBEEFull;
  snow_ref_t ref = snow_process_monitor(ghost);
  CHECK(ref != 0);
  uint8_t noproc[1] = {SNOW_REASON_NOPROC};
  th_expect_down(ref, ghost, noproc, 1);
  th_end();
}

TEST_CASE(monitor_of_pid_0_returns_0) {
  th_start();
  CHECK_EQ_U(snow_process_monitor(0), 0);
  CHECK(snow_actor_receive(0) == NULL);
  th_end();
}

static void* monitor_thread(void* arg) {
  int64_t* out = arg;
  out[0] = (int64_t)snow_process_monitor(th_main);
  out[1] = snow_process_demonitor(12345);
  out[2] = snow_process_demonitor_flush(12345);
  return NULL;
}

TEST_CASE(monitor_outside_a_process_returns_0_and_demonitor_enotproc) {
  th_start();
  pthread_t t;
  int64_t r[3] = {-99, -99, -99};
  CHECK_EQ(pthread_create(&t, NULL, monitor_thread, r), 0);
  pthread_join(t, NULL);
  CHECK_EQ(r[0], 0);
  CHECK_EQ(r[1], SNOW_ENOTPROC);
  CHECK_EQ(r[2], SNOW_ENOTPROC);
  th_end();
}

/* ------------------------------------------------------------ demonitor */

TEST_CASE(demonitor_returns_0_when_active_then_1) {
  th_start();
  snow_pid_t p = th_spawn_puppet(0);
  snow_ref_t ref = snow_process_monitor(p);
  CHECK_EQ(snow_process_demonitor(ref), 0);
  CHECK_EQ(snow_process_demonitor(ref), 1);
  th_end();
}

TEST_CASE(demonitor_after_the_down_fired_returns_1) {
  th_start();
  snow_pid_t p = th_spawn_puppet(0);
  snow_ref_t ref = snow_process_monitor(p);
  CHECK_EQ(th_send1(p, C_STOP), 0);
  th_wait_down(ref);
  CHECK_EQ(snow_process_demonitor(ref), 1);
  CHECK_EQ(snow_process_demonitor_flush(ref), 1);
  th_end();
}

TEST_CASE(demonitor_of_an_unknown_ref_returns_1) {
  th_start();
  CHECK_EQ(snow_process_demonitor(0), 1);
  CHECK_EQ(snow_process_demonitor(0xFFFFFFFFFFull), 1);
  CHECK_EQ(snow_process_demonitor(UINT64_MAX), 1);
  CHECK_EQ(snow_process_demonitor_flush(0), 1);
  CHECK_EQ(snow_process_demonitor_flush(UINT64_MAX), 1);
  th_end();
}

TEST_CASE(demonitor_of_another_processes_ref_returns_1_and_keeps_it) {
  th_start();
  snow_pid_t target = th_spawn_puppet(0);
  snow_pid_t w = th_spawn_puppet(0);
  snow_ref_t wref = th_puppet_call(w, C_MONITOR, target, T_MONITORED);
  CHECK(wref != 0);
  CHECK_EQ(snow_process_demonitor(wref), 1); /* not the caller's */
  th_puppet_fence(w, target);
  CHECK_EQ(th_send1(target, C_STOP), 0);
  const snow_msg* m = th_wait_report(w, SNOW_MSG_DOWN);
  size_t dl;
  const uint8_t* d = th_report_data(m, &dl);
  CHECK_EQ_U(th_get_u64(d), wref);
  th_end();
}

TEST_CASE(no_down_arrives_after_demonitor) {
  th_start();
  snow_pid_t p = th_spawn_puppet(0);
  snow_ref_t ref = snow_process_monitor(p);
  CHECK_EQ(snow_process_demonitor(ref), 0);
  uint8_t r[32];
  size_t rl = custom(r, "unwatched");
  th_puppet_exit_self(p, r, rl);
  th_sync_dead(p);
  CHECK(th_poll_down(ref) == NULL);
  th_end();
}

TEST_CASE(demonitor_of_one_ref_keeps_the_others) {
  th_start();
  snow_pid_t p = th_spawn_puppet(0);
  snow_ref_t a = snow_process_monitor(p);
  snow_ref_t b = snow_process_monitor(p);
  CHECK_EQ(snow_process_demonitor(a), 0);
  CHECK_EQ(th_send1(p, C_STOP), 0);
  uint8_t n[1] = {SNOW_REASON_NORMAL};
  th_expect_down(b, p, n, 1);
  th_sync_dead(p);
  CHECK(th_poll_down(a) == NULL);
  th_end();
}

/* args [parent][wait]: if wait, waits for a message; exits custom "race". */
static void racer(const uint8_t* args) {
  if (th_arg(args, 1)) (void)snow_actor_receive(-1);
  uint8_t r[32];
  size_t rl = th_reason_str(r, SNOW_REASON_CUSTOM, "race");
  snow_actor_exit_self(r, rl);
}

TEST_CASE(no_down_arrives_after_demonitor_returns_even_when_racing_an_exit) {
  th_start();
  for (int i = 0; i < 400; i++) {
    uint8_t buf[16];
    th_put_u64(buf, th_main);
    th_put_u64(buf + 8, (uint64_t)(i % 3 != 0));
    snow_spawn_opts o;
    memset(&o, 0, sizeof o);
    o.monitor = 1; /* keeps a fence ref */
    snow_pid_t t = snow_actor_spawn_opts(racer, buf, 16, &o);
    CHECK(t != 0);
    if (i % 3 == 1) CHECK_EQ(th_send1(t, T_GO), 0);
    snow_ref_t ref = snow_process_monitor(t);
    CHECK(ref != 0);
    if (i % 3 == 2) CHECK_EQ(th_send1(t, T_GO), 0);
    int64_t rc = snow_process_demonitor(ref);
    CHECK(rc == 0 || rc == 1);
    int seen = 0;
    const snow_msg* m;
    /* Already in the mailbox when demonitor returned: allowed only if the
     * monitor had fired (rc == 1). */
    while ((m = th_poll_down(ref)) != NULL) seen++;
    if (rc == 0 && seen) FAILF("iteration %d: demonitor returned 0 but a DOWN was delivered", i);
    th_wait_down(o.monitor_ref);
    th_sync_dead(t);
    if (th_poll_down(ref)) FAILF("iteration %d: DOWN arrived after demonitor returned %lld", i, (long long)rc);
    CHECK(seen <= 1);
  }
  th_end();
}

/* Waits until DOWN(ref) is in the mailbox without taking it, by repeatedly
 * scanning with a matcher that only takes fresh noproc DOWNs of extra
 * monitors on the same (dead) pid. */
typedef struct scan_ctx {
  snow_ref_t want;  /* looked for, never taken */
  snow_ref_t extra; /* taken */
  bool seen;
} scan_ctx;

static int scan_for_down(const snow_msg* m, void* c) {
  scan_ctx* s = c;
  if (snow_msg_kind(m) != SNOW_MSG_DOWN) return 0;
  if (th_down_ref(m) == s->want) s->seen = true;
  return th_down_ref(m) == s->extra;
}

static void wait_until_down_is_queued(snow_ref_t ref, snow_pid_t pid) {
  scan_ctx s = {ref, 0, false};
  int64_t deadline = th_now_ms() + th_wait_ms();
  while (!s.seen) {
    if (th_now_ms() > deadline) FAILF("DOWN for ref 0x%llx never queued", (unsigned long long)ref);
    s.extra = snow_process_monitor(pid);
    CHECK(s.extra != 0);
    CHECK(snow_actor_receive_match(scan_for_down, &s, th_wait_ms()) != NULL);
  }
}

TEST_CASE(demonitor_flush_removes_a_down_already_in_the_mailbox) {
  th_start();
  snow_pid_t p = th_spawn_puppet(0);
  snow_ref_t ref = snow_process_monitor(p);
  CHECK_EQ(th_send1(p, C_STOP), 0);
  wait_until_down_is_queued(ref, p);
  CHECK_EQ(snow_process_demonitor_flush(ref), 1); /* it had fired */
  CHECK(th_poll_down(ref) == NULL);
  th_end();
}

TEST_CASE(demonitor_without_flush_leaves_a_delivered_down) {
  th_start();
  snow_pid_t p = th_spawn_puppet(0);
  snow_ref_t ref = snow_process_monitor(p);
  CHECK_EQ(th_send1(p, C_STOP), 0);
  wait_until_down_is_queued(ref, p);
  CHECK_EQ(snow_process_demonitor(ref), 1);
  CHECK(th_poll_down(ref) != NULL);
  th_end();
}

TEST_CASE(demonitor_flush_of_an_active_monitor_returns_0) {
  th_start();
  snow_pid_t p = th_spawn_puppet(0);
  snow_ref_t ref = snow_process_monitor(p);
  CHECK_EQ(snow_process_demonitor_flush(ref), 0);
  CHECK_EQ(th_send1(p, C_STOP), 0);
  th_sync_dead(p);
  CHECK(th_poll_down(ref) == NULL);
  th_end();
}

TEST_CASE(demonitor_flush_keeps_other_messages_in_order) {
  th_start();
  snow_pid_t p = th_spawn_puppet(0);
  snow_ref_t ref = snow_process_monitor(p);
  CHECK_EQ(th_send3(th_main, T_SEQ, 0, 0), 0);
  CHECK_EQ(th_send1(p, C_STOP), 0);
  wait_until_down_is_queued(ref, p);
  CHECK_EQ(th_send3(th_main, T_SEQ, 0, 1), 0);
  CHECK_EQ(snow_process_demonitor_flush(ref), 1);
  for (uint64_t i = 0; i < 2; i++) {
    const snow_msg* m = th_wait_user(T_SEQ, 0);
    CHECK_EQ(th_word(m, 2), i);
  }
  CHECK(th_poll_down(ref) == NULL);
  th_end();
}

/* ------------------------------------------------------------------ scale */

/* Waits for one message [x][reason...] and exits with that reason. */
static void exit_on_command(const uint8_t* args) {
  (void)args;
  const snow_msg* m = snow_actor_receive(-1);
  CHECK(m != NULL);
  snow_actor_exit_self(m->data + 8, m->len - 8);
}

TEST_CASE(exactly_one_down_per_ref_over_many_monitors) {
  th_start();
  enum { N = 400, K = 4 };
  static snow_pid_t pids[N];
  static snow_ref_t refs[N][K];
  static int got[N][K];
  for (int i = 0; i < N; i++) {
    pids[i] = snow_actor_spawn(exit_on_command, NULL, 0, SNOW_PRIO_NORMAL);
    CHECK(pids[i] != 0);
    for (int k = 0; k < K; k++) {
      refs[i][k] = snow_process_monitor(pids[i]);
      CHECK(refs[i][k] != 0);
    }
  }
  for (int i = 0; i < N; i++) {
    uint8_t buf[8 + 32];
    th_put_u64(buf, 0);
    size_t rl = i % 2 ? th_reason_for_tag(buf + 8, SNOW_REASON_NORMAL) : custom(buf + 8, "many");
    CHECK_EQ(snow_actor_send(pids[i], buf, 8 + rl), 0);
  }
  for (int n = 0; n < N * K; n++) {
    const snow_msg* m = th_wait_down(0);
    snow_ref_t r = th_down_ref(m);
    snow_pid_t p = th_down_pid(m);
    bool found = false;
    for (int i = 0; i < N && !found; i++) {
      if (pids[i] != p) continue;
      for (int k = 0; k < K; k++)
        if (refs[i][k] == r) {
          got[i][k]++;
          found = true;
        }
    }
    CHECK_MSG(found, "DOWN with unknown ref 0x%llx pid 0x%llx", (unsigned long long)r, (unsigned long long)p);
  }
  for (int i = 0; i < N; i++) th_sync_dead(pids[i]);
  CHECK(th_poll_down(0) == NULL);
  for (int i = 0; i < N; i++)
    for (int k = 0; k < K; k++) CHECK_EQ(got[i][k], 1);
  th_end();
}

/* args [parent][target]: monitors target, reports READY, waits for the DOWN
 * and reports [T_DONE][self][ref matches][reason tag]. */
static void watcher(const uint8_t* args) {
  snow_pid_t parent = th_arg(args, 0);
  snow_pid_t target = th_arg(args, 1);
  snow_ref_t ref = snow_process_monitor(target);
  CHECK(ref != 0);
  th_send2(parent, T_READY, snow_actor_self());
  const snow_msg* m = th_wait_down(ref);
  size_t rl;
  const uint8_t* r = th_down_reason(m, &rl);
  th_send4(parent, T_DONE, snow_actor_self(), th_down_pid(m) == target, rl ? r[0] : 255);
}

TEST_CASE(many_processes_monitoring_one_target_all_get_down) {
  th_start();
  enum { N = 100 };
  snow_pid_t target = th_spawn_puppet(0);
  snow_pid_t ws[N];
  for (int i = 0; i < N; i++) {
    uint64_t w[2] = {th_main, target};
    ws[i] = th_spawn_words(watcher, w, 2);
  }
  for (int i = 0; i < N; i++) th_wait_user(T_READY, ws[i]);
  /* Each watcher's monitor signal reached the target before the command?
   * Not guaranteed across senders, so a late monitor may see noproc. */
  uint8_t r[1] = {SNOW_REASON_SHUTDOWN};
  th_puppet_exit_self(target, r, 1);
  for (int i = 0; i < N; i++) {
    const snow_msg* m = th_wait_user(T_DONE, ws[i]);
    CHECK_EQ(th_word(m, 2), 1);
    uint64_t tag = th_word(m, 3);
    CHECK_MSG(tag == SNOW_REASON_SHUTDOWN || tag == SNOW_REASON_NOPROC, "reason tag %llu", (unsigned long long)tag);
  }
  th_end();
}

TEST_CASE(monitoring_process_that_exits_first_leaves_no_trace) {
  th_start();
  snow_pid_t target = th_spawn_puppet(0);
  snow_ref_t wref;
  snow_pid_t w = th_spawn_puppet_mon(0, &wref);
  CHECK(th_puppet_call(w, C_MONITOR, target, T_MONITORED) != 0);
  th_puppet_fence(w, target);
  CHECK_EQ(th_send1(w, C_STOP), 0);
  th_wait_down(wref);
  snow_ref_t tref = snow_process_monitor(target);
  CHECK_EQ(th_send1(target, C_STOP), 0);
  th_wait_down(tref);
  th_roundtrip_ok();
  th_end();
}

/* args [parent][target]: monitors and demonitors the target in a loop while
 * the parent makes it exit. Monitors it keeps (every other one, and every one
 * whose demonitor found it already fired) must each see exactly one DOWN,
 * with the target's reason or noproc; monitors whose demonitor returned 0
 * must see none. Reports [T_DONE][self][errors][kept]. */
static void churn_watcher(const uint8_t* args) {
  snow_pid_t parent = th_arg(args, 0);
  snow_pid_t target = th_arg(args, 1);
  enum { ROUNDS = 300 };
  snow_ref_t* kept = malloc(ROUNDS * sizeof *kept);
  snow_ref_t* dropped = malloc(ROUNDS * sizeof *dropped);
  CHECK(kept && dropped);
  size_t nk = 0, nd = 0;
  uint64_t errors = 0;
  snow_ref_t fence = snow_process_monitor(target);
  th_send2(parent, T_READY, snow_actor_self());
  for (int i = 0; i < ROUNDS; i++) {
    snow_ref_t r = snow_process_monitor(target);
    if (r == 0) errors++;
    if (i % 2 == 0) {
      kept[nk++] = r;
    } else if (snow_process_demonitor(r) == 0) {
      dropped[nd++] = r;
    } else {
      kept[nk++] = r;
    }
    snow_actor_yield();
  }
  /* Every DOWN for the kept refs, then the fence's: all were queued by the
   * target's exit (or at monitor time, noproc) before the fence's DOWN is
   * received; nothing for dropped refs may follow. */
  const snow_msg* m = th_wait_down(fence);
  (void)m;
  for (size_t k = 0; k < nk; k++) {
    const snow_msg* d = th_wait_down(kept[k]);
    size_t rl;
    const uint8_t* rs = th_down_reason(d, &rl);
    if (th_down_pid(d) != target || rl == 0 || (rs[0] != SNOW_REASON_CUSTOM && rs[0] != SNOW_REASON_NOPROC)) errors++;
    if (th_poll_down(kept[k])) errors++;
  }
  for (size_t k = 0; k < nd; k++)
    if (th_poll_down(dropped[k])) errors++;
  free(kept);
  free(dropped);
  th_send4(parent, T_DONE, snow_actor_self(), errors, nk);
}

TEST_CASE(monitors_and_demonitors_racing_the_targets_exit_from_many_processes) {
  th_start();
  enum { W = 16 };
  for (int round = 0; round < 4; round++) {
    snow_pid_t target = th_spawn_puppet(0);
    snow_pid_t ws[W];
    for (int i = 0; i < W; i++) {
      uint64_t w[2] = {th_main, target};
      ws[i] = th_spawn_words(churn_watcher, w, 2);
    }
    for (int i = 0; i < W; i++) th_wait_user(T_READY, ws[i]);
    uint8_t r[32];
    size_t rl = custom(r, "churn");
    th_puppet_exit_self(target, r, rl);
    for (int i = 0; i < W; i++) {
      const snow_msg* m = th_wait_user(T_DONE, ws[i]);
      CHECK_MSG(th_word(m, 2) == 0, "round %d watcher %d: %llu wrong DOWNs", round, i,
                (unsigned long long)th_word(m, 2));
      CHECK(th_word(m, 3) >= 150);
    }
  }
  th_end();
}

/* ---------------------------------------------------------- node monitors */

static int match_nodedown(const snow_msg* m, void* ctx) {
  (void)ctx;
  return snow_msg_kind(m) == SNOW_MSG_NODEDOWN;
}

TEST_CASE(node_monitor_of_an_unknown_node_gives_nodedown_at_once) {
  th_start();
  const char* node = "ghost@nowhere.invalid";
  int64_t id = snow_node_monitor(node, strlen(node));
  CHECK(id > 0);
  const snow_msg* m = snow_actor_receive_match(match_nodedown, NULL, th_wait_ms());
  CHECK(m != NULL);
  CHECK_EQ_U(m->tag, SNOW_TAG_NODEDOWN);
  CHECK_EQ(m->len, strlen(node));
  CHECK(memcmp(m->data, node, m->len) == 0);
  /* It stays active until cancelled. */
  CHECK_EQ(snow_node_demonitor(id), 0);
  CHECK_EQ(snow_node_demonitor(id), 1);
  th_end();
}

TEST_CASE(node_monitor_ids_are_positive_and_distinct) {
  th_start();
  const char* node = "ghost2@nowhere.invalid";
  int64_t a = snow_node_monitor(node, strlen(node));
  int64_t b = snow_node_monitor(node, strlen(node));
  CHECK(a > 0 && b > 0 && a != b);
  for (int i = 0; i < 2; i++) CHECK(snow_actor_receive_match(match_nodedown, NULL, th_wait_ms()));
  th_end();
}

TEST_CASE(node_demonitor_of_an_unknown_id_returns_1) {
  th_start();
  CHECK_EQ(snow_node_demonitor(987654321), 1);
  CHECK_EQ(snow_node_demonitor(0), 1);
  CHECK_EQ(snow_node_demonitor(-5), 1);
  th_end();
}

TEST_CASE(node_monitor_with_an_empty_name_returns_ebadname) {
  th_start();
  CHECK_EQ(snow_node_monitor("", 0), SNOW_EBADNAME);
  CHECK(snow_actor_receive(0) == NULL);
  th_end();
}

TEST_CASE(node_monitor_all_returns_the_previous_setting) {
  th_start();
  CHECK_EQ(snow_node_monitor_all(true), 0);
  CHECK_EQ(snow_node_monitor_all(true), 1);
  CHECK_EQ(snow_node_monitor_all(false), 1);
  CHECK_EQ(snow_node_monitor_all(false), 0);
  th_end();
}

static void* node_monitor_thread(void* arg) {
  int64_t* out = arg;
  out[0] = snow_node_monitor("a@b", 3);
  out[1] = snow_node_monitor_all(true);
  return NULL;
}

TEST_CASE(node_monitor_outside_a_process_returns_enotproc) {
  th_start();
  pthread_t t;
  int64_t r[2] = {0, 0};
  CHECK_EQ(pthread_create(&t, NULL, node_monitor_thread, r), 0);
  pthread_join(t, NULL);
  CHECK_EQ(r[0], SNOW_ENOTPROC);
  CHECK_EQ(r[1], SNOW_ENOTPROC);
  th_end();
}
