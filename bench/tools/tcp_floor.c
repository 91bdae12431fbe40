/*
 * tcp_floor: the raw TCP floor under the distribution ping-pong
 * (dist_pingpong_rtt). Two plain C processes, nothing else: the parent
 * sends 16 bytes over a 127.0.0.1 TCP connection (ephemeral port,
 * TCP_NODELAY on both ends), the forked child echoes them, the parent times
 * each round trip with CLOCK_MONOTONIC. No runtime's remote round trip can
 * beat the lower of the two variants' figures for the same placement of the
 * two ends.
 *
 *   snow_bench_tcp_floor [--quick] [--mode=unpinned|pinned]
 *
 * Two variants, one forked child (and one connection, set up before the
 * fork) each:
 *   blocking  plain blocking read(2) and send(2) on both sides
 *   busypoll  recv(MSG_DONTWAIT) in a loop with sched_yield() between
 *             attempts, on both sides (sends are the same blocking send(2))
 * Every send uses MSG_NOSIGNAL: a vanished peer is an error, not SIGPIPE.
 *
 * 20000 round trips per variant (2000 with --quick or SNOW_BENCH_QUICK=1),
 * the first 10% dropped as warm-up. The mode is only a label: the caller
 * pins (scripts/bench.sh runs `taskset -c 0 ... --mode=pinned`). Output,
 * one line per variant, in the format of the other bench programs:
 *
 *   RESULT system=floor scenario=dist_pingpong_rtt median=<ns> p99=<ns> unit=ns n=<samples> mode=<m> variant=<v>
 *   RESULT system=floor scenario=dist_pingpong_rtt error=<word> mode=<m> variant=<v>
 *
 * It does not link libsnowrt: the clock and the median/p99 rules come from
 * bench/common/bench_stats.h, the runtime-free part of the harness.
 * The child exits when the parent closes its end; the parent reaps it.
 * Exit status: 0 both variants measured, 1 usage, 2 a variant failed,
 * 3 watchdog.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_stats.h"

#define MSG_BYTES 16
#define ITERS_FULL 20000
#define ITERS_QUICK 2000
#define TIMEOUT_S 120

enum variant { V_BLOCKING, V_BUSYPOLL };
static const char* const variant_name[] = {"blocking", "busypoll"};

static const char* mode = "unpinned";
static const char* volatile current_variant = "none";
static volatile pid_t child_pid = 0;

/* Watchdog (parent only): a hang must not hang the bench. Async-signal-safe
 * calls only. Killing the child is belt and braces: it also exits on its
 * own once the parent's end of the socket is closed. */
static void on_alarm(int sig) {
  (void)sig;
  if (child_pid > 0) kill(child_pid, SIGKILL);
  bench_write_str("\nRESULT system=floor scenario=dist_pingpong_rtt error=timeout mode=");
  bench_write_str(mode);
  bench_write_str(" variant=");
  bench_write_str(current_variant);
  bench_write_str("\n");
  _exit(3);
}

static void report_error(enum variant v, const char* word) {
  printf("RESULT system=floor scenario=dist_pingpong_rtt error=%s mode=%s variant=%s\n", word, mode, variant_name[v]);
}

/* Sends all of buf[0..n); 0 on success, -1 on error (errno set). */
static int send_all(int fd, const unsigned char* buf, size_t n) {
  while (n > 0) {
    ssize_t w = send(fd, buf, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    buf += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Receives exactly n bytes. Blocking variant: plain read(2). Busy-poll
 * variant: recv(MSG_DONTWAIT), sched_yield() after every empty attempt.
 * Returns 1 on success, 0 on end of stream before any byte, -1 on error or
 * on end of stream inside a message. */
static int recv_all(int fd, unsigned char* buf, size_t n, enum variant v) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = v == V_BLOCKING ? read(fd, buf + got, n - got) : recv(fd, buf + got, n - got, MSG_DONTWAIT);
    if (r > 0) {
      got += (size_t)r;
    } else if (r == 0) {
      return got == 0 ? 0 : -1;
    } else if (errno == EINTR) {
      continue;
    } else if (v == V_BUSYPOLL && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      sched_yield();
    } else {
      return -1;
    }
  }
  return 1;
}

static int set_nodelay(int fd) {
  int one = 1;
  return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* The echo side: echoes until the parent closes its end, then exits.
 * Exit status 0 on a clean end of stream, 1 otherwise. */
static void child_main(int fd, enum variant v) {
  unsigned char buf[MSG_BYTES];
  for (;;) {
    int r = recv_all(fd, buf, sizeof buf, v);
    if (r == 0) _exit(0);
    if (r < 0 || send_all(fd, buf, sizeof buf) != 0) _exit(1);
  }
}

/* A connected pair over 127.0.0.1 (ephemeral port), TCP_NODELAY on both
 * ends, set up before the fork so that neither process waits for the
 * other: the kernel completes the handshake against the listen backlog.
 * Returns NULL or the step that failed. */
static const char* tcp_pair(int* a, int* b) {
  *a = *b = -1;
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  if (lfd < 0) return "socket";
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t alen = sizeof addr;
  const char* err = NULL;
  if (bind(lfd, (struct sockaddr*)&addr, sizeof addr) != 0 || listen(lfd, 1) != 0 ||
      getsockname(lfd, (struct sockaddr*)&addr, &alen) != 0) {
    err = "listen";
  } else if ((*b = socket(AF_INET, SOCK_STREAM, 0)) < 0 || connect(*b, (struct sockaddr*)&addr, sizeof addr) != 0) {
    err = "connect";
  } else if ((*a = accept(lfd, NULL, NULL)) < 0) {
    err = "accept";
  } else if (set_nodelay(*a) != 0 || set_nodelay(*b) != 0) {
    err = "nodelay";
  }
  close(lfd);
  if (err) {
    if (*a >= 0) close(*a);
    if (*b >= 0) close(*b);
    *a = *b = -1;
  }
  return err;
}

/* One variant: connect a pair, fork the echo child, time `iters` round
 * trips, close, reap the child. Returns 0 when a RESULT figure was printed. */
static int run_variant(enum variant v, size_t iters) {
  current_variant = variant_name[v];
  uint64_t* samples = malloc(iters * sizeof *samples);
  if (!samples) {
    report_error(v, "oom");
    return -1;
  }
  int fd, cfd;
  const char* err = tcp_pair(&fd, &cfd);
  if (err) {
    report_error(v, err);
    free(samples);
    return -1;
  }

  fflush(stdout); /* nothing buffered may be printed twice */
  pid_t pid = fork();
  if (pid < 0) {
    report_error(v, "fork");
    close(fd);
    close(cfd);
    free(samples);
    return -1;
  }
  if (pid == 0) {
    close(fd);
    child_main(cfd, v);
  }
  child_pid = pid;
  close(cfd);

  unsigned char out[MSG_BYTES], in[MSG_BYTES];
  memset(out, 0x5a, sizeof out);
  for (size_t i = 0; !err && i < iters; i++) {
    uint64_t seq = (uint64_t)i;
    memcpy(out, &seq, sizeof seq); /* the echo must carry this round's number */
    uint64_t t0 = bench_now_ns();
    if (send_all(fd, out, sizeof out) != 0) {
      err = "send";
      break;
    }
    int r = recv_all(fd, in, sizeof in, v);
    uint64_t t1 = bench_now_ns();
    if (r <= 0) err = r == 0 ? "child_closed" : "recv";
    else if (memcmp(in, out, sizeof out) != 0) err = "bad_echo";
    else samples[i] = t1 - t0;
  }

  /* Closing our end is the child's signal to exit. */
  close(fd);
  int status = 0;
  pid_t w;
  do {
    w = waitpid(pid, &status, 0);
  } while (w < 0 && errno == EINTR);
  int reaped = w == pid;
  child_pid = 0;
  if (!err && !(reaped && WIFEXITED(status) && WEXITSTATUS(status) == 0)) err = "child_failed";

  if (err) {
    report_error(v, err);
    free(samples);
    return -1;
  }
  size_t warm = iters / 10;
  uint64_t* s = samples + warm;
  size_t m = iters - warm;
  qsort(s, m, sizeof *s, bench_cmp_u64);
  printf("RESULT system=floor scenario=dist_pingpong_rtt median=%.1f p99=%.1f unit=ns n=%zu mode=%s variant=%s\n",
         bench_median_u64(s, m), bench_p99_u64(s, m), m, mode, variant_name[v]);
  free(samples);
  return 0;
}

int main(int argc, char** argv) {
  int quick = 0;
  const char* q = getenv("SNOW_BENCH_QUICK");
  if (q && *q && strcmp(q, "0") != 0) quick = 1;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--quick") == 0) {
      quick = 1;
    } else if (strcmp(argv[i], "--full") == 0) {
      quick = 0;
    } else if (strcmp(argv[i], "--mode=unpinned") == 0 || strcmp(argv[i], "--mode=pinned") == 0) {
      mode = argv[i] + strlen("--mode=");
    } else {
      fprintf(stderr, "usage: snow_bench_tcp_floor [--quick] [--mode=unpinned|pinned]\n");
      return 1;
    }
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  signal(SIGALRM, on_alarm);
  alarm(TIMEOUT_S);

  size_t iters = quick ? ITERS_QUICK : ITERS_FULL;
  int rc = 0;
  if (run_variant(V_BLOCKING, iters) != 0) rc = 2;
  if (run_variant(V_BUSYPOLL, iters) != 0) rc = 2;
  return rc;
}
