/* ABI.md section 6: snow_rt_stats counters, and the scheduler count chosen
 * by snow_rt_init_actor. */
#include "harness.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

static snow_stats stats_now(void) {
  snow_stats s;
  memset(&s, 0xEE, sizeof s);
  CHECK_EQ(snow_rt_stats(&s), 0);
  return s;
}

typedef struct alive_goal {
  uint64_t alive;
  uint64_t exited;
} alive_goal;

static bool reached(void* ctx) {
  alive_goal* g = ctx;
  snow_stats s = stats_now();
  return s.processes_alive == g->alive && s.processes_exited >= g->exited;
}

TEST_CASE(stats_with_null_returns_einval) {
  snow_rt_init();
  CHECK_EQ(snow_rt_stats(NULL), SNOW_EINVAL);
  th_start();
  CHECK_EQ(snow_rt_stats(NULL), SNOW_EINVAL);
  th_end();
}

TEST_CASE(stats_work_before_start_and_count_nothing) {
  snow_rt_init();
  snow_stats s = stats_now();
  CHECK_EQ(s.processes_alive, 0);
  CHECK_EQ(s.nodes_connected, 0);
  CHECK_EQ(s.schedulers, 0);
  CHECK_EQ(s.timers_pending, 0);
  th_start();
  th_end();
}

TEST_CASE(stats_schedulers_is_the_number_asked_for) {
  th_start_n(2);
  CHECK_EQ(stats_now().schedulers, 2);
  th_end_natural();
  th_start_n(1);
  CHECK_EQ(stats_now().schedulers, 1);
  th_end();
}

TEST_CASE(init_actor_0_uses_the_snow_schedulers_environment_variable) {
  CHECK_EQ(setenv("SNOW_SCHEDULERS", "3", 1), 0);
  th_start_n(0);
  CHECK_EQ(stats_now().schedulers, 3);
  th_end();
}

TEST_CASE(init_actor_0_without_environment_uses_one_scheduler_per_cpu) {
  unsetenv("SNOW_SCHEDULERS");
  th_start_n(0);
  long onln = sysconf(_SC_NPROCESSORS_ONLN);
  cpu_set_t set;
  long aff = -1;
  if (sched_getaffinity(0, sizeof set, &set) == 0) aff = CPU_COUNT(&set);
  uint64_t n = stats_now().schedulers;
  CHECK_MSG((long)n == onln || (long)n == aff, "schedulers %llu, cpus online %ld, affinity %ld", (unsigned long long)n,
            onln, aff);
  th_end();
}

TEST_CASE(stats_count_spawned_alive_and_exited_processes) {
  th_start();
  snow_stats b = stats_now();
  enum { N = 10 };
  snow_pid_t p[N];
  snow_ref_t r[N];
  for (int i = 0; i < N; i++) p[i] = th_spawn_puppet_mon(0, &r[i]);
  snow_stats s = stats_now();
  CHECK_EQ(s.processes_spawned - b.processes_spawned, N);
  CHECK_EQ(s.processes_alive - b.processes_alive, N);
  CHECK_EQ(s.processes_exited - b.processes_exited, 0);
  for (int i = 0; i < N; i++) CHECK_EQ(th_send1(p[i], C_STOP), 0);
  for (int i = 0; i < N; i++) th_wait_down(r[i]);
  alive_goal g = {b.processes_alive, b.processes_exited + N};
  th_wait_until(reached, &g, "processes_alive back to baseline and exited + 10");
  s = stats_now();
  CHECK_EQ(s.processes_exited - b.processes_exited, N);
  CHECK_EQ(s.processes_spawned - b.processes_spawned, N);
  th_end();
}

TEST_CASE(stats_count_killed_and_crashed_processes_as_exited) {
  th_start();
  snow_stats b = stats_now();
  snow_ref_t r1, r2;
  snow_pid_t a = th_spawn_puppet_mon(0, &r1);
  snow_pid_t c = th_spawn_puppet_mon(0, &r2);
  CHECK_EQ(snow_actor_exit(a, SNOW_REASON_KILLED), 0);
  uint8_t rr[32];
  size_t rl = th_reason_str(rr, SNOW_REASON_ERROR, "x");
  th_puppet_exit_self(c, rr, rl);
  th_wait_down(r1);
  th_wait_down(r2);
  alive_goal g = {b.processes_alive, b.processes_exited + 2};
  th_wait_until(reached, &g, "alive back to baseline, exited + 2");
  th_end();
}

static void* attach_thread(void* arg) {
  snow_stats* out = arg;
  CHECK(snow_thread_attach() != 0);
  CHECK_EQ(snow_rt_stats(&out[0]), 0);
  CHECK_EQ(snow_thread_detach(), 0);
  return NULL;
}

TEST_CASE(stats_count_attached_threads_as_processes) {
  th_start();
  snow_stats b = stats_now();
  snow_stats during[1];
  pthread_t t;
  CHECK_EQ(pthread_create(&t, NULL, attach_thread, during), 0);
  pthread_join(t, NULL);
  CHECK_EQ(during[0].processes_spawned - b.processes_spawned, 1);
  CHECK_EQ(during[0].processes_alive - b.processes_alive, 1);
  alive_goal g = {b.processes_alive, b.processes_exited + 1};
  th_wait_until(reached, &g, "alive back to baseline after detach");
  th_end();
}

TEST_CASE(stats_messages_sent_counts_accepted_user_and_term_messages) {
  th_start();
  snow_stats b = stats_now();
  for (int i = 0; i < 100; i++) CHECK_EQ(th_send2(th_main, T_SEQ, (uint64_t)i), 0);
  CHECK_EQ(snow_actor_send(th_main, NULL, 5), SNOW_EINVAL); /* not accepted */
  CHECK_EQ(snow_actor_send(0, (const uint8_t*)"x", 1), SNOW_EINVAL);
  const uint8_t etf[] = {131, 97, 1};
  CHECK_EQ(snow_actor_send_term(th_main, etf, sizeof etf), 0);
  snow_stats s = stats_now();
  CHECK_EQ(s.messages_sent - b.messages_sent, 101);
  th_end();
}

TEST_CASE(stats_nodes_connected_is_0_without_distribution) {
  th_start();
  CHECK_EQ(stats_now().nodes_connected, 0);
  th_end();
}

static void* stats_thread(void* arg) {
  int32_t* out = arg;
  snow_stats s;
  *out = snow_rt_stats(&s);
  return NULL;
}

TEST_CASE(stats_work_from_a_foreign_thread) {
  th_start();
  pthread_t t;
  int32_t r = -99;
  CHECK_EQ(pthread_create(&t, NULL, stats_thread, &r), 0);
  pthread_join(t, NULL);
  CHECK_EQ(r, 0);
  th_end();
}

/* ---------------------------------------------------------- heap figures */

enum { HEAP_OBJECTS = 64, HEAP_OBJECT_SIZE = 1024 };

/* Allocates HEAP_OBJECTS objects into keep[] (the caller's frame, so the
 * main process's stack holds them). */
static void __attribute__((noinline)) alloc_into(void* volatile* keep) {
  for (int i = 0; i < HEAP_OBJECTS; i++) {
    keep[i] = snow_gc_alloc_actor(HEAP_OBJECT_SIZE, 16);
    CHECK(keep[i] != NULL);
  }
}

TEST_CASE(stats_heap_and_distribution_figures_are_0_before_anything_happens) {
  snow_rt_init();
  snow_stats s = stats_now();
  CHECK_EQ(s.heap_bytes, 0);
  CHECK_EQ(s.heap_live_bytes, 0);
  CHECK_EQ(s.gc_collections, 0);
  CHECK_EQ(s.gc_shared_bytes, 0);
  CHECK_EQ(s.dist_messages_refused, 0);
}

TEST_CASE(stats_report_the_live_heap_a_collection_found_and_count_collections) {
  th_start();
  snow_stats before = stats_now();
  void* volatile keep[HEAP_OBJECTS];
  alloc_into(keep);
  snow_gc_collect();
  snow_stats kept = stats_now();
  /* Allocating past the budget collected too: at least one more. */
  CHECK(kept.gc_collections > before.gc_collections);
  CHECK_MSG(kept.heap_live_bytes >= before.heap_live_bytes + HEAP_OBJECTS * HEAP_OBJECT_SIZE,
            "live %llu after keeping %d bytes", (unsigned long long)kept.heap_live_bytes,
            HEAP_OBJECTS * HEAP_OBJECT_SIZE);
  CHECK(kept.heap_bytes >= kept.heap_live_bytes);
  for (int i = 0; i < HEAP_OBJECTS; i++) keep[i] = NULL;
  snow_gc_collect();
  snow_stats dropped = stats_now();
  CHECK_EQ(dropped.gc_collections, kept.gc_collections + 1);
  CHECK_MSG(dropped.heap_live_bytes + HEAP_OBJECTS * HEAP_OBJECT_SIZE <= kept.heap_live_bytes,
            "live %llu after dropping, %llu before", (unsigned long long)dropped.heap_live_bytes,
            (unsigned long long)kept.heap_live_bytes);
  th_end();
}

enum { SHARED_VALUES = 48, SHARED_VALUE_SIZE = 128 * 1024, T_SENT_ALL = 0x57A701 };

/* Sends the main process SHARED_VALUES addresses of new values (6 MiB in
 * all, past the 4 MiB that starts a shared collection), then exits. */
static void value_sender(const uint8_t* args) {
  snow_pid_t to = th_arg(args, 0);
  for (int i = 0; i < SHARED_VALUES; i++) {
    void* v = snow_gc_alloc_actor(SHARED_VALUE_SIZE, 16);
    CHECK(v != NULL);
    uint64_t w[2] = {T_SENT_ALL - 1, (uint64_t)(uintptr_t)v};
    CHECK_EQ(th_send_words(to, w, 2), 0);
  }
  th_send1(to, T_SENT_ALL);
}

static bool shared_kept_at_least(void* ctx) { return stats_now().gc_shared_bytes >= *(uint64_t*)ctx; }

TEST_CASE(stats_report_values_a_shared_collection_kept) {
  th_start();
  uint64_t self = th_main;
  th_spawn_words(value_sender, &self, 1);
  th_wait_user(T_SENT_ALL, TH_ANY_PID);
  /* The values are in the mailbox and the main process never collects
   * here: every one stays reachable, so the collection that the senders'
   * exports started keeps at least the 4 MiB that started it. */
  uint64_t goal = 4u << 20;
  th_wait_until(shared_kept_at_least, &goal, "a shared collection keeps 4 MiB");
  snow_stats s = stats_now();
  CHECK(s.heap_bytes >= s.gc_shared_bytes);
  th_end();
}
