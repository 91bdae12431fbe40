// ABI section 4: exits, links and monitors.
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "abi/src/abi_util.h"
#include "runtime/common/common.h"
#include "runtime/proc/process.h"
#include "runtime/dist/dist.h"
#include "runtime/etf/etf.h"
#include "runtime/proc/reason.h"

using namespace snow::rt;

namespace {

// An encoded reason that carries data starts with this much: the tag byte
// and the u64 length of the data (reason.h).
constexpr uint64_t kReasonHead = 1 + 8;

// A reason a caller hands us: well-formed layout, UTF-8 text for error and
// custom, and one well-formed term for tag 8 (any nesting depth: nothing
// decodes it into a tree). Anything less would reach a peer as a term it
// cannot decode and cost the whole connection.
bool user_reason_ok(const uint8_t* r, uint64_t len) {
  if (!r || len > SNOW_MAX_MSG_SIZE || reason_validate(r, len) < 0) return false;
  if (r[0] == SNOW_REASON_ERROR || r[0] == SNOW_REASON_CUSTOM)
    return utf8_count(r + kReasonHead, size_t(len - kReasonHead)) >= 0;
  if (r[0] == SNOW_REASON_TERM) return len > kReasonHead && etf::validate(r + kReasonHead, size_t(len - kReasonHead));
  return true;
}

}  // namespace

extern "C" {

SNOW_API int32_t snow_actor_link(snow_pid_t pid) {
  if (pid == 0) return SNOW_EINVAL;
  Process* p = proc_current();
  if (!p) return SNOW_ENOTPROC;
  return snow::abi::guarded<int32_t>(SNOW_ENOTPROC, [&] { return proc_link(p, pid); });
}

SNOW_API int32_t snow_actor_unlink(snow_pid_t pid) {
  if (pid == 0) return SNOW_EINVAL;
  Process* p = proc_current();
  if (!p) return SNOW_ENOTPROC;
  return snow::abi::guarded<int32_t>(SNOW_ENOTPROC, [&] { return proc_unlink(p, pid); });
}

SNOW_API bool snow_actor_trap_exit(void) {
  Process* p = proc_current();
  return p ? snow::abi::guarded(false, [&] { return proc_set_trap_exit(p, true); }) : false;
}

SNOW_API bool snow_actor_set_trap_exit(bool on) {
  Process* p = proc_current();
  return p ? snow::abi::guarded(false, [&] { return proc_set_trap_exit(p, on); }) : false;
}

SNOW_API int32_t snow_actor_exit(snow_pid_t pid, uint8_t reason_tag) {
  if (pid == 0 || reason_tag > SNOW_REASON_TERM || reason_tag == SNOW_REASON_RESERVED) return SNOW_EINVAL;
  if (!proc_runtime_started()) return SNOW_ENOTSTARTED;
  uint8_t reason[kReasonHead];  // a tag's data, if it has any, is empty here
  reason_write(reason, reason_tag, {});
  // An exit signal to oneself takes effect here.
  return snow::abi::guarded<int32_t>(
      0, [&] { return proc_exit_signal(proc_pid(proc_current()), pid, reason, reason_size(reason_tag, 0)); });
}

SNOW_API int32_t snow_actor_exit_reason(snow_pid_t pid, const uint8_t* reason, uint64_t len) {
  if (pid == 0 || !reason) return SNOW_EINVAL;
  // A remote target: the reason must fit in one frame a peer accepts.
  if (!snow::abi::size_fits_pid(pid, len)) return SNOW_EMSGSIZE;
  if (!user_reason_ok(reason, len)) return SNOW_EINVAL;
  if (!proc_runtime_started()) return SNOW_ENOTSTARTED;
  return snow::abi::guarded<int32_t>(0, [&] { return proc_exit_signal(proc_pid(proc_current()), pid, reason, len); });
}

SNOW_API void snow_actor_exit_self(const uint8_t* reason, uint64_t len) {
  Process* p = proc_current();
  if (!p) {
    fatal("snow_actor_exit_self called outside a process");
  }
  if (!user_reason_ok(reason, len)) {
    static const char kBad[] = "bad exit reason";
    uint8_t r[kReasonHead + sizeof kBad - 1];
    reason_write(r, SNOW_REASON_ERROR, std::string_view(kBad, sizeof kBad - 1));
    proc_exit_self(p, r, sizeof r);
  }
  proc_exit_self(p, reason, len);
}

SNOW_API void snow_panic(const char* msg, uint64_t mlen, const char* file, uint64_t flen, uint32_t line) {
  // Everything lives in one stack buffer: the exit discards this stack
  // without running destructors, so nothing here may own heap memory.
  constexpr uint64_t kMaxFile = 1024, kMaxMsg = 6 * 1024;
  if (!msg) mlen = 0;
  if (!file) flen = 0;
  if (mlen > kMaxMsg) mlen = kMaxMsg;
  if (flen > kMaxFile) flen = kMaxFile;
  uint8_t r[kReasonHead + kMaxFile + 16 + kMaxMsg];
  char* text = reinterpret_cast<char*>(r + kReasonHead);
  int hn = snprintf(text, kMaxFile + 16, "%.*s:%u: ", int(flen), flen ? file : "", line);
  if (hn < 0) hn = 0;
  if (mlen) std::memcpy(text + hn, msg, size_t(mlen));
  uint64_t tlen = uint64_t(hn) + mlen;
  r[0] = SNOW_REASON_ERROR;
  put_u64(r + 1, tlen);
  Process* p = proc_current();
  if (!p) {
    fatal("panic outside a process: %.*s", int(tlen), text);
  }
  uint64_t pid = proc_pid(p);
  log_line("=CRASH REPORT==== process <0.%u.%u> panicked: %.*s", local_pid_id(pid), local_pid_serial(pid),
           int(tlen > 2000 ? 2000 : tlen), text);
  proc_exit_self(p, r, kReasonHead + tlen);
}

SNOW_API void snow_actor_set_terminate(snow_pid_t pid, snow_terminate_fn cb) {
  if (!proc_runtime_started()) return;
  proc_set_terminate(proc_current(), pid, cb);
}

SNOW_API snow_ref_t snow_process_monitor(snow_pid_t pid) {
  if (pid == 0) return 0;
  Process* p = proc_current();
  if (!p) return 0;
  return proc_monitor(p, pid);
}

SNOW_API int64_t snow_process_demonitor(snow_ref_t ref) {
  Process* p = proc_current();
  if (!p) return SNOW_ENOTPROC;
  return snow::abi::guarded<int64_t>(SNOW_ENOTPROC, [&] { return proc_demonitor(p, ref, false); });
}

SNOW_API int64_t snow_process_demonitor_flush(snow_ref_t ref) {
  Process* p = proc_current();
  if (!p) return SNOW_ENOTPROC;
  return snow::abi::guarded<int64_t>(SNOW_ENOTPROC, [&] { return proc_demonitor(p, ref, true); });
}

SNOW_API int64_t snow_node_monitor(const char* node, uint64_t len) {
  if (!snow::abi::name_ok(node, len)) return SNOW_EBADNAME;
  Process* p = proc_current();
  if (!p) return SNOW_ENOTPROC;
  return proc_node_monitor(p, snow::abi::sv(node, len));
}

SNOW_API int64_t snow_node_demonitor(int64_t id) {
  Process* p = proc_current();
  if (!p) return SNOW_ENOTPROC;
  if (id <= 0) return 1;
  return proc_node_demonitor(p, id);
}

SNOW_API int64_t snow_node_monitor_all(bool on) {
  Process* p = proc_current();
  if (!p) return SNOW_ENOTPROC;
  return proc_node_monitor_all(p, on);
}

}  // extern "C"
