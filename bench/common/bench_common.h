/*
 * bench_common.h: the measuring harness shared by the libsnowrt bench
 * programs (bench_local.c, bench_fanout.c, bench_idle.c).
 *
 * Every program prints one machine-readable line per scenario:
 *
 *   RESULT system=snowrt scenario=<id> median=<v> p99=<v|-> unit=<ns|per_s|bytes> n=<samples> [k=v...]
 *
 * and, on failure, RESULT system=snowrt scenario=<id> error=<word>.
 * Times come from clock_gettime(CLOCK_MONOTONIC). Warm-up samples are
 * dropped before the median and p99 are taken. scripts/bench.sh parses these
 * lines (bench/report.py) and never trusts anything else on stdout.
 *
 * Quick mode (--quick or SNOW_BENCH_QUICK=1) shrinks every iteration count
 * so that CI can keep the programs building and running in seconds.
 */
#ifndef SNOW_BENCH_COMMON_H
#define SNOW_BENCH_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <snowrt.h>

#include "bench_stats.h"

#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int bench_quick = 0;
static const char* bench_only = NULL; /* run only this scenario id (argv) */
static const char* volatile bench_current = "startup";

/* Picks the full or the quick iteration count. */
BENCH_FN uint64_t bench_iters(uint64_t full, uint64_t quick) { return bench_quick ? quick : full; }

/* Watchdog: a scenario that hangs must not hang CI. The handler only uses
 * async-signal-safe calls. */
BENCH_FN void bench_on_alarm(int sig) {
  (void)sig;
  bench_write_str("\nRESULT system=snowrt scenario=");
  bench_write_str(bench_current);
  bench_write_str(" error=timeout\n");
  _exit(3);
}

BENCH_FN void bench_setup(int argc, char** argv, unsigned timeout_s) {
  const char* q = getenv("SNOW_BENCH_QUICK");
  if (q && *q && strcmp(q, "0") != 0) bench_quick = 1;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--quick") == 0) bench_quick = 1;
    else if (strcmp(argv[i], "--full") == 0) bench_quick = 0;
    else if (argv[i][0] != '-') bench_only = argv[i];
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  signal(SIGALRM, bench_on_alarm);
  alarm(timeout_s);
}

/* bench_only: "all", one scenario id, or a comma-separated list of ids. */
BENCH_FN int bench_want(const char* id) {
  if (!bench_selected(bench_only, id)) return 0;
  bench_current = id;
  return 1;
}

/* Latency samples in ns. `warm` leading samples are the warm-up and are
 * dropped; `div` divides every sample (batches timed as a whole). */
BENCH_FN void bench_report_ns(const char* id, uint64_t* v, size_t n, size_t warm, double div, const char* extra) {
  if (warm >= n) {
    printf("RESULT system=snowrt scenario=%s error=no_samples\n", id);
    return;
  }
  uint64_t* s = v + warm;
  size_t m = n - warm;
  qsort(s, m, sizeof *s, bench_cmp_u64);
  printf("RESULT system=snowrt scenario=%s median=%.1f p99=%.1f unit=ns n=%zu%s%s\n", id, bench_median_u64(s, m) / div,
         bench_p99_u64(s, m) / div, m, extra ? " " : "", extra ? extra : "");
}

/* Throughput samples (items per second, one per timed batch). */
BENCH_FN void bench_report_rate(const char* id, double* v, size_t n, size_t warm, const char* extra) {
  if (warm >= n) {
    printf("RESULT system=snowrt scenario=%s error=no_samples\n", id);
    return;
  }
  double* s = v + warm;
  size_t m = n - warm;
  qsort(s, m, sizeof *s, bench_cmp_double);
  double med = (m & 1) ? s[m / 2] : (s[m / 2 - 1] + s[m / 2]) / 2.0;
  printf("RESULT system=snowrt scenario=%s median=%.1f p99=- unit=per_s n=%zu%s%s\n", id, med, m, extra ? " " : "",
         extra ? extra : "");
}

BENCH_FN void bench_report_error(const char* id, const char* word) {
  printf("RESULT system=snowrt scenario=%s error=%s\n", id, word);
}

/* Resident set size of this OS process, in bytes (/proc/self/statm). */
BENCH_FN uint64_t bench_rss_bytes(void) {
  char buf[256];
  int fd = open("/proc/self/statm", O_RDONLY);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  unsigned long long size = 0, resident = 0;
  if (sscanf(buf, "%llu %llu", &size, &resident) != 2) return 0;
  return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* Number of memory mappings of this process (lines of /proc/self/maps). */
BENCH_FN uint64_t bench_map_count(void) {
  char buf[65536];
  uint64_t lines = 0;
  int fd = open("/proc/self/maps", O_RDONLY);
  if (fd < 0) return 0;
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    for (ssize_t i = 0; i < n; i++) lines += buf[i] == '\n';
  }
  close(fd);
  return lines;
}

BENCH_FN uint64_t bench_le64(const uint8_t* p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}

/* Waits for the next message of `kind`; any other message is counted in
 * *unexpected and dropped. Returns NULL only on timeout (ms >= 0). */
BENCH_FN const snow_msg* bench_recv_kind(uint32_t kind, int64_t ms, uint64_t* unexpected) {
  for (;;) {
    const snow_msg* m = snow_actor_receive(ms);
    if (!m) return NULL;
    if (snow_msg_kind(m) == kind) return m;
    if (unexpected) ++*unexpected;
  }
}

BENCH_FN void bench_print_info(void) {
  snow_stats st;
  memset(&st, 0, sizeof st);
  snow_rt_stats(&st);
  printf("INFO system=snowrt schedulers=%llu abi=%u quick=%d\n", (unsigned long long)st.schedulers,
         snow_rt_abi_version(), bench_quick);
}

/* Polls snow_rt_stats until processes_exited reaches `target` (from a
 * process: parks 1 ms between polls; from the main thread: sleeps 50 us). */
BENCH_FN void bench_wait_exited(uint64_t target, int in_process) {
  for (;;) {
    snow_stats st;
    snow_rt_stats(&st);
    if (st.processes_exited >= target) return;
    if (in_process) {
      snow_timer_sleep(1);
    } else {
      struct timespec ts = {0, 50000};
      nanosleep(&ts, NULL);
    }
  }
}

/* Polls until at most `target` processes are alive (drain between reps). */
BENCH_FN void bench_wait_alive_at_most(uint64_t target) {
  for (int i = 0; i < 20000; i++) {
    snow_stats st;
    snow_rt_stats(&st);
    if (st.processes_alive <= target) return;
    snow_timer_sleep(1);
  }
}

BENCH_FN uint64_t bench_alive(void) {
  snow_stats st;
  snow_rt_stats(&st);
  return st.processes_alive;
}

/* Runs `driver` as a spawned process and waits for it from the main thread
 * (so that every timed interaction is between scheduled processes, never
 * the main thread), then stops the runtime. Returns the program's status. */
BENCH_FN int bench_run_driver(void (*driver)(const uint8_t*)) {
  snow_spawn_opts o;
  memset(&o, 0, sizeof o);
  o.monitor = 1;
  snow_pid_t d = snow_actor_spawn_opts(driver, NULL, 0, &o);
  if (!d) {
    bench_report_error(bench_current, "spawn_failed");
    return 2;
  }
  for (;;) {
    const snow_msg* m = snow_actor_receive(-1);
    if (!m) {
      bench_report_error(bench_current, "main_receive_failed");
      return 2;
    }
    if (snow_msg_kind(m) == SNOW_MSG_DOWN && bench_le64(m->data) == o.monitor_ref) {
      uint8_t reason = m->len > 16 ? m->data[16] : 0;
      if (reason != SNOW_REASON_NORMAL) {
        printf("NOTE system=snowrt driver process exited abnormally (reason tag %u) during %s\n", reason,
               bench_current);
        return 2;
      }
      return 0;
    }
  }
}

BENCH_FN int bench_finish(int status) {
  bench_current = "shutdown";
  fflush(stdout);
  snow_rt_halt(status);
  int rc = snow_rt_run_scheduler();
  (void)rc;
  return status;
}

#endif /* SNOW_BENCH_COMMON_H */
