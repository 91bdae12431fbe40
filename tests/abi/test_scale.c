/* Scale: many processes and messages, on 1 and N schedulers (registered
 * twice in CMake). No leaks: processes_alive returns to its baseline (the
 * ASan run checks memory). */
#include "harness.h"

#include <stdlib.h>

/* TSan counts every fiber as a thread (limit 8128) and is ~50x slower on
 * spawn: smaller populations there. */
#ifdef SNOW_SANITIZE_THREAD
#define SCALE_BATCHES 2
#define SCALE_LIVE 4000
#else
#define SCALE_BATCHES 10
#define SCALE_LIVE 10000
#endif

static snow_stats stats_now(void) {
  snow_stats s;
  CHECK_EQ(snow_rt_stats(&s), 0);
  return s;
}

static bool alive_at_most(void* ctx) { return stats_now().processes_alive <= *(uint64_t*)ctx; }

static void ack_and_exit(const uint8_t* args) {
  uint8_t b[8];
  th_put_u64(b, T_DONE);
  snow_actor_send(th_arg(args, 0), b, 8);
}

TEST_CASE_TIMEOUT(spawn_100k_processes_that_exit_leaves_none_behind, 120) {
  th_start();
  uint64_t base = stats_now().processes_alive;
  uint8_t args[8];
  th_put_u64(args, th_main);
  const int batches = SCALE_BATCHES, per = 10000;
  for (int b = 0; b < batches; b++) {
    for (int i = 0; i < per; i++)
      if (!snow_actor_spawn(ack_and_exit, args, 8, SNOW_PRIO_NORMAL)) FAILF("spawn %d of batch %d returned 0", i, b);
    for (int i = 0; i < per; i++) {
      const snow_msg* m = snow_actor_receive(th_wait_ms());
      if (!m) FAILF("batch %d: only %d of %d acks", b, i, per);
    }
  }
  th_wait_until(alive_at_most, &base, "processes_alive back to baseline after 100k exits");
  snow_stats s = stats_now();
  CHECK(s.processes_exited >= (uint64_t)batches * per);
  th_end();
}

static void wait_forever(const uint8_t* args) {
  (void)args;
  (void)snow_actor_receive(-1);
}

TEST_CASE_TIMEOUT(ten_thousand_waiting_processes_are_all_killed, 120) {
  th_start();
  uint64_t base = stats_now().processes_alive;
  enum { N = SCALE_LIVE };
  static snow_pid_t pids[N];
  static snow_ref_t refs[N];
  for (int i = 0; i < N; i++) {
    snow_spawn_opts o;
    memset(&o, 0, sizeof o);
    o.monitor = 1;
    pids[i] = snow_actor_spawn_opts(wait_forever, NULL, 0, &o);
    CHECK(pids[i] != 0);
    refs[i] = o.monitor_ref;
  }
  CHECK_EQ(stats_now().processes_alive - base, N);
  for (int i = 0; i < N; i++) CHECK_EQ(snow_actor_exit(pids[i], SNOW_REASON_KILLED), 0);
  for (int i = 0; i < N; i++) {
    const snow_msg* m = th_wait_down(0);
    size_t rl;
    const uint8_t* r = th_down_reason(m, &rl);
    CHECK(rl == 1 && r[0] == SNOW_REASON_KILLED);
  }
  th_wait_until(alive_at_most, &base, "processes_alive back to baseline after the kills");
  (void)refs;
  th_end();
}

/* Ring node: first message [T_GO][next]; then tokens [T_SEQ][hops][total]
 * are forwarded with hops+1 until total, which goes to main; C_STOP ends. */
static void ring_node(const uint8_t* args) {
  snow_pid_t mainpid = th_arg(args, 0);
  const snow_msg* m = snow_actor_receive(th_wait_ms());
  CHECK(m != NULL && th_word(m, 0) == T_GO);
  snow_pid_t next = th_word(m, 1);
  for (;;) {
    m = snow_actor_receive(-1);
    CHECK(m != NULL);
    uint64_t tag = th_word(m, 0);
    if (tag == C_STOP) return;
    CHECK_EQ_U(tag, T_SEQ);
    uint64_t hops = th_word(m, 1) + 1, total = th_word(m, 2);
    if (hops == total) CHECK_EQ(th_send3(mainpid, T_DONE, hops, total), 0);
    else CHECK_EQ(th_send3(next, T_SEQ, hops, total), 0);
  }
}

TEST_CASE(ring_of_1000_processes_passes_a_token_10_rounds) {
  th_start();
  uint64_t base = stats_now().processes_alive;
  enum { N = 1000, ROUNDS = 10 };
  static snow_pid_t ring[N];
  static snow_ref_t refs[N];
  uint8_t args[8];
  th_put_u64(args, th_main);
  for (int i = 0; i < N; i++) {
    snow_spawn_opts o;
    memset(&o, 0, sizeof o);
    o.monitor = 1;
    ring[i] = snow_actor_spawn_opts(ring_node, args, 8, &o);
    CHECK(ring[i] != 0);
    refs[i] = o.monitor_ref;
  }
  for (int i = 0; i < N; i++) CHECK_EQ(th_send2(ring[i], T_GO, ring[(i + 1) % N]), 0);
  CHECK_EQ(th_send3(ring[0], T_SEQ, 0, (uint64_t)N * ROUNDS), 0);
  const snow_msg* m = th_wait_user(T_DONE, (uint64_t)N * ROUNDS);
  CHECK_EQ(th_word(m, 2), (uint64_t)N * ROUNDS);
  for (int i = 0; i < N; i++) CHECK_EQ(th_send1(ring[i], C_STOP), 0);
  uint8_t normal[1] = {SNOW_REASON_NORMAL};
  for (int i = 0; i < N; i++) th_expect_down(refs[i], ring[i], normal, 1);
  th_wait_until(alive_at_most, &base, "ring processes all gone");
  th_end();
}

TEST_CASE(ten_tokens_circulate_a_ring_concurrently) {
  th_start();
  enum { N = 500, TOKENS = 10, HOPS = 2000 };
  static snow_pid_t ring[N];
  uint8_t args[8];
  th_put_u64(args, th_main);
  for (int i = 0; i < N; i++) {
    ring[i] = snow_actor_spawn(ring_node, args, 8, SNOW_PRIO_NORMAL);
    CHECK(ring[i] != 0);
  }
  for (int i = 0; i < N; i++) CHECK_EQ(th_send2(ring[i], T_GO, ring[(i + 1) % N]), 0);
  for (int t = 0; t < TOKENS; t++) CHECK_EQ(th_send3(ring[(t * 50) % N], T_SEQ, 0, HOPS), 0);
  for (int t = 0; t < TOKENS; t++) th_wait_user(T_DONE, HOPS);
  for (int i = 0; i < N; i++) CHECK_EQ(th_send1(ring[i], C_STOP), 0);
  th_end();
}

/* Pinger: args [parent][peer or 0][rounds]. With a peer it starts; each
 * side answers each ball; the starter reports after `rounds`. */
static void pinger(const uint8_t* args) {
  snow_pid_t parent = th_arg(args, 0);
  snow_pid_t peer = th_arg(args, 1);
  uint64_t rounds = th_arg(args, 2);
  snow_pid_t self = snow_actor_self();
  if (peer) {
    for (uint64_t i = 0; i < rounds; i++) {
      CHECK_EQ(th_send3(peer, T_SEQ, self, i), 0);
      const snow_msg* m = snow_actor_receive(th_wait_ms());
      CHECK(m != NULL);
      CHECK_EQ(th_word(m, 2), i);
    }
    CHECK_EQ(th_send1(peer, C_STOP), 0);
    th_send2(parent, T_DONE, self);
  } else {
    for (;;) {
      const snow_msg* m = snow_actor_receive(-1);
      CHECK(m != NULL);
      if (th_word(m, 0) == C_STOP) return;
      CHECK_EQ(th_send3(th_word(m, 1), T_SEQ, self, th_word(m, 2)), 0);
    }
  }
}

TEST_CASE(two_hundred_pairs_play_ping_pong) {
  th_start();
  enum { P = 200, ROUNDS = 200 };
  for (int i = 0; i < P; i++) {
    uint64_t w[3] = {th_main, 0, 0};
    snow_pid_t ponger = th_spawn_words(pinger, w, 3);
    uint64_t w2[3] = {th_main, ponger, ROUNDS};
    th_spawn_words(pinger, w2, 3);
  }
  for (int i = 0; i < P; i++) th_wait_user(T_DONE, TH_ANY_PID);
  th_end();
}

static void seq_sender(const uint8_t* args) {
  snow_pid_t parent = th_arg(args, 0);
  uint64_t n = th_arg(args, 1);
  snow_pid_t self = snow_actor_self();
  for (uint64_t i = 0; i < n; i++) CHECK_EQ(th_send3(parent, T_SEQ, self, i), 0);
}

TEST_CASE(hundred_senders_to_one_receiver_keep_per_sender_order) {
  th_start();
  enum { S = 100, N = 1000 };
  static snow_pid_t pids[S];
  static uint64_t next[S];
  for (int i = 0; i < S; i++) {
    uint64_t w[2] = {th_main, N};
    pids[i] = th_spawn_words(seq_sender, w, 2);
  }
  for (long k = 0; k < (long)S * N; k++) {
    const snow_msg* m = th_wait_any();
    snow_pid_t from = th_word(m, 1);
    int who = -1;
    for (int i = 0; i < S; i++)
      if (pids[i] == from) {
        who = i;
        break;
      }
    CHECK(who >= 0);
    CHECK_EQ(th_word(m, 2), next[who]);
    next[who]++;
  }
  th_end();
}

/* args [main][depth]: spawns the next link of the chain; the last reports. */
static void chain_link(const uint8_t* args) {
  snow_pid_t mainpid = th_arg(args, 0);
  uint64_t depth = th_arg(args, 1);
  if (depth == 0) {
    th_send2(mainpid, T_DONE, snow_actor_self());
    return;
  }
  uint64_t w[2] = {mainpid, depth - 1};
  th_spawn_words(chain_link, w, 2);
}

/* 10,000 spawns one after the other: under TSan each costs milliseconds
 * (a fiber and its shadow memory), so the end gets four event deadlines. */
TEST_CASE_TIMEOUT(chain_of_10000_spawns_reaches_its_end, 60) {
  th_start();
  uint64_t base = stats_now().processes_alive;
  uint64_t w[2] = {th_main, 10000};
  th_spawn_words(chain_link, w, 2);
  th__wait(__FILE__, __LINE__, th_m_user(T_DONE, TH_ANY_PID), 4 * th_wait_ms());
  th_wait_until(alive_at_most, &base, "chain processes all gone");
  th_end();
}

/* Replies to one message, then exits. */
static void replier(const uint8_t* args) {
  snow_pid_t parent = th_arg(args, 0);
  const snow_msg* m = snow_actor_receive(th_wait_ms());
  CHECK(m != NULL);
  th_send3(parent, T_ECHO, snow_actor_self(), th_word(m, 1));
}

TEST_CASE(fan_out_to_2000_processes_and_back) {
  th_start();
  enum { N = 2000 };
  static snow_pid_t pids[N];
  uint64_t w[1] = {th_main};
  for (int i = 0; i < N; i++) pids[i] = th_spawn_words(replier, w, 1);
  for (int i = 0; i < N; i++) CHECK_EQ(th_send2(pids[i], T_GO, (uint64_t)i), 0);
  static bool seen[N];
  for (int i = 0; i < N; i++) {
    const snow_msg* m = th_wait_user(T_ECHO, TH_ANY_PID);
    uint64_t k = th_word(m, 2);
    CHECK(k < N && !seen[k] && pids[k] == th_word(m, 1));
    seen[k] = true;
  }
  th_end();
}

TEST_CASE(mass_link_crash_kills_every_linked_process) {
  th_start();
  uint64_t base = stats_now().processes_alive;
  enum { N = 2000 };
  snow_ref_t href;
  snow_pid_t hub = th_spawn_puppet_mon(0, &href);
  static snow_ref_t refs[N];
  for (int i = 0; i < N; i++) {
    snow_spawn_opts o;
    memset(&o, 0, sizeof o);
    o.monitor = 1;
    snow_pid_t p = snow_actor_spawn_opts(wait_forever, NULL, 0, &o);
    CHECK(p != 0);
    refs[i] = o.monitor_ref;
    CHECK_EQ(th_puppet_call(hub, C_LINK, p, T_LINKED), 0);
  }
  uint8_t r[32];
  size_t rl = th_reason_str(r, SNOW_REASON_CUSTOM, "mass");
  th_puppet_exit_self(hub, r, rl);
  for (int i = 0; i < N + 1; i++) {
    const snow_msg* m = th_wait_down(0);
    size_t gl;
    const uint8_t* g = th_down_reason(m, &gl);
    CHECK_REASON(g, gl, r, rl);
  }
  th_wait_until(alive_at_most, &base, "all linked processes gone");
  (void)refs;
  th_end();
}
