/* snowctl: look at a running node (libsnowrt or Erlang/OTP) from the
 * command line. It starts a hidden node of its own, connects to the target
 * with the cookie and asks the target's `rex` server (gen_server calls
 * {call, M, F, A, user}, as rpc:block_call sends them), so it needs nothing
 * but the public ABI and works against any node that runs rex. See
 * `snowctl --help` and docs/operating.md. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "snowrt.h"
#include "term.h"

static const char USAGE[] =
    "NAME\n"
    "    snowctl - look at a running libsnowrt or Erlang node\n"
    "\n"
    "SYNOPSIS\n"
    "    snowctl -n NODE [options] nodes\n"
    "    snowctl -n NODE [options] processes [--sort KEY] [--limit N]\n"
    "    snowctl -n NODE [options] info PID|NAME\n"
    "    snowctl -n NODE [options] top [--sort KEY] [--limit N] [--interval MS] [--count N]\n"
    "    snowctl -n NODE [options] log-level [error|warning|info|debug]\n"
    "\n"
    "DESCRIPTION\n"
    "    snowctl starts a hidden node of its own, connects to NODE and asks\n"
    "    NODE's rex server (the server behind Erlang's rpc) for erlang:nodes/1,\n"
    "    erlang:processes/0, erlang:process_info/2 and erlang:memory/1, so it\n"
    "    works against a libsnowrt node and an Erlang/OTP node alike.\n"
    "    log-level calls snowrt:log_level/0,1, which only libsnowrt nodes have.\n"
    "\n"
    "COMMANDS\n"
    "    nodes          the nodes NODE is connected to, hidden ones included\n"
    "                   (snowctl's own node is left out)\n"
    "    processes      one line per process: pid, registered name, status,\n"
    "                   message queue length, memory (bytes), reductions\n"
    "    info PID|NAME  one process's figures; PID as printed by processes\n"
    "                   (<0.ID.SERIAL>), NAME a registered name\n"
    "    top            the processes table with a header, refreshed every\n"
    "                   --interval; REDS is the reductions since the last\n"
    "                   refresh\n"
    "    log-level      prints NODE's log level; with a level, sets it and\n"
    "                   prints the previous one\n"
    "\n"
    "OPTIONS\n"
    "    -n, --node NODE      the node to look at (name@host; also SNOW_NODE)\n"
    "    -c, --cookie COOKIE  the cookie (default: SNOW_COOKIE, else the first\n"
    "                         line of ~/.erlang.cookie)\n"
    "        --name NAME      snowctl's own node name (default\n"
    "                         snowctl<pid>@<NODE's host>)\n"
    "    -s, --sort KEY       queue, memory or reductions (default reductions)\n"
    "    -l, --limit N        at most N processes (default: all; top: 15)\n"
    "    -i, --interval MS    top's refresh period (default 1000)\n"
    "    -k, --count N        top's refreshes, then exit (default: until ^C)\n"
    "    -t, --timeout MS     how long to wait for each answer (default 5000)\n"
    "    -h, --help           this text\n"
    "\n"
    "EXIT STATUS\n"
    "    0 done; 1 NODE answered an error (printed) or not in time;\n"
    "    2 usage; 3 no connection to NODE.\n";

typedef struct {
  const char* node;
  char cookie[1025];
  const char* name;
  const char* sort;
  long limit;
  long interval_ms;
  long count;
  long timeout_ms;
} options;

static options opt = {NULL, "", NULL, "reductions", -1, 1000, -1, 5000};
static uint8_t self_pid[128];
static int64_t self_pid_len;
static int64_t next_tag = 1;

/* ------------------------------------------------------------------ rpc */

/* Calls M:F(Args) on the target through its rex: args_etf holds the
 * argument list's encoding (no version byte). Returns 0 with *reply the
 * decoded answer (it owns its bytes: term_free), or -1 after
 * printing why (timeout). A {badrpc, _} answer is a reply like any other. */
static int rpc(const char* m, const char* f, const tbuf* args, term* reply) {
  int64_t tag = next_tag++;
  tbuf b = {0};
  tbuf_u8(&b, 131);
  tbuf_tuple(&b, 3);
  tbuf_atom(&b, "$gen_call");
  tbuf_tuple(&b, 2);
  tbuf_raw(&b, self_pid + 1, (size_t)self_pid_len - 1);
  tbuf_int(&b, tag);
  tbuf_tuple(&b, 5);
  tbuf_atom(&b, "call");
  tbuf_atom(&b, m);
  tbuf_atom(&b, f);
  if (args) tbuf_raw(&b, args->data, args->len);
  else tbuf_nil(&b);
  tbuf_atom(&b, "user");
  int32_t rc = snow_actor_send_named_term("rex", 3, opt.node, strlen(opt.node), b.data, b.len);
  tbuf_free(&b);
  if (rc != 0) {
    fprintf(stderr, "snowctl: cannot send to rex on %s: %s\n", opt.node, snow_strerror(rc));
    return -1;
  }
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (;;) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    int64_t spent = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
    if (spent >= opt.timeout_ms) break;
    const snow_msg* msg = snow_actor_receive(opt.timeout_ms - spent);
    if (!msg) break;
    if (snow_msg_kind(msg) != SNOW_MSG_TERM || msg->len < 2) continue;
    uint8_t* kept = malloc(msg->len);
    if (!kept) return -1;
    memcpy(kept, msg->data, msg->len);
    size_t pos = 1;
    term t;
    if (kept[0] != 131 || term_decode(kept, msg->len, &pos, &t) != 0) {
      free(kept);
      continue;
    }
    t.owned = kept;
    /* {Tag, Reply}: an answer to an earlier call that timed out is skipped. */
    if (t.type == T_TUPLE && t.n == 2 && t.items[0].type == T_INT && t.items[0].i == tag) {
      *reply = t.items[1];
      reply->owned = t.owned; /* the reply and its bytes move to *reply */
      t.owned = NULL;
      t.items[1].items = NULL;
      t.items[1].n = 0;
      term_free(&t);
      return 0;
    }
    term_free(&t);
  }
  fprintf(stderr, "snowctl: %s:%s: no answer from %s within %ld ms\n", m, f, opt.node, opt.timeout_ms);
  return -1;
}

/* Prints a {badrpc, _} answer: 1 when it was one. */
static int badrpc(const char* what, const term* r) {
  if (!(r->type == T_TUPLE && r->n == 2 && term_is_atom(&r->items[0], "badrpc"))) return 0;
  fprintf(stderr, "snowctl: %s: ", what);
  term_print(stderr, r);
  fputc('\n', stderr);
  return 1;
}

/* ------------------------------------------------------------------ processes */

typedef struct {
  uint8_t pid[96];
  size_t pid_len;
  uint32_t id, serial;
  char name[256];
  char status[16];
  int64_t queue, memory, reductions, delta;
} proc_row;

static const char* const ROW_ITEMS[] = {"registered_name", "status", "message_queue_len", "memory", "reductions"};

static int64_t int_of(const term* t) { return t && t->type == T_INT ? t->i : 0; }

static void text_of(const term* t, char* out, size_t cap) {
  out[0] = 0;
  if (t && (t->type == T_ATOM || t->type == T_STRING || t->type == T_BINARY))
    snprintf(out, cap, "%.*s", (int)t->len, (const char*)t->bytes);
}

/* The call erlang:process_info(Pid, Items): rpc's result, *info its answer. */
static int ask_process_info(const uint8_t* pid, size_t pid_len, const char* const* items, size_t n, term* info) {
  tbuf a = {0};
  tbuf_list(&a, 2);
  tbuf_raw(&a, pid, pid_len);
  tbuf_list(&a, (uint32_t)n);
  for (size_t i = 0; i < n; i++) tbuf_atom(&a, items[i]);
  tbuf_nil(&a);
  tbuf_nil(&a);
  int r = rpc("erlang", "process_info", &a, info);
  tbuf_free(&a);
  return r;
}

/* process_info(Pid, Items) for one pid (its encoding): 0 with *info, 1
 * when the process is gone (undefined), -1 on a failure (printed). */
static int process_info(const uint8_t* pid, size_t pid_len, const char* const* items, size_t n, term* info) {
  if (ask_process_info(pid, pid_len, items, n, info) != 0) return -1;
  if (term_is_atom(info, "undefined")) {
    term_free(info);
    return 1;
  }
  if (badrpc("process_info", info)) {
    term_free(info);
    return -1;
  }
  return 0;
}

/* The target's processes with their figures; *count rows, NULL on failure. */
static proc_row* list_processes(size_t* count) {
  term pids;
  if (rpc("erlang", "processes", NULL, &pids) != 0) return NULL;
  if (badrpc("processes", &pids) || pids.type != T_LIST) {
    term_free(&pids);
    return NULL;
  }
  proc_row* rows = calloc(pids.n ? pids.n : 1, sizeof *rows);
  size_t n = 0;
  for (size_t i = 0; rows && i < pids.n; i++) {
    const term* p = &pids.items[i];
    if (p->type != T_PID || p->len > sizeof rows[n].pid) continue;
    proc_row* row = &rows[n];
    memcpy(row->pid, p->bytes, p->len);
    row->pid_len = p->len;
    row->id = p->pid_id;
    row->serial = p->pid_serial;
    term info;
    int r = process_info(row->pid, row->pid_len, ROW_ITEMS, 5, &info);
    if (r < 0) {
      term_free(&pids);
      free(rows);
      return NULL;
    }
    if (r > 0) continue; /* exited meanwhile */
    text_of(term_proplist_get(&info, "registered_name"), row->name, sizeof row->name);
    text_of(term_proplist_get(&info, "status"), row->status, sizeof row->status);
    row->queue = int_of(term_proplist_get(&info, "message_queue_len"));
    row->memory = int_of(term_proplist_get(&info, "memory"));
    row->reductions = int_of(term_proplist_get(&info, "reductions"));
    row->delta = row->reductions;
    term_free(&info);
    n++;
  }
  term_free(&pids);
  *count = n;
  return rows;
}

static int64_t key_of(const proc_row* r) {
  if (strcmp(opt.sort, "queue") == 0) return r->queue;
  if (strcmp(opt.sort, "memory") == 0) return r->memory;
  return r->delta;
}

/* Largest first; equal keys by pid id, so the order is stable. */
static int by_key_desc(const void* a, const void* b) {
  const proc_row *p = a, *q = b;
  int64_t x = key_of(p), y = key_of(q);
  if (x != y) return x < y ? 1 : -1;
  return (p->id > q->id) - (p->id < q->id);
}

static void print_rows(proc_row* rows, size_t n, const char* reds_title) {
  qsort(rows, n, sizeof *rows, by_key_desc);
  size_t shown = opt.limit >= 0 && (size_t)opt.limit < n ? (size_t)opt.limit : n;
  printf("%-22s %-20s %-8s %8s %12s %12s\n", "PID", "NAME", "STATUS", "QUEUE", "MEMORY", reds_title);
  for (size_t i = 0; i < shown; i++) {
    char pid[48];
    snprintf(pid, sizeof pid, "<0.%u.%u>", rows[i].id, rows[i].serial);
    printf("%-22s %-20s %-8s %8lld %12lld %12lld\n", pid, rows[i].name[0] ? rows[i].name : "-", rows[i].status,
           (long long)rows[i].queue, (long long)rows[i].memory, (long long)rows[i].delta);
  }
}

static int cmd_processes(void) {
  size_t n;
  proc_row* rows = list_processes(&n);
  if (!rows) return 1;
  print_rows(rows, n, "REDUCTIONS");
  printf("%zu processes\n", n);
  free(rows);
  return 0;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

static int cmd_top(void) {
  if (opt.limit < 0) opt.limit = 15;
  int tty = isatty(STDOUT_FILENO);
  proc_row* before = NULL;
  size_t nbefore = 0;
  for (long round = 0; opt.count < 0 || round < opt.count; round++) {
    if (round) sleep_ms(opt.interval_ms);
    size_t n;
    proc_row* rows = list_processes(&n);
    if (!rows) {
      free(before);
      return 1;
    }
    for (size_t i = 0; i < n; i++)
      for (size_t j = 0; j < nbefore; j++)
        if (rows[i].pid_len == before[j].pid_len && memcmp(rows[i].pid, before[j].pid, rows[i].pid_len) == 0)
          rows[i].delta = rows[i].reductions - before[j].reductions;
    term total;
    tbuf a = {0};
    tbuf_list(&a, 1);
    tbuf_atom(&a, "total");
    tbuf_nil(&a);
    int r = rpc("erlang", "memory", &a, &total);
    tbuf_free(&a);
    if (tty) fputs("\033[H\033[2J", stdout);
    else if (round) putchar('\n');
    printf("%s  processes: %zu  memory: %lld bytes  (refresh %ld ms)\n", opt.node, n,
           r == 0 ? (long long)int_of(&total) : -1LL, opt.interval_ms);
    if (r == 0) term_free(&total);
    print_rows(rows, n, "REDS");
    fflush(stdout);
    free(before);
    before = rows;
    nbefore = n;
  }
  free(before);
  return 0;
}

/* ------------------------------------------------------------------ info */

/* The pid named by `what` (<A.ID.SERIAL> or a registered name) into
 * pid/len: 0, or 1 after printing why not. */
static int find_pid(const char* what, uint8_t* pid, size_t cap, size_t* len) {
  unsigned node_part, id, serial;
  term t;
  if (sscanf(what, "<%u.%u.%u>", &node_part, &id, &serial) == 3) {
    if (rpc("erlang", "processes", NULL, &t) != 0) return 1;
    int found = 0;
    for (size_t i = 0; t.type == T_LIST && i < t.n && !found; i++) {
      const term* p = &t.items[i];
      if (p->type == T_PID && p->pid_id == id && p->pid_serial == serial && p->len <= cap) {
        memcpy(pid, p->bytes, p->len);
        *len = p->len;
        found = 1;
      }
    }
    term_free(&t);
    if (!found) fprintf(stderr, "snowctl: no process %s on %s\n", what, opt.node);
    return !found;
  }
  tbuf a = {0};
  tbuf_list(&a, 1);
  tbuf_atom(&a, what);
  tbuf_nil(&a);
  int r = rpc("erlang", "whereis", &a, &t);
  tbuf_free(&a);
  if (r != 0) return 1;
  int ok = t.type == T_PID && t.len <= cap;
  if (ok) {
    memcpy(pid, t.bytes, t.len);
    *len = t.len;
  } else if (!badrpc("whereis", &t)) {
    fprintf(stderr, "snowctl: no process registered as %s on %s\n", what, opt.node);
  }
  term_free(&t);
  return !ok;
}

static void print_proplist(const term* list) {
  for (size_t i = 0; list->type == T_LIST && i < list->n; i++) {
    const term* e = &list->items[i];
    if (e->type != T_TUPLE || e->n != 2) continue;
    char key[64];
    snprintf(key, sizeof key, "%.*s:", (int)e->items[0].len, (const char*)e->items[0].bytes);
    printf("%-20s ", key);
    term_print(stdout, &e->items[1]);
    putchar('\n');
  }
}

/* Asks process_info(Pid, Items) and prints the answer when it is a list;
   says nothing of a badrpc (items the target does not answer). -1 when the
   call itself failed. */
static int print_items_if_answered(const uint8_t* pid, size_t pid_len, const char* const* items, size_t n) {
  term info;
  if (ask_process_info(pid, pid_len, items, n, &info) != 0) return -1;
  if (info.type == T_LIST) print_proplist(&info);
  term_free(&info);
  return 0;
}

static int cmd_info(const char* what) {
  uint8_t pid[96];
  size_t len;
  if (find_pid(what, pid, sizeof pid, &len) != 0) return 1;
  static const char* const items[] = {"registered_name", "status",     "message_queue_len", "memory",
                                      "heap_size",       "reductions", "current_function",  "initial_call"};
  term info;
  int r = process_info(pid, len, items, sizeof items / sizeof items[0], &info);
  if (r != 0) {
    if (r > 0) fprintf(stderr, "snowctl: %s has exited\n", what);
    return 1;
  }
  print_proplist(&info);
  term_free(&info);
  /* The lists of links and monitors, which Erlang and libsnowrt answer,
     then libsnowrt's counts (an Erlang node has none: not printed). */
  static const char* const lists[] = {"links", "monitors", "monitored_by"};
  static const char* const counts[] = {"link_count", "monitor_count", "monitored_by_count"};
  if (print_items_if_answered(pid, len, lists, 3) < 0) return 1;
  if (print_items_if_answered(pid, len, counts, 3) < 0) return 1;
  return 0;
}

/* ------------------------------------------------------------------ nodes, log level */

static int cmd_nodes(const char* self_name) {
  tbuf a = {0};
  tbuf_list(&a, 1);
  tbuf_atom(&a, "connected");
  tbuf_nil(&a);
  term t;
  int r = rpc("erlang", "nodes", &a, &t);
  tbuf_free(&a);
  if (r != 0) return 1;
  if (badrpc("nodes", &t)) {
    term_free(&t);
    return 1;
  }
  for (size_t i = 0; t.type == T_LIST && i < t.n; i++) {
    const term* e = &t.items[i];
    if (e->type == T_ATOM && !(e->len == strlen(self_name) && memcmp(e->bytes, self_name, e->len) == 0))
      printf("%.*s\n", (int)e->len, (const char*)e->bytes);
  }
  term_free(&t);
  return 0;
}

static int cmd_log_level(const char* level) {
  tbuf a = {0};
  tbuf_list(&a, level ? 1 : 0);
  if (level) tbuf_atom(&a, level);
  if (level) tbuf_nil(&a);
  term t;
  int r = rpc("snowrt", "log_level", level ? &a : NULL, &t);
  tbuf_free(&a);
  if (r != 0) return 1;
  if (badrpc("snowrt:log_level", &t)) {
    term_free(&t);
    return 1;
  }
  if (level) printf("%s (was %.*s)\n", level, (int)t.len, (const char*)t.bytes);
  else printf("%.*s\n", (int)t.len, (const char*)t.bytes);
  term_free(&t);
  return 0;
}

/* ------------------------------------------------------------------ main */

static int run(int argc, char** argv, int first) {
  const char* cmd = argv[first];
  int args = argc - first - 1;
  char self_name[300];
  const char* at = strchr(opt.node, '@');
  if (opt.name) snprintf(self_name, sizeof self_name, "%s", opt.name);
  else snprintf(self_name, sizeof self_name, "snowctl%ld@%s", (long)getpid(), at ? at + 1 : "localhost");
  int64_t rc = snow_node_start(self_name, strlen(self_name), opt.cookie, strlen(opt.cookie));
  if (rc != 0) {
    fprintf(stderr, "snowctl: cannot start node %s: %s\n", self_name, snow_strerror((int32_t)rc));
    return 3;
  }
  rc = snow_node_connect(opt.node, strlen(opt.node));
  if (rc != 0) {
    fprintf(stderr, "snowctl: cannot connect to %s: %s\n", opt.node, snow_strerror((int32_t)rc));
    snow_node_stop();
    return 3;
  }
  self_pid_len = snow_term_encode_pid(snow_actor_self(), self_pid, sizeof self_pid);
  int status = 2;
  if (strcmp(cmd, "nodes") == 0 && args == 0) status = cmd_nodes(self_name);
  else if (strcmp(cmd, "processes") == 0 && args == 0) status = cmd_processes();
  else if (strcmp(cmd, "info") == 0 && args == 1) status = cmd_info(argv[first + 1]);
  else if (strcmp(cmd, "top") == 0 && args == 0) status = cmd_top();
  else if (strcmp(cmd, "log-level") == 0 && args <= 1) status = cmd_log_level(args ? argv[first + 1] : NULL);
  else fprintf(stderr, "snowctl: unknown command or wrong arguments: %s (see snowctl --help)\n", cmd);
  snow_node_stop();
  return status;
}

static long number(const char* s, const char* what) {
  char* end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || *end || v < 0) {
    fprintf(stderr, "snowctl: %s must be a number >= 0: %s\n", what, s);
    exit(2);
  }
  return v;
}

int main(int argc, char** argv) {
  static const struct option longs[] = {{"node", required_argument, 0, 'n'},  {"cookie", required_argument, 0, 'c'},
                                        {"name", required_argument, 0, 'N'},  {"sort", required_argument, 0, 's'},
                                        {"limit", required_argument, 0, 'l'}, {"interval", required_argument, 0, 'i'},
                                        {"count", required_argument, 0, 'k'}, {"timeout", required_argument, 0, 't'},
                                        {"help", no_argument, 0, 'h'},        {0, 0, 0, 0}};
  opt.node = getenv("SNOW_NODE");
  const char* env_cookie = getenv("SNOW_COOKIE");
  if (env_cookie) snprintf(opt.cookie, sizeof opt.cookie, "%s", env_cookie);
  int c;
  while ((c = getopt_long(argc, argv, "n:c:s:l:i:k:t:h", longs, NULL)) != -1) {
    switch (c) {
      case 'n':
        opt.node = optarg;
        break;
      case 'c':
        snprintf(opt.cookie, sizeof opt.cookie, "%s", optarg);
        break;
      case 'N':
        opt.name = optarg;
        break;
      case 's':
        opt.sort = optarg;
        break;
      case 'l':
        opt.limit = number(optarg, "--limit");
        break;
      case 'i':
        opt.interval_ms = number(optarg, "--interval");
        break;
      case 'k':
        opt.count = number(optarg, "--count");
        break;
      case 't':
        opt.timeout_ms = number(optarg, "--timeout");
        break;
      case 'h':
        fputs(USAGE, stdout);
        return 0;
      default:
        fputs("see snowctl --help\n", stderr);
        return 2;
    }
  }
  if (strcmp(opt.sort, "queue") != 0 && strcmp(opt.sort, "memory") != 0 && strcmp(opt.sort, "reductions") != 0) {
    fprintf(stderr, "snowctl: --sort takes queue, memory or reductions, not %s\n", opt.sort);
    return 2;
  }
  if (optind >= argc || !opt.node) {
    fputs(optind >= argc ? "snowctl: no command (see snowctl --help)\n" : "snowctl: no node: -n NODE or SNOW_NODE\n",
          stderr);
    return 2;
  }
  /* snowctl says what failed itself: the runtime's own lines (a connection
   * closed when snowctl stops its node) only with SNOW_LOG set. */
  if (!getenv("SNOW_LOG")) snow_rt_set_log_level(SNOW_LOG_ERROR);
  /* Ctrl-C ends top the default way (an orderly stop of the runtime). */
  if (snow_rt_init_actor(1) != 0) {
    fputs("snowctl: cannot start the runtime\n", stderr);
    return 1;
  }
  int status = run(argc, argv, optind);
  snow_rt_run_scheduler();
  return status;
}
