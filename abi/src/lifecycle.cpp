// ABI section 2: lifecycle, plus errors and statistics.
#include <sched.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "abi/src/abi_util.h"
#include "runtime/common/common.h"
#include "runtime/dist/dist.h"
#include "runtime/proc/process.h"

using namespace snow::rt;

extern "C" {

SNOW_API const char* snow_strerror(int64_t code) { return error_text(code); }

SNOW_API void snow_rt_set_log_handler(snow_log_handler fn, void* ctx) { log_set_handler(fn, ctx); }

SNOW_API int32_t snow_rt_set_log_level(int32_t level) {
  if (level < SNOW_LOG_ERROR || level > SNOW_LOG_DEBUG) return SNOW_EINVAL;
  return log_set_level(level);
}

SNOW_API int32_t snow_rt_log_level(void) { return log_level(); }

SNOW_API void snow_rt_init(void) {
  // Process-wide set-up that must happen once: touch the clock and the
  // allocator so their lazy initialisation is not raced by workers.
  static const bool once = [] {
    (void)now_ns();
    mem_free(mem_alloc(1));
    return true;
  }();
  (void)once;
}

namespace {

// "One per CPU" counts the CPUs this process may run on (its affinity mask,
// as `taskset` or a container's cpuset sets it), like BEAM's default: more
// workers than usable CPUs only take turns on them.
unsigned available_cpus() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return unsigned(n);
  }
  return std::thread::hardware_concurrency();
}

// What snow_rt_set_signal_handling chose: -1 no call yet (SNOW_SIGNALS
// decides), 0 off, 1 on.
std::atomic<int> g_signal_handling{-1};

bool stop_on_signals() {
  int chosen = g_signal_handling.load(std::memory_order_acquire);
  if (chosen >= 0) return chosen == 1;
  const char* env = getenv("SNOW_SIGNALS");
  return !(env && strcmp(env, "0") == 0);
}

}  // namespace

SNOW_API int32_t snow_rt_set_signal_handling(bool enabled) {
  if (proc_runtime_started()) return SNOW_EALREADY;
  g_signal_handling.store(enabled ? 1 : 0, std::memory_order_release);
  return 0;
}

SNOW_API int32_t snow_rt_init_actor(uint32_t schedulers) {
  snow_rt_init();
  unsigned n = schedulers;
  if (n == 0) {
    if (const char* env = getenv("SNOW_SCHEDULERS")) {
      long v = atol(env);
      if (v > 0 && v <= 1024) n = unsigned(v);
    }
  }
  if (n == 0) n = available_cpus();
  if (n == 0) n = 1;
  if (n > 1024) n = 1024;
  return proc_runtime_start(n, stop_on_signals(), dist_proc_hooks());
}

SNOW_API int32_t snow_rt_run_scheduler(void) { return proc_runtime_run(); }

SNOW_API void snow_rt_halt(int32_t status) { proc_runtime_halt(status); }

SNOW_API uint32_t snow_rt_abi_version(void) { return SNOW_ABI_VERSION; }

SNOW_API snow_pid_t snow_thread_attach(void) { return proc_thread_attach(); }

// The terminate callback runs inside: if a signal ends the process there,
// the thread is detached all the same.
SNOW_API int32_t snow_thread_detach(void) {
  return snow::abi::guarded<int32_t>(0, [&] { return proc_thread_detach(); });
}

SNOW_API int32_t snow_rt_stats(snow_stats* out) {
  if (!out) return SNOW_EINVAL;
  proc_stats(out);
  return 0;
}

}  // extern "C"
