/* ABI.md section 7: service calls (snow_service_call, snow_service_call_timeout,
 * snow_service_try_call, snow_service_reply, snow_service_last_error).
 *
 * A failed snow_service_call / _timeout exits the calling process (v2), so
 * those failures are observed from a separate caller process (caller_main)
 * through its DOWN; snow_service_try_call returns NULL and tells why.
 *
 * The test server (server() below) answers calls whose payload is
 * [u64 command][u64 argument][...]; the request it receives is
 * [u64 SVC_TAG][u64 caller][payload]. Replies are [u64 R_REPLY][u64 argument]
 * unless a command says otherwise.
 *
 * Ordering used to avoid races: messages from one sender to one receiver
 * arrive in send order, so a message the server sends after its reply
 * proves the reply has already been delivered (or dropped). */
#include "harness.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define SVC_TAG 0x5E77ull

enum {
  S_ECHO = 0x5E0001, /* reply [R_REPLY][arg] */
  S_EXIT,            /* exit with the reason that follows [cmd][arg], no reply */
  S_KILL_SELF,       /* snow_actor_exit(self, killed), no reply */
  S_HOLD,            /* wait for [T_GO][caller], reply [R_LATE][arg], send caller [T_DONE][self][rc] */
  S_PLAIN_FIRST,     /* send the caller plain [R_REPLY][~arg] and [T_MARK][self], then reply */
  S_REPORT,          /* send the caller [R_SEEN][tag][len][request bytes], then reply */
  S_REPLY_TWICE,     /* reply twice, then to caller 0; send [T_DONE][self][rc1][rc2][rc3] */
  R_REPLY = 0x5E1001,
  R_LATE,
  R_SEEN
};

static int32_t reply2(snow_pid_t caller, uint64_t a, uint64_t b) {
  uint8_t buf[16];
  th_put_u64(buf, a);
  th_put_u64(buf + 8, b);
  return snow_service_reply(caller, buf, 16);
}

/* Serves calls until one tells it to exit. */
static void server(const uint8_t* args) {
  (void)args;
  snow_pid_t self = snow_actor_self();
  for (;;) {
    const snow_msg* m = snow_actor_receive(-1);
    if (!m) FAILF("server: snow_actor_receive(-1) returned NULL");
    if (snow_msg_kind(m) != SNOW_MSG_USER || m->len < 32) continue;
    snow_pid_t caller = th_word(m, 1);
    uint64_t cmd = th_word(m, 2);
    uint64_t arg = th_word(m, 3);
    switch (cmd) {
      case S_ECHO:
        (void)reply2(caller, R_REPLY, arg);
        break;
      case S_EXIT:
        snow_actor_exit_self(m->data + 32, m->len - 32);
      case S_KILL_SELF:
        CHECK_EQ(snow_actor_exit(self, SNOW_REASON_KILLED), 0);
        for (;;) (void)snow_actor_receive(-1);
      case S_HOLD: {
        th_wait_user(T_GO, caller);
        int32_t rc = reply2(caller, R_LATE, arg);
        th_send3(caller, T_DONE, self, (uint64_t)(int64_t)rc);
        break;
      }
      case S_PLAIN_FIRST:
        CHECK_EQ(th_send2(caller, R_REPLY, ~arg), 0);
        CHECK_EQ(th_send2(caller, T_MARK, self), 0);
        (void)reply2(caller, R_REPLY, arg);
        break;
      case S_REPORT: {
        size_t n = 24 + (size_t)m->len;
        uint8_t* buf = malloc(n);
        CHECK(buf != NULL);
        th_put_u64(buf, R_SEEN);
        th_put_u64(buf + 8, m->tag);
        th_put_u64(buf + 16, m->len);
        memcpy(buf + 24, m->data, m->len);
        CHECK_EQ(snow_actor_send(caller, buf, n), 0);
        free(buf);
        (void)reply2(caller, R_REPLY, arg);
        break;
      }
      case S_REPLY_TWICE: {
        int32_t r1 = reply2(caller, R_REPLY, arg);
        int32_t r2 = reply2(caller, R_REPLY, arg + 1);
        int32_t r3 = reply2(0, R_REPLY, arg + 2);
        uint64_t w[5] = {T_DONE, self, (uint64_t)(int64_t)r1, (uint64_t)(int64_t)r2, (uint64_t)(int64_t)r3};
        th_send_words(caller, w, 5);
        break;
      }
      default:
        break;
    }
  }
}

static snow_pid_t spawn_server(void) {
  snow_pid_t p = snow_actor_spawn(server, NULL, 0, SNOW_PRIO_NORMAL);
  CHECK(p != 0);
  return p;
}

enum call_kind { K_CALL, K_CALL_TIMEOUT, K_TRY_CALL };

/* Calls srv with payload [cmd][arg][extra...] through `kind`. */
static const snow_msg* call_k(enum call_kind kind, snow_pid_t srv, uint64_t cmd, uint64_t arg, const uint8_t* extra,
                              size_t elen, int64_t timeout_ms) {
  uint8_t buf[16 + 64];
  CHECK(elen <= 64);
  th_put_u64(buf, cmd);
  th_put_u64(buf + 8, arg);
  if (elen) memcpy(buf + 16, extra, elen);
  switch (kind) {
    case K_CALL:
      return snow_service_call(srv, SVC_TAG, buf, 16 + elen);
    case K_CALL_TIMEOUT:
      return snow_service_call_timeout(srv, SVC_TAG, buf, 16 + elen, timeout_ms);
    default:
      return snow_service_try_call(srv, SVC_TAG, buf, 16 + elen, timeout_ms);
  }
}

/* A call expected to succeed (snow_service_call_timeout with a deadline). */
static const snow_msg* call_x(snow_pid_t srv, uint64_t cmd, uint64_t arg, const uint8_t* extra, size_t elen,
                              int64_t timeout_ms) {
  return call_k(K_CALL_TIMEOUT, srv, cmd, arg, extra, elen, timeout_ms);
}

static const snow_msg* call(snow_pid_t srv, uint64_t cmd, uint64_t arg) {
  return call_k(K_CALL, srv, cmd, arg, NULL, 0, -1);
}

/* snow_service_try_call (timeout_ms < 0: none). */
static const snow_msg* try_call_x(snow_pid_t srv, uint64_t cmd, uint64_t arg, const uint8_t* extra, size_t elen,
                                  int64_t timeout_ms) {
  return call_k(K_TRY_CALL, srv, cmd, arg, extra, elen, timeout_ms);
}

static const snow_msg* try_call(snow_pid_t srv, uint64_t cmd, uint64_t arg) {
  return try_call_x(srv, cmd, arg, NULL, 0, -1);
}

static snow_pid_t dead_pid(void) {
  snow_ref_t ref;
  snow_pid_t p = th_spawn_puppet_mon(0, &ref);
  CHECK_EQ(th_send1(p, C_STOP), 0);
  th_wait_down(ref);
  return p;
}

/* Takes every message left in the mailbox; fails on any whose word 0 is not
 * in want[0..n-1], in that order. */
static void expect_mailbox(const uint64_t* want, size_t n) {
  for (size_t i = 0; i < n; i++) {
    const snow_msg* m = snow_actor_receive(0);
    CHECK_MSG(m != NULL, "message %zu of %zu (word 0x%llx) missing from the mailbox", i + 1, n,
              (unsigned long long)want[i]);
    char d[200];
    th_describe_msg(d, sizeof d, m);
    CHECK_MSG(snow_msg_kind(m) == SNOW_MSG_USER && m->len >= 8 && th_word(m, 0) == want[i],
              "mailbox message %zu is %s, expected a user message with word 0 = 0x%llx", i + 1, d,
              (unsigned long long)want[i]);
  }
  const snow_msg* extra = snow_actor_receive(0);
  if (extra) {
    char d[200];
    th_describe_msg(d, sizeof d, extra);
    FAILF("unexpected message left in the mailbox: %s", d);
  }
}

/* ---------------------------------------------------------------- success */

TEST_CASE(call_returns_the_servers_reply_as_a_user_message) {
  th_start();
  snow_pid_t srv = spawn_server();
  const snow_msg* r = call(srv, S_ECHO, 42);
  CHECK_MSG(r != NULL, "call failed, last_error %lld", (long long)snow_service_last_error());
  CHECK_EQ(snow_msg_kind(r), SNOW_MSG_USER);
  CHECK_EQ_U(r->tag, R_REPLY); /* the reply's first bytes */
  CHECK_EQ(r->len, 16);
  CHECK_EQ_U(th_word(r, 0), R_REPLY);
  CHECK_EQ(th_word(r, 1), 42);
  CHECK_EQ(snow_service_last_error(), 0);
  expect_mailbox(NULL, 0);
  th_end();
}

TEST_CASE(the_server_receives_tag_caller_pid_and_payload) {
  th_start();
  snow_pid_t srv = spawn_server();
  const uint8_t extra[5] = {'h', 'e', 'l', 'l', 'o'};
  const snow_msg* r = call_x(srv, S_REPORT, 7, extra, sizeof extra, th_wait_ms());
  CHECK_MSG(r != NULL, "call failed, last_error %lld", (long long)snow_service_last_error());
  CHECK_EQ(th_word(r, 1), 7);
  const snow_msg* seen = th_wait_user(R_SEEN, TH_ANY_PID);
  CHECK_EQ_U(th_word(seen, 1), SVC_TAG); /* the request's snow tag */
  CHECK_EQ(th_word(seen, 2), 16 + 16 + sizeof extra);
  CHECK_EQ(seen->len, 24 + 16 + 16 + sizeof extra);
  const uint8_t* d = seen->data + 24;
  CHECK_EQ_U(th_get_u64(d), SVC_TAG);
  CHECK_EQ_U(th_get_u64(d + 8), th_main);
  CHECK_EQ_U(th_get_u64(d + 16), S_REPORT);
  CHECK_EQ(th_get_u64(d + 24), 7);
  CHECK(memcmp(d + 32, extra, sizeof extra) == 0);
  th_end();
}

TEST_CASE(three_calls_in_a_row_each_get_their_own_reply) {
  th_start();
  snow_pid_t srv = spawn_server();
  for (uint64_t i = 1; i <= 3; i++) {
    const snow_msg* r = call(srv, S_ECHO, 100 + i);
    CHECK_MSG(r != NULL, "call %llu failed, last_error %lld", (unsigned long long)i,
              (long long)snow_service_last_error());
    CHECK_EQ_U(th_word(r, 0), R_REPLY);
    CHECK_MSG(th_word(r, 1) == 100 + i, "call %llu returned the reply for argument %llu", (unsigned long long)i,
              (unsigned long long)th_word(r, 1));
  }
  expect_mailbox(NULL, 0);
  th_end();
}

TEST_CASE(last_error_is_0_after_a_successful_call) {
  th_start();
  snow_pid_t srv = spawn_server();
  CHECK(try_call(dead_pid(), S_ECHO, 1) == NULL);
  CHECK_EQ(snow_service_last_error(), SNOW_ENOPROC);
  CHECK(try_call(srv, S_ECHO, 2) != NULL);
  CHECK_EQ(snow_service_last_error(), 0);
  /* Also after a timeout, and with the exiting form. */
  CHECK(try_call_x(srv, S_HOLD, 3, NULL, 0, 20) == NULL);
  CHECK_EQ(snow_service_last_error(), SNOW_ETIMEDOUT);
  CHECK_EQ(th_send2(srv, T_GO, th_main), 0);
  th_wait_user(T_DONE, srv);
  CHECK(call(srv, S_ECHO, 4) != NULL);
  CHECK_EQ(snow_service_last_error(), 0);
  th_end();
}

/* ----------------------------------------------------- server not there */

TEST_CASE(try_call_to_a_dead_pid_returns_null_with_enoproc) {
  th_start();
  snow_pid_t d = dead_pid();
  CHECK(try_call(d, S_ECHO, 1) == NULL);
  CHECK_EQ(snow_service_last_error(), SNOW_ENOPROC);
  /* A pid that never existed. */
  CHECK(try_call(0x00000000DEADBEEFull, S_ECHO, 1) == NULL);
  CHECK_EQ(snow_service_last_error(), SNOW_ENOPROC);
  /* The call's own monitor leaves nothing behind. */
  expect_mailbox(NULL, 0);
  th_end();
}

TEST_CASE(try_call_to_server_0_returns_null_with_einval) {
  th_start();
  CHECK(try_call(0, S_ECHO, 1) == NULL);
  CHECK_EQ(snow_service_last_error(), SNOW_EINVAL);
  CHECK(try_call_x(0, S_ECHO, 1, NULL, 0, 100) == NULL);
  CHECK_EQ(snow_service_last_error(), SNOW_EINVAL);
  expect_mailbox(NULL, 0);
  th_end();
}

TEST_CASE(try_call_with_a_null_payload_and_a_size_returns_null_with_einval) {
  th_start();
  snow_pid_t srv = spawn_server();
  CHECK(snow_service_try_call(srv, SVC_TAG, NULL, 16, -1) == NULL);
  CHECK_EQ(snow_service_last_error(), SNOW_EINVAL);
  CHECK(snow_service_try_call(srv, SVC_TAG, NULL, 16, 100) == NULL);
  CHECK_EQ(snow_service_last_error(), SNOW_EINVAL);
  th_end();
}

static void* call_from_thread(void* arg) {
  int64_t* out = arg;
  uint8_t buf[16] = {0};
  out[0] = snow_service_try_call((snow_pid_t)out[0], SVC_TAG, buf, 16, 100) != NULL;
  out[1] = snow_service_last_error();
  return NULL;
}

TEST_CASE(try_call_from_a_thread_that_is_not_a_process_returns_null) {
  th_start();
  snow_pid_t srv = spawn_server();
  pthread_t t;
  int64_t r[2] = {(int64_t)srv, 99};
  CHECK_EQ(pthread_create(&t, NULL, call_from_thread, r), 0);
  pthread_join(t, NULL);
  CHECK_EQ(r[0], 0);
  CHECK_EQ(r[1], SNOW_ENOTPROC);
  th_end();
}

/* ------------------------------------------------- server dies mid-call */

TEST_CASE(try_call_to_a_server_that_dies_while_handling_it_returns_null_and_its_exit_reason) {
  th_start();
  struct {
    uint8_t tag;
    int64_t want;
  } cases[] = {
      {SNOW_REASON_NORMAL, SNOW_SERVICE_EXITED + SNOW_REASON_NORMAL},
      {SNOW_REASON_ERROR, SNOW_SERVICE_EXITED + SNOW_REASON_ERROR},
      {SNOW_REASON_SHUTDOWN, SNOW_SERVICE_EXITED + SNOW_REASON_SHUTDOWN},
      {SNOW_REASON_CUSTOM, SNOW_SERVICE_EXITED + SNOW_REASON_CUSTOM},
      {SNOW_REASON_TERM, SNOW_SERVICE_EXITED + SNOW_REASON_TERM},
      {SNOW_REASON_NOPROC, SNOW_ENOPROC},
      {SNOW_REASON_NOCONNECTION, SNOW_ENONODE},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    uint8_t r[64];
    size_t rl;
    switch (cases[i].tag) {
      case SNOW_REASON_ERROR:
        rl = th_reason_str(r, SNOW_REASON_ERROR, "server-crash");
        break;
      case SNOW_REASON_CUSTOM:
        rl = th_reason_str(r, SNOW_REASON_CUSTOM, "server-custom");
        break;
      case SNOW_REASON_TERM:
        rl = th_reason(r, SNOW_REASON_TERM, th_etf_atom_foo, sizeof th_etf_atom_foo);
        break;
      default:
        rl = th_reason_for_tag(r, cases[i].tag);
        break;
    }
    snow_pid_t srv = spawn_server();
    const snow_msg* m = try_call_x(srv, S_EXIT, 0, r, rl, -1);
    int64_t e = snow_service_last_error();
    CHECK_MSG(m == NULL, "server exiting with %s: the call returned a message", th_reason_name(cases[i].tag));
    CHECK_MSG(e == cases[i].want, "server exiting with %s: last_error %lld (0x%llx), expected %lld (0x%llx)",
              th_reason_name(cases[i].tag), (long long)e, (unsigned long long)e, (long long)cases[i].want,
              (unsigned long long)cases[i].want);
  }
  expect_mailbox(NULL, 0);
  th_end();
}

TEST_CASE(try_call_to_a_server_killed_while_handling_it_returns_null_with_exited_killed) {
  th_start();
  snow_pid_t srv = spawn_server();
  CHECK(try_call(srv, S_KILL_SELF, 0) == NULL);
  CHECK_EQ(snow_service_last_error(), SNOW_SERVICE_EXITED + SNOW_REASON_KILLED);
  CHECK_EQ(snow_service_last_error(), 0x102);
  th_end();
}

TEST_CASE(a_failed_call_leaves_no_down_of_its_own_but_keeps_the_callers_monitor) {
  th_start();
  snow_pid_t srv = spawn_server();
  snow_ref_t mine = snow_process_monitor(srv);
  CHECK(mine != 0);
  uint8_t r[64];
  size_t rl = th_reason_str(r, SNOW_REASON_ERROR, "crash");
  CHECK(try_call_x(srv, S_EXIT, 0, r, rl, -1) == NULL);
  CHECK_EQ(snow_service_last_error(), SNOW_SERVICE_EXITED + SNOW_REASON_ERROR);
  /* The caller's own monitor still fires, once, with the real reason. */
  th_expect_down(mine, srv, r, rl);
  expect_mailbox(NULL, 0);
  th_end();
}

/* --------------------------------------------------------------- timeouts */

TEST_CASE(try_call_timeout_expiry_returns_null_with_etimedout_on_time) {
  th_start();
  snow_pid_t srv = spawn_server();
  int64_t t0 = th_now_us();
  const snow_msg* m = try_call_x(srv, S_HOLD, 1, NULL, 0, 100);
  int64_t dt_ms = (th_now_us() - t0) / 1000;
  CHECK(m == NULL);
  CHECK_EQ(snow_service_last_error(), SNOW_ETIMEDOUT);
  CHECK_MSG(dt_ms >= 99, "the call gave up after %lld ms, before its 100 ms timeout", (long long)dt_ms);
  CHECK_MSG(dt_ms <= 100 + th_slack_ms(), "the call gave up after %lld ms (timeout 100 ms)", (long long)dt_ms);
  th_end();
}

TEST_CASE(a_late_reply_to_a_timed_out_call_is_never_returned_by_a_later_call_nor_left_in_the_mailbox) {
  th_start();
  snow_pid_t srv = spawn_server();
  CHECK_EQ(th_send2(th_main, T_SEQ, 1), 0); /* an unrelated message: must survive */
  for (uint64_t i = 0; i < 10; i++) {
    const snow_msg* m = try_call_x(srv, S_HOLD, 1000 + i, NULL, 0, 20);
    CHECK(m == NULL);
    CHECK_EQ(snow_service_last_error(), SNOW_ETIMEDOUT);
    /* The server now replies to the timed-out call; that late reply races
     * with the next call, which must return only its own reply. */
    CHECK_EQ(th_send2(srv, T_GO, th_main), 0);
    const snow_msg* r = call_x(srv, S_ECHO, 2000 + i, NULL, 0, th_wait_ms());
    CHECK_MSG(r != NULL, "round %llu: the next call failed, last_error %lld", (unsigned long long)i,
              (long long)snow_service_last_error());
    CHECK_MSG(th_word(r, 0) == R_REPLY && th_word(r, 1) == 2000 + i,
              "round %llu: the next call returned [0x%llx][%llu], not its own reply", (unsigned long long)i,
              (unsigned long long)th_word(r, 0), (unsigned long long)th_word(r, 1));
    /* The server's late snow_service_reply had an unanswered request. */
    const snow_msg* d = th_wait_user(T_DONE, srv);
    CHECK_EQ((int64_t)th_word(d, 2), 0);
  }
  /* The late replies were sent before each T_DONE: none is in the mailbox. */
  uint64_t want[1] = {T_SEQ};
  expect_mailbox(want, 1);
  th_end();
}

/* ------------------------------------------------------- reply semantics */

TEST_CASE(a_plain_message_from_the_server_during_the_call_is_not_taken_as_the_reply) {
  th_start();
  snow_pid_t srv = spawn_server();
  CHECK_EQ(th_send2(th_main, T_SEQ, 1), 0); /* queued before the call */
  /* The server first sends a plain message with a reply's layout, then a
   * marker, then its reply. */
  const snow_msg* r = call(srv, S_PLAIN_FIRST, 5);
  CHECK_MSG(r != NULL, "call failed, last_error %lld", (long long)snow_service_last_error());
  CHECK_EQ_U(th_word(r, 0), R_REPLY);
  CHECK_MSG(th_word(r, 1) == 5, "the call returned the server's plain message (argument 0x%llx)",
            (unsigned long long)th_word(r, 1));
  const snow_msg* m = snow_actor_receive(0);
  CHECK(m != NULL);
  CHECK_EQ_U(th_word(m, 0), T_SEQ);
  m = snow_actor_receive(0);
  CHECK_MSG(m != NULL, "the server's plain message is not in the mailbox");
  CHECK_EQ(snow_msg_kind(m), SNOW_MSG_USER);
  CHECK_EQ_U(th_word(m, 0), R_REPLY);
  CHECK_EQ_U(th_word(m, 1), ~(uint64_t)5);
  m = snow_actor_receive(0);
  CHECK(m != NULL);
  CHECK_EQ_U(th_word(m, 0), T_MARK);
  expect_mailbox(NULL, 0);
  th_end();
}

/* args [parent]: replies to parent without having received anything, then
 * receives one plain message from parent and replies to it; reports
 * [T_DONE][self][rc1][rc2]. */
static void not_a_server(const uint8_t* args) {
  snow_pid_t parent = th_arg(args, 0);
  uint8_t rep[16] = {0};
  int32_t r1 = snow_service_reply(parent, rep, sizeof rep);
  th_wait_user(SVC_TAG, parent);
  int32_t r2 = snow_service_reply(parent, rep, sizeof rep);
  th_send4(parent, T_DONE, snow_actor_self(), (uint64_t)(int64_t)r1, (uint64_t)(int64_t)r2);
}

TEST_CASE(service_reply_from_a_process_not_handling_a_call_returns_einval) {
  th_start();
  uint64_t w[1] = {th_main};
  snow_pid_t p = th_spawn_words(not_a_server, w, 1);
  /* A plain message shaped like a call request is not a call. */
  CHECK_EQ(th_send4(p, SVC_TAG, th_main, S_ECHO, 1), 0);
  const snow_msg* d = th_wait_user(T_DONE, p);
  CHECK_EQ((int64_t)th_word(d, 2), SNOW_EINVAL);
  CHECK_EQ((int64_t)th_word(d, 3), SNOW_EINVAL);
  /* Nothing reached this process besides the report. */
  th_sync_dead(p);
  expect_mailbox(NULL, 0);
  th_end();
}

TEST_CASE(a_second_reply_to_the_same_call_and_a_reply_to_caller_0_return_einval) {
  th_start();
  snow_pid_t srv = spawn_server();
  const snow_msg* r = call(srv, S_REPLY_TWICE, 9);
  CHECK(r != NULL);
  CHECK_EQ(th_word(r, 1), 9);
  const snow_msg* d = th_wait_user(T_DONE, srv);
  CHECK_EQ((int64_t)th_word(d, 2), 0);
  CHECK_EQ((int64_t)th_word(d, 3), SNOW_EINVAL);
  CHECK_EQ((int64_t)th_word(d, 4), SNOW_EINVAL);
  /* The refused second reply did not arrive as a message either. */
  expect_mailbox(NULL, 0);
  th_end();
}

/* ------------------------------------ a failed call exits its caller (v2) */

/* args [parent][server][kind][cmd][arg][timeout_ms][reason...]: makes one
 * call of that kind with payload [cmd][arg][reason...]; if it returns, sends
 * the parent [T_DONE][self][reply word 1 or ~0 for NULL], then waits for
 * C_STOP (so a DOWN seen by the parent comes from the call itself). */
static void caller_main(const uint8_t* args) {
  snow_pid_t parent = th_arg(args, 0);
  snow_pid_t srv = th_arg(args, 1);
  enum call_kind kind = (enum call_kind)th_arg(args, 2);
  uint64_t cmd = th_arg(args, 3), arg = th_arg(args, 4);
  int64_t timeout_ms = (int64_t)th_arg(args, 5);
  uint64_t rlen = th_arg(args, 6);
  const snow_msg* r = call_k(kind, srv, cmd, arg, args + 56, (size_t)rlen, timeout_ms);
  th_send3(parent, T_DONE, snow_actor_self(), r ? th_word(r, 1) : ~(uint64_t)0);
  th_wait_user(C_STOP, TH_ANY_PID);
}

/* Spawns caller_main monitored; returns its pid and writes the ref. */
static snow_pid_t spawn_caller(snow_ref_t* ref, snow_pid_t srv, enum call_kind kind, uint64_t cmd, uint64_t arg,
                               int64_t timeout_ms, const uint8_t* extra, size_t elen) {
  uint8_t buf[56 + 64];
  CHECK(elen <= 64);
  uint64_t w[7] = {th_main, srv, kind, cmd, arg, (uint64_t)timeout_ms, elen};
  for (int i = 0; i < 7; i++) th_put_u64(buf + 8 * i, w[i]);
  if (elen) memcpy(buf + 56, extra, elen);
  snow_spawn_opts o;
  memset(&o, 0, sizeof o);
  o.monitor = 1;
  snow_pid_t p = snow_actor_spawn_opts(caller_main, buf, 56 + elen, &o);
  CHECK(p != 0);
  *ref = o.monitor_ref;
  return p;
}

/* The caller dies with `reason` without the call returning. */
static void expect_caller_exit(snow_ref_t ref, snow_pid_t caller, const uint8_t* reason, size_t rlen) {
  th_expect_down(ref, caller, reason, rlen);
  CHECK_MSG(th_poll_user(T_DONE, caller) == NULL, "the failed call returned to its caller");
}

TEST_CASE(call_to_a_dead_or_unknown_pid_exits_the_caller_with_noproc) {
  th_start();
  uint8_t noproc[1] = {SNOW_REASON_NOPROC};
  snow_pid_t targets[3] = {dead_pid(), 0x00000000DEADBEEFull, 0};
  for (int i = 0; i < 3; i++) {
    for (int k = K_CALL; k <= K_CALL_TIMEOUT; k++) {
      snow_ref_t ref;
      snow_pid_t c = spawn_caller(&ref, targets[i], (enum call_kind)k, S_ECHO, 1, th_wait_ms(), NULL, 0);
      expect_caller_exit(ref, c, noproc, 1);
    }
  }
  expect_mailbox(NULL, 0);
  th_end();
}

TEST_CASE(call_to_a_server_that_dies_before_replying_exits_the_caller_with_the_servers_reason) {
  th_start();
  const uint8_t tags[] = {SNOW_REASON_ERROR,  SNOW_REASON_CUSTOM,       SNOW_REASON_SHUTDOWN,
                          SNOW_REASON_NORMAL, SNOW_REASON_NOCONNECTION, SNOW_REASON_TERM};
  for (size_t i = 0; i < sizeof tags; i++) {
    uint8_t r[64];
    size_t rl;
    switch (tags[i]) {
      case SNOW_REASON_ERROR:
        rl = th_reason_str(r, tags[i], "service crashed");
        break;
      case SNOW_REASON_CUSTOM:
        rl = th_reason_str(r, tags[i], "gone");
        break;
      case SNOW_REASON_TERM:
        rl = th_reason(r, tags[i], th_etf_atom_foo, sizeof th_etf_atom_foo);
        break;
      default:
        rl = th_reason_for_tag(r, tags[i]);
        break;
    }
    snow_ref_t ref;
    snow_pid_t c = spawn_caller(&ref, spawn_server(), K_CALL, S_EXIT, 0, -1, r, rl);
    expect_caller_exit(ref, c, r, rl);
  }
  th_end();
}

TEST_CASE(call_to_a_server_killed_before_replying_exits_the_caller_with_killed) {
  th_start();
  uint8_t killed[1] = {SNOW_REASON_KILLED};
  snow_ref_t ref;
  snow_pid_t c = spawn_caller(&ref, spawn_server(), K_CALL_TIMEOUT, S_KILL_SELF, 0, th_wait_ms(), NULL, 0);
  expect_caller_exit(ref, c, killed, 1);
  th_end();
}

TEST_CASE(call_timeout_expiry_exits_the_caller_with_custom_timeout_on_time) {
  th_start();
  uint8_t want[32];
  size_t wl = th_reason_str(want, SNOW_REASON_CUSTOM, "timeout");
  snow_pid_t srv = spawn_server();
  int64_t t0 = th_now_us();
  snow_ref_t ref;
  snow_pid_t c = spawn_caller(&ref, srv, K_CALL_TIMEOUT, S_HOLD, 1, 100, NULL, 0);
  expect_caller_exit(ref, c, want, wl);
  int64_t dt_ms = (th_now_us() - t0) / 1000;
  CHECK_MSG(dt_ms >= 99, "the caller exited after %lld ms, before its 100 ms timeout", (long long)dt_ms);
  CHECK_MSG(dt_ms <= 100 + th_slack_ms(), "the caller exited after %lld ms (timeout 100 ms)", (long long)dt_ms);
  /* The server lives on; its late reply goes nowhere. */
  CHECK_EQ(th_send2(srv, T_GO, c), 0);
  CHECK(call(srv, S_ECHO, 5) != NULL);
  th_end();
}

/* args [server]: snow_service_call with a NULL payload of size 16. */
static void null_payload_caller(const uint8_t* args) {
  const snow_msg* m = snow_service_call(th_arg(args, 0), SVC_TAG, NULL, 16);
  th_send3(th_main, T_DONE, snow_actor_self(), m ? 1 : 0);
}

TEST_CASE(call_with_a_bad_payload_exits_the_caller_with_an_error) {
  th_start();
  uint8_t want[64];
  size_t wl = th_reason_str(want, SNOW_REASON_ERROR, "service call: invalid argument");
  snow_spawn_opts o;
  memset(&o, 0, sizeof o);
  o.monitor = 1;
  uint8_t a[8];
  th_put_u64(a, spawn_server());
  snow_pid_t c = snow_actor_spawn_opts(null_payload_caller, a, 8, &o);
  CHECK(c != 0);
  expect_caller_exit(o.monitor_ref, c, want, wl);
  th_end();
}

TEST_CASE(a_crashing_service_ends_its_caller_and_links_see_it_while_bystanders_live) {
  th_start();
  uint8_t r[64];
  size_t rl = th_reason_str(r, SNOW_REASON_ERROR, "service crashed");
  snow_pid_t bystander = th_spawn_puppet(0);
  snow_pid_t watcher = th_spawn_puppet(PUPPET_TRAP);
  snow_ref_t ref;
  snow_pid_t c = spawn_caller(&ref, spawn_server(), K_CALL, S_EXIT, 0, -1, r, rl);
  /* Linked to the caller (it may already be gone: then noproc). */
  CHECK_EQ((int64_t)th_puppet_call(watcher, C_LINK, c, T_LINKED), 0);
  expect_caller_exit(ref, c, r, rl);
  const snow_msg* m = th_wait_report(watcher, SNOW_MSG_EXIT);
  size_t n;
  const uint8_t* d = th_report_data(m, &n);
  CHECK(n >= 8);
  CHECK_EQ_U(th_get_u64(d), c);
  size_t gl = n - 8;
  if (!(gl == 1 && d[8] == SNOW_REASON_NOPROC)) CHECK_REASON(d + 8, gl, r, rl);
  th_puppet_ping(bystander);
  th_puppet_ping(watcher);
  CHECK(call(spawn_server(), S_ECHO, 3) != NULL);
  th_end();
}

/* Runs body in a forked child of this case and returns its wait status. */
static int in_child(void (*body)(void)) {
  fflush(NULL);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    body();
    _exit(77);
  }
  int status = 0;
  CHECK(waitpid(pid, &status, 0) == pid);
  return status;
}

static void main_calls_a_dead_server(void) {
  snow_rt_init();
  if (snow_rt_init_actor(1) != 0) _exit(70);
  snow_pid_t p = snow_actor_spawn(server, NULL, 0, SNOW_PRIO_NORMAL);
  if (p == 0 || snow_actor_exit(p, SNOW_REASON_KILLED) != 0) _exit(71);
  uint8_t buf[16] = {0};
  (void)snow_service_call(p, SVC_TAG, buf, 16); /* must not return */
  _exit(72);
}

TEST_CASE(a_failed_call_on_the_main_thread_ends_the_main_process_and_the_program_with_status_1) {
  int st = in_child(main_calls_a_dead_server);
  CHECK_MSG(WIFEXITED(st), "the program did not exit normally (wait status 0x%x)", st);
  CHECK_MSG(WEXITSTATUS(st) == 1, "exit status %d (72: the call returned)", WEXITSTATUS(st));
}

static void* call_from_plain_thread(void* arg) {
  uint8_t buf[16] = {0};
  (void)snow_service_call(*(snow_pid_t*)arg, SVC_TAG, buf, 16);
  _exit(73);
}

static void plain_thread_calls(void) {
  snow_rt_init();
  if (snow_rt_init_actor(1) != 0) _exit(70);
  snow_pid_t srv = snow_actor_spawn(server, NULL, 0, SNOW_PRIO_NORMAL);
  pthread_t t;
  if (pthread_create(&t, NULL, call_from_plain_thread, &srv) != 0) _exit(71);
  pthread_join(t, NULL);
  _exit(74);
}

TEST_CASE(call_outside_a_process_aborts) {
  int st = in_child(plain_thread_calls);
  CHECK_MSG(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "wait status 0x%x, expected SIGABRT", st);
}
