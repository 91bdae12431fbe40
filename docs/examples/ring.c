/*
 * ring.c: a ring of N processes passing a token M times around.
 *
 *   usage: snow_ring [processes (default 1000)] [rounds (default 100)]
 *
 * Shows: spawn arguments, tagged user messages, the registry
 * (snow_actor_register / snow_actor_send_named), the reduction check in a
 * long-running loop (the inline fast path of codegen-shims/snowrt_inline.h),
 * a send_after timer used as a deadline and cancelled, selective receive,
 * and links used to take the whole ring down: every node links to its
 * successor, so one exit signal `shutdown` to one node ends them all, and
 * main, which monitors every node, counts the DOWN messages.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */

#include <snowrt.h>
#include <snowrt_inline.h> /* snow_reduction_check_inline(): the fast path generated code uses */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum {
  TAG_NEXT = 1,   /* [tag][next pid]: your successor */
  TAG_LINKED = 2, /* [tag][index]: linked to my successor */
  TAG_TOKEN = 3,  /* [tag][hops left][checksum] */
  TAG_DONE = 4,   /* [tag][index][checksum]: sent by name to "ring_main" */
  TAG_TIMEOUT = 5 /* [tag]: main's deadline */
};

#define MAIN_NAME "ring_main"

static void put_u64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
  return v;
}

static void send3(snow_pid_t to, uint64_t tag, uint64_t a, uint64_t b) {
  uint8_t buf[24];
  put_u64(buf, tag);
  put_u64(buf + 8, a);
  put_u64(buf + 16, b);
  snow_actor_send(to, buf, sizeof buf);
}

/* The work each hop does on the token: a loop long enough that generated
 * code would put a reduction check on its back-edge. A C loop that may run
 * for long should do the same, so other processes on this worker get their
 * turn and a pending kill takes effect. The inline check counts down a
 * thread-local budget and calls the real snow_reduction_check() once every
 * SNOW_INLINE_BUDGET (64) checks. */
static uint64_t mix(uint64_t checksum, uint64_t index) {
  for (int i = 0; i < 64; i++) {
    checksum = (checksum ^ (index + (uint64_t)i)) * 0x100000001b3ull;
    snow_reduction_check_inline();
  }
  return checksum;
}

static void node(const uint8_t* args) {
  uint64_t index = get_u64(args);
  snow_pid_t main_pid = get_u64(args + 8);
  snow_pid_t next = 0;
  for (;;) {
    const snow_msg* m = snow_actor_receive(-1);
    if (m == NULL || snow_msg_kind(m) != SNOW_MSG_USER || m->len < 24) continue;
    if (m->tag == TAG_NEXT) {
      next = get_u64(m->data + 8);
      snow_actor_link(next); /* links are bidirectional: the ring is linked all round */
      send3(main_pid, TAG_LINKED, index, 0);
    } else if (m->tag == TAG_TOKEN) {
      uint64_t left = get_u64(m->data + 8);
      uint64_t sum = mix(get_u64(m->data + 16), index);
      if (left == 0) {
        uint8_t done[24];
        put_u64(done, TAG_DONE);
        put_u64(done + 8, index);
        put_u64(done + 16, sum);
        snow_actor_send_named(MAIN_NAME, strlen(MAIN_NAME), NULL, 0, done, sizeof done);
      } else {
        send3(next, TAG_TOKEN, left - 1, sum);
      }
    }
  }
}

static int is_done_or_timeout(const snow_msg* m, void* ctx) {
  (void)ctx;
  return snow_msg_kind(m) == SNOW_MSG_USER && (m->tag == TAG_DONE || m->tag == TAG_TIMEOUT);
}

static int is_down(const snow_msg* m, void* ctx) {
  (void)ctx;
  return snow_msg_kind(m) == SNOW_MSG_DOWN;
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int finish(int status) {
  int32_t rc = snow_rt_run_scheduler();
  printf("ring: snow_rt_run_scheduler returned %d\n", (int)rc);
  return status != 0 ? status : rc;
}

int main(int argc, char** argv) {
  uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000;
  uint64_t rounds = argc > 2 ? strtoull(argv[2], NULL, 10) : 100;
  if (n < 2 || n > 10000000 || rounds < 1) {
    fprintf(stderr, "usage: %s [processes >= 2] [rounds >= 1]\n", argv[0]);
    return 2;
  }

  snow_rt_init();
  if (snow_rt_init_actor(0) < 0) return 1;
  snow_pid_t self = snow_actor_self();
  int32_t rc = snow_actor_register(MAIN_NAME, strlen(MAIN_NAME));
  if (rc < 0) {
    fprintf(stderr, "register: %s\n", snow_strerror(rc));
    return finish(1);
  }

  snow_pid_t* pids = malloc(n * sizeof *pids); /* heap memory: safe to keep across receives */
  if (pids == NULL) return finish(1);
  double t0 = now_ms();
  for (uint64_t i = 0; i < n; i++) {
    uint8_t args[16];
    put_u64(args, i);
    put_u64(args + 8, self);
    pids[i] = snow_actor_spawn(node, args, sizeof args, SNOW_PRIO_NORMAL);
    if (pids[i] == 0 || snow_process_monitor(pids[i]) == 0) {
      fprintf(stderr, "spawn or monitor failed at %" PRIu64 "\n", i);
      return finish(1);
    }
  }
  for (uint64_t i = 0; i < n; i++) send3(pids[i], TAG_NEXT, pids[(i + 1) % n], 0);
  for (uint64_t i = 0; i < n; i++) {
    const snow_msg* m = snow_actor_receive(5000);
    if (m == NULL || m->tag != TAG_LINKED) {
      fprintf(stderr, "ring: node %" PRIu64 " of %" PRIu64 " did not report\n", i, n);
      return finish(1);
    }
  }
  double t1 = now_ms();
  printf("ring: %" PRIu64 " processes spawned, monitored and linked in a ring in %.1f ms\n", n, t1 - t0);

  /* A deadline for the whole run: a timer message to ourselves, cancelled
   * when the token comes back in time. */
  uint8_t timeout_msg[8];
  put_u64(timeout_msg, TAG_TIMEOUT);
  snow_ref_t timer = snow_timer_send_after(self, 30000, timeout_msg, sizeof timeout_msg);

  uint64_t hops = n * rounds;
  send3(pids[0], TAG_TOKEN, hops - 1, 0xcbf29ce484222325ull);
  const snow_msg* m = snow_actor_receive_match(is_done_or_timeout, NULL, -1);
  double t2 = now_ms();
  if (m == NULL || m->tag == TAG_TIMEOUT) {
    fprintf(stderr, "ring: the token did not come back within 30 s\n");
    return finish(1);
  }
  int64_t cancelled = snow_timer_cancel(timer);
  uint64_t last = get_u64(m->data + 8), sum = get_u64(m->data + 16);

  /* The same computation done here, to check that every hop happened once
   * and in order. */
  uint64_t expect = 0xcbf29ce484222325ull;
  for (uint64_t h = 0; h < hops; h++) expect = mix(expect, h % n);
  printf("ring: token made %" PRIu64 " hops (%" PRIu64 " rounds), ended at node %" PRIu64 ", checksum %s\n", hops,
         rounds, last, sum == expect ? "ok" : "WRONG");
  printf("ring: %.1f ms, %.0f ns per hop; deadline timer %s\n", t2 - t1, (t2 - t1) * 1e6 / (double)hops,
         cancelled == 0 ? "cancelled" : "had already fired");

  /* One exit signal takes the ring down: node 0 dies with `shutdown`, and
   * so, through the links, does every other node. */
  snow_actor_exit(pids[0], SNOW_REASON_SHUTDOWN);
  uint64_t downs = 0, shutdowns = 0;
  while (downs < n) {
    m = snow_actor_receive_match(is_down, NULL, 5000);
    if (m == NULL) break;
    downs++;
    if (m->len >= 17 && m->data[16] == SNOW_REASON_SHUTDOWN) shutdowns++;
  }
  printf("ring: %" PRIu64 " DOWN messages, %" PRIu64 " with reason shutdown\n", downs, shutdowns);
  free(pids);
  return finish(downs == n && shutdowns == n && sum == expect ? 0 : 1);
}
