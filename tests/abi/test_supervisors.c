/* One file on purpose (over 800 lines): one test program per ABI area.
 *
 * ABI.md section 7: supervisors (snow_supervisor_start, _start_child,
 * _terminate_child, _count_children): strategies, restart types, intensity,
 * shutdown, simple_one_for_one, errors.
 *
 * Children run kid() below with args [id][mode]. A kid sends the main
 * process [EV_START][self][id] when it starts and, from its terminate
 * callback (which runs before its links fire), [EV_STOP][self][reason tag].
 * The tests read these events in mailbox order.
 *
 * Why that order means something: the supervisor stops children one at a
 * time, waiting for each to be gone before it goes on, and starts children
 * only after those stops; every event is enqueued in the main process's
 * mailbox before the supervisor can see that child's exit. So stops are
 * observed in the supervisor's stop order, and stops before the starts that
 * follow them. The supervisor does not wait for a started child to run, so
 * the order of consecutive starts is the order in which the children first
 * ran: it is checked exactly on one scheduler (run queues are FIFO) and as a
 * set on several (a child may first run on another worker). */
#include "harness.h"

#include <pthread.h>
#include <stdlib.h>

enum {
  EV_START = 0x5B0001, /* [EV_START][pid][id] */
  EV_STOP,             /* [EV_STOP][pid][reason tag] */
  EV_GOT_EXIT,         /* [EV_GOT_EXIT][pid][reason tag]: a trapping kid got an EXIT */
  K_EXIT = 0x5B1001,   /* to a kid: [K_EXIT][encoded reason]: exit with it */
  K_PING               /* to a kid: [K_PING][seq] -> main [T_PONG][kid][seq] */
};

enum {
  KID_PLAIN = 0,       /* does not trap exits */
  KID_TRAP_IGNORE = 1, /* traps exits, reports and ignores EXIT messages */
  KID_TRAP_OBEY = 2,   /* traps exits, reports an EXIT and exits with its reason */
  KID_RETURN = 3       /* returns (exits normal) as soon as it has started */
};

static void kid_term(const uint8_t* state, const uint8_t* reason) {
  (void)state;
  th_send3(th_main, EV_STOP, snow_actor_self(), reason ? reason[0] : 255);
}

static void kid(const uint8_t* args) {
  uint64_t id = th_arg(args, 0);
  uint64_t mode = th_arg(args, 1);
  snow_pid_t self = snow_actor_self();
  snow_actor_set_terminate(self, kid_term);
  if (mode == KID_TRAP_IGNORE || mode == KID_TRAP_OBEY) snow_actor_set_trap_exit(true);
  th_send3(th_main, EV_START, self, id);
  if (mode == KID_RETURN) return;
  for (;;) {
    const snow_msg* m = snow_actor_receive(-1);
    if (!m) FAILF("kid %llu: snow_actor_receive(-1) returned NULL", (unsigned long long)id);
    uint32_t k = snow_msg_kind(m);
    if (k == SNOW_MSG_EXIT) {
      th_send3(th_main, EV_GOT_EXIT, self, m->len > 8 ? m->data[8] : 255);
      if (mode == KID_TRAP_OBEY) snow_actor_exit_self(m->data + 8, m->len - 8);
      continue;
    }
    if (k != SNOW_MSG_USER || m->len < 8) continue;
    switch (th_word(m, 0)) {
      case K_EXIT:
        snow_actor_exit_self(m->data + 8, m->len - 8);
      case K_PING:
        th_send3(th_main, T_PONG, self, th_word(m, 1));
        break;
      default:
        break;
    }
  }
}

/* A child spec running kid(id, mode); argbuf (2 words) may be freed once the
 * spec has been passed to the runtime. */
static snow_child_spec kid_spec(uint64_t* argbuf, uint64_t id, uint64_t mode, uint8_t restart, int64_t shutdown_ms) {
  snow_child_spec c;
  memset(&c, 0, sizeof c);
  argbuf[0] = id;
  argbuf[1] = mode;
  c.start = kid;
  c.args = (const uint8_t*)argbuf;
  c.args_size = 16;
  c.restart = restart;
  c.shutdown_ms = shutdown_ms;
  return c;
}

/* n plain permanent kids with ids 1..n and a 1000 ms shutdown. */
static void permanent_kids(uint64_t (*argbufs)[2], snow_child_spec* ch, int n) {
  for (int i = 0; i < n; i++) ch[i] = kid_spec(argbufs[i], (uint64_t)i + 1, KID_PLAIN, SNOW_RESTART_PERMANENT, 1000);
}

static snow_sup_spec sup_spec(uint8_t strategy, uint32_t max_restarts, uint64_t period_ms,
                              const snow_child_spec* children, uint64_t n) {
  snow_sup_spec s;
  memset(&s, 0, sizeof s);
  s.strategy = strategy;
  s.max_restarts = max_restarts;
  s.period_ms = period_ms;
  s.children = children;
  s.child_count = n;
  return s;
}

static snow_pid_t start_sup(uint8_t strategy, uint32_t max_restarts, uint64_t period_ms,
                            const snow_child_spec* children, uint64_t n) {
  snow_sup_spec s = sup_spec(strategy, max_restarts, period_ms, children, n);
  snow_pid_t sup = snow_supervisor_start(&s);
  CHECK_MSG(sup != 0, "snow_supervisor_start returned 0 for a valid spec");
  return sup;
}

/* ------------------------------------------------------------ events */

#define MAX_KNOWN 4096
static struct {
  snow_pid_t pid;
  uint64_t id;
} g_known[MAX_KNOWN];
static int g_nknown;

static uint64_t id_of(snow_pid_t p) {
  for (int i = g_nknown; i-- > 0;)
    if (g_known[i].pid == p) return g_known[i].id;
  return UINT64_MAX;
}

/* The pid of the latest start of child `id` seen so far. */
static snow_pid_t pid_of(uint64_t id) {
  for (int i = g_nknown; i-- > 0;)
    if (g_known[i].id == id) return g_known[i].pid;
  FAILF("child %llu has not been seen starting", (unsigned long long)id);
}

static int match_ev(const snow_msg* m, void* ctx) {
  (void)ctx;
  if (snow_msg_kind(m) != SNOW_MSG_USER || m->len != 24) return 0;
  uint64_t w = th_word(m, 0);
  return w == EV_START || w == EV_STOP;
}

/* Formats a START/STOP event as "start<id>" or "stop<id>:<reason>" and
 * records started pids. */
static void format_ev(const snow_msg* m, char* out, size_t cap) {
  snow_pid_t p = th_word(m, 1);
  if (th_word(m, 0) == EV_START) {
    uint64_t id = th_word(m, 2);
    if (g_nknown < MAX_KNOWN) {
      g_known[g_nknown].pid = p;
      g_known[g_nknown].id = id;
      g_nknown++;
    }
    snprintf(out, cap, "start%llu", (unsigned long long)id);
  } else {
    uint64_t id = id_of(p);
    if (id == UINT64_MAX) snprintf(out, cap, "stop?:%s", th_reason_name((uint8_t)th_word(m, 2)));
    else snprintf(out, cap, "stop%llu:%s", (unsigned long long)id, th_reason_name((uint8_t)th_word(m, 2)));
  }
}

static bool one_scheduler(void) {
  snow_stats st;
  CHECK_EQ(snow_rt_stats(&st), 0);
  return st.schedulers == 1;
}

#define MAX_TOKENS 32
typedef char token_t[32];

static int split(const char* s, token_t* out) {
  int n = 0;
  while (*s) {
    while (*s == ' ') s++;
    if (!*s) break;
    size_t k = 0;
    while (s[k] && s[k] != ' ') k++;
    if (n >= MAX_TOKENS || k >= sizeof(token_t)) FAILF("bad expectation \"%s\"", s);
    memcpy(out[n], s, k);
    out[n][k] = 0;
    n++;
    s += k;
  }
  return n;
}

static int cmp_token(const void* a, const void* b) { return strcmp(a, b); }

/* Sorts each run of consecutive "start" tokens. */
static void canonical_starts(token_t* t, int n) {
  for (int i = 0; i < n;) {
    int j = i;
    while (j < n && strncmp(t[j], "start", 5) == 0) j++;
    if (j > i + 1) qsort(t + i, (size_t)(j - i), sizeof(token_t), cmp_token);
    i = j > i ? j : i + 1;
  }
}

static void join(char* out, size_t cap, token_t* t, int n) {
  size_t o = 0;
  out[0] = 0;
  for (int i = 0; i < n && o < cap; i++) o += (size_t)snprintf(out + o, cap - o, "%s%s", i ? " " : "", t[i]);
}

/* Reads as many START/STOP events as `want` lists (space-separated tokens)
 * and compares them with it. */
static void expect_events_(const char* file, int line, const char* want) {
  token_t w[MAX_TOKENS], g[MAX_TOKENS];
  int n = split(want, w);
  for (int i = 0; i < n; i++) {
    const snow_msg* m = snow_actor_receive_match(match_ev, NULL, th_wait_ms());
    if (!m) {
      char got[1024];
      join(got, sizeof got, g, i);
      th_fail(file, line, "expected events \"%s\", got only \"%s\" within %lld ms", want, got, (long long)th_wait_ms());
    }
    format_ev(m, g[i], sizeof g[i]);
  }
  char got[1024];
  join(got, sizeof got, g, n);
  if (!one_scheduler()) {
    canonical_starts(w, n);
    canonical_starts(g, n);
  }
  for (int i = 0; i < n; i++)
    if (strcmp(w[i], g[i]) != 0) th_fail(file, line, "expected events \"%s\", got \"%s\"", want, got);
}
#define expect_events(want) expect_events_(__FILE__, __LINE__, (want))

/* No START/STOP event is in the mailbox now. */
static void no_event_queued_(const char* file, int line) {
  const snow_msg* m = snow_actor_receive_match(match_ev, NULL, 0);
  if (m) {
    char e[64];
    format_ev(m, e, sizeof e);
    th_fail(file, line, "unexpected event \"%s\"", e);
  }
}
#define no_event_queued() no_event_queued_(__FILE__, __LINE__)

/* -------------------------------------------------------- kid control */

/* Makes kid p exit with reason tag `tag` (killed: an untrappable kill). */
static void kid_exit(snow_pid_t p, uint8_t tag) {
  if (tag == SNOW_REASON_KILLED) {
    CHECK_EQ(snow_actor_exit(p, SNOW_REASON_KILLED), 0);
    return;
  }
  uint8_t buf[8 + 64];
  size_t rl;
  th_put_u64(buf, K_EXIT);
  switch (tag) {
    case SNOW_REASON_ERROR:
      rl = th_reason_str(buf + 8, tag, "kid-crash");
      break;
    case SNOW_REASON_CUSTOM:
      rl = th_reason_str(buf + 8, tag, "kid-custom");
      break;
    default:
      rl = th_reason_for_tag(buf + 8, tag);
      break;
  }
  CHECK_EQ(snow_actor_send(p, buf, 8 + rl), 0);
}

/* Kid p answers a ping: it is alive, with that pid. */
static void kid_ping_(const char* file, int line, snow_pid_t p) {
  static uint64_t seq = 1;
  uint64_t s = seq++;
  if (th_send2(p, K_PING, s) != 0) th_fail(file, line, "send to kid failed");
  th__wait(file, line, th_m_user2(T_PONG, p, s), th_wait_ms());
}
#define kid_ping(p) kid_ping_(__FILE__, __LINE__, (p))

static void check_count_(const char* file, int line, snow_pid_t sup, int64_t want) {
  int64_t c = snow_supervisor_count_children(sup);
  if (c != want)
    th_fail(file, line, "snow_supervisor_count_children = %lld, expected %lld", (long long)c, (long long)want);
}
#define check_count(sup, want) check_count_(__FILE__, __LINE__, (sup), (want))

static const uint8_t kShutdown[1] = {SNOW_REASON_SHUTDOWN};

/* Stops sup with an exit signal `shutdown` and waits for its DOWN. */
static void stop_sup(snow_pid_t sup) {
  snow_ref_t ref = snow_process_monitor(sup);
  CHECK(ref != 0);
  CHECK_EQ(snow_actor_exit(sup, SNOW_REASON_SHUTDOWN), 0);
  th_expect_down(ref, sup, kShutdown, 1);
}

/* ================================================================ strategies */

TEST_CASE(one_for_one_restarts_only_the_child_that_exited) {
  th_start();
  uint64_t a[3][2];
  snow_child_spec ch[3];
  permanent_kids(a, ch, 3);
  snow_pid_t sup = start_sup(SNOW_SUP_ONE_FOR_ONE, 10, 60000, ch, 3);
  expect_events("start1 start2 start3");
  snow_pid_t p1 = pid_of(1), p2 = pid_of(2), p3 = pid_of(3);
  kid_exit(p2, SNOW_REASON_ERROR);
  expect_events("stop2:error start2");
  CHECK(pid_of(2) != p2);
  kid_ping(p1);
  kid_ping(p3);
  kid_ping(pid_of(2));
  check_count(sup, 3);
  kid_exit(p1, SNOW_REASON_KILLED);
  expect_events("stop1:killed start1");
  kid_ping(p3);
  kid_ping(pid_of(1));
  check_count(sup, 3);
  no_event_queued();
  th_end();
}

TEST_CASE(one_for_all_stops_the_others_in_reverse_start_order_and_restarts_all_in_start_order) {
  th_start();
  uint64_t a[4][2];
  snow_child_spec ch[4];
  permanent_kids(a, ch, 4);
  snow_pid_t sup = start_sup(SNOW_SUP_ONE_FOR_ALL, 10, 60000, ch, 4);
  expect_events("start1 start2 start3 start4");
  snow_pid_t old[4];
  for (int i = 0; i < 4; i++) old[i] = pid_of((uint64_t)i + 1);
  kid_exit(old[1], SNOW_REASON_ERROR);
  expect_events("stop2:error stop4:shutdown stop3:shutdown stop1:shutdown start1 start2 start3 start4");
  for (int i = 0; i < 4; i++) {
    CHECK(pid_of((uint64_t)i + 1) != old[i]);
    kid_ping(pid_of((uint64_t)i + 1));
  }
  check_count(sup, 4);
  no_event_queued();
  th_end();
}

TEST_CASE(rest_for_one_restarts_the_exited_child_and_the_children_started_after_it) {
  th_start();
  uint64_t a[4][2];
  snow_child_spec ch[4];
  permanent_kids(a, ch, 4);
  snow_pid_t sup = start_sup(SNOW_SUP_REST_FOR_ONE, 10, 60000, ch, 4);
  expect_events("start1 start2 start3 start4");
  snow_pid_t p1 = pid_of(1), p2 = pid_of(2), p3 = pid_of(3), p4 = pid_of(4);
  kid_exit(p2, SNOW_REASON_ERROR);
  expect_events("stop2:error stop4:shutdown stop3:shutdown start2 start3 start4");
  CHECK(pid_of(2) != p2 && pid_of(3) != p3 && pid_of(4) != p4);
  kid_ping(p1); /* the earlier child is untouched */
  for (uint64_t id = 2; id <= 4; id++) kid_ping(pid_of(id));
  check_count(sup, 4);
  no_event_queued();
  th_end();
}

TEST_CASE(rest_for_one_restarts_only_the_last_child_when_the_last_exits) {
  th_start();
  uint64_t a[3][2];
  snow_child_spec ch[3];
  permanent_kids(a, ch, 3);
  snow_pid_t sup = start_sup(SNOW_SUP_REST_FOR_ONE, 10, 60000, ch, 3);
  expect_events("start1 start2 start3");
  snow_pid_t p1 = pid_of(1), p2 = pid_of(2), p3 = pid_of(3);
  kid_exit(p3, SNOW_REASON_KILLED);
  expect_events("stop3:killed start3");
  CHECK(pid_of(3) != p3);
  kid_ping(p1);
  kid_ping(p2);
  check_count(sup, 3);
  no_event_queued();
  th_end();
}

/* Erlang: a temporary child is never restarted, also when a sibling's exit
 * made the strategy terminate it; it is removed from the supervisor. */
TEST_CASE(one_for_all_does_not_restart_a_temporary_sibling) {
  th_start();
  uint64_t a[3][2];
  snow_child_spec ch[3];
  ch[0] = kid_spec(a[0], 1, KID_PLAIN, SNOW_RESTART_PERMANENT, 1000);
  ch[1] = kid_spec(a[1], 2, KID_PLAIN, SNOW_RESTART_TRANSIENT, 1000);
  ch[2] = kid_spec(a[2], 3, KID_PLAIN, SNOW_RESTART_TEMPORARY, 1000);
  snow_pid_t sup = start_sup(SNOW_SUP_ONE_FOR_ALL, 10, 60000, ch, 3);
  expect_events("start1 start2 start3");
  kid_exit(pid_of(1), SNOW_REASON_ERROR);
  /* The transient sibling was stopped with shutdown and is restarted too. */
  expect_events("stop1:error stop3:shutdown stop2:shutdown start1 start2");
  check_count(sup, 2);
  no_event_queued();
  kid_ping(pid_of(1));
  kid_ping(pid_of(2));
  th_end();
}

TEST_CASE(rest_for_one_does_not_restart_a_temporary_sibling) {
  th_start();
  uint64_t a[4][2];
  snow_child_spec ch[4];
  ch[0] = kid_spec(a[0], 1, KID_PLAIN, SNOW_RESTART_PERMANENT, 1000);
  ch[1] = kid_spec(a[1], 2, KID_PLAIN, SNOW_RESTART_PERMANENT, 1000);
  ch[2] = kid_spec(a[2], 3, KID_PLAIN, SNOW_RESTART_TRANSIENT, 1000);
  ch[3] = kid_spec(a[3], 4, KID_PLAIN, SNOW_RESTART_TEMPORARY, 1000);
  snow_pid_t sup = start_sup(SNOW_SUP_REST_FOR_ONE, 10, 60000, ch, 4);
  expect_events("start1 start2 start3 start4");
  snow_pid_t p1 = pid_of(1);
  kid_exit(pid_of(2), SNOW_REASON_ERROR);
  expect_events("stop2:error stop4:shutdown stop3:shutdown start2 start3");
  check_count(sup, 3);
  no_event_queued();
  kid_ping(p1);
  kid_ping(pid_of(2));
  kid_ping(pid_of(3));
  th_end();
}

/* ============================================================ restart types */

static const uint8_t kExitTags[5] = {SNOW_REASON_NORMAL, SNOW_REASON_SHUTDOWN, SNOW_REASON_ERROR, SNOW_REASON_KILLED,
                                     SNOW_REASON_CUSTOM};

/* For each exit reason of kExitTags, a fresh one_for_one supervisor with one
 * child of type `restart`: the child exits with that reason and is restarted
 * iff want[i]. */
static void restart_type_case(uint8_t restart, uint64_t base_id, const bool want[5]) {
  th_start();
  for (int i = 0; i < 5; i++) {
    uint64_t id = base_id + (uint64_t)i;
    uint64_t a[2];
    snow_child_spec ch = kid_spec(a, id, KID_PLAIN, restart, 1000);
    snow_pid_t sup = start_sup(SNOW_SUP_ONE_FOR_ONE, 10, 60000, &ch, 1);
    char e[128];
    snprintf(e, sizeof e, "start%llu", (unsigned long long)id);
    expect_events(e);
    snow_pid_t p = pid_of(id);
    kid_exit(p, kExitTags[i]);
    if (want[i]) {
      snprintf(e, sizeof e, "stop%llu:%s start%llu", (unsigned long long)id, th_reason_name(kExitTags[i]),
               (unsigned long long)id);
      expect_events(e);
      CHECK(pid_of(id) != p);
      kid_ping(pid_of(id));
      check_count(sup, 1);
      stop_sup(sup);
      snprintf(e, sizeof e, "stop%llu:shutdown", (unsigned long long)id);
      expect_events(e);
    } else {
      snprintf(e, sizeof e, "stop%llu:%s", (unsigned long long)id, th_reason_name(kExitTags[i]));
      expect_events(e);
      /* Once p is gone its EXIT is queued at the supervisor before this
       * call: the count reflects the decision. */
      th_sync_dead(p);
      CHECK_MSG(snow_supervisor_count_children(sup) == 0,
                "child of restart type %u exiting with %s was restarted (count %lld)", restart,
                th_reason_name(kExitTags[i]), (long long)snow_supervisor_count_children(sup));
      stop_sup(sup);
      no_event_queued();
    }
  }
  th_end();
}

TEST_CASE(a_permanent_child_is_restarted_after_any_exit) {
  const bool want[5] = {true, true, true, true, true};
  restart_type_case(SNOW_RESTART_PERMANENT, 10, want);
}

TEST_CASE(a_transient_child_is_restarted_after_error_killed_or_custom_but_not_after_normal_or_shutdown) {
  const bool want[5] = {false, false, true, true, true};
  restart_type_case(SNOW_RESTART_TRANSIENT, 20, want);
}

TEST_CASE(a_temporary_child_is_never_restarted) {
  const bool want[5] = {false, false, false, false, false};
  restart_type_case(SNOW_RESTART_TEMPORARY, 30, want);
}

/* ================================================================ intensity */

TEST_CASE(exceeding_the_intensity_stops_the_other_children_in_reverse_order_and_exits_shutdown) {
  th_start();
  uint64_t a[3][2];
  snow_child_spec ch[3];
  permanent_kids(a, ch, 3);
  snow_pid_t sup = start_sup(SNOW_SUP_ONE_FOR_ONE, 2, 60000, ch, 3);
  snow_ref_t ref = snow_process_monitor(sup);
  CHECK(ref != 0);
  expect_events("start1 start2 start3");
  for (int k = 0; k < 2; k++) {
    kid_exit(pid_of(1), SNOW_REASON_ERROR);
    expect_events("stop1:error start1");
  }
  CHECK(th_poll_down(ref) == NULL);
  kid_exit(pid_of(1), SNOW_REASON_ERROR); /* a third restart within the period */
  expect_events("stop1:error stop3:shutdown stop2:shutdown");
  th_expect_down(ref, sup, kShutdown, 1);
  no_event_queued();
  CHECK_EQ(snow_supervisor_count_children(sup), SNOW_ENOPROC);
  th_end();
}

TEST_CASE(max_restarts_0_makes_the_first_restart_stop_the_supervisor) {
  th_start();
  uint64_t a[3][2];
  snow_child_spec ch[3];
  permanent_kids(a, ch, 3);
  snow_pid_t sup = start_sup(SNOW_SUP_ONE_FOR_ONE, 0, 60000, ch, 3);
  snow_ref_t ref = snow_process_monitor(sup);
  expect_events("start1 start2 start3");
  kid_exit(pid_of(2), SNOW_REASON_KILLED);
  expect_events("stop2:killed stop3:shutdown stop1:shutdown");
  th_expect_down(ref, sup, kShutdown, 1);
  no_event_queued();
  th_end();
}

TEST_CASE(a_child_that_is_not_restarted_does_not_count_towards_the_intensity) {
  th_start();
  uint64_t a[3][2];
  snow_child_spec ch[3];
  ch[0] = kid_spec(a[0], 1, KID_PLAIN, SNOW_RESTART_TRANSIENT, 1000);
  ch[1] = kid_spec(a[1], 2, KID_PLAIN, SNOW_RESTART_TEMPORARY, 1000);
  ch[2] = kid_spec(a[2], 3, KID_PLAIN, SNOW_RESTART_PERMANENT, 1000);
  snow_pid_t sup = start_sup(SNOW_SUP_ONE_FOR_ONE, 0, 60000, ch, 3);
  snow_ref_t ref = snow_process_monitor(sup);
  expect_events("start1 start2 start3");
  snow_pid_t p1 = pid_of(1), p2 = pid_of(2);
  kid_exit(p1, SNOW_REASON_NORMAL);
  kid_exit(p2, SNOW_REASON_ERROR);
  th_sync_dead(p1);
  th_sync_dead(p2);
  check_count(sup, 1);
  CHECK(th_poll_down(ref) == NULL);
  kid_ping(pid_of(3));
  th_end();
}

/* A permanent child told to exit as soon as it starts, each time: restarted
 * in a loop that the intensity must end. The period must not overflow into
 * "no limit". (The child waits to be told, so the supervisor is still
 * alive when it is monitored.) */
TEST_CASE(a_huge_restart_period_still_limits_restarts) {
  th_start();
  const uint64_t periods[2] = {UINT64_MAX, 10000000000000ull /* 10^13 ms */};
  for (int i = 0; i < 2; i++) {
    uint64_t id = 60 + (uint64_t)i;
    uint64_t a[2];
    snow_child_spec ch = kid_spec(a, id, KID_PLAIN, SNOW_RESTART_PERMANENT, 1000);
    snow_pid_t sup = start_sup(SNOW_SUP_ONE_FOR_ONE, 2, periods[i], &ch, 1);
    snow_ref_t ref = snow_process_monitor(sup);
    CHECK(ref != 0);
    int starts = 0;
    int64_t deadline = th_now_ms() + th_wait_ms();
    th_match any = th_m_any();
    for (;;) {
      int64_t left = deadline - th_now_ms();
      const snow_msg* m = snow_actor_receive_match(th_match_fn, &any, left > 0 ? left : 0);
      if (!m)
        FAILF("period_ms %llu, max_restarts 2: no supervisor DOWN within %lld ms (%d starts)",
              (unsigned long long)periods[i], (long long)th_wait_ms(), starts);
      uint32_t k = snow_msg_kind(m);
      if (k == SNOW_MSG_USER && m->len == 24 && th_word(m, 0) == EV_START && th_word(m, 2) == id) {
        if (++starts > 3)
          FAILF(
              "period_ms %llu, max_restarts 2: the child was started %d times; at most 3 "
              "starts (2 restarts) are allowed",
              (unsigned long long)periods[i], starts);
        kid_exit(th_word(m, 1), SNOW_REASON_NORMAL);
      } else if (k == SNOW_MSG_DOWN && th_down_ref(m) == ref) {
        size_t rl;
        const uint8_t* r = th_down_reason(m, &rl);
        CHECK_REASON(r, rl, kShutdown, 1);
        break;
      }
    }
    CHECK_MSG(starts == 3, "period_ms %llu: %d starts before the supervisor exited, expected 3",
              (unsigned long long)periods[i], starts);
  }
  th_end();
}

TEST_CASE(a_zero_restart_period_is_rejected) {
  th_start();
  uint64_t a[2];
  snow_child_spec ch = kid_spec(a, 1, KID_PLAIN, SNOW_RESTART_PERMANENT, 1000);
  snow_sup_spec s = sup_spec(SNOW_SUP_ONE_FOR_ONE, 3, 0, &ch, 1);
  CHECK_EQ_U(snow_supervisor_start(&s), 0);
  /* The same spec with a positive period is accepted. */
  s.period_ms = 1;
  snow_pid_t sup = snow_supervisor_start(&s);
  CHECK(sup != 0);
  expect_events("start1");
  th_end();
}

/* ================================================================= shutdown */

TEST_CASE(terminate_child_kills_a_trapping_child_that_ignores_shutdown_once_its_timeout_passes) {
  th_start();
  uint64_t a[2];
  snow_child_spec ch = kid_spec(a, 1, KID_TRAP_IGNORE, SNOW_RESTART_PERMANENT, 200);
  snow_pid_t sup = start_sup(SNOW_SUP_ONE_FOR_ONE, 10, 60000, &ch, 1);
  expect_events("start1");
  snow_pid_t p = pid_of(1);
  int64_t t0 = th_now_us();
  CHECK_EQ(snow_supervisor_terminate_child(sup, p), 0);
  int64_t dt_ms = (th_now_us() - t0) / 1000;
  /* It was asked first: an EXIT shutdown reached it. */
  const snow_msg* g = th_wait_user(EV_GOT_EXIT, p);
  CHECK_EQ(th_word(g, 2), SNOW_REASON_SHUTDOWN);
  expect_events("stop1:killed");
  CHECK_MSG(dt_ms >= 199, "terminate_child returned after %lld ms, before the 200 ms shutdown timeout",
            (long long)dt_ms);
  CHECK_MSG(dt_ms <= 200 + th_slack_ms(), "terminate_child returned after %lld ms (shutdown 200 ms)", (long long)dt_ms);
  check_count(sup, 0);
  no_event_queued();
  th_end();
}

TEST_CASE(terminate_child_lets_a_trapping_child_that_obeys_shutdown_exit_with_shutdown) {
  th_start();
  uint64_t a[2];
  snow_child_spec ch = kid_spec(a, 1, KID_TRAP_OBEY, SNOW_RESTART_PERMANENT, 5000);
  snow_pid_t sup = start_sup(SNOW_SUP_ONE_FOR_ONE, 10, 60000, &ch, 1);
  expect_events("start1");
  snow_pid_t p = pid_of(1);
  int64_t t0 = th_now_ms();
  CHECK_EQ(snow_supervisor_terminate_child(sup, p), 0);
  CHECK_MSG(th_now_ms() - t0 < 2500, "terminate_child took %lld ms for a child that exits at once",
            (long long)(th_now_ms() - t0));
  th_wait_user(EV_GOT_EXIT, p);
  expect_events("stop1:shutdown");
  check_count(sup, 0);
  th_end();
}

TEST_CASE(brutal_kill_kills_a_trapping_child_without_asking_it) {
  th_start();
  uint64_t a[2];
  snow_child_spec ch = kid_spec(a, 1, KID_TRAP_IGNORE, SNOW_RESTART_PERMANENT, SNOW_SHUTDOWN_BRUTAL_KILL);
  snow_pid_t sup = start_sup(SNOW_SUP_ONE_FOR_ONE, 10, 60000, &ch, 1);
  expect_events("start1");
  snow_pid_t p = pid_of(1);
  CHECK_EQ(snow_supervisor_terminate_child(sup, p), 0);
  expect_events("stop1:killed");
  /* It got no EXIT message: a kill is not trappable. */
  th_sync_dead(p);
  CHECK(th_poll_user(EV_GOT_EXIT, p) == NULL);
  check_count(sup, 0);
  th_end();
}

TEST_CASE(stopping_the_supervisor_stops_its_children_in_reverse_order_each_as_its_spec_says) {
  th_start();
  uint64_t a[3][2];
  snow_child_spec ch[3];
  ch[0] = kid_spec(a[0], 1, KID_PLAIN, SNOW_RESTART_PERMANENT, 1000);
  ch[1] = kid_spec(a[1], 2, KID_TRAP_IGNORE, SNOW_RESTART_PERMANENT, 100);
  ch[2] = kid_spec(a[2], 3, KID_TRAP_IGNORE, SNOW_RESTART_PERMANENT, SNOW_SHUTDOWN_BRUTAL_KILL);
  snow_pid_t sup = start_sup(SNOW_SUP_ONE_FOR_ONE, 10, 60000, ch, 3);
  expect_events("start1 start2 start3");
  stop_sup(sup);
  /* All three were gone before the supervisor's DOWN. */
  const snow_msg* m;
  char got[3][64];
  for (int i = 0; i < 3; i++) {
    m = snow_actor_receive_match(match_ev, NULL, 0);
    CHECK_MSG(m != NULL, "only %d children had stopped when the supervisor's DOWN arrived", i);
    format_ev(m, got[i], sizeof got[i]);
  }
  CHECK_MSG(strcmp(got[0], "stop3:killed") == 0 && strcmp(got[1], "stop2:killed") == 0 &&
                strcmp(got[2], "stop1:shutdown") == 0,
            "stop order \"%s %s %s\", expected \"stop3:killed stop2:killed stop1:shutdown\"", got[0], got[1], got[2]);
  th_end();
}

TEST_CASE(an_exit_signal_from_a_non_child_stops_the_children_and_ends_the_supervisor_with_its_reason) {
  th_start();
  uint64_t a[2][2];
  snow_child_spec ch[2];
  permanent_kids(a, ch, 2);
  snow_pid_t sup = start_sup(SNOW_SUP_ONE_FOR_ONE, 10, 60000, ch, 2);
  expect_events("start1 start2");
  /* normal from a non-child is ignored. */
  CHECK_EQ(snow_actor_exit(sup, SNOW_REASON_NORMAL), 0);
  check_count(sup, 2);
  snow_ref_t ref = snow_process_monitor(sup);
  uint8_t r[64];
  size_t rl = th_reason_str(r, SNOW_REASON_CUSTOM, "stop-now");
  CHECK_EQ(snow_actor_exit_reason(sup, r, rl), 0);
  th_expect_down(ref, sup, r, rl);
  expect_events("stop2:shutdown stop1:shutdown");
  th_end();
}

/* ======================================================= simple_one_for_one */

static snow_pid_t start_simple(uint64_t* targs, uint8_t restart) {
  snow_child_spec tmpl = kid_spec(targs, 50, KID_PLAIN, restart, 1000);
  return start_sup(SNOW_SUP_SIMPLE_ONE_FOR_ONE, 10, 60000, &tmpl, 1);
}

static snow_pid_t start_kid(snow_pid_t sup, uint64_t id) {
  uint64_t a[2];
  snow_child_spec c = kid_spec(a, id, KID_PLAIN, SNOW_RESTART_PERMANENT, 1000);
  snow_pid_t p = snow_supervisor_start_child(sup, &c);
  CHECK_MSG(p != 0, "snow_supervisor_start_child returned 0");
  return p;
}

TEST_CASE(simple_one_for_one_starts_no_child_and_start_child_adds_one_per_call) {
  th_start();
  uint64_t ta[2];
  snow_pid_t sup = start_simple(ta, SNOW_RESTART_PERMANENT);
  check_count(sup, 0);
  snow_pid_t p[3];
  for (int i = 0; i < 3; i++) p[i] = start_kid(sup, (uint64_t)i + 1);
  expect_events("start1 start2 start3");
  for (int i = 0; i < 3; i++) CHECK_EQ_U(pid_of((uint64_t)i + 1), p[i]);
  check_count(sup, 3);
  th_end();
}

TEST_CASE(simple_one_for_one_start_child_with_an_empty_spec_uses_the_template) {
  th_start();
  uint64_t ta[2];
  snow_pid_t sup = start_simple(ta, SNOW_RESTART_PERMANENT);
  snow_child_spec empty;
  memset(&empty, 0, sizeof empty);
  snow_pid_t p = snow_supervisor_start_child(sup, &empty);
  CHECK(p != 0);
  expect_events("start50");
  CHECK_EQ_U(pid_of(50), p);
  check_count(sup, 1);
  th_end();
}

TEST_CASE(simple_one_for_one_terminate_child_stops_that_child_and_the_count_drops) {
  th_start();
  uint64_t ta[2];
  snow_pid_t sup = start_simple(ta, SNOW_RESTART_PERMANENT);
  snow_pid_t p[3];
  for (int i = 0; i < 3; i++) p[i] = start_kid(sup, (uint64_t)i + 1);
  expect_events("start1 start2 start3");
  CHECK_EQ(snow_supervisor_terminate_child(sup, p[1]), 0);
  expect_events("stop2:shutdown");
  check_count(sup, 2);
  CHECK_EQ(snow_supervisor_terminate_child(sup, p[1]), 1);
  kid_ping(p[0]);
  kid_ping(p[2]);
  no_event_queued();
  th_end();
}

TEST_CASE(simple_one_for_one_restarts_a_crashed_child_with_its_own_args) {
  th_start();
  uint64_t ta[2];
  snow_pid_t sup = start_simple(ta, SNOW_RESTART_PERMANENT);
  snow_pid_t p1 = start_kid(sup, 1);
  snow_pid_t p2 = start_kid(sup, 2);
  expect_events("start1 start2");
  kid_exit(p1, SNOW_REASON_ERROR);
  expect_events("stop1:error start1");
  CHECK(pid_of(1) != p1);
  kid_ping(p2);
  check_count(sup, 2);
  /* The restarted child is a child under its new pid only. */
  CHECK_EQ(snow_supervisor_terminate_child(sup, p1), 1);
  CHECK_EQ(snow_supervisor_terminate_child(sup, pid_of(1)), 0);
  expect_events("stop1:shutdown");
  check_count(sup, 1);
  th_end();
}

/* ================================================================== errors */

TEST_CASE(terminate_child_of_a_pid_that_is_not_its_child_returns_1) {
  th_start();
  uint64_t a[2];
  snow_child_spec ch = kid_spec(a, 1, KID_PLAIN, SNOW_RESTART_PERMANENT, 1000);
  snow_pid_t sup = start_sup(SNOW_SUP_ONE_FOR_ONE, 10, 60000, &ch, 1);
  expect_events("start1");
  snow_pid_t other = th_spawn_puppet(0);
  CHECK_EQ(snow_supervisor_terminate_child(sup, th_main), 1);
  CHECK_EQ(snow_supervisor_terminate_child(sup, sup), 1);
  CHECK_EQ(snow_supervisor_terminate_child(sup, other), 1);
  CHECK_EQ(snow_supervisor_terminate_child(sup, 0x00000000DEADBEEFull), 1);
  th_puppet_ping(other); /* not touched */
  kid_ping(pid_of(1));
  check_count(sup, 1);
  no_event_queued();
  th_end();
}

/* Answers every call with an 8-byte 0. */
static void any_server(const uint8_t* args) {
  (void)args;
  for (;;) {
    const snow_msg* m = snow_actor_receive(-1);
    if (m && snow_msg_kind(m) == SNOW_MSG_USER && m->len >= 16) {
      uint8_t z[8] = {0};
      (void)snow_service_reply(th_word(m, 1), z, 8);
    }
  }
}

TEST_CASE(supervisor_calls_on_a_pid_that_is_not_a_supervisor_return_enoproc) {
  th_start();
  snow_pid_t plain = th_spawn_puppet(0);
  snow_pid_t server = snow_actor_spawn(any_server, NULL, 0, SNOW_PRIO_NORMAL);
  CHECK(server != 0);
  snow_ref_t dref;
  snow_pid_t dead = th_spawn_puppet_mon(0, &dref);
  CHECK_EQ(th_send1(dead, C_STOP), 0);
  th_wait_down(dref);
  uint64_t a[2];
  snow_child_spec ch = kid_spec(a, 1, KID_PLAIN, SNOW_RESTART_PERMANENT, 1000);
  snow_pid_t gone = start_sup(SNOW_SUP_ONE_FOR_ONE, 10, 60000, &ch, 1);
  expect_events("start1");
  snow_pid_t its_child = pid_of(1);
  stop_sup(gone);
  snow_pid_t kid_sup = start_sup(SNOW_SUP_ONE_FOR_ONE, 10, 60000, &ch, 1);
  expect_events("stop1:shutdown start1");
  snow_pid_t live_child = pid_of(1);
  (void)kid_sup;
  const struct {
    const char* what;
    snow_pid_t pid;
  } targets[] = {
      {"a plain process", plain},     {"a service server", server},         {"a dead process", dead},
      {"a stopped supervisor", gone}, {"a supervisor's child", live_child}, {"a never-used pid", 0x00000000DEADBEEFull},
  };
  uint64_t ka[2];
  snow_child_spec c = kid_spec(ka, 9, KID_PLAIN, SNOW_RESTART_TEMPORARY, 1000);
  for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
    int64_t n = snow_supervisor_count_children(targets[i].pid);
    CHECK_MSG(n == SNOW_ENOPROC, "count_children on %s = %lld", targets[i].what, (long long)n);
    int64_t t = snow_supervisor_terminate_child(targets[i].pid, its_child);
    CHECK_MSG(t == SNOW_ENOPROC, "terminate_child on %s = %lld", targets[i].what, (long long)t);
    snow_pid_t s = snow_supervisor_start_child(targets[i].pid, &c);
    CHECK_MSG(s == 0, "start_child on %s returned a pid", targets[i].what);
  }
  no_event_queued(); /* no child 9 started anywhere */
  th_puppet_ping(plain);
  kid_ping(live_child);
  th_end();
}

TEST_CASE(supervisor_calls_with_pid_0_return_einval) {
  th_start();
  uint64_t a[2];
  snow_child_spec c = kid_spec(a, 9, KID_PLAIN, SNOW_RESTART_TEMPORARY, 1000);
  CHECK_EQ(snow_supervisor_count_children(0), SNOW_EINVAL);
  CHECK_EQ(snow_supervisor_terminate_child(0, th_main), SNOW_EINVAL);
  CHECK_EQ_U(snow_supervisor_start_child(0, &c), 0);
  th_end();
}

static void* sup_calls_from_thread(void* arg) {
  int64_t* io = arg;
  snow_pid_t sup = (snow_pid_t)io[0];
  uint64_t a[2];
  snow_child_spec c = kid_spec(a, 9, KID_PLAIN, SNOW_RESTART_TEMPORARY, 1000);
  io[1] = snow_supervisor_count_children(sup);
  io[2] = snow_supervisor_terminate_child(sup, (snow_pid_t)io[3]);
  io[4] = (int64_t)snow_supervisor_start_child(sup, &c);
  return NULL;
}

TEST_CASE(supervisor_calls_from_a_thread_that_is_not_a_process_return_enotproc) {
  th_start();
  uint64_t a[2];
  snow_child_spec ch = kid_spec(a, 1, KID_PLAIN, SNOW_RESTART_PERMANENT, 1000);
  snow_pid_t sup = start_sup(SNOW_SUP_ONE_FOR_ONE, 10, 60000, &ch, 1);
  expect_events("start1");
  int64_t io[5] = {(int64_t)sup, 99, 99, (int64_t)pid_of(1), 99};
  pthread_t t;
  CHECK_EQ(pthread_create(&t, NULL, sup_calls_from_thread, io), 0);
  pthread_join(t, NULL);
  CHECK_EQ(io[1], SNOW_ENOTPROC);
  CHECK_EQ(io[2], SNOW_ENOTPROC);
  CHECK_EQ(io[4], 0);
  check_count(sup, 1);
  kid_ping(pid_of(1));
  th_end();
}

static snow_pid_t g_thread_sup;
static void* start_from_thread(void* arg) {
  g_thread_sup = snow_supervisor_start(arg);
  return NULL;
}

TEST_CASE(supervisor_start_works_from_a_thread_that_is_not_a_process) {
  th_start();
  uint64_t a[2];
  snow_child_spec ch = kid_spec(a, 1, KID_PLAIN, SNOW_RESTART_PERMANENT, 1000);
  snow_sup_spec s = sup_spec(SNOW_SUP_ONE_FOR_ONE, 10, 60000, &ch, 1);
  pthread_t t;
  CHECK_EQ(pthread_create(&t, NULL, start_from_thread, &s), 0);
  pthread_join(t, NULL);
  CHECK(g_thread_sup != 0);
  expect_events("start1");
  check_count(g_thread_sup, 1);
  th_end();
}

TEST_CASE(supervisor_start_rejects_an_invalid_spec) {
  th_start();
  uint64_t a[2][2];
  snow_child_spec ch[2];
  ch[0] = kid_spec(a[0], 1, KID_PLAIN, SNOW_RESTART_PERMANENT, 1000);
  ch[1] = kid_spec(a[1], 2, KID_PLAIN, SNOW_RESTART_PERMANENT, 1000);
  CHECK_EQ_U(snow_supervisor_start(NULL), 0);
  snow_sup_spec s = sup_spec(4, 3, 1000, ch, 1); /* unknown strategy */
  CHECK_EQ_U(snow_supervisor_start(&s), 0);
  s = sup_spec(SNOW_SUP_ONE_FOR_ONE, 3, 1000, ch, 1);
  s.reserved_[1] = 1;
  CHECK_EQ_U(snow_supervisor_start(&s), 0);
  s = sup_spec(SNOW_SUP_SIMPLE_ONE_FOR_ONE, 3, 1000, ch, 2); /* two templates */
  CHECK_EQ_U(snow_supervisor_start(&s), 0);
  s = sup_spec(SNOW_SUP_ONE_FOR_ONE, 3, 1000, ch, 2);
  ch[1].restart = 3;
  CHECK_EQ_U(snow_supervisor_start(&s), 0);
  ch[1].restart = SNOW_RESTART_PERMANENT;
  ch[1].reserved_[0] = 1;
  CHECK_EQ_U(snow_supervisor_start(&s), 0);
  ch[1].reserved_[0] = 0;
  ch[1].start = NULL;
  CHECK_EQ_U(snow_supervisor_start(&s), 0);
  /* Nothing was started. */
  th_roundtrip_ok();
  no_event_queued();
  th_end();
}

/* ============================================ calls are real service calls */

/* A supervisor acts only on real calls made through the supervisor API: a
 * plain user message that happens to have a request's layout is not one. */
TEST_CASE(plain_user_messages_to_a_supervisor_are_not_taken_as_calls) {
  th_start();
  uint64_t a[2];
  snow_child_spec ch = kid_spec(a, 1, KID_PLAIN, SNOW_RESTART_TEMPORARY, 1000);
  snow_pid_t sup = start_sup(SNOW_SUP_ONE_FOR_ONE, 5, 60000, &ch, 1);
  expect_events("start1");
  snow_pid_t p = pid_of(1);
  snow_ref_t ref = snow_process_monitor(p);
  CHECK(ref != 0);
  check_count(sup, 1);
  /* Shaped like terminate_child(p). */
  CHECK_EQ(th_send3(sup, 2, th_main, p), 0);
  /* Shaped like start_child with a start function taken from the bytes. */
  uint8_t buf[16 + sizeof(snow_child_spec)];
  memset(buf, 0, sizeof buf);
  th_put_u64(buf, 1);
  th_put_u64(buf + 8, th_main);
  snow_child_spec bad;
  memset(&bad, 0, sizeof bad);
  bad.start = (void (*)(const uint8_t*))(uintptr_t)0x4141414141ull;
  bad.restart = SNOW_RESTART_TEMPORARY;
  bad.shutdown_ms = 1000;
  memcpy(buf + 16, &bad, sizeof bad);
  CHECK_EQ(snow_actor_send(sup, buf, sizeof buf), 0);
  /* Shaped like count_children. */
  CHECK_EQ(th_send2(sup, 3, th_main), 0);
  /* A real call, handled after the three messages above. */
  check_count(sup, 1);
  CHECK_MSG(th_poll_down(ref) == NULL, "the child was stopped by a plain user message");
  kid_ping(p); /* the same child, alive under the same pid */
  no_event_queued();
  th_end();
}
