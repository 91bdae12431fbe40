/* ABI.md section 3: send, receive, receive_match, message kinds and tags. */
#include "harness.h"

#include <pthread.h>
#include <stdlib.h>

/* ------------------------------------------------------------------ tags */

TEST_CASE(tag_is_the_first_8_bytes_little_endian) {
  th_start();
  uint8_t b[12];
  for (int i = 0; i < 12; i++) b[i] = (uint8_t)(i + 1);
  CHECK_EQ(snow_actor_send(th_main, b, 12), 0);
  const snow_msg* m = th_wait_any();
  CHECK_EQ(snow_msg_kind(m), SNOW_MSG_USER);
  CHECK_EQ_U(m->tag, 0x0807060504030201ull);
  CHECK_EQ(m->len, 12);
  CHECK(memcmp(m->data, b, 12) == 0);
  th_end();
}

TEST_CASE(tag_of_a_message_shorter_than_8_bytes_is_zero_padded) {
  th_start();
  uint8_t b[7] = {0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF, 0x11};
  for (uint64_t n = 1; n <= 7; n++) CHECK_EQ(snow_actor_send(th_main, b, n), 0);
  for (uint64_t n = 1; n <= 7; n++) {
    const snow_msg* m = th_wait_any();
    uint64_t exp = 0;
    for (uint64_t i = 0; i < n; i++) exp |= (uint64_t)b[i] << (8 * i);
    CHECK_EQ(m->len, n);
    CHECK_EQ_U(m->tag, exp);
    CHECK(memcmp(m->data, b, n) == 0);
    CHECK_EQ(snow_msg_kind(m), SNOW_MSG_USER);
  }
  th_end();
}

TEST_CASE(message_of_size_0_has_tag_0_and_len_0) {
  th_start();
  uint8_t dummy = 0x5A;
  CHECK_EQ(snow_actor_send(th_main, NULL, 0), 0);
  CHECK_EQ(snow_actor_send(th_main, &dummy, 0), 0);
  for (int i = 0; i < 2; i++) {
    const snow_msg* m = th_wait_any();
    CHECK_EQ_U(m->tag, 0);
    CHECK_EQ(m->len, 0);
    CHECK_EQ(snow_msg_kind(m), SNOW_MSG_USER);
  }
  th_end();
}

TEST_CASE(message_between_processes_keeps_its_bytes_and_tag) {
  th_start();
  snow_pid_t p = th_spawn_puppet(0);
  /* The puppet relays the payload back to main. */
  uint8_t buf[16 + 20];
  th_put_u64(buf, C_SEND);
  th_put_u64(buf + 8, th_main);
  for (int i = 0; i < 20; i++) buf[16 + i] = (uint8_t)(0xF0 - i);
  CHECK_EQ(snow_actor_send(p, buf, sizeof buf), 0);
  const snow_msg* m = th_wait_any();
  CHECK_EQ(snow_msg_kind(m), SNOW_MSG_USER);
  CHECK_EQ(m->len, 20);
  CHECK_EQ_U(m->tag, th_get_u64(buf + 16));
  CHECK(memcmp(m->data, buf + 16, 20) == 0);
  th_end();
}

static void check_big_roundtrip(size_t n) {
  snow_pid_t p = th_spawn_puppet(0);
  uint8_t* buf = malloc(16 + n);
  CHECK(buf != NULL);
  th_put_u64(buf, C_SEND);
  th_put_u64(buf + 8, th_main);
  for (size_t i = 0; i < n; i++) buf[16 + i] = (uint8_t)(i * 13 + (i >> 11));
  CHECK_EQ(snow_actor_send(p, buf, 16 + n), 0);
  const snow_msg* m = th_wait_any();
  CHECK_EQ(m->len, n);
  CHECK(memcmp(m->data, buf + 16, n) == 0);
  free(buf);
}

TEST_CASE(large_message_16mib_arrives_intact) {
  th_start();
  check_big_roundtrip((size_t)16 << 20);
  th_end();
}

TEST_CASE(send_to_self_arrives) {
  th_start();
  CHECK_EQ(th_send2(th_main, T_MARK, 9), 0);
  th_wait_user(T_MARK, 9);
  th_end();
}

/* ------------------------------------------------------------ send errors */

TEST_CASE(send_to_a_dead_pid_returns_0) {
  th_start();
  snow_ref_t ref;
  snow_pid_t p = th_spawn_puppet_mon(0, &ref);
  CHECK_EQ(th_send1(p, C_STOP), 0);
  th_wait_down(ref);
  CHECK_EQ(th_send2(p, T_MARK, 1), 0);
  uint8_t big[4096] = {0};
  CHECK_EQ(snow_actor_send(p, big, sizeof big), 0);
  CHECK_EQ(snow_actor_send(p, NULL, 0), 0);
  th_roundtrip_ok();
  th_end();
}

TEST_CASE(send_to_a_never_used_pid_returns_0) {
  th_start();
  CHECK_EQ(th_send2(0x0000123456789abcull, T_MARK, 1), 0);
  CHECK_EQ(th_send2(th_main + 1000000, T_MARK, 1), 0);
  th_roundtrip_ok();
  th_end();
}

TEST_CASE(send_to_pid_0_returns_einval) {
  th_start();
  uint8_t b[8] = {1};
  CHECK_EQ(snow_actor_send(0, b, 8), SNOW_EINVAL);
  CHECK_EQ(snow_actor_send(0, NULL, 0), SNOW_EINVAL);
  th_roundtrip_ok();
  th_end();
}

TEST_CASE(send_null_payload_with_nonzero_size_returns_einval) {
  th_start();
  CHECK_EQ(snow_actor_send(th_main, NULL, 1), SNOW_EINVAL);
  CHECK_EQ(snow_actor_send(th_main, NULL, 100), SNOW_EINVAL);
  CHECK(snow_actor_receive(0) == NULL); /* nothing was delivered */
  th_roundtrip_ok();
  th_end();
}

/* ----------------------------------------------------------------- order */

/* args: [parent][n]: sends [T_SEQ][self][i] for i in 0..n-1. */
static void seq_sender(const uint8_t* args) {
  snow_pid_t parent = th_arg(args, 0);
  uint64_t n = th_arg(args, 1);
  snow_pid_t self = snow_actor_self();
  for (uint64_t i = 0; i < n; i++) CHECK_EQ(th_send3(parent, T_SEQ, self, i), 0);
}

TEST_CASE(messages_from_one_sender_arrive_in_send_order) {
  th_start();
  const uint64_t n = 20000;
  uint64_t w[2] = {th_main, n};
  snow_pid_t s = th_spawn_words(seq_sender, w, 2);
  for (uint64_t i = 0; i < n; i++) {
    const snow_msg* m = th_wait_any();
    CHECK_EQ_U(th_word(m, 0), T_SEQ);
    CHECK_EQ_U(th_word(m, 1), s);
    if (th_word(m, 2) != i)
      FAILF("message %llu arrived as number %llu", (unsigned long long)th_word(m, 2), (unsigned long long)i);
  }
  th_end();
}

TEST_CASE(messages_from_many_senders_keep_each_senders_order) {
  th_start();
  enum { S = 8 };
  const uint64_t n = 3000;
  snow_pid_t pids[S];
  uint64_t next[S] = {0};
  for (int i = 0; i < S; i++) {
    uint64_t w[2] = {th_main, n};
    pids[i] = th_spawn_words(seq_sender, w, 2);
  }
  for (uint64_t k = 0; k < S * n; k++) {
    const snow_msg* m = th_wait_any();
    CHECK_EQ_U(th_word(m, 0), T_SEQ);
    int who = -1;
    for (int i = 0; i < S; i++)
      if (pids[i] == th_word(m, 1)) who = i;
    CHECK(who >= 0);
    CHECK_EQ(th_word(m, 2), next[who]);
    next[who]++;
  }
  th_end();
}

static void* foreign_seq_sender(void* arg) {
  (void)arg;
  for (uint64_t i = 0; i < 500; i++) CHECK_EQ(th_send3(th_main, T_SEQ, 0, i), 0);
  return NULL;
}

TEST_CASE(send_from_a_foreign_thread_arrives_in_order) {
  th_start();
  pthread_t t;
  CHECK_EQ(pthread_create(&t, NULL, foreign_seq_sender, NULL), 0);
  for (uint64_t i = 0; i < 500; i++) {
    const snow_msg* m = th_wait_user(T_SEQ, 0);
    CHECK_EQ(th_word(m, 2), i);
  }
  pthread_join(t, NULL);
  th_end();
}

TEST_CASE(messages_to_self_arrive_in_send_order) {
  th_start();
  for (uint64_t i = 0; i < 1000; i++) CHECK_EQ(th_send3(th_main, T_SEQ, th_main, i), 0);
  for (uint64_t i = 0; i < 1000; i++) {
    const snow_msg* m = th_wait_any();
    CHECK_EQ(th_word(m, 2), i);
  }
  th_end();
}

/* -------------------------------------------------------------- timeouts */

TEST_CASE(receive_with_timeout_0_polls) {
  th_start();
  int64_t t0 = th_now_ms();
  CHECK(snow_actor_receive(0) == NULL);
  CHECK(th_now_ms() - t0 < th_slack_ms());
  CHECK_EQ(th_send2(th_main, T_MARK, 3), 0);
  const snow_msg* m = snow_actor_receive(0);
  CHECK(m != NULL);
  CHECK_EQ(th_word(m, 1), 3);
  CHECK(snow_actor_receive(0) == NULL);
  th_end();
}

static void check_on_time(int64_t elapsed_ms, int64_t timeout_ms) {
  if (elapsed_ms < timeout_ms)
    FAILF("timeout %lld ms fired after %lld ms (early)", (long long)timeout_ms, (long long)elapsed_ms);
  if (elapsed_ms >= timeout_ms + th_slack_ms())
    FAILF("timeout %lld ms fired after %lld ms (late)", (long long)timeout_ms, (long long)elapsed_ms);
}

TEST_CASE(receive_timeout_fires_on_time_on_the_main_process) {
  th_start();
  for (int64_t ms = 50; ms <= 250; ms += 100) {
    int64_t t0 = th_now_ms();
    CHECK(snow_actor_receive(ms) == NULL);
    check_on_time(th_now_ms() - t0, ms);
  }
  th_end();
}

/* args [parent][ms][kind]: measures a receive (kind 0) or receive_match
 * (kind 1) timeout and reports [T_DONE][self][elapsed ms][got NULL]. */
static int match_nothing(const snow_msg* m, void* ctx) {
  (void)m;
  (void)ctx;
  return 0;
}

static void timed_receiver(const uint8_t* args) {
  snow_pid_t parent = th_arg(args, 0);
  int64_t ms = (int64_t)th_arg(args, 1);
  uint64_t kind = th_arg(args, 2);
  int64_t t0 = th_now_ms();
  const snow_msg* m = kind == 0 ? snow_actor_receive(ms) : snow_actor_receive_match(match_nothing, NULL, ms);
  int64_t dt = th_now_ms() - t0;
  th_send4(parent, T_DONE, snow_actor_self(), (uint64_t)dt, m == NULL);
}

static void check_process_timeout(int64_t ms, uint64_t kind) {
  uint64_t w[3] = {th_main, (uint64_t)ms, kind};
  snow_pid_t p = th_spawn_words(timed_receiver, w, 3);
  const snow_msg* m = th_wait_user(T_DONE, p);
  CHECK_EQ(th_word(m, 3), 1);
  check_on_time((int64_t)th_word(m, 2), ms);
}

TEST_CASE(receive_timeout_fires_on_time_in_a_spawned_process) {
  th_start();
  check_process_timeout(100, 0);
  check_process_timeout(300, 0);
  th_end();
}

TEST_CASE(receive_match_timeout_fires_on_time_in_a_spawned_process) {
  th_start();
  check_process_timeout(100, 1);
  th_end();
}

TEST_CASE(receive_match_timeout_fires_on_time_even_when_messages_arrive) {
  th_start();
  /* Non-matching messages keep arriving while the main process waits. */
  for (int i = 1; i <= 8; i++) {
    uint8_t b[16];
    th_put_u64(b, T_MARK);
    th_put_u64(b + 8, (uint64_t)i);
    CHECK(snow_timer_send_after(th_main, 25 * i, b, 16) != 0);
  }
  int64_t t0 = th_now_ms();
  CHECK(snow_actor_receive_match(match_nothing, NULL, 150) == NULL);
  check_on_time(th_now_ms() - t0, 150);
  th_end();
}

TEST_CASE(receive_timeout_fires_on_time_while_other_processes_are_busy) {
  th_start_n(1);
  snow_pid_t l1 = th_spawn_puppet(0), l2 = th_spawn_puppet(0);
  CHECK_EQ(th_send1(l1, C_LOOP), 0);
  CHECK_EQ(th_send1(l2, C_LOOP), 0);
  th_wait_user(T_LOOPING, l1);
  th_wait_user(T_LOOPING, l2);
  check_process_timeout(200, 0);
  CHECK_EQ(snow_actor_exit(l1, SNOW_REASON_KILLED), 0);
  CHECK_EQ(snow_actor_exit(l2, SNOW_REASON_KILLED), 0);
  th_end();
}

TEST_CASE(receive_forever_returns_a_message_that_arrives_later) {
  th_start();
  uint8_t b[16];
  th_put_u64(b, T_MARK);
  th_put_u64(b + 8, 5);
  CHECK(snow_timer_send_after(th_main, 100, b, 16) != 0);
  const snow_msg* m = snow_actor_receive(-1);
  CHECK(m != NULL);
  CHECK_EQ_U(th_word(m, 0), T_MARK);
  th_end();
}

/* ------------------------------------------------------- selective receive */

static int match_tag_ctx(const snow_msg* m, void* ctx) {
  return snow_msg_kind(m) == SNOW_MSG_USER && m->len >= 8 && th_word(m, 0) == *(uint64_t*)ctx;
}

TEST_CASE(receive_match_takes_the_oldest_match_and_keeps_the_others_in_order) {
  th_start();
  enum { A = 0xA1, B = 0xB2 };
  const uint64_t tags[] = {A, B, A, B, A};
  for (uint64_t i = 0; i < 5; i++) CHECK_EQ(th_send3(th_main, tags[i], th_main, i), 0);
  uint64_t want = B;
  const snow_msg* m = snow_actor_receive_match(match_tag_ctx, &want, th_wait_ms());
  CHECK(m != NULL);
  CHECK_EQ(th_word(m, 2), 1);
  const uint64_t rest[] = {0, 2, 3, 4};
  for (int i = 0; i < 4; i++) {
    m = snow_actor_receive(0);
    CHECK(m != NULL);
    CHECK_EQ(th_word(m, 2), rest[i]);
  }
  CHECK(snow_actor_receive(0) == NULL);
  th_end();
}

typedef struct offer_count {
  int offered[16];
  int others;
} offer_count;

static int count_and_match_10(const snow_msg* m, void* ctx) {
  offer_count* c = ctx;
  if (snow_msg_kind(m) != SNOW_MSG_USER || m->len < 24 || th_word(m, 0) != T_SEQ) {
    c->others++;
    return 0;
  }
  uint64_t s = th_word(m, 2);
  if (s < 16) c->offered[s]++;
  return s == 10;
}

TEST_CASE(receive_match_does_not_offer_rejected_messages_again_while_waiting) {
  th_start();
  /* 0..4 already queued, 5..9 arrive while waiting, then the match (10). */
  for (uint64_t i = 0; i < 5; i++) CHECK_EQ(th_send3(th_main, T_SEQ, 0, i), 0);
  for (uint64_t i = 5; i <= 10; i++) {
    uint8_t b[24];
    th_put_u64(b, T_SEQ);
    th_put_u64(b + 8, 0);
    th_put_u64(b + 16, i);
    CHECK(snow_timer_send_after(th_main, (int64_t)(i - 4) * 20, b, 24) != 0);
  }
  offer_count c;
  memset(&c, 0, sizeof c);
  const snow_msg* m = snow_actor_receive_match(count_and_match_10, &c, th_wait_ms());
  CHECK(m != NULL);
  CHECK_EQ(th_word(m, 2), 10);
  for (int i = 0; i <= 10; i++)
    if (c.offered[i] != 1) FAILF("message %d was offered %d times", i, c.offered[i]);
  CHECK_EQ(c.others, 0);
  /* The rejected ones are all still there, the first five in order. */
  bool seen[10] = {false};
  for (uint64_t i = 0; i < 10; i++) {
    m = snow_actor_receive(0);
    CHECK(m != NULL);
    uint64_t s = th_word(m, 2);
    if (i < 5) CHECK_EQ(s, i);
    CHECK(s < 10 && !seen[s]);
    seen[s] = true;
  }
  CHECK(snow_actor_receive(0) == NULL);
  th_end();
}

TEST_CASE(receive_match_timeout_returns_null_and_keeps_the_messages) {
  th_start();
  for (uint64_t i = 0; i < 3; i++) CHECK_EQ(th_send3(th_main, T_SEQ, 0, i), 0);
  int64_t t0 = th_now_ms();
  CHECK(snow_actor_receive_match(match_nothing, NULL, 100) == NULL);
  check_on_time(th_now_ms() - t0, 100);
  for (uint64_t i = 0; i < 3; i++) {
    const snow_msg* m = snow_actor_receive(0);
    CHECK(m != NULL);
    CHECK_EQ(th_word(m, 2), i);
  }
  th_end();
}

TEST_CASE(receive_match_with_null_match_returns_null) {
  th_start();
  CHECK_EQ(th_send2(th_main, T_MARK, 1), 0);
  CHECK(snow_actor_receive_match(NULL, NULL, 0) == NULL);
  CHECK(snow_actor_receive_match(NULL, NULL, 50) == NULL);
  th_wait_user(T_MARK, 1); /* still there */
  th_end();
}

TEST_CASE(receive_match_with_timeout_0_polls) {
  th_start();
  uint64_t want = T_MARK;
  int64_t t0 = th_now_ms();
  CHECK(snow_actor_receive_match(match_tag_ctx, &want, 0) == NULL);
  CHECK(th_now_ms() - t0 < th_slack_ms());
  CHECK_EQ(th_send2(th_main, T_SEQ, 1), 0);
  CHECK_EQ(th_send2(th_main, T_MARK, 2), 0);
  const snow_msg* m = snow_actor_receive_match(match_tag_ctx, &want, 0);
  CHECK(m != NULL);
  CHECK_EQ(th_word(m, 1), 2);
  th_end();
}

/* ----------------------------------------------------------- message kinds */

TEST_CASE(user_message_whose_tag_equals_a_reserved_value_is_still_user) {
  th_start();
  const uint64_t reserved[] = {SNOW_TAG_EXIT,   SNOW_TAG_DOWN,        SNOW_TAG_NODEDOWN,
                               SNOW_TAG_NODEUP, SNOW_TAG_SPAWN_REPLY, SNOW_TAG_TERM};
  for (int i = 0; i < 6; i++) {
    /* Shaped like the system message too: [tag][pid][reason]. */
    uint8_t b[8 + 8 + 8 + 1];
    th_put_u64(b, reserved[i]);
    th_put_u64(b + 8, th_main);
    th_put_u64(b + 16, th_main);
    b[24] = SNOW_REASON_KILLED;
    CHECK_EQ(snow_actor_send(th_main, b, 8), 0);
    CHECK_EQ(snow_actor_send(th_main, b, sizeof b), 0);
  }
  for (int i = 0; i < 6; i++) {
    for (int k = 0; k < 2; k++) {
      const snow_msg* m = th_wait_any();
      CHECK_EQ_U(m->tag, reserved[i]);
      CHECK_EQ(snow_msg_kind(m), SNOW_MSG_USER);
      CHECK_EQ(m->len, k == 0 ? 8 : 25);
    }
  }
  th_end();
}

TEST_CASE(msg_kind_of_an_exit_message_is_exit) {
  th_start();
  snow_actor_set_trap_exit(true);
  snow_pid_t p = th_spawn_puppet(0);
  CHECK_EQ(snow_actor_link(p), 0);
  uint8_t r[1] = {SNOW_REASON_SHUTDOWN};
  th_puppet_exit_self(p, r, 1);
  const snow_msg* m = th_wait_exit(p);
  CHECK_EQ(snow_msg_kind(m), SNOW_MSG_EXIT);
  CHECK_EQ_U(m->tag, SNOW_TAG_EXIT);
  CHECK_EQ(m->len, 9);
  CHECK_EQ_U(th_get_u64(m->data), p);
  CHECK_EQ(m->data[8], SNOW_REASON_SHUTDOWN);
  th_end();
}

TEST_CASE(msg_kind_of_a_down_message_is_down) {
  th_start();
  snow_pid_t p = th_spawn_puppet(0);
  snow_ref_t ref = snow_process_monitor(p);
  CHECK(ref != 0);
  CHECK_EQ(th_send1(p, C_STOP), 0);
  const snow_msg* m = th_wait_down(ref);
  CHECK_EQ(snow_msg_kind(m), SNOW_MSG_DOWN);
  CHECK_EQ_U(m->tag, SNOW_TAG_DOWN);
  CHECK_EQ(m->len, 17);
  CHECK_EQ_U(th_get_u64(m->data), ref);
  CHECK_EQ_U(th_get_u64(m->data + 8), p);
  CHECK_EQ(m->data[16], SNOW_REASON_NORMAL);
  th_end();
}

static int match_kind(const snow_msg* m, void* ctx) { return snow_msg_kind(m) == *(uint32_t*)ctx; }

TEST_CASE(msg_kind_of_a_nodedown_message_is_nodedown) {
  th_start();
  const char* node = "nosuchnode@nowhere.invalid";
  int64_t id = snow_node_monitor(node, strlen(node));
  CHECK(id > 0);
  uint32_t k = SNOW_MSG_NODEDOWN;
  const snow_msg* m = snow_actor_receive_match(match_kind, &k, th_wait_ms());
  CHECK(m != NULL);
  CHECK_EQ_U(m->tag, SNOW_TAG_NODEDOWN);
  CHECK_EQ(m->len, strlen(node));
  CHECK(memcmp(m->data, node, strlen(node)) == 0);
  th_end();
}

TEST_CASE(msg_kind_of_a_term_message_is_term) {
  th_start();
  const uint8_t etf[] = {131, 97, 42}; /* SMALL_INTEGER_EXT 42 */
  CHECK_EQ(snow_actor_send_term(th_main, etf, sizeof etf), 0);
  uint32_t k = SNOW_MSG_TERM;
  const snow_msg* m = snow_actor_receive_match(match_kind, &k, th_wait_ms());
  CHECK(m != NULL);
  CHECK_EQ_U(m->tag, SNOW_TAG_TERM);
  CHECK_EQ(m->len, sizeof etf);
  CHECK(memcmp(m->data, etf, sizeof etf) == 0);
  th_end();
}

/* snow_actor_send_named_term to a local name: the registered process gets
 * the term as a TERM message (version byte added when left out); an
 * unknown name drops it; a malformed term or name is refused. */
TEST_CASE(send_named_term_reaches_the_registered_process) {
  th_start();
  CHECK_EQ(snow_actor_register("named_term", 10), 0);
  const uint8_t bare[] = {97, 7}; /* SMALL_INTEGER_EXT 7, no version byte */
  CHECK_EQ(snow_actor_send_named_term("named_term", 10, NULL, 0, bare, sizeof bare), 0);
  uint32_t k = SNOW_MSG_TERM;
  const snow_msg* m = snow_actor_receive_match(match_kind, &k, th_wait_ms());
  CHECK(m != NULL);
  CHECK_EQ(m->len, 3);
  CHECK(m->data[0] == 131 && m->data[1] == 97 && m->data[2] == 7);
  CHECK_EQ(snow_actor_send_named_term("nobody_here", 11, NULL, 0, bare, sizeof bare), 0);
  CHECK(snow_actor_receive(0) == NULL);
  const uint8_t bad[] = {131, 104, 2, 97}; /* a tuple cut short */
  CHECK_EQ(snow_actor_send_named_term("named_term", 10, NULL, 0, bad, sizeof bad), SNOW_EINVAL);
  CHECK_EQ(snow_actor_send_named_term("named_term", 10, NULL, 0, NULL, 0), SNOW_EINVAL);
  CHECK_EQ(snow_actor_send_named_term(NULL, 3, NULL, 0, bare, sizeof bare), SNOW_EBADNAME);
  CHECK_EQ(snow_actor_send_named_term("named_term", 10, "b@127.0.0.1", 11, bare, sizeof bare), SNOW_ENONODE);
  CHECK_EQ(snow_actor_unregister("named_term", 10), 0);
  th_end();
}

/* Erlang accepts a term nested to any depth; so must send_term (and a
 * node receiving one must not drop the connection it came on). */
TEST_CASE(send_term_takes_a_term_nested_2000_deep) {
  th_start();
  enum { DEPTH = 2000 };
  static uint8_t etf[2 + 2 * DEPTH];
  etf[0] = 131;
  for (int i = 0; i < DEPTH; i++) {
    etf[1 + 2 * i] = 104; /* SMALL_TUPLE_EXT, arity 1 */
    etf[2 + 2 * i] = 1;
  }
  etf[1 + 2 * DEPTH] = 106; /* NIL_EXT */
  CHECK_EQ(snow_actor_send_term(th_main, etf, sizeof etf), 0);
  uint32_t k = SNOW_MSG_TERM;
  const snow_msg* m = snow_actor_receive_match(match_kind, &k, th_wait_ms());
  CHECK(m != NULL);
  CHECK_EQ(m->len, sizeof etf);
  CHECK(memcmp(m->data, etf, sizeof etf) == 0);
  th_end();
}

TEST_CASE(msg_kind_of_null_or_foreign_memory_is_user) {
  th_start();
  CHECK_EQ(snow_msg_kind(NULL), SNOW_MSG_USER);
  struct {
    uint64_t tag, len;
    uint8_t data[16];
  } fake = {SNOW_TAG_EXIT, 9, {0}};
  CHECK_EQ(snow_msg_kind((const snow_msg*)&fake), SNOW_MSG_USER);
  fake.tag = SNOW_TAG_DOWN;
  CHECK_EQ(snow_msg_kind((const snow_msg*)&fake), SNOW_MSG_USER);
  th_end();
}

/* ------------------------------------------------------ lifetime of msg */

static void pattern_sender(const uint8_t* args) {
  snow_pid_t parent = th_arg(args, 0);
  uint8_t b[4096];
  for (int k = 0; k < 20; k++) {
    memset(b, 0x30 + k, sizeof b);
    th_put_u64(b, T_SEQ);
    snow_actor_send(parent, b, sizeof b);
  }
}

TEST_CASE(received_message_stays_valid_until_the_next_receive) {
  th_start();
  const size_t n = 65536;
  uint8_t* b = malloc(n);
  CHECK(b != NULL);
  for (size_t i = 0; i < n; i++) b[i] = (uint8_t)(i * 31 + 7);
  th_put_u64(b, T_MARK);
  CHECK_EQ(snow_actor_send(th_main, b, n), 0);
  const snow_msg* m = th_wait_user(T_MARK, TH_ANY_PID);
  /* Lots of activity that is not a receive by this process. */
  uint64_t w[1] = {th_main};
  for (int i = 0; i < 10; i++) th_spawn_words(pattern_sender, w, 1);
  uint8_t* junk = malloc(n);
  CHECK(junk != NULL);
  for (int i = 0; i < 50; i++) {
    memset(junk, i, n);
    CHECK_EQ(snow_actor_send(th_main, junk, n), 0);
  }
  snow_timer_sleep(20);
  void* mem = snow_gc_alloc_actor(1 << 20, 16);
  CHECK(mem != NULL);
  memset(mem, 0xAB, 1 << 20);
  CHECK_EQ(m->len, n);
  CHECK(memcmp(m->data, b, n) == 0);
  /* The next receive works and the rest is intact. */
  const snow_msg* m2 = th_wait_any();
  CHECK(m2->len == n || m2->len == 4096);
  free(junk);
  free(b);
  th_end();
}
