/*
 * harness.h: a tiny test harness for the plain-C ABI tests of libsnowrt.
 *
 * Every test file registers cases with TEST_CASE(name) { ... }. The runner
 * (main() in harness.c) forks one child per case BEFORE anything starts the
 * runtime (the parent never starts it), waits for it with a timeout
 * (30 s, or TEST_CASE_TIMEOUT's value, times SNOW_TEST_TIMEOUT_SCALE), and
 * prints "ok NAME" or "FAIL NAME (reason)", then "N passed, M failed".
 * Arguments are substring filters on case names; --list lists the cases.
 *
 * Inside a case:
 *   th_start();              snow_rt_init + snow_rt_init_actor(SNOW_TEST_SCHEDULERS)
 *   ... work from the main process (it can receive, link, monitor) ...
 *   th_end();                snow_rt_halt(0) + snow_rt_run_scheduler() == 0
 * or th_end_natural() when every process is expected to end by itself.
 *
 * CHECK*() and FAILF() may be called from any thread (the main process, a
 * spawned process, a plain pthread): they print file:line and the failed
 * expression and end the whole child with exit status 1.
 *
 * Waiting: tests never sleep a fixed time to let things settle; the th_wait_*
 * helpers block in snow_actor_receive_match() with a deadline of
 * th_wait_ms() (5 s scaled) and fail the case if it passes.
 *
 * Message convention between test processes: user messages are sequences of
 * little-endian u64 words [tag][sender pid][...], so the snow tag of the
 * message equals the first word.
 */
#ifndef SNOW_TESTS_ABI_HARNESS_H
#define SNOW_TESTS_ABI_HARNESS_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "snowrt.h"

/* ------------------------------------------------------------------------
 * Registration and checks
 * ------------------------------------------------------------------------ */
typedef void (*th_case_fn)(void);
void th_register(const char* name, th_case_fn fn, double timeout_s);

#define TEST_CASE_TIMEOUT(name, seconds)                                                                     \
  static void name(void);                                                                                    \
  __attribute__((constructor)) static void th_register_##name(void) { th_register(#name, name, (seconds)); } \
  static void name(void)
#define TEST_CASE(name) TEST_CASE_TIMEOUT(name, 0)

_Noreturn void th_fail(const char* file, int line, const char* fmt, ...) __attribute__((format(printf, 3, 4)));

#define FAILF(...) th_fail(__FILE__, __LINE__, __VA_ARGS__)
#define CHECK(cond)                                               \
  do {                                                            \
    if (!(cond)) th_fail(__FILE__, __LINE__, "CHECK(%s)", #cond); \
  } while (0)
#define CHECK_MSG(cond, ...)                                        \
  do {                                                              \
    if (!(cond)) {                                                  \
      char th_buf_[512];                                            \
      snprintf(th_buf_, sizeof th_buf_, __VA_ARGS__);               \
      th_fail(__FILE__, __LINE__, "CHECK(%s): %s", #cond, th_buf_); \
    }                                                               \
  } while (0)
/* Signed comparison (error codes, counts). */
#define CHECK_EQ(a, b)                                                                                       \
  do {                                                                                                       \
    long long th_a_ = (long long)(a), th_b_ = (long long)(b);                                                \
    if (th_a_ != th_b_) th_fail(__FILE__, __LINE__, "CHECK_EQ(%s, %s): %lld != %lld", #a, #b, th_a_, th_b_); \
  } while (0)
/* Unsigned comparison, printed in hex (pids, refs, tags). */
#define CHECK_EQ_U(a, b)                                                                                           \
  do {                                                                                                             \
    unsigned long long th_a_ = (unsigned long long)(a), th_b_ = (unsigned long long)(b);                           \
    if (th_a_ != th_b_) th_fail(__FILE__, __LINE__, "CHECK_EQ_U(%s, %s): 0x%llx != 0x%llx", #a, #b, th_a_, th_b_); \
  } while (0)
/* An encoded exit reason equals the expected encoding. */
#define CHECK_REASON(got, glen, exp, elen) th_check_reason(__FILE__, __LINE__, #got, (got), (glen), (exp), (elen))

/* ------------------------------------------------------------------------
 * Runtime start/stop, environment, time
 * ------------------------------------------------------------------------ */
extern snow_pid_t th_main; /* the main process, set by th_start() */

uint32_t th_schedulers(void);         /* SNOW_TEST_SCHEDULERS, default 0 */
double th_scale(void);                /* SNOW_TEST_TIMEOUT_SCALE, default 1 */
int64_t th_wait_ms(void);             /* 5000 ms * scale: deadline for events */
int64_t th_slack_ms(void);            /* 200 ms * scale: allowed lateness */
void th_start(void);                  /* init + init_actor(th_schedulers()) */
void th_start_n(uint32_t schedulers); /* init + init_actor(schedulers) */
void th_end(void);                    /* halt(0) + run_scheduler() == 0 */
void th_end_natural(void);            /* run_scheduler() == 0 */
int32_t th_run_scheduler(void);       /* run_scheduler(), status returned unchecked */
int64_t th_now_ms(void);              /* CLOCK_MONOTONIC */
int64_t th_now_us(void);
/* Memory this OS process holds now, for bounds on retained memory: resident
 * bytes (/proc/self/statm), or in a sanitizer build the bytes its allocator
 * has handed out and not had back (ASan keeps freed blocks in quarantine,
 * which RSS would count as held). */
uint64_t th_memory_bytes(void);

/* ------------------------------------------------------------------------
 * Encoding helpers
 * ------------------------------------------------------------------------ */
void th_put_u64(uint8_t* p, uint64_t v);
uint64_t th_get_u64(const uint8_t* p);
/* Word i of a message's data (0 if the message is too short). */
uint64_t th_word(const snow_msg* m, size_t i);
/* Word i of a spawn argument block. */
uint64_t th_arg(const uint8_t* args, size_t i);

/* Sends [w0][w1]...[w(n-1)] as little-endian words. */
int32_t th_send_words(snow_pid_t to, const uint64_t* w, size_t n);
int32_t th_send1(snow_pid_t to, uint64_t tag);
int32_t th_send2(snow_pid_t to, uint64_t tag, uint64_t a);
int32_t th_send3(snow_pid_t to, uint64_t tag, uint64_t a, uint64_t b);
int32_t th_send4(snow_pid_t to, uint64_t tag, uint64_t a, uint64_t b, uint64_t c);
/* Sends [tag][a][bytes...]. */
int32_t th_send_with_bytes(snow_pid_t to, uint64_t tag, uint64_t a, const uint8_t* bytes, size_t n);

/* Spawns fn with argument words [w0..w(n-1)]. */
snow_pid_t th_spawn_words(void (*fn)(const uint8_t*), const uint64_t* w, size_t n);

/* Encoded exit reasons. Tags 1, 5, 8 get [u64 len][data]; the others nothing. */
size_t th_reason(uint8_t* out, uint8_t tag, const void* data, uint64_t len);
size_t th_reason_str(uint8_t* out, uint8_t tag, const char* s);
/* Length of the encoded reason at p (bounded by avail), 0 if malformed. */
size_t th_reason_len(const uint8_t* p, size_t avail);
void th_format_reason(char* out, size_t cap, const uint8_t* r, size_t len);
void th_check_reason(const char* file, int line, const char* what, const uint8_t* got, size_t glen, const uint8_t* exp,
                     size_t elen);
/* A reason's expected encoding when sent with snow_actor_exit(pid, tag):
 * data tags get an empty payload. */
size_t th_reason_for_tag(uint8_t* out, uint8_t tag);
/* Valid ETF (SMALL_ATOM_UTF8_EXT 'foo') usable as a term reason payload. */
extern const uint8_t th_etf_atom_foo[6];
/* The 8 reason tags of ABI.md (3 is reserved). */
extern const uint8_t th_reason_tags[8];
const char* th_reason_name(uint8_t tag);

/* EXIT message: [u64 from][reason]; DOWN: [u64 ref][u64 pid][reason]. */
snow_pid_t th_exit_from(const snow_msg* m);
const uint8_t* th_exit_reason(const snow_msg* m, size_t* len);
snow_ref_t th_down_ref(const snow_msg* m);
snow_pid_t th_down_pid(const snow_msg* m);
const uint8_t* th_down_reason(const snow_msg* m, size_t* len);

/* ------------------------------------------------------------------------
 * Waiting for messages (call from a process). The th_wait_* forms fail the
 * case (at the caller's file:line, with a dump of the mailbox) when the
 * deadline th_wait_ms() passes; the th_poll_* forms return NULL when no
 * such message is in the mailbox now. The returned memory is valid until
 * the calling process's next receive.
 * ------------------------------------------------------------------------ */
#define TH_ANY_PID UINT64_MAX
typedef struct th_match {
  uint32_t kind; /* SNOW_MSG_*; UINT32_MAX: any message */
  uint64_t tag;  /* USER: word 0 */
  uint64_t from; /* USER: word 1; EXIT: from; DOWN: pid. TH_ANY_PID: any */
  bool use_w2;   /* USER: also word 2 == w2 */
  uint64_t w2;
  snow_ref_t ref; /* DOWN: ref (0: any) */
} th_match;
th_match th_m_any(void);
th_match th_m_user(uint64_t tag, snow_pid_t from);
th_match th_m_user2(uint64_t tag, snow_pid_t from, uint64_t w2);
th_match th_m_exit(snow_pid_t from);
th_match th_m_down(snow_ref_t ref);
th_match th_m_down_pid(snow_pid_t pid);
th_match th_m_report(snow_pid_t p, uint32_t kind);
int th_match_fn(const snow_msg* m, void* ctx); /* ctx: th_match* */
void th_describe_msg(char* out, size_t cap, const snow_msg* m);

const snow_msg* th__wait(const char* file, int line, th_match mt, int64_t timeout_ms);
const snow_msg* th__poll(th_match mt);

#define th_wait_any() th__wait(__FILE__, __LINE__, th_m_any(), th_wait_ms())
/* A user message whose word 0 is tag and (unless TH_ANY_PID) word 1 is from. */
#define th_wait_user(tag, from) th__wait(__FILE__, __LINE__, th_m_user((tag), (from)), th_wait_ms())
/* Same with word 2 == w2 (e.g. a sequence number). */
#define th_wait_user2(tag, from, w2) th__wait(__FILE__, __LINE__, th_m_user2((tag), (from), (w2)), th_wait_ms())
#define th_wait_exit(from) th__wait(__FILE__, __LINE__, th_m_exit(from), th_wait_ms())
#define th_wait_down(ref) th__wait(__FILE__, __LINE__, th_m_down(ref), th_wait_ms())
#define th_wait_down_pid(pid) th__wait(__FILE__, __LINE__, th_m_down_pid(pid), th_wait_ms())
/* Waits for a REPORT from puppet p of the given message kind.
 * Report layout: words [T_REPORT][p][kind][orig tag], then orig data at 32. */
#define th_wait_report(p, kind) th__wait(__FILE__, __LINE__, th_m_report((p), (kind)), th_wait_ms())
#define th_poll_user(tag, from) th__poll(th_m_user((tag), (from)))
#define th_poll_exit(from) th__poll(th_m_exit(from))
#define th_poll_down(ref) th__poll(th_m_down(ref))
#define th_poll_report(p, kind) th__poll(th_m_report((p), (kind)))
const uint8_t* th_report_data(const snow_msg* m, size_t* len);

/* Waits for DOWN(ref) and checks its pid and reason. */
void th__expect_down(const char* file, int line, snow_ref_t ref, snow_pid_t pid, const uint8_t* reason, size_t rlen);
#define th_expect_down(ref, pid, reason, rlen) th__expect_down(__FILE__, __LINE__, (ref), (pid), (reason), (rlen))
/* Waits for the first message, in mailbox order, that matches a or b. */
const snow_msg* th__wait_either(const char* file, int line, th_match a, th_match b);
#define th_wait_either(a, b) th__wait_either(__FILE__, __LINE__, (a), (b))
/* p's terminate callback (th_term_cb) ran as p with state NULL and `reason`,
 * and its report arrived before p's DOWN(ref) with the same reason (it ran
 * before the monitors fired); consumes both. */
void th__expect_terminated_then_down(const char* file, int line, snow_pid_t p, snow_ref_t ref, const uint8_t* reason,
                                     size_t rlen);
#define th_expect_terminated_then_down(p, ref, reason, rlen) \
  th__expect_terminated_then_down(__FILE__, __LINE__, (p), (ref), (reason), (rlen))
/* Monitors pid (dead or dying) and waits for the DOWN of that new monitor.
 * Used as a fence: once it returns, pid has finished exiting. */
void th__sync_dead(const char* file, int line, snow_pid_t pid);
#define th_sync_dead(pid) th__sync_dead(__FILE__, __LINE__, (pid))
/* Waits until pred(ctx) is true, re-checking every 2 ms while blocking in a
 * receive that matches nothing (messages are not consumed). Fails after
 * th_wait_ms(). */
void th__wait_until(const char* file, int line, bool (*pred)(void*), void* ctx, const char* what);
#define th_wait_until(pred, ctx, what) th__wait_until(__FILE__, __LINE__, (pred), (ctx), (what))
/* Spawns an echo process and checks a send/receive round trip. */
void th__roundtrip_ok(const char* file, int line);
#define th_roundtrip_ok() th__roundtrip_ok(__FILE__, __LINE__)

/* ------------------------------------------------------------------------
 * Puppet: a generic process driven by commands from the main process.
 * args [parent][flags]. On start: applies flags, sends [T_READY][self] to
 * parent. Then loops on snow_actor_receive(-1):
 *   [C_PING][seq]            -> parent [T_PONG][self][seq]
 *   [C_STOP]                 -> returns from fn (exit normal)
 *   [C_EXIT_SELF][reason..]  -> snow_actor_exit_self(reason)
 *   [C_LINK][pid]            -> link (pid 0: self), parent [T_LINKED][self][rc]
 *   [C_UNLINK][pid]          -> parent [T_UNLINKED][self][rc]
 *   [C_MONITOR][pid]         -> parent [T_MONITORED][self][ref]
 *   [C_DEMONITOR][ref]       -> parent [T_DEMONITORED][self][rc]
 *   [C_EXIT_TAG][pid][tag]   -> snow_actor_exit (pid 0: self), [T_EXIT_SENT][self][rc]
 *   [C_EXIT_REASON][pid][r..]-> snow_actor_exit_reason, [T_EXIT_SENT][self][rc]
 *   [C_TRAP][on]             -> parent [T_TRAPPED][self][previous]
 *   [C_SEND][to][payload..]  -> snow_actor_send(to, payload)
 *   [C_PANIC][line][msg..]   -> snow_panic(msg, "puppet.c", line)
 *   [C_LOOP]                 -> [T_LOOPING][self], then snow_reduction_check forever
 *   [C_YIELD_LOOP]           -> [T_LOOPING][self], then snow_actor_yield forever
 *   [C_SLEEP][ms]            -> [T_SLEEPING][self], sleep, [T_SLEPT][self]
 *   [C_BLOCK][kind][ms]      -> [T_BLOCKING][self], then receive (kind 0) or
 *                               receive_match matching nothing (kind 1) with ms,
 *                               then [T_UNBLOCKED][self]
 *   [C_SET_TERM][pid]        -> snow_actor_set_terminate(pid, th_term_cb),
 *                               parent [T_TERM_SET][self]
 *   [C_CLEAR_TERM]           -> snow_actor_set_terminate(0, NULL), [T_TERM_SET][self]
 *   anything else            -> parent [T_REPORT][self][kind][tag][data...]
 * ------------------------------------------------------------------------ */
enum {
  PUPPET_TRAP = 1,   /* trap exits before READY */
  PUPPET_TERMCB = 2, /* snow_actor_set_terminate(self, th_term_cb) before READY */
};

enum {
  C_PING = 0x7E5701,
  C_STOP,
  C_EXIT_SELF,
  C_LINK,
  C_UNLINK,
  C_MONITOR,
  C_DEMONITOR,
  C_EXIT_TAG,
  C_EXIT_REASON,
  C_TRAP,
  C_SEND,
  C_PANIC,
  C_LOOP,
  C_YIELD_LOOP,
  C_SLEEP,
  C_BLOCK,
  C_SET_TERM,
  C_CLEAR_TERM,
  T_READY = 0x7E5801,
  T_PONG,
  T_LINKED,
  T_UNLINKED,
  T_MONITORED,
  T_DEMONITORED,
  T_EXIT_SENT,
  T_TRAPPED,
  T_LOOPING,
  T_SLEEPING,
  T_SLEPT,
  T_BLOCKING,
  T_UNBLOCKED,
  T_TERM_SET,
  T_REPORT,
  T_TERMINATED,
  T_ECHO,
  T_DONE,
  T_GO,
  T_SEQ,
  T_MARK
};

void th_puppet(const uint8_t* args);
/* Spawns a puppet (parent: the caller) and waits for its READY. */
snow_pid_t th__spawn_puppet(const char* file, int line, unsigned flags, snow_ref_t* monitor_ref);
#define th_spawn_puppet(flags) th__spawn_puppet(__FILE__, __LINE__, (flags), NULL)
/* Same, monitored atomically through snow_spawn_opts (ref written to *ref). */
#define th_spawn_puppet_mon(flags, ref) th__spawn_puppet(__FILE__, __LINE__, (flags), (ref))
/* Sends [cmd][arg] and waits for the reply [reply_tag][p][value]; returns value. */
uint64_t th__puppet_call(const char* file, int line, snow_pid_t p, uint64_t cmd, uint64_t arg, uint64_t reply_tag);
#define th_puppet_call(p, cmd, arg, reply) th__puppet_call(__FILE__, __LINE__, (p), (cmd), (arg), (reply))
/* PING/PONG round trip. */
void th__puppet_ping(const char* file, int line, snow_pid_t p);
#define th_puppet_ping(p) th__puppet_ping(__FILE__, __LINE__, (p))
/* [C_EXIT_SELF][reason] (no reply). */
void th_puppet_exit_self(snow_pid_t p, const uint8_t* reason, size_t len);
/* Makes puppet `from` send a PING to puppet `to` (spawned by the caller) and
 * waits for to's PONG: once it returns, `to` has processed every signal
 * `from` sent before. */
void th__puppet_fence(const char* file, int line, snow_pid_t from, snow_pid_t to);
#define th_puppet_fence(from, to) th__puppet_fence(__FILE__, __LINE__, (from), (to))

/* ------------------------------------------------------------------------
 * Terminate callback recorder. th_term_cb records (self, reason) in a global
 * table (readable after run_scheduler returns) and sends
 * [T_TERMINATED][self][reason...] to th_main.
 * ------------------------------------------------------------------------ */
void th_term_cb(const uint8_t* state, const uint8_t* reason);
/* The recorded reason of pid (copied into out); false if never called. */
bool th_term_get(snow_pid_t pid, uint8_t* out, size_t* len, bool* state_was_null);
int th_term_count(void);

#endif
