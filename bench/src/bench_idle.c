/*
 * bench_idle.c: one million idle processes blocked in receive.
 *
 *   bench_idle [--quick] [--count=N]
 *
 *   idle_spawn_total  time from the first spawn until every process has run
 *                     and is parked in snow_actor_receive (ns, whole batch)
 *   idle_bytes_each   (resident bytes with them all parked - resident bytes
 *                     before the first spawn) / N
 *
 * Resident bytes come from /proc/self/statm (RSS), read by the spawning
 * process right before the first spawn and once every process has reached
 * receive. N = 1,000,000 (100,000 in quick mode). Spawned from a process;
 * run in its own OS process so nothing else is resident. The kernel's
 * default settings apply (vm.max_map_count is printed as a note).
 */
#include "bench_common.h"

static uint64_t g_count;
static _Atomic uint64_t g_parked;

static void idle_process(const uint8_t* args) {
  (void)args;
  atomic_fetch_add_explicit(&g_parked, 1, memory_order_relaxed);
  snow_actor_receive(-1);
}

static void driver(const uint8_t* args) {
  (void)args;
  const char* id = "idle_spawn_total";
  uint64_t maps0 = bench_map_count();
  uint64_t rss0 = bench_rss_bytes();
  uint64_t t0 = bench_now_ns();
  for (uint64_t i = 0; i < g_count; i++) {
    if (!snow_actor_spawn(idle_process, NULL, 0, SNOW_PRIO_NORMAL)) {
      printf("NOTE system=snowrt spawn %llu of %llu returned 0\n", (unsigned long long)i + 1,
             (unsigned long long)g_count);
      bench_report_error("idle_spawn_total", "spawn_failed");
      bench_report_error("idle_bytes_each", "spawn_failed");
      return;
    }
  }
  uint64_t t_spawned = bench_now_ns();
  while (atomic_load_explicit(&g_parked, memory_order_relaxed) < g_count) snow_timer_sleep(1);
  /* The last few may have bumped the counter but not yet parked: give them
   * the chance to reach receive before reading the RSS. */
  snow_actor_yield();
  uint64_t t1 = bench_now_ns();
  uint64_t rss1 = bench_rss_bytes();
  uint64_t maps1 = bench_map_count();
  char extra[96];
  snprintf(extra, sizeof extra, "count=%llu spawn_calls_ns=%llu", (unsigned long long)g_count,
           (unsigned long long)(t_spawned - t0));
  printf("RESULT system=snowrt scenario=%s median=%llu.0 p99=- unit=ns n=1 %s\n", id, (unsigned long long)(t1 - t0),
         extra);
  bench_current = "idle_bytes_each";
  double each = rss1 > rss0 ? (double)(rss1 - rss0) / (double)g_count : 0.0;
  snprintf(extra, sizeof extra, "count=%llu rss_before=%llu rss_after=%llu", (unsigned long long)g_count,
           (unsigned long long)rss0, (unsigned long long)rss1);
  printf("RESULT system=snowrt scenario=idle_bytes_each median=%.1f p99=- unit=bytes n=1 %s\n", each, extra);
  long mmc = -1;
  FILE* f = fopen("/proc/sys/vm/max_map_count", "r");
  if (f) {
    if (fscanf(f, "%ld", &mmc) != 1) mmc = -1;
    fclose(f);
  }
  snow_stats st;
  snow_rt_stats(&st);
  printf(
      "NOTE system=snowrt idle: mappings before=%llu after=%llu (vm.max_map_count=%ld), stacks_resident=%llu, "
      "processes_alive=%llu\n",
      (unsigned long long)maps0, (unsigned long long)maps1, mmc, (unsigned long long)st.stacks_resident,
      (unsigned long long)st.processes_alive);
  bench_current = "idle_teardown";
}

int main(int argc, char** argv) {
  bench_setup(argc, argv, 300);
  g_count = bench_iters(1000000, 100000);
  for (int i = 1; i < argc; i++)
    if (strncmp(argv[i], "--count=", 8) == 0) g_count = strtoull(argv[i] + 8, NULL, 10);
  snow_rt_init();
  int rc = snow_rt_init_actor(0);
  if (rc != 0) {
    printf("RESULT system=snowrt scenario=startup error=init_actor_%d\n", rc);
    return 2;
  }
  bench_print_info();
  bench_current = "idle_spawn_total";
  int status = bench_run_driver(driver);
  uint64_t t0 = bench_now_ns();
  int r = bench_finish(status);
  printf("NOTE system=snowrt idle: halting with %llu parked processes took %.1f ms\n", (unsigned long long)g_count,
         (double)(bench_now_ns() - t0) / 1e6);
  return r;
}
