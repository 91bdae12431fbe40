// ABI: introspection (snow_rt_processes, snow_process_info).
#include "abi/src/abi_util.h"
#include "runtime/proc/introspect.h"
#include "runtime/proc/process.h"

using namespace snow::rt;

extern "C" {

SNOW_API int64_t snow_rt_processes(snow_pid_t* buf, uint64_t cap) {
  if (!buf && cap > 0) return SNOW_EINVAL;
  if (!proc_runtime_started()) return 0;
  return int64_t(proc_list(buf, cap));
}

SNOW_API int32_t snow_process_info(snow_pid_t pid, snow_proc_info* out) {
  if (!out || pid == 0) return SNOW_EINVAL;
  if (!proc_runtime_started()) return SNOW_ENOTSTARTED;
  if (pid_is_remote(pid)) return SNOW_ENOPROC;
  return proc_info(pid, out);
}

}  // extern "C"
