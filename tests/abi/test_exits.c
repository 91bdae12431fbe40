/* ABI.md section 4: exit signals, exit reasons, kill, normal, exit_self,
 * panic, terminate callbacks, promptness of exits.
 *
 * Reason matrix: for every reason tag (0 1 2 4 5 6 7 8), with and without
 * trap_exit, via snow_actor_exit / snow_actor_exit_reason, via a linked
 * process dying with that reason, and via snow_actor_exit_self.
 *
 * Ordering used to avoid races: signals from one sender to one receiver are
 * processed in send order, so "main sends exit signal, then PING" proves the
 * target handled the signal before answering; when process A links to B
 * and then exits, B sees the link before the exit signal. */
#include "harness.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <unistd.h>

static int64_t prompt_ms(void) { return (int64_t)(1000 * th_scale()); }

/* The reason used for tag `tag` when the test may choose its data. */
static size_t reason_with_data(uint8_t* out, uint8_t tag) {
  switch (tag) {
    case SNOW_REASON_ERROR:
      return th_reason_str(out, tag, "exit-error-message");
    case SNOW_REASON_CUSTOM:
      return th_reason_str(out, tag, "exit-custom-message");
    case SNOW_REASON_TERM:
      return th_reason(out, tag, th_etf_atom_foo, sizeof th_etf_atom_foo);
    default:
      return th_reason_for_tag(out, tag);
  }
}

static void end_alive_puppet(snow_pid_t p, snow_ref_t ref) {
  /* An untrappable kill: DOWN killed (not normal, not noproc) proves p was
   * alive until now. */
  CHECK_EQ(snow_actor_exit(p, SNOW_REASON_KILLED), 0);
  uint8_t killed[1] = {SNOW_REASON_KILLED};
  th_expect_down(ref, p, killed, 1);
}

/* Expects a REPORT of an EXIT from `p` with the given from and reason. */
static void expect_exit_report(snow_pid_t p, snow_pid_t from, const uint8_t* r, size_t rl) {
  const snow_msg* m = th_wait_report(p, SNOW_MSG_EXIT);
  size_t dl;
  const uint8_t* d = th_report_data(m, &dl);
  CHECK(dl >= 9);
  CHECK_EQ_U(th_get_u64(d), from);
  CHECK_REASON(d + 8, dl - 8, r, rl);
}

/* --------------------------------------------------- M1/M3: non-trapping */

static void exit_signal_to_non_trapping(uint8_t tag, bool with_data) {
  th_start();
  snow_ref_t ref;
  snow_pid_t p = th_spawn_puppet_mon(0, &ref);
  uint8_t r[64];
  size_t rl = with_data ? reason_with_data(r, tag) : th_reason_for_tag(r, tag);
  if (with_data) CHECK_EQ(snow_actor_exit_reason(p, r, rl), 0);
  else CHECK_EQ(snow_actor_exit(p, tag), 0);
  if (tag == SNOW_REASON_NORMAL) {
    /* Ignored: the target handled the signal before this PING. */
    th_puppet_ping(p);
    CHECK(th_poll_down(ref) == NULL);
    end_alive_puppet(p, ref);
  } else {
    /* Dies with that reason (killed for a kill). */
    th_expect_down(ref, p, r, rl);
  }
  th_end();
}

/* ------------------------------------------------------ M2/M4: trapping */

static void exit_signal_to_trapping(uint8_t tag, bool with_data) {
  th_start();
  snow_ref_t ref;
  snow_pid_t p = th_spawn_puppet_mon(PUPPET_TRAP, &ref);
  uint8_t r[64];
  size_t rl = with_data ? reason_with_data(r, tag) : th_reason_for_tag(r, tag);
  if (with_data) CHECK_EQ(snow_actor_exit_reason(p, r, rl), 0);
  else CHECK_EQ(snow_actor_exit(p, tag), 0);
  if (tag == SNOW_REASON_KILLED) {
    /* Untrappable: dies with killed and never sees a message. */
    uint8_t killed[1] = {SNOW_REASON_KILLED};
    th_expect_down(ref, p, killed, 1);
    CHECK(th_poll_report(p, SNOW_MSG_EXIT) == NULL);
  } else {
    /* An EXIT message whose from is the sender, and it lives on. */
    expect_exit_report(p, th_main, r, rl);
    th_puppet_ping(p);
    CHECK(th_poll_down(ref) == NULL);
    end_alive_puppet(p, ref);
  }
  th_end();
}

/* --------------------------------------------- M5/M6: a linked process dies */

static void linked_death(uint8_t tag, bool trapping) {
  th_start();
  snow_ref_t refb, refa;
  snow_pid_t b = th_spawn_puppet_mon(trapping ? PUPPET_TRAP : 0, &refb);
  snow_pid_t a = th_spawn_puppet_mon(0, &refa);
  uint8_t r[64];
  size_t rl = reason_with_data(r, tag);
  if (!trapping && tag == SNOW_REASON_NORMAL) {
    /* B watches A too, so B can tell us when A is gone. */
    CHECK(th_puppet_call(b, C_MONITOR, a, T_MONITORED) != 0);
    th_puppet_fence(b, a);
  }
  /* A links to B, then exits: B sees the link before the exit signal. */
  CHECK_EQ(th_puppet_call(a, C_LINK, b, T_LINKED), 0);
  th_puppet_exit_self(a, r, rl);
  th_expect_down(refa, a, r, rl);
  if (trapping) {
    expect_exit_report(b, a, r, rl);
    th_puppet_ping(b);
    CHECK(th_poll_down(refb) == NULL);
    end_alive_puppet(b, refb);
  } else if (tag == SNOW_REASON_NORMAL) {
    th_wait_report(b, SNOW_MSG_DOWN);
    th_puppet_ping(b);
    end_alive_puppet(b, refb);
  } else {
    /* B dies with the same reason (killed stays killed). */
    th_expect_down(refb, b, r, rl);
  }
  th_end();
}

/* ------------------------------------------------------------ M7: exit_self */

static void exit_self_with(uint8_t tag) {
  th_start();
  snow_ref_t ref;
  snow_pid_t p = th_spawn_puppet_mon(PUPPET_TERMCB, &ref);
  uint8_t r[64];
  size_t rl = reason_with_data(r, tag);
  th_puppet_exit_self(p, r, rl);
  /* From p, the terminate callback's message comes before the DOWN. */
  th_expect_terminated_then_down(p, ref, r, rl);
  th_end();
}

#define REASONS(X) \
  X(normal, 0) X(error, 1) X(killed, 2) X(shutdown, 4) X(custom, 5) X(noconnection, 6) X(noproc, 7) X(term, 8)

#define DEF_M1(name, tag) \
  TEST_CASE(exit_signal_##name##_to_non_trapping_target) { exit_signal_to_non_trapping(tag, false); }
#define DEF_M2(name, tag) \
  TEST_CASE(exit_signal_##name##_to_trapping_target) { exit_signal_to_trapping(tag, false); }
#define DEF_M3(name, tag) \
  TEST_CASE(exit_reason_##name##_to_non_trapping_target) { exit_signal_to_non_trapping(tag, true); }
#define DEF_M4(name, tag) \
  TEST_CASE(exit_reason_##name##_to_trapping_target) { exit_signal_to_trapping(tag, true); }
#define DEF_M5(name, tag) \
  TEST_CASE(linked_process_dying_##name##_reaches_non_trapping_link) { linked_death(tag, false); }
#define DEF_M6(name, tag) \
  TEST_CASE(linked_process_dying_##name##_reaches_trapping_link_as_exit) { linked_death(tag, true); }
#define DEF_M7(name, tag) \
  TEST_CASE(exit_self_##name##_is_seen_by_terminate_and_monitor) { exit_self_with(tag); }

REASONS(DEF_M1)
REASONS(DEF_M2)
REASONS(DEF_M3)
REASONS(DEF_M4)
REASONS(DEF_M5)
REASONS(DEF_M6)
REASONS(DEF_M7)

/* ----------------------------------------------------------------- kill */

TEST_CASE(kill_is_untrappable_for_a_trapping_target_and_terminate_sees_killed) {
  th_start();
  snow_ref_t ref;
  snow_pid_t p = th_spawn_puppet_mon(PUPPET_TRAP | PUPPET_TERMCB, &ref);
  CHECK_EQ(snow_actor_exit(p, SNOW_REASON_KILLED), 0);
  uint8_t killed[1] = {SNOW_REASON_KILLED};
  th_expect_down(ref, p, killed, 1);
  uint8_t got[64];
  size_t gl;
  CHECK(th_term_get(p, got, &gl, NULL));
  CHECK_REASON(got, gl, killed, 1);
  CHECK(th_poll_report(p, SNOW_MSG_EXIT) == NULL);
  th_end();
}

TEST_CASE(killed_target_every_monitor_sees_killed) {
  th_start();
  snow_ref_t ref;
  snow_pid_t p = th_spawn_puppet_mon(PUPPET_TRAP, &ref);
  snow_pid_t w = th_spawn_puppet(0);
  snow_ref_t wref = th_puppet_call(w, C_MONITOR, p, T_MONITORED);
  CHECK(wref != 0);
  th_puppet_fence(w, p);
  snow_ref_t ref2 = snow_process_monitor(p);
  CHECK_EQ(snow_actor_exit(p, SNOW_REASON_KILLED), 0);
  uint8_t killed[1] = {SNOW_REASON_KILLED};
  th_expect_down(ref, p, killed, 1);
  th_expect_down(ref2, p, killed, 1);
  const snow_msg* m = th_wait_report(w, SNOW_MSG_DOWN);
  size_t dl;
  const uint8_t* d = th_report_data(m, &dl);
  CHECK(dl >= 17);
  CHECK_EQ_U(th_get_u64(d), wref);
  CHECK_EQ_U(th_get_u64(d + 8), p);
  CHECK_REASON(d + 16, dl - 16, killed, 1);
  th_end();
}

TEST_CASE(killed_target_linked_trapping_process_gets_exit_killed) {
  th_start();
  snow_ref_t ref;
  snow_pid_t p = th_spawn_puppet_mon(PUPPET_TRAP, &ref);
  snow_pid_t l = th_spawn_puppet(PUPPET_TRAP);
  CHECK_EQ(th_puppet_call(p, C_LINK, l, T_LINKED), 0);
  th_puppet_fence(p, l);
  CHECK_EQ(snow_actor_exit(p, SNOW_REASON_KILLED), 0);
  uint8_t killed[1] = {SNOW_REASON_KILLED};
  th_expect_down(ref, p, killed, 1);
  expect_exit_report(l, p, killed, 1);
  th_puppet_ping(l); /* a trappable 'killed' signal: l lives */
  th_end();
}

TEST_CASE(killed_target_linked_non_trapping_process_dies_killed) {
  th_start();
  snow_ref_t ref, lref;
  snow_pid_t p = th_spawn_puppet_mon(PUPPET_TRAP, &ref);
  snow_pid_t l = th_spawn_puppet_mon(0, &lref);
  CHECK_EQ(th_puppet_call(p, C_LINK, l, T_LINKED), 0);
  th_puppet_fence(p, l);
  CHECK_EQ(snow_actor_exit(p, SNOW_REASON_KILLED), 0);
  uint8_t killed[1] = {SNOW_REASON_KILLED};
  th_expect_down(ref, p, killed, 1);
  th_expect_down(lref, l, killed, 1);
  th_end();
}

TEST_CASE(kill_from_another_process_is_untrappable) {
  th_start();
  snow_ref_t ref;
  snow_pid_t p = th_spawn_puppet_mon(PUPPET_TRAP, &ref);
  snow_pid_t k = th_spawn_puppet(0);
  uint64_t w[3] = {C_EXIT_TAG, p, SNOW_REASON_KILLED};
  CHECK_EQ(th_send_words(k, w, 3), 0);
  CHECK_EQ((int64_t)th_word(th_wait_user(T_EXIT_SENT, k), 2), 0);
  uint8_t killed[1] = {SNOW_REASON_KILLED};
  th_expect_down(ref, p, killed, 1);
  th_end();
}

/* --------------------------------------------------------------- normal */

TEST_CASE(normal_exit_signal_to_self_exits_a_non_trapping_caller) {
  th_start();
  snow_ref_t ref;
  snow_pid_t p = th_spawn_puppet_mon(0, &ref);
  uint64_t w[3] = {C_EXIT_TAG, 0 /* self */, SNOW_REASON_NORMAL};
  CHECK_EQ(th_send_words(p, w, 3), 0);
  uint8_t normal[1] = {SNOW_REASON_NORMAL};
  th_expect_down(ref, p, normal, 1);
  th_end();
}

TEST_CASE(normal_exit_signal_to_self_gives_a_trapping_caller_an_exit_message) {
  th_start();
  snow_ref_t ref;
  snow_pid_t p = th_spawn_puppet_mon(PUPPET_TRAP, &ref);
  uint64_t w[3] = {C_EXIT_TAG, 0, SNOW_REASON_NORMAL};
  CHECK_EQ(th_send_words(p, w, 3), 0);
  uint8_t normal[1] = {SNOW_REASON_NORMAL};
  expect_exit_report(p, p, normal, 1);
  th_puppet_ping(p);
  CHECK(th_poll_down(ref) == NULL);
  th_end();
}

TEST_CASE(normal_exit_signal_from_another_process_is_ignored_by_non_trapping_target) {
  th_start();
  snow_ref_t ref;
  snow_pid_t p = th_spawn_puppet_mon(0, &ref);
  snow_pid_t s = th_spawn_puppet(0);
  uint64_t w[3] = {C_EXIT_TAG, p, SNOW_REASON_NORMAL};
  CHECK_EQ(th_send_words(s, w, 3), 0);
  th_wait_user(T_EXIT_SENT, s);
  th_puppet_fence(s, p); /* p has handled s's signal */
  th_puppet_ping(p);
  end_alive_puppet(p, ref);
  th_end();
}

/* ------------------------------------------------------------ from / any */

TEST_CASE(exit_signal_from_another_process_carries_the_sender_as_from) {
  th_start();
  snow_pid_t p = th_spawn_puppet(PUPPET_TRAP);
  snow_pid_t s = th_spawn_puppet(0);
  uint64_t w[3] = {C_EXIT_TAG, p, SNOW_REASON_SHUTDOWN};
  CHECK_EQ(th_send_words(s, w, 3), 0);
  uint8_t r[1] = {SNOW_REASON_SHUTDOWN};
  expect_exit_report(p, s, r, 1);
  th_end();
}

TEST_CASE(trapping_main_process_receives_exit_signals_as_messages) {
  th_start();
  CHECK_EQ(snow_actor_set_trap_exit(true), false);
  snow_pid_t s = th_spawn_puppet(0);
  uint64_t w[3] = {C_EXIT_TAG, th_main, SNOW_REASON_CUSTOM};
  CHECK_EQ(th_send_words(s, w, 3), 0);
  const snow_msg* m = th_wait_exit(s);
  size_t rl;
  const uint8_t* r = th_exit_reason(m, &rl);
  uint8_t exp[16];
  size_t el = th_reason_for_tag(exp, SNOW_REASON_CUSTOM);
  CHECK_REASON(r, rl, exp, el);
  th_end();
}

static void* foreign_exit_thread(void* arg) {
  snow_pid_t p = *(snow_pid_t*)arg;
  CHECK_EQ(snow_actor_exit(p, SNOW_REASON_SHUTDOWN), 0);
  return NULL;
}

TEST_CASE(exit_signal_from_a_foreign_thread_has_from_0) {
  th_start();
  snow_pid_t p = th_spawn_puppet(PUPPET_TRAP);
  pthread_t t;
  CHECK_EQ(pthread_create(&t, NULL, foreign_exit_thread, &p), 0);
  pthread_join(t, NULL);
  uint8_t r[1] = {SNOW_REASON_SHUTDOWN};
  expect_exit_report(p, 0, r, 1);
  th_end();
}

TEST_CASE(exit_signal_from_a_foreign_thread_kills_a_non_trapping_target) {
  th_start();
  snow_ref_t ref;
  snow_pid_t p = th_spawn_puppet_mon(0, &ref);
  pthread_t t;
  CHECK_EQ(pthread_create(&t, NULL, foreign_exit_thread, &p), 0);
  pthread_join(t, NULL);
  uint8_t r[1] = {SNOW_REASON_SHUTDOWN};
  th_expect_down(ref, p, r, 1);
  th_end();
}

TEST_CASE(exit_to_a_dead_pid_returns_0) {
  th_start();
  snow_ref_t ref;
  snow_pid_t p = th_spawn_puppet_mon(0, &ref);
  CHECK_EQ(th_send1(p, C_STOP), 0);
  th_wait_down(ref);
  for (int i = 0; i < 8; i++) CHECK_EQ(snow_actor_exit(p, th_reason_tags[i]), 0);
  uint8_t r[32];
  size_t rl = th_reason_str(r, SNOW_REASON_ERROR, "late");
  CHECK_EQ(snow_actor_exit_reason(p, r, rl), 0);
  th_roundtrip_ok();
  th_end();
}

/* ------------------------------------------------------------- bad input */

TEST_CASE(exit_with_tag_3_or_above_8_returns_einval_and_sends_nothing) {
  th_start();
  snow_ref_t ref;
  snow_pid_t p = th_spawn_puppet_mon(PUPPET_TRAP, &ref);
  const unsigned bad[] = {3, 9, 10, 100, 254, 255};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) CHECK_EQ(snow_actor_exit(p, (uint8_t)bad[i]), SNOW_EINVAL);
  CHECK_EQ(snow_actor_exit(0, SNOW_REASON_KILLED), SNOW_EINVAL);
  CHECK_EQ(snow_actor_exit(0, SNOW_REASON_NORMAL), SNOW_EINVAL);
  th_puppet_ping(p); /* any EXIT report would have come before the PONG */
  CHECK(th_poll_report(p, SNOW_MSG_EXIT) == NULL);
  CHECK(th_poll_down(ref) == NULL);
  th_end();
}

TEST_CASE(exit_reason_rejects_malformed_reasons_and_sends_nothing) {
  th_start();
  snow_ref_t ref;
  snow_pid_t p = th_spawn_puppet_mon(PUPPET_TRAP, &ref);
  uint8_t b[64];
  memset(b, 0, sizeof b);
  /* empty */
  CHECK_EQ(snow_actor_exit_reason(p, b, 0), SNOW_EINVAL);
  /* NULL with a length */
  CHECK_EQ(snow_actor_exit_reason(p, NULL, 5), SNOW_EINVAL);
  /* reserved and unknown tags */
  b[0] = 3;
  CHECK_EQ(snow_actor_exit_reason(p, b, 1), SNOW_EINVAL);
  b[0] = 9;
  CHECK_EQ(snow_actor_exit_reason(p, b, 1), SNOW_EINVAL);
  b[0] = 255;
  CHECK_EQ(snow_actor_exit_reason(p, b, 1), SNOW_EINVAL);
  /* data-less tags followed by junk */
  const uint8_t dataless[] = {0, 2, 4, 6, 7};
  for (size_t i = 0; i < sizeof dataless; i++) {
    b[0] = dataless[i];
    b[1] = 'x';
    CHECK_EQ(snow_actor_exit_reason(p, b, 2), SNOW_EINVAL);
  }
  const uint8_t datatags[] = {1, 5, 8};
  for (size_t i = 0; i < sizeof datatags; i++) {
    b[0] = datatags[i];
    /* missing / truncated length */
    CHECK_EQ(snow_actor_exit_reason(p, b, 1), SNOW_EINVAL);
    CHECK_EQ(snow_actor_exit_reason(p, b, 5), SNOW_EINVAL);
    /* length larger than the bytes given */
    th_put_u64(b + 1, 10);
    memcpy(b + 9, "abc", 3);
    CHECK_EQ(snow_actor_exit_reason(p, b, 12), SNOW_EINVAL);
    /* length smaller than the bytes given (trailing junk) */
    th_put_u64(b + 1, 1);
    CHECK_EQ(snow_actor_exit_reason(p, b, 12), SNOW_EINVAL);
    /* absurd length */
    th_put_u64(b + 1, UINT64_MAX);
    CHECK_EQ(snow_actor_exit_reason(p, b, 12), SNOW_EINVAL);
    th_put_u64(b + 1, UINT64_MAX - 8);
    CHECK_EQ(snow_actor_exit_reason(p, b, 12), SNOW_EINVAL);
  }
  /* A huge total length is refused before anything is read. */
  int32_t r = snow_actor_exit_reason(p, b, UINT64_MAX);
  CHECK_MSG(r == SNOW_EINVAL || r == SNOW_EMSGSIZE, "returned %d", r);
  r = snow_actor_exit_reason(p, b, SNOW_MAX_MSG_SIZE + 1);
  CHECK_MSG(r == SNOW_EINVAL || r == SNOW_EMSGSIZE, "returned %d", r);
  /* pid 0 with a valid reason */
  b[0] = SNOW_REASON_KILLED;
  CHECK_EQ(snow_actor_exit_reason(0, b, 1), SNOW_EINVAL);
  th_puppet_ping(p);
  CHECK(th_poll_report(p, SNOW_MSG_EXIT) == NULL);
  CHECK(th_poll_down(ref) == NULL);
  th_end();
}

TEST_CASE(exit_reason_with_empty_text_is_valid) {
  th_start();
  snow_pid_t p = th_spawn_puppet(PUPPET_TRAP);
  const uint8_t datatags[] = {1, 5};
  for (size_t i = 0; i < 2; i++) {
    uint8_t b[9];
    size_t bl = th_reason(b, datatags[i], NULL, 0);
    CHECK_EQ(snow_actor_exit_reason(p, b, bl), 0);
    expect_exit_report(p, th_main, b, bl);
  }
  th_end();
}

/* Text reasons must be UTF-8 and a term reason (tag 8) a decodable term:
 * anything else would reach a peer node as a term it cannot decode. */
TEST_CASE(exit_reason_rejects_bad_utf8_and_undecodable_terms) {
  th_start();
  snow_pid_t p = th_spawn_puppet(PUPPET_TRAP);
  uint8_t b[32];
  static const uint8_t bad_utf8[] = {0xff, 0xfe};
  static const uint8_t overlong[] = {0xc0, 0xaf};
  static const uint8_t garbage_term[] = {0x99, 0x99};
  CHECK_EQ(snow_actor_exit_reason(p, b, th_reason(b, SNOW_REASON_CUSTOM, bad_utf8, 2)), SNOW_EINVAL);
  CHECK_EQ(snow_actor_exit_reason(p, b, th_reason(b, SNOW_REASON_ERROR, overlong, 2)), SNOW_EINVAL);
  CHECK_EQ(snow_actor_exit_reason(p, b, th_reason(b, SNOW_REASON_TERM, garbage_term, 2)), SNOW_EINVAL);
  CHECK_EQ(snow_actor_exit_reason(p, b, th_reason(b, SNOW_REASON_TERM, NULL, 0)), SNOW_EINVAL);
  /* Valid ones still go through: multi-byte UTF-8, a real term, and a term
   * nested 300 deep (Erlang takes any depth, and nothing decodes it into a
   * tree). */
  static const uint8_t utf8[] = {'c', 0xc3, 0xa9};
  size_t bl = th_reason(b, SNOW_REASON_CUSTOM, utf8, sizeof utf8);
  CHECK_EQ(snow_actor_exit_reason(p, b, bl), 0);
  expect_exit_report(p, th_main, b, bl);
  bl = th_reason(b, SNOW_REASON_TERM, th_etf_atom_foo, sizeof th_etf_atom_foo);
  CHECK_EQ(snow_actor_exit_reason(p, b, bl), 0);
  expect_exit_report(p, th_main, b, bl);
  static uint8_t deep[1 + 2 * 300 + 1];
  deep[0] = 131;
  for (int i = 0; i < 300; i++) {
    deep[1 + 2 * i] = 104; /* SMALL_TUPLE_EXT, arity 1 */
    deep[2 + 2 * i] = 1;
  }
  deep[sizeof deep - 1] = 106; /* NIL_EXT */
  static uint8_t deep_reason[9 + sizeof deep];
  size_t dl = th_reason(deep_reason, SNOW_REASON_TERM, deep, sizeof deep);
  CHECK_EQ(snow_actor_exit_reason(p, deep_reason, dl), 0);
  expect_exit_report(p, th_main, deep_reason, dl);
  th_end();
}

static void expect_bad_exit_reason(const uint8_t* reason, size_t len) {
  snow_ref_t ref;
  snow_pid_t p = th_spawn_puppet_mon(0, &ref);
  th_puppet_exit_self(p, reason, len);
  uint8_t exp[64];
  size_t el = th_reason_str(exp, SNOW_REASON_ERROR, "bad exit reason");
  th_expect_down(ref, p, exp, el);
}

TEST_CASE(exit_self_with_a_malformed_reason_exits_with_error_bad_exit_reason) {
  th_start();
  uint8_t b[32] = {0};
  expect_bad_exit_reason(b, 0); /* empty */
  b[0] = 3;
  expect_bad_exit_reason(b, 1);
  b[0] = 200;
  expect_bad_exit_reason(b, 1);
  b[0] = SNOW_REASON_ERROR;
  th_put_u64(b + 1, 100);
  expect_bad_exit_reason(b, 12); /* length beyond the bytes */
  b[0] = SNOW_REASON_NORMAL;
  expect_bad_exit_reason(b, 5); /* trailing junk */
  th_end();
}

/* ---------------------------------------------------------------- panic */

static void send_panic(snow_pid_t p, uint32_t line, const char* msg) {
  size_t n = strlen(msg);
  uint8_t buf[256];
  th_put_u64(buf, C_PANIC);
  th_put_u64(buf + 8, line);
  memcpy(buf + 16, msg, n);
  CHECK_EQ(snow_actor_send(p, buf, 16 + n), 0);
}

TEST_CASE(panic_ends_only_its_process_with_error_file_line_message) {
  th_start();
  snow_ref_t ref;
  snow_pid_t p = th_spawn_puppet_mon(0, &ref);
  snow_pid_t other = th_spawn_puppet(0);
  send_panic(p, 42, "puppet panic");
  uint8_t exp[64];
  size_t el = th_reason_str(exp, SNOW_REASON_ERROR, "puppet.c:42: puppet panic");
  th_expect_down(ref, p, exp, el);
  th_puppet_ping(other);
  th_roundtrip_ok();
  th_end();
}

TEST_CASE(panic_reason_reaches_trapping_links_and_kills_non_trapping_ones) {
  th_start();
  snow_ref_t ref, nref;
  snow_pid_t p = th_spawn_puppet_mon(0, &ref);
  snow_pid_t t = th_spawn_puppet(PUPPET_TRAP);
  snow_pid_t n = th_spawn_puppet_mon(0, &nref);
  CHECK_EQ(th_puppet_call(p, C_LINK, t, T_LINKED), 0);
  CHECK_EQ(th_puppet_call(p, C_LINK, n, T_LINKED), 0);
  send_panic(p, 7, "linked panic");
  uint8_t exp[64];
  size_t el = th_reason_str(exp, SNOW_REASON_ERROR, "puppet.c:7: linked panic");
  th_expect_down(ref, p, exp, el);
  expect_exit_report(t, p, exp, el);
  th_expect_down(nref, n, exp, el);
  th_end();
}

TEST_CASE(panic_runs_the_terminate_callback_with_the_error) {
  th_start();
  snow_ref_t ref;
  snow_pid_t p = th_spawn_puppet_mon(PUPPET_TERMCB, &ref);
  send_panic(p, 9, "cb panic");
  uint8_t exp[64];
  size_t el = th_reason_str(exp, SNOW_REASON_ERROR, "puppet.c:9: cb panic");
  th_expect_down(ref, p, exp, el);
  uint8_t got[512];
  size_t gl;
  CHECK(th_term_get(p, got, &gl, NULL));
  CHECK_REASON(got, gl, exp, el);
  th_end();
}

TEST_CASE(panic_writes_a_crash_report_to_stderr) {
  int fds[2];
  CHECK_EQ(pipe(fds), 0);
  int saved = dup(2);
  CHECK(saved >= 0);
  CHECK(dup2(fds[1], 2) >= 0);
  th_start();
  snow_ref_t ref;
  snow_pid_t p = th_spawn_puppet_mon(0, &ref);
  send_panic(p, 1234, "report-me-please");
  th_wait_down(ref);
  /* Read what was written to stderr until the message shows up. */
  char buf[8192];
  size_t n = 0;
  int64_t deadline = th_now_ms() + th_wait_ms();
  fcntl(fds[0], F_SETFL, O_NONBLOCK);
  bool found = false;
  while (!found && th_now_ms() < deadline) {
    struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
    if (poll(&pfd, 1, 50) > 0) {
      ssize_t k = read(fds[0], buf + n, sizeof buf - 1 - n);
      if (k > 0) n += (size_t)k;
      buf[n] = 0;
      found = strstr(buf, "report-me-please") != NULL;
      if (n >= sizeof buf - 1) break;
    }
  }
  dup2(saved, 2);
  close(saved);
  if (!found) FAILF("stderr did not get a crash report naming the message; got: %.300s", buf);
  CHECK_MSG(strstr(buf, "puppet.c:1234") != NULL, "crash report lacks file:line: %.300s", buf);
  th_end();
}

/* ----------------------------------------------------- terminate callback */

TEST_CASE(terminate_callback_runs_before_links_and_monitors_fire) {
  th_start();
  snow_actor_set_trap_exit(true);
  uint8_t buf[16];
  th_put_u64(buf, th_main);
  th_put_u64(buf + 8, PUPPET_TERMCB);
  snow_spawn_opts o;
  memset(&o, 0, sizeof o);
  o.link = 1;
  o.monitor = 1;
  snow_pid_t p = snow_actor_spawn_opts(th_puppet, buf, 16, &o);
  CHECK(p != 0);
  th_wait_user(T_READY, p);
  uint8_t r[32];
  size_t rl = th_reason_str(r, SNOW_REASON_ERROR, "order");
  CHECK_EQ(snow_actor_exit_reason(p, r, rl), 0);
  /* Everything from p arrives in p's order: the callback's message first. */
  const snow_msg* m = th_wait_any();
  if (!(snow_msg_kind(m) == SNOW_MSG_USER && th_word(m, 0) == T_TERMINATED)) {
    char d[200];
    th_describe_msg(d, sizeof d, m);
    FAILF("first message from the dying process is %s, not the terminate callback's", d);
  }
  /* And the callback had completed when the link and monitor fired. */
  CHECK(th_term_get(p, NULL, NULL, NULL));
  const snow_msg* e = th_wait_exit(p);
  size_t el;
  const uint8_t* er = th_exit_reason(e, &el);
  CHECK_REASON(er, el, r, rl);
  th_expect_down(o.monitor_ref, p, r, rl);
  th_end();
}

TEST_CASE(terminate_callback_runs_on_the_dying_process_with_null_state) {
  th_start();
  snow_ref_t ref;
  snow_pid_t p = th_spawn_puppet_mon(PUPPET_TERMCB, &ref);
  CHECK_EQ(snow_actor_exit(p, SNOW_REASON_SHUTDOWN), 0);
  th_wait_down(ref);
  bool state_null = false;
  /* The table is keyed by snow_actor_self() inside the callback. */
  CHECK(th_term_get(p, NULL, NULL, &state_null));
  CHECK(state_null);
  th_end();
}

TEST_CASE(terminate_callback_sees_normal_when_fn_returns) {
  th_start();
  snow_ref_t ref;
  snow_pid_t p = th_spawn_puppet_mon(PUPPET_TERMCB, &ref);
  CHECK_EQ(th_send1(p, C_STOP), 0);
  uint8_t normal[1] = {SNOW_REASON_NORMAL};
  th_expect_down(ref, p, normal, 1);
  uint8_t got[64];
  size_t gl;
  CHECK(th_term_get(p, got, &gl, NULL));
  CHECK_REASON(got, gl, normal, 1);
  th_end();
}

TEST_CASE(terminate_callback_sees_the_reason_of_a_linked_crash) {
  th_start();
  snow_ref_t ref, aref;
  snow_pid_t b = th_spawn_puppet_mon(PUPPET_TERMCB, &ref);
  snow_pid_t a = th_spawn_puppet_mon(0, &aref);
  CHECK_EQ(th_puppet_call(a, C_LINK, b, T_LINKED), 0);
  uint8_t r[32];
  size_t rl = th_reason_str(r, SNOW_REASON_CUSTOM, "chain");
  th_puppet_exit_self(a, r, rl);
  th_expect_down(ref, b, r, rl);
  uint8_t got[64];
  size_t gl;
  CHECK(th_term_get(b, got, &gl, NULL));
  CHECK_REASON(got, gl, r, rl);
  th_end();
}

TEST_CASE(terminate_callback_set_with_pid_0_means_self) {
  th_start();
  snow_ref_t ref;
  snow_pid_t p = th_spawn_puppet_mon(0, &ref);
  th_puppet_call(p, C_SET_TERM, 0, T_TERM_SET);
  CHECK_EQ(th_send1(p, C_STOP), 0);
  th_wait_down(ref);
  CHECK(th_term_get(p, NULL, NULL, NULL));
  th_end();
}

TEST_CASE(terminate_callback_cleared_with_null_does_not_run) {
  th_start();
  snow_ref_t ref;
  snow_pid_t p = th_spawn_puppet_mon(PUPPET_TERMCB, &ref);
  th_puppet_call(p, C_CLEAR_TERM, 0, T_TERM_SET);
  CHECK_EQ(th_send1(p, C_STOP), 0);
  th_wait_down(ref);
  CHECK_EQ(th_term_count(), 0);
  CHECK(th_poll_user(T_TERMINATED, TH_ANY_PID) == NULL);
  th_end();
}

/* -------------------------------------------------------------- promptness */

static void expect_prompt_death(snow_pid_t p, snow_ref_t ref, uint8_t tag) {
  int64_t t0 = th_now_ms();
  CHECK_EQ(snow_actor_exit(p, tag), 0);
  uint8_t r[16];
  size_t rl = th_reason_for_tag(r, tag);
  th_expect_down(ref, p, r, rl);
  int64_t dt = th_now_ms() - t0;
  CHECK_MSG(dt < prompt_ms(), "the process took %lld ms to die", (long long)dt);
}

static void prompt_case(uint64_t cmd, uint64_t a1, uint64_t a2, uint64_t ack, unsigned flags, uint8_t tag) {
  th_start();
  snow_ref_t ref;
  snow_pid_t p = th_spawn_puppet_mon(flags, &ref);
  uint64_t w[3] = {cmd, a1, a2};
  CHECK_EQ(th_send_words(p, w, 3), 0);
  th_wait_user(ack, p);
  expect_prompt_death(p, ref, tag);
  th_roundtrip_ok();
  th_end();
}

TEST_CASE(process_looping_on_reduction_check_is_killed_promptly) {
  prompt_case(C_LOOP, 0, 0, T_LOOPING, 0, SNOW_REASON_KILLED);
}
TEST_CASE(trapping_process_looping_on_reduction_check_is_killed_promptly) {
  prompt_case(C_LOOP, 0, 0, T_LOOPING, PUPPET_TRAP, SNOW_REASON_KILLED);
}
TEST_CASE(process_looping_on_reduction_check_dies_promptly_from_shutdown) {
  prompt_case(C_LOOP, 0, 0, T_LOOPING, 0, SNOW_REASON_SHUTDOWN);
}
TEST_CASE(process_looping_on_reduction_check_dies_promptly_from_error) {
  prompt_case(C_LOOP, 0, 0, T_LOOPING, 0, SNOW_REASON_ERROR);
}
TEST_CASE(process_looping_on_yield_is_killed_promptly) {
  prompt_case(C_YIELD_LOOP, 0, 0, T_LOOPING, 0, SNOW_REASON_KILLED);
}
TEST_CASE(process_in_timer_sleep_is_killed_promptly) {
  prompt_case(C_SLEEP, 60000, 0, T_SLEEPING, 0, SNOW_REASON_KILLED);
}
TEST_CASE(process_in_timer_sleep_dies_promptly_from_shutdown) {
  prompt_case(C_SLEEP, 60000, 0, T_SLEEPING, 0, SNOW_REASON_SHUTDOWN);
}
TEST_CASE(trapping_process_in_timer_sleep_is_killed_promptly) {
  prompt_case(C_SLEEP, 60000, 0, T_SLEEPING, PUPPET_TRAP, SNOW_REASON_KILLED);
}
TEST_CASE(process_in_receive_forever_is_killed_promptly) {
  prompt_case(C_BLOCK, 0, (uint64_t)-1, T_BLOCKING, 0, SNOW_REASON_KILLED);
}
TEST_CASE(process_in_receive_with_long_timeout_is_killed_promptly) {
  prompt_case(C_BLOCK, 0, 60000, T_BLOCKING, 0, SNOW_REASON_KILLED);
}
TEST_CASE(process_in_receive_match_forever_is_killed_promptly) {
  prompt_case(C_BLOCK, 1, (uint64_t)-1, T_BLOCKING, 0, SNOW_REASON_KILLED);
}
TEST_CASE(process_in_receive_match_forever_dies_promptly_from_shutdown) {
  prompt_case(C_BLOCK, 1, (uint64_t)-1, T_BLOCKING, 0, SNOW_REASON_SHUTDOWN);
}

TEST_CASE(looping_process_is_killed_promptly_on_one_scheduler) {
  th_start_n(1);
  snow_ref_t ref;
  snow_pid_t p = th_spawn_puppet_mon(0, &ref);
  snow_pid_t q = th_spawn_puppet(0);
  CHECK_EQ(th_send1(p, C_LOOP), 0);
  th_wait_user(T_LOOPING, p);
  th_puppet_ping(q); /* the loop does not starve others */
  expect_prompt_death(p, ref, SNOW_REASON_KILLED);
  th_puppet_ping(q);
  th_end();
}
