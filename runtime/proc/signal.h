// Signals: the only way anything reaches a process.
//
// Vocabulary:
// - A *signal* is one heap block sent to one process: a user message, or a
//   link, unlink, monitor, demonitor, exit, link-exit or down signal, a wait
//   timeout, or a node up/down notice. Every signal names its target pid, so
//   a signal that lands in a recycled process slot is recognised as aimed
//   at a dead process (see process.h).
// - Signals that become mailbox messages (user messages, trapped EXITs,
//   DOWNs, NODEUP/NODEDOWN, TERMs) carry their snow_msg at the end, already
//   in the ABI layout, so delivering one is relinking it, never copying.
//
// Ownership: the sender allocates and fills a signal, then pushes it onto
// the target's signal queue; from then on only the target's owner touches it.
#pragma once

#include <cstdint>

#include "abi/include/snowrt.h"
#include "runtime/common/common.h"

namespace snow::rt {

enum class SigKind : uint8_t {
  Message,     // user message / term / node notice: msg is the mailbox message
  Link,        // from wants a link with the target
  Unlink,      // from removed its link: ref = unlink id, answered by UnlinkAck
  UnlinkAck,   // the target of an Unlink processed it: ref = that unlink id
  Monitor,     // from monitors the target with ref
  Demonitor,   // from cancelled monitor ref
  Exit,        // exit/2: msg.data = [from][reason]; flags & kSigKill: untrappable kill
  LinkExit,    // a linked process died: msg.data = [from][reason]
  Down,        // a monitored process died: msg.data = [ref][pid][reason]
  Timeout,     // wait timer fired: ref = wait sequence
  ServiceReply,  // reply to a service call: ref = call ref, msg = reply
};

constexpr uint8_t kSigKill = 1;       // Exit: the untrappable kill
constexpr uint8_t kSigShutdown = 2;   // Exit: runtime shutdown, untrappable
constexpr uint8_t kSigServiceCall = 4;  // Message: a snow_service_call request

struct Signal {
  Signal* next = nullptr;
  uint64_t target = 0;    // pid this signal is addressed to
  uint64_t from = 0;      // sender pid (0: not a process)
  uint64_t ref = 0;       // monitor ref, wait sequence, call ref
  SigKind kind = SigKind::Message;
  uint8_t flags = 0;
  uint32_t msg_kind = SNOW_MSG_USER;  // SNOW_MSG_* once in the mailbox
  snow_msg msg;           // must stay last: data[] follows
};

// Allocates a signal with `len` payload bytes (uninitialised) and
// msg.len = len. nullptr when out of memory.
inline Signal* signal_alloc(SigKind kind, uint64_t target, uint64_t from, uint64_t len) {
  void* p = mem_alloc(sizeof(Signal) + len);
  if (!p) return nullptr;
  Signal* s = new (p) Signal();
  s->kind = kind;
  s->target = target;
  s->from = from;
  s->msg.tag = 0;
  s->msg.len = len;
  return s;
}

inline void signal_free(Signal* s) { mem_free(s); }

inline Signal* signal_of_msg(const snow_msg* m) {
  return reinterpret_cast<Signal*>(reinterpret_cast<uintptr_t>(m) - offsetof(Signal, msg));
}

}  // namespace snow::rt
