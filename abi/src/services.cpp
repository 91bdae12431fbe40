// ABI section 7: service calls.
#include "abi/src/abi_util.h"
#include "runtime/dist/dist.h"
#include "runtime/proc/process.h"

using namespace snow::rt;

extern "C" {

SNOW_API const snow_msg* snow_service_call_timeout(snow_pid_t server, uint64_t tag, const uint8_t* payload,
                                                   uint64_t size, int64_t timeout_ms) {
  Process* p = proc_current();
  if (!p) return nullptr;
  if (server == 0 || !snow::abi::bytes_ok(payload, size)) {
    proc_service_set_error(p, SNOW_EINVAL);
    return nullptr;
  }
  // A remote server: the request ([tag][caller][payload]) must fit in one
  // frame a peer accepts.
  if (size > SNOW_MAX_MSG_SIZE || (pid_is_remote(server) && size + 16 > kDistMaxMessage)) {
    proc_service_set_error(p, SNOW_EMSGSIZE);
    return nullptr;
  }
  return snow::abi::guarded<const snow_msg*>(nullptr,
                                            [&] { return proc_service_call(p, server, tag, payload, size, timeout_ms); });
}

SNOW_API const snow_msg* snow_service_call(snow_pid_t server, uint64_t tag, const uint8_t* payload,
                                           uint64_t size) {
  return snow_service_call_timeout(server, tag, payload, size, -1);
}

SNOW_API int32_t snow_service_reply(snow_pid_t caller, const uint8_t* reply, uint64_t size) {
  if (caller == 0 || !snow::abi::bytes_ok(reply, size)) return SNOW_EINVAL;
  if (size > SNOW_MAX_MSG_SIZE || (pid_is_remote(caller) && size > kDistMaxMessage)) return SNOW_EMSGSIZE;
  Process* p = proc_current();
  if (!p) return SNOW_ENOTPROC;
  return proc_service_reply(p, caller, reply, size);
}

SNOW_API int64_t snow_service_last_error(void) {
  Process* p = proc_current();
  return p ? proc_service_last_error(p) : int64_t(SNOW_ENOTPROC);
}

}  // extern "C"
