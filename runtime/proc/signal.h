// Signals: the only way anything reaches a process.
//
// Vocabulary:
// - A *signal* is one heap block sent to one process: a user message, or a
//   link, unlink, monitor, demonitor, exit, link-exit or down signal, a wait
//   timeout, a node up/down notice, a service reply, a job's result or a
//   relations request (introspect.h). Every signal names its target pid, so
//   a signal that lands in a recycled process slot is recognised as aimed
//   at a dead process (see process.h).
// - Signals that become mailbox messages (user messages, trapped EXITs,
//   DOWNs, NODEUP/NODEDOWN, TERMs) carry their snow_msg at the end, already
//   in the ABI layout, so delivering one is relinking it, never copying.
//
// Ownership: the sender allocates and fills a signal, then pushes it onto
// the target's signal queue; from then on only the target's owner touches it.
//
// Heap values: a user message, service call or reply, send-after payload or
// job result from a local process carries the export ticket of its payload
// (runtime/heap/heap.h), which keeps the heap objects its words point to
// alive while it is in flight. Receiving hands the ticket to the receiver's
// heap (and clears the field); signal_free drops a ticket still there, so
// every path that discards a message unread releases its values.
#pragma once

#include <cstddef>
#include <cstdint>

#include "abi/include/snowrt.h"
#include "runtime/common/common.h"
#include "runtime/heap/heap.h"

namespace snow::rt {

enum class SigKind : uint8_t {
  Message,           // user message / term / node notice: msg is the mailbox message
  Link,              // from wants a link with the target
  Unlink,            // from removed its link: ref = unlink id, answered by UnlinkAck
  UnlinkAck,         // the target of an Unlink processed it: ref = that unlink id
  Monitor,           // from monitors the target with ref
  Demonitor,         // from cancelled monitor ref
  Exit,              // exit/2: msg.data = [from][reason]; flags & kSigKill: untrappable kill
  LinkExit,          // a linked process died: msg.data = [from][reason]
  Down,              // a monitored process died: msg.data = [ref][pid][reason]
  Timeout,           // wait timer fired: ref = wait sequence
  ServiceReply,      // reply to a service call: ref = call ref, msg = reply
  JobResult,         // a job's result for its caller: ref = job ref, msg.data = [i64 value]
  RelationsRequest,  // another thread asks for the links and monitors: msg.data = [RelationsReply*]
};

constexpr uint8_t kSigKill = 1;         // Exit: the untrappable kill
constexpr uint8_t kSigShutdown = 2;     // Exit: runtime shutdown, untrappable
constexpr uint8_t kSigServiceCall = 4;  // Message: a snow_service_call request

struct Signal {
  Signal* next = nullptr;
  uint64_t target = 0;  // pid this signal is addressed to
  uint64_t from = 0;    // sender pid (0: not a process)
  uint64_t ref = 0;     // monitor ref, wait sequence, call ref
  SigKind kind = SigKind::Message;
  uint8_t flags = 0;
  uint32_t msg_kind = SNOW_MSG_USER;  // SNOW_MSG_* once in the mailbox
  ExportTicket* ticket = nullptr;     // heap values the payload carries (see above)
  snow_msg msg;                       // must stay last: data[] follows
};
// A mailbox message is handed out as &signal->msg and its payload runs on
// past the struct (signal_alloc, signal_of_msg).
static_assert(offsetof(Signal, msg) + sizeof(snow_msg) == sizeof(Signal), "snow_msg must be the last member of Signal");

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

inline void signal_free(Signal* s) {
  if (s->ticket) heap_ticket_drop(s->ticket);
  mem_free(s);
}

// Exit-like signal (Exit, LinkExit): data = [u64 from][reason]; it becomes an
// EXIT message as is when the target traps exits.
inline Signal* signal_exit_like(SigKind kind, uint64_t target, uint64_t from, const uint8_t* reason, uint64_t rlen) {
  Signal* s = signal_alloc(kind, target, from, 8 + rlen);
  if (!s) return nullptr;
  put_u64(s->msg.data, from);
  std::memcpy(s->msg.data + 8, reason, rlen);
  s->msg.tag = SNOW_TAG_EXIT;
  s->msg_kind = SNOW_MSG_EXIT;
  return s;
}

// Down signal: data = [u64 ref][u64 pid][reason], ready to be a DOWN message.
inline Signal* signal_down(uint64_t target, uint64_t ref, uint64_t dead, const uint8_t* reason, uint64_t rlen) {
  Signal* s = signal_alloc(SigKind::Down, target, dead, 16 + rlen);
  if (!s) return nullptr;
  s->ref = ref;
  put_u64(s->msg.data, ref);
  put_u64(s->msg.data + 8, dead);
  std::memcpy(s->msg.data + 16, reason, rlen);
  s->msg.tag = SNOW_TAG_DOWN;
  s->msg_kind = SNOW_MSG_DOWN;
  return s;
}

// A signal without payload (Link, Unlink, UnlinkAck, Monitor, Demonitor,
// Timeout).
inline Signal* signal_control(SigKind kind, uint64_t target, uint64_t from, uint64_t ref) {
  Signal* s = signal_alloc(kind, target, from, 0);
  if (s) s->ref = ref;
  return s;
}

// A mailbox message of the given kind and tag with a copy of the bytes.
inline Signal* signal_message(uint64_t target, uint64_t from, uint32_t kind, uint64_t tag, const void* data,
                              uint64_t len) {
  Signal* s = signal_alloc(SigKind::Message, target, from, len);
  if (!s) return nullptr;
  if (len) std::memcpy(s->msg.data, data, size_t(len));
  s->msg.tag = tag;
  s->msg_kind = kind;
  return s;
}

inline Signal* signal_of_msg(const snow_msg* m) {
  return reinterpret_cast<Signal*>(reinterpret_cast<uintptr_t>(m) - offsetof(Signal, msg));
}

}  // namespace snow::rt
