// ABI section 7: supervisors.
#include "abi/src/abi_util.h"
#include "stdlib/supervisor.h"

using namespace snow::rt;

extern "C" {

// Each of these waits for the supervisor (a call), so an attached thread's
// process may be ended meanwhile (see snow::abi::guarded).
SNOW_API snow_pid_t snow_supervisor_start(const snow_sup_spec* spec) {
  return snow::abi::guarded<snow_pid_t>(0, [&] { return sup_start(spec); });
}

SNOW_API snow_pid_t snow_supervisor_start_child(snow_pid_t sup, const snow_child_spec* child) {
  if (sup == 0) return 0;
  return snow::abi::guarded<snow_pid_t>(0, [&] { return sup_start_child(sup, child); });
}

SNOW_API int64_t snow_supervisor_terminate_child(snow_pid_t sup, snow_pid_t child) {
  if (sup == 0 || child == 0) return SNOW_EINVAL;
  return snow::abi::guarded<int64_t>(SNOW_ENOTPROC, [&] { return sup_terminate_child(sup, child); });
}

SNOW_API int64_t snow_supervisor_count_children(snow_pid_t sup) {
  if (sup == 0) return SNOW_EINVAL;
  return snow::abi::guarded<int64_t>(SNOW_ENOTPROC, [&] { return sup_count_children(sup); });
}

}  // extern "C"
