/*
 * snowrt.h: the public C ABI of libsnowrt, contract version 2.
 * (One header on purpose, over 800 lines: the contract is one file to read
 * and to include, as ABI.md requires.)
 *
 * libsnowrt gives C programs, LLVM-generated code and FFI callers Erlang
 * semantics: lightweight processes on an M:N scheduler, mailboxes, links,
 * monitors, exit signals, timers and distribution. This header is the whole
 * public surface; it compiles as C11 and C++17 and includes only <stdint.h>,
 * <stddef.h> and <stdbool.h>.
 *
 * Conventions that hold for every function below:
 * - snow_pid_t and snow_ref_t are uint64_t; 0 means "none".
 * - Every SNOW_API function has a doc comment directly above it stating its
 *   contract, its results and any exception to the thread rule below
 *   (codegen-shims/check_decls.py fails the build's tests otherwise).
 * - Fallible calls return a signed integer: >= 0 success, negative SNOW_E*
 *   error (snow_strerror() names every code). The codes (SNOW_ERRNO_MAP) are
 *   returned as int32_t; the calls that ABI.md fixes as returning
 *   int64_t (distribution, node and process monitors, snow_timer_cancel,
 *   snow_service_last_error, the supervisor calls) return the same values
 *   widened. Test `r < 0` or compare with SNOW_E*, never by width.
 * - Results that cannot carry a code (a pid, ref, pointer or bool) report
 *   failure as 0, NULL or false, and the comment lists every cause. Each
 *   cause is one the caller can check beforehand (its arguments, whether
 *   it is a process: snow_actor_self() != 0, whether it started the
 *   runtime) unless the comment says it is not reported; see docs/abi.md,
 *   "Known gaps". The service calls report theirs through
 *   snow_service_last_error().
 * - Strings are (const char* ptr, uint64_t len) pairs, UTF-8, no NUL needed.
 * - "Calling process" means code running inside a spawned process, the main
 *   thread after snow_rt_init_actor(), or a foreign thread after
 *   snow_thread_attach(). Blocking calls park only the calling process; on
 *   the main thread or an attached thread they block that thread.
 * - Threads: any OS thread may call a function, whether or not it is a
 *   process, at any time (before snow_rt_init_actor(), one that needs the
 *   runtime gives the "not started" result its comment names). A comment
 *   states only the exceptions to this rule: "Process only" means the call
 *   acts for the calling process, and elsewhere it has no effect and gives
 *   the result the comment names (SNOW_ENOTPROC, 0, NULL or false, or an
 *   abort where there is no result to give).
 * - Every function pointer has a typedef (snow_proc_fn, snow_match_fn,
 *   ...) whose comment says where the runtime calls it.
 * - Nothing received from a caller is trusted: every bad argument gets an
 *   error code or a documented no-op, never a crash (bad pointers aside).
 */
#ifndef SNOWRT_H
#define SNOWRT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define SNOW_API __attribute__((visibility("default")))
#else
#define SNOW_API
#endif

#if defined(__cplusplus)
#define SNOW_NORETURN [[noreturn]]
#else
#define SNOW_NORETURN _Noreturn
#endif

/** The version of this contract; snow_rt_abi_version() returns it. */
#define SNOW_ABI_VERSION 2u

typedef uint64_t snow_pid_t;
typedef uint64_t snow_ref_t;

/* ------------------------------------------------------------------------
 * Error codes. Every fallible call returns one of these (negative) or a
 * non-negative success value. The table is the single source of truth:
 * snow_strerror() is generated from it.
 * ------------------------------------------------------------------------ */
#define SNOW_ERRNO_MAP(X)                                            \
  X(EINVAL, -1, "invalid argument")                                  \
  X(ENOTPROC, -2, "not called from a process")                       \
  X(ENOPROC, -3, "no such process")                                  \
  X(ENOTSTARTED, -4, "runtime or distribution not started")          \
  X(EALREADY, -5, "already started")                                 \
  X(EEXIST, -6, "name already registered")                           \
  X(ENONODE, -7, "no such node or node unreachable")                 \
  X(ECONNREFUSED, -8, "connection refused")                          \
  X(EAUTH, -9, "authentication failed (cookie mismatch)")            \
  X(ETIMEDOUT, -10, "timed out")                                     \
  X(ENOMEM, -11, "out of memory")                                    \
  X(EBADNAME, -12, "bad name")                                       \
  X(EMSGSIZE, -13, "message or argument too large")                  \
  X(ENOFUNC, -14, "no such registered function")                     \
  X(ENOTFOUND, -15, "name not registered by this process")           \
  X(ESHUTDOWN, -16, "runtime is shutting down")                      \
  X(EADDRINUSE, -17, "address already in use")                       \
  X(EEPMD, -18, "port mapper (epmd) failed")                         \
  X(ENOCOOKIE, -19, "no cookie given and ~/.erlang.cookie unusable") \
  X(EBUSY, -20, "the node's send queue is busy: not sent")           \
  X(ETLS, -21, "TLS distribution failed (settings, certificates or handshake)")

enum {
#define SNOW_ERRNO_ENUM_(name, value, text) SNOW_##name = (value),
  SNOW_OK = 0,
  SNOW_ERRNO_MAP(SNOW_ERRNO_ENUM_)
#undef SNOW_ERRNO_ENUM_
};

/** Names an error code: "invalid argument" for SNOW_EINVAL, "success" for any
 *  non-negative value, "unknown error" for anything else. Never NULL; the
 *  string is static. Any thread. */
SNOW_API const char* snow_strerror(int64_t code);

/* ------------------------------------------------------------------------
 * Messages.
 * ------------------------------------------------------------------------ */

/** A received message. Generated code reads the payload at offset 16. The
 *  tag is the first min(len, 8) payload bytes read little-endian and
 *  zero-padded for user messages, or one of the reserved SNOW_TAG_* values
 *  for system messages (use snow_msg_kind() to tell them apart). */
/* The payload is a flexible array member (C99 and later). C++ has none, but
 * GCC and Clang accept one as an extension; its pedantic warning is
 * silenced here so `-Wpedantic -Werror` C++ code can include this header. */
#if defined(__cplusplus) && defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wc99-extensions"
#pragma clang diagnostic ignored "-Wflexible-array-extensions"
#elif defined(__cplusplus) && defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#endif
typedef struct snow_msg {
  uint64_t tag;
  uint64_t len;
  uint8_t data[];
} snow_msg;
#if defined(__cplusplus) && defined(__clang__)
#pragma clang diagnostic pop
#elif defined(__cplusplus) && defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

#define SNOW_TAG_EXIT UINT64_MAX
#define SNOW_TAG_DOWN (UINT64_MAX - 1)
#define SNOW_TAG_NODEDOWN (UINT64_MAX - 2)
#define SNOW_TAG_NODEUP (UINT64_MAX - 3)
#define SNOW_TAG_SPAWN_REPLY (UINT64_MAX - 4)
#define SNOW_TAG_TERM (UINT64_MAX - 5)

/** Message kinds returned by snow_msg_kind(). */
enum {
  SNOW_MSG_USER = 0,        /* data: the sender's bytes */
  SNOW_MSG_EXIT = 1,        /* data: [u64 from_pid][reason] */
  SNOW_MSG_DOWN = 2,        /* data: [u64 ref][u64 pid][reason] */
  SNOW_MSG_NODEUP = 3,      /* data: node name bytes */
  SNOW_MSG_NODEDOWN = 4,    /* data: node name bytes */
  SNOW_MSG_SPAWN_REPLY = 5, /* data: [u64 request_id][u8 status][u64 pid]; reserved: the
                               synchronous snow_node_spawn consumes its reply itself */
  SNOW_MSG_TERM = 6         /* data: external term format bytes */
};

/* Exit reasons travel encoded: one tag byte, then its data. Tags 1, 5 and 8
 * carry [u64 len][len bytes]; the others carry nothing. */
enum {
  SNOW_REASON_NORMAL = 0,
  SNOW_REASON_ERROR = 1,    /* u64 len + UTF-8 message */
  SNOW_REASON_KILLED = 2,   /* as an exit signal: the untrappable kill */
  SNOW_REASON_RESERVED = 3, /* never produced, rejected as input */
  SNOW_REASON_SHUTDOWN = 4,
  SNOW_REASON_CUSTOM = 5, /* u64 len + UTF-8 */
  SNOW_REASON_NOCONNECTION = 6,
  SNOW_REASON_NOPROC = 7,
  SNOW_REASON_TERM = 8 /* u64 len + external term format bytes */
};

/* ------------------------------------------------------------------------
 * Callbacks. Plain C function pointers (the typedefs only name them: the
 * layout and calling convention are those of the spelled-out types).
 * ------------------------------------------------------------------------ */

/** A process's entry function (snow_actor_spawn, snow_register_function,
 *  snow_child_spec.start). Runs in the new process with its copy of the
 *  spawn arguments; returning exits the process with `normal`. */
typedef void (*snow_proc_fn)(const uint8_t* args);

/** A selective-receive predicate (snow_actor_receive_match): non-zero
 *  takes the message. Runs in the receiving process, inside the receive,
 *  for each message offered; the pointer is valid only during the call. */
typedef int (*snow_match_fn)(const snow_msg* msg, void* ctx);

/** A terminate callback (snow_actor_set_terminate,
 *  snow_spawn_opts.terminate). Runs once in the dying process, before its
 *  links and monitors fire, with state == NULL and the encoded exit reason. */
typedef void (*snow_terminate_fn)(const uint8_t* state, const uint8_t* reason);

/** A job's function (snow_job_async): runs in the job process; its result
 *  is the job's Ok value. */
typedef int64_t (*snow_job_fn)(void* env);

/** A job_map element function (snow_job_map): runs in the element's job
 *  process with the list element; its result is that element's result. */
typedef int64_t (*snow_job_map_fn)(void* env, int64_t elem);

/** Priorities for snow_actor_spawn(); any other value means normal. */
enum { SNOW_PRIO_HIGH = 0, SNOW_PRIO_NORMAL = 1, SNOW_PRIO_LOW = 2 };

/** The largest message or spawn argument block accepted (SNOW_EMSGSIZE or a
 *  failed spawn beyond it). */
#define SNOW_MAX_MSG_SIZE ((uint64_t)1 << 31)

/* Growth of the extensible structs (snow_spawn_opts, snow_stats): each has
 * a fixed size and ends in reserved words. A later contract version gives a
 * reserved word a meaning whose zero value is the behaviour of the version
 * before, so a caller built against an older header, which zeroes the whole
 * struct, keeps its old behaviour. The runtime refuses spawn options whose
 * reserved words are not zero (a caller built against a newer header never
 * has a field it relies on silently ignored), and snow_rt_stats() writes the
 * whole struct, reserved words as zero (snow_stats has used its last one:
 * further counters need a new struct). No size field: an out-struct with a
 * stale or uninitialised size could make the runtime write past the caller's
 * memory, and zero-initialising is already the rule. See docs/abi.md. */

/** Options for snow_actor_spawn_opts(). Zero-initialise, then set fields
 *  (64 bytes). */
typedef struct snow_spawn_opts {
  uint8_t link;           /* non-zero: link caller and child atomically */
  uint8_t monitor;        /* non-zero: caller monitors the child atomically */
  uint8_t priority;       /* SNOW_PRIO_*; other values mean normal */
  uint8_t reserved_[5];   /* must be zero */
  snow_ref_t monitor_ref; /* out: the monitor's ref when monitor != 0 */
  uint64_t stack_size;    /* bytes; 0 = default (SNOW_STACK_SIZE). See docs. */
  /* The child's terminate callback (see snow_actor_set_terminate), in
   * place before the child runs, so it covers even an instant exit.
   * NULL: none. (v2) */
  snow_terminate_fn terminate;
  uint64_t reserved_words_[4]; /* must be zero; see "Growth" above */
} snow_spawn_opts;

/** Runtime counters (snow_rt_stats), 128 bytes. */
typedef struct snow_stats {
  uint64_t processes_alive;   /* processes that have not finished exiting */
  uint64_t processes_spawned; /* since start, attached threads included */
  uint64_t processes_exited;  /* since start */
  uint64_t messages_sent;     /* user and term messages accepted by send */
  uint64_t nodes_connected;   /* distribution connections that are up */
  uint64_t schedulers;        /* worker threads */
  uint64_t timers_pending;    /* timers armed and not yet fired or cancelled */
  uint64_t stacks_resident;   /* execution stack slots mapped (shared + dedicated) */
  uint64_t node_entries;      /* node-table entries in use (v2) */
  uint64_t remote_pids;       /* remote pid handles held (v2) */
  /* The collected heap (v2; see snow_rt_stats in docs/abi.md): */
  uint64_t heap_bytes;            /* bytes of heap blocks in use (process heaps and
                                     values kept after their owner exited) */
  uint64_t heap_live_bytes;       /* live bytes found by each existing process
                                     heap's last collection, summed */
  uint64_t gc_collections;        /* process heap collections since program start */
  uint64_t gc_shared_bytes;       /* bytes of values carried between processes
                                     that the last shared collection kept */
  uint64_t alias_sends_dropped;   /* sends from peers to process aliases, dropped (v2) */
  uint64_t dist_messages_refused; /* messages from peers over the per-message limit,
                                     refused (v2; SNOW_DIST_MAX_MESSAGE) */
} snow_stats;

/* ------------------------------------------------------------------------
 * 2. Lifecycle
 * ------------------------------------------------------------------------ */

/** Idempotent process-wide set-up (allocator, clocks). Safe to call before
 *  anything else, any number of times; snow_rt_init_actor() calls it. */
SNOW_API void snow_rt_init(void);

/** Starts `schedulers` worker threads (0 = the SNOW_SCHEDULERS environment
 *  variable, else one per usable CPU; at most 1024) and makes the calling
 *  thread the main process. Returns 0, SNOW_EALREADY if already started,
 *  SNOW_ENOMEM if the workers cannot be created. Threads: the thread that
 *  will later call snow_rt_run_scheduler(). */
SNOW_API int32_t snow_rt_init_actor(uint32_t schedulers);

/** Chooses whether snow_rt_init_actor() installs the runtime's SIGINT and
 *  SIGTERM handlers (an orderly stop, as snow_rt_halt(130 / 143)). false
 *  leaves the program's own handlers in place, e.g. for a host with its own
 *  signal handling (Python keeps Ctrl-C as KeyboardInterrupt). Without a
 *  call the SNOW_SIGNALS environment variable decides ("0": off; unset or
 *  anything else: on); a call overrides it. Returns 0, or SNOW_EALREADY
 *  while the runtime is started (the setting is then unchanged); it applies
 *  to the next snow_rt_init_actor(). */
SNOW_API int32_t snow_rt_set_signal_handling(bool enabled);

/* Logging (v2). The runtime logs crash reports, refused connections,
 * lost nodes and its own troubles as lines of text with a level; lines
 * above the level in force are dropped. */
enum { SNOW_LOG_ERROR = 0, SNOW_LOG_WARNING = 1, SNOW_LOG_INFO = 2, SNOW_LOG_DEBUG = 3 };

/** Receives each log line that passes the level: its SNOW_LOG_* level and
 *  its text (len bytes, no newline, no NUL; valid only during the call).
 *  Threads: called on whichever thread logs (a scheduler worker running a
 *  process, the distribution thread, a thread inside a runtime call),
 *  possibly on several at once, so it must be thread-safe and quick (it
 *  holds up that thread: a slow handler slows every node connection). It
 *  must not call into the runtime except snow_strerror,
 *  snow_rt_abi_version and snow_rt_log_level; above all not
 *  snow_rt_set_log_handler (it would wait for itself). A line it causes
 *  itself goes to stderr. */
typedef void (*snow_log_handler)(int32_t level, const char* line, uint64_t len, void* ctx);

/** Routes log lines to fn(level, line, len, ctx) instead of stderr; NULL
 *  fn goes back to stderr. Once it returns the previous handler is not
 *  called again. Any thread, any time, before or after start. */
SNOW_API void snow_rt_set_log_handler(snow_log_handler fn, void* ctx);

/** Sets the level (SNOW_LOG_*): lines of that level and more severe ones
 *  are logged. Without a call the SNOW_LOG environment variable decides
 *  ("error", "warning", "info" or "debug", any case; unset or anything
 *  else: info, the latter with a warning line); a call overrides it.
 *  Returns the previous level, or SNOW_EINVAL for a level outside 0..3
 *  (unchanged). Any thread, any time. */
SNOW_API int32_t snow_rt_set_log_level(int32_t level);

/** The level in force (SNOW_LOG_*). Any thread. */
SNOW_API int32_t snow_rt_log_level(void);

/** Called by the main thread after its work. The main process exits with
 *  `normal`; then it waits until every process has exited or snow_rt_halt()
 *  is called, stops the workers and returns the exit status (0 normally,
 *  the halt status otherwise). A started node does not keep the program
 *  alive by itself (v2): once no process is alive, the node is stopped
 *  cleanly (peers see NODEDOWN) and it returns 0; a process waiting for
 *  messages (a server) keeps it, and the node, running, and processes that
 *  peers spawn here count while they live. When no node is started, no
 *  thread is attached and every remaining process waits with no timer
 *  pending, they are exited with reason `shutdown` and it returns 0.
 *  Returns SNOW_ENOTSTARTED if the runtime is not started. After it
 *  returns, the runtime may be started again with snow_rt_init_actor().
 *  Threads: the one that called snow_rt_init_actor() (SNOW_EINVAL on any
 *  other). */
SNOW_API int32_t snow_rt_run_scheduler(void);

/** Orderly stop of everything: every process is exited with `shutdown`,
 *  the workers stop and snow_rt_run_scheduler() returns `status`. SIGINT
 *  and SIGTERM do the same with status 130 / 143 unless
 *  snow_rt_set_signal_handling(false) or SNOW_SIGNALS=0 turned that off.
 *  No effect before start. */
SNOW_API void snow_rt_halt(int32_t status);

/** Returns SNOW_ABI_VERSION, the contract version the library implements. */
SNOW_API uint32_t snow_rt_abi_version(void);

/** Makes the calling foreign OS thread a process with a mailbox, so it can
 *  receive, link and monitor. Returns its pid (the existing pid if already
 *  attached or the main thread, or a process's own pid), or 0 if the
 *  runtime is not started or out of memory (not reported). Blocking calls
 *  block this thread. If the process is ended by a signal while the thread
 *  is inside a runtime call, that call returns its "not a process" result
 *  (NULL, 0 or SNOW_ENOTPROC) and the thread is no longer attached; only
 *  snow_actor_exit_self and snow_panic end the thread (pthread_exit). See
 *  docs/abi.md. */
SNOW_API snow_pid_t snow_thread_attach(void);

/** Exits the calling attached thread's process with reason `normal`.
 *  Returns 0, SNOW_ENOTPROC if the thread is not attached, SNOW_EINVAL on
 *  the main thread (the main process cannot detach). Threads: an attached
 *  thread. */
SNOW_API int32_t snow_thread_detach(void);

/* ------------------------------------------------------------------------
 * 3. Processes and messages
 * ------------------------------------------------------------------------ */

/** Spawns a process running fn(copy), where copy holds `size` bytes copied
 *  from `args` and lives as long as the process (NULL args with size 0 gives
 *  fn(NULL)). Priority: SNOW_PRIO_*, others mean normal. Returning from fn
 *  exits with `normal`. Returns the pid, or 0 if the runtime is not started,
 *  fn is NULL, args is NULL with size > 0, size exceeds SNOW_MAX_MSG_SIZE,
 *  or memory runs out (not reported). */
SNOW_API snow_pid_t snow_actor_spawn(snow_proc_fn fn, const uint8_t* args, uint64_t size, uint8_t priority);

/** Like snow_actor_spawn(), with options (opts may be NULL: a plain
 *  spawn). Link and monitor need a calling process; they and the terminate
 *  callback are set up before the child runs its first instruction (an
 *  exit of the child can never be missed). Returns 0 on the failures of
 *  snow_actor_spawn(), and when link/monitor is asked for outside a
 *  process, opts has non-zero reserved bytes or words, or stack_size
 *  exceeds 1 GiB. */
SNOW_API snow_pid_t snow_actor_spawn_opts(snow_proc_fn fn, const uint8_t* args, uint64_t size, snow_spawn_opts* opts);

/** The calling process's pid, or 0 outside a process (the way to tell
 *  whether the caller is a process). */
SNOW_API snow_pid_t snow_actor_self(void);

/** Preemption point for generated code (calls and loop back-edges). Yields
 *  once the reduction budget is spent, and applies pending signals: a kill
 *  or crashing exit signal ends the process here. Outside a process:
 *  returns at once. */
SNOW_API void snow_reduction_check(void);

/** Yields the worker to other runnable processes now (and applies pending
 *  signals). Outside a process: returns at once. */
SNOW_API void snow_actor_yield(void);

/** Copies `size` bytes and delivers them to `to` as a user message whose
 *  tag is the first min(size, 8) bytes little-endian, zero-padded. Sending
 *  to a dead or unknown pid succeeds and drops the message. Messages from
 *  one sender to one receiver arrive in send order, interleaved correctly
 *  with that sender's link, unlink, monitor, demonitor and exit signals.
 *  Returns 0; SNOW_EINVAL for pid 0 or msg NULL with size > 0;
 *  SNOW_EMSGSIZE beyond SNOW_MAX_MSG_SIZE (SNOW_MAX_MSG_SIZE - 64 KiB for a
 *  pid of another node); SNOW_ENOTSTARTED before start. To a node whose
 *  send queue is at the busy limit (docs/distribution.md, "Limits"), a
 *  process is suspended until it drains, and a thread outside a process
 *  gets SNOW_EBUSY: nothing was sent. */
SNOW_API int32_t snow_actor_send(snow_pid_t to, const uint8_t* msg, uint64_t size);

/** Removes and returns the oldest message. timeout_ms < 0 waits forever,
 *  0 polls. Returns NULL on timeout. The timeout fires on time by itself.
 *  The returned memory stays valid until this process's next receive call
 *  (of either kind; service calls, supervisor calls and the waiting
 *  distribution calls receive too) or its exit. Process only (NULL
 *  elsewhere). */
SNOW_API const snow_msg* snow_actor_receive(int64_t timeout_ms);

/** Selective receive: returns the oldest message for which match(msg, ctx)
 *  is non-zero; the others keep their order. Messages already rejected by
 *  this call are not offered again while it waits. NULL on timeout or when
 *  match is NULL. Validity as for snow_actor_receive(). Process only (NULL
 *  elsewhere). */
SNOW_API const snow_msg* snow_actor_receive_match(snow_match_fn match, void* ctx, int64_t timeout_ms);

/** The kind (SNOW_MSG_*) of the message the calling process's last receive
 *  returned, or of the message its receive_match callback is being offered.
 *  A user message whose tag equals a reserved value is still SNOW_MSG_USER.
 *  NULL, or any other memory, gives SNOW_MSG_USER (it is not read). */
SNOW_API uint32_t snow_msg_kind(const snow_msg* msg);

/** Registers `name` for the calling process on this node. Returns 0,
 *  SNOW_EEXIST if the name is taken (or the process already has a name),
 *  SNOW_EBADNAME for an empty or over-long (> 255 bytes) name. Released
 *  when the process exits. Process only (SNOW_ENOTPROC elsewhere). */
SNOW_API int32_t snow_actor_register(const char* name, uint64_t len);

/** Releases a name held by the calling process. Returns 0,
 *  SNOW_ENOTFOUND if the caller does not hold it, SNOW_EBADNAME. Process
 *  only (SNOW_ENOTPROC elsewhere). */
SNOW_API int32_t snow_actor_unregister(const char* name, uint64_t len);

/** The pid registered under `name` on this node, or 0 (no such name, a bad
 *  name, or not started). */
SNOW_API snow_pid_t snow_actor_whereis(const char* name, uint64_t len);

/** Sends to the process registered as `name` on `node` (dlen == 0 or this
 *  node's name: local). An unknown name drops the message and returns 0.
 *  SNOW_EBADNAME for a bad name, SNOW_EINVAL / SNOW_EMSGSIZE as for send,
 *  SNOW_ENOTSTARTED before start, SNOW_ENONODE for a remote node when
 *  distribution is not started, SNOW_EBUSY as for send. */
SNOW_API int32_t snow_actor_send_named(const char* name, uint64_t nlen, const char* node, uint64_t dlen,
                                       const uint8_t* msg, uint64_t size);

/* ------------------------------------------------------------------------
 * 4. Exits, links and monitors
 * ------------------------------------------------------------------------ */

/** Links the calling process and `pid` (bidirectional, idempotent; linking
 *  to oneself does nothing). If pid does not exist the caller receives an
 *  exit signal `noproc` (an EXIT message when trapping, otherwise it exits).
 *  Returns 0 (also in the noproc case: the outcome is the signal),
 *  SNOW_EINVAL for pid 0. Process only (SNOW_ENOTPROC elsewhere). */
SNOW_API int32_t snow_actor_link(snow_pid_t pid);

/** Removes the link. Once it returns the link has no further effect, even
 *  if an exit signal from pid is already in flight. Returns 0 (also for a
 *  pid that is not linked), SNOW_EINVAL for pid 0. Process only
 *  (SNOW_ENOTPROC elsewhere). */
SNOW_API int32_t snow_actor_unlink(snow_pid_t pid);

/** Turns exit trapping on for the calling process (old compiled code calls
 *  it with no argument). Returns the previous value. Process only (false
 *  elsewhere). */
SNOW_API bool snow_actor_trap_exit(void);

/** Sets exit trapping; returns the previous value. Process only (false
 *  elsewhere). */
SNOW_API bool snow_actor_set_trap_exit(bool on);

/** Sends an exit signal (Erlang exit/2) with reason `reason_tag` (tags
 *  carrying data get an empty one). Tag 2 is the untrappable kill: the
 *  target dies with `killed`. `normal` is ignored by a non-trapping target
 *  unless the target is the caller. A trapping target receives an EXIT
 *  message whose from is the sender (0 when sent from outside a process).
 *  Returns 0 (dead targets included), SNOW_EINVAL for pid 0 or tag 3 or
 *  > 8, SNOW_ENOTSTARTED before start. */
SNOW_API int32_t snow_actor_exit(snow_pid_t pid, uint8_t reason_tag);

/** snow_actor_exit() with a fully encoded reason. Returns 0, SNOW_EINVAL
 *  for pid 0 or a malformed reason, SNOW_EMSGSIZE if too large
 *  (SNOW_MAX_MSG_SIZE - 64 KiB for a pid of another node), SNOW_ENOTSTARTED
 *  before start. */
SNOW_API int32_t snow_actor_exit_reason(snow_pid_t pid, const uint8_t* reason, uint64_t len);

/** The calling process exits now with that encoded reason (a malformed
 *  reason becomes error "bad exit reason"). Process only (elsewhere it
 *  prints a message and aborts). */
SNOW_NORETURN SNOW_API void snow_actor_exit_self(const uint8_t* reason, uint64_t len);

/** The calling process exits with `error` whose message is
 *  "file:line: msg", and a crash report goes to stderr; every other process
 *  goes on. Process only (elsewhere it prints the message and aborts). */
SNOW_NORETURN SNOW_API void snow_panic(const char* msg, uint64_t mlen, const char* file, uint64_t flen, uint32_t line);

/** Sets the terminate callback of the local process `pid` (0: the calling
 *  process). The callback runs once, on the dying process's own context,
 *  before its links and monitors fire, with state == NULL and the encoded
 *  exit reason, whatever the reason (return, exit_self, panic, an exit
 *  signal, a kill, a halt); a process that dies of a stack overflow cannot
 *  run it. (v2) Any process or thread may set it for a live process of
 *  this node, e.g. the spawner right after snow_actor_spawn(): it takes
 *  effect if it happens before the process takes its callback on the way
 *  out (the first step of its exit); later, and on a dead, unknown or
 *  remote pid, it has no effect. A process that may exit before the
 *  spawner's call gets its callback through snow_spawn_opts.terminate
 *  instead. The last set before the exit wins; cb == NULL clears it. */
SNOW_API void snow_actor_set_terminate(snow_pid_t pid, snow_terminate_fn cb);

/** Monitors `pid` (each call a new monitor). When the target exits the
 *  caller gets DOWN(ref, pid, reason); a target already dead gives DOWN
 *  `noproc` at once; losing its node gives DOWN `noconnection`. Exactly one
 *  DOWN per ref unless demonitored. Returns the ref, or 0 for pid 0.
 *  Process only (0 elsewhere). */
SNOW_API snow_ref_t snow_process_monitor(snow_pid_t pid);

/** Returns 0 if the monitor was active, 1 if not (already fired, unknown,
 *  or not the caller's). After it returns no DOWN for ref arrives. Process
 *  only (SNOW_ENOTPROC elsewhere). */
SNOW_API int64_t snow_process_demonitor(snow_ref_t ref);

/** snow_process_demonitor(), and also removes a DOWN for ref already in
 *  the mailbox. Process only (SNOW_ENOTPROC elsewhere). */
SNOW_API int64_t snow_process_demonitor_flush(snow_ref_t ref);

/** Node monitor: NODEDOWN when the connection to `node` is lost, NODEUP when
 *  it is (re)established, until cancelled. Returns a positive id. If the
 *  node is not connected and cannot be connected NODEDOWN arrives at once.
 *  SNOW_EBADNAME for an empty or over-long name. Process only
 *  (SNOW_ENOTPROC elsewhere). */
SNOW_API int64_t snow_node_monitor(const char* node, uint64_t len);

/** Cancels a node monitor: 0 if it was active, 1 if unknown. Process only
 *  (SNOW_ENOTPROC elsewhere). */
SNOW_API int64_t snow_node_demonitor(int64_t id);

/** NODEUP/NODEDOWN for every node (like net_kernel:monitor_nodes). Returns
 *  the previous setting (0 or 1). Process only (SNOW_ENOTPROC elsewhere). */
SNOW_API int64_t snow_node_monitor_all(bool on);

/* ------------------------------------------------------------------------
 * 5. Distribution
 * ------------------------------------------------------------------------ */

/** Starts distribution as node `name` ("alive@host", or "alive@host:port"
 *  to listen on that port) with `cookie`: listener, port mapper
 *  registration (a port mapper is started if none runs; with none at all
 *  after about 3 s the node works unregistered, reachable as name@host:port,
 *  and logs so). ERL_EPMD_PORT chooses the port mapper's port (default
 *  4369), as for erl. An empty cookie (cookie NULL or clen 0) means the
 *  first line of $HOME/.erlang.cookie, which, as for erl, must be readable
 *  by its owner only. Blocks the caller (parks it if it is a process) until
 *  done. Returns 0 or:
 *    SNOW_EBADNAME     name is not alive@host[:port] (1-255 bytes of UTF-8)
 *    SNOW_EINVAL       cookie over 1024 bytes or NULL with clen > 0; a
 *                      malformed SNOW_DIST_* listen setting; the listen
 *                      address cannot be used (not an address of this host,
 *                      a privileged port)
 *    SNOW_EADDRINUSE   the port (every port of SNOW_DIST_LISTEN_MIN..MAX) is
 *                      in use
 *    SNOW_EEXIST       the name is registered at this host's port mapper
 *    SNOW_EEPMD        the port mapper closed the registration or answered
 *                      something that is not its protocol
 *    SNOW_ENOCOOKIE    empty cookie and no usable ~/.erlang.cookie
 *    SNOW_ETLS         TLS distribution is on and its settings are unusable
 *                      (see snow_node_set_tls)
 *    SNOW_EALREADY     a node is already started
 *    SNOW_ENOTSTARTED  the runtime is not started
 *  After an error nothing is left started: a new call may succeed. See
 *  docs/distribution.md. Any thread. */
SNOW_API int64_t snow_node_start(const char* name, uint64_t nlen, const char* cookie, uint64_t clen);

/** Sets one TLS distribution setting (like erl -proto_dist inet_tls with
 *  -ssl_dist_optfile or -ssl_dist_opt) for the next snow_node_start; a
 *  started node keeps the settings it started with. Once any setting was
 *  made this way the SNOW_DIST_TLS* environment variables are ignored.
 *  Keys (key and value are strings, no NUL needed):
 *    "enabled"     "true" or "false" (default false: plain TCP)
 *    "optfile"     a file in ssl_dist.conf's syntax, [{server, [...]},
 *                  {client, [...]}], read at start; it turns TLS on and the
 *                  other keys override it
 *    "certfile", "keyfile", "cacertfile", "password" (of the key),
 *    "verify" ("verify_peer", the default, or "verify_none"),
 *    "fail_if_no_peer_cert" ("true", the default, or "false"; server side),
 *    "depth" (0-100)
 *                  both sides, or one with the "server_" (connections we
 *                  accept) or "client_" (connections we open) prefix
 *  A TLS node accepts and makes TLS connections only. Returns 0, or
 *  SNOW_EINVAL for an unknown key, a malformed value, key NULL or empty,
 *  value NULL with vlen > 0, key over 64 or value over 4096 bytes. Files
 *  are read by snow_node_start, which returns SNOW_ETLS (and logs why) for
 *  an optfile it cannot read or parse (or that names an option it does not
 *  implement), a certificate, key or CA file it cannot load, a key that
 *  does not match its certificate, no server certfile, or verify_peer
 *  without a cacertfile. A connection whose TLS handshake fails (a peer
 *  certificate not signed by the CA, a plain TCP peer) is closed and
 *  logged; snow_node_connect returns SNOW_ETLS for it. See
 *  docs/distribution.md, "TLS". Any thread. */
SNOW_API int64_t snow_node_set_tls(const char* key, uint64_t klen, const char* value, uint64_t vlen);

/** Disconnects every node (all noconnection signals fire), unregisters and
 *  stops the listener. Blocks the calling thread. 0, SNOW_ENOTSTARTED (no
 *  node started). */
SNOW_API int64_t snow_node_stop(void);

/** Connects and authenticates ("name@host" or "name@host:port"). Parks the
 *  calling process (blocks a thread) until done. Connecting to this node
 *  itself is 0. Returns 0 or:
 *    SNOW_EBADNAME     node is not alive@host[:port]
 *    SNOW_ENONODE      the host cannot be resolved, has no port mapper, or
 *                      its port mapper does not know the name
 *    SNOW_ECONNREFUSED the node's port refused the connection, or the node
 *                      refused the handshake (e.g. it does not allow us)
 *    SNOW_EAUTH        the cookies differ
 *    SNOW_ETIMEDOUT    the handshake did not complete in time
 *    SNOW_ETLS         the TLS handshake failed (a certificate refused
 *                      either way; a node without TLS times out instead)
 *    SNOW_ENOTSTARTED  no node is started here (or it stopped meanwhile)
 *    SNOW_ENOTPROC     the calling attached thread's process was ended
 *  Sending to, linking or monitoring a pid of an unconnected node connects
 *  on demand. */
SNOW_API int64_t snow_node_connect(const char* node, uint64_t len);

/** Closes the connection; noconnection signals and NODEDOWN fire on both
 *  sides. 0, SNOW_ENONODE (not connected), SNOW_EBADNAME, SNOW_ENOTSTARTED
 *  (no node started). */
SNOW_API int64_t snow_node_disconnect(const char* node, uint64_t len);

/** This node's name as a Snow string [u64 len][bytes] from the caller's
 *  heap (snow_gc_alloc_actor); empty when no node is started or the heap
 *  is exhausted. Never NULL. */
SNOW_API const void* snow_node_self(void);

/** The connected nodes as a Snow list [u64 len][u64 cap][u64 string_ptr x
 *  len] from the caller's heap; empty when the heap is exhausted. Never
 *  NULL. */
SNOW_API const void* snow_node_list(void);

/** Copies the node name (no NUL added) and returns its full length; 0 when
 *  not started. Copies min(len, cap) bytes. SNOW_EINVAL for NULL buf with
 *  cap > 0. */
SNOW_API int64_t snow_node_name(char* buf, uint64_t cap);

/** Makes fn spawnable by name from other nodes (snow_node_spawn, or an
 *  Erlang spawn_request of snow:name/1 with [<<args>>]). A NULL fn or a bad
 *  name (empty or over 255 bytes) is ignored: there is no result, so check
 *  the arguments. */
SNOW_API void snow_register_function(const char* name, uint64_t len, snow_proc_fn fn);

/** Spawns the registered function `fname` on `node` with a copy of args;
 *  link == 1 links caller and child atomically. Parks the calling process
 *  until the reply. Returns the child's pid, or 0 for a bad node or
 *  function name, args NULL with asize > 0, asize over SNOW_MAX_MSG_SIZE
 *  (less 64 KiB for another node), no started node; and, not reported
 *  apart, an unknown function, a node lost or unreachable. Process only (0
 *  elsewhere). */
SNOW_API snow_pid_t snow_node_spawn(const char* node, uint64_t nlen, const char* fname, uint64_t flen,
                                    const uint8_t* args, uint64_t asize, uint8_t link);

/** snow_node_spawn() with spawn options: o->link links and o->monitor
 *  monitors the child atomically (the monitor is in place when the call
 *  returns, its ref in o->monitor_ref; on another node it is set up by the
 *  one spawn request, as Erlang's spawn_request with [monitor], whose
 *  request id is the monitor's ref: one round trip). o->priority,
 *  o->stack_size and o->terminate must be zero (a registered function on
 *  another node is started with its defaults), and so must the reserved
 *  fields. o NULL: no options. Returns the child's pid or 0 as
 *  snow_node_spawn, and 0 for options it refuses (o->monitor_ref is then
 *  0). Process only (0 elsewhere). Not in ABI.md: a libsnowrt addition
 *  (docs/abi.md section 8, item 31). */
SNOW_API snow_pid_t snow_node_spawn_opts(const char* node, uint64_t nlen, const char* fname, uint64_t flen,
                                         const uint8_t* args, uint64_t asize, snow_spawn_opts* o);

/** Writes pid in the external term format (131 first) to buf; returns the
 *  length, SNOW_EMSGSIZE if cap is too small, SNOW_EINVAL for pid 0, NULL
 *  buf with cap > 0, or an unknown remote handle. Local pids carry this
 *  node's name (nonode@nohost when not started).
 *  Pids cross nodes as terms: a snow_pid_t value is meaningful only on the
 *  node (and in the run of the program) that made it. Encode a pid with
 *  this function and decode it on the other side with
 *  snow_term_decode_pid(); sent as raw 8 bytes, a pid names no process
 *  there (sends are dropped, links and monitors get noproc), barring a
 *  collision of about live/2^48 per value (docs/abi.md, "Pids"). */
SNOW_API int64_t snow_term_encode_pid(snow_pid_t pid, uint8_t* buf, uint64_t cap);

/** The pid held by a term that is a pid, or a tuple whose first element is
 *  a pid (with or without the 131 version byte), as a handle; 0 for
 *  anything else (NULL, empty or oversized input included). Reads only
 *  that pid: whatever follows it is not examined. */
SNOW_API snow_pid_t snow_term_decode_pid(const uint8_t* etf, uint64_t len);

/** Sends an arbitrary external-term-format term (validated; 131 optional):
 *  a libsnowrt receiver gets a TERM message, an Erlang receiver the term.
 *  Returns 0, SNOW_EINVAL for pid 0, an empty term or one that does not
 *  decode, SNOW_EMSGSIZE, SNOW_ENOTSTARTED, SNOW_EBUSY as for send. */
SNOW_API int32_t snow_actor_send_term(snow_pid_t to, const uint8_t* etf, uint64_t len);

/** (v2) snow_actor_send_term() to the process registered as `name` on
 *  `node` (dlen == 0 or this node's name: local), addressed as
 *  snow_actor_send_named() addresses it: how a C program calls an Erlang
 *  server by name (a gen_server call to `rex`, see tools/snowctl). An
 *  unknown name drops the term and returns 0. Returns 0, SNOW_EBADNAME
 *  for a bad name or node name, SNOW_EINVAL for NULL or empty etf or a
 *  term that does not decode, SNOW_EMSGSIZE, SNOW_ENOTSTARTED before
 *  start, SNOW_ENONODE for a remote node when distribution is not
 *  started. Any thread. */
SNOW_API int32_t snow_actor_send_named_term(const char* name, uint64_t nlen, const char* node, uint64_t dlen,
                                            const uint8_t* etf, uint64_t len);

/** Sets the tick time: a silent peer is declared down between 1.0x and
 *  1.25x of it (default 60000, like net_ticktime). Use the same value on
 *  every node. Returns 0, or SNOW_EINVAL for 0. Any time. */
SNOW_API int64_t snow_node_set_ticktime(uint32_t ms);

/* ------------------------------------------------------------------------
 * 6. Timers and heap
 * ------------------------------------------------------------------------ */

/** Parks the calling process for ms milliseconds (no busy loop); ms <= 0
 *  returns at once. Signals that arrive meanwhile are applied (a kill ends
 *  the process). Outside a process: sleeps the thread. */
SNOW_API void snow_timer_sleep(int64_t ms);

/** Copies the bytes now and sends them to pid after ms (<= 0: at once) as a
 *  user message from no one. Returns a timer ref (> 0), or 0 for pid 0,
 *  msg NULL with size > 0, negative or oversized size, before start, or
 *  when memory runs out (not reported). */
SNOW_API snow_ref_t snow_timer_send_after(snow_pid_t pid, int64_t ms, const uint8_t* msg, int64_t size);

/** Returns 0 if the timer was cancelled before firing, 1 otherwise (fired,
 *  already cancelled, or unknown). */
SNOW_API int64_t snow_timer_cancel(snow_ref_t timer);

/** (v2) Zeroed memory in the calling process's garbage-collected heap.
 *  An object stays valid while it is reachable, conservatively, from the
 *  process's stack and registers at a safepoint, from other reachable
 *  objects (any aligned word pointing anywhere inside it), from the message
 *  being handled or the spawn arguments, or from a message or spawn
 *  argument that carried its address to another process; the rest is
 *  reclaimed at safepoints (a reduction check whose budget ran out, receive
 *  and other waits, snow_gc_collect, this call once the heap has allocated
 *  its growth budget). Pointers kept only in C globals, thread-locals or
 *  malloc'd memory are not roots. Outside a process: a process-wide heap,
 *  never collected. align must be a power of two up to 4096 (0 means 16).
 *  NULL for size 0 or over 2^40, a bad alignment, or out of memory (the
 *  one cause not reported apart). */
SNOW_API void* snow_gc_alloc_actor(uint64_t size, uint64_t align);

/** (v2) Collects the calling process's heap now (a safepoint). No effect
 *  for a process that never allocated. Process only (no effect elsewhere). */
SNOW_API void snow_gc_collect(void);

/** Fills *out. Returns 0, SNOW_EINVAL for NULL. Works before start (all
 *  zero but what has been counted). */
SNOW_API int32_t snow_rt_stats(snow_stats* out);

/* Introspection (v2): what an operator sees of this node's processes. */

/** snow_process_info status values. */
enum {
  SNOW_PROC_RUNNING = 0, /* running on a worker, or queued to run */
  SNOW_PROC_WAITING = 1, /* parked: receive, sleep, service call, other waits */
  SNOW_PROC_EXITING = 2  /* its exit has begun */
};

/** One process's figures (snow_process_info), 384 bytes. The figures are
 *  the process's own recent publication, not one instant's snapshot: a
 *  running process's links, monitors, heap size and reductions may be up
 *  to one time slice old. */
typedef struct snow_proc_info {
  snow_pid_t pid;
  uint8_t status;              /* SNOW_PROC_* */
  uint8_t reserved_[7];        /* written as 0 */
  uint64_t message_queue_len;  /* messages in its mailbox (signals in flight not yet) */
  uint64_t links;              /* processes (local or remote) it is linked to */
  uint64_t monitors;           /* monitors it holds on other processes */
  uint64_t monitored_by;       /* monitors other local processes hold on it */
  uint64_t heap_size;          /* bytes of its collected heap (0 before its first allocation) */
  uint64_t reductions;         /* reduction checks run since it started */
  uint64_t entry;              /* address of its entry function: the "current
                                  function" as far as it is known (0 for the main
                                  process and attached threads) */
  uint64_t name_len;           /* registered name length, 0 when none */
  uint8_t name[256];           /* the registered name (UTF-8), NUL-terminated */
  uint64_t reserved_words_[6]; /* written as 0 */
} snow_proc_info;

/** Lists the live processes of this node: writes the first min(count,
 *  cap) pids to buf and returns count, the number alive now. Truncation
 *  rule: a count above cap means buf holds only the first cap (in table
 *  order, not spawn order); call again with a buffer of at least count
 *  (processes spawned meanwhile may need more). A process is listed until
 *  its exit notifies its links and monitors. 0 before start.
 *  SNOW_EINVAL for NULL buf with cap > 0. Any thread. */
SNOW_API int64_t snow_rt_processes(snow_pid_t* buf, uint64_t cap);

/** Fills *out with the figures of the local process pid (the whole
 *  struct, reserved words as 0). Returns 0; SNOW_EINVAL for NULL out or
 *  pid 0; SNOW_ENOPROC when pid is not a live local process (dead, or
 *  exiting so far that its links and monitors have been told: after a
 *  DOWN or EXIT from it; unknown; of another node); SNOW_ENOTSTARTED
 *  before start. Any thread. */
SNOW_API int32_t snow_process_info(snow_pid_t pid, snow_proc_info* out);

/* ------------------------------------------------------------------------
 * 7. Services and supervisors
 * ------------------------------------------------------------------------ */

/** Supervisor restart strategies (snow_sup_spec.strategy). */
enum { SNOW_SUP_ONE_FOR_ONE = 0, SNOW_SUP_ONE_FOR_ALL = 1, SNOW_SUP_REST_FOR_ONE = 2, SNOW_SUP_SIMPLE_ONE_FOR_ONE = 3 };
/** Child restart types (snow_child_spec.restart). */
enum { SNOW_RESTART_PERMANENT = 0, SNOW_RESTART_TRANSIENT = 1, SNOW_RESTART_TEMPORARY = 2 };
/** shutdown_ms value meaning "kill at once". */
#define SNOW_SHUTDOWN_BRUTAL_KILL 0

/** A supervised child (72 bytes). Zero-initialise, then set fields. */
typedef struct snow_child_spec {
  snow_proc_fn start;  /* local start function */
  const uint8_t* args; /* copied at start */
  uint64_t args_size;
  uint8_t restart;      /* SNOW_RESTART_* */
  uint8_t reserved_[7]; /* must be zero */
  int64_t shutdown_ms;  /* 0 = brutal kill, > 0 grace in ms, < 0 wait forever */
  const char* node;     /* optional node to spawn on (NULL/0: here) */
  uint64_t node_len;
  const char* function; /* registered function name, for node */
  uint64_t function_len;
} snow_child_spec;

/** A supervisor (32 bytes). Zero-initialise, then set fields. */
typedef struct snow_sup_spec {
  uint8_t strategy; /* SNOW_SUP_* */
  uint8_t reserved_[3];
  uint32_t max_restarts;           /* intensity: at most this many restarts */
  uint64_t period_ms;              /* ... within this period (> 0; 0 is an invalid spec) */
  const snow_child_spec* children; /* for simple_one_for_one: the template */
  uint64_t child_count;
} snow_sup_spec;

/** snow_service_last_error() value when the server exited with reason tag T
 *  (other than noproc/noconnection) before replying: SNOW_SERVICE_EXITED + T
 *  (positive, so it never collides with a SNOW_E* code). */
#define SNOW_SERVICE_EXITED 0x100

/** A service call (gen_server:call): delivers a user message with data
 *  [u64 tag][u64 caller pid][payload] (message tag `tag`) to `server`,
 *  local or remote, and parks the calling process until the reply to this
 *  call (a late reply to an earlier call is never taken for it; other
 *  messages keep their order). Returns the reply in the receive layout
 *  (valid until the next receive). (v2) Never returns NULL to a process:
 *  when the server is dead or unknown (and for server 0) the calling
 *  process exits with `noproc`; when the server's node is lost,
 *  `noconnection`; when the server exits before replying, the server's
 *  reason (even `normal`); for a bad payload, error "service call: <what>";
 *  a crash report goes to stderr. Links, monitors and supervisors then
 *  handle it. The one NULL: on an attached foreign thread the process
 *  exits, and the call returns NULL with the thread no longer attached (see
 *  snow_thread_attach). C and FFI callers that want an error instead use
 *  snow_service_try_call(). Process only (elsewhere it prints a message
 *  and aborts: there is no process to exit). */
SNOW_API const snow_msg* snow_service_call(snow_pid_t server, uint64_t tag, const uint8_t* payload, uint64_t size);

/** snow_service_call() with a deadline (timeout_ms < 0: none, 0: the reply
 *  must already be there). When it passes the calling process exits with
 *  the custom reason "timeout" (tag 5, text "timeout": the atom `timeout`
 *  for Erlang peers). (v2) Process only (elsewhere it prints a message and
 *  aborts). */
SNOW_API const snow_msg* snow_service_call_timeout(snow_pid_t server, uint64_t tag, const uint8_t* payload,
                                                   uint64_t size, int64_t timeout_ms);

/** The same call for C and FFI callers (v2): returns NULL instead of
 *  exiting, and snow_service_last_error() tells why: SNOW_ENOPROC (server
 *  dead or unknown, or it exited with noproc), SNOW_ENONODE (its node was
 *  lost), SNOW_ETIMEDOUT, SNOW_SERVICE_EXITED + reason tag (it exited with
 *  that reason before replying), SNOW_EINVAL (server 0, payload NULL with
 *  size > 0), SNOW_EMSGSIZE, SNOW_ENOMEM. timeout_ms < 0 waits forever.
 *  Process only (elsewhere NULL, nothing sent, and
 *  snow_service_last_error() there gives SNOW_ENOTPROC). */
SNOW_API const snow_msg* snow_service_try_call(snow_pid_t server, uint64_t tag, const uint8_t* payload, uint64_t size,
                                               int64_t timeout_ms);

/** Called by the server while handling a call: sends the reply to the call
 *  it received last from `caller`. Returns 0; SNOW_EINVAL when the calling
 *  process has no unanswered call from caller (or caller is 0, or reply is
 *  NULL with size > 0); SNOW_EMSGSIZE. Process only (SNOW_ENOTPROC
 *  elsewhere). */
SNOW_API int32_t snow_service_reply(snow_pid_t caller, const uint8_t* reply, uint64_t size);

/** Why the calling process's last snow_service_try_call() returned NULL
 *  (codes above), 0 after a success. Process only (SNOW_ENOTPROC
 *  elsewhere). */
SNOW_API int64_t snow_service_last_error(void);

/** Starts a supervisor process, which starts the children in order before
 *  it handles any request. Returns its pid, or 0 for an invalid spec (NULL,
 *  bad strategy or restart type, nonzero reserved bytes, period_ms == 0,
 *  more than 100000 children, a simple_one_for_one spec without exactly one
 *  template, a child without a start function or a remote child without a
 *  function name) or when the runtime is not started. The other supervisor
 *  calls are service calls; a supervisor takes requests only as service
 *  calls from processes of this node and drops plain messages shaped like
 *  them and anything from another node. */
SNOW_API snow_pid_t snow_supervisor_start(const snow_sup_spec* spec);

/** Asks the supervisor `sup` of this node to start one more child (for
 *  simple_one_for_one, from its template: a non-NULL start and non-empty
 *  args override the template's) and waits for it. Returns the child's
 *  pid, or 0 for sup 0, an invalid child spec, a supervisor that is not a
 *  live supervisor of this node; and, not reported apart, a child that
 *  could not be started (e.g. a remote child without a started node).
 *  Process only (0 elsewhere). */
SNOW_API snow_pid_t snow_supervisor_start_child(snow_pid_t sup, const snow_child_spec* child);

/** Asks the supervisor `sup` of this node to shut `child` down (as its
 *  spec's shutdown_ms says) and forget it, and waits for it. Returns 0 if
 *  the child was found and shut down, 1 if not; SNOW_EINVAL for a zero
 *  pid, SNOW_ENOPROC if sup is not a live supervisor of this node. Process
 *  only (SNOW_ENOTPROC elsewhere). */
SNOW_API int64_t snow_supervisor_terminate_child(snow_pid_t sup, snow_pid_t child);

/** The number of running children of the supervisor `sup` of this node.
 *  Returns the count, SNOW_EINVAL for sup 0, SNOW_ENOPROC if sup is not a
 *  live supervisor of this node. Process only (SNOW_ENOTPROC elsewhere). */
SNOW_API int64_t snow_supervisor_count_children(snow_pid_t sup);

/* ------------------------------------------------------------------------
 * 7. Jobs (v2, Snow's Job module)
 *
 * A job is a process that runs fn(env) and reports its int64 result to the
 * process that started it, and only to it. The caller is not linked: a
 * job's crash never kills it, and no message reaches its mailbox (a job's
 * result and end are bookkeeping that only await reads; the caller's
 * receives never see them). A job whose caller exits is killed. Results
 * use Snow's layouts, allocated with the caller's heap allocator
 * (snow_gc_alloc_actor):
 *   SnowResult: 16 bytes, u8 tag at 0 (0 Ok, 1 Err), 8-byte value at 8;
 *               an Err's value is a SnowString* with the reason as text
 *   SnowString: [u64 len][len bytes of UTF-8]
 *   SnowList:   [u64 len][u64 cap][u64 element x len]
 * Err texts: the error text for a crash (snow_panic's "file:line: msg"),
 * the custom text for a custom reason, and "killed", "shutdown",
 * "noconnection", "noproc", "normal" (it ended without a result), "timeout"
 * (await_timeout), or "term (N bytes of external term format)" for the
 * reason atoms and tags of the same names. `env` and anything the result
 * points to cross between processes the way a message carries an address
 * (see snow_gc_alloc_actor). Every job call is process only.
 * ------------------------------------------------------------------------ */

/** Spawns a job running fn(env) for the calling process. Returns the job's
 *  pid, or 0 when fn is NULL, the runtime is not started, or memory runs
 *  out (not reported). Process only (0 elsewhere: a job reports to a
 *  process). */
SNOW_API snow_pid_t snow_job_async(snow_job_fn fn, void* env);

/** Waits for the job `job` of the calling process, and for it only (other
 *  messages stay in the mailbox, in order), and returns its SnowResult:
 *  Ok(fn's result), or Err(text of the job's exit reason, see above). A job
 *  is awaited once: an unknown pid, another process's job or a job already
 *  awaited gives Err("noproc") at once. NULL only when the caller's heap is
 *  exhausted. Process only (NULL elsewhere). */
SNOW_API const void* snow_job_await(snow_pid_t job);

/** snow_job_await() giving up after ms milliseconds (< 0: never, 0: only
 *  an already finished job): then the job is killed and the result is
 *  Err("timeout"). Process only (NULL elsewhere). */
SNOW_API const void* snow_job_await_timeout(snow_pid_t job, int64_t ms);

/** Runs fn(env, element) in one job per element of the SnowList `list`, all
 *  in parallel, and waits for all of them. Returns a new SnowList (len ==
 *  cap == the input's len) whose element i is job i's result; a failed
 *  job's element is 0 and its failure is printed to stderr as a crash
 *  report naming the element. NULL for a NULL list or fn, or when the
 *  caller's heap is exhausted. Process only (NULL elsewhere). */
SNOW_API const void* snow_job_map(const void* list, snow_job_map_fn fn, void* env);

#ifdef __cplusplus
}
#endif

#endif /* SNOWRT_H */
