/* harness.c: runner and helpers for the plain-C ABI tests (see harness.h).
 * One file on purpose (over 800 lines): every ABI test program links this
 * one object; its parts (fork per case, deadlines, pipes) share state. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ======================================================================== */
/* Registration and runner                                                  */
/* ======================================================================== */

#define TH_MAX_CASES 1024

typedef struct th_case {
  const char* name;
  th_case_fn fn;
  double timeout_s;
} th_case;

static th_case th_cases[TH_MAX_CASES];
static int th_ncases;
static int th_result_fd = -1; /* child: where th_fail writes its reason */
static bool th_started, th_ended;
snow_pid_t th_main;

void th_register(const char* name, th_case_fn fn, double timeout_s) {
  if (th_ncases >= TH_MAX_CASES) {
    fprintf(stderr, "harness: too many test cases\n");
    abort();
  }
  th_cases[th_ncases].name = name;
  th_cases[th_ncases].fn = fn;
  th_cases[th_ncases].timeout_s = timeout_s;
  th_ncases++;
}

void th_fail(const char* file, int line, const char* fmt, ...) {
  char msg[2048];
  int n = snprintf(msg, sizeof msg, "%s:%d: ", file, line);
  if (n < 0) n = 0;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
  va_end(ap);
  size_t len = strlen(msg);
  /* One line: the reason goes into the runner's FAIL line. */
  for (size_t i = 0; i < len; i++)
    if (msg[i] == '\n') msg[i] = ' ';
  fflush(stdout);
  dprintf(2, "  failure: %s\n", msg);
  if (th_result_fd >= 0) {
    ssize_t w = write(th_result_fd, msg, len);
    (void)w;
  }
  _exit(1);
}

static double th_env_double(const char* name, double dflt) {
  const char* v = getenv(name);
  if (!v || !*v) return dflt;
  char* end = NULL;
  double d = strtod(v, &end);
  if (end == v || d <= 0) return dflt;
  return d;
}

double th_scale(void) { return th_env_double("SNOW_TEST_TIMEOUT_SCALE", 1.0); }

uint32_t th_schedulers(void) {
  const char* v = getenv("SNOW_TEST_SCHEDULERS");
  if (!v || !*v) return 0;
  return (uint32_t)strtoul(v, NULL, 10);
}

int64_t th_wait_ms(void) { return (int64_t)(5000 * th_scale()); }
int64_t th_slack_ms(void) { return (int64_t)(200 * th_scale()); }

int64_t th_now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
int64_t th_now_ms(void) { return th_now_us() / 1000; }

#if defined(SNOW_SANITIZE_ADDRESS) || defined(SNOW_SANITIZE_THREAD)
/* From the sanitizer runtime (sanitizer/allocator_interface.h, which not
 * every compiler installs). */
size_t __sanitizer_get_current_allocated_bytes(void);
uint64_t th_memory_bytes(void) { return (uint64_t)__sanitizer_get_current_allocated_bytes(); }
#else
uint64_t th_memory_bytes(void) {
  FILE* f = fopen("/proc/self/statm", "r");
  if (!f) FAILF("cannot open /proc/self/statm: %s", strerror(errno));
  unsigned long long size = 0, resident = 0;
  int n = fscanf(f, "%llu %llu", &size, &resident);
  fclose(f);
  if (n != 2) FAILF("cannot parse /proc/self/statm");
  return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}
#endif

static bool th_filter_match(const char* name, int nfilters, char** filters) {
  if (nfilters == 0) return true;
  for (int i = 0; i < nfilters; i++)
    if (strstr(name, filters[i])) return true;
  return false;
}

/* Runs one case in a child; returns true when it passed. */
static bool th_run_case(const th_case* c, char* reason, size_t rcap) {
  int fds[2];
  reason[0] = 0;
  if (pipe(fds) != 0) {
    snprintf(reason, rcap, "pipe: %s", strerror(errno));
    return false;
  }
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) {
    snprintf(reason, rcap, "fork: %s", strerror(errno));
    close(fds[0]);
    close(fds[1]);
    return false;
  }
  if (pid == 0) {
    close(fds[0]);
    th_result_fd = fds[1];
    c->fn();
    if (th_started && !th_ended) th_fail(__FILE__, __LINE__, "case returned without th_end()/th_end_natural()");
    fflush(stdout);
    fflush(stderr);
    exit(0); /* exit (not _exit): LeakSanitizer runs at exit in ASan builds */
  }
  close(fds[1]);
  double timeout_s = (c->timeout_s > 0 ? c->timeout_s : 30.0) * th_scale();
  int64_t deadline = th_now_ms() + (int64_t)(timeout_s * 1000);
  size_t rlen = 0;
  bool eof = false, timed_out = false, exited = false;
  int status = 0;
  while (!exited) {
    if (!eof) {
      int64_t left = deadline - th_now_ms();
      if (left <= 0) {
        timed_out = true;
        break;
      }
      struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
      int r = poll(&pfd, 1, (int)(left < 100 ? left : 100));
      if (r > 0) {
        char buf[512];
        ssize_t n = read(fds[0], buf, sizeof buf);
        if (n > 0) {
          size_t take = (size_t)n;
          if (rlen + take >= rcap) take = rcap - 1 - rlen;
          memcpy(reason + rlen, buf, take);
          rlen += take;
          reason[rlen] = 0;
        } else if (n == 0) {
          eof = true;
        }
      }
    } else {
      /* Write end closed but the child not reaped yet: wait for it with the
       * same deadline. */
      if (th_now_ms() >= deadline) {
        timed_out = true;
        break;
      }
      struct timespec ts = {0, 2 * 1000 * 1000};
      nanosleep(&ts, NULL);
    }
    pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid) exited = true;
  }
  if (timed_out) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    close(fds[0]);
    char extra[256] = "";
    if (rlen) snprintf(extra, sizeof extra, "; %.200s", reason);
    snprintf(reason, rcap, "timeout after %.1f s%s", timeout_s, extra);
    return false;
  }
  /* Drain whatever the child wrote before exiting. */
  fcntl(fds[0], F_SETFL, O_NONBLOCK);
  for (;;) {
    char buf[512];
    ssize_t n = read(fds[0], buf, sizeof buf);
    if (n <= 0) break;
    size_t take = (size_t)n;
    if (rlen + take >= rcap) take = rcap - 1 - rlen;
    memcpy(reason + rlen, buf, take);
    rlen += take;
    reason[rlen] = 0;
  }
  close(fds[0]);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return true;
  char st[128];
  if (WIFSIGNALED(status))
    snprintf(st, sizeof st, "killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
  else snprintf(st, sizeof st, "exit status %d", WEXITSTATUS(status));
  if (rlen == 0) {
    snprintf(reason, rcap, "%s%s", st,
             WIFEXITED(status) ? " without a CHECK failure: see stderr (sanitizer report?)" : "");
  } else if (!(WIFEXITED(status) && WEXITSTATUS(status) == 1)) {
    size_t l = strlen(reason);
    snprintf(reason + l, rcap - l, "; %s", st);
  }
  return false;
}

int main(int argc, char** argv) {
  int nfilters = 0;
  char** filters = argv + 1;
  bool list = false;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--list") == 0) {
      list = true;
    } else {
      filters[nfilters++] = argv[i];
    }
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (list) {
    for (int i = 0; i < th_ncases; i++)
      if (th_filter_match(th_cases[i].name, nfilters, filters)) printf("%s\n", th_cases[i].name);
    return 0;
  }
  int passed = 0, failed = 0;
  for (int i = 0; i < th_ncases; i++) {
    if (!th_filter_match(th_cases[i].name, nfilters, filters)) continue;
    char reason[1024];
    int64_t t0 = th_now_ms();
    bool ok = th_run_case(&th_cases[i], reason, sizeof reason);
    int64_t dt = th_now_ms() - t0;
    if (ok) {
      passed++;
      if (getenv("SNOW_TEST_VERBOSE")) printf("ok %s (%lld ms)\n", th_cases[i].name, (long long)dt);
      else printf("ok %s\n", th_cases[i].name);
    } else {
      failed++;
      printf("FAIL %s (%s)\n", th_cases[i].name, reason);
    }
    fflush(stdout);
  }
  printf("%d passed, %d failed\n", passed, failed);
  if (nfilters > 0 && passed + failed == 0) {
    fprintf(stderr, "no test case matches the filter\n");
    return 1;
  }
  return failed ? 1 : 0;
}

/* ======================================================================== */
/* Runtime start / stop                                                     */
/* ======================================================================== */

void th_start_n(uint32_t schedulers) {
  snow_rt_init();
  int32_t r = snow_rt_init_actor(schedulers);
  if (r != 0) FAILF("snow_rt_init_actor(%u) = %d (%s)", schedulers, r, snow_strerror(r));
  th_main = snow_actor_self();
  CHECK(th_main != 0);
  th_started = true;
  th_ended = false;
}

void th_start(void) { th_start_n(th_schedulers()); }

void th_end(void) {
  snow_rt_halt(0);
  int32_t r = snow_rt_run_scheduler();
  if (r != 0) FAILF("snow_rt_run_scheduler() after snow_rt_halt(0) = %d", r);
  th_ended = true;
}

int32_t th_run_scheduler(void) {
  int32_t r = snow_rt_run_scheduler();
  th_ended = true;
  return r;
}

void th_end_natural(void) {
  int32_t r = snow_rt_run_scheduler();
  if (r != 0) FAILF("snow_rt_run_scheduler() = %d", r);
  th_ended = true;
}

/* ======================================================================== */
/* Encoding                                                                 */
/* ======================================================================== */

void th_put_u64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

uint64_t th_get_u64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
  return v;
}

uint64_t th_word(const snow_msg* m, size_t i) {
  if (!m || m->len < 8 * (i + 1)) return 0;
  return th_get_u64(m->data + 8 * i);
}

uint64_t th_arg(const uint8_t* args, size_t i) { return th_get_u64(args + 8 * i); }

int32_t th_send_words(snow_pid_t to, const uint64_t* w, size_t n) {
  uint8_t buf[8 * 16];
  if (n > 16) FAILF("th_send_words: too many words");
  for (size_t i = 0; i < n; i++) th_put_u64(buf + 8 * i, w[i]);
  return snow_actor_send(to, buf, 8 * n);
}

int32_t th_send1(snow_pid_t to, uint64_t tag) {
  uint64_t w[1] = {tag};
  return th_send_words(to, w, 1);
}
int32_t th_send2(snow_pid_t to, uint64_t tag, uint64_t a) {
  uint64_t w[2] = {tag, a};
  return th_send_words(to, w, 2);
}
int32_t th_send3(snow_pid_t to, uint64_t tag, uint64_t a, uint64_t b) {
  uint64_t w[3] = {tag, a, b};
  return th_send_words(to, w, 3);
}
int32_t th_send4(snow_pid_t to, uint64_t tag, uint64_t a, uint64_t b, uint64_t c) {
  uint64_t w[4] = {tag, a, b, c};
  return th_send_words(to, w, 4);
}

int32_t th_send_with_bytes(snow_pid_t to, uint64_t tag, uint64_t a, const uint8_t* bytes, size_t n) {
  uint8_t* buf = malloc(16 + n);
  CHECK(buf != NULL);
  th_put_u64(buf, tag);
  th_put_u64(buf + 8, a);
  if (n) memcpy(buf + 16, bytes, n);
  int32_t r = snow_actor_send(to, buf, 16 + n);
  free(buf);
  return r;
}

snow_pid_t th_spawn_words(void (*fn)(const uint8_t*), const uint64_t* w, size_t n) {
  uint8_t buf[8 * 16];
  if (n > 16) FAILF("th_spawn_words: too many words");
  for (size_t i = 0; i < n; i++) th_put_u64(buf + 8 * i, w[i]);
  snow_pid_t p = snow_actor_spawn(fn, buf, 8 * n, SNOW_PRIO_NORMAL);
  if (p == 0) FAILF("snow_actor_spawn returned 0");
  return p;
}

/* ======================================================================== */
/* Exit reasons                                                             */
/* ======================================================================== */

const uint8_t th_etf_atom_foo[6] = {131, 119, 3, 'f', 'o', 'o'};
const uint8_t th_reason_tags[8] = {0, 1, 2, 4, 5, 6, 7, 8};

static bool th_tag_has_data(uint8_t tag) { return tag == 1 || tag == 5 || tag == 8; }

size_t th_reason(uint8_t* out, uint8_t tag, const void* data, uint64_t len) {
  out[0] = tag;
  if (!th_tag_has_data(tag)) return 1;
  th_put_u64(out + 1, len);
  if (len) memcpy(out + 9, data, len);
  return 9 + len;
}

size_t th_reason_str(uint8_t* out, uint8_t tag, const char* s) { return th_reason(out, tag, s, s ? strlen(s) : 0); }

size_t th_reason_for_tag(uint8_t* out, uint8_t tag) { return th_reason(out, tag, NULL, 0); }

size_t th_reason_len(const uint8_t* p, size_t avail) {
  if (!p || avail < 1) return 0;
  uint8_t tag = p[0];
  if (tag == 0 || tag == 2 || tag == 4 || tag == 6 || tag == 7) return 1;
  if (!th_tag_has_data(tag)) return 0;
  if (avail < 9) return 0;
  uint64_t l = th_get_u64(p + 1);
  if (l > avail - 9) return 0;
  return 9 + (size_t)l;
}

const char* th_reason_name(uint8_t tag) {
  switch (tag) {
    case 0:
      return "normal";
    case 1:
      return "error";
    case 2:
      return "killed";
    case 3:
      return "reserved";
    case 4:
      return "shutdown";
    case 5:
      return "custom";
    case 6:
      return "noconnection";
    case 7:
      return "noproc";
    case 8:
      return "term";
    default:
      return "bad-tag";
  }
}

void th_format_reason(char* out, size_t cap, const uint8_t* r, size_t len) {
  if (!r || len == 0) {
    snprintf(out, cap, "<empty>");
    return;
  }
  size_t good = th_reason_len(r, len);
  if (good == len && !th_tag_has_data(r[0])) {
    snprintf(out, cap, "%s", th_reason_name(r[0]));
    return;
  }
  if (good == len) {
    size_t dl = len - 9;
    int n = snprintf(out, cap, "%s(\"", th_reason_name(r[0]));
    size_t o = n > 0 ? (size_t)n : 0;
    for (size_t i = 0; i < dl && o + 8 < cap; i++) {
      uint8_t c = r[9 + i];
      if (c >= 32 && c < 127 && c != '"') out[o++] = (char)c;
      else o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
    }
    snprintf(out + o, cap - o, "\")");
    return;
  }
  int n = snprintf(out, cap, "malformed[");
  size_t o = n > 0 ? (size_t)n : 0;
  for (size_t i = 0; i < len && i < 40 && o + 4 < cap; i++) o += (size_t)snprintf(out + o, cap - o, "%02x", r[i]);
  snprintf(out + o, cap - o, "%s]", len > 40 ? "..." : "");
}

void th_check_reason(const char* file, int line, const char* what, const uint8_t* got, size_t glen, const uint8_t* exp,
                     size_t elen) {
  if (glen == elen && (elen == 0 || memcmp(got, exp, elen) == 0)) return;
  char g[300], e[300];
  th_format_reason(g, sizeof g, got, glen);
  th_format_reason(e, sizeof e, exp, elen);
  th_fail(file, line, "reason %s is %s, expected %s", what, g, e);
}

snow_pid_t th_exit_from(const snow_msg* m) { return th_word(m, 0); }

const uint8_t* th_exit_reason(const snow_msg* m, size_t* len) {
  *len = m->len >= 8 ? m->len - 8 : 0;
  return m->data + 8;
}

snow_ref_t th_down_ref(const snow_msg* m) { return th_word(m, 0); }
snow_pid_t th_down_pid(const snow_msg* m) { return th_word(m, 1); }

const uint8_t* th_down_reason(const snow_msg* m, size_t* len) {
  *len = m->len >= 16 ? m->len - 16 : 0;
  return m->data + 16;
}

/* ======================================================================== */
/* Waiting                                                                  */
/* ======================================================================== */

th_match th_m_any(void) {
  th_match m = {.kind = UINT32_MAX, .from = TH_ANY_PID};
  return m;
}
th_match th_m_user(uint64_t tag, snow_pid_t from) {
  th_match m = {.kind = SNOW_MSG_USER, .tag = tag, .from = from};
  return m;
}
th_match th_m_user2(uint64_t tag, snow_pid_t from, uint64_t w2) {
  th_match m = {.kind = SNOW_MSG_USER, .tag = tag, .from = from, .use_w2 = true, .w2 = w2};
  return m;
}
th_match th_m_exit(snow_pid_t from) {
  th_match m = {.kind = SNOW_MSG_EXIT, .from = from};
  return m;
}
th_match th_m_down(snow_ref_t ref) {
  th_match m = {.kind = SNOW_MSG_DOWN, .from = TH_ANY_PID, .ref = ref};
  return m;
}
th_match th_m_down_pid(snow_pid_t pid) {
  th_match m = {.kind = SNOW_MSG_DOWN, .from = pid, .ref = 0};
  return m;
}
th_match th_m_report(snow_pid_t p, uint32_t kind) { return th_m_user2(T_REPORT, p, kind); }

int th_match_fn(const snow_msg* m, void* ctx) {
  const th_match* mt = ctx;
  if (mt->kind == UINT32_MAX) return 1;
  uint32_t k = snow_msg_kind(m);
  if (k != mt->kind) return 0;
  switch (k) {
    case SNOW_MSG_USER:
      if (m->len < 8 || th_word(m, 0) != mt->tag) return 0;
      if (mt->from != TH_ANY_PID && (m->len < 16 || th_word(m, 1) != mt->from)) return 0;
      if (mt->use_w2 && (m->len < 24 || th_word(m, 2) != mt->w2)) return 0;
      return 1;
    case SNOW_MSG_EXIT:
      if (m->len < 9) return 0;
      return mt->from == TH_ANY_PID || th_exit_from(m) == mt->from;
    case SNOW_MSG_DOWN:
      if (m->len < 17) return 0;
      if (mt->ref && th_down_ref(m) != mt->ref) return 0;
      if (mt->from != TH_ANY_PID && th_down_pid(m) != mt->from) return 0;
      return 1;
    default:
      return 1;
  }
}

static void th_describe_match(char* out, size_t cap, const th_match* mt) {
  switch (mt->kind) {
    case UINT32_MAX:
      snprintf(out, cap, "any message");
      break;
    case SNOW_MSG_USER:
      if (mt->tag == T_REPORT)
        snprintf(out, cap, "REPORT of kind %llu from 0x%llx", (unsigned long long)mt->w2, (unsigned long long)mt->from);
      else
        snprintf(out, cap, "user message tag=0x%llx from=0x%llx%s", (unsigned long long)mt->tag,
                 (unsigned long long)mt->from, mt->use_w2 ? " (with w2)" : "");
      break;
    case SNOW_MSG_EXIT:
      snprintf(out, cap, "EXIT from 0x%llx", (unsigned long long)mt->from);
      break;
    case SNOW_MSG_DOWN:
      snprintf(out, cap, "DOWN ref=0x%llx pid=0x%llx", (unsigned long long)mt->ref, (unsigned long long)mt->from);
      break;
    default:
      snprintf(out, cap, "message of kind %u", mt->kind);
      break;
  }
}

void th_describe_msg(char* out, size_t cap, const snow_msg* m) {
  char r[200];
  size_t rl;
  const uint8_t* rp;
  switch (snow_msg_kind(m)) {
    case SNOW_MSG_USER:
      snprintf(out, cap, "USER(tag=0x%llx len=%llu w1=0x%llx w2=0x%llx)", (unsigned long long)m->tag,
               (unsigned long long)m->len, (unsigned long long)th_word(m, 1), (unsigned long long)th_word(m, 2));
      break;
    case SNOW_MSG_EXIT:
      rp = th_exit_reason(m, &rl);
      th_format_reason(r, sizeof r, rp, rl);
      snprintf(out, cap, "EXIT(from=0x%llx %s)", (unsigned long long)th_exit_from(m), r);
      break;
    case SNOW_MSG_DOWN:
      rp = th_down_reason(m, &rl);
      th_format_reason(r, sizeof r, rp, rl);
      snprintf(out, cap, "DOWN(ref=0x%llx pid=0x%llx %s)", (unsigned long long)th_down_ref(m),
               (unsigned long long)th_down_pid(m), r);
      break;
    default:
      snprintf(out, cap, "kind %u (tag=0x%llx len=%llu)", snow_msg_kind(m), (unsigned long long)m->tag,
               (unsigned long long)m->len);
      break;
  }
}

const snow_msg* th__wait(const char* file, int line, th_match mt, int64_t timeout_ms) {
  const snow_msg* m = snow_actor_receive_match(th_match_fn, &mt, timeout_ms);
  if (m) return m;
  char want[200], have[900];
  th_describe_match(want, sizeof want, &mt);
  size_t o = 0;
  have[0] = 0;
  /* The case fails anyway: consume and describe what is in the mailbox. */
  for (int i = 0; i < 6; i++) {
    const snow_msg* x = snow_actor_receive(0);
    if (!x) break;
    char d[200];
    th_describe_msg(d, sizeof d, x);
    o += (size_t)snprintf(have + o, sizeof have - o, "%s%s", i ? ", " : "", d);
    if (o >= sizeof have) break;
  }
  th_fail(file, line, "no %s within %lld ms; mailbox: [%s]", want, (long long)timeout_ms, have[0] ? have : "empty");
}

const snow_msg* th__poll(th_match mt) { return snow_actor_receive_match(th_match_fn, &mt, 0); }

const uint8_t* th_report_data(const snow_msg* m, size_t* len) {
  *len = m->len >= 32 ? m->len - 32 : 0;
  return m->data + 32;
}

void th__expect_down(const char* file, int line, snow_ref_t ref, snow_pid_t pid, const uint8_t* reason, size_t rlen) {
  const snow_msg* m = th__wait(file, line, th_m_down(ref), th_wait_ms());
  if (th_down_pid(m) != pid)
    th_fail(file, line, "DOWN pid 0x%llx, expected 0x%llx", (unsigned long long)th_down_pid(m),
            (unsigned long long)pid);
  size_t gl;
  const uint8_t* g = th_down_reason(m, &gl);
  th_check_reason(file, line, "of DOWN", g, gl, reason, rlen);
}

static int th_match_either(const snow_msg* m, void* ctx) {
  th_match* mm = ctx;
  return th_match_fn(m, &mm[0]) || th_match_fn(m, &mm[1]);
}

const snow_msg* th__wait_either(const char* file, int line, th_match a, th_match b) {
  th_match mm[2] = {a, b};
  const snow_msg* m = snow_actor_receive_match(th_match_either, mm, th_wait_ms());
  if (!m) th_fail(file, line, "neither awaited message arrived within %lld ms", (long long)th_wait_ms());
  return m;
}

void th__expect_terminated_then_down(const char* file, int line, snow_pid_t p, snow_ref_t ref, const uint8_t* reason,
                                     size_t rlen) {
  const snow_msg* m = th__wait_either(file, line, th_m_user(T_TERMINATED, p), th_m_down(ref));
  if (snow_msg_kind(m) != SNOW_MSG_USER)
    th_fail(file, line, "the DOWN arrived without (or before) the terminate callback's message");
  th_check_reason(file, line, "seen by the terminate callback", m->data + 16, (size_t)m->len - 16, reason, rlen);
  th__expect_down(file, line, ref, p, reason, rlen);
  uint8_t got[512];
  size_t gl;
  bool state_null = false;
  if (!th_term_get(p, got, &gl, &state_null))
    th_fail(file, line, "the terminate callback did not run as process 0x%llx", (unsigned long long)p);
  if (!state_null) th_fail(file, line, "the terminate callback got a non-NULL state");
  th_check_reason(file, line, "recorded by the terminate callback", got, gl, reason, rlen);
}

void th__sync_dead(const char* file, int line, snow_pid_t pid) {
  snow_ref_t ref = snow_process_monitor(pid);
  if (!ref) th_fail(file, line, "snow_process_monitor(0x%llx) = 0", (unsigned long long)pid);
  th__wait(file, line, th_m_down(ref), th_wait_ms());
}

static int th_match_nothing(const snow_msg* m, void* ctx) {
  (void)m;
  (void)ctx;
  return 0;
}

void th__wait_until(const char* file, int line, bool (*pred)(void*), void* ctx, const char* what) {
  int64_t deadline = th_now_ms() + th_wait_ms();
  while (!pred(ctx)) {
    if (th_now_ms() > deadline)
      th_fail(file, line, "condition not met within %lld ms: %s", (long long)th_wait_ms(), what);
    if (snow_actor_self()) (void)snow_actor_receive_match(th_match_nothing, NULL, 2);
    else {
      struct timespec ts = {0, 2 * 1000 * 1000};
      nanosleep(&ts, NULL);
    }
  }
}

static void th_echo(const uint8_t* args) {
  snow_pid_t parent = th_arg(args, 0);
  const snow_msg* m = snow_actor_receive(th_wait_ms());
  if (!m) FAILF("echo: no message");
  th_send3(parent, T_ECHO, snow_actor_self(), th_word(m, 1));
}

void th__roundtrip_ok(const char* file, int line) {
  static _Atomic uint64_t seq = 1000;
  uint64_t s = atomic_fetch_add(&seq, 1);
  uint8_t buf[8];
  th_put_u64(buf, snow_actor_self());
  snow_pid_t e = snow_actor_spawn(th_echo, buf, 8, SNOW_PRIO_NORMAL);
  if (!e) th_fail(file, line, "round trip: spawn returned 0");
  int32_t r = th_send2(e, C_PING, s);
  if (r != 0) th_fail(file, line, "round trip: send returned %d", r);
  th__wait(file, line, th_m_user2(T_ECHO, e, s), th_wait_ms());
}

/* ======================================================================== */
/* Puppet                                                                   */
/* ======================================================================== */

static void th_report(snow_pid_t parent, const snow_msg* m) {
  size_t n = 32 + (size_t)m->len;
  uint8_t* buf = malloc(n);
  CHECK(buf != NULL);
  th_put_u64(buf, T_REPORT);
  th_put_u64(buf + 8, snow_actor_self());
  th_put_u64(buf + 16, snow_msg_kind(m));
  th_put_u64(buf + 24, m->tag);
  if (m->len) memcpy(buf + 32, m->data, m->len);
  snow_actor_send(parent, buf, n);
  free(buf);
}

void th_puppet(const uint8_t* args) {
  snow_pid_t parent = th_arg(args, 0);
  uint64_t flags = th_arg(args, 1);
  snow_pid_t self = snow_actor_self();
  if (flags & PUPPET_TRAP) snow_actor_set_trap_exit(true);
  if (flags & PUPPET_TERMCB) snow_actor_set_terminate(self, th_term_cb);
  th_send2(parent, T_READY, self);
  for (;;) {
    const snow_msg* m = snow_actor_receive(-1);
    if (!m) FAILF("puppet 0x%llx: snow_actor_receive(-1) returned NULL", (unsigned long long)self);
    if (snow_msg_kind(m) != SNOW_MSG_USER || m->len < 8) {
      th_report(parent, m);
      continue;
    }
    uint64_t cmd = th_word(m, 0);
    uint64_t a = th_word(m, 1);
    switch (cmd) {
      case C_PING:
        th_send3(parent, T_PONG, self, a);
        break;
      case C_STOP:
        return;
      case C_EXIT_SELF:
        snow_actor_exit_self(m->data + 8, m->len - 8);
      case C_LINK:
        th_send3(parent, T_LINKED, self, (uint64_t)(int64_t)snow_actor_link(a ? a : self));
        break;
      case C_UNLINK:
        th_send3(parent, T_UNLINKED, self, (uint64_t)(int64_t)snow_actor_unlink(a ? a : self));
        break;
      case C_MONITOR:
        th_send3(parent, T_MONITORED, self, snow_process_monitor(a));
        break;
      case C_DEMONITOR:
        th_send3(parent, T_DEMONITORED, self, (uint64_t)snow_process_demonitor(a));
        break;
      case C_EXIT_TAG: {
        int32_t r = snow_actor_exit(a ? a : self, (uint8_t)th_word(m, 2));
        th_send3(parent, T_EXIT_SENT, self, (uint64_t)(int64_t)r);
        break;
      }
      case C_EXIT_REASON: {
        int32_t r = snow_actor_exit_reason(a ? a : self, m->data + 16, m->len - 16);
        th_send3(parent, T_EXIT_SENT, self, (uint64_t)(int64_t)r);
        break;
      }
      case C_TRAP:
        th_send3(parent, T_TRAPPED, self, snow_actor_set_trap_exit(a != 0));
        break;
      case C_SEND:
        snow_actor_send(a, m->data + 16, m->len - 16);
        break;
      case C_PANIC:
        snow_panic((const char*)m->data + 16, m->len - 16, "puppet.c", 8, (uint32_t)a);
      case C_LOOP:
        th_send2(parent, T_LOOPING, self);
        for (;;) snow_reduction_check();
      case C_YIELD_LOOP:
        th_send2(parent, T_LOOPING, self);
        for (;;) snow_actor_yield();
      case C_SLEEP:
        th_send2(parent, T_SLEEPING, self);
        snow_timer_sleep((int64_t)a);
        th_send2(parent, T_SLEPT, self);
        break;
      case C_BLOCK: {
        int64_t ms = (int64_t)th_word(m, 2);
        th_send2(parent, T_BLOCKING, self);
        const snow_msg* x = a == 0 ? snow_actor_receive(ms) : snow_actor_receive_match(th_match_nothing, NULL, ms);
        th_send3(parent, T_UNBLOCKED, self, x != NULL);
        break;
      }
      case C_SET_TERM:
        snow_actor_set_terminate(a, th_term_cb);
        th_send2(parent, T_TERM_SET, self);
        break;
      case C_CLEAR_TERM:
        snow_actor_set_terminate(0, NULL);
        th_send2(parent, T_TERM_SET, self);
        break;
      default:
        th_report(parent, m);
        break;
    }
  }
}

snow_pid_t th__spawn_puppet(const char* file, int line, unsigned flags, snow_ref_t* monitor_ref) {
  uint8_t buf[16];
  th_put_u64(buf, snow_actor_self());
  th_put_u64(buf + 8, flags);
  snow_pid_t p;
  if (monitor_ref) {
    snow_spawn_opts o;
    memset(&o, 0, sizeof o);
    o.monitor = 1;
    o.priority = SNOW_PRIO_NORMAL;
    p = snow_actor_spawn_opts(th_puppet, buf, sizeof buf, &o);
    if (!p) th_fail(file, line, "snow_actor_spawn_opts(monitor) returned 0");
    if (!o.monitor_ref) th_fail(file, line, "snow_actor_spawn_opts(monitor) wrote monitor_ref 0");
    *monitor_ref = o.monitor_ref;
  } else {
    p = snow_actor_spawn(th_puppet, buf, sizeof buf, SNOW_PRIO_NORMAL);
    if (!p) th_fail(file, line, "snow_actor_spawn(puppet) returned 0");
  }
  th__wait(file, line, th_m_user(T_READY, p), th_wait_ms());
  return p;
}

uint64_t th__puppet_call(const char* file, int line, snow_pid_t p, uint64_t cmd, uint64_t arg, uint64_t reply_tag) {
  int32_t r = th_send2(p, cmd, arg);
  if (r != 0) th_fail(file, line, "send to puppet returned %d", r);
  const snow_msg* m = th__wait(file, line, th_m_user(reply_tag, p), th_wait_ms());
  return th_word(m, 2);
}

static _Atomic uint64_t th_seq = 1;

void th__puppet_ping(const char* file, int line, snow_pid_t p) {
  uint64_t s = atomic_fetch_add(&th_seq, 1);
  int32_t r = th_send2(p, C_PING, s);
  if (r != 0) th_fail(file, line, "send to puppet returned %d", r);
  th__wait(file, line, th_m_user2(T_PONG, p, s), th_wait_ms());
}

void th_puppet_exit_self(snow_pid_t p, const uint8_t* reason, size_t len) {
  uint8_t* buf = malloc(8 + len);
  CHECK(buf != NULL);
  th_put_u64(buf, C_EXIT_SELF);
  if (len) memcpy(buf + 8, reason, len);
  CHECK_EQ(snow_actor_send(p, buf, 8 + len), 0);
  free(buf);
}

void th__puppet_fence(const char* file, int line, snow_pid_t from, snow_pid_t to) {
  uint64_t s = atomic_fetch_add(&th_seq, 1);
  uint64_t w[4] = {C_SEND, to, C_PING, s};
  int32_t r = th_send_words(from, w, 4);
  if (r != 0) th_fail(file, line, "send to puppet returned %d", r);
  th__wait(file, line, th_m_user2(T_PONG, to, s), th_wait_ms());
}

/* ======================================================================== */
/* Terminate callback recorder                                              */
/* ======================================================================== */

#define TH_TERM_SLOTS 256
typedef struct th_term_slot {
  _Atomic uint64_t pid; /* written last (release) */
  uint8_t reason[512];
  size_t len;
  bool state_null;
} th_term_slot;
static th_term_slot th_term_slots[TH_TERM_SLOTS];
static _Atomic int th_term_n;

void th_term_cb(const uint8_t* state, const uint8_t* reason) {
  snow_pid_t self = snow_actor_self();
  size_t len = th_reason_len(reason, 4096);
  if (len == 0) len = 1; /* malformed: record the tag byte only */
  if (len > 512) len = 512;
  int i = atomic_fetch_add(&th_term_n, 1);
  if (i < TH_TERM_SLOTS) {
    th_term_slot* s = &th_term_slots[i];
    if (reason) memcpy(s->reason, reason, len);
    s->len = reason ? len : 0;
    s->state_null = state == NULL;
    atomic_store_explicit(&s->pid, self ? self : UINT64_MAX, memory_order_release);
  }
  if (th_main && reason) th_send_with_bytes(th_main, T_TERMINATED, self, reason, len);
}

bool th_term_get(snow_pid_t pid, uint8_t* out, size_t* len, bool* state_was_null) {
  int n = atomic_load(&th_term_n);
  if (n > TH_TERM_SLOTS) n = TH_TERM_SLOTS;
  for (int i = 0; i < n; i++) {
    th_term_slot* s = &th_term_slots[i];
    if (atomic_load_explicit(&s->pid, memory_order_acquire) == pid) {
      if (out) memcpy(out, s->reason, s->len);
      if (len) *len = s->len;
      if (state_was_null) *state_was_null = s->state_null;
      return true;
    }
  }
  return false;
}

int th_term_count(void) { return atomic_load(&th_term_n); }
