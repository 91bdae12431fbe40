/*
 * ffi_helpers.c: C process functions and layout facts for the Python FFI
 * test (test_snowrt.py loads this library next to libsnowrt).
 *
 * Process entry functions have to be C: a Python callback would run on a
 * runtime worker thread, on a process stack, and could resume on another OS
 * thread after a blocking call. So the Python test spawns these.
 *
 * Message conventions (all integers little-endian u64):
 *   ffi_echo:      receives [reply_to][bytes...], sends [bytes...] to reply_to, returns.
 *   ffi_waiter:    receives one message, returns (exits normal).
 *   ffi_service:   serves snow_service_call requests [tag][caller][payload]:
 *                  replies [tag + 1][payload]; a call with tag 0 makes it return.
 *   ffi_sink:      receives and ignores messages forever.
 *   ffi_named:     args [notify]; registers the name "ffi_named", sends
 *                  [u64 result] to notify, waits for one message, returns.
 *   ffi_child:     args [notify]; sends [0xC1][own pid] to notify, then
 *                  receives and ignores messages forever (a supervisor child).
 *   ffi_crasher:   snow_panic("told to crash").
 *   ffi_terminator: args [notify]; sets a terminate callback that sends
 *                  [0x7E][encoded reason] to notify, then waits for one
 *                  message and exits with the custom reason "cb".
 */
#include <snowrt.h>

#include <stddef.h>
#include <string.h>

#define FFI_EXPORT __attribute__((visibility("default")))

static uint64_t get_u64(const uint8_t* p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}

static void put_u64(uint8_t* p, uint64_t v) { memcpy(p, &v, 8); }

FFI_EXPORT void ffi_echo(const uint8_t* args) {
  (void)args;
  const snow_msg* m = snow_actor_receive(-1);
  if (!m || m->len < 8) return;
  snow_actor_send(get_u64(m->data), m->data + 8, m->len - 8);
}

FFI_EXPORT void ffi_waiter(const uint8_t* args) {
  (void)args;
  snow_actor_receive(-1);
}

FFI_EXPORT void ffi_sink(const uint8_t* args) {
  (void)args;
  for (;;) snow_actor_receive(-1);
}

FFI_EXPORT void ffi_child(const uint8_t* args) {
  uint8_t hello[16];
  put_u64(hello, 0xC1);
  put_u64(hello + 8, snow_actor_self());
  snow_actor_send(get_u64(args), hello, sizeof hello);
  for (;;) snow_actor_receive(-1);
}

FFI_EXPORT void ffi_named(const uint8_t* args) {
  static const char name[] = "ffi_named";
  uint8_t result[8];
  put_u64(result, (uint64_t)(int64_t)snow_actor_register(name, sizeof name - 1));
  snow_actor_send(get_u64(args), result, 8);
  snow_actor_receive(-1);
}

FFI_EXPORT void ffi_service(const uint8_t* args) {
  (void)args;
  for (;;) {
    const snow_msg* m = snow_actor_receive(-1);
    if (!m) return;
    if (snow_msg_kind(m) != SNOW_MSG_USER || m->len < 16) continue;
    uint64_t tag = get_u64(m->data);
    snow_pid_t caller = get_u64(m->data + 8);
    uint8_t reply[256];
    uint64_t n = m->len - 16;
    if (n > sizeof reply - 8) n = sizeof reply - 8;
    put_u64(reply, tag + 1);
    memcpy(reply + 8, m->data + 16, n);
    snow_service_reply(caller, reply, 8 + n);
    if (tag == 0) return;
  }
}

FFI_EXPORT void ffi_crasher(const uint8_t* args) {
  (void)args;
  static const char msg[] = "told to crash";
  static const char file[] = "ffi_helpers.c";
  snow_panic(msg, sizeof msg - 1, file, sizeof file - 1, 77);
}

static snow_pid_t g_notify;

static void on_terminate(const uint8_t* state, const uint8_t* reason) {
  (void)state;
  uint8_t buf[64];
  size_t n = 1;
  if (reason[0] == SNOW_REASON_ERROR || reason[0] == SNOW_REASON_CUSTOM || reason[0] == SNOW_REASON_TERM) {
    uint64_t len = get_u64(reason + 1);
    n = 9 + (len > 40 ? 40 : len);
  }
  memset(buf, 0, 8);
  buf[0] = 0x7E;
  memcpy(buf + 8, reason, n);
  snow_actor_send(g_notify, buf, 8 + n);
}

FFI_EXPORT void ffi_terminator(const uint8_t* args) {
  g_notify = get_u64(args);
  snow_actor_set_terminate(0, on_terminate);
  snow_actor_receive(-1);
  static const uint8_t reason[] = {SNOW_REASON_CUSTOM, 2, 0, 0, 0, 0, 0, 0, 0, 'c', 'b'};
  snow_actor_exit_self(reason, sizeof reason);
}

/* A job function (snow_job_async): the i64 at env, times 3. */
FFI_EXPORT int64_t ffi_job_triple(void* env) { return *(const int64_t*)env * 3; }

/* Selective receive predicate: the message's tag equals *(uint64_t*)ctx. */
FFI_EXPORT int ffi_match_tag(const snow_msg* m, void* ctx) { return m->tag == *(const uint64_t*)ctx; }

/* ---- layouts as this C compiler sees them ------------------------------- */

#define FIELD(s, f) \
  { #s, #f, offsetof(s, f) }
static const struct {
  const char* s;
  const char* f;
  size_t off;
} k_fields[] = {
    FIELD(snow_msg, tag),
    FIELD(snow_msg, len),
    FIELD(snow_msg, data),
    FIELD(snow_spawn_opts, link),
    FIELD(snow_spawn_opts, monitor),
    FIELD(snow_spawn_opts, priority),
    FIELD(snow_spawn_opts, reserved_),
    FIELD(snow_spawn_opts, monitor_ref),
    FIELD(snow_spawn_opts, stack_size),
    FIELD(snow_spawn_opts, terminate),
    FIELD(snow_spawn_opts, reserved_words_),
    FIELD(snow_stats, processes_alive),
    FIELD(snow_stats, processes_spawned),
    FIELD(snow_stats, processes_exited),
    FIELD(snow_stats, messages_sent),
    FIELD(snow_stats, nodes_connected),
    FIELD(snow_stats, schedulers),
    FIELD(snow_stats, timers_pending),
    FIELD(snow_stats, stacks_resident),
    FIELD(snow_stats, node_entries),
    FIELD(snow_stats, remote_pids),
    FIELD(snow_stats, heap_bytes),
    FIELD(snow_stats, heap_live_bytes),
    FIELD(snow_stats, gc_collections),
    FIELD(snow_stats, gc_shared_bytes),
    FIELD(snow_stats, alias_sends_dropped),
    FIELD(snow_stats, dist_messages_refused),
    FIELD(snow_proc_info, pid),
    FIELD(snow_proc_info, status),
    FIELD(snow_proc_info, reserved_),
    FIELD(snow_proc_info, message_queue_len),
    FIELD(snow_proc_info, links),
    FIELD(snow_proc_info, monitors),
    FIELD(snow_proc_info, monitored_by),
    FIELD(snow_proc_info, heap_size),
    FIELD(snow_proc_info, reductions),
    FIELD(snow_proc_info, entry),
    FIELD(snow_proc_info, name_len),
    FIELD(snow_proc_info, name),
    FIELD(snow_proc_info, reserved_words_),
    FIELD(snow_child_spec, start),
    FIELD(snow_child_spec, args),
    FIELD(snow_child_spec, args_size),
    FIELD(snow_child_spec, restart),
    FIELD(snow_child_spec, reserved_),
    FIELD(snow_child_spec, shutdown_ms),
    FIELD(snow_child_spec, node),
    FIELD(snow_child_spec, node_len),
    FIELD(snow_child_spec, function),
    FIELD(snow_child_spec, function_len),
    FIELD(snow_sup_spec, strategy),
    FIELD(snow_sup_spec, reserved_),
    FIELD(snow_sup_spec, max_restarts),
    FIELD(snow_sup_spec, period_ms),
    FIELD(snow_sup_spec, children),
    FIELD(snow_sup_spec, child_count),
};

static const struct {
  const char* s;
  size_t size;
} k_sizes[] = {
    {"snow_msg", sizeof(snow_msg)},
    {"snow_spawn_opts", sizeof(snow_spawn_opts)},
    {"snow_stats", sizeof(snow_stats)},
    {"snow_proc_info", sizeof(snow_proc_info)},
    {"snow_child_spec", sizeof(snow_child_spec)},
    {"snow_sup_spec", sizeof(snow_sup_spec)},
};

/* offsetof(s, f), or -1 if this table does not know the field. */
FFI_EXPORT int64_t ffi_offsetof(const char* s, const char* f) {
  for (size_t i = 0; i < sizeof k_fields / sizeof k_fields[0]; i++)
    if (!strcmp(k_fields[i].s, s) && !strcmp(k_fields[i].f, f)) return (int64_t)k_fields[i].off;
  return -1;
}

/* sizeof(s), or -1. */
FFI_EXPORT int64_t ffi_sizeof(const char* s) {
  for (size_t i = 0; i < sizeof k_sizes / sizeof k_sizes[0]; i++)
    if (!strcmp(k_sizes[i].s, s)) return (int64_t)k_sizes[i].size;
  return -1;
}
