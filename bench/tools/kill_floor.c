/*
 * kill_floor.c: the node-loss floor. How long the kernel takes to tear down
 * a SIGKILLed process of a given size before its peer sees EOF, with no
 * runtime on either side.
 *
 *   snow_bench_kill_floor [--quick] [--mode=unpinned|pinned] --rss=BYTES
 *                         [--threads=N] [--for=SYSTEM]
 *
 * Every node-loss scenario (dist_sigkill_nodedown, dist_*_10k_nodeloss)
 * starts its clock right before kill(2) and stops it when the survivor has
 * reacted to the lost connection. The survivor can only react once the
 * kernel has closed the victim's sockets, and Linux closes a dying
 * process's files after it has unmapped its memory and reaped its threads:
 * that part grows with the victim's size, whatever the runtime. This
 * program measures it for a plain C victim of the size a bench run found
 * (resident bytes and threads, printed by the node-loss scenarios as
 * victim_rss= and victim_threads=), so the report can print it beside the
 * figures.
 *
 * Each iteration forks a child that touches BYTES of memory, starts N-1
 * idle threads, says it is ready over a socket pair, and waits. The parent
 * stamps CLOCK_MONOTONIC, SIGKILLs it and reads until EOF. Output:
 *
 *   RESULT system=killfloor scenario=kill_eof median=<ns> p99=<ns> unit=ns n=<samples>
 *          victim_rss=<bytes> victim_threads=<n> for=<system> mode=<m>
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_stats.h"

static void* idle_thread(void* arg) {
  (void)arg;
  for (;;) pause();
  return NULL;
}

/* The victim: touches its memory, starts its threads, reports ready, waits
 * to be killed. */
static void child_main(int fd, size_t rss, unsigned threads) {
  char* mem = rss ? malloc(rss) : NULL;
  if (rss && !mem) _exit(3);
  long page = sysconf(_SC_PAGESIZE);
  for (size_t off = 0; off < rss; off += (size_t)page) mem[off] = (char)off;
  for (unsigned i = 1; i < threads; i++) {
    pthread_t t;
    if (pthread_create(&t, NULL, idle_thread, NULL) != 0) _exit(4);
  }
  char c = 'R';
  if (write(fd, &c, 1) != 1) _exit(5);
  for (;;) pause();
}

/* One kill: returns the ns from kill(2) to EOF, or 0 on failure. */
static uint64_t one_kill(size_t rss, unsigned threads) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return 0;
  pid_t pid = fork();
  if (pid < 0) {
    close(sv[0]);
    close(sv[1]);
    return 0;
  }
  if (pid == 0) {
    close(sv[0]);
    child_main(sv[1], rss, threads);
  }
  close(sv[1]);
  char c;
  uint64_t dt = 0;
  if (read(sv[0], &c, 1) == 1) {
    uint64_t t0 = bench_now_ns();
    kill(pid, SIGKILL);
    char buf[16];
    ssize_t r;
    while ((r = read(sv[0], buf, sizeof buf)) > 0 || (r < 0 && errno == EINTR)) {
    }
    if (r == 0) dt = bench_now_ns() - t0;
  } else {
    kill(pid, SIGKILL);
  }
  close(sv[0]);
  waitpid(pid, NULL, 0);
  return dt;
}

int main(int argc, char** argv) {
  int quick = 0;
  const char* mode = "unpinned";
  const char* for_system = "-";
  unsigned long long rss = 0;
  unsigned threads = 1;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--quick") == 0) quick = 1;
    else if (strcmp(argv[i], "--full") == 0) quick = 0;
    else if (strncmp(argv[i], "--mode=", 7) == 0) mode = argv[i] + 7;
    else if (strncmp(argv[i], "--rss=", 6) == 0) rss = strtoull(argv[i] + 6, NULL, 10);
    else if (strncmp(argv[i], "--threads=", 10) == 0) threads = (unsigned)strtoul(argv[i] + 10, NULL, 10);
    else if (strncmp(argv[i], "--for=", 6) == 0) for_system = argv[i] + 6;
    else {
      fprintf(stderr, "usage: snow_bench_kill_floor [--quick] [--mode=M] --rss=BYTES [--threads=N] [--for=S]\n");
      return 2;
    }
  }
  if (threads < 1) threads = 1;
  if (threads > 256) threads = 256;
  size_t n = quick ? 5 : 15;
  uint64_t s[15];
  size_t m = 0;
  one_kill((size_t)rss, threads); /* warm-up: the first fork pays for page tables of its own */
  for (size_t i = 0; i < n; i++) {
    uint64_t dt = one_kill((size_t)rss, threads);
    if (dt) s[m++] = dt;
  }
  if (m == 0) {
    printf(
        "RESULT system=killfloor scenario=kill_eof error=kill_failed victim_rss=%llu victim_threads=%u for=%s "
        "mode=%s\n",
        rss, threads, for_system, mode);
    return 1;
  }
  qsort(s, m, sizeof *s, bench_cmp_u64);
  printf(
      "RESULT system=killfloor scenario=kill_eof median=%.1f p99=%.1f unit=ns n=%zu victim_rss=%llu "
      "victim_threads=%u for=%s mode=%s\n",
      bench_median_u64(s, m), bench_p99_u64(s, m), m, rss, threads, for_system, mode);
  return 0;
}
