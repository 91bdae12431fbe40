/* ABI.md section 4: links (link, unlink, link to dead pids, unlink races,
 * ordering of messages and exit signals). */
#include "harness.h"

#include <pthread.h>

static size_t custom(uint8_t* out, const char* s) { return th_reason_str(out, SNOW_REASON_CUSTOM, s); }

static void expect_exit_report(snow_pid_t p, snow_pid_t from, const uint8_t* r, size_t rl) {
  const snow_msg* m = th_wait_report(p, SNOW_MSG_EXIT);
  size_t dl;
  const uint8_t* d = th_report_data(m, &dl);
  CHECK(dl >= 9);
  CHECK_EQ_U(th_get_u64(d), from);
  CHECK_REASON(d + 8, dl - 8, r, rl);
}

static void expect_exit_msg(snow_pid_t from, const uint8_t* r, size_t rl) {
  const snow_msg* m = th_wait_exit(from);
  size_t gl;
  const uint8_t* g = th_exit_reason(m, &gl);
  CHECK_REASON(g, gl, r, rl);
}

static void end_alive_puppet(snow_pid_t p, snow_ref_t ref) {
  /* An untrappable kill: DOWN killed (not normal, not noproc) proves p was
   * alive until now. */
  CHECK_EQ(snow_actor_exit(p, SNOW_REASON_KILLED), 0);
  uint8_t killed[1] = {SNOW_REASON_KILLED};
  th_expect_down(ref, p, killed, 1);
}

/* A process that dies right away (normal), for dead pids. */
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

/* ------------------------------------------------------------ direction */

TEST_CASE(link_caller_dying_sends_exit_signal_to_the_target) {
  th_start();
  snow_pid_t target = th_spawn_puppet(PUPPET_TRAP);
  snow_pid_t caller = th_spawn_puppet(0);
  CHECK_EQ(th_puppet_call(caller, C_LINK, target, T_LINKED), 0);
  uint8_t r[32];
  size_t rl = custom(r, "caller-died");
  th_puppet_exit_self(caller, r, rl);
  expect_exit_report(target, caller, r, rl);
  th_end();
}

TEST_CASE(link_target_dying_sends_exit_signal_to_the_caller) {
  th_start();
  snow_pid_t caller = th_spawn_puppet(PUPPET_TRAP);
  snow_pid_t target = th_spawn_puppet(0);
  CHECK_EQ(th_puppet_call(caller, C_LINK, target, T_LINKED), 0);
  th_puppet_fence(caller, target); /* target has seen the link */
  uint8_t r[32];
  size_t rl = custom(r, "target-died");
  th_puppet_exit_self(target, r, rl);
  expect_exit_report(caller, target, r, rl);
  th_end();
}

TEST_CASE(link_from_main_to_a_process_fires_when_it_dies) {
  th_start();
  snow_actor_set_trap_exit(true);
  snow_pid_t p = th_spawn_puppet(0);
  CHECK_EQ(snow_actor_link(p), 0);
  uint8_t r[32];
  size_t rl = custom(r, "x");
  th_puppet_exit_self(p, r, rl);
  expect_exit_msg(p, r, rl);
  th_end();
}

/* ------------------------------------------------------------ idempotent */

TEST_CASE(linking_twice_gives_one_exit_signal) {
  th_start();
  snow_actor_set_trap_exit(true);
  snow_ref_t ref;
  snow_pid_t p = th_spawn_puppet_mon(0, &ref);
  CHECK_EQ(snow_actor_link(p), 0);
  CHECK_EQ(snow_actor_link(p), 0);
  /* And from the other side as well. */
  CHECK_EQ(th_puppet_call(p, C_LINK, th_main, T_LINKED), 0);
  uint8_t r[32];
  size_t rl = custom(r, "once");
  th_puppet_exit_self(p, r, rl);
  expect_exit_msg(p, r, rl);
  th_expect_down(ref, p, r, rl);
  th_sync_dead(p);
  CHECK(th_poll_exit(p) == NULL);
  th_end();
}

TEST_CASE(linking_twice_then_unlinking_once_removes_the_link) {
  th_start();
  snow_actor_set_trap_exit(true);
  snow_ref_t ref;
  snow_pid_t p = th_spawn_puppet_mon(0, &ref);
  CHECK_EQ(snow_actor_link(p), 0);
  CHECK_EQ(snow_actor_link(p), 0);
  CHECK_EQ(snow_actor_unlink(p), 0);
  uint8_t r[32];
  size_t rl = custom(r, "unlinked");
  th_puppet_exit_self(p, r, rl);
  th_expect_down(ref, p, r, rl);
  th_sync_dead(p);
  CHECK(th_poll_exit(p) == NULL);
  th_end();
}

TEST_CASE(link_to_self_does_nothing) {
  th_start();
  CHECK_EQ(snow_actor_link(th_main), 0);
  CHECK(snow_actor_receive(0) == NULL);
  snow_ref_t ref;
  snow_pid_t p = th_spawn_puppet_mon(0, &ref);
  CHECK_EQ(th_puppet_call(p, C_LINK, 0 /* self */, T_LINKED), 0);
  CHECK_EQ(th_puppet_call(p, C_UNLINK, 0, T_UNLINKED), 0);
  CHECK_EQ(th_puppet_call(p, C_LINK, 0, T_LINKED), 0);
  th_puppet_ping(p);
  CHECK(th_poll_report(p, SNOW_MSG_EXIT) == NULL);
  end_alive_puppet(p, ref);
  th_end();
}

TEST_CASE(trapping_process_linked_to_itself_gets_no_exit_message) {
  th_start();
  snow_actor_set_trap_exit(true);
  CHECK_EQ(snow_actor_link(th_main), 0);
  snow_pid_t p = th_spawn_puppet(PUPPET_TRAP);
  CHECK_EQ(th_puppet_call(p, C_LINK, 0, T_LINKED), 0);
  th_puppet_ping(p);
  CHECK(th_poll_report(p, SNOW_MSG_EXIT) == NULL);
  CHECK(th_poll_exit(TH_ANY_PID) == NULL);
  th_end();
}

/* ----------------------------------------------------------- dead targets */

TEST_CASE(link_to_a_dead_pid_gives_a_trapping_caller_exit_noproc) {
  th_start();
  snow_actor_set_trap_exit(true);
  snow_pid_t d = dead_pid();
  CHECK_EQ(snow_actor_link(d), 0);
  uint8_t noproc[1] = {SNOW_REASON_NOPROC};
  expect_exit_msg(d, noproc, 1);
  th_end();
}

TEST_CASE(link_to_a_dead_pid_exits_a_non_trapping_caller_with_noproc) {
  th_start();
  snow_pid_t d = dead_pid();
  snow_ref_t ref;
  snow_pid_t p = th_spawn_puppet_mon(0, &ref);
  CHECK_EQ(th_send2(p, C_LINK, d), 0);
  uint8_t noproc[1] = {SNOW_REASON_NOPROC};
  th_expect_down(ref, p, noproc, 1);
  th_end();
}

TEST_CASE(link_to_a_never_used_pid_gives_exit_noproc) {
  th_start();
  snow_actor_set_trap_exit(true);
  const snow_pid_t ghost = 0x00000000DEADBEEFull;
  CHECK_EQ(snow_actor_link(ghost), 0);
  uint8_t noproc[1] = {SNOW_REASON_NOPROC};
  expect_exit_msg(ghost, noproc, 1);
  th_end();
}

TEST_CASE(link_to_a_process_that_just_exited_gives_its_reason_or_noproc) {
  /* A race by design: the link signal meets the target while it is exiting
   * or after. The caller must get exactly one exit signal, with the real
   * reason or noproc. */
  th_start();
  snow_actor_set_trap_exit(true);
  uint8_t r[32];
  size_t rl = custom(r, "racing");
  uint8_t noproc[1] = {SNOW_REASON_NOPROC};
  for (int i = 0; i < 200; i++) {
    snow_ref_t ref;
    snow_pid_t p = th_spawn_puppet_mon(0, &ref);
    th_puppet_exit_self(p, r, rl);
    CHECK_EQ(snow_actor_link(p), 0);
    const snow_msg* m = th_wait_exit(p);
    size_t gl;
    const uint8_t* g = th_exit_reason(m, &gl);
    if (!(gl == 1 && g[0] == SNOW_REASON_NOPROC)) CHECK_REASON(g, gl, r, rl);
    (void)noproc;
    th_wait_down(ref);
    th_sync_dead(p);
    CHECK(th_poll_exit(p) == NULL);
  }
  th_end();
}

/* ---------------------------------------------------------------- unlink */

TEST_CASE(unlink_then_target_dies_sends_no_exit_signal) {
  th_start();
  snow_actor_set_trap_exit(true);
  snow_ref_t ref;
  snow_pid_t p = th_spawn_puppet_mon(0, &ref);
  CHECK_EQ(snow_actor_link(p), 0);
  CHECK_EQ(snow_actor_unlink(p), 0);
  uint8_t r[32];
  size_t rl = custom(r, "after-unlink");
  th_puppet_exit_self(p, r, rl);
  th_expect_down(ref, p, r, rl);
  th_sync_dead(p);
  CHECK(th_poll_exit(p) == NULL);
  th_end();
}

TEST_CASE(unlink_by_the_target_removes_the_link_for_both) {
  th_start();
  snow_actor_set_trap_exit(true);
  snow_ref_t ref;
  snow_pid_t p = th_spawn_puppet_mon(0, &ref);
  CHECK_EQ(snow_actor_link(p), 0);
  CHECK_EQ(th_puppet_call(p, C_UNLINK, th_main, T_UNLINKED), 0);
  uint8_t r[32];
  size_t rl = custom(r, "target-unlinked");
  th_puppet_exit_self(p, r, rl);
  th_expect_down(ref, p, r, rl);
  th_sync_dead(p);
  CHECK(th_poll_exit(p) == NULL);
  th_end();
}

TEST_CASE(unlinked_non_trapping_process_survives_the_former_link_crashing) {
  th_start();
  snow_ref_t cref, tref;
  snow_pid_t caller = th_spawn_puppet_mon(0, &cref);
  snow_pid_t target = th_spawn_puppet_mon(0, &tref);
  CHECK_EQ(th_puppet_call(caller, C_LINK, target, T_LINKED), 0);
  CHECK_EQ(th_puppet_call(caller, C_UNLINK, target, T_UNLINKED), 0);
  CHECK(th_puppet_call(caller, C_MONITOR, target, T_MONITORED) != 0);
  th_puppet_fence(caller, target);
  uint8_t r[32];
  size_t rl = custom(r, "crash");
  th_puppet_exit_self(target, r, rl);
  th_expect_down(tref, target, r, rl);
  th_wait_report(caller, SNOW_MSG_DOWN); /* caller saw target die */
  th_puppet_ping(caller);
  end_alive_puppet(caller, cref);
  th_end();
}

TEST_CASE(unlink_of_a_pid_not_linked_returns_0) {
  th_start();
  snow_pid_t p = th_spawn_puppet(0);
  CHECK_EQ(snow_actor_unlink(p), 0);
  CHECK_EQ(snow_actor_unlink(dead_pid()), 0);
  CHECK_EQ(snow_actor_unlink(0x00000000DEADBEEFull), 0);
  CHECK_EQ(snow_actor_unlink(th_main), 0);
  th_puppet_ping(p);
  th_end();
}

/* args [parent][wait]: if wait, waits for one message; then exits custom "race". */
static void racer(const uint8_t* args) {
  if (th_arg(args, 1)) (void)snow_actor_receive(-1);
  uint8_t r[32];
  size_t rl = th_reason_str(r, SNOW_REASON_CUSTOM, "race");
  snow_actor_exit_self(r, rl);
}

TEST_CASE(no_exit_message_arrives_after_unlink_returns_even_when_racing_a_crash) {
  th_start();
  snow_actor_set_trap_exit(true);
  int pre_unlink_exits = 0;
  for (int i = 0; i < 400; i++) {
    uint8_t buf[16];
    th_put_u64(buf, th_main);
    th_put_u64(buf + 8, (uint64_t)(i % 3 != 0)); /* 1/3 crash at once */
    snow_spawn_opts o;
    memset(&o, 0, sizeof o);
    o.monitor = 1;
    snow_pid_t t = snow_actor_spawn_opts(racer, buf, 16, &o);
    CHECK(t != 0);
    if (i % 3 == 1) CHECK_EQ(th_send1(t, T_GO), 0); /* crash before the link */
    CHECK_EQ(snow_actor_link(t), 0);
    if (i % 3 == 2) CHECK_EQ(th_send1(t, T_GO), 0); /* crash around the unlink */
    CHECK_EQ(snow_actor_unlink(t), 0);
    /* Whatever is in the mailbox now arrived before unlink returned. */
    bool down = false;
    const snow_msg* m;
    while ((m = snow_actor_receive(0)) != NULL) {
      if (snow_msg_kind(m) == SNOW_MSG_EXIT && th_exit_from(m) == t) pre_unlink_exits++;
      if (snow_msg_kind(m) == SNOW_MSG_DOWN && th_down_ref(m) == o.monitor_ref) down = true;
    }
    if (!down) th_wait_down(o.monitor_ref);
    th_sync_dead(t);
    m = th_poll_exit(t);
    if (m) {
      char d[200];
      th_describe_msg(d, sizeof d, m);
      FAILF("iteration %d: %s arrived after unlink returned", i, d);
    }
  }
  (void)pre_unlink_exits;
  th_end();
}

/* ----------------------------------------------------------------- order */

/* args [parent][n][mode]: sends [T_SEQ][self][i] x n to parent, then
 * mode 0: exit_self custom "after-seq"; mode 1: exit signal custom to parent
 * (snow_actor_exit_reason) then returns. */
static void seq_then_exit(const uint8_t* args) {
  snow_pid_t parent = th_arg(args, 0);
  uint64_t n = th_arg(args, 1);
  uint64_t mode = th_arg(args, 2);
  snow_pid_t self = snow_actor_self();
  for (uint64_t i = 0; i < n; i++) th_send3(parent, T_SEQ, self, i);
  uint8_t r[32];
  size_t rl = th_reason_str(r, SNOW_REASON_CUSTOM, "after-seq");
  if (mode == 0) snow_actor_exit_self(r, rl);
  CHECK_EQ(snow_actor_exit_reason(parent, r, rl), 0);
}

static void expect_seq_then(snow_pid_t s, uint64_t n, uint32_t last_kind) {
  for (uint64_t i = 0; i < n; i++) {
    const snow_msg* m = th_wait_any();
    if (snow_msg_kind(m) != SNOW_MSG_USER) {
      char d[200];
      th_describe_msg(d, sizeof d, m);
      FAILF("got %s before message %llu of %llu", d, (unsigned long long)i, (unsigned long long)n);
    }
    CHECK_EQ_U(th_word(m, 1), s);
    CHECK_EQ(th_word(m, 2), i);
  }
  const snow_msg* m = th_wait_any();
  CHECK_EQ(snow_msg_kind(m), last_kind);
  uint8_t r[32];
  size_t rl = th_reason_str(r, SNOW_REASON_CUSTOM, "after-seq");
  size_t gl;
  const uint8_t* g;
  if (last_kind == SNOW_MSG_EXIT) {
    CHECK_EQ_U(th_exit_from(m), s);
    g = th_exit_reason(m, &gl);
  } else {
    CHECK_EQ_U(th_down_pid(m), s);
    g = th_down_reason(m, &gl);
  }
  CHECK_REASON(g, gl, r, rl);
}

TEST_CASE(messages_then_crash_of_a_linked_sender_arrive_all_then_exit) {
  th_start();
  snow_actor_set_trap_exit(true);
  const uint64_t n = 3000;
  uint8_t buf[24];
  th_put_u64(buf, th_main);
  th_put_u64(buf + 8, n);
  th_put_u64(buf + 16, 0);
  snow_spawn_opts o;
  memset(&o, 0, sizeof o);
  o.link = 1;
  snow_pid_t s = snow_actor_spawn_opts(seq_then_exit, buf, 24, &o);
  CHECK(s != 0);
  expect_seq_then(s, n, SNOW_MSG_EXIT);
  th_end();
}

TEST_CASE(messages_then_crash_of_a_monitored_sender_arrive_all_then_down) {
  th_start();
  const uint64_t n = 3000;
  uint8_t buf[24];
  th_put_u64(buf, th_main);
  th_put_u64(buf + 8, n);
  th_put_u64(buf + 16, 0);
  snow_spawn_opts o;
  memset(&o, 0, sizeof o);
  o.monitor = 1;
  snow_pid_t s = snow_actor_spawn_opts(seq_then_exit, buf, 24, &o);
  CHECK(s != 0);
  expect_seq_then(s, n, SNOW_MSG_DOWN);
  th_end();
}

TEST_CASE(messages_then_exit_signal_from_one_sender_arrive_in_order) {
  th_start();
  snow_actor_set_trap_exit(true);
  const uint64_t n = 3000;
  uint64_t w[3] = {th_main, n, 1};
  snow_pid_t s = th_spawn_words(seq_then_exit, w, 3);
  expect_seq_then(s, n, SNOW_MSG_EXIT);
  th_end();
}

TEST_CASE(many_trapping_senders_each_keep_messages_before_their_exit) {
  th_start();
  snow_actor_set_trap_exit(true);
  enum { S = 8 };
  const uint64_t n = 500;
  snow_pid_t pids[S];
  uint64_t next[S] = {0};
  bool exited[S] = {false};
  for (int i = 0; i < S; i++) {
    uint8_t buf[24];
    th_put_u64(buf, th_main);
    th_put_u64(buf + 8, n);
    th_put_u64(buf + 16, 0);
    snow_spawn_opts o;
    memset(&o, 0, sizeof o);
    o.link = 1;
    pids[i] = snow_actor_spawn_opts(seq_then_exit, buf, 24, &o);
    CHECK(pids[i] != 0);
  }
  for (uint64_t k = 0; k < S * (n + 1); k++) {
    const snow_msg* m = th_wait_any();
    uint32_t kind = snow_msg_kind(m);
    snow_pid_t from = kind == SNOW_MSG_EXIT ? th_exit_from(m) : th_word(m, 1);
    int who = -1;
    for (int i = 0; i < S; i++)
      if (pids[i] == from) who = i;
    CHECK(who >= 0);
    CHECK(!exited[who]);
    if (kind == SNOW_MSG_EXIT) {
      CHECK_EQ(next[who], n);
      exited[who] = true;
    } else {
      CHECK_EQ(th_word(m, 2), next[who]);
      next[who]++;
    }
  }
  th_end();
}

/* ----------------------------------------------------------------- chains */

TEST_CASE(crash_propagates_along_a_chain_of_links) {
  th_start();
  snow_ref_t ra, rb, rc;
  snow_pid_t a = th_spawn_puppet_mon(0, &ra);
  snow_pid_t b = th_spawn_puppet_mon(0, &rb);
  snow_pid_t c = th_spawn_puppet_mon(0, &rc);
  /* b links a; c links b; c dies -> b dies -> a dies. */
  CHECK_EQ(th_puppet_call(b, C_LINK, a, T_LINKED), 0);
  CHECK_EQ(th_puppet_call(c, C_LINK, b, T_LINKED), 0);
  uint8_t r[32];
  size_t rl = custom(r, "chain");
  th_puppet_exit_self(c, r, rl);
  th_expect_down(rc, c, r, rl);
  th_expect_down(rb, b, r, rl);
  th_expect_down(ra, a, r, rl);
  th_end();
}

TEST_CASE(crash_propagation_stops_at_a_trapping_process) {
  th_start();
  snow_ref_t ra, rb, rc;
  snow_pid_t a = th_spawn_puppet_mon(0, &ra);
  snow_pid_t b = th_spawn_puppet_mon(PUPPET_TRAP, &rb);
  snow_pid_t c = th_spawn_puppet_mon(0, &rc);
  CHECK_EQ(th_puppet_call(b, C_LINK, a, T_LINKED), 0);
  CHECK_EQ(th_puppet_call(c, C_LINK, b, T_LINKED), 0);
  uint8_t r[32];
  size_t rl = custom(r, "stop-here");
  th_puppet_exit_self(c, r, rl);
  th_expect_down(rc, c, r, rl);
  expect_exit_report(b, c, r, rl);
  th_puppet_fence(b, a);
  th_puppet_ping(a);
  CHECK(th_poll_down(ra) == NULL);
  CHECK(th_poll_down(rb) == NULL);
  th_end();
}

TEST_CASE(a_process_linked_to_many_kills_them_all) {
  th_start();
  enum { N = 50 };
  snow_ref_t refs[N];
  snow_pid_t pids[N];
  snow_ref_t href;
  snow_pid_t hub = th_spawn_puppet_mon(0, &href);
  for (int i = 0; i < N; i++) {
    pids[i] = th_spawn_puppet_mon(i % 2 ? PUPPET_TRAP : 0, &refs[i]);
    CHECK_EQ(th_puppet_call(hub, C_LINK, pids[i], T_LINKED), 0);
  }
  uint8_t r[32];
  size_t rl = th_reason_str(r, SNOW_REASON_ERROR, "hub");
  th_puppet_exit_self(hub, r, rl);
  th_expect_down(href, hub, r, rl);
  for (int i = 0; i < N; i++) {
    if (i % 2) expect_exit_report(pids[i], hub, r, rl);
    else th_expect_down(refs[i], pids[i], r, rl);
  }
  th_end();
}

/* --------------------------------------------------------------- context */

static void* link_thread(void* arg) {
  int32_t* out = arg;
  out[0] = snow_actor_link(th_main);
  out[1] = snow_actor_unlink(th_main);
  return NULL;
}

TEST_CASE(link_and_unlink_outside_a_process_return_enotproc) {
  th_start();
  pthread_t t;
  int32_t r[2] = {0, 0};
  CHECK_EQ(pthread_create(&t, NULL, link_thread, r), 0);
  pthread_join(t, NULL);
  CHECK_EQ(r[0], SNOW_ENOTPROC);
  CHECK_EQ(r[1], SNOW_ENOTPROC);
  th_end();
}

TEST_CASE(link_and_unlink_pid_0_return_einval) {
  th_start();
  CHECK_EQ(snow_actor_link(0), SNOW_EINVAL);
  CHECK_EQ(snow_actor_unlink(0), SNOW_EINVAL);
  CHECK(snow_actor_receive(0) == NULL);
  th_end();
}

TEST_CASE(trap_exit_returns_the_previous_value) {
  th_start();
  CHECK_EQ(snow_actor_set_trap_exit(false), false);
  CHECK_EQ(snow_actor_trap_exit(), false);
  CHECK_EQ(snow_actor_trap_exit(), true);
  CHECK_EQ(snow_actor_set_trap_exit(false), true);
  CHECK_EQ(snow_actor_set_trap_exit(true), false);
  CHECK_EQ(snow_actor_set_trap_exit(true), true);
  th_end();
}

TEST_CASE(turning_trap_exit_off_makes_the_next_exit_signal_fatal) {
  th_start();
  snow_ref_t ref;
  snow_pid_t p = th_spawn_puppet_mon(PUPPET_TRAP, &ref);
  CHECK_EQ(snow_actor_exit(p, SNOW_REASON_SHUTDOWN), 0);
  uint8_t sd[1] = {SNOW_REASON_SHUTDOWN};
  expect_exit_report(p, th_main, sd, 1);
  CHECK_EQ(th_puppet_call(p, C_TRAP, 0, T_TRAPPED), 1);
  CHECK_EQ(snow_actor_exit(p, SNOW_REASON_SHUTDOWN), 0);
  th_expect_down(ref, p, sd, 1);
  th_end();
}
