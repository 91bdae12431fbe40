// ABI section 6: timers and the per-process heap.
#include <thread>

#include "abi/src/abi_util.h"
#include "runtime/common/common.h"
#include "runtime/proc/process.h"
#include "runtime/proc/signal.h"
#include "runtime/sched/scheduler.h"

using namespace snow::rt;

extern "C" {

SNOW_API void snow_timer_sleep(int64_t ms) {
  if (ms <= 0) return;
  if (Process* p = proc_current()) {
    snow::abi::guarded_void([&] { proc_sleep(p, ms); });
    return;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

SNOW_API snow_ref_t snow_timer_send_after(snow_pid_t pid, int64_t ms, const uint8_t* msg, int64_t size) {
  if (pid == 0 || size < 0 || !snow::abi::size_fits(false, uint64_t(size)) || !snow::abi::bytes_ok(msg, uint64_t(size)))
    return 0;
  if (!proc_runtime_started()) return 0;
  Signal* s = signal_alloc(SigKind::Message, pid, 0, uint64_t(size));
  if (!s) return 0;
  if (size) std::memcpy(s->msg.data, msg, size_t(size));
  s->msg.tag = user_message_tag(msg, uint64_t(size));
  s->msg_kind = SNOW_MSG_USER;
  // The heap values the payload carries stay alive until it is received or
  // the timer is cancelled (the signal's ticket; dropped with the signal).
  if (!pid_is_remote(pid)) proc_gc_export(proc_current(), s);
  uint64_t ref = timer_send_after(deadline_after_ms(ms < 0 ? 0 : ms), pid, s);
  if (!ref) signal_free(s);
  return ref;
}

SNOW_API int64_t snow_timer_cancel(snow_ref_t timer) { return timer_cancel_send_after(timer); }

SNOW_API void* snow_gc_alloc_actor(uint64_t size, uint64_t align) {
  if (size == 0 || size > (uint64_t(1) << 40)) return nullptr;
  if (align == 0) align = 16;
  if ((align & (align - 1)) != 0 || align > 4096) return nullptr;
  return proc_gc_alloc(proc_current(), size, align);
}

SNOW_API void snow_gc_collect(void) {
  if (Process* p = proc_current()) proc_gc_collect(p);
}

}  // extern "C"
