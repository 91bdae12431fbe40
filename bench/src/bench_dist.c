/*
 * bench_dist.c: distribution scenarios of libsnowrt, two (or three) nodes on
 * 127.0.0.1, mirroring the BEAM peer's dist scenarios (same ids).
 *
 *   bench_dist [--quick|--full] [--mode=unpinned|pinned] [--tick=S] [scenario|all]
 *
 * This OS process is node a (the measurer). It starts node b (a long-lived
 * peer: this same program with --peer) and, for the node-loss scenarios, a
 * fresh node per iteration that it SIGKILLs or SIGSTOPs itself, stamping
 * CLOCK_MONOTONIC right before kill(2). Peers inherit the CPU mask, so
 * `taskset -c 0 bench_dist --mode=pinned` pins every node to CPU0.
 *
 * Processes on the peer learn the measurer's pid from their spawn
 * arguments (external term format, snow_term_encode_pid). One-way stamps
 * taken on the peer travel through a shared file in /dev/shm.
 *
 * When the runtime has no distribution (snow_node_start fails), every
 * scenario prints error=not_implemented.
 */
#include "bench_common.h"

#include <errno.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

extern char** environ;

#ifndef FANOUT
#define FANOUT 10000
#endif
#define TAG_PARKED 0x50u  /* 'P' */
#define TAG_COUNTED 0x43u /* 'C' */
#define TAG_PONG 0x4fu    /* 'O' */
#define TAG_STOP 0x53u    /* 'S' */

static char g_prefix[64]; /* node name prefix, unique per run */
static char g_cookie[64];
static char g_self_node[128];
static char g_b_node[128];
static char g_shm_path[128];
static unsigned g_tick_s = 4;
static const char* g_mode = "unpinned";
static _Atomic uint64_t* g_shm; /* [0]: stamp from the peer; [1]: pid of the last peer whose node started */
static snow_pid_t g_driver;
static pid_t g_b_os;

/* Fan-out of local linkers (dist_links_10k_nodeloss). */
static uint64_t g_stamps[FANOUT];
static _Atomic uint64_t g_acked, g_done;
static snow_pid_t g_remote_target;

static void send_u64(snow_pid_t to, uint64_t v) { snow_actor_send(to, (const uint8_t*)&v, 8); }

static void result_error(const char* id, const char* word) {
  printf("RESULT system=snowrt scenario=%s error=%s mode=%s\n", id, word, g_mode);
}

/* ------------------------------------------------------------------------ */
/* shared stamp file */

static int shm_open_file(const char* path, int create) {
  int fd = open(path, O_RDWR | (create ? O_CREAT : 0), 0600);
  if (fd < 0) return 0;
  if (create && ftruncate(fd, 4096) != 0) {
    close(fd);
    return 0;
  }
  void* p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (p == MAP_FAILED) return 0;
  g_shm = (_Atomic uint64_t*)p;
  return 1;
}

/* ------------------------------------------------------------------------ */
/* peer side: functions spawned by name from node a */

/* args: ETF pid of the measurer's process. Replies with TAG_PARKED. */
static snow_pid_t peer_reply_to(const uint8_t* args, uint64_t len) { return snow_term_decode_pid(args, len); }

static void fn_parked(const uint8_t* args) {
  uint64_t len = bench_le64(args);
  send_u64(peer_reply_to(args + 8, len), TAG_PARKED);
  snow_actor_receive(-1);
}

static void fn_exit_on_go(const uint8_t* args) {
  uint64_t len = bench_le64(args);
  send_u64(peer_reply_to(args + 8, len), TAG_PARKED);
  snow_actor_receive(-1);
  atomic_store(&g_shm[0], bench_now_ns());
}

/* Echo: every message gets an 8-byte TAG_PONG back; TAG_STOP ends it. */
static void fn_echo(const uint8_t* args) {
  uint64_t len = bench_le64(args);
  snow_pid_t to = peer_reply_to(args + 8, len);
  for (;;) {
    const snow_msg* m = snow_actor_receive(-1);
    if (!m) return;
    if (snow_msg_kind(m) != SNOW_MSG_USER) continue;
    if (m->len == 8 && m->tag == TAG_STOP) return;
    send_u64(to, TAG_PONG);
  }
}

/* args: [u64 etf len][etf][u64 count]: receives count messages, then
 * sends TAG_COUNTED. */
static void fn_counter(const uint8_t* args) {
  uint64_t len = bench_le64(args);
  snow_pid_t to = peer_reply_to(args + 8, len);
  uint64_t count = bench_le64(args + 8 + len);
  for (uint64_t i = 0; i < count; i++) snow_actor_receive(-1);
  send_u64(to, TAG_COUNTED);
}

static void fn_noop(const uint8_t* args) { (void)args; }

static void register_functions(void) {
  snow_register_function("parked", 6, fn_parked);
  snow_register_function("exit_on_go", 10, fn_exit_on_go);
  snow_register_function("echo", 4, fn_echo);
  snow_register_function("counter", 7, fn_counter);
  snow_register_function("noop", 4, fn_noop);
}

static pid_t g_parent;

/* Halts the peer once the measurer's OS process is gone. */
static void parent_watch(const uint8_t* args) {
  (void)args;
  for (;;) {
    snow_timer_sleep(500);
    if (kill(g_parent, 0) != 0 && errno == ESRCH) {
      snow_rt_halt(0);
      return;
    }
  }
}

static int peer_main(const char* name, const char* cookie, pid_t parent) {
  g_parent = parent;
  snow_rt_init();
  if (snow_rt_init_actor(0) != 0) return 2;
  snow_node_set_ticktime(g_tick_s * 1000);
  register_functions();
  int64_t rc = snow_node_start(name, strlen(name), cookie, strlen(cookie));
  if (rc < 0) {
    fprintf(stderr, "bench_dist peer %s: snow_node_start: %s\n", name, snow_strerror(rc));
    return 2;
  }
  snow_actor_spawn(parent_watch, NULL, 0, SNOW_PRIO_NORMAL);
  atomic_store(&g_shm[1], (uint64_t)getpid()); /* ready: node started */
  /* Serves until SIGTERM (the runtime halts) or the measurer is gone. */
  return snow_rt_run_scheduler();
}

/* ------------------------------------------------------------------------ */
/* measurer side */

typedef struct {
  pid_t os_pid;
  char node[128];
} peer_t;

static int start_peer(peer_t* p, const char* suffix) {
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return 0;
  exe[n] = 0;
  snprintf(p->node, sizeof p->node, "%s_%s@127.0.0.1", g_prefix, suffix);
  char a_name[200], a_cookie[100], a_parent[64], a_tick[32], a_shm[200];
  snprintf(a_name, sizeof a_name, "--name=%s", p->node);
  snprintf(a_cookie, sizeof a_cookie, "--cookie=%s", g_cookie);
  snprintf(a_parent, sizeof a_parent, "--parent=%ld", (long)getpid());
  snprintf(a_tick, sizeof a_tick, "--tick=%u", g_tick_s);
  snprintf(a_shm, sizeof a_shm, "--shm=%s", g_shm_path);
  char* argv[] = {exe, "--peer", a_name, a_cookie, a_parent, a_tick, a_shm, NULL};
  atomic_store(&g_shm[1], 0);
  int err = posix_spawn(&p->os_pid, exe, NULL, NULL, argv, environ);
  if (err != 0) {
    printf("NOTE system=snowrt bench_dist: posix_spawn of peer %s: %s\n", p->node, strerror(err));
    p->os_pid = 0;
    return 0;
  }
  /* The peer writes its OS pid to slot 1 once snow_node_start returned;
   * then connect (retrying briefly). At most ~10 s in all. */
  int64_t rc = 0;
  for (int i = 0; i < 1000; i++) {
    int st;
    pid_t w = waitpid(p->os_pid, &st, WNOHANG);
    if (w == p->os_pid) {
      if (WIFSIGNALED(st))
        printf("NOTE system=snowrt bench_dist: peer %s died at start-up (signal %d)\n", p->node, WTERMSIG(st));
      else printf("NOTE system=snowrt bench_dist: peer %s exited at start-up (status %d)\n", p->node, WEXITSTATUS(st));
      p->os_pid = 0;
      return 0;
    }
    if (atomic_load(&g_shm[1]) == (uint64_t)p->os_pid) {
      rc = snow_node_connect(p->node, strlen(p->node));
      if (rc == 0) return 1;
    }
    snow_timer_sleep(10);
  }
  printf("NOTE system=snowrt bench_dist: peer %s not connected after 10 s (%s; last snow_node_connect: %s)\n", p->node,
         atomic_load(&g_shm[1]) == (uint64_t)p->os_pid ? "it had started its node" : "its node never started",
         snow_strerror(rc));
  return 0;
}

static void reap_peer(peer_t* p, int sig) {
  if (p->os_pid <= 0) return;
  kill(p->os_pid, sig);
  int st;
  for (int i = 0; i < 500; i++) {
    if (waitpid(p->os_pid, &st, WNOHANG) == p->os_pid) {
      p->os_pid = 0;
      return;
    }
    snow_timer_sleep(10);
  }
  kill(p->os_pid, SIGKILL);
  waitpid(p->os_pid, &st, 0);
  p->os_pid = 0;
}

/* Spawn arguments: [u64 etf len][ETF of our pid][extra]. */
static uint64_t my_args(uint8_t* buf, uint64_t cap, const void* extra, uint64_t elen) {
  int64_t n = snow_term_encode_pid(snow_actor_self(), buf + 8, cap - 8 - elen);
  if (n <= 0) return 0;
  uint64_t len = (uint64_t)n;
  memcpy(buf, &len, 8);
  if (elen) memcpy(buf + 8 + len, extra, elen);
  return 8 + len + elen;
}

static snow_pid_t spawn_on(const char* node, const char* fn, const void* extra, uint64_t elen) {
  uint8_t args[256];
  uint64_t n = my_args(args, sizeof args, extra, elen);
  if (!n) return 0;
  return snow_node_spawn(node, strlen(node), fn, strlen(fn), args, n, 0);
}

/* Selective waits: other messages stay in the mailbox. */
typedef struct {
  uint32_t kind;
  uint64_t tag;
} want_t;

static int match_want(const snow_msg* m, void* ctx) {
  const want_t* w = (const want_t*)ctx;
  if (snow_msg_kind(m) != w->kind) return 0;
  return w->kind != SNOW_MSG_USER || (m->len == 8 && m->tag == w->tag);
}

static const snow_msg* wait_kind(uint32_t kind, int64_t ms) {
  want_t w = {kind, 0};
  return snow_actor_receive_match(match_want, &w, ms);
}

/* A user message of 8 bytes with this tag, within 10 s. */
static int wait_tag(uint64_t tag) {
  want_t w = {SNOW_MSG_USER, tag};
  return snow_actor_receive_match(match_want, &w, 10000) != NULL;
}

static void report(const char* id, uint64_t* v, size_t n, size_t warm, double div, const char* extra) {
  char buf[160];
  snprintf(buf, sizeof buf, "%s%smode=%s", extra ? extra : "", extra ? " " : "", g_mode);
  bench_report_ns(id, v, n, warm, div, buf);
}

static void report_rate(const char* id, double* v, size_t n, size_t warm, const char* extra) {
  char buf[160];
  snprintf(buf, sizeof buf, "%s%smode=%s", extra ? extra : "", extra ? " " : "", g_mode);
  bench_report_rate(id, v, n, warm, buf);
}

static void run_pingpong(void) {
  const char* id = "dist_pingpong_rtt";
  size_t n = bench_iters(20000, 500);
  uint64_t* v = malloc(n * sizeof *v);
  snow_pid_t e = spawn_on(g_b_node, "echo", NULL, 0);
  if (!e) {
    result_error(id, "spawn_failed");
    free(v);
    return;
  }
  for (size_t i = 0; i < n; i++) {
    uint64_t t0 = bench_now_ns();
    send_u64(e, 1);
    if (!wait_tag(TAG_PONG)) {
      result_error(id, "timeout");
      free(v);
      return;
    }
    v[i] = bench_now_ns() - t0;
  }
  send_u64(e, TAG_STOP);
  report(id, v, n, n / 10, 1.0, NULL);
  free(v);
}

static void run_tput(const char* id, uint64_t size) {
  uint64_t m = bench_iters(200000, 20000);
  size_t reps = bench_iters(4, 2);
  double* rate = malloc(reps * sizeof *rate);
  uint8_t* msg = calloc(1, size);
  for (size_t r = 0; r < reps; r++) {
    snow_pid_t c = spawn_on(g_b_node, "counter", &m, 8);
    if (!c) {
      result_error(id, "spawn_failed");
      goto out;
    }
    uint64_t t0 = bench_now_ns();
    for (uint64_t i = 0; i < m; i++) snow_actor_send(c, msg, size);
    if (!wait_tag(TAG_COUNTED)) {
      result_error(id, "timeout");
      goto out;
    }
    rate[r] = (double)m * 1e9 / (double)(bench_now_ns() - t0);
  }
  {
    char extra[64];
    snprintf(extra, sizeof extra, "batch=%llu bytes=%llu", (unsigned long long)m, (unsigned long long)size);
    report_rate(id, rate, reps, 1, extra);
  }
out:
  free(msg);
  free(rate);
}

enum { KILL_DOWN, EXIT_DOWN, KILL_EXIT };

static void run_signal(const char* id, int variant) {
  size_t n = bench_iters(2000, 100);
  uint64_t* v = malloc(n * sizeof *v);
  if (variant == KILL_EXIT) snow_actor_set_trap_exit(true);
  for (size_t i = 0; i < n; i++) {
    snow_pid_t t = spawn_on(g_b_node, variant == EXIT_DOWN ? "exit_on_go" : "parked", NULL, 0);
    if (!t || !wait_tag(TAG_PARKED)) {
      result_error(id, t ? "timeout" : "spawn_failed");
      goto out;
    }
    uint64_t t0 = 0;
    if (variant == KILL_EXIT) snow_actor_link(t);
    else snow_process_monitor(t);
    if (variant == EXIT_DOWN) {
      send_u64(t, 7);
    } else {
      t0 = bench_now_ns();
      snow_actor_exit(t, SNOW_REASON_KILLED);
    }
    if (!wait_kind(variant == KILL_EXIT ? SNOW_MSG_EXIT : SNOW_MSG_DOWN, 10000)) {
      result_error(id, "timeout");
      goto out;
    }
    uint64_t t1 = bench_now_ns();
    if (variant == EXIT_DOWN) t0 = atomic_load(&g_shm[0]);
    v[i] = t1 - t0;
  }
  report(id, v, n, n / 10, 1.0, NULL);
out:
  if (variant == KILL_EXIT) snow_actor_set_trap_exit(false);
  free(v);
}

static void run_pairs(const char* id, int links) {
  const size_t per = 1000;
  size_t n = bench_iters(20, 3);
  uint64_t* v = malloc(n * sizeof *v);
  snow_pid_t t = spawn_on(g_b_node, "echo", NULL, 0);
  send_u64(t, 1);
  if (!t || !wait_tag(TAG_PONG)) {
    result_error(id, t ? "timeout" : "spawn_failed");
    free(v);
    return;
  }
  for (size_t i = 0; i < n; i++) {
    uint64_t t0 = bench_now_ns();
    for (size_t k = 0; k < per; k++) {
      if (links) {
        snow_actor_link(t);
        snow_actor_unlink(t);
      } else {
        snow_process_demonitor(snow_process_monitor(t));
      }
    }
    send_u64(t, 1);
    if (!wait_tag(TAG_PONG)) {
      result_error(id, "timeout");
      free(v);
      return;
    }
    v[i] = bench_now_ns() - t0;
  }
  send_u64(t, TAG_STOP);
  report(id, v, n, 1, (double)per, "batch=1000");
  free(v);
}

static void run_spawn_monitor(void) {
  const char* id = "dist_spawn_monitor";
  size_t n = bench_iters(2000, 100);
  uint64_t* v = malloc(n * sizeof *v);
  uint8_t args[256];
  uint64_t alen = my_args(args, sizeof args, NULL, 0);
  for (size_t i = 0; i < n; i++) {
    /* One spawn request with the monitor option, as BEAM's
     * spawn_request(..., [monitor]): the monitor is in place when the call
     * returns (at the spawn reply). */
    snow_spawn_opts o;
    memset(&o, 0, sizeof o);
    o.monitor = 1;
    uint64_t t0 = bench_now_ns();
    snow_pid_t p = snow_node_spawn_opts(g_b_node, strlen(g_b_node), "noop", 4, args, alen, &o);
    uint64_t t1 = bench_now_ns();
    if (!p || !o.monitor_ref) {
      result_error(id, "spawn_failed");
      free(v);
      return;
    }
    /* The noop's DOWN (normal), outside the timed region. */
    if (!wait_kind(SNOW_MSG_DOWN, 10000)) {
      result_error(id, "no_down");
      free(v);
      return;
    }
    v[i] = t1 - t0;
  }
  report(id, v, n, n / 10, 1.0, "monitor=spawn_option");
  free(v);
}

static void run_connect(void) {
  const char* id = "dist_connect";
  size_t n = bench_iters(20, 3) + 1;
  uint64_t* v = malloc(n * sizeof *v);
  size_t len = strlen(g_b_node);
  int64_t mon = snow_node_monitor(g_b_node, len);
  for (size_t i = 0; i < n; i++) {
    snow_node_disconnect(g_b_node, len);
    if (!wait_kind(SNOW_MSG_NODEDOWN, 10000)) {
      result_error(id, "no_nodedown");
      goto out;
    }
    snow_timer_sleep(100);
    uint64_t t0 = bench_now_ns();
    int64_t rc = snow_node_connect(g_b_node, len);
    uint64_t t1 = bench_now_ns();
    if (rc != 0) {
      result_error(id, "connect_failed");
      goto out;
    }
    v[i] = t1 - t0;
    wait_kind(SNOW_MSG_NODEUP, 10000);
  }
  report(id, v, n, 1, 1.0, NULL);
out:
  if (mon > 0) snow_node_demonitor(mon);
  free(v);
}

/* Size of a node about to be killed (resident bytes and threads, from
 * /proc/<pid>/status), printed with the node-loss figures: the kernel's
 * teardown of a process of that size bounds them from below
 * (bench/tools/kill_floor.c measures that floor). */
static char g_victim[96];

static void note_victim(pid_t pid) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
  FILE* f = fopen(path, "r");
  if (!f) return;
  unsigned long long rss_kb = 0, threads = 0;
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "VmRSS:", 6) == 0) rss_kb = strtoull(line + 6, NULL, 10);
    if (strncmp(line, "Threads:", 8) == 0) threads = strtoull(line + 8, NULL, 10);
  }
  fclose(f);
  snprintf(g_victim, sizeof g_victim, "victim_rss=%llu victim_threads=%llu", rss_kb * 1024, threads);
}

static void run_node_loss(const char* id, int sig) {
  size_t n = sig == SIGKILL ? bench_iters(10, 2) : bench_iters(5, 1);
  uint64_t* v = malloc(n * sizeof *v);
  for (size_t i = 0; i < n; i++) {
    peer_t c = {0};
    char suffix[32];
    snprintf(suffix, sizeof suffix, "c%zu", i + 1);
    if (!start_peer(&c, suffix)) {
      result_error(id, "peer_start_failed");
      reap_peer(&c, SIGKILL);
      goto out;
    }
    int64_t mon = snow_node_monitor(c.node, strlen(c.node));
    wait_kind(SNOW_MSG_NODEUP, 200); /* connected already: NODEUP may or may not come */
    note_victim(c.os_pid);
    uint64_t t0 = bench_now_ns();
    kill(c.os_pid, sig);
    const snow_msg* m = wait_kind(SNOW_MSG_NODEDOWN, 30000);
    uint64_t t1 = bench_now_ns();
    if (mon > 0) snow_node_demonitor(mon);
    reap_peer(&c, SIGKILL);
    if (!m) {
      result_error(id, "no_nodedown");
      goto out;
    }
    v[i] = t1 - t0;
  }
  {
    char extra[128];
    snprintf(extra, sizeof extra, "ticktime_s=%u %s", g_tick_s, g_victim);
    report(id, v, n, 0, 1.0, extra);
  }
out:
  free(v);
}

static void run_monitors_nodeloss(void) {
  const char* id = "dist_monitors_10k_nodeloss";
  size_t n = bench_iters(5, 1);
  uint64_t* v = malloc(n * sizeof *v);
  for (size_t i = 0; i < n; i++) {
    peer_t c = {0};
    char suffix[32];
    snprintf(suffix, sizeof suffix, "m%zu", i + 1);
    if (!start_peer(&c, suffix)) {
      result_error(id, "peer_start_failed");
      reap_peer(&c, SIGKILL);
      goto out;
    }
    snow_pid_t r = spawn_on(c.node, "echo", NULL, 0);
    for (size_t k = 0; r && k < FANOUT; k++) snow_process_monitor(r);
    send_u64(r, 1);
    if (!r || !wait_tag(TAG_PONG)) {
      result_error(id, "setup_failed");
      reap_peer(&c, SIGKILL);
      goto out;
    }
    note_victim(c.os_pid);
    uint64_t t0 = bench_now_ns();
    kill(c.os_pid, SIGKILL);
    size_t got = 0;
    while (got < FANOUT && wait_kind(SNOW_MSG_DOWN, bench_quick ? 2000 : 5000)) got++;
    if (got < FANOUT) printf("NOTE system=snowrt %s: %zu of %d DOWNs arrived\n", id, got, FANOUT);
    uint64_t t1 = bench_now_ns();
    reap_peer(&c, SIGKILL);
    if (got < FANOUT) {
      result_error(id, "downs_missing");
      goto out;
    }
    v[i] = t1 - t0;
  }
  {
    char extra[128];
    snprintf(extra, sizeof extra, "fanout=10000 %s", g_victim);
    report(id, v, n, 0, 1.0, extra);
  }
out:
  free(v);
}

static void linker(const uint8_t* args) {
  uint64_t idx = bench_le64(args);
  snow_actor_set_trap_exit(true);
  snow_actor_link(g_remote_target);
  if (atomic_fetch_add(&g_acked, 1) + 1 == FANOUT) send_u64(g_driver, 2);
  for (;;) {
    const snow_msg* m = snow_actor_receive(-1);
    if (m && snow_msg_kind(m) == SNOW_MSG_EXIT) break;
  }
  g_stamps[idx] = bench_now_ns();
  if (atomic_fetch_add(&g_done, 1) + 1 == FANOUT) send_u64(g_driver, 3);
}

static void run_links_nodeloss(void) {
  const char* id = "dist_links_10k_nodeloss";
  size_t n = bench_iters(5, 1);
  uint64_t* v = malloc(n * sizeof *v);
  for (size_t i = 0; i < n; i++) {
    peer_t c = {0};
    char suffix[32];
    snprintf(suffix, sizeof suffix, "l%zu", i + 1);
    if (!start_peer(&c, suffix)) {
      result_error(id, "peer_start_failed");
      reap_peer(&c, SIGKILL);
      goto out;
    }
    g_remote_target = spawn_on(c.node, "echo", NULL, 0);
    atomic_store(&g_acked, 0);
    atomic_store(&g_done, 0);
    for (uint64_t k = 0; g_remote_target && k < FANOUT; k++)
      snow_actor_spawn(linker, (const uint8_t*)&k, 8, SNOW_PRIO_NORMAL);
    send_u64(g_remote_target, 1);
    if (!g_remote_target || !wait_tag(TAG_PONG) || !wait_tag(2)) {
      result_error(id, "setup_failed");
      reap_peer(&c, SIGKILL);
      goto out;
    }
    note_victim(c.os_pid);
    uint64_t t0 = bench_now_ns();
    kill(c.os_pid, SIGKILL);
    want_t w3 = {SNOW_MSG_USER, 3};
    int ok = snow_actor_receive_match(match_want, &w3, bench_quick ? 2000 : 10000) != NULL;
    reap_peer(&c, SIGKILL);
    if (!ok) {
      printf("NOTE system=snowrt %s: %llu of %d EXITs arrived\n", id, (unsigned long long)atomic_load(&g_done), FANOUT);
      result_error(id, "exits_missing");
      goto out;
    }
    uint64_t last = 0;
    for (size_t k = 0; k < FANOUT; k++)
      if (g_stamps[k] > last) last = g_stamps[k];
    v[i] = last - t0;
  }
  {
    char extra[128];
    snprintf(extra, sizeof extra, "fanout=10000 %s", g_victim);
    report(id, v, n, 0, 1.0, extra);
  }
out:
  free(v);
}

static const char* const k_ids[] = {
    "dist_pingpong_rtt",          "dist_send_tput_small",   "dist_send_tput_1k",     "dist_monitor_kill_down",
    "dist_monitor_exit_down",     "dist_link_kill_exit",    "dist_monitor_pair",     "dist_link_pair",
    "dist_spawn_monitor",         "dist_connect",           "dist_sigkill_nodedown", "dist_sigstop_nodedown",
    "dist_monitors_10k_nodeloss", "dist_links_10k_nodeloss"};

static void driver(const uint8_t* args) {
  (void)args;
  g_driver = snow_actor_self();
  peer_t b = {0};
  if (!start_peer(&b, "b")) {
    for (size_t i = 0; i < sizeof k_ids / sizeof k_ids[0]; i++)
      if (bench_want(k_ids[i])) result_error(k_ids[i], "peer_start_failed");
    reap_peer(&b, SIGKILL);
    return;
  }
  snprintf(g_b_node, sizeof g_b_node, "%s", b.node);
  g_b_os = b.os_pid;
  if (bench_want("dist_pingpong_rtt")) run_pingpong();
  if (bench_want("dist_send_tput_small")) run_tput("dist_send_tput_small", 8);
  if (bench_want("dist_send_tput_1k")) run_tput("dist_send_tput_1k", 1024);
  if (bench_want("dist_monitor_kill_down")) run_signal("dist_monitor_kill_down", KILL_DOWN);
  if (bench_want("dist_monitor_exit_down")) run_signal("dist_monitor_exit_down", EXIT_DOWN);
  if (bench_want("dist_link_kill_exit")) run_signal("dist_link_kill_exit", KILL_EXIT);
  if (bench_want("dist_monitor_pair")) run_pairs("dist_monitor_pair", 0);
  if (bench_want("dist_link_pair")) run_pairs("dist_link_pair", 1);
  if (bench_want("dist_spawn_monitor")) run_spawn_monitor();
  if (bench_want("dist_connect")) run_connect();
  reap_peer(&b, SIGTERM);
  if (bench_want("dist_sigkill_nodedown")) run_node_loss("dist_sigkill_nodedown", SIGKILL);
  if (bench_want("dist_sigstop_nodedown")) run_node_loss("dist_sigstop_nodedown", SIGSTOP);
  if (bench_want("dist_monitors_10k_nodeloss")) run_monitors_nodeloss();
  if (bench_want("dist_links_10k_nodeloss")) run_links_nodeloss();
}

int main(int argc, char** argv) {
  const char* peer_name = NULL;
  const char* cookie = NULL;
  const char* shm = NULL;
  pid_t parent = 0;
  int is_peer = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--peer") == 0) is_peer = 1;
    else if (strncmp(argv[i], "--name=", 7) == 0) peer_name = argv[i] + 7;
    else if (strncmp(argv[i], "--cookie=", 9) == 0) cookie = argv[i] + 9;
    else if (strncmp(argv[i], "--parent=", 9) == 0) parent = (pid_t)atol(argv[i] + 9);
    else if (strncmp(argv[i], "--shm=", 6) == 0) shm = argv[i] + 6;
    else if (strncmp(argv[i], "--tick=", 7) == 0) g_tick_s = (unsigned)atoi(argv[i] + 7);
    else if (strncmp(argv[i], "--mode=", 7) == 0) g_mode = argv[i] + 7;
  }
  if (g_tick_s == 0) g_tick_s = 4;
  if (is_peer) {
    if (!peer_name || !cookie || !shm || !shm_open_file(shm, 0)) return 2;
    return peer_main(peer_name, cookie, parent);
  }
  bench_setup(argc, argv, 900);
  snprintf(g_prefix, sizeof g_prefix, "snowbench%ld%c", (long)getpid(), g_mode[0]);
  snprintf(g_cookie, sizeof g_cookie, "snowbench%ld", (long)getpid());
  snprintf(g_self_node, sizeof g_self_node, "%s_a@127.0.0.1", g_prefix);
  snprintf(g_shm_path, sizeof g_shm_path, "/dev/shm/snowbench.%ld", (long)getpid());
  if (!shm_open_file(g_shm_path, 1)) {
    printf("NOTE system=snowrt bench_dist: cannot create %s\n", g_shm_path);
    return 2;
  }
  snow_rt_init();
  int rc = snow_rt_init_actor(0);
  if (rc != 0) {
    printf("RESULT system=snowrt scenario=startup error=init_actor_%d\n", rc);
    unlink(g_shm_path);
    return 2;
  }
  bench_print_info();
  snow_node_set_ticktime(g_tick_s * 1000);
  register_functions();
  int64_t nrc = snow_node_start(g_self_node, strlen(g_self_node), g_cookie, strlen(g_cookie));
  int status = 0;
  if (nrc < 0) {
    printf("NOTE system=snowrt bench_dist: snow_node_start: %s\n", snow_strerror(nrc));
    for (size_t i = 0; i < sizeof k_ids / sizeof k_ids[0]; i++)
      if (bench_want(k_ids[i])) result_error(k_ids[i], "not_implemented");
  } else {
    bench_current = "driver";
    status = bench_run_driver(driver);
    snow_node_stop();
  }
  unlink(g_shm_path);
  return bench_finish(status);
}
