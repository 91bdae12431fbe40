/*
 * inline_check.c: the inline reduction check (codegen-shims/snowrt_inline.h,
 * or with SNOW_INLINE_FROM_IR its IR twin snowrt_inline.ll) in the setting
 * generated code uses it: a program with snow_main, linked
 * with libsnowrt_main and libsnowrt. Three behaviours:
 *
 *   bound:    counting from a process's last call into the runtime that can
 *             switch it (here: the real check, or an explicit yield after
 *             which it may resume on another worker), it never makes more
 *             than SNOW_INLINE_BUDGET inline checks without a real
 *             snow_reduction_check() (8 processes, 4 workers). The real call is
 *             counted by a wrapper: this program defines
 *             snow_reduction_check itself (the inline path binds to it) and
 *             forwards to libsnowrt's through dlsym(RTLD_NEXT).
 *   kill:     a process whose loop calls nothing but the inline check is
 *             killed by snow_actor_exit(pid, 2): DOWN killed.
 *   preempt:  a process spinning on inline checks until a flag is set does
 *             not starve the process that sets the flag (meaningful with
 *             SNOW_SCHEDULERS=1, where they share one worker).
 *
 * Exit status 0 on success, else the number of the failed check.
 */
#define _GNU_SOURCE
#include <snowrt.h>
#ifdef SNOW_INLINE_FROM_IR
/* The IR fast path (codegen-shims/snowrt_inline.ll), compiled to an object
 * and linked in: the same behaviours, checked for the IR a code generator
 * emits. Its budget is fixed at 64. */
#define SNOW_INLINE_BUDGET 64u
void inline_ir_check(void); /* tests/codegen/inline_export.ll */
#define snow_reduction_check_inline inline_ir_check
#else
#include <snowrt_inline.h>
#endif

#include <dlfcn.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SPINNERS 8
#define SPIN_ITERATIONS 400000
#define DEADLINE_MS 20000

static void fail(int code, const char* what) {
  printf("inline_check: check %d failed: %s\n", code, what);
  fflush(stdout);
  _exit(code);
}

static uint64_t get_u64(const uint8_t* p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}

/* ---- counting the real calls ------------------------------------------ */

struct spin_state {
  snow_pid_t pid;          /* written by the spinner before its loop */
  uint64_t since_real;     /* inline checks since the last real call */
  uint64_t max_since_real; /* the largest value since_real reached */
  uint64_t real_calls;
  uint64_t yields;
};

/* Each entry is written only by its own process (and the wrapper running on
 * that process's behalf); main reads it after the process's DOWN. The pid
 * field is read by every process's wrapper while it looks for its own
 * entry, hence atomic. */
static struct spin_state g_spin[SPINNERS];

static struct spin_state* spin_state_of(snow_pid_t pid) {
  for (int i = 0; i < SPINNERS; i++)
    if (__atomic_load_n(&g_spin[i].pid, __ATOMIC_RELAXED) == pid) return &g_spin[i];
  return NULL;
}

/* The inline check calls this; it counts, then runs the runtime's own. */
void snow_reduction_check(void) {
  static void (*real)(void);
  void (*fn)(void) = __atomic_load_n(&real, __ATOMIC_ACQUIRE);
  if (!fn) {
    void* sym = dlsym(RTLD_NEXT, "snow_reduction_check");
    if (!sym) fail(99, "dlsym(RTLD_NEXT, snow_reduction_check)");
    memcpy(&fn, &sym, sizeof fn);
    __atomic_store_n(&real, fn, __ATOMIC_RELEASE);
  }
  snow_pid_t self = snow_actor_self();
  struct spin_state* st = self ? spin_state_of(self) : NULL;
  if (st) {
    st->real_calls++;
    st->since_real = 0;
  }
  fn();
}

static void spinner(const uint8_t* args) {
  struct spin_state* st = &g_spin[get_u64(args)];
  __atomic_store_n(&st->pid, snow_actor_self(), __ATOMIC_RELAXED); /* others scan it */
  for (uint64_t i = 0; i < SPIN_ITERATIONS; i++) {
    st->since_real++;
    if (st->since_real > st->max_since_real) st->max_since_real = st->since_real;
    snow_reduction_check_inline();
    if (i % 9973 == 0) { /* change worker without going through the check */
      snow_actor_yield();
      st->yields++;
      st->since_real = 0; /* a call into the runtime: the count starts again */
    }
  }
}

/* ---- kill and preempt ----------------------------------------------------- */

static void inline_spinner_forever(const uint8_t* args) {
  (void)args;
  for (;;) snow_reduction_check_inline();
}

static int g_flag;

static void wait_for_flag(const uint8_t* args) {
  (void)args;
  while (!__atomic_load_n(&g_flag, __ATOMIC_ACQUIRE)) snow_reduction_check_inline();
}

static void set_flag(const uint8_t* args) {
  (void)args;
  __atomic_store_n(&g_flag, 1, __ATOMIC_RELEASE);
}

/* Spawns fn monitored; returns the pid and the ref. */
static snow_pid_t spawn_monitored(void (*fn)(const uint8_t*), const void* args, uint64_t size, snow_ref_t* ref,
                                  int code) {
  snow_spawn_opts o;
  memset(&o, 0, sizeof o);
  o.monitor = 1;
  snow_pid_t pid = snow_actor_spawn_opts(fn, (const uint8_t*)args, size, &o);
  if (!pid || !o.monitor_ref) fail(code, "spawn with monitor");
  *ref = o.monitor_ref;
  return pid;
}

/* Waits for the DOWN of ref and returns its reason tag. */
static int expect_down(snow_ref_t ref, snow_pid_t pid, int code) {
  const snow_msg* m = snow_actor_receive(DEADLINE_MS);
  if (!m) fail(code, "no DOWN before the deadline");
  if (snow_msg_kind(m) != SNOW_MSG_DOWN || m->len < 17) fail(code + 1, "not a DOWN message");
  if (get_u64(m->data) != ref || get_u64(m->data + 8) != pid) fail(code + 2, "DOWN for another monitor");
  return m->data[16];
}

void snow_main(void) {
  /* bound */
  snow_ref_t refs[SPINNERS];
  snow_pid_t pids[SPINNERS];
  for (uint64_t i = 0; i < SPINNERS; i++) pids[i] = spawn_monitored(spinner, &i, 8, &refs[i], 1);
  for (int i = 0; i < SPINNERS; i++) {
    /* DOWNs may come in any order: match by ref. */
    const snow_msg* m = snow_actor_receive(DEADLINE_MS);
    if (!m) fail(2, "spinner did not finish before the deadline");
    if (snow_msg_kind(m) != SNOW_MSG_DOWN) fail(3, "unexpected message");
    if (m->data[16] != SNOW_REASON_NORMAL) fail(4, "spinner did not exit normally");
  }
  uint64_t total_real = 0, worst = 0, yields = 0;
  for (int i = 0; i < SPINNERS; i++) {
    if (g_spin[i].pid != pids[i]) fail(5, "spinner state not written");
    if (g_spin[i].max_since_real > worst) worst = g_spin[i].max_since_real;
    total_real += g_spin[i].real_calls;
    yields += g_spin[i].yields;
  }
  printf("bound: %d processes x %d inline checks, %" PRIu64 " real checks, %" PRIu64
         " yields, longest run without a real check %" PRIu64 " (budget %u)\n",
         SPINNERS, SPIN_ITERATIONS, total_real, yields, worst, (unsigned)SNOW_INLINE_BUDGET);
  if (worst > SNOW_INLINE_BUDGET) fail(6, "more inline checks in a row than the budget");
  if (total_real < (uint64_t)SPINNERS * SPIN_ITERATIONS / SNOW_INLINE_BUDGET)
    fail(7, "fewer real checks than iterations / budget");

  /* kill */
  snow_ref_t ref;
  snow_pid_t k = spawn_monitored(inline_spinner_forever, NULL, 0, &ref, 10);
  snow_timer_sleep(20);
  if (snow_actor_exit(k, SNOW_REASON_KILLED) != 0) fail(11, "snow_actor_exit");
  if (expect_down(ref, k, 12) != SNOW_REASON_KILLED) fail(15, "spinner not killed");
  printf("kill: a loop of inline checks was killed\n");

  /* preempt */
  snow_ref_t wref, sref;
  snow_pid_t w = spawn_monitored(wait_for_flag, NULL, 0, &wref, 20);
  snow_timer_sleep(10); /* let the waiter occupy the worker first */
  snow_pid_t s = spawn_monitored(set_flag, NULL, 0, &sref, 21);
  for (int i = 0; i < 2; i++) {
    const snow_msg* m = snow_actor_receive(DEADLINE_MS);
    if (!m) fail(22, "flag setter or waiter starved");
    if (snow_msg_kind(m) != SNOW_MSG_DOWN || m->data[16] != SNOW_REASON_NORMAL) fail(23, "unexpected exit");
    uint64_t p = get_u64(m->data + 8);
    if (p != w && p != s) fail(24, "DOWN for an unknown process");
  }
  printf("preempt: the spinning waiter let the flag setter run\n");
  fflush(stdout);
}
