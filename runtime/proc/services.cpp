// Service calls (ABI section 7: call, reply, failures) and the replies to
// internal requests (distribution connects and remote spawns) that park a
// process until its answer arrives.
#include "runtime/proc/process_internal.h"

#include <algorithm>
#include <cstdio>

#include "runtime/proc/reason.h"

namespace snow::rt {

void proc_expect_reply(Process* p, uint64_t ref) { p->call_ref = ref; }

namespace {
// The reply with `ref` to a request (internal or a service call).
bool is_reply(const snow_msg* m, uint64_t ref) {
  const Signal* s = signal_of_msg(m);
  return s->kind == SigKind::ServiceReply && s->ref == ref;
}
}  // namespace

bool proc_wait_reply(Process* p, uint64_t ref, int64_t timeout_ms, void* out, size_t len) {
  const snow_msg* m = receive_matching(p, timeout_ms, [&](const snow_msg* msg) { return is_reply(msg, ref); });
  p->call_ref = 0;
  if (!m) return false;
  std::memcpy(out, m->data, m->len < len ? size_t(m->len) : len);
  return true;
}

void proc_reply(uint64_t pid, uint64_t ref, const void* data, size_t len) {
  Signal* s = signal_alloc(SigKind::ServiceReply, pid, 0, len);
  if (!s) oom_signal();
  if (len) std::memcpy(s->msg.data, data, len);
  s->ref = ref;
  proc_deliver(pid, s);
}

namespace {
// What ends a service call: its reply, or the DOWN of the monitor on the
// server.
bool ends_call(const snow_msg* m, uint64_t call_ref, uint64_t monitor_ref) {
  const Signal* s = signal_of_msg(m);
  return is_reply(m, call_ref) || (s->kind == SigKind::Down && s->ref == monitor_ref);
}

// Ends a failed service call: records `code` for snow_service_last_error,
// or (CallFailure::ExitCaller) exits the caller, as gen_server:call does,
// with `reason` (the server's, from its DOWN) or, when reason is null, the
// one `code` stands for: noproc, noconnection, custom "timeout", or error
// "service call: <what>". A crash report says why.
const snow_msg* service_call_failed(Process* p, uint64_t server, int64_t code, const uint8_t* reason, uint64_t rlen,
                                    CallFailure how) {
  p->call_error = code;
  if (how == CallFailure::ReturnNull) return nullptr;
  static const char kPrefix[] = "service call: ";
  uint8_t own[9 + sizeof kPrefix + 64];
  if (!reason) {
    if (code == SNOW_ENOPROC || code == SNOW_ENONODE) {
      own[0] = code == SNOW_ENOPROC ? SNOW_REASON_NOPROC : SNOW_REASON_NOCONNECTION;
      rlen = 1;
    } else if (code == SNOW_ETIMEDOUT) {
      reason_write(own, SNOW_REASON_CUSTOM, "timeout");
      rlen = reason_size(SNOW_REASON_CUSTOM, 7);
    } else {
      char text[sizeof kPrefix + 64];
      int n = snprintf(text, sizeof text, "%s%s", kPrefix, error_text(code));
      size_t tn = n < 0 ? 0 : std::min(size_t(n), sizeof text - 1);
      reason_write(own, SNOW_REASON_ERROR, std::string_view(text, tn));
      rlen = reason_size(SNOW_REASON_ERROR, tn);
    }
    reason = own;
  }
  char desc[512];
  reason_describe(reason, desc, sizeof desc);
  if (pid_is_remote(server)) {
    log_line("=CRASH REPORT==== process <0.%u.%u> exited: service call to remote pid 0x%llx failed: %s",
             local_pid_id(p->pid), local_pid_serial(p->pid), static_cast<unsigned long long>(server), desc);
  } else {
    log_line("=CRASH REPORT==== process <0.%u.%u> exited: service call to <0.%u.%u> failed: %s", local_pid_id(p->pid),
             local_pid_serial(p->pid), local_pid_id(server), local_pid_serial(server), desc);
  }
  exit_now(p, reason, rlen);  // copies the reason before anything frees it
}

}  // namespace

const snow_msg* proc_service_call_refused(Process* p, uint64_t server, int64_t code, CallFailure how) {
  return service_call_failed(p, server, code, nullptr, 0, how);
}

const snow_msg* proc_service_call(Process* p, uint64_t server, uint64_t tag, const uint8_t* payload, uint64_t size,
                                  int64_t timeout_ms, CallFailure how) {
  p->call_error = 0;
  uint64_t mref = proc_monitor(p, server);
  if (!mref) return service_call_failed(p, server, SNOW_ENOMEM, nullptr, 0, how);
  uint64_t cref = new_ref();
  Signal* s = signal_alloc(SigKind::Message, server, p->pid, 16 + size);
  if (!s) {
    proc_demonitor(p, mref, true);
    return service_call_failed(p, server, SNOW_ENOMEM, nullptr, 0, how);
  }
  put_u64(s->msg.data, tag);
  put_u64(s->msg.data + 8, p->pid);
  if (size) std::memcpy(s->msg.data + 16, payload, size);
  s->msg.tag = tag;
  s->ref = cref;
  s->flags = kSigServiceCall;
  if (!pid_is_remote(server)) export_payload(p, s);
  p->call_ref = cref;
  R.sent.add(1);
  proc_deliver(server, s);
  const snow_msg* m = receive_matching(p, timeout_ms < 0 ? -1 : timeout_ms,
                                       [&](const snow_msg* msg) { return ends_call(msg, cref, mref); });
  p->call_ref = 0;  // a reply arriving from now on is dropped
  if (!m) {
    proc_demonitor(p, mref, true);
    return service_call_failed(p, server, SNOW_ETIMEDOUT, nullptr, 0, how);
  }
  Signal* got = signal_of_msg(m);
  if (got->kind == SigKind::Down) {
    const uint8_t* reason = m->data + 16;
    int64_t code = reason[0] == SNOW_REASON_NOPROC         ? int64_t(SNOW_ENOPROC)
                   : reason[0] == SNOW_REASON_NOCONNECTION ? int64_t(SNOW_ENONODE)
                                                           : SNOW_SERVICE_EXITED + reason[0];
    return service_call_failed(p, server, code, reason, m->len - 16, how);
  }
  proc_demonitor(p, mref, true);
  got->msg_kind = SNOW_MSG_USER;
  return m;
}

int proc_service_reply(Process* p, uint64_t caller, const uint8_t* reply, uint64_t size) {
  if (!p->rel) return SNOW_EINVAL;
  auto it = p->rel->pending_calls.find(caller);
  if (it == p->rel->pending_calls.end()) return SNOW_EINVAL;
  uint64_t ref = it->second;
  p->rel->pending_calls.erase(it);
  Signal* s = signal_alloc(SigKind::ServiceReply, caller, p->pid, size);
  if (!s) return SNOW_ENOMEM;
  if (size) std::memcpy(s->msg.data, reply, size);
  s->msg.tag = user_message_tag(reply, size);
  s->ref = ref;
  if (!pid_is_remote(caller)) export_payload(p, s);
  R.sent.add(1);
  proc_deliver(caller, s);
  return 0;
}

int64_t proc_service_last_error(Process* p) { return p->call_error; }

}  // namespace snow::rt
