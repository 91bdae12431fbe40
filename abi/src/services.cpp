// ABI section 7: service calls.
#include <cstdlib>

#include "abi/src/abi_util.h"
#include "runtime/common/common.h"
#include "runtime/dist/dist.h"
#include "runtime/proc/process.h"

using namespace snow::rt;

namespace {

// A request's data: [u64 tag][u64 caller pid][payload].
constexpr uint64_t kServiceRequestHeader = 16;

// The three call entry points: `how` says whether a failure returns NULL
// (try_call) or exits the calling process (call, call_timeout).
const snow_msg* service_call(snow_pid_t server, uint64_t tag, const uint8_t* payload, uint64_t size, int64_t timeout_ms,
                             CallFailure how) {
  Process* p = proc_current();
  if (!p) {
    if (how == CallFailure::ReturnNull) return nullptr;
    // Compiled code reads the reply without a check, and there is no
    // process to exit: stop here with a message rather than crash later.
    fatal("snow_service_call called outside a process");
  }
  return snow::abi::guarded<const snow_msg*>(nullptr, [&]() -> const snow_msg* {
    // No process has pid 0: the call's own failure is noproc, a try_call's
    // an invalid argument.
    if (server == 0)
      return proc_service_call_refused(p, server, how == CallFailure::ExitCaller ? SNOW_ENOPROC : SNOW_EINVAL, how);
    if (!snow::abi::bytes_ok(payload, size)) return proc_service_call_refused(p, server, SNOW_EINVAL, how);
    // A remote server: the request ([tag][caller][payload]) must fit in one
    // frame a peer accepts.
    if (!snow::abi::size_fits_pid(server, size, kServiceRequestHeader))
      return proc_service_call_refused(p, server, SNOW_EMSGSIZE, how);
    return proc_service_call(p, server, tag, payload, size, timeout_ms, how);
  });
}

}  // namespace

extern "C" {

SNOW_API const snow_msg* snow_service_call_timeout(snow_pid_t server, uint64_t tag, const uint8_t* payload,
                                                   uint64_t size, int64_t timeout_ms) {
  return service_call(server, tag, payload, size, timeout_ms, CallFailure::ExitCaller);
}

SNOW_API const snow_msg* snow_service_call(snow_pid_t server, uint64_t tag, const uint8_t* payload, uint64_t size) {
  return service_call(server, tag, payload, size, -1, CallFailure::ExitCaller);
}

SNOW_API const snow_msg* snow_service_try_call(snow_pid_t server, uint64_t tag, const uint8_t* payload, uint64_t size,
                                               int64_t timeout_ms) {
  return service_call(server, tag, payload, size, timeout_ms, CallFailure::ReturnNull);
}

SNOW_API int32_t snow_service_reply(snow_pid_t caller, const uint8_t* reply, uint64_t size) {
  if (caller == 0 || !snow::abi::bytes_ok(reply, size)) return SNOW_EINVAL;
  if (!snow::abi::size_fits_pid(caller, size)) return SNOW_EMSGSIZE;
  Process* p = proc_current();
  if (!p) return SNOW_ENOTPROC;
  return proc_service_reply(p, caller, reply, size);
}

SNOW_API int64_t snow_service_last_error(void) {
  Process* p = proc_current();
  return p ? proc_service_last_error(p) : int64_t(SNOW_ENOTPROC);
}

}  // extern "C"
