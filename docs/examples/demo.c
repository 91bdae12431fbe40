/*
 * demo.c: the main libsnowrt demo.
 *
 * The main thread becomes a process that traps exits. It spawns three
 * workers, each linked and monitored atomically with the spawn, plus a
 * "bystander" that links itself to worker w2 and does not trap exits. Then:
 *
 *   1. w1 answers a request and is told to stop: it exits with `normal`.
 *   2. w2 is told to crash: it calls snow_panic(). Its terminate callback
 *      reports first, then main gets DOWN and EXIT `error`, and the
 *      bystander, linked to w2 and not trapping, dies with the same reason.
 *   3. w3 traps exits: an exit signal `shutdown` from main becomes a message
 *      it reports back; the untrappable kill then ends it with `killed`.
 *
 * Main waits for each expected message with selective receive and a
 * deadline, so the output order does not depend on scheduling. It prints
 * what it received, decoded, and ends with snow_rt_run_scheduler().
 *
 * Every message in this program starts with a u64 tag, and user messages
 * carry the sender's pid second. Integers are little-endian on the wire, as
 * the runtime's own system messages are.
 */
#include <snowrt.h>

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __FILE_NAME__
#define DEMO_FILE __FILE_NAME__
#else
#define DEMO_FILE __FILE__
#endif

/* How long main waits for any one expected message. */
#define DEADLINE_MS 5000

/* User message tags. Small values never collide with the reserved system
 * tags (UINT64_MAX - 5 .. UINT64_MAX); snow_msg_kind() tells them apart
 * anyway. */
enum {
  TAG_READY = 1,      /* [tag][sender]: the process is set up */
  TAG_WORK = 2,       /* [tag][sender][a][b]: multiply, reply to sender */
  TAG_RESULT = 3,     /* [tag][sender][product] */
  TAG_STOP = 4,       /* [tag][sender]: return normally */
  TAG_CRASH = 5,      /* [tag][sender]: call snow_panic() */
  TAG_TERMINATED = 6, /* [tag][sender][encoded reason]: from a terminate callback */
  TAG_TRAPPED = 7     /* [tag][sender][EXIT message data]: w3 trapped an exit signal */
};

/* Written by main before it spawns anything, only read afterwards: spawning
 * orders the write before every read. */
static snow_pid_t g_main;

/* ---- little-endian helpers -------------------------------------------- */

static void put_u64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
  return v;
}

/* Sends [tag][self][extra...] to `to`. */
static void send_tagged(snow_pid_t to, uint64_t tag, const uint64_t* extra, size_t n) {
  uint8_t buf[8 * 8];
  put_u64(buf, tag);
  put_u64(buf + 8, snow_actor_self());
  for (size_t i = 0; i < n && i < 6; i++) put_u64(buf + 16 + 8 * i, extra[i]);
  snow_actor_send(to, buf, 16 + 8 * (n < 6 ? n : 6));
}

/* ---- decoding exit reasons --------------------------------------------- */

/* Writes a readable form of an encoded exit reason ([u8 tag][data]) into
 * out. Checks every length against the bytes actually present. */
static void describe_reason(const uint8_t* r, uint64_t len, char* out, size_t cap) {
  static const char* const names[] = {"normal", "error",        "killed", "reserved", "shutdown",
                                      "custom", "noconnection", "noproc", "term"};
  if (len < 1 || r[0] > SNOW_REASON_TERM) {
    snprintf(out, cap, "<malformed reason>");
    return;
  }
  uint8_t tag = r[0];
  if (tag != SNOW_REASON_ERROR && tag != SNOW_REASON_CUSTOM && tag != SNOW_REASON_TERM) {
    snprintf(out, cap, "%s", names[tag]);
    return;
  }
  if (len < 9 || get_u64(r + 1) > len - 9) {
    snprintf(out, cap, "%s <truncated>", names[tag]);
    return;
  }
  uint64_t n = get_u64(r + 1);
  if (tag == SNOW_REASON_TERM) snprintf(out, cap, "term (%" PRIu64 " bytes of external term format)", n);
  else snprintf(out, cap, "%s \"%.*s\"", names[tag], (int)(n > 200 ? 200 : n), (const char*)(r + 9));
}

/* ---- names for pids, so the output reads the same on every run --------- */

static struct {
  snow_pid_t pid;
  const char* name;
} g_names[8];
static int g_nnames;

static void name_pid(snow_pid_t pid, const char* name) {
  if (g_nnames < 8) {
    g_names[g_nnames].pid = pid;
    g_names[g_nnames].name = name;
    g_nnames++;
  }
}

static const char* pid_name(snow_pid_t pid) {
  static char unknown[32];
  for (int i = 0; i < g_nnames; i++)
    if (g_names[i].pid == pid) return g_names[i].name;
  snprintf(unknown, sizeof unknown, "pid %#" PRIx64, pid);
  return unknown;
}

/* ---- the processes ----------------------------------------------------- */

/* Terminate callback: runs on the dying process's own stack before its
 * links and monitors fire. Messages from one sender to one receiver keep
 * their order, so main sees this report before w2's DOWN and EXIT. */
static void report_termination(const uint8_t* state, const uint8_t* reason) {
  (void)state; /* always NULL in this ABI */
  uint64_t rlen = 1;
  if (reason[0] == SNOW_REASON_ERROR || reason[0] == SNOW_REASON_CUSTOM || reason[0] == SNOW_REASON_TERM)
    rlen = 9 + get_u64(reason + 1);
  uint8_t buf[16 + 256];
  if (rlen > 256) rlen = 1; /* long reasons are cut to their tag: keep the demo simple */
  put_u64(buf, TAG_TERMINATED);
  put_u64(buf + 8, snow_actor_self());
  memcpy(buf + 16, reason, rlen);
  snow_actor_send(g_main, buf, 16 + rlen);
}

/* w1 and w2: serve requests until told to stop or to crash. */
static void worker(const uint8_t* args) {
  uint64_t index = get_u64(args); /* args is the runtime's copy, valid for our whole life */
  snow_actor_set_terminate(0, report_termination);
  for (;;) {
    const snow_msg* m = snow_actor_receive(-1);
    if (m == NULL || snow_msg_kind(m) != SNOW_MSG_USER || m->len < 16) continue;
    snow_pid_t from = get_u64(m->data + 8);
    switch (m->tag) {
      case TAG_WORK:
        if (m->len >= 32) {
          uint64_t product = get_u64(m->data + 16) * get_u64(m->data + 24);
          send_tagged(from, TAG_RESULT, &product, 1);
        }
        break;
      case TAG_STOP:
        return; /* returning from the entry function exits with `normal` */
      case TAG_CRASH: {
        char text[64];
        int n = snprintf(text, sizeof text, "worker %" PRIu64 " was told to crash", index);
        snow_panic(text, (uint64_t)n, DEMO_FILE, strlen(DEMO_FILE), __LINE__);
      }
      default:
        break;
    }
  }
}

/* w3: traps exits and reports every EXIT message it receives to main. */
static void trapper(const uint8_t* args) {
  (void)args;
  snow_actor_set_trap_exit(true);
  send_tagged(g_main, TAG_READY, NULL, 0);
  for (;;) {
    const snow_msg* m = snow_actor_receive(-1);
    if (m == NULL || snow_msg_kind(m) != SNOW_MSG_EXIT || m->len > 256) continue;
    uint8_t buf[16 + 256];
    put_u64(buf, TAG_TRAPPED);
    put_u64(buf + 8, snow_actor_self());
    memcpy(buf + 16, m->data, m->len); /* copy out: m is valid only until our next receive */
    snow_actor_send(g_main, buf, 16 + m->len);
  }
}

/* The bystander: links itself to the pid in its args, does not trap exits,
 * and waits. An exit signal with a reason other than `normal` ends it. */
static void bystander(const uint8_t* args) {
  snow_actor_link(get_u64(args));
  send_tagged(g_main, TAG_READY, NULL, 0);
  for (;;) (void)snow_actor_receive(-1);
}

/* ---- main: waiting for exactly the expected messages -------------------- */

struct want {
  uint32_t kind;  /* SNOW_MSG_* */
  uint64_t tag;   /* user messages: the tag */
  snow_pid_t pid; /* DOWN: the pid; EXIT: from; user: the sender */
  snow_ref_t ref; /* DOWN: the monitor ref */
};

/* The match callback runs inside snow_actor_receive_match() on behalf of
 * the receiving process; ctx points into main's own stack, which is fine
 * because only main uses it. */
static int matches(const snow_msg* m, void* ctx) {
  const struct want* w = ctx;
  if (snow_msg_kind(m) != w->kind) return 0;
  switch (w->kind) {
    case SNOW_MSG_DOWN:
      return m->len >= 17 && get_u64(m->data) == w->ref && get_u64(m->data + 8) == w->pid;
    case SNOW_MSG_EXIT:
      return m->len >= 9 && get_u64(m->data) == w->pid;
    default:
      return m->tag == w->tag && m->len >= 16 && get_u64(m->data + 8) == w->pid;
  }
}

static _Noreturn void fail(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fflush(stdout);
  fprintf(stderr, "demo: FAILED: ");
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  snow_rt_halt(1);               /* orderly stop of every process ... */
  exit(snow_rt_run_scheduler()); /* ... and run_scheduler returns the status 1 */
}

static const snow_msg* expect(uint32_t kind, uint64_t tag, snow_pid_t pid, snow_ref_t ref, const char* what) {
  struct want w = {kind, tag, pid, ref};
  const snow_msg* m = snow_actor_receive_match(matches, &w, DEADLINE_MS);
  if (m == NULL) fail("no %s within %d ms", what, DEADLINE_MS);
  return m;
}

static void expect_down(snow_ref_t ref, snow_pid_t pid) {
  const snow_msg* m = expect(SNOW_MSG_DOWN, 0, pid, ref, "DOWN");
  char reason[256];
  describe_reason(m->data + 16, m->len - 16, reason, sizeof reason);
  printf("  main got DOWN  ref=%s pid=%s reason=%s\n", get_u64(m->data) == ref ? "(its monitor)" : "(unexpected)",
         pid_name(get_u64(m->data + 8)), reason);
}

static void expect_exit(snow_pid_t from) {
  const snow_msg* m = expect(SNOW_MSG_EXIT, 0, from, 0, "EXIT");
  char reason[256];
  describe_reason(m->data + 8, m->len - 8, reason, sizeof reason);
  printf("  main got EXIT  from=%s reason=%s\n", pid_name(get_u64(m->data)), reason);
}

/* The report a terminate callback sent: [tag][sender][encoded reason]. */
static void expect_terminated(snow_pid_t from) {
  const snow_msg* m = expect(SNOW_MSG_USER, TAG_TERMINATED, from, 0, "terminate report");
  char reason[256];
  describe_reason(m->data + 16, m->len - 16, reason, sizeof reason);
  printf("  main got TERMINATED from=%s (its terminate callback) reason=%s\n", pid_name(from), reason);
}

static snow_pid_t spawn_linked_monitored(void (*fn)(const uint8_t*), uint64_t arg, snow_ref_t* ref) {
  uint8_t args[8];
  put_u64(args, arg);
  snow_spawn_opts o;
  memset(&o, 0, sizeof o); /* the reserved bytes must be zero */
  o.link = 1;
  o.monitor = 1;
  o.priority = SNOW_PRIO_NORMAL;
  snow_pid_t pid = snow_actor_spawn_opts(fn, args, sizeof args, &o);
  if (pid == 0) fail("snow_actor_spawn_opts failed");
  *ref = o.monitor_ref;
  return pid;
}

int main(void) {
  snow_rt_init();
  int32_t rc = snow_rt_init_actor(0);
  if (rc < 0) {
    fprintf(stderr, "snow_rt_init_actor: %s\n", snow_strerror(rc));
    return 1;
  }
  g_main = snow_actor_self();
  snow_actor_set_trap_exit(true);
  name_pid(g_main, "main");
  printf("main: started; the main thread is a process and traps exits\n");

  snow_ref_t ref1, ref2, ref3;
  snow_pid_t w1 = spawn_linked_monitored(worker, 1, &ref1);
  snow_pid_t w2 = spawn_linked_monitored(worker, 2, &ref2);
  snow_pid_t w3 = spawn_linked_monitored(trapper, 3, &ref3);
  name_pid(w1, "w1");
  name_pid(w2, "w2");
  name_pid(w3, "w3");

  uint8_t arg[8];
  put_u64(arg, w2);
  snow_pid_t by = snow_actor_spawn(bystander, arg, sizeof arg, SNOW_PRIO_NORMAL);
  if (by == 0) fail("snow_actor_spawn failed");
  snow_ref_t ref_by = snow_process_monitor(by);
  name_pid(by, "bystander");
  printf("main: spawned w1, w2, w3 (each linked and monitored by main)\n");
  printf("main: spawned bystander (links itself to w2, does not trap exits; monitored by main)\n");
  expect(SNOW_MSG_USER, TAG_READY, w3, 0, "READY from w3");
  expect(SNOW_MSG_USER, TAG_READY, by, 0, "READY from bystander");

  printf("\n1. w1 answers a request, then returns from its entry function\n");
  uint64_t operands[2] = {6, 7};
  send_tagged(w1, TAG_WORK, operands, 2);
  const snow_msg* m = expect(SNOW_MSG_USER, TAG_RESULT, w1, 0, "RESULT from w1");
  printf("  main got RESULT from=%s: 6 * 7 = %" PRIu64 "\n", pid_name(w1), m->len >= 24 ? get_u64(m->data + 16) : 0);
  send_tagged(w1, TAG_STOP, NULL, 0);
  expect_terminated(w1);
  expect_down(ref1, w1);
  expect_exit(w1);

  printf("\n2. w2 calls snow_panic (its crash report goes to stderr)\n");
  fflush(stdout);
  send_tagged(w2, TAG_CRASH, NULL, 0);
  expect_terminated(w2);
  expect_down(ref2, w2);
  expect_exit(w2);
  expect_down(ref_by, by);

  printf("\n3. w3 traps exits: `shutdown` becomes a message, the kill cannot be trapped\n");
  snow_actor_exit(w3, SNOW_REASON_SHUTDOWN);
  m = expect(SNOW_MSG_USER, TAG_TRAPPED, w3, 0, "TRAPPED report from w3");
  if (m->len < 25) fail("short TRAPPED report");
  char reason[256];
  describe_reason(m->data + 24, m->len - 24, reason, sizeof reason);
  printf("  w3 reported an EXIT message from=%s reason=%s\n", pid_name(get_u64(m->data + 16)), reason);
  snow_actor_exit(w3, SNOW_REASON_KILLED);
  expect_down(ref3, w3);
  expect_exit(w3);

  const snow_msg* extra = snow_actor_receive(0);
  printf("\nmain: mailbox is %s\n", extra == NULL ? "empty" : "NOT empty");
  fflush(stdout);

  rc = snow_rt_run_scheduler();
  snow_stats st;
  snow_rt_stats(&st);
  printf("main: snow_rt_run_scheduler returned %d (%" PRIu64 " processes spawned, %" PRIu64 " exited, %" PRIu64
         " alive)\n",
         (int)rc, st.processes_spawned, st.processes_exited, st.processes_alive);
  return rc == 0 && extra == NULL ? 0 : 1;
}
