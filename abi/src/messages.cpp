// ABI section 3: processes and messages.
#include <cstring>

#include "abi/src/abi_util.h"
#include "runtime/dist/dist.h"
#include "runtime/proc/process.h"
#include "runtime/sched/scheduler.h"

using namespace snow::rt;

using snow::abi::bytes_ok;
using snow::abi::name_ok;
using snow::abi::str_ok;
using snow::abi::sv;

namespace {

uint8_t priority_or_normal(uint8_t priority) {
  return priority <= SNOW_PRIO_LOW ? priority : uint8_t(SNOW_PRIO_NORMAL);
}

// The request both spawn calls start from, or false for arguments no spawn
// accepts.
bool spawn_request(SpawnRequest& r, snow_proc_fn fn, const uint8_t* args, uint64_t size) {
  if (!fn || !bytes_ok(args, size) || !snow::abi::size_fits(false, size)) return false;
  r.fn = fn;
  r.args = args;
  r.size = size;
  return true;
}

// A user message from the calling process (or from no one), tagged by the
// ABI's rule. A send to oneself applies one's pending signals. Inlined into
// both callers: snow_actor_send is on every round trip of bench/.
__attribute__((always_inline)) inline int32_t send_user_message(snow_pid_t to, const uint8_t* msg, uint64_t size) {
  return snow::abi::guarded<int32_t>(SNOW_ENOTPROC, [&] {
    return proc_send(proc_pid(proc_current()), to, msg, size, SNOW_MSG_USER, user_message_tag(msg, size));
  });
}

}  // namespace

extern "C" {

SNOW_API snow_pid_t snow_actor_spawn(snow_proc_fn fn, const uint8_t* args, uint64_t size, uint8_t priority) {
  SpawnRequest r;
  if (!spawn_request(r, fn, args, size)) return 0;
  r.priority = priority_or_normal(priority);
  return proc_spawn(r);
}

SNOW_API snow_pid_t snow_actor_spawn_opts(snow_proc_fn fn, const uint8_t* args, uint64_t size, snow_spawn_opts* o) {
  SpawnRequest r;
  if (!spawn_request(r, fn, args, size)) return 0;
  if (o) {
    // Reserved bytes and words must be zero: a caller built against a later
    // header that uses one of them must not have it silently ignored.
    for (uint8_t b : o->reserved_)
      if (b != 0) return 0;
    for (uint64_t w : o->reserved_words_)
      if (w != 0) return 0;
    if (o->stack_size > (uint64_t(1) << 30)) return 0;
    r.terminate = o->terminate;
    r.priority = priority_or_normal(o->priority);
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
  if (!snow::abi::size_fits_pid(to, size)) return SNOW_EMSGSIZE;
  if (!proc_runtime_started()) return SNOW_ENOTSTARTED;
  return send_user_message(to, msg, size);
}

SNOW_API const snow_msg* snow_actor_receive(int64_t timeout_ms) {
  Process* p = proc_current();
  if (!p) return nullptr;
  return snow::abi::guarded<const snow_msg*>(nullptr, [&] { return proc_receive(p, timeout_ms, nullptr, nullptr); });
}

SNOW_API const snow_msg* snow_actor_receive_match(snow_match_fn match, void* ctx, int64_t timeout_ms) {
  Process* p = proc_current();
  if (!p || !match) return nullptr;
  return snow::abi::guarded<const snow_msg*>(nullptr, [&] { return proc_receive(p, timeout_ms, match, ctx); });
}

SNOW_API uint32_t snow_msg_kind(const snow_msg* msg) { return proc_msg_kind(proc_current(), msg); }

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
  if (!snow::abi::size_fits(false, size)) return SNOW_EMSGSIZE;
  if (!proc_runtime_started()) return SNOW_ENOTSTARTED;
  if (dlen != 0 && !dist_is_self(sv(node, dlen))) {
    if (!snow::abi::atom_name_ok(name, nlen)) return SNOW_EBADNAME;
    if (!snow::abi::size_fits(true, size)) return SNOW_EMSGSIZE;
    return snow::abi::guarded<int32_t>(SNOW_ENOTPROC, [&] {
      return dist_send_named(proc_pid(proc_current()), sv(name, nlen), sv(node, dlen), msg, size);
    });
  }
  snow_pid_t to = proc_whereis(sv(name, nlen));
  if (to == 0) return 0;  // unknown name: dropped, like a send to a dead pid
  return send_user_message(to, msg, size);
}

}  // extern "C"
