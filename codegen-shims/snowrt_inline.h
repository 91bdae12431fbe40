/*
 * snowrt_inline.h: inline fast path for the reduction check.
 *
 * Code generators put a preemption point at every call and loop back-edge
 * (snow_reduction_check(), ABI.md section 3). Calling into the runtime there
 * costs a call and a return each time; this header lets most of those points
 * cost a few instructions instead:
 *
 *   #include <snowrt_inline.h>
 *   for (;;) { ...; snow_reduction_check_inline(); }
 *
 * snow_reduction_check_inline() counts down a budget of SNOW_INLINE_BUDGET
 * (default 64, define it before including to change it) and calls the real
 * snow_reduction_check() when the budget runs out, then starts a new budget.
 *
 * Guarantee (what generated code may rely on):
 *   Counting from a process's last call into the runtime that can park or
 *   yield it (the real check, a receive, a yield, a sleep, a service call),
 *   its next real snow_reduction_check() comes within SNOW_INLINE_BUDGET
 *   inline checks. So the fast path never skips the real check forever, and:
 *   - a pending kill or crashing exit signal takes effect at the process's
 *     next call into the runtime that applies signals (a receive, a yield,
 *     a sleep, or the real reduction check), i.e. within at most
 *     SNOW_INLINE_BUDGET inline checks even in a loop that calls nothing
 *     else;
 *   - preemption is SNOW_INLINE_BUDGET times coarser: the runtime's own
 *     reduction budget now counts one reduction per SNOW_INLINE_BUDGET
 *     inline checks. Keep the budget small (tens to hundreds).
 *   SNOW_INLINE_BUDGET = 1 makes every inline check a real one.
 *   (The count is not carried across a switch: a process that yields
 *   after 50 inline checks may make up to SNOW_INLINE_BUDGET more on the
 *   worker it resumes on before its next real check.)
 *
 * How it stays correct on an M:N scheduler:
 *   The budget is a thread-local counter of the OS thread the process runs
 *   on. A process only changes thread inside a call into the runtime, and
 *   while it runs on a thread no other process touches that thread's
 *   counter, which always holds a value in [1, SNOW_INLINE_BUDGET] once
 *   used (0 before first use, which counts as exhausted). Whatever thread a
 *   process resumes on, its next real check is therefore at most
 *   SNOW_INLINE_BUDGET inline checks away, and until it next calls into the
 *   runtime in a way that can switch it, every inline check decrements that
 *   same counter.
 *   That argument needs every inline check to use the counter of the thread
 *   it runs on *now*. A plain `thread_local` does not give that: compilers
 *   treat the thread pointer as constant within a function, so after
 *   inlining into a loop they compute the counter's address once before the
 *   loop (clang 14 for AArch64 hoists `mrs TPIDR_EL0` out of the loop). When
 *   snow_reduction_check() resumes the process on another worker, the loop
 *   would go on decrementing the first worker's counter, racing with the
 *   process now running there, and the bound above would be lost. So the
 *   thread pointer is read by a volatile asm statement at every check (never
 *   hoisted nor merged), and the counter is found at a fixed offset from it:
 *   the counter is an initial-exec TLS variable, whose offset from the
 *   thread pointer is the same on every thread. The offset is measured once
 *   (in a non-inlined function that makes no call between its two reads, so
 *   both happen on one thread) and cached in a static.
 *   On x86-64 and AArch64 this is the fast path; on other targets (or with
 *   SNOW_INLINE_NO_FAST_PATH defined) every inline check is a real call.
 *   Outside a process (a plain thread, or before the runtime starts) the
 *   real check returns at once, so the inline check is harmless anywhere.
 *
 *   Because of initial-exec TLS, a shared object that uses this header and
 *   is loaded with dlopen() needs a few bytes of static TLS, which the C
 *   library reserves for that (dlopen fails loudly if it runs out).
 *
 * Uses only the public header. C11 or C++11 and later, GCC or clang.
 */
#ifndef SNOWRT_INLINE_H
#define SNOWRT_INLINE_H

#include <snowrt.h>

#ifndef SNOW_INLINE_BUDGET
#define SNOW_INLINE_BUDGET 64u
#endif

#ifdef __cplusplus
extern "C" {
#endif

#if !defined(SNOW_INLINE_NO_FAST_PATH) && (defined(__GNUC__) || defined(__clang__)) && \
    (defined(__x86_64__) || defined(__aarch64__))
#define SNOW_INLINE_FAST_PATH 1
#else
#define SNOW_INLINE_FAST_PATH 0
#endif

#if SNOW_INLINE_FAST_PATH

#ifdef __cplusplus
#define SNOW_INLINE_TLS_ thread_local
#else
#define SNOW_INLINE_TLS_ _Thread_local
#endif

/* The calling thread's budget. Weak, so every translation unit of one
 * executable or shared object shares a single counter per thread. */
__attribute__((weak, tls_model("initial-exec"))) SNOW_INLINE_TLS_ uint32_t snow_inline_budget_;

/* Offset of snow_inline_budget_ from the thread pointer (0: not measured
 * yet; a TLS variable is never at offset 0 from the thread pointer, which
 * points at the thread control block). Same value on every thread. */
__attribute__((weak)) intptr_t snow_inline_budget_offset_;

/* The thread pointer of the thread running this instruction. volatile: read
 * again at every use, never hoisted out of a loop or merged with an earlier
 * read (another read may have happened on another thread). */
static inline char* snow_inline_thread_pointer_(void) {
  char* tp;
#if defined(__x86_64__)
  /* x86-64 TLS ABI: the first word of the thread control block, at %fs:0,
   * holds the thread pointer itself. */
  __asm__ volatile("movq %%fs:0, %0" : "=r"(tp));
#else
  __asm__ volatile("mrs %0, tpidr_el0" : "=r"(tp));
#endif
  return tp;
}

/* Measures the offset: both reads below happen with no call between them,
 * so on one thread. Threads racing here store the same value. */
__attribute__((noinline, unused)) static intptr_t snow_inline_measure_offset_(void) {
  char* tp = snow_inline_thread_pointer_();
  intptr_t off = (intptr_t)((char*)&snow_inline_budget_ - tp);
  __atomic_store_n(&snow_inline_budget_offset_, off, __ATOMIC_RELAXED);
  return off;
}

/** Counts one reduction; every SNOW_INLINE_BUDGET-th call on a thread calls
 *  snow_reduction_check() (where the process may yield, migrate, or die of
 *  a pending exit signal). */
static inline void snow_reduction_check_inline(void) {
  intptr_t off = __atomic_load_n(&snow_inline_budget_offset_, __ATOMIC_RELAXED);
  if (__builtin_expect(off == 0, 0)) off = snow_inline_measure_offset_();
  uint32_t* budget = (uint32_t*)(snow_inline_thread_pointer_() + off);
  uint32_t left = *budget;
  if (__builtin_expect(left <= 1u, 0)) {
    /* Refill before the call: after it we may be on another thread, whose
     * counter is that thread's business. */
    *budget = (uint32_t)(SNOW_INLINE_BUDGET);
    snow_reduction_check();
  } else {
    *budget = left - 1u;
  }
}

#else /* !SNOW_INLINE_FAST_PATH */

static inline void snow_reduction_check_inline(void) { snow_reduction_check(); }

#endif /* SNOW_INLINE_FAST_PATH */

#ifdef __cplusplus
}
#endif

#endif /* SNOWRT_INLINE_H */
