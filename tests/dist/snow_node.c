/*
 * One file on purpose (over 800 lines): one command table drives every
 * multi-node test, so each command is one case of one switch.
 *
 * snow_node.c: a libsnowrt node driven line by line over stdin/stdout, for
 * the multi-node tests (tests/dist/test_dist.py, tests/interop/test_interop.py).
 * Public header only.
 *
 *   snow_node <name@host> <cookie> [ticktime_ms]
 *
 * Starts the runtime and the node, registers the functions "worker" (so
 * other nodes can snow_node_spawn workers here), "crasher" (panics at once)
 * and "quick" (returns at once), prints
 *   ready <name>
 * (or "startfail <code> <text>" and exits 2), then reads commands. (With
 * SNOW_NODE_SERVE_ONCE=1 in its environment it reads none: its one process,
 * registered as "srv", prints the first message it receives, E srv MSG,
 * and returns, and the program ends by itself, "bye 0".) Every
 * command line starts with an id chosen by the driver; the answer is one line
 *   R <id> ok [values...]      or      R <id> err <code> [text]
 * Events are printed as they happen, one line each:
 *   E <label> <KIND> key=value ... t=<CLOCK_MONOTONIC ns>
 * Every line is written with a single write(2) (lines stay under PIPE_BUF),
 * so lines from different processes never interleave.
 *
 * Values: pids are the hex of snow_term_encode_pid (external term format),
 * refs and ids are hex u64, free text is hex (so it is one token). Reasons
 * print as reason=<name> and, for error/custom/term, rtext=<hex of data>.
 *
 * Commands handled by the reader thread (a pthread attached as a process):
 *   <id> spawn <label> [trap]         spawn a worker, answer its pid
 *   <id> pid <label>                  the worker's pid
 *   <id> rawpid <label>               the worker's pid value as raw:<hex u64>
 *                                     (any <pid> argument also takes that form:
 *                                     the value used as raw bytes, not a term)
 *   <id> kill <label>                 snow_actor_exit(pid, killed) from outside
 *   <id> halt                         snow_rt_halt(0) (also on stdin EOF)
 *   <id> tsend <pid> <hex>            snow_actor_send from this attached thread
 *   <id> tsleep <ms>                  answers, then this thread sleeps (nanosleep)
 *   <id> pstatus <label>              snow_process_info: answers status=
 *                                     (SNOW_PROC_*) of the worker
 *   <id> stats                        snow_rt_stats: answers alive= nodes=
 *                                     node_entries= remote_pids=
 *                                     alias_drops=
 *   <id> psend <pid> <hex> <ms>       a new plain pthread sends, prints
 *                                     E thread SENT, then sleeps ms
 * Commands run by worker <label> itself (so they act as that process):
 *   <id> trap <label> 0|1             snow_actor_set_trap_exit
 *   <id> link <label> <pid>           snow_actor_link
 *   <id> unlink <label> <pid>         snow_actor_unlink
 *   <id> monitor <label> <pid>        snow_process_monitor, answers the ref
 *   <id> demonitor <label> <ref>      snow_process_demonitor, answers 0/1
 *   <id> crash <label> <text>         answers, then snow_panic(text)
 *   <id> exit <label> <reason> [text] answers, then snow_actor_exit_self
 *   <id> bigexit <label> <bytes>      answers, then exits with an error of that size
 *   <id> sendexit <label> <pid> <reason> [text]  snow_actor_exit_reason
 *   <id> spin <label> <ms>            answers, busy-waits ms without touching
 *                                     the runtime (signals stay queued), then
 *                                     prints E <label> SPUN
 *   <id> spinunlink <label> <pid> <ms>      answers, spins, unlinks, prints
 *                                     E <label> UNLINKED rc=
 *   <id> spindemonitor <label> <ref> <ms>   same with snow_process_demonitor
 *   <id> nodemon <label> <node>       snow_node_monitor, answers the id
 *   <id> nodedemon <label> <id>       snow_node_demonitor
 *   <id> nodemonall <label> 0|1       snow_node_monitor_all
 *   <id> connect <label> <node>       snow_node_connect, answers its result
 *   <id> disconnect <label> <node>    snow_node_disconnect
 *   <id> nodes <label>                snow_node_list, comma separated
 *   <id> rspawn <label> <node> <fn> <link> <newlabel> [trap]
 *                                     snow_node_spawn of fn with args
 *                                     "newlabel[ trap]\0", answers the pid or 0
 *   <id> rspawnmon <label> <node> <fn> <newlabel>
 *                                     snow_node_spawn_opts of fn with monitor
 *                                     set, answers the pid (or 0) and the
 *                                     monitor's ref
 *   <id> send <label> <pid> <hex>     snow_actor_send of those bytes ("-": none)
 *   <id> call <label> <pid> <hex> <ms>   snow_service_try_call; answers the
 *                                     reply's bytes or the last error. A worker
 *                                     receiving such a call replies "re:" and
 *                                     the payload, and prints E <label> CALLED
 *   <id> sendnamed <label> <name> <node|-> <hex>   snow_actor_send_named
 *   <id> sendterm <label> <pid> <etfhex>           snow_actor_send_term
 *   <id> sendbig <label> <pid> <size> a generated payload of size bytes;
 *                                     answers rc and its sum= (FNV-1a 64)
 *   <id> nodestop <label>             snow_node_stop
 *   <id> nodestart <label> <name> <cookie>  snow_node_start
 *   <id> ticktime <label> <ms>        snow_node_set_ticktime
 *   <id> mmon <label> <pid> <n>       n monitors of pid; when all n DOWNs have
 *                                     arrived: E <label> MDOWN n= reasons=...;
 *                                     any DOWN for those refs after that:
 *                                     E <label> MDUP
 *   <id> mlink <label> <pid> <n>      n helper processes, each trapping and
 *                                     linked to pid; when all n got their EXIT:
 *                                     E <label> MLINK n= reasons=...
 *   <id> seqsend <label> <pid> <n>    sends n messages [magic][seq], answers
 *                                     when done
 *   <id> seqrecv <label> <n>          answers, then receives n sequence
 *                                     messages (of any size from 16 bytes)
 *                                     and prints E <label> SEQ ok= bytes=
 *                                     (or a stall/bad report)
 *   <id> bigseqsend <label> <pid> <n> <size>   answers, then sends n sequence
 *                                     messages of size bytes, printing
 *                                     E <label> SENT k= rc= after each and
 *                                     E <label> BIGDONE n= errors= at the end
 *   <id> echo <label>                 answers (a barrier through the mailbox)
 * Worker events: EXIT, DOWN, NODEUP, NODEDOWN, MSG (user), TERM, STARTED and
 * DIED (from its terminate callback).
 */
#define _GNU_SOURCE 1
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "snowrt.h"

#define CMD_MAGIC 0x444d43574f4e5301ull /* "\1SNOWCMD" little-endian */
#define SEQ_MAGIC 0x5145535f574f4e53ull /* "SNOW_SEQ" */
#define DONE_MAGIC 0x454e4f445f574f4eull
#define CALL_MAGIC 0x4c4c41435f574f4eull /* "NOW_CALL": service calls between workers */
#define MAX_LINE 3800
#define MAX_WORKERS 8192
#define MAX_LABEL 64

/* ------------------------------------------------------------------ output */

static int64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* One line, one write(2). */
static void emit(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
static void emit(const char* fmt, ...) {
  char buf[MAX_LINE + 2];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, MAX_LINE, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if (n >= MAX_LINE) n = MAX_LINE - 1;
  buf[n++] = '\n';
  const char* p = buf;
  while (n > 0) {
    ssize_t w = write(1, p, (size_t)n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return;
    }
    p += w;
    n -= (int)w;
  }
}

static void to_hex(const uint8_t* b, size_t n, char* out, size_t cap) {
  static const char d[] = "0123456789abcdef";
  size_t i = 0;
  for (; i < n && 2 * i + 2 < cap; ++i) {
    out[2 * i] = d[b[i] >> 4];
    out[2 * i + 1] = d[b[i] & 15];
  }
  out[2 * i] = 0;
}

/* Hex to bytes ("-" is empty); returns the length or -1. */
static int64_t from_hex(const char* s, uint8_t* out, size_t cap) {
  if (strcmp(s, "-") == 0) return 0;
  size_t n = strlen(s);
  if (n % 2 || n / 2 > cap) return -1;
  for (size_t i = 0; i < n / 2; ++i) {
    unsigned v;
    if (sscanf(s + 2 * i, "%2x", &v) != 1) return -1;
    out[i] = (uint8_t)v;
  }
  return (int64_t)(n / 2);
}

/* A pid as hex ETF, or "0". */
static void pid_hex(snow_pid_t pid, char* out, size_t cap) {
  uint8_t b[512];
  int64_t n = pid ? snow_term_encode_pid(pid, b, sizeof b) : -1;
  if (n <= 0) {
    snprintf(out, cap, "0");
    return;
  }
  to_hex(b, (size_t)n, out, cap);
}

static snow_pid_t parse_pid(const char* hex) {
  /* "raw:<hex u64>": a pid value used as raw bytes, the way Snow programs
   * pass pids between nodes (rawpid prints one). */
  if (strncmp(hex, "raw:", 4) == 0) return strtoull(hex + 4, NULL, 16);
  uint8_t b[512];
  int64_t n = from_hex(hex, b, sizeof b);
  return n > 0 ? snow_term_decode_pid(b, (uint64_t)n) : 0;
}

/* FNV-1a 64: checksums of large payloads. */
static uint64_t fnv1a(const uint8_t* p, uint64_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (uint64_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

/* CRC-32 (the zlib and erlang:crc32 polynomial): what an erl peer can
 * compute for a large term cheaply. */
static uint32_t crc32_of(const uint8_t* p, uint64_t n) {
  static uint32_t table[256];
  if (!table[1])
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      table[i] = c;
    }
  uint32_t c = 0xFFFFFFFFu;
  for (uint64_t i = 0; i < n; ++i) c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

static uint64_t get_u64(const uint8_t* p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}
static void put_u64(uint8_t* p, uint64_t v) { memcpy(p, &v, 8); }

static const char* reason_name(uint8_t tag) {
  static const char* const names[] = {"normal", "error",        "killed", "reserved", "shutdown",
                                      "custom", "noconnection", "noproc", "term"};
  return tag <= 8 ? names[tag] : "bad";
}

/* "reason=<name>[ rtext=<hex>]" for an encoded reason. */
static void reason_str(const uint8_t* r, uint64_t len, char* out, size_t cap) {
  if (len == 0) {
    snprintf(out, cap, "reason=empty");
    return;
  }
  uint8_t tag = r[0];
  if ((tag == SNOW_REASON_ERROR || tag == SNOW_REASON_CUSTOM || tag == SNOW_REASON_TERM)) {
    uint64_t n = len >= 9 ? get_u64(r + 1) : 0;
    if (len < 9 || n > len - 9) {
      snprintf(out, cap, "reason=%s rtext=malformed", reason_name(tag));
      return;
    }
    char hex[2400];
    to_hex(r + 9, (size_t)n, hex, sizeof hex);
    snprintf(out, cap, "reason=%s rtext=%s", reason_name(tag), hex);
    return;
  }
  snprintf(out, cap, "reason=%s", reason_name(tag));
}

/* Encodes a reason from its name (normal, error, killed, shutdown, custom,
 * noconnection, noproc, term; anything else: custom with that text) and
 * optional text (for term: hex ETF); returns the length. */
static size_t encode_reason(const char* name, const char* text, uint8_t* out, size_t cap) {
  static const char* const names[] = {"normal",   "error",  "killed",       "reserved",
                                      "shutdown", "custom", "noconnection", "noproc"};
  uint8_t tag = SNOW_REASON_CUSTOM;
  for (uint8_t i = 0; i < 8; ++i)
    if (strcmp(name, names[i]) == 0) tag = i;
  if (strcmp(name, "term") == 0) { /* text: hex of external term format bytes */
    out[0] = SNOW_REASON_TERM;
    int64_t n = from_hex(text ? text : "-", out + 9, cap - 9);
    if (n < 0) n = 0;
    put_u64(out + 1, (uint64_t)n);
    return 9 + (size_t)n;
  }
  out[0] = tag;
  if (tag == SNOW_REASON_ERROR || tag == SNOW_REASON_CUSTOM) {
    const char* t = text ? text : (tag == SNOW_REASON_CUSTOM ? name : "");
    size_t n = strlen(t);
    if (n + 9 > cap) n = cap - 9;
    put_u64(out + 1, n);
    memcpy(out + 9, t, n);
    return 9 + n;
  }
  return 1;
}

/* ------------------------------------------------------------------ workers */

struct worker {
  char label[MAX_LABEL];
  snow_pid_t pid;
};
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static struct worker g_workers[MAX_WORKERS];
static int g_nworkers;

static void table_put(const char* label, snow_pid_t pid) {
  pthread_mutex_lock(&g_mu);
  int i = 0;
  for (; i < g_nworkers; ++i)
    if (strcmp(g_workers[i].label, label) == 0) break;
  if (i == g_nworkers && g_nworkers < MAX_WORKERS) ++g_nworkers;
  if (i < MAX_WORKERS) {
    snprintf(g_workers[i].label, MAX_LABEL, "%s", label);
    g_workers[i].pid = pid;
  }
  pthread_mutex_unlock(&g_mu);
}

static snow_pid_t table_pid(const char* label) {
  snow_pid_t pid = 0;
  pthread_mutex_lock(&g_mu);
  for (int i = 0; i < g_nworkers; ++i)
    if (strcmp(g_workers[i].label, label) == 0) pid = g_workers[i].pid;
  pthread_mutex_unlock(&g_mu);
  return pid;
}

static int table_label(snow_pid_t pid, char* out) {
  int found = 0;
  pthread_mutex_lock(&g_mu);
  for (int i = 0; i < g_nworkers; ++i)
    if (g_workers[i].pid == pid) {
      /* Labels are stored NUL-terminated within MAX_LABEL bytes. */
      memcpy(out, g_workers[i].label, MAX_LABEL);
      out[MAX_LABEL - 1] = '\0';
      found = 1;
    }
  pthread_mutex_unlock(&g_mu);
  return found;
}

static void on_terminate(const uint8_t* state, const uint8_t* reason) {
  (void)state;
  char label[MAX_LABEL] = "?";
  table_label(snow_actor_self(), label);
  uint64_t len = 1;
  if (reason[0] == SNOW_REASON_ERROR || reason[0] == SNOW_REASON_CUSTOM || reason[0] == SNOW_REASON_TERM)
    len = 9 + get_u64(reason + 1);
  char rs[2600];
  reason_str(reason, len, rs, sizeof rs);
  emit("E %s DIED %s t=%lld", label, rs, (long long)mono_ns());
}

/* Per-worker state for the mmon command. */
struct mmon {
  uint64_t* refs; /* sorted */
  uint8_t* seen;
  uint64_t n, got, dups, badpid, reasons[10];
  snow_pid_t target;
  int64_t first_ns, last_ns;
  int reported;
};

static int cmp_u64(const void* a, const void* b) {
  uint64_t x = *(const uint64_t*)a, y = *(const uint64_t*)b;
  return x < y ? -1 : x > y;
}

static int64_t mmon_find(struct mmon* mm, uint64_t ref) {
  if (!mm->refs) return -1;
  uint64_t* f = bsearch(&ref, mm->refs, mm->n, sizeof(uint64_t), cmp_u64);
  return f ? f - mm->refs : -1;
}

static void reasons_str(const uint64_t* counts, char* out, size_t cap) {
  size_t o = 0;
  out[0] = 0;
  for (int i = 0; i < 10; ++i)
    if (counts[i] && o + 32 < cap)
      o += (size_t)snprintf(out + o, cap - o, "%s%s:%llu", o ? "," : "", i < 9 ? reason_name((uint8_t)i) : "bad",
                            (unsigned long long)counts[i]);
  if (!o) snprintf(out, cap, "none");
}

/* The mlink helper: links to a pid while trapping, reports its EXIT. */
static void mlink_helper(const uint8_t* args) {
  snow_pid_t parent = get_u64(args), target = get_u64(args + 8);
  snow_actor_set_trap_exit(true);
  snow_actor_link(target);
  uint8_t ready[24];
  put_u64(ready, DONE_MAGIC);
  put_u64(ready + 8, 0); /* linked */
  put_u64(ready + 16, snow_actor_self());
  snow_actor_send(parent, ready, sizeof ready);
  for (;;) {
    const snow_msg* m = snow_actor_receive(-1);
    if (snow_msg_kind(m) != SNOW_MSG_EXIT) continue;
    uint8_t rep[24];
    put_u64(rep, DONE_MAGIC);
    put_u64(rep + 8, 1); /* exit */
    put_u64(rep + 16, (uint64_t)m->data[8] | (get_u64(m->data) == target ? 0 : 0x100));
    snow_actor_send(parent, rep, sizeof rep);
    return;
  }
}

struct mlink {
  uint64_t n, linked, got, badfrom, reasons[10];
  int64_t first_ns, last_ns;
  int reported;
};

struct wstate {
  char label[MAX_LABEL];
  struct mmon mm;
  struct mlink ml;
};

static void print_event(struct wstate* w, const snow_msg* m) {
  char a[600], b[2600];
  int64_t t = mono_ns();
  switch (snow_msg_kind(m)) {
    case SNOW_MSG_EXIT:
      pid_hex(get_u64(m->data), a, sizeof a);
      reason_str(m->data + 8, m->len - 8, b, sizeof b);
      emit("E %s EXIT from=%s %s t=%lld", w->label, a, b, (long long)t);
      break;
    case SNOW_MSG_DOWN: {
      uint64_t ref = get_u64(m->data);
      int64_t i = mmon_find(&w->mm, ref);
      if (i >= 0) {
        struct mmon* mm = &w->mm;
        if (mm->seen[i]) {
          ++mm->dups;
          emit("E %s MDUP ref=%llx t=%lld", w->label, (unsigned long long)ref, (long long)t);
          return;
        }
        mm->seen[i] = 1;
        if (!mm->got) mm->first_ns = t;
        mm->last_ns = t;
        ++mm->got;
        if (get_u64(m->data + 8) != mm->target) ++mm->badpid;
        uint8_t tag = m->len > 16 ? m->data[16] : 9;
        ++mm->reasons[tag <= 8 ? tag : 9];
        if (mm->got == mm->n && !mm->reported) {
          mm->reported = 1;
          char rs[400];
          reasons_str(mm->reasons, rs, sizeof rs);
          emit("E %s MDOWN n=%llu dups=%llu badpid=%llu reasons=%s first=%lld t=%lld", w->label,
               (unsigned long long)mm->n, (unsigned long long)mm->dups, (unsigned long long)mm->badpid, rs,
               (long long)mm->first_ns, (long long)mm->last_ns);
        }
        return;
      }
      pid_hex(get_u64(m->data + 8), a, sizeof a);
      reason_str(m->data + 16, m->len - 16, b, sizeof b);
      emit("E %s DOWN ref=%llx pid=%s %s t=%lld", w->label, (unsigned long long)ref, a, b, (long long)t);
      break;
    }
    case SNOW_MSG_NODEUP:
    case SNOW_MSG_NODEDOWN: {
      int n = m->len < 400 ? (int)m->len : 400;
      emit("E %s %s node=%.*s t=%lld", w->label, snow_msg_kind(m) == SNOW_MSG_NODEUP ? "NODEUP" : "NODEDOWN", n,
           (const char*)m->data, (long long)t);
      break;
    }
    case SNOW_MSG_TERM: {
      char hex[2400];
      to_hex(m->data, (size_t)m->len, hex, sizeof hex);
      pid_hex(snow_term_decode_pid(m->data, m->len), a, sizeof a);
      emit("E %s TERM etf=%s pid=%s len=%llu crc=%u t=%lld", w->label, hex, a, (unsigned long long)m->len,
           (unsigned)crc32_of(m->data, m->len), (long long)t);
      break;
    }
    case SNOW_MSG_SPAWN_REPLY:
      emit("E %s SPAWN_REPLY len=%llu t=%lld", w->label, (unsigned long long)m->len, (long long)t);
      break;
    default: {
      if (m->len >= 16 && m->tag == CALL_MAGIC) { /* a service call: reply "re:" + payload */
        snow_pid_t caller = get_u64(m->data + 8);
        uint8_t rep[1800];
        size_t pl = (size_t)m->len - 16 > sizeof rep - 3 ? sizeof rep - 3 : (size_t)m->len - 16;
        memcpy(rep, "re:", 3);
        memcpy(rep + 3, m->data + 16, pl);
        int32_t rc = snow_service_reply(caller, rep, 3 + pl);
        pid_hex(caller, a, sizeof a);
        emit("E %s CALLED caller=%s rc=%d t=%lld", w->label, a, rc, (long long)t);
        return;
      }
      if (m->len == 24 && m->tag == DONE_MAGIC) { /* from an mlink helper */
        struct mlink* ml = &w->ml;
        if (get_u64(m->data + 8) == 0) {
          ++ml->linked;
          if (ml->linked == ml->n)
            emit("E %s MLINKED n=%llu t=%lld", w->label, (unsigned long long)ml->n, (long long)t);
          return;
        }
        uint64_t v = get_u64(m->data + 16);
        if (v & 0x100) ++ml->badfrom;
        uint8_t tag = (uint8_t)v;
        ++ml->reasons[tag <= 8 ? tag : 9];
        if (!ml->got) ml->first_ns = t;
        ml->last_ns = t;
        if (++ml->got == ml->n && !ml->reported) {
          ml->reported = 1;
          char rs[400];
          reasons_str(ml->reasons, rs, sizeof rs);
          emit("E %s MLINK n=%llu badfrom=%llu reasons=%s first=%lld t=%lld", w->label, (unsigned long long)ml->n,
               (unsigned long long)ml->badfrom, rs, (long long)ml->first_ns, (long long)ml->last_ns);
        }
        return;
      }
      char hex[2100];
      size_t shown = m->len > 1000 ? 1000 : (size_t)m->len;
      to_hex(m->data, shown, hex, sizeof hex);
      emit("E %s MSG len=%llu sum=%016llx data=%s%s t=%lld", w->label, (unsigned long long)m->len,
           (unsigned long long)fnv1a(m->data, m->len), shown ? hex : "-", shown < m->len ? " trunc=1" : "",
           (long long)t);
    }
  }
}

static void spin_ms(int64_t ms) {
  int64_t end = mono_ns() + ms * 1000000;
  while (mono_ns() < end) {
  }
}

static int match_seq(const snow_msg* m, void* ctx) {
  (void)ctx;
  return snow_msg_kind(m) == SNOW_MSG_USER && m->len >= 16 && m->tag == SEQ_MAGIC;
}

static void seq_receive(const char* label, uint64_t n) {
  uint64_t expect = 0, bad = 0, got = 0, bytes = 0;
  int64_t start = 0;
  while (got < n) {
    const snow_msg* m = snow_actor_receive_match(match_seq, NULL, 10000);
    if (!m) {
      emit("E %s SEQ stall got=%llu next=%llu bad=%llu t=%lld", label, (unsigned long long)got,
           (unsigned long long)expect, (unsigned long long)bad, (long long)mono_ns());
      continue;
    }
    if (!got) start = mono_ns();
    uint64_t seq = get_u64(m->data + 8);
    if (seq != expect) {
      if (bad < 5)
        emit("E %s SEQ bad expected=%llu got=%llu t=%lld", label, (unsigned long long)expect, (unsigned long long)seq,
             (long long)mono_ns());
      ++bad;
    }
    expect = seq + 1;
    ++got;
    bytes += m->len;
  }
  emit("E %s SEQ ok=%d n=%llu bytes=%llu bad=%llu ms=%lld t=%lld", label, bad == 0, (unsigned long long)got,
       (unsigned long long)bytes, (unsigned long long)bad, (long long)((mono_ns() - start) / 1000000),
       (long long)mono_ns());
}

#define MAXTOK 16

/* strtok_r, not strtok: the reader thread and worker processes on several
 * scheduler threads tokenize at the same time, and strtok's position is one
 * static shared by all of them (a worker then parsed the reader's line). */
static int tokenize(char* line, char** tok) {
  int n = 0;
  char* pos = NULL;
  for (char* s = strtok_r(line, " \t\r\n", &pos); s && n < MAXTOK; s = strtok_r(NULL, " \t\r\n", &pos)) tok[n++] = s;
  return n;
}

static void reply_rc(const char* id, int64_t rc) {
  if (rc < 0) emit("R %s err %lld %s", id, (long long)rc, snow_strerror(rc));
  else emit("R %s ok %lld", id, (long long)rc);
}

/* Parses a "<pid hex> <bytes hex>" argument pair; answers the command with
 * an error and returns -1 when either is bad, else the byte count. */
static int64_t pid_and_bytes(const char* id, const char* pid_text, const char* hex, snow_pid_t* pid, uint8_t* out,
                             size_t cap) {
  int64_t n = from_hex(hex, out, cap);
  *pid = parse_pid(pid_text);
  if (n < 0 || !*pid) {
    emit("R %s err -1 bad arguments", id);
    return -1;
  }
  return n;
}

/* Runs one command in the worker's own process. */
static void worker_command(struct wstate* w, char* line) {
  char* t[MAXTOK];
  int n = tokenize(line, t);
  if (n < 3) return;
  const char* id = t[0];
  const char* cmd = t[1];
  char a[600];
#define NEED(k)                                            \
  if (n < (k)) {                                           \
    emit("R %s err -1 missing arguments for %s", id, cmd); \
    return;                                                \
  }
  if (strcmp(cmd, "trap") == 0) {
    NEED(4);
    emit("R %s ok %d", id, (int)snow_actor_set_trap_exit(atoi(t[3]) != 0));
  } else if (strcmp(cmd, "echo") == 0) {
    emit("R %s ok", id);
  } else if (strcmp(cmd, "link") == 0 || strcmp(cmd, "unlink") == 0) {
    NEED(4);
    snow_pid_t pid = parse_pid(t[3]);
    if (!pid) {
      emit("R %s err -1 bad pid", id);
      return;
    }
    reply_rc(id, cmd[0] == 'l' ? snow_actor_link(pid) : snow_actor_unlink(pid));
  } else if (strcmp(cmd, "monitor") == 0) {
    NEED(4);
    snow_pid_t pid = parse_pid(t[3]);
    if (!pid) {
      emit("R %s err -1 bad pid", id);
      return;
    }
    emit("R %s ok %llx", id, (unsigned long long)snow_process_monitor(pid));
  } else if (strcmp(cmd, "demonitor") == 0) {
    NEED(4);
    reply_rc(id, snow_process_demonitor(strtoull(t[3], NULL, 16)));
  } else if (strcmp(cmd, "crash") == 0) {
    NEED(4);
    emit("R %s ok", id);
    snow_panic(t[3], strlen(t[3]), __FILE__, strlen(__FILE__), __LINE__);
  } else if (strcmp(cmd, "exit") == 0) {
    NEED(4);
    uint8_t r[512];
    size_t rl = encode_reason(t[3], n > 4 ? t[4] : NULL, r, sizeof r);
    emit("R %s ok", id);
    snow_actor_exit_self(r, rl);
  } else if (strcmp(cmd, "bigexit") == 0) {
    /* bigexit <label> <bytes>: exit with an `error` of that many 'z's (more
     * than one frame can carry, to check the reason is cut to fit). */
    NEED(4);
    uint64_t bytes = strtoull(t[3], NULL, 10);
    uint8_t* r = snow_gc_alloc_actor(9 + bytes, 1);
    if (!r) {
      emit("R %s err -11 out of memory", id);
      return;
    }
    r[0] = SNOW_REASON_ERROR;
    put_u64(r + 1, bytes);
    memset(r + 9, 'z', (size_t)bytes);
    emit("R %s ok", id);
    snow_actor_exit_self(r, 9 + bytes);
  } else if (strcmp(cmd, "sendexit") == 0) {
    NEED(5);
    uint8_t r[512];
    size_t rl = encode_reason(t[4], n > 5 ? t[5] : NULL, r, sizeof r);
    reply_rc(id, snow_actor_exit_reason(parse_pid(t[3]), r, rl));
  } else if (strcmp(cmd, "spin") == 0) {
    NEED(4);
    emit("R %s ok", id);
    spin_ms(atoll(t[3]));
    emit("E %s SPUN t=%lld", w->label, (long long)mono_ns());
  } else if (strcmp(cmd, "spinunlink") == 0) {
    NEED(5);
    snow_pid_t pid = parse_pid(t[3]);
    emit("R %s ok", id);
    spin_ms(atoll(t[4]));
    int rc = snow_actor_unlink(pid);
    emit("E %s UNLINKED rc=%d t=%lld", w->label, rc, (long long)mono_ns());
  } else if (strcmp(cmd, "spindemonitor") == 0) {
    NEED(5);
    uint64_t ref = strtoull(t[3], NULL, 16);
    emit("R %s ok", id);
    spin_ms(atoll(t[4]));
    int64_t rc = snow_process_demonitor(ref);
    emit("E %s DEMONITORED rc=%lld t=%lld", w->label, (long long)rc, (long long)mono_ns());
  } else if (strcmp(cmd, "nodemon") == 0) {
    NEED(4);
    int64_t rc = snow_node_monitor(t[3], strlen(t[3]));
    if (rc < 0) reply_rc(id, rc);
    else emit("R %s ok %llx", id, (unsigned long long)rc);
  } else if (strcmp(cmd, "nodedemon") == 0) {
    NEED(4);
    reply_rc(id, snow_node_demonitor((int64_t)strtoull(t[3], NULL, 16)));
  } else if (strcmp(cmd, "nodemonall") == 0) {
    NEED(4);
    reply_rc(id, snow_node_monitor_all(atoi(t[3]) != 0));
  } else if (strcmp(cmd, "connect") == 0) {
    NEED(4);
    int64_t start = mono_ns();
    int64_t rc = snow_node_connect(t[3], strlen(t[3]));
    int64_t ms = (mono_ns() - start) / 1000000;
    if (rc < 0) emit("R %s err %lld %s ms=%lld", id, (long long)rc, snow_strerror(rc), (long long)ms);
    else emit("R %s ok %lld ms=%lld", id, (long long)rc, (long long)ms);
  } else if (strcmp(cmd, "disconnect") == 0) {
    NEED(4);
    reply_rc(id, snow_node_disconnect(t[3], strlen(t[3])));
  } else if (strcmp(cmd, "nodes") == 0) {
    const uint64_t* l = snow_node_list();
    char out[3000];
    size_t o = 0;
    out[0] = 0;
    for (uint64_t i = 0; i < l[0] && o < sizeof out - 300; ++i) {
      const uint64_t* s = (const uint64_t*)l[2 + i];
      o += (size_t)snprintf(out + o, sizeof out - o, "%s%.*s", i ? "," : "", (int)s[0], (const char*)(s + 1));
    }
    emit("R %s ok %s", id, o ? out : "-");
  } else if (strcmp(cmd, "rspawn") == 0) {
    NEED(7);
    char args[MAX_LABEL + 8];
    int al = snprintf(args, sizeof args, "%s%s", t[6], n > 7 && strcmp(t[7], "trap") == 0 ? " trap" : "");
    snow_pid_t pid = snow_node_spawn(t[3], strlen(t[3]), t[4], strlen(t[4]), (const uint8_t*)args, (uint64_t)al + 1,
                                     (uint8_t)atoi(t[5]));
    pid_hex(pid, a, sizeof a);
    emit("R %s ok %s", id, a);
  } else if (strcmp(cmd, "rspawnmon") == 0) {
    NEED(6);
    snow_spawn_opts o;
    memset(&o, 0, sizeof o);
    o.monitor = 1;
    snow_pid_t pid =
        snow_node_spawn_opts(t[3], strlen(t[3]), t[4], strlen(t[4]), (const uint8_t*)t[5], strlen(t[5]) + 1, &o);
    pid_hex(pid, a, sizeof a);
    emit("R %s ok %s %llx", id, a, (unsigned long long)o.monitor_ref);
  } else if (strcmp(cmd, "call") == 0) { /* call <pid> <hex payload> <timeout ms> */
    NEED(6);
    uint8_t data[1800];
    snow_pid_t pid;
    int64_t dl = pid_and_bytes(id, t[3], t[4], &pid, data, sizeof data);
    if (dl < 0) return;
    /* try_call: the worker reports a failure instead of exiting. */
    const snow_msg* r = snow_service_try_call(pid, CALL_MAGIC, data, (uint64_t)dl, atoll(t[5]));
    if (!r) {
      int64_t e = snow_service_last_error();
      emit("R %s err %lld %s", id, (long long)e, e < 0 ? snow_strerror(e) : "server exited");
      return;
    }
    char hex[3700];
    to_hex(r->data, (size_t)r->len, hex, sizeof hex);
    emit("R %s ok %s", id, r->len ? hex : "-");
  } else if (strcmp(cmd, "send") == 0 || strcmp(cmd, "sendterm") == 0) {
    NEED(5);
    uint8_t data[1800];
    snow_pid_t pid;
    int64_t dl = pid_and_bytes(id, t[3], t[4], &pid, data, sizeof data);
    if (dl < 0) return;
    reply_rc(id,
             cmd[4] == 't' ? snow_actor_send_term(pid, data, (uint64_t)dl) : snow_actor_send(pid, data, (uint64_t)dl));
  } else if (strcmp(cmd, "sendnamed") == 0) {
    NEED(6);
    uint8_t data[1800];
    int64_t dl = from_hex(t[5], data, sizeof data);
    if (dl < 0) {
      emit("R %s err -1 bad hex", id);
      return;
    }
    const char* node = strcmp(t[4], "-") == 0 ? "" : t[4];
    reply_rc(id, snow_actor_send_named(t[3], strlen(t[3]), node, strlen(node), data, (uint64_t)dl));
  } else if (strcmp(cmd, "sendbig") == 0) {
    NEED(5);
    uint64_t size = strtoull(t[4], NULL, 10);
    uint8_t* big = malloc(size ? size : 1);
    if (!big) {
      emit("R %s err -11 out of memory", id);
      return;
    }
    for (uint64_t i = 0; i < size; ++i) big[i] = (uint8_t)(i * 131 + 7 + (i >> 16));
    int rc = snow_actor_send(parse_pid(t[3]), big, size);
    emit("R %s ok %d sum=%016llx", id, rc, (unsigned long long)fnv1a(big, size));
    free(big);
  } else if (strcmp(cmd, "nodestop") == 0) {
    reply_rc(id, snow_node_stop());
  } else if (strcmp(cmd, "nodestart") == 0) {
    NEED(5);
    reply_rc(id, snow_node_start(t[3], strlen(t[3]), t[4], strlen(t[4])));
  } else if (strcmp(cmd, "ticktime") == 0) {
    NEED(4);
    reply_rc(id, snow_node_set_ticktime((uint32_t)atol(t[3])));
  } else if (strcmp(cmd, "mmon") == 0) {
    NEED(5);
    struct mmon* mm = &w->mm; /* (a previous set stays allocated until the worker exits) */
    memset(mm, 0, sizeof *mm);
    mm->target = parse_pid(t[3]);
    mm->n = strtoull(t[4], NULL, 10);
    mm->refs = snow_gc_alloc_actor((mm->n ? mm->n : 1) * sizeof(uint64_t), 8);
    mm->seen = snow_gc_alloc_actor(mm->n ? mm->n : 1, 8);
    if (!mm->target || !mm->refs || !mm->seen) {
      emit("R %s err -1 bad arguments", id);
      return;
    }
    /* Set up all monitors before a DOWN can be matched against the set:
     * DOWNs are only looked at by receive, after this command returns. */
    uint64_t zero = 0;
    for (uint64_t i = 0; i < mm->n; ++i) {
      mm->refs[i] = snow_process_monitor(mm->target);
      if (!mm->refs[i]) ++zero;
    }
    qsort(mm->refs, mm->n, sizeof(uint64_t), cmp_u64);
    uint64_t dup = 0;
    for (uint64_t i = 1; i < mm->n; ++i) dup += mm->refs[i] == mm->refs[i - 1];
    emit("R %s ok zero=%llu duprefs=%llu", id, (unsigned long long)zero, (unsigned long long)dup);
  } else if (strcmp(cmd, "mlink") == 0) {
    NEED(5);
    struct mlink* ml = &w->ml;
    memset(ml, 0, sizeof *ml);
    ml->n = strtoull(t[4], NULL, 10);
    uint8_t args[16];
    put_u64(args, snow_actor_self());
    put_u64(args + 8, parse_pid(t[3]));
    uint64_t failed = 0;
    for (uint64_t i = 0; i < ml->n; ++i)
      if (!snow_actor_spawn(mlink_helper, args, sizeof args, SNOW_PRIO_NORMAL)) ++failed;
    emit("R %s ok failed=%llu", id, (unsigned long long)failed);
  } else if (strcmp(cmd, "seqsend") == 0) {
    NEED(5);
    snow_pid_t to = parse_pid(t[3]);
    uint64_t count = strtoull(t[4], NULL, 10);
    int64_t start = mono_ns();
    uint8_t m[16];
    put_u64(m, SEQ_MAGIC);
    int64_t errors = 0;
    for (uint64_t i = 0; i < count; ++i) {
      put_u64(m + 8, i);
      if (snow_actor_send(to, m, sizeof m) != 0) ++errors;
      if ((i & 1023) == 0) snow_reduction_check();
    }
    emit("R %s ok errors=%lld ms=%lld", id, (long long)errors, (long long)((mono_ns() - start) / 1000000));
  } else if (strcmp(cmd, "bigseqsend") == 0) {
    NEED(6);
    snow_pid_t to = parse_pid(t[3]);
    uint64_t count = strtoull(t[4], NULL, 10);
    uint64_t size = strtoull(t[5], NULL, 10);
    uint8_t* big = size >= 16 ? malloc(size) : NULL;
    if (!big) {
      emit("R %s err -1 bad size", id);
      return;
    }
    emit("R %s ok", id);
    for (uint64_t i = 16; i < size; ++i) big[i] = (uint8_t)(i * 131 + 7);
    put_u64(big, SEQ_MAGIC);
    int64_t start = mono_ns();
    uint64_t errors = 0;
    for (uint64_t i = 0; i < count; ++i) {
      put_u64(big + 8, i);
      int rc = snow_actor_send(to, big, size);
      if (rc != 0) ++errors;
      emit("E %s SENT k=%llu rc=%d t=%lld", w->label, (unsigned long long)(i + 1), rc, (long long)mono_ns());
    }
    free(big);
    emit("E %s BIGDONE n=%llu errors=%llu ms=%lld t=%lld", w->label, (unsigned long long)count,
         (unsigned long long)errors, (long long)((mono_ns() - start) / 1000000), (long long)mono_ns());
  } else if (strcmp(cmd, "seqrecv") == 0) {
    NEED(4);
    emit("R %s ok", id);
    seq_receive(w->label, strtoull(t[3], NULL, 10));
  } else {
    emit("R %s err -1 unknown command %s", id, cmd);
  }
#undef NEED
}

/* A worker: args is "label[ trap]" NUL-terminated. */
static void worker_main(const uint8_t* args) {
  struct wstate* w = snow_gc_alloc_actor(sizeof *w, 8); /* freed when the worker exits */
  const char* a = args ? (const char*)args : "anon";
  const char* sp = strchr(a, ' ');
  size_t ll = sp ? (size_t)(sp - a) : strlen(a);
  if (ll >= MAX_LABEL) ll = MAX_LABEL - 1;
  memcpy(w->label, a, ll);
  if (sp && strcmp(sp + 1, "trap") == 0) snow_actor_set_trap_exit(true);
  snow_pid_t self = snow_actor_self();
  table_put(w->label, self);
  snow_actor_set_terminate(0, on_terminate);
  int rrc = snow_actor_register(w->label, strlen(w->label));
  char ph[600];
  pid_hex(self, ph, sizeof ph);
  emit("E %s STARTED pid=%s register=%d t=%lld", w->label, ph, rrc, (long long)mono_ns());
  for (;;) {
    const snow_msg* m = snow_actor_receive(-1);
    if (!m) continue;
    if (snow_msg_kind(m) == SNOW_MSG_USER && m->len >= 8 && m->tag == CMD_MAGIC) {
      char line[MAX_LINE];
      size_t n = m->len - 8 < sizeof line - 1 ? (size_t)m->len - 8 : sizeof line - 1;
      memcpy(line, m->data + 8, n);
      line[n] = 0;
      worker_command(w, line);
      continue;
    }
    print_event(w, m);
  }
}

/* Registered for remote spawn: crashes at once ("crasher") or returns at
 * once ("quick"), to test that a link made by snow_node_spawn is in place
 * before the child runs. */
static void crasher_main(const uint8_t* args) {
  (void)args;
  snow_panic("crasher", 7, __FILE__, strlen(__FILE__), __LINE__);
}
static void quick_main(const uint8_t* args) { (void)args; }

/* SNOW_NODE_SERVE_ONCE=1: the node's only process (no reader thread) is a
 * server registered as "srv" that prints the first user message it gets as
 * E srv MSG and returns; the program then ends by itself (run_scheduler
 * stops the node and returns 0: "bye 0"). */
static void serve_once_main(const uint8_t* args) {
  (void)args;
  snow_actor_register("srv", 3);
  emit("E srv STARTED t=%lld", (long long)mono_ns());
  for (;;) {
    const snow_msg* m = snow_actor_receive(-1);
    if (m && snow_msg_kind(m) == SNOW_MSG_USER) {
      char hex[2100];
      size_t shown = m->len > 1000 ? 1000 : (size_t)m->len;
      to_hex(m->data, shown, hex, sizeof hex);
      emit("E srv MSG len=%llu data=%s t=%lld", (unsigned long long)m->len, shown ? hex : "-", (long long)mono_ns());
      return;
    }
  }
}

/* A plain (unattached) pthread that sends one message, then sleeps without
 * touching the runtime: snow_actor_send works from any thread. */
struct thread_send {
  snow_pid_t to;
  int64_t sleep_ms;
  size_t len;
  uint8_t data[1800];
};

static void sleep_ms(int64_t ms) {
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

static void* plain_sender(void* arg) {
  struct thread_send* ts = arg;
  int rc = snow_actor_send(ts->to, ts->data, ts->len);
  emit("E thread SENT rc=%d t=%lld", rc, (long long)mono_ns());
  sleep_ms(ts->sleep_ms);
  free(ts);
  return NULL;
}

/* ------------------------------------------------------------------ reader thread */

static sem_t g_reader_attached;

static void* reader_main(void* unused) {
  (void)unused;
  /* Attached: the runtime counts this thread as a process that may still
   * send, so it neither ends idle workers nor (with no process left) stops
   * the node while commands can come. */
  snow_thread_attach();
  sem_post(&g_reader_attached);
  char* line = NULL;
  size_t cap = 0;
  ssize_t len;
  while ((len = getline(&line, &cap, stdin)) > 0) {
    if (len > MAX_LINE - 16) {
      emit("R ? err -1 line too long");
      continue;
    }
    char copy[MAX_LINE];
    memcpy(copy, line, (size_t)len + 1);
    char* t[MAXTOK];
    int n = tokenize(copy, t);
    if (n < 2) continue;
    const char* id = t[0];
    const char* cmd = t[1];
    if (strcmp(cmd, "halt") == 0) {
      emit("R %s ok", id);
      break;
    }
    if (strcmp(cmd, "stats") == 0) {
      snow_stats st;
      memset(&st, 0, sizeof st);
      int rc = snow_rt_stats(&st);
      if (rc < 0) {
        reply_rc(id, rc);
      } else {
        emit(
            "R %s ok alive=%llu nodes=%llu node_entries=%llu remote_pids=%llu alias_drops=%llu refused=%llu "
            "stacks=%llu timers=%llu heap=%llu",
            id, (unsigned long long)st.processes_alive, (unsigned long long)st.nodes_connected,
            (unsigned long long)st.node_entries, (unsigned long long)st.remote_pids,
            (unsigned long long)st.alias_sends_dropped, (unsigned long long)st.dist_messages_refused,
            (unsigned long long)st.stacks_resident, (unsigned long long)st.timers_pending,
            (unsigned long long)st.heap_bytes);
      }
      continue;
    }
    if (n < 3) {
      emit("R %s err -1 missing label", id);
      continue;
    }
    if (strcmp(cmd, "spawn") == 0) {
      char args[MAX_LABEL + 8];
      int al = snprintf(args, sizeof args, "%s%s", t[2], n > 3 && strcmp(t[3], "trap") == 0 ? " trap" : "");
      snow_pid_t pid = snow_actor_spawn(worker_main, (const uint8_t*)args, (uint64_t)al + 1, SNOW_PRIO_NORMAL);
      /* The worker records itself too; record here so a command right after
       * the answer finds it. */
      if (pid) table_put(t[2], pid);
      char ph[600];
      pid_hex(pid, ph, sizeof ph);
      emit("R %s ok %s", id, ph);
      continue;
    }
    if (strcmp(cmd, "tsend") == 0 || strcmp(cmd, "psend") == 0) {
      /* tsend <pid> <hex>: from this (attached) thread; psend <pid> <hex>
       * <ms>: from a new plain pthread that then sleeps ms. */
      struct thread_send* ts = calloc(1, sizeof *ts);
      if (!ts) {
        emit("R %s err -11 out of memory", id);
        continue;
      }
      int64_t dl = n > 3 ? from_hex(t[3], ts->data, sizeof ts->data) : -1;
      ts->to = parse_pid(t[2]);
      if (dl < 0 || !ts->to) {
        free(ts);
        emit("R %s err -1 bad arguments", id);
        continue;
      }
      ts->len = (size_t)dl;
      if (cmd[0] == 't') {
        reply_rc(id, snow_actor_send(ts->to, ts->data, ts->len));
        free(ts);
        continue;
      }
      ts->sleep_ms = n > 4 ? atoll(t[4]) : 0;
      pthread_t th;
      int rc = pthread_create(&th, NULL, plain_sender, ts);
      if (rc == 0) pthread_detach(th);
      else free(ts);
      reply_rc(id, rc == 0 ? 0 : -1);
      continue;
    }
    if (strcmp(cmd, "tsleep") == 0) { /* the reader thread sleeps, outside the runtime */
      emit("R %s ok", id);
      sleep_ms(atoll(t[2]));
      continue;
    }
    snow_pid_t pid = table_pid(t[2]);
    if (!pid) {
      emit("R %s err -3 no worker %s", id, t[2]);
      continue;
    }
    if (strcmp(cmd, "pid") == 0) {
      char ph[600];
      pid_hex(pid, ph, sizeof ph);
      emit("R %s ok %s", id, ph);
    } else if (strcmp(cmd, "rawpid") == 0) {
      emit("R %s ok raw:%llx", id, (unsigned long long)pid);
    } else if (strcmp(cmd, "kill") == 0) {
      reply_rc(id, snow_actor_exit(pid, SNOW_REASON_KILLED));
    } else if (strcmp(cmd, "pstatus") == 0) {
      snow_proc_info pi;
      int rc = snow_process_info(pid, &pi);
      if (rc < 0) reply_rc(id, rc);
      else emit("R %s ok status=%d", id, (int)pi.status);
    } else {
      /* Forward the line to the worker: [CMD_MAGIC][line]. */
      uint8_t msg[MAX_LINE + 8];
      put_u64(msg, CMD_MAGIC);
      memcpy(msg + 8, line, (size_t)len);
      int rc = snow_actor_send(pid, msg, (uint64_t)len + 8);
      if (rc < 0) reply_rc(id, rc);
    }
  }
  free(line);
  snow_rt_halt(0);
  snow_thread_detach();
  return NULL;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s <name@host> <cookie> [ticktime_ms]\n", argv[0]);
    return 2;
  }
  setvbuf(stdout, NULL, _IONBF, 0);
  snow_rt_init();
  if (snow_rt_init_actor(0) != 0) {
    emit("startfail -1 runtime");
    return 2;
  }
  if (argc > 3) snow_node_set_ticktime((uint32_t)atol(argv[3]));
  snow_register_function("worker", 6, worker_main);
  snow_register_function("crasher", 7, crasher_main);
  snow_register_function("quick", 5, quick_main);
  int64_t rc = snow_node_start(argv[1], strlen(argv[1]), argv[2], strlen(argv[2]));
  if (rc != 0) {
    emit("startfail %lld %s", (long long)rc, snow_strerror(rc));
    _exit(2);
  }
  char name[300];
  int64_t nl = snow_node_name(name, sizeof name);
  const char* once = getenv("SNOW_NODE_SERVE_ONCE");
  if (once && strcmp(once, "1") == 0) {
    /* Spawned before the main process exits, so the program lives on. */
    snow_actor_spawn(serve_once_main, NULL, 0, SNOW_PRIO_NORMAL);
    emit("ready %.*s pid=%d", (int)nl, name, (int)getpid());
    int status = snow_rt_run_scheduler();
    emit("bye %d", status);
    return status;
  }
  emit("ready %.*s pid=%d", (int)nl, name, (int)getpid());
  pthread_t reader;
  sem_init(&g_reader_attached, 0, 0);
  pthread_create(&reader, NULL, reader_main, NULL);
  pthread_detach(reader);
  /* run_scheduler ends the program once no process is alive: the reader
   * must count before the main process exits. */
  while (sem_wait(&g_reader_attached) != 0) {
  }
  int status = snow_rt_run_scheduler();
  emit("bye %d", status);
  return status;
}
