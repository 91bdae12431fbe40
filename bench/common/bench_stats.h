/*
 * bench_stats.h: the runtime-free part of the bench harness: the clock,
 * sorting, median and p99 rules, and a write-all for signal handlers.
 * Shared by bench_common.h (the libsnowrt programs) and the programs that
 * must not link libsnowrt (bench/tools/tcp_floor.c), so every figure in a
 * report follows the same rules.
 */
#ifndef SNOW_BENCH_STATS_H
#define SNOW_BENCH_STATS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Helpers are static and may go unused by a given program. */
#define BENCH_FN static __attribute__((unused))

BENCH_FN uint64_t bench_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

BENCH_FN void bench_write_str(const char* s) {
  size_t n = strlen(s);
  while (n > 0) {
    ssize_t w = write(STDOUT_FILENO, s, n);
    if (w <= 0) return;
    s += w;
    n -= (size_t)w;
  }
}

BENCH_FN int bench_cmp_u64(const void* a, const void* b) {
  uint64_t x = *(const uint64_t*)a, y = *(const uint64_t*)b;
  return x < y ? -1 : x > y ? 1 : 0;
}
BENCH_FN int bench_cmp_double(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y ? 1 : 0;
}

/* Median and p99 (nearest rank) of v[0..n) after sorting in place. */
BENCH_FN double bench_median_u64(uint64_t* v, size_t n) {
  if (n == 0) return 0;
  return (n & 1) ? (double)v[n / 2] : ((double)v[n / 2 - 1] + (double)v[n / 2]) / 2.0;
}
BENCH_FN double bench_p99_u64(const uint64_t* v, size_t n) {
  if (n == 0) return 0;
  size_t rank = (size_t)((99 * n + 99) / 100); /* ceil(0.99 n) */
  if (rank < 1) rank = 1;
  return (double)v[rank - 1];
}

/* Whether scenario `id` is selected by `only`: NULL or "all" select every
 * scenario, otherwise one id or a comma-separated list of ids. */
BENCH_FN int bench_selected(const char* only, const char* id) {
  if (!only || strcmp(only, "all") == 0) return 1;
  size_t n = strlen(id);
  for (const char* p = only; (p = strstr(p, id)) != NULL; p += n)
    if ((p == only || p[-1] == ',') && (p[n] == 0 || p[n] == ',')) return 1;
  return 0;
}

#endif
