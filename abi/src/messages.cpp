// ABI section 3: processes and messages.
#include <cstring>

#include "abi/src/abi_util.h"
#include "runtime/dist/dist.h"
#include "runtime/proc/process.h"
#include "runtime/sched/scheduler.h"

using namespace snow::rt;

namespace snow::abi {
uint64_t user_tag(const uint8_t* msg, uint64_t size) {
  uint64_t tag = 0;
  if (size) std::memcpy(&tag, msg, size < 8 ? size_t(size) : 8);
  return tag;  // x86-64 and aarch64 are little-endian: the bytes are the value
}
}  // namespace snow::abi

using snow::abi::bytes_ok;
using snow::abi::str_ok;
using snow::abi::sv;

extern "C" {

SNOW_API snow_pid_t snow_actor_spawn(void (*fn)(const uint8_t*), const uint8_t* args, uint64_t size,
                                     uint8_t priority) {
  if (!fn || !bytes_ok(args, size) || size > SNOW_MAX_MSG_SIZE) return 0;
  SpawnRequest r;
  r.fn = fn;
  r.args = args;
  r.size = size;
  r.priority = priority <= SNOW_PRIO_LOW ? priority : uint8_t(SNOW_PRIO_NORMAL);
  return proc_spawn(r);
}

SNOW_API snow_pid_t snow_actor_spawn_opts(void (*fn)(const uint8_t*), const uint8_t* args, uint64_t size,
                                          snow_spawn_opts* o) {
  if (!fn || !bytes_ok(args, size) || size > SNOW_MAX_MSG_SIZE) return 0;
  SpawnRequest r;
  r.fn = fn;
  r.args = args;
  r.size = size;
  if (o) {
    // Reserved bytes and words must be zero: a caller built against a later
    // header that uses one of them must not have it silently ignored.
    for (uint8_t b : o->reserved_)
      if (b != 0) return 0;
    for (uint64_t w : o->reserved_words_)
      if (w != 0) return 0;
    if (o->stack_size > (uint64_t(1) << 30)) return 0;
    r.terminate = o->terminate;
    r.priority = o->priority <= SNOW_PRIO_LOW ? o->priority : uint8_t(SNOW_PRIO_NORMAL);
    r.stack_size = o->stack_size;
    r.link = o->link != 0;
    r.monitor = o->monitor != 0;
    r.monitor_ref_out = &o->monitor_ref;
    if (r.monitor) o->monitor_ref = 0;
    if (r.link || r.monitor) {
      r.parent = proc_current();
      if (!r.parent) return 0;
    }
  }
  return proc_spawn(r);
}

SNOW_API snow_pid_t snow_actor_self(void) { return proc_pid(proc_current()); }

namespace {
__attribute__((noinline)) void reduction_check_slow() {
  sched_reductions_refill_off_worker();
  if (Process* p = proc_current()) snow::abi::guarded_void([&] { proc_reduction_check_slow(p); });
}
}  // namespace

// Code generators put this at every call and loop back-edge: the fast path
// is one thread-local decrement (about a nanosecond); every kBudget-th
// call (the slice, see scheduler.cpp) takes the slow path, where pending
// signals take effect and the process yields.
SNOW_API void snow_reduction_check(void) {
  if (__builtin_expect(sched_reductions_left(), 1)) return;
  reduction_check_slow();
}

SNOW_API void snow_actor_yield(void) {
  if (Process* p = proc_current()) snow::abi::guarded_void([&] { proc_yield(p); });
}

SNOW_API int32_t snow_actor_send(snow_pid_t to, const uint8_t* msg, uint64_t size) {
  if (to == 0 || !bytes_ok(msg, size)) return SNOW_EINVAL;
  if (size > SNOW_MAX_MSG_SIZE || (pid_is_remote(to) && size > kDistMaxMessage)) return SNOW_EMSGSIZE;
  if (!proc_runtime_started()) return SNOW_ENOTSTARTED;
  // A send to oneself applies one's pending signals.
  return snow::abi::guarded<int32_t>(SNOW_ENOTPROC, [&] {
    return proc_send(proc_pid(proc_current()), to, msg, size, SNOW_MSG_USER, snow::abi::user_tag(msg, size));
  });
}

SNOW_API const snow_msg* snow_actor_receive(int64_t timeout_ms) {
  Process* p = proc_current();
  if (!p) return nullptr;
  return snow::abi::guarded<const snow_msg*>(nullptr, [&] { return proc_receive(p, timeout_ms, nullptr, nullptr); });
}

SNOW_API const snow_msg* snow_actor_receive_match(int (*match)(const snow_msg*, void*), void* ctx,
                                                  int64_t timeout_ms) {
  Process* p = proc_current();
  if (!p || !match) return nullptr;
  return snow::abi::guarded<const snow_msg*>(nullptr, [&] { return proc_receive(p, timeout_ms, match, ctx); });
}

SNOW_API uint32_t snow_msg_kind(const snow_msg* msg) { return proc_msg_kind(proc_current(), msg); }

static bool name_ok(const char* n, uint64_t len) {
  return n && len > 0 && len <= snow::abi::kMaxNameLen;
}

SNOW_API int32_t snow_actor_register(const char* n, uint64_t len) {
  if (!name_ok(n, len)) return SNOW_EBADNAME;
  Process* p = proc_current();
  if (!p) return SNOW_ENOTPROC;
  return proc_register(p, sv(n, len));
}

SNOW_API int32_t snow_actor_unregister(const char* n, uint64_t len) {
  if (!name_ok(n, len)) return SNOW_EBADNAME;
  Process* p = proc_current();
  if (!p) return SNOW_ENOTPROC;
  return proc_unregister(p, sv(n, len));
}

SNOW_API snow_pid_t snow_actor_whereis(const char* n, uint64_t len) {
  if (!name_ok(n, len) || !proc_runtime_started()) return 0;
  return proc_whereis(sv(n, len));
}

SNOW_API int32_t snow_actor_send_named(const char* name, uint64_t nlen, const char* node, uint64_t dlen,
                                       const uint8_t* msg, uint64_t size) {
  if (!name_ok(name, nlen)) return SNOW_EBADNAME;
  if (!str_ok(node, dlen, snow::abi::kMaxNameLen)) return SNOW_EBADNAME;
  if (!bytes_ok(msg, size)) return SNOW_EINVAL;
  if (size > SNOW_MAX_MSG_SIZE) return SNOW_EMSGSIZE;
  if (!proc_runtime_started()) return SNOW_ENOTSTARTED;
  if (dlen != 0 && !dist_is_self(sv(node, dlen))) {
    if (size > kDistMaxMessage) return SNOW_EMSGSIZE;
    return dist_send_named(proc_pid(proc_current()), sv(name, nlen), sv(node, dlen), msg, size);
  }
  snow_pid_t to = proc_whereis(sv(name, nlen));
  if (to == 0) return 0;  // unknown name: dropped, like a send to a dead pid
  return snow::abi::guarded<int32_t>(SNOW_ENOTPROC, [&] {
    return proc_send(proc_pid(proc_current()), to, msg, size, SNOW_MSG_USER, snow::abi::user_tag(msg, size));
  });
}

}  // extern "C"
