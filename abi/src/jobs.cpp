// ABI section 7, Jobs (Snow's Job module).
#include "abi/src/abi_util.h"
#include "runtime/proc/jobs.h"
#include "runtime/proc/process.h"

using namespace snow::rt;

extern "C" {

SNOW_API snow_pid_t snow_job_async(snow_job_fn fn, void* env) {
  if (!fn || !proc_runtime_started()) return 0;
  Process* p = proc_current();
  if (!p) return 0;
  return job_async(p, fn, env);
}

SNOW_API const void* snow_job_await_timeout(snow_pid_t job, int64_t ms) {
  Process* p = proc_current();
  if (!p) return nullptr;
  return snow::abi::guarded<const void*>(nullptr, [&] { return job_await(p, job, ms); });
}

SNOW_API const void* snow_job_await(snow_pid_t job) { return snow_job_await_timeout(job, -1); }

SNOW_API const void* snow_job_map(const void* list, snow_job_map_fn fn, void* env) {
  if (!list || !fn) return nullptr;
  Process* p = proc_current();
  if (!p) return nullptr;
  return snow::abi::guarded<const void*>(nullptr, [&] { return job_map(p, list, fn, env); });
}

}  // extern "C"
